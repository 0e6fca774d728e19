"""One GitSync pass, shared by the controller and ``synchub gitsync --from-env``.

In order: fetch the revision (a failure keeps the last checkout), build and parse the
manifests, plan (``core.gitplan``), read each selected cluster's live objects, dry-run every
object that differs on every cluster, and only when all of that passed: apply (Namespaces and
CRDs first, CRDs waited for), then prune. Any failure before the apply step applies nothing and
prunes nothing (docs/gitsync.md, "All or nothing"). Objects already equal to the revision are
not written: a quiet repository costs reads, never writes.

The inventory only shrinks when every selected cluster took the revision, so an unreachable
cluster still gets its prunes when it returns.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hub.controllers.gitsync.build import BuildSpec, build
from hub.controllers.gitsync.git import GitCredentials, Repository, Resolved, public_url
from hub.core import gitplan, gitspec
from hub.core.errors import (
    BuildError,
    Forbidden,
    GitError,
    KubeError,
    NotFound,
    UnknownResource,
    brief,
)
from hub.core.gitplan import Entry, Plan
from hub.core.objects import Obj
from hub.kube.client import APPLY_PATCH, ClusterClient
from hub.kube.discovery import Discovery
from hub.kube.resources import ResourceInfo
from hub.runtime.writer import Writer

log = logging.getLogger(__name__)

CRD_ESTABLISH_TIMEOUT = 60.0
READ_CONCURRENCY = 16


@dataclass
class Target:
    """One selected cluster, with the (possibly impersonated) client every request uses."""

    name: str
    client: ClusterClient
    discovery: Discovery
    writer: Writer


@dataclass
class ClusterOutcome:
    """How one cluster took the revision: Applied, Failed, ClusterNotReady or DryRun."""

    name: str
    status: str
    message: str = ""

    def as_status(self, revision: str) -> dict[str, str]:
        """The ``status.clusters`` entry for this cluster at ``revision``."""
        entry = {"name": self.name, "revision": revision, "status": self.status}
        if self.message:
            entry["message"] = self.message
        return entry


@dataclass
class Outcome:
    """The result of one pass; ``inventory`` is None when the previous one stays."""

    ok: bool
    reason: str
    message: str
    revision: str = ""
    inventory: tuple[Entry, ...] | None = None
    clusters: list[ClusterOutcome] = field(default_factory=list)
    writes: int = 0
    #: What the revision applied, in apply order (empty unless it was applied).
    applied: tuple[tuple[Entry, Obj], ...] = ()


@dataclass
class _Work:
    target: Target
    applies: list[tuple[Entry, ResourceInfo | None, Obj]]
    prunes: list[Entry]


class Engine:
    """Working copies under ``workdir``, one per GitSync key, and the pass itself."""

    def __init__(self, workdir: Path, *, allow_transforms: bool) -> None:
        self.workdir = workdir
        self.allow_transforms = allow_transforms
        self._repos: dict[str, tuple[str, GitCredentials, Repository]] = {}

    def forget(self, key: str) -> None:
        """Drop a GitSync's working copy (the GitSync is gone)."""
        entry = self._repos.pop(key, None)
        if entry is not None:
            entry[2].close()
            shutil.rmtree(entry[2].directory, ignore_errors=True)

    def close(self) -> None:
        """Forget every repository checkout."""
        for key in list(self._repos):
            self.forget(key)

    def _repo(self, key: str, url: str, credentials: GitCredentials) -> Repository:
        known = self._repos.get(key)
        if known is not None and known[:2] == (url, credentials):
            return known[2]
        if known is not None:
            known[2].close()
        directory = self.workdir / key.replace("/", "_")
        repo = Repository(directory, url, credentials)
        self._repos[key] = (url, credentials, repo)
        return repo

    def _fetch(
        self, key: str, spec: gitspec.GitSyncSpec, credentials: GitCredentials
    ) -> tuple[Resolved, list[tuple[str, str]]]:
        repo = self._repo(key, spec.url, credentials)
        resolved = repo.resolve(spec.ref)
        checkout = repo.checkout(resolved.sha)
        build_spec = BuildSpec(spec.path, spec.transform, spec.kustomize)
        return resolved, build(checkout, build_spec, allow_transforms=self.allow_transforms)

    async def sync(
        self,
        key: str,
        spec: gitspec.GitSyncSpec,
        credentials: GitCredentials,
        rules: gitplan.Rules,
        targets: Sequence[Target],
        previous: Sequence[Entry],
    ) -> Outcome:
        """One pass over ``targets``; never raises for a user's mistake (it is the outcome)."""
        try:
            resolved, files = await asyncio.to_thread(self._fetch, key, spec, credentials)
        except GitError as exc:
            return Outcome(False, gitspec.FETCH_FAILED, f"{public_url(spec.url)}: {exc}")
        except BuildError as exc:
            return Outcome(False, gitspec.BUILD_FAILED, str(exc))
        revision = str(resolved)
        manifests = gitplan.parse_manifests(files)
        if isinstance(manifests, gitplan.ManifestError):
            return Outcome(False, gitspec.MANIFEST_INVALID, str(manifests), revision)
        if not targets:
            return Outcome(
                False, gitspec.VALIDATION_FAILED, "no selected cluster is ready", revision
            )
        scope = await _scope(targets[0].discovery)
        planned = gitplan.plan(manifests, scope, previous, rules)
        if isinstance(planned, gitplan.Refusal):
            return Outcome(False, gitspec.REFUSED, planned.message, revision)
        return await self._apply(spec, rules, planned, targets, revision)

    async def _apply(
        self,
        spec: gitspec.GitSyncSpec,
        rules: gitplan.Rules,
        planned: Plan,
        targets: Sequence[Target],
        revision: str,
    ) -> Outcome:
        try:
            works = await asyncio.gather(*(_diff(t, planned) for t in targets))
            await asyncio.gather(*(_validate(w, planned) for w in works))
        except _Refused as refused:
            return Outcome(False, gitspec.VALIDATION_FAILED, str(refused), revision)
        if spec.dry_run:
            clusters = [ClusterOutcome(w.target.name, gitspec.DRY_RUN, _summary(w)) for w in works]
            return Outcome(True, gitspec.DRY_RUN, "validated; dryRun applies nothing", revision,
                           None, clusters)  # fmt: skip
        results = await asyncio.gather(*(_write(w, spec.prune, rules.origin) for w in works))
        clusters = [r[0] for r in results]
        writes = sum(r[1] for r in results)
        failed = [c for c in clusters if c.status != gitspec.APPLIED]
        if failed:
            inventory = tuple(sorted(set(planned.inventory) | set(planned.prunes)))
            message = "; ".join(f"{c.name}: {c.message}" for c in failed)
            return Outcome(
                False, gitspec.APPLY_FAILED, message, revision, inventory, clusters, writes
            )
        count = len(planned.inventory)
        return Outcome(True, gitspec.APPLIED, f"{count} objects at {revision}", revision,
                       planned.inventory, clusters, writes, planned.applies)  # fmt: skip


