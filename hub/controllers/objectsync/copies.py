"""Copies of one sync on one cluster: create, update, correct drift, delete strays, orphan.

A copy is this sync's when it carries the managed label (the copy cache holds nothing else)
and this sync's origin annotation. Anything else at a destination is ``AlreadyExists`` and is
never written unless the sync says ``synchub.io/adopt: "true"``. Strays are deleted only from
a fully listed copy cache of a cluster whose namespaces are fully listed.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from dataclasses import dataclass

from hub.core import objects
from hub.core.errors import ApiError, Conflict, KubeError, NotFound, UnknownResource
from hub.core.fanout import DATA_FIELDS, DesiredCopy, Plan
from hub.core.federation import FIELD_MANAGER, HASH_ANNOTATION, MANAGED_LABEL, ORIGIN_ANNOTATION
from hub.core.objects import Obj, ObjectRef
from hub.core.patch import contains
from hub.kube.resources import ResourceInfo
from hub.kube.watch import WatchCache
from hub.runtime.inventory import Inventory, MemberState
from hub.runtime.writer import MemberWriters, Writer, Writers

from . import status as st
from .watches import Watches

log = logging.getLogger(__name__)

IN_FLIGHT = 32  # concurrent writes per cluster
ORPHANED = "Orphaned"


@dataclass(frozen=True, slots=True)
class Job:
    """What one reconcile asks of every cluster."""

    key: ObjectRef
    origin: str
    info: ResourceInfo  # the source's resource on the master
    version: str  # the source's resourceVersion
    create_only: bool = False
    adopt: bool = False


class ClusterSync:
    """Brings one cluster's copies of a sync in line with the plan."""

    def __init__(
        self,
        inventory: Inventory,
        watches: Watches,
        writers: Writers,
    ) -> None:
        self.inventory = inventory
        self.watches = watches
        self.writers = writers
        self._writers = MemberWriters(writers)
        self._limits: dict[str, asyncio.Semaphore] = {}
        #: resourceVersion of each copy right after the hub wrote it (cheap drift check).
        self._written: dict[tuple[ObjectRef, str, str, str], str] = {}
        #: Places last found held by an object the sync does not manage: retries look
        #: (GET) before they create, so a standing AlreadyExists costs no write.
        self._blocked: set[tuple[ObjectRef, str, str, str]] = set()

    def forget(self, key: ObjectRef) -> None:
        """The sync is gone: drop what was recorded about its copies."""
        for entry in [e for e in self._written if e[0] == key]:
            del self._written[entry]
        self._blocked = {e for e in self._blocked if e[0] != key}

    async def sync(self, job: Job, cluster: str, plan: Plan) -> list[st.Result]:
        """Write the planned copies on ``cluster`` and delete this sync's strays there."""
        state = self.inventory.get(cluster)
        desired = [c for c in plan.copies if c.cluster == cluster]
        if cluster in plan.pending or not _usable(state):
            if not desired and cluster not in plan.pending:
                return []
            status = st.CLUSTER_NOT_READY if not _usable(state) else st.SYNCING
            message = state.message or "listing namespaces"
            targets = [(c.namespace, c.name) for c in desired] or [("", "")]
            return [st.Result(cluster, ns, n, status, message) for ns, n in targets]
        try:
            info, cache = await self._copy_cache(state, job.info)
        except UnknownResource as exc:
            return [_failed(c, st.APPLY_FAILED, str(exc)) for c in desired]
        if cache is None:
            return [_failed(c, st.SYNCING, "listing copies") for c in desired]
        ours = {(ns, name): obj for (ns, name), obj in cache.items() if _origin(obj) == job.origin}
        limit = self._limits.setdefault(cluster, asyncio.Semaphore(IN_FLIGHT))
        writer = self._writer(state)

        async def one(wanted: DesiredCopy) -> st.Result:
            async with limit:
                live = ours.get((wanted.namespace, wanted.name))
                return await self._place(job, writer, info, wanted, live)

        results = list(await asyncio.gather(*(one(c) for c in desired)))
        wanted = {(c.namespace, c.name) for c in desired}
        for (namespace, name), obj in ours.items():
            if (namespace, name) not in wanted:
                failed = await self._remove(job, writer, info, obj, orphan=False)
                if failed is not None:
                    results.append(failed)
        return results

    async def remove_all(
        self, key: ObjectRef, origin: str, info: ResourceInfo, *, orphan: bool
    ) -> list[st.Result]:
        """Delete (or orphan) every copy of a sync; results for what is left or orphaned."""
        job = Job(key, origin, info, "")
        found = await asyncio.gather(
            *(self._remove_on(job, state, orphan) for state in self.inventory.states.values())
        )
        return [r for results in found for r in results]

    async def _remove_on(self, job: Job, state: MemberState, orphan: bool) -> list[st.Result]:
        name = state.name
        if not _usable(state):
            known = self.watches.copies.get(name)
            if (
                known is not None
                and known.all_synced()
                and not any(_origin(o) == job.origin for c in known for o in c.values())
            ):
                return []
            return [st.Result(name, "", "", st.WAITING_FOR_REMOVAL, state.message)]
        try:
            info, cache = await self._copy_cache(state, job.info)
        except UnknownResource:
            return []
        if cache is None:
            return [st.Result(name, "", "", st.SYNCING, "listing copies")]
        writer = self._writer(state)
        results = []
        for obj in [o for o in cache.values() if _origin(o) == job.origin]:
            result = await self._remove(job, writer, info, obj, orphan=orphan)
            if result is not None:
                results.append(result)
        return results

    # --- one copy -----------------------------------------------------------------------

    async def _place(
        self, job: Job, writer: Writer, info: ResourceInfo, wanted: DesiredCopy, live: Obj | None
    ) -> st.Result:
        if live is None:
            if (job.key, wanted.cluster, wanted.namespace, wanted.name) in self._blocked:
                return await self._existing(job, writer, info, wanted)
            return await self._create(job, writer, info, wanted)
        in_sync = objects.annotation(live, HASH_ANNOTATION) == wanted.desired_hash
        where = (job.key, wanted.cluster, wanted.namespace, wanted.name)
        if job.create_only or (in_sync and not drifted(self._written, where, wanted, live)):
            return _ok(wanted, job.version if in_sync else "")
        return await self._write(job, writer, info, wanted, live)

    async def _create(
        self, job: Job, writer: Writer, info: ResourceInfo, wanted: DesiredCopy
    ) -> st.Result:
        try:
            written = await writer.create(info, wanted.namespace, wanted.obj)
        except Conflict:
            return await self._existing(job, writer, info, wanted, create=False)
        except NotFound:
            return _failed(wanted, "NamespaceNotFound", f"namespace {wanted.namespace} not found")
        except KubeError as exc:
            return self._error(wanted, exc)
        return self._wrote(job, info, wanted, written, "created")

    async def _existing(
        self,
        job: Job,
        writer: Writer,
        info: ResourceInfo,
        wanted: DesiredCopy,
        *,
        create: bool = True,
    ) -> st.Result:
        """An object holds the place: ours (the cache lags), adoptable, or someone else's."""
        place = (job.key, wanted.cluster, wanted.namespace, wanted.name)
        try:
            live: Obj = await writer.client.get(info.path(wanted.namespace, wanted.name))
        except NotFound:
            self._blocked.discard(place)
            if not create:  # it went between our create and this read: next pass creates
                return _failed(wanted, st.APPLY_FAILED, "the object changed meanwhile; retrying")
            return await self._create(job, writer, info, wanted)
        except KubeError as exc:
            return self._error(wanted, exc)
        ours = objects.labels_of(live).get(MANAGED_LABEL) == "true" and _origin(live) == job.origin
        if ours or job.adopt:
            self._blocked.discard(place)
        else:
            self._blocked.add(place)
        if ours:
            return await self._place(job, writer, info, wanted, live)
        if job.adopt:
            return await self._write(job, writer, info, wanted, live)
        message = (
            f"a {info.kind} not managed by this sync exists; annotate the sync with "
            'synchub.io/adopt: "true" to take it over'
        )
        return _failed(wanted, st.ALREADY_EXISTS, message)

    async def _write(
        self, job: Job, writer: Writer, info: ResourceInfo, wanted: DesiredCopy, live: Obj
    ) -> st.Result:
        try:
            if wanted.strategy == "replace":
                body = copy.deepcopy(wanted.obj)
                body["metadata"]["resourceVersion"] = objects.resource_version(live)
                written = await writer.replace(info, wanted.namespace, wanted.name, body)
            else:
                written = await writer.apply(
                    info, wanted.namespace, wanted.name, wanted.obj, field_manager=FIELD_MANAGER
                )
        except KubeError as exc:
            return self._error(wanted, exc)
        return self._wrote(job, info, wanted, written, "updated")

    async def _remove(
        self, job: Job, writer: Writer, info: ResourceInfo, obj: Obj, *, orphan: bool
    ) -> st.Result | None:
        metadata = obj.get("metadata") or {}
        namespace, name = str(metadata.get("namespace", "")), str(metadata.get("name", ""))
        try:
            if orphan:
                patch = {
                    "metadata": {
                        "labels": {MANAGED_LABEL: None},
                        "annotations": {HASH_ANNOTATION: None},
                    }
                }
                await writer.merge_patch(info, namespace, name, patch)
                return st.Result(writer.cluster, namespace, name, ORPHANED)
            await writer.delete(info, namespace, name)
            log.info(
                "objectsync: deleted %s %s/%s on %s", info.kind, namespace, name, writer.cluster
            )
        except NotFound:
            pass
        except KubeError as exc:
            self.inventory.mark_failed(writer.cluster, exc)
            return st.Result(writer.cluster, namespace, name, st.DELETION_FAILED, _short(exc))
        self._written.pop((job.key, writer.cluster, namespace, name), None)
        return None

    # --- helpers ------------------------------------------------------------------------

    def _record(self, key: ObjectRef, wanted: DesiredCopy, written: Obj | None) -> None:
        if written is not None:
            self._written[(key, wanted.cluster, wanted.namespace, wanted.name)] = (
                objects.resource_version(written)
            )

    def _wrote(
        self, job: Job, info: ResourceInfo, wanted: DesiredCopy, written: Obj | None, verb: str
    ) -> st.Result:
        self._record(job.key, wanted, written)
        log.info("objectsync: %s %s", verb, _describe(info, wanted))
        return _ok(wanted, job.version, wrote=True)

    def _error(self, wanted: DesiredCopy, exc: KubeError) -> st.Result:
        self.inventory.mark_failed(wanted.cluster, exc)
        log.warning(
            "objectsync: %s/%s on %s: %s", wanted.namespace, wanted.name, wanted.cluster, exc
        )
        return _failed(wanted, st.APPLY_FAILED, _short(exc))

    async def _copy_cache(
        self, state: MemberState, source: ResourceInfo
    ) -> tuple[ResourceInfo, WatchCache | None]:
        """The member's resource for the source kind, and its copy cache once listed."""
        assert state.client is not None
        assert state.discovery is not None
        info = await state.discovery.for_kind(source.group, source.kind, source.version)
        cache = self.watches.copy_cache(state.name, state.client).ensure(info)
        return info, (cache if cache.synced.is_set() else None)

    def _writer(self, state: MemberState) -> Writer:
        return self._writers.get(state.name, state.client)


