"""Direct propagation (docs/federated.md): Federated objects onto the clusters they select.

Each Federated object is rendered per cluster and pushed to the clusters its placement
selects; it is removed elsewhere, drift is corrected, status reported.

This module orchestrates: it takes the events, runs one Federated object's placement, asks
:mod:`.member` to do the work on each cluster, and writes the finalizer, the status and the
Events on the Federated object. Drift and fight detection is pure, in :mod:`.drift`.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from hub.controllers.propagation.drift import Clock
from hub.controllers.propagation.lanes import STALLED_AFTER, Lanes, Outcome
from hub.controllers.propagation.leftovers import SWEEP_GROUP, Leftovers, sweep_key
from hub.controllers.propagation.member import (
    Hooks,
    Members,
    annotation,
    member_object,
    object_name,
)
from hub.controllers.propagation.report import (
    Change,
    ClusterResult,
    is_failure,
    transitions,
)
from hub.core import objects
from hub.core.conditions import Condition, differs, find, merged, now_rfc3339
from hub.core.errors import NotFound, Requeue, Retry
from hub.core.federation import (
    FEDERATED_GROUPS,
    FINALIZER,
    KUBEFED_CONFIG_GROUP,
    KUBEFED_CONFIG_KIND,
    KUBEFED_SYSTEM_NAMESPACE,
    LAST_HANDLED_FIELD,
    ORIGIN_ANNOTATION,
    ORPHAN_ANNOTATIONS,
    PROPAGATION_CONDITION,
    RECONCILE_AT_ANNOTATION,
    SUSPEND_ANNOTATION,
    ClusterStatus,
    annotation_is_true,
    deletion_timed_out,
    target_kind,
)
from hub.core.objects import Obj, ObjectRef, Origin
from hub.core.placement import PlacementError, select_clusters
from hub.kube.resources import ResourceInfo
from hub.kube.watch import EventType
from hub.runtime.caches import CacheSet
from hub.runtime.controller import Controller
from hub.runtime.inventory import Inventory
from hub.runtime.snapshots import Cell, Health
from hub.runtime.wiring import Collaborators, Declaration, Resources, Topic

log = logging.getLogger(__name__)

#: How a per-cluster status reads on the status page; any other status is failing.
HEALTH: dict[str, Health] = {
    ClusterStatus.PROPAGATED: Health.OK,
    ClusterStatus.ORPHANED: Health.OK,
    ClusterStatus.WAITING_FOR_REMOVAL: Health.PROGRESSING,
    ClusterStatus.SUSPENDED: Health.PROGRESSING,
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

    def condition(self, key: ObjectRef) -> Condition | None:
        """The copy condition this controller writes with its status (see hand_over)."""

    def hand_over(self, taker: Callable[[ObjectRef], None] | None) -> None:
        """While ``taker`` is set, it writes the copy condition and the finalizer."""


DECLARATION = Declaration(
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


class PropagationController(Controller[ObjectRef]):
    """Pushes Federated objects to the clusters their placement selects (module docstring)."""

    name = "propagation"
    declaration = DECLARATION

    def __init__(
        self,
        deps: Collaborators,
        inventory: Inventory,
        federated: CacheSet,
        *,
        copy: CopyView,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(deps.metrics)
        self.config = deps.config
        self.snapshots = deps.snapshots
        self.inventory = inventory
        self.federated = federated
        self.supervisor = deps.supervisor
        self.writers = deps.writers
        self.dry_run = deps.writers.dry_run
        self.copy = copy
        self.master = inventory.master_name
        hooks = Hooks(
            self._on_member,
            self._member_synced,
            self._look_again_after,
            copy.is_source,
            adopts=self._kubefed_adopts,
        )
        master_client = inventory.get(self.master).client
        assert master_client is not None
        #: KubeFedConfig objects, so a KubeFed user's adoptResources carries over.
        self.kubefed_configs = CacheSet(
            master_client, deps.supervisor, deps.metrics, lambda _info, _kind, _obj: self.resync()
        )
        self.members = Members(deps, inventory, hooks, clock)
        self.leftovers = Leftovers(self.members, federated, self._origin_ref, deps.metrics)
        self.lanes = Lanes(
            deps.supervisor,
            self._sync_one,
            self.queue.add,
            clock,
            workers=deps.config.propagation.concurrency,
        )
        #: The hub's own last writes, newer than the cache until its watch event arrives.
        self.recent = deps.writers.recent
        #: Objects whose lanes must run again though their outcome is current (a member
        #: changed, a cluster came back, a failure is retried): docs/propagation.md.
        self._recheck: set[ObjectRef] = set()
        #: The version of each object whose complete results the last status was made of.
        self._handled: dict[ObjectRef, str] = {}
        #: ``--once`` waits for every cluster's answer before judging (see settle()).
        self._await_lanes = False
        self._wrote: set[ObjectRef] = set()
        self._observed: dict[ObjectRef, float] = {}
        #: Why each Federated object is not fully propagated after its last reconcile (--once).
        self.unsynced: dict[ObjectRef, list[str]] = {}
        #: True while a federation controller propagates (the mode switched at run time).
        self.paused = False
        #: The last status announced per Federated object and cluster (Events on changes).
        self._announced: dict[ObjectRef, dict[str, str]] = {}
        federated.add_handler(self.on_federated)
        inventory.changed.subscribe(self._cluster_changed)
        copy.template_written.subscribe(lambda change: self.note_change(*change))
        copy.judged.subscribe(self.queue.add)
        copy.hand_over(self.queue.add)

    # --- manager hooks ---------------------------------------------------------------------

    async def refresh(self) -> None:
        """Watch every Federated type the master serves (new CRDs after a refresh too)."""
        discovery = self.inventory.get(self.master).discovery
        assert discovery is not None
        for info in discovery.resources:
            if info.group in FEDERATED_GROUPS and info.preferred:
                for namespace in self.config.namespaces or ("",):
                    self.federated.ensure(info, namespace)
            kubefed_config = (info.group, info.kind) == (KUBEFED_CONFIG_GROUP, KUBEFED_CONFIG_KIND)
            if kubefed_config and info.preferred:
                self.kubefed_configs.ensure(info, KUBEFED_SYSTEM_NAMESPACE)

    def _kubefed_adopts(self) -> bool:
        """A KubeFedConfig on the master says ``adoptResources: Enabled``.

        That is KubeFed's own switch, honoured as ``propagation.adopt`` (docs/propagation.md).
        """
        return any(
            (obj.get("spec") or {}).get("adoptResources") == "Enabled"
            for cache in self.kubefed_configs
            for obj in cache.values()
        )

    async def settle(self) -> None:
        """``--once`` judges members too: give each its first probe before looking."""
        try:
            async with asyncio.timeout(MEMBERS_PROBED_TIMEOUT):
                await self.inventory.probed.wait()
        except TimeoutError:
            pass
        self._await_lanes = True
        self.resync()

    def out_of_sync(self) -> list[str]:
        """Why Federated objects did not reach every selected cluster at their last reconcile."""
        return [line for key in sorted(self.unsynced, key=str) for line in self.unsynced[key]]

    # --- events ----------------------------------------------------------------------------

    def on_federated(self, info: ResourceInfo, _kind: EventType, obj: Obj) -> None:
        """A Federated object changed on the master: queue it, noting when it was seen."""
        if info.group not in FEDERATED_GROUPS:
            return
        ref = _ref(self.master, info, obj)
        if _kind != "DELETED" and self.recent.hold(
            self.master, info, obj, "status", lambda: self.on_federated(info, _kind, obj)
        ):
            return  # maybe the echo of our status write, here before its answer
        if _kind != "DELETED" and self._echo(info, ref, obj):
            return
        self._observed.setdefault(ref, time.monotonic())
        self.queue.add(ref)

    def _echo(self, info: ResourceInfo, ref: ObjectRef, obj: Obj) -> bool:
        """The event brings a version this controller has already handled.

        That is its own status write, or a version whose complete results it already wrote.
        """
        if self.recent.produced(self.master, info, obj) == "status":
            return True
        return self._handled.get(ref) == objects.resource_version(obj)

    def _fed(self, info: ResourceInfo | None, key: ObjectRef) -> Obj | None:
        """The newest version of a Federated object known: cached, or the hub's own write."""
        cached = self.federated.get(info, key.namespace, key.name) if info else None
        if info is None or cached is None:
            return None
        return self.recent.fresh(self.master, info, cached)

    def _look_again_after(self, key: ObjectRef, delay: float) -> None:
        self._recheck.add(key)
        self.queue.add_after(key, delay)

    def note_change(self, ref: ObjectRef, observed_at: float) -> None:
        """The copy controller changed a template because of a source change seen then."""
        self._observed[ref] = min(observed_at, self._observed.get(ref, observed_at))

    def _on_member(self, _info: ResourceInfo, _kind: EventType, obj: Obj) -> None:
        ref = self._origin_ref(obj)
        if ref is not None:
            self._recheck.add(ref)
            self.queue.add(ref)

    def pause(self) -> None:
        """Stop propagating (a federation controller took over); caches and lanes stay."""
        self.paused = True
        self.copy.hand_over(None)

    def resume(self) -> None:
        """Propagate again and look at every Federated object."""
        self.paused = False
        self.copy.hand_over(self.queue.add)
        self.resync()

    def resync(self, _cluster: str = "") -> None:
        """Queue every Federated object (a member returned, or its cache synced)."""
        for cache in self.federated:
            if cache.info.group in FEDERATED_GROUPS:
                info = cache.info
                for namespace, name in cache.stored_keys():
                    ref = ObjectRef(self.master, info.group, info.resource, namespace, name)
                    self._recheck.add(ref)
                    self.queue.add(ref)

    def _cluster_changed(self, cluster: str) -> None:
        """A cluster became ready or not, or its labels changed: look at everything again.

        Also sweep it for leftovers of deletions released while it was away.
        """
        self.resync()
        self.queue.add(sweep_key(cluster))

    def _member_synced(self) -> None:
        """A member's cache of managed copies synced: resync, and sweep every member."""
        self.resync()
        for name in self.inventory.states:
            if name != self.master:
                self.queue.add(sweep_key(name))

    def _origin_ref(self, obj: Obj) -> ObjectRef | None:
        origin = Origin.parse(objects.annotation(obj, ORIGIN_ANNOTATION))
        if origin is None or origin.master != self.master:
            return None
        for info in self.federated.infos.values():
            if info.group == origin.group and info.kind == origin.kind:
                return ObjectRef(
                    self.master, origin.group, info.resource, origin.namespace, origin.name
                )
        return None

    # --- reconcile -------------------------------------------------------------------------

    async def reconcile(self, key: ObjectRef) -> None:
        """Finalize a deleted Federated object, or place it and write its status.

        A sweep key removes a cluster's leftovers instead (see :mod:`.leftovers`).
        """
        if self.paused:
            return  # a federation controller propagates now; resume() looks at everything
        if not self.inventory.labels_synced():
            # Placing on partial labels could delete copies that belong there.
            raise Requeue(0.5)
        if key.group == SWEEP_GROUP:
            await self._sweep(key.cluster)
            return
        info = self.federated.infos.get(key.group_resource)
        fed = self._fed(info, key)
        if info is None or fed is None:
            self._forget(key)
            return
        try:
            kind = target_kind(str(fed.get("kind", "")))
        except ValueError:
            return
        metadata = objects.metadata(fed)
        if metadata.get("deletionTimestamp"):
            await self._finalize(key, info, fed, kind)
            return
        if self.copy.pending(key, fed):
            # The copy controller's write (or its verdict) queues the object again; that
            # write carries the finalizer too (one master write, not two).
            return
        if FINALIZER not in (metadata.get("finalizers") or []) and not self.dry_run:
            finalizers = [*(metadata.get("finalizers") or []), FINALIZER]
            updated = await self._set_finalizers(info, key, fed, finalizers)
            if updated is None:
                return
            fed = updated  # carry on with the new version: one pass, not two
        await self._propagate(key, info, fed, kind)

    async def _sweep(self, cluster: str) -> None:
        """Remove ``cluster``'s leftovers, once its lane's requests are answered again."""
        if self.lanes.stalled_for(cluster):
            raise Requeue(WAIT_FOR_REMOVAL)
        await self.leftovers.sweep(cluster)

    async def _propagate(self, key: ObjectRef, info: ResourceInfo, fed: Obj, kind: str) -> None:
        """Hand ``fed`` to every cluster's lane, then write the status from their outcomes.

        The lanes do the work (docs/propagation.md): a hung member holds only its own lane.
        A lane's changed outcome queues the object again, so the status follows.
        """
        placement = select_clusters(fed, self.inventory.clusters())
        if isinstance(placement, PlacementError):
            condition = Condition(
                PROPAGATION_CONDITION, "False", "InvalidPlacement", placement.message
            )
            self.unsynced[key] = [f"{object_name(key)}: InvalidPlacement: {placement.message}"]
            await self._write_status(info, key, fed, [], condition)
            raise Retry(placement.message)
        selected = set(placement.selected)
        requested = annotation(fed, RECONCILE_AT_ANNOTATION)
        if annotation_is_true(fed, SUSPEND_ANNOTATION):
            results = [ClusterResult(n, ClusterStatus.SUSPENDED) for n in sorted(selected)]
        else:
            version = objects.content_version(fed)
            # The selected clusters' lanes first: they write, the others mostly only look.
            clusters = sorted(self.inventory.states, key=lambda name: name not in selected)
            answered = [
                self.lanes.submit(name, key)
                for name in clusters
                if self._lane_due(name, key, version, name in selected)
            ]
            self._recheck.discard(key)
            if self._await_lanes:
                await asyncio.gather(*answered)
            current = self._current_results(key, version, selected)
            if current is None:
                self.queue.add_after(key, STALLED_AFTER)  # a lane still working; look again
                return
            self.queue.cancel_delayed(key)  # the lanes answered: no need to look for a stall
            results = current
            self._handled[key] = objects.resource_version(fed)
        self._record(key, kind, results)
        self._observe_latency(key, results)
        await self._announce(key, fed, kind, results)
        await self._write_status(info, key, fed, results, _summary(results), requested)
        self._retry(key, results)

    def _lane_due(self, cluster: str, key: ObjectRef, version: str, selected: bool) -> bool:
        """``cluster``'s lane must look at ``key``.

        Its outcome is not for this version and no run is under way, or something asked
        for a new look (``_recheck``). A cluster the object is still not placed on, which
        held nothing of it at the last look, needs no look at a new version.
        """
        if key in self._recheck:
            return True
        outcome = self.lanes.outcome(cluster, key)
        if outcome is not None and (outcome.resource_version, outcome.selected) == (
            version,
            selected,
        ):
            return False
        if not selected and _holds_nothing(outcome):
            return False
        return not self.lanes.pending(cluster, key)

    def _record(self, key: ObjectRef, kind: str, results: list[ClusterResult]) -> None:
        """Remember why ``key`` is not in sync (for ``run --once``)."""
        waiting = (ClusterStatus.PROPAGATED, ClusterStatus.SUSPENDED)
        reasons = [
            f"{object_name(key)} on {member_object(r.name, kind, key)}: {r.status}"
            + (f": {r.message}" if r.message else "")
            for r in results
            if r.status not in waiting
        ]
        if reasons:
            self.unsynced[key] = reasons
        else:
            self.unsynced.pop(key, None)

    def _retry(self, key: ObjectRef, results: list[ClusterResult]) -> None:
        """Raise what makes the worker retry the failed clusters (or wait for a removal)."""
        failed = [r for r in results if is_failure(r)]
        if failed or any(r.status == ClusterStatus.WAITING_FOR_REMOVAL for r in results):
            self._recheck.add(key)  # the retry must run the lanes again
        if failed:
            delays = [r.retry_after for r in failed]
            delay = min(delays) if all(delays) else None
            raise Retry("; ".join(f"{r.name}: {r.status}" for r in failed), delay)
        if any(r.status == ClusterStatus.WAITING_FOR_REMOVAL for r in results):
            raise Requeue(WAIT_FOR_REMOVAL)

    def _current_results(
        self, key: ObjectRef, resource_version: str, selected: set[str], *, removing: bool = False
    ) -> list[ClusterResult] | None:
        """Each cluster's result for this version of the object; None while one is due.

        A cluster whose lane is stalled is reported as not answering, not waited for;
        ``removing`` (a deletion's outcomes): a stalled cluster holds the deletion.
        """
        status = ClusterStatus.WAITING_FOR_REMOVAL if removing else ClusterStatus.CLUSTER_NOT_READY
        results: list[ClusterResult] = []
        for name in self.inventory.states:
            outcome = self.lanes.outcome(name, key)
            wanted = name in selected and not removing
            current = outcome is not None and (
                outcome.resource_version == resource_version
                or (not wanted and not removing and _holds_nothing(outcome))
            )
            if outcome is not None and current and outcome.selected == wanted:
                if outcome.result is not None:
                    results.append(outcome.result)
                continue
            stalled = self.lanes.stalled_for(name)
            if not stalled:
                return None
            if removing or name in selected:
                message = f"no answer from the API server for {stalled:.0f}s"
                results.append(ClusterResult(name, status, message))
        return results

    async def _sync_one(self, cluster: str, key: ObjectRef) -> Outcome | None:
        """One cluster's work for one Federated object, run in that cluster's lane."""
        info = self.federated.infos.get(key.group_resource)
        fed = self._fed(info, key)
        if fed is None:
            return None
        try:
            kind = target_kind(str(fed.get("kind", "")))
        except ValueError:
            return None
        if objects.metadata(fed).get("deletionTimestamp"):
            return await self._remove_one(cluster, key, fed, kind)
        placement = select_clusters(fed, self.inventory.clusters())
        if isinstance(placement, PlacementError) or self.copy.pending(key, fed):
            return None
        selected = cluster in placement.selected
        requested = annotation(fed, RECONCILE_AT_ANNOTATION)
        force = bool(requested) and requested != _status(fed).get(LAST_HANDLED_FIELD)
        state = self.inventory.get(cluster)
        result = await self.members.sync(key, fed, kind, state, selected, force=force)
        if result is not None and result.wrote:
            self._wrote.add(key)
        return Outcome(objects.content_version(fed), selected, result)

    async def _remove_one(self, cluster: str, key: ObjectRef, fed: Obj, kind: str) -> Outcome:
        """One cluster's part of a deletion, run in that cluster's lane.

        Its copy is removed (or orphaned); the outcome's result is what still holds the
        deletion there.
        """
        finalizers = objects.metadata(fed).get("finalizers") or []
        result = None
        if FINALIZER in finalizers:
            orphan = annotation_is_true(fed, *ORPHAN_ANNOTATIONS)
            state = self.inventory.get(cluster)
            result = await self.members.remove(key, fed, kind, state, orphan)
        return Outcome(objects.resource_version(fed), False, result)

    async def _announce(
        self, key: ObjectRef, fed: Obj, kind: str, results: list[ClusterResult]
    ) -> None:
        """Announce the clusters whose result changed, once each.

        A Warning Event and a log line for each cluster that went into a failure; a Normal
        Event for each that recovered (docs/propagation.md, "Failures and retries").
        """
        previous = self._announced.get(key)
        if previous is None:
            entries = _status(fed).get("clusters") or []
            previous = {str(e.get("name")): str(e.get("status")) for e in entries}
        writer = self.members.writer(self.inventory.get(self.master))
        for change, result in transitions(previous, results):
            member = member_object(result.name, kind, key)
            extra = {"cluster": result.name, "object": object_name(key), "member_object": member}
            if change == Change.FAILED:
                message = f"{member}: {result.status}: {result.message}"[:1000]
                log.warning("propagation %s: %s", key, message, extra=extra)
                await writer.event(fed, type_="Warning", reason=result.status, message=message)
            else:
                log.info("propagation %s: %s is propagated again", key, member, extra=extra)
                await writer.event(
                    fed, type_="Normal", reason="Propagated", message=f"{member}: propagated"
                )
        current = {r.name: r.status.value for r in results if not r.transient}  # shared strings
        self._announced[key] = {**previous, **current}

    def _forget(self, key: ObjectRef) -> None:
        if (info := self.federated.infos.get(key.group_resource)) is not None:
            self.snapshots.forget(self.name, info.kind, key.namespace, key.name)
        self._observed.pop(key, None)
        self._wrote.discard(key)
        self._recheck.discard(key)
        self._handled.pop(key, None)
        self.unsynced.pop(key, None)
        self._announced.pop(key, None)
        self.members.forget(key)
        self.lanes.forget(key)

    def _observe_latency(self, key: ObjectRef, results: list[ClusterResult]) -> None:
        if key not in self._wrote:
            self._observed.pop(key, None)
            return
        if all(r.status == ClusterStatus.PROPAGATED for r in results):
            self._wrote.discard(key)
            observed = self._observed.pop(key, None)
            if observed is not None:
                self.metrics.propagation_seconds.observe(time.monotonic() - observed)

    # --- deletion --------------------------------------------------------------------------

    async def _finalize(self, key: ObjectRef, info: ResourceInfo, fed: Obj, kind: str) -> None:
        finalizers = objects.metadata(fed).get("finalizers") or []
        if FINALIZER not in finalizers:
            return
        answered = [self.lanes.submit(name, key) for name in self.inventory.states]
        if self._await_lanes:
            await asyncio.gather(*answered)
        results = self._current_results(key, objects.resource_version(fed), set(), removing=True)
        if results is None:
            self.queue.add_after(key, STALLED_AFTER)  # a lane still working; look again
            return
        pending = [r for r in results if r.status != ClusterStatus.ORPHANED]
        if pending and not self._deletion_timed_out(fed):
            await self._announce(key, fed, kind, pending)
            await self._write_status(info, key, fed, pending, _summary(pending))
            raise Requeue(WAIT_FOR_REMOVAL)
        for result in pending:
            message = (
                f"gave up removing the copy on cluster {result.name} after "
                f"propagation.deletionTimeout ({result.message}); it may be left behind"
            )
            log.warning("propagation %s: %s", key, message, extra=key.log_keys)
            self.metrics.deletion_leftovers.labels(cluster=result.name, outcome="left").inc()
            # A cluster that hung without being marked unready never "comes back": sweep it.
            self.queue.add_after(sweep_key(result.name), WAIT_FOR_REMOVAL)
            await self.members.writer(self.inventory.get(self.master)).event(
                fed, type_="Warning", reason="DeletionTimedOut", message=message
            )
        if not self.dry_run:
            await self._set_finalizers(info, key, fed, [f for f in finalizers if f != FINALIZER])
        self._forget(key)

    def _deletion_timed_out(self, fed: Obj) -> bool:
        now = datetime.datetime.now(datetime.UTC)
        return deletion_timed_out(fed, self.config.propagation.deletion_timeout, now)

    # --- writes to the Federated object ----------------------------------------------------

    async def _set_finalizers(
        self, info: ResourceInfo, key: ObjectRef, fed: Obj, finalizers: list[str]
    ) -> Obj | None:
        """Set the finalizer list; the updated object, or None if the object is gone."""
        patch = {
            "metadata": {"finalizers": finalizers, "resourceVersion": objects.resource_version(fed)}
        }
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
        handled: str = "",
    ) -> None:
        """Write ``status`` when any of it changed.

        That is observedGeneration, clusters, the Propagation condition and the handled
        reconcile request.
        """
        self.snapshots.publish(
            self.name, info.kind, key.namespace, key.name,
            [Cell(r.name, r.status, HEALTH.get(r.status, Health.FAILING), r.message)
             for r in results],
            state=condition.reason, health=HEALTH.get(condition.reason, Health.FAILING),
            message=condition.message,
        )  # fmt: skip
        if not info.has_status:
            return
        status = _status(fed)
        generation = objects.generation(fed)
        clusters = [r.as_status() for r in sorted(results, key=lambda r: r.name)]
        conditions = status.get("conditions")
        handled = handled or str(status.get(LAST_HANDLED_FIELD) or "")
        # The copy controller's condition rides along: one status write, not two.
        wanted_conditions = [condition]
        if (copied := self.copy.condition(key)) is not None:
            wanted_conditions.append(copied)
        if _status_says(status, generation, clusters, wanted_conditions, handled):
            return
        now = now_rfc3339()
        for one in wanted_conditions:
            conditions = merged(conditions, one, now=now, observed_generation=generation)
        wanted: dict[str, object] = {
            "observedGeneration": generation,
            "clusters": clusters,
            "clusterCount": len(clusters),  # the CLUSTERS printer column
            "conditions": conditions,
        }
        if handled:
            wanted[LAST_HANDLED_FIELD] = handled
        writer = self.members.writer(self.inventory.get(self.master))
        if not await writer.patch_status(info, fed, wanted):
            self.queue.add(key)  # the object moved on; its next version gets the status