class _Refused(Exception):
    """Internal: validation failed; the message names cluster and object."""


async def _scope(discovery: Discovery) -> gitplan.Scope:
    await discovery.ensure()
    known = {(i.group, i.kind): i.namespaced for i in discovery.resources}

    def scope(group: str, kind: str) -> bool | None:
        return known.get((group, kind))

    return scope


async def _info(discovery: Discovery, entry: Entry, obj: Obj | None) -> ResourceInfo | None:
    version = str(obj["apiVersion"]).rpartition("/")[2] if obj else None
    try:
        return await discovery.for_kind(entry.group, entry.kind, version)
    except UnknownResource:
        return None  # a kind whose CRD is in this revision: known after the CRDs are applied


async def _diff(target: Target, planned: Plan) -> _Work:
    """What differs on one cluster: the objects to apply, and the prune candidates.

    Live objects are read with a LIST per resource and namespace, so a big revision costs a
    few requests.
    """
    infos = {entry: await _info(target.discovery, entry, obj) for entry, obj in planned.applies}
    groups: dict[tuple[ResourceInfo, str], list[Entry]] = {}
    for entry, info in infos.items():
        if info is not None:
            groups.setdefault((info, entry.namespace), []).append(entry)
    live: dict[Entry, Obj | None] = {}
    limit = asyncio.Semaphore(READ_CONCURRENCY)
    await asyncio.gather(
        *(_read(target, info, ns, entries, live, limit) for (info, ns), entries in groups.items())
    )
    applies = [
        (entry, infos[entry], obj)
        for entry, obj in planned.applies
        if infos[entry] is None or not gitplan.in_sync(live.get(entry), obj)
    ]
    return _Work(target, applies, list(planned.prunes))


async def _read(
    target: Target,
    info: ResourceInfo,
    namespace: str,
    entries: list[Entry],
    live: dict[Entry, Obj | None],
    limit: asyncio.Semaphore,
) -> None:
    """The live objects of ``entries`` (one resource, one namespace) into ``live``."""
    async with limit:
        try:
            if len(entries) > 1:
                try:
                    listed = await target.client.get(info.path(namespace))
                except Forbidden:
                    pass  # allowed to get but not to list: one by one below
                else:
                    by_name = {i["metadata"]["name"]: i for i in listed.get("items") or []}
                    for entry in entries:
                        found = by_name.get(entry.name)
                        live[entry] = None if found is None else _typed(found, info)
                    return
            for entry in entries:
                live[entry] = await _get(target, info, entry)
        except KubeError as exc:
            raise _Refused(f"cluster {target.name}: {entries[0]}: {brief(exc)}") from None


