"""Direct propagation: push each Federated object, rendered per cluster, to the clusters its
placement selects; remove it elsewhere; correct drift; report status.

This module orchestrates: it takes the events, runs one Federated object's placement, asks
:mod:`.member` to do the work on each cluster, and writes the finalizer, the status and the
Events on the Federated object. Drift and fight detection is pure, in :mod:`.drift`.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from typing import Protocol

from hub.config.settings import Config
from hub.controllers.propagation.drift import Clock
from hub.controllers.propagation.member import ClusterResult, Hooks, Members
from hub.core.conditions import Condition, differs, find, merged, now_rfc3339
from hub.core.errors import Conflict, NotFound, Requeue
from hub.core.federation import (
    FEDERATED_GROUPS,
    FINALIZER,
    ORIGIN_ANNOTATION,
    ORPHAN_ANNOTATIONS,
    PROPAGATION_CONDITION,
    ClusterStatus,
    annotation_is_true,
    target_kind,
)
from hub.core.objects import Obj, ObjectRef
from hub.core.placement import PlacementError, select_clusters
from hub.kube.resources import ResourceInfo
from hub.kube.watch import EventType
from hub.runtime.caches import CacheSet
from hub.runtime.controller import Controller
from hub.runtime.inventory import Inventory
from hub.runtime.metrics import Metrics
from hub.runtime.snapshots import Cell, Health, Snapshots
from hub.runtime.tasks import Supervisor
from hub.runtime.wiring import Declaration, Resources, Topic
from hub.runtime.writer import Writers

log = logging.getLogger(__name__)

#: How a per-cluster status reads on the status page; any other status is failing.
HEALTH: dict[str, Health] = {
    ClusterStatus.PROPAGATED: Health.OK,
    ClusterStatus.ORPHANED: Health.OK,
    ClusterStatus.WAITING_FOR_REMOVAL: Health.PROGRESSING,
}

WAIT_FOR_REMOVAL = 10.0  # seconds between attempts while a cluster holds a deletion
MEMBERS_PROBED_TIMEOUT = 30.0  # seconds --once waits for every member's first probe


class CopyView(Protocol):
    """What propagation needs from the copy controller (which it never imports)."""

    judged: Topic[ObjectRef]
    template_written: Topic[tuple[ObjectRef, float]]

    def pending(self, key: ObjectRef, obj: Obj) -> bool:
        """``obj`` carries copy rules not judged yet."""

    def is_source(self, ref: ObjectRef) -> bool:
        """Some copy rule reads ``ref``."""


class PropagationController(Controller[ObjectRef]):
    """Pushes Federated objects to the clusters their placement selects (module docstring)."""

    name = "propagation"
    declaration = Declaration(
        for_=Resources("master", "Federated* objects"),
        owns=(
            Resources("members", "rendered copies labelled synchub.io/managed=true"),
            Resources("members", "Namespaces (propagation.createNamespaces)"),
            Resources("master", "finalizer and status of Federated* objects; Events"),
        ),
        watches=(
            "managed copies on members",
            "inventory.changed",
            "copy.judged",
            "copy.template-written",
        ),
    )

    def __init__(
        self,
        config: Config,
        inventory: Inventory,
        federated: CacheSet,
        writers: Writers,
        supervisor: Supervisor,
        metrics: Metrics,
        *,
        copy: CopyView,
        clock: Clock = time.monotonic,
        snapshots: Snapshots | None = None,
    ) -> None:
        super().__init__(metrics)
        self.config = config
        self.snapshots = snapshots or Snapshots()
        self.inventory = inventory
        self.federated = federated
        self.supervisor = supervisor
        self.writers = writers
        self.dry_run = writers.dry_run
        self.copy = copy
        self.master = inventory.master_name
        hooks = Hooks(self._on_member, self.resync, self.queue.add_after, copy.is_source)
        self.members = Members(config, inventory, writers, supervisor, metrics, hooks, clock)
        self._observed: dict[ObjectRef, float] = {}
        #: Federated objects not fully propagated after their last reconcile (for --once).
        self.unsynced: set[ObjectRef] = set()
        federated.add_handler(self.on_federated)
        inventory.changed.subscribe(self.resync)
        copy.template_written.subscribe(lambda change: self.note_change(*change))
        copy.judged.subscribe(self.queue.add)

    # --- manager hooks ---------------------------------------------------------------------

    async def refresh(self) -> None:
        """Watch every Federated type the master serves (new CRDs after a refresh too)."""
        discovery = self.inventory.get(self.master).discovery
        assert discovery is not None
        for info in discovery.resources:
            if info.group in FEDERATED_GROUPS and info.preferred:
                for namespace in self.config.namespaces or ("",):
                    self.federated.ensure(info, namespace)

    async def settle(self) -> None:
        """``--once`` judges members too: give each its first probe before looking."""
        try:
            async with asyncio.timeout(MEMBERS_PROBED_TIMEOUT):
                await self.inventory.probed.wait()
        except TimeoutError:
            pass
        self.resync()

    def in_sync(self) -> bool:
        """Every Federated object reached every selected cluster at its last reconcile."""
        return not self.unsynced

    # --- events ----------------------------------------------------------------------------

    def on_federated(self, info: ResourceInfo, kind: EventType, obj: Obj) -> None:
        """A Federated object changed on the master: queue it, noting when it was seen."""
        if info.group not in FEDERATED_GROUPS:
            return
        ref = _ref(self.master, info, obj)
        self._observed.setdefault(ref, time.monotonic())
        self.queue.add(ref)

    def note_change(self, ref: ObjectRef, observed_at: float) -> None:
        """The copy controller changed a template because of a source change seen then."""
        self._observed[ref] = min(observed_at, self._observed.get(ref, observed_at))

    def _on_member(self, info: ResourceInfo, kind: EventType, obj: Obj) -> None:
        ref = self._origin_ref(obj)
        if ref is not None:
            self.queue.add(ref)

    def resync(self, _cluster: str = "") -> None:
        """Queue every Federated object (a member returned, or its cache synced)."""
        for cache in self.federated:
            if cache.info.group in FEDERATED_GROUPS:
                for obj in list(cache.store.values()):
                    self.queue.add(_ref(self.master, cache.info, obj))

    def _origin_ref(self, obj: Obj) -> ObjectRef | None:
        origin = str(
            ((obj.get("metadata") or {}).get("annotations") or {}).get(ORIGIN_ANNOTATION, "")
        )
        parts = origin.split("/")
        if len(parts) != 5 or parts[0] != self.master:
            return None
        _, group, kind, namespace, name = parts
        for info in self.federated.infos.values():
            if info.group == group and info.kind == kind:
                return ObjectRef(self.master, group, info.resource, namespace, name)
        return None

    # --- reconcile -------------------------------------------------------------------------

    async def reconcile(self, key: ObjectRef) -> None:
        """Finalize a deleted Federated object, or place it and write its status."""
        if not self.inventory.labels_synced():
            # Placing on partial labels could delete copies that belong there.
            raise Requeue(0.5)
        info = self.federated.infos.get(key.group_resource)
        fed = self.federated.get(info, key.namespace, key.name) if info else None
        if info is None or fed is None:
            self._forget(key)
            return
        try:
            kind = target_kind(str(fed.get("kind", "")))
        except ValueError:
            return
        metadata = fed.get("metadata") or {}
        if metadata.get("deletionTimestamp"):
            await self._finalize(key, info, fed, kind)
            return
        if FINALIZER not in (metadata.get("finalizers") or []) and not self.dry_run:
            finalizers = [*(metadata.get("finalizers") or []), FINALIZER]
            updated = await self._set_finalizers(info, key, fed, finalizers)
            if updated is None:
                return
            fed = updated  # carry on with the new version: one pass, not two
        if self.copy.pending(key, fed):
            return  # the copy controller's write (or its verdict) queues the object again
        await self._propagate(key, info, fed, kind)

    async def _propagate(self, key: ObjectRef, info: ResourceInfo, fed: Obj, kind: str) -> None:
        """Place ``fed`` on the clusters it selects, remove it elsewhere, write the status."""
        placement = select_clusters(fed, self.inventory.clusters())
        if isinstance(placement, PlacementError):
            await self._write_status(
                info,
                key,
                fed,
                [],
                Condition(PROPAGATION_CONDITION, "False", "InvalidPlacement", placement.message),
            )
            return
        selected = set(placement.selected)
        results = await asyncio.gather(
            *(
                self.members.sync(key, fed, kind, state, state.name in selected)
                for state in self.inventory.states.values()
            )
        )
        cluster_results = [r for r in results if r is not None]
        if all(r.status == ClusterStatus.PROPAGATED for r in cluster_results):
            self.unsynced.discard(key)
        else:
            self.unsynced.add(key)
        self._observe_latency(key, cluster_results)
        await self._write_status(info, key, fed, cluster_results, _summary(cluster_results))
        if any(r.status == ClusterStatus.WAITING_FOR_REMOVAL for r in cluster_results):
            raise Requeue(WAIT_FOR_REMOVAL)

    def _forget(self, key: ObjectRef) -> None:
        if (info := self.federated.infos.get(key.group_resource)) is not None:
            self.snapshots.forget(self.name, info.kind, key.namespace, key.name)
        self._observed.pop(key, None)
        self.unsynced.discard(key)
        self.members.forget(key)

    def _observe_latency(self, key: ObjectRef, results: list[ClusterResult]) -> None:
        observed = self._observed.pop(key, None)
        if observed is None or not any(r.wrote for r in results):
            return
        if all(r.status == ClusterStatus.PROPAGATED for r in results):
            self.metrics.propagation_seconds.observe(time.monotonic() - observed)

    # --- deletion --------------------------------------------------------------------------

    async def _finalize(self, key: ObjectRef, info: ResourceInfo, fed: Obj, kind: str) -> None:
        finalizers = (fed.get("metadata") or {}).get("finalizers") or []
        if FINALIZER not in finalizers:
            return
        orphan = annotation_is_true(fed, *ORPHAN_ANNOTATIONS)
        results = await asyncio.gather(
            *(
                self.members.remove(key, fed, kind, s, orphan)
                for s in self.inventory.states.values()
            )
        )
        pending = [r for r in results if r is not None and r.status != ClusterStatus.ORPHANED]
        if pending and not self._deletion_timed_out(fed):
            await self._write_status(info, key, fed, pending, _summary(pending))
            raise Requeue(WAIT_FOR_REMOVAL)
        for result in pending:
            message = (
                f"gave up removing the copy on cluster {result.name} after "
                f"propagation.deletionTimeout ({result.message}); it may be left behind"
            )
            log.warning("propagation %s: %s", key, message)
            self.metrics.deletion_leftovers.labels(cluster=result.name).inc()
            await self.members.writer(self.inventory.get(self.master)).event(
                fed, type_="Warning", reason="DeletionTimedOut", message=message
            )
        if not self.dry_run:
            await self._set_finalizers(info, key, fed, [f for f in finalizers if f != FINALIZER])
        self._forget(key)

    def _deletion_timed_out(self, fed: Obj) -> bool:
        stamp = str((fed.get("metadata") or {}).get("deletionTimestamp", ""))
        try:
            since = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            return True
        elapsed = (datetime.datetime.now(datetime.UTC) - since).total_seconds()
        return elapsed > self.config.propagation.deletion_timeout

    # --- writes to the Federated object ----------------------------------------------------

    async def _set_finalizers(
        self, info: ResourceInfo, key: ObjectRef, fed: Obj, finalizers: list[str]
    ) -> Obj | None:
        """Set the finalizer list; the updated object, or None if the object is gone."""
        patch = {"metadata": {"finalizers": finalizers, "resourceVersion": _rv(fed)}}
        try:
            return await self.members.writer(self.inventory.get(self.master)).merge_patch(
                info, key.namespace, key.name, patch
            )
        except NotFound:
            return None

    async def _write_status(
        self,
        info: ResourceInfo,
        key: ObjectRef,
        fed: Obj,
        results: list[ClusterResult],
        condition: Condition,
    ) -> None:
        self.snapshots.publish(
            self.name, info.kind, key.namespace, key.name,
            [Cell(r.name, r.status, HEALTH.get(r.status, Health.FAILING), r.message)
             for r in results],
            state=condition.reason, health=HEALTH.get(condition.reason, Health.FAILING),
            message=condition.message,
        )  # fmt: skip
        if not info.has_status:
            return
        status = fed.get("status") or {}
        generation = (fed.get("metadata") or {}).get("generation")
        clusters = [r.as_status() for r in sorted(results, key=lambda r: r.name)]
        conditions = status.get("conditions")
        unchanged = (
            status.get("observedGeneration") == generation
            and status.get("clusters", []) == clusters
            and not differs(find(conditions, PROPAGATION_CONDITION), condition)
        )
        if unchanged:
            return
        patch = {
            "metadata": {"resourceVersion": _rv(fed)},
            "status": {
                "observedGeneration": generation,
                "clusters": clusters,
                "conditions": merged(conditions, condition, now=now_rfc3339()),
            },
        }
        try:
            await self.members.writer(self.inventory.get(self.master)).merge_patch(
                info, key.namespace, key.name, patch, subresource="status"
            )
        except NotFound:
            pass
        except Conflict:
            self.queue.add(key)  # the object moved on; its next version gets the status


def _summary(results: list[ClusterResult]) -> Condition:
    failing = [r for r in results if r.status != ClusterStatus.PROPAGATED]
    if not failing:
        return Condition(PROPAGATION_CONDITION, "True", "Propagated", "")
    first = failing[0]
    detail = "; ".join(f"{r.name}: {r.status}" for r in failing)
    return Condition(PROPAGATION_CONDITION, "False", str(first.status), detail)


def _ref(cluster: str, info: ResourceInfo, obj: Obj) -> ObjectRef:
    metadata = obj.get("metadata") or {}
    namespace = metadata.get("namespace", "") if info.namespaced else ""
    return ObjectRef(cluster, info.group, info.resource, namespace, metadata.get("name", ""))


def _rv(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))
