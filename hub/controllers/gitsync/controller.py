"""The GitSync controller (docs/gitsync.md): manifests from git onto the selected clusters.

It polls each GitSync's repository every ``interval`` (or at once on ``synchub reconcile
gitsync/NAME``), applies the revision to the clusters its placement selects, prunes, and
reports on the GitSync.

Reconciles are keyed by the GitSync; a watch event enqueues it only when its generation, its
``synchub.io/reconcile-at`` or its ``synchub.io/suspend`` annotation changed, so the hub's own
status writes never trigger a fetch. Status and Events are written only when they change.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import logging
from pathlib import Path
from typing import Any

from hub.controllers.gitsync import removal
from hub.controllers.gitsync.drift import DriftWatch
from hub.controllers.gitsync.engine import ClusterOutcome, Engine, Outcome, Target
from hub.controllers.gitsync.git import GitCredentials
from hub.core import gitplan, gitspec
from hub.core.conditions import Condition, find, merged, now_rfc3339
from hub.core.errors import NotFound, Requeue, UnknownResource
from hub.core.federation import (
    LAST_HANDLED_FIELD,
    ORPHAN_ANNOTATIONS,
    annotation_is_true,
    deletion_timed_out,
)
from hub.core.objects import Obj, ObjectRef
from hub.core.placement import PlacementError, select_clusters
from hub.kube.resources import ResourceInfo
from hub.kube.watch import EventType
from hub.runtime.caches import CacheSet
from hub.runtime.controller import Controller
from hub.runtime.finalizers import add_finalizer, has_finalizer, remove_finalizer
from hub.runtime.inventory import Inventory
from hub.runtime.wiring import Collaborators, Declaration, Resources

log = logging.getLogger(__name__)

RETRY_AFTER_PROBLEM = 30.0  # seconds: a GitSync that cannot run yet is looked at again
CLUSTER_NOT_READY = "ClusterNotReady"
WAIT_FOR_REMOVAL = 5.0  # seconds between removal attempts while a cluster holds a deletion


DECLARATION = Declaration(
    for_=Resources("master", "GitSync objects (every namespace)"),
    owns=(
        Resources("all", "the objects of each GitSync's revision (impersonated)"),
        Resources("master", "GitSync status and Events"),
    ),
    watches=("inventory.changed", "git remotes (polled every spec.interval)"),
)


class GitSyncController(Controller[ObjectRef]):
    """Reconciles ``gitsyncs.synchub.io`` objects on the master."""

    name = "gitsync"
    declaration = DECLARATION

    def __init__(
        self, deps: Collaborators, inventory: Inventory, *, workdir: Path, poll: bool = True
    ) -> None:
        super().__init__(deps.metrics, workers=2)
        self.config = deps.config
        self.master = deps.master
        self.discovery = deps.discovery
        self.inventory = inventory
        self.writers = deps.writers
        #: False under ``--once``: one pass per GitSync, no polling afterwards.
        self.poll = poll
        self.writer = deps.writers.for_client(deps.master)
        self.engine = Engine(workdir, allow_transforms=deps.config.git.allow_transforms)
        self.cache = CacheSet(deps.master, deps.supervisor, deps.metrics, self.on_gitsync)
        self.info: ResourceInfo | None = None
        self._seen: dict[ObjectRef, tuple[Any, ...]] = {}
        #: GitSyncs whose last pass failed (``--once`` judges them).
        self.failing: set[ObjectRef] = set()
        self.drift = DriftWatch(deps, inventory, self.queue.add)
        inventory.changed.subscribe(self.resync)

    async def refresh(self) -> None:
        """Watch GitSyncs once the master serves them (a CRD installed later is picked up)."""
        if self.info is not None:
            return
        try:
            self.info = await self.discovery.for_kind(gitspec.GROUP, gitspec.KIND, gitspec.VERSION)
        except UnknownResource:
            log.debug("GitSync CRD not served on the master (synchub crds): GitSync is idle")
            return
        self.cache.ensure(self.info)

    async def settle(self) -> None:
        """``--once``: give every member its first probe before judging."""
        try:
            async with asyncio.timeout(30):
                await self.inventory.probed.wait()
        except TimeoutError:
            pass

    def in_sync(self) -> bool:
        """No GitSync failed at its last reconcile (``--once``)."""
        return not self.failing

    def synced(self) -> bool:
        """The GitSync objects are listed, or refused for good.

        A hub whose RBAC leaves GitSync out is still ready for the rest (the watch logs the
        403 and keeps retrying).
        """
        return self.cache.settled()

    def resync(self, _cluster: str = "") -> None:
        """Look at every GitSync again (a cluster came back)."""
        for ref in list(self._seen):
            self.queue.add(ref)

    def close(self) -> None:
        """Drop the checked-out repositories."""
        self.engine.close()

    def _ref(self, obj: Obj) -> ObjectRef:
        metadata = obj.get("metadata") or {}
        namespace, name = str(metadata.get("namespace", "")), str(metadata.get("name", ""))
        return ObjectRef(self.master.name, gitspec.GROUP, gitspec.PLURAL, namespace, name)

    def on_gitsync(self, _info: ResourceInfo, kind: EventType, obj: Obj) -> None:
        """A GitSync changed: queue it when its spec or request did."""
        ref = self._ref(obj)
        if kind == "DELETED" or self._seen.get(ref) != _marker(obj):
            self.queue.add(ref)

    async def reconcile(self, key: ObjectRef) -> None:
        """Fetch, plan and apply one GitSync, then write its status."""
        obj = self.cache.get(self.info, key.namespace, key.name) if self.info else None
        if obj is None:
            self._forget(key)
            return
        self._seen[key] = _marker(obj)
        spec = gitspec.parse_spec(obj)
        if (obj.get("metadata") or {}).get("deletionTimestamp"):
            await self._finalize(key, obj, spec)
            return
        if isinstance(spec, gitspec.SpecError):
            await self._report(obj, Outcome(False, gitspec.INVALID_SPEC, spec.message))
            return
        if spec.suspend:
            await self._report(
                obj, Outcome(False, gitspec.SUSPENDED, "suspended: nothing is written")
            )
            return
        problem = self._tenancy_problem(key, spec)
        if problem is not None:
            await self._report(obj, problem)
            self._again(RETRY_AFTER_PROBLEM)
            return
        assert self.info is not None
        # Before anything is applied, so a deletion always finds what to prune.
        updated = await add_finalizer(self.writer, self.info, obj, gitspec.FINALIZER)
        if updated is None:
            return  # deleted meanwhile
        obj = updated
        outcome = await self._sync(key, obj, spec)
        await self._report(obj, outcome)
        self._again(spec.interval if outcome.ok else min(spec.interval, RETRY_AFTER_PROBLEM))

    def _forget(self, key: ObjectRef) -> None:
        self.failing.discard(key)
        self._seen.pop(key, None)
        self.drift.forget(key)
        self.engine.forget(f"{key.namespace}/{key.name}")

    def _again(self, delay: float) -> None:
        """Poll again after ``delay`` (not under ``--once``)."""
        if self.poll:
            raise Requeue(delay)

    def _tenancy_problem(self, key: ObjectRef, spec: gitspec.GitSyncSpec) -> Outcome | None:
        if key.namespace == self.config.git.system_namespace or spec.service_account:
            return None
        message = (f"GitSyncs outside {self.config.git.system_namespace} must set "
                   "spec.serviceAccountName (git.systemNamespace in clusters.yaml)")  # fmt: skip
        return Outcome(False, gitspec.SERVICE_ACCOUNT_REQUIRED, message)

    async def _sync(self, key: ObjectRef, obj: Obj, spec: gitspec.GitSyncSpec) -> Outcome:
        try:
            credentials = await self._credentials(key.namespace, spec.secret_name)
        except NotFound:
            return Outcome(False, gitspec.FETCH_FAILED, f"secretRef {spec.secret_name}: not found")
        if not self.inventory.labels_synced():
            # Placing on partial labels would prune clusters that belong to the placement.
            raise Requeue(0.5)
        selected = self._select(spec)
        if isinstance(selected, Outcome):
            return selected
        targets, skipped = self._targets(key, spec.service_account, selected)
        rules = gitplan.Rules(
            origin=gitspec.origin(self.master.name, key.namespace, key.name),
            namespaces=spec.namespaces,
            default_namespace=key.namespace,
        )
        previous = gitplan.read_inventory(obj.get("status"))
        outcome = await self.engine.sync(
            f"{key.namespace}/{key.name}", spec, credentials, rules, targets, previous
        )
        if outcome.applied:
            names = [t.name for t in targets]
            await self.drift.track(key, rules.origin, names, outcome.applied)
        outcome.clusters += skipped
        await self._leave(key, obj, spec, selected, outcome)
        if skipped and outcome.ok:
            # Not applied everywhere: the revision is retried when the cluster is back
            # (inventory.changed), and the inventory keeps what it may still have to prune.
            if outcome.inventory is not None:
                outcome.inventory = tuple(sorted(set(outcome.inventory) | set(previous)))
            outcome.ok, outcome.reason = False, CLUSTER_NOT_READY
            outcome.message = "; ".join(f"{c.name}: {c.message}" for c in skipped)
        return outcome

    async def _credentials(self, namespace: str, name: str) -> GitCredentials:
        if not name:
            return GitCredentials()
        secret = await self.master.get(f"/api/v1/namespaces/{namespace}/secrets/{name}")
        data = secret.get("data") or {}

        def value(field: str) -> str:
            raw = data.get(field)
            return base64.b64decode(raw).decode() if isinstance(raw, str) else ""

        return GitCredentials(value("username"), value("password"), value("identity"),
                              value("known_hosts"))  # fmt: skip

    def _select(self, spec: gitspec.GitSyncSpec) -> list[str] | Outcome:
        placement = gitspec.placement_object(spec.placement)
        if placement is None:
            return [self.master.name]
        result = select_clusters(placement, self.inventory.clusters())
        if isinstance(result, PlacementError):
            return Outcome(False, gitspec.INVALID_SPEC, result.message)
        if result.unknown:
            unknown = ", ".join(result.unknown)
            return Outcome(False, gitspec.INVALID_SPEC, f"spec.placement names unknown {unknown}")
        return list(result.selected)

    def _targets(
        self, key: ObjectRef, service_account: str, names: list[str]
    ) -> tuple[list[Target], list[ClusterOutcome]]:
        targets, skipped = [], []
        for name in names:
            state = self.inventory.get(name)
            if not state.ready or state.client is None or state.discovery is None:
                skipped.append(ClusterOutcome(name, "ClusterNotReady", state.message))
                continue
            client = state.client
            if service_account:
                client = client.impersonating(
                    *gitspec.impersonation(key.namespace, service_account)
                )
            writer = self.writers.for_client(client)
            targets.append(Target(name, client, state.discovery, writer))
        return targets, skipped

    # --- removal: clusters that left the placement, and the GitSync's deletion ------------

    async def _leave(
        self,
        key: ObjectRef,
        obj: Obj,
        spec: gitspec.GitSyncSpec,
        selected: list[str],
        outcome: Outcome,
    ) -> None:
        """Prune everything on the clusters that left the placement (docs/gitsync.md).

        Only once this pass reached the clusters (or the placement selects none); a cluster
        that cannot be reached yet stays in ``status.clusters`` as WaitingForRemoval, and the
        inventory keeps the entries it still holds.
        """
        leaving = [n for n in _status_clusters(obj) if n not in selected]
        leaving = [n for n in leaving if n in self.inventory.states]
        if not leaving or spec.dry_run or not (outcome.clusters or not selected):
            return
        previous = gitplan.read_inventory(obj.get("status"))
        targets, unreachable = self._targets(key, spec.service_account, leaving)
        origin = gitspec.origin(self.master.name, key.namespace, key.name)
        waiting = await removal.remove(targets, unreachable, previous, origin)
        outcome.clusters += waiting
        if waiting and outcome.inventory is not None:
            outcome.inventory = tuple(sorted(set(outcome.inventory) | set(previous)))

    async def _finalize(
        self, key: ObjectRef, obj: Obj, spec: gitspec.GitSyncSpec | gitspec.SpecError
    ) -> None:
        """Prune what the GitSync applied everywhere, then let it go.

        An unreachable cluster holds the deletion at most ``propagation.deletionTimeout``.
        """
        assert self.info is not None
        if not has_finalizer(obj, gitspec.FINALIZER):
            self._forget(key)
            return
        waiting = await self._remove_all(key, obj, spec)
        now = datetime.datetime.now(datetime.UTC)
        if waiting and not deletion_timed_out(obj, self.config.propagation.deletion_timeout, now):
            message = "; ".join(f"{c.name}: {c.message}" for c in waiting)
            await self._report(obj, Outcome(False, gitspec.WAITING_FOR_REMOVAL,
                                            f"deleting: {message}", clusters=waiting))  # fmt: skip
            raise Requeue(WAIT_FOR_REMOVAL)
        for cluster in waiting:
            message = (f"gave up removing its objects from cluster {cluster.name} after "
                       f"propagation.deletionTimeout ({cluster.message}); they may be left "
                       "behind")  # fmt: skip
            log.warning("gitsync %s/%s: %s", key.namespace, key.name, message)
            await self.writer.event(obj, type_="Warning", reason=gitspec.DELETION_TIMED_OUT,
                                    message=message)  # fmt: skip
        await remove_finalizer(self.writer, self.info, obj, gitspec.FINALIZER)
        self._forget(key)

    async def _remove_all(
        self, key: ObjectRef, obj: Obj, spec: gitspec.GitSyncSpec | gitspec.SpecError
    ) -> list[ClusterOutcome]:
        """Prune the inventory on every cluster it may be on; the clusters still waiting.

        Nothing is removed for ``spec.prune: false`` or ``synchub.io/orphan: "true"``.
        """
        entries = gitplan.read_inventory(obj.get("status"))
        kept = spec.prune is False if isinstance(spec, gitspec.GitSyncSpec) else False
        if not entries or kept or annotation_is_true(obj, *ORPHAN_ANNOTATIONS):
            return []
        names = set(_status_clusters(obj))
        selected = self._select(spec) if isinstance(spec, gitspec.GitSyncSpec) else None
        if isinstance(selected, list):
            names |= set(selected)
        account = str((obj.get("spec") or {}).get("serviceAccountName") or "")
        targets, unreachable = self._targets(
            key, account, sorted(n for n in names if n in self.inventory.states)
        )
        origin = gitspec.origin(self.master.name, key.namespace, key.name)
        return await removal.remove(targets, unreachable, entries, origin)

    async def _report(self, obj: Obj, outcome: Outcome) -> None:
        """Status (only when it changed) and an Event for a new revision or a new failure."""
        key = self._ref(obj)
        if outcome.ok or outcome.reason == gitspec.SUSPENDED:
            self.failing.discard(key)
        else:
            self.failing.add(key)
        old = obj.get("status") or {}
        status = _status(obj, outcome)
        assert self.info is not None
        if status == old:
            return
        await self.writer.merge_patch(
            self.info, _ns(obj), _name(obj), {"status": status}, subresource="status"
        )
        ready = status["conditions"][-1]
        old_ready = find(old.get("conditions"), "Ready") or {}
        if outcome.ok and status.get("lastAppliedRevision") != old.get("lastAppliedRevision"):
            message = f"applied {outcome.revision}: {outcome.message}"
            await self.writer.event(obj, type_="Normal", reason=outcome.reason, message=message)
        elif not outcome.ok and ready.get("message") != old_ready.get("message"):
            log.warning(
                "gitsync %s/%s: %s: %s", _ns(obj), _name(obj), outcome.reason, outcome.message
            )
            await self.writer.event(obj, type_="Warning", reason=outcome.reason,
                                    message=outcome.message)  # fmt: skip


def _status(obj: Obj, outcome: Outcome) -> dict[str, Any]:
    old = dict(obj.get("status") or {})
    metadata = obj.get("metadata") or {}
    status: dict[str, Any] = {**old, "observedGeneration": metadata.get("generation")}
    if outcome.revision:
        status["lastAttemptedRevision"] = outcome.revision
        if outcome.ok and outcome.reason == gitspec.APPLIED:
            status["lastAppliedRevision"] = outcome.revision
    if outcome.inventory is not None:
        entries = gitplan.inventory_keys(outcome.inventory)
        status["inventory"] = {"count": len(entries), "entries": entries}
    if outcome.clusters:
        status["clusters"] = [c.as_status(outcome.revision) for c in outcome.clusters]
    requested = (metadata.get("annotations") or {}).get(gitspec.RECONCILE_ANNOTATION)
    if requested:
        status[LAST_HANDLED_FIELD] = requested
    condition = Condition("Ready", "True" if outcome.ok else "False", outcome.reason,
                          outcome.message[:1024])  # fmt: skip
    status["conditions"] = merged(old.get("conditions"), condition, now=now_rfc3339(),
                                  observed_generation=metadata.get("generation"))  # fmt: skip
    return status


def _marker(obj: Obj) -> tuple[Any, ...]:
    metadata = obj.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    return (metadata.get("generation"), annotations.get(gitspec.RECONCILE_ANNOTATION),
            annotations.get(gitspec.SUSPEND_ANNOTATION),
            bool(metadata.get("deletionTimestamp")))  # fmt: skip


def _status_clusters(obj: Obj) -> list[str]:
    """The clusters the GitSync's status lists: where it applied, or still has to remove."""
    entries = (obj.get("status") or {}).get("clusters") or []
    return [str(e.get("name")) for e in entries if isinstance(e, dict) and e.get("name")]


def _ns(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("namespace", ""))


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))