def _typed(item: Obj, info: ResourceInfo) -> Obj:
    """A LIST item with the apiVersion and kind a GET would carry."""
    return {"apiVersion": info.api_version, "kind": info.kind, **item}


async def _get(target: Target, info: ResourceInfo, entry: Entry) -> Obj | None:
    try:
        live: Obj = await target.client.get(info.path(entry.namespace, entry.name))
    except NotFound:
        return None
    return live


async def _validate(work: _Work, planned: Plan) -> None:
    """Server-side dry run of every object to apply; the first refusal ends the revision."""
    new_namespaces = {e.name for e, _ in planned.applies if e.group == "" and e.kind == "Namespace"}
    for entry, info, obj in work.applies:
        if info is None:
            continue
        try:
            await _server_apply(work.target.client, info, entry, obj, dry_run=True)
        except NotFound:
            if entry.namespace in new_namespaces:
                continue  # its Namespace is created by this revision, before it
            raise _Refused(f"cluster {work.target.name}: {entry}: not found") from None
        except KubeError as exc:
            raise _Refused(f"cluster {work.target.name}: {entry}: {brief(exc)}") from None


async def _server_apply(
    client: ClusterClient, info: ResourceInfo, entry: Entry, obj: Obj, *, dry_run: bool
) -> None:
    params: dict[str, str | bool] = {"fieldManager": gitplan.FIELD_MANAGER, "force": True}
    if dry_run:
        params["dryRun"] = "All"
    await client.request("PATCH", info.path(entry.namespace, entry.name), params=params,
                         body=obj, content_type=APPLY_PATCH)  # fmt: skip


async def _write(work: _Work, prune: bool, origin: str) -> tuple[ClusterOutcome, int]:
    """Apply then prune on one cluster; the outcome and the number of writes."""
    target, writes = work.target, 0
    try:
        crds = False
        for entry, info, obj in work.applies:
            if info is None:
                if crds:
                    await _wait_crds(target, work)
                    crds = False
                info = await _info(target.discovery, entry, obj)
                if info is None:
                    raise UnknownResource(target.name, f"{entry.kind} ({obj['apiVersion']})")
            await target.writer.apply(info, entry.namespace, entry.name, obj,
                                      field_manager=gitplan.FIELD_MANAGER)  # fmt: skip
            writes += 1
            crds = crds or entry.kind == "CustomResourceDefinition"
        if prune:
            writes += await prune_entries(target, work.prunes, origin)
    except KubeError as exc:
        log.warning("gitsync: cluster %s: %s", target.name, brief(exc))
        return ClusterOutcome(target.name, "Failed", brief(exc)), writes
    return ClusterOutcome(target.name, gitspec.APPLIED), writes


async def _wait_crds(target: Target, work: _Work) -> None:
    """Wait until the CRDs just applied are Established, then rediscover."""
    names = [e.name for e, _, _ in work.applies if e.kind == "CustomResourceDefinition"]
    deadline = time.monotonic() + CRD_ESTABLISH_TIMEOUT
    path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
    for name in names:
        while True:
            crd = await target.client.get(path + name)
            conditions = (crd.get("status") or {}).get("conditions") or []
            if any(
                c.get("type") == "Established" and c.get("status") == "True" for c in conditions
            ):
                break
            if time.monotonic() > deadline:
                raise UnknownResource(target.name, f"CRD {name} (not established)")
            await asyncio.sleep(0.2)
    await target.discovery.refresh()


async def prune_entries(target: Target, entries: Sequence[Entry], origin: str) -> int:
    """Delete ``entries`` (in this order) on ``target``; how many were deleted.

    Only where :func:`gitplan.prunable` allows; a failed request raises (:class:`KubeError`).
    """
    deleted = 0
    for entry in entries:
        info = await _info(target.discovery, entry, None)
        if info is None:
            continue  # the kind is gone, and its objects with it
        live = await _get(target, info, entry)
        if not gitplan.prunable(live, origin):
            continue
        try:
            if await target.writer.delete(info, entry.namespace, entry.name):
                deleted += 1
                log.info("gitsync: pruned %s on %s", entry, target.name)
        except NotFound:
            pass
    return deleted


def _summary(work: _Work) -> str:
    return f"{len(work.applies)} to apply, {len(work.prunes)} prune candidates"