def _summary(results: list[ClusterResult]) -> Condition:
    failing = [r for r in results if r.status != ClusterStatus.PROPAGATED]
    if not failing:
        return Condition(PROPAGATION_CONDITION, "True", "Propagated", "")
    first = failing[0]
    detail = "; ".join(f"{r.name}: {r.status}" for r in failing)
    return Condition(PROPAGATION_CONDITION, "False", str(first.status), detail)


def _status_says(
    status: dict[str, Any],
    generation: object,
    clusters: list[dict[str, str]],
    conditions: list[Condition],
    handled: str,
) -> bool:
    """``status`` already says all this: no write."""
    observed = generation if isinstance(generation, int) else None
    return (
        status.get("observedGeneration") == generation
        and status.get("clusters", []) == clusters
        and status.get("clusterCount") == len(clusters)
        and str(status.get(LAST_HANDLED_FIELD) or "") == handled
        and not any(
            differs(find(status.get("conditions"), c.type), c, observed) for c in conditions
        )
    )


def _status(obj: Obj) -> dict[str, Any]:
    status = obj.get("status")
    return status if isinstance(status, dict) else {}


def _holds_nothing(outcome: Outcome | None) -> bool:
    """The last look found nothing of the object on a cluster it was not placed on."""
    return outcome is not None and not outcome.selected and outcome.result is None


def _ref(cluster: str, info: ResourceInfo, obj: Obj) -> ObjectRef:
    namespace = objects.namespace(obj) if info.namespaced else ""
    return ObjectRef(cluster, info.group, info.resource, namespace, objects.name(obj))