def drifted(
    written: dict[tuple[ObjectRef, str, str, str], str],
    where: tuple[ObjectRef, str, str, str],
    wanted: DesiredCopy,
    live: Obj,
) -> bool:
    """Someone else changed what the hub set (exactly, for ``replace``).

    The version recorded after the hub's own write answers cheaply; a live copy found equal
    is recorded too.
    """
    if written.get(where) == objects.resource_version(live):
        return False
    if not contains(live, wanted.obj):
        return True
    if wanted.strategy == "replace" and not _same_keys(live, wanted.obj):
        return True
    written[where] = objects.resource_version(live)
    return False


def _usable(state: MemberState) -> bool:
    return state.ready and state.client is not None and state.discovery is not None


def _ok(wanted: DesiredCopy, version: str, *, wrote: bool = False) -> st.Result:
    return st.Result(wanted.cluster, wanted.namespace, wanted.name, st.SYNCED, "", version, wrote)


def _failed(wanted: DesiredCopy, status: str, message: str) -> st.Result:
    return st.Result(wanted.cluster, wanted.namespace, wanted.name, status, message)


def _same_keys(live: Obj, desired: Obj) -> bool:
    fields = [*DATA_FIELDS]
    if any(set(live.get(f) or {}) != set(desired.get(f) or {}) for f in fields):
        return False
    return all(
        (live.get("metadata") or {}).get(m) == (desired.get("metadata") or {}).get(m)
        for m in ("labels", "annotations")
    )


def _origin(obj: Obj) -> str:
    return objects.annotation(obj, ORIGIN_ANNOTATION)


def _describe(info: ResourceInfo, wanted: DesiredCopy) -> str:
    return f"{info.kind} {wanted.namespace}/{wanted.name} on {wanted.cluster}"


def _short(exc: KubeError) -> str:
    if isinstance(exc, ApiError):
        return f"{exc.status} {exc.reason}: {exc.message}"[:300]
    return str(exc)[:300]
