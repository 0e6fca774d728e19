"""Direct propagation (DESIGN.md §6): push each Federated object, rendered per cluster, to the
clusters its placement selects; remove it elsewhere; correct drift; report status.

Member caches hold only objects labelled ``synchub.io/managed=true``, so the hub knows what
it owns without listing everything. Writes happen only when the desired hash changed or the
live object drifted: zero writes in steady state. Nothing is ever deleted because a list
failed: deletions come from one Federated object's placement against a synced cache.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from hub.config.loader import Config
from hub.core.conditions import Condition, differs, find, merged, now_rfc3339
from hub.core.errors import ApiError, Conflict, KubeError, NotFound, Requeue, UnknownResource
from hub.core.federation import (
    ADOPT_ANNOTATION,
    FEDERATED_GROUPS,
    FIELD_MANAGER,
    FINALIZER,
    HASH_ANNOTATION,
    MANAGED_LABEL,
    ORIGIN_ANNOTATION,
    ORPHAN_ANNOTATIONS,
    PROPAGATION_CONDITION,
    UPDATE_MODE_ANNOTATION,
    UPDATE_MODE_CREATE_ONLY,
    ClusterStatus,
    annotation_is_true,
    target_kind,
)
from hub.core.objects import Obj, ObjectRef
from hub.core.placement import PlacementError, select_clusters
from hub.core.render import RenderError, render, target_api_version
from hub.kube.resources import ResourceInfo
from hub.kube.watch import EventType
from hub.runtime.caches import CacheSet
from hub.runtime.controller import Controller
from hub.runtime.inventory import Inventory, MemberState
from hub.runtime.metrics import Metrics
from hub.runtime.tasks import Supervisor
from hub.runtime.wiring import Declaration, Resources, Topic
from hub.runtime.writer import Writer, Writers

log = logging.getLogger(__name__)

FIGHT_WINDOW = 120.0  # seconds: drift corrections counted over this window
FIGHT_LIMIT = 3  # corrections in the window before the hub backs off
WAIT_FOR_REMOVAL = 10.0  # seconds between attempts while a cluster holds a deletion
MEMBERS_PROBED_TIMEOUT = 30.0  # seconds --once waits for every member's first probe


@dataclass(frozen=True)
class ClusterResult:
    name: str
    status: ClusterStatus
    message: str = ""
    wrote: bool = False

    def as_status(self) -> dict[str, str]:
        entry = {"name": self.name, "status": str(self.status)}
        if self.message:
            entry["message"] = self.message
        return entry


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
    ) -> None:
        super().__init__(metrics)
        self.config = config
        self.inventory = inventory
        self.federated = federated
        self.supervisor = supervisor
        self.writers = writers
        self.dry_run = writers.dry_run
        self.copy = copy
        self.master = inventory.master_name
        self._caches: dict[str, CacheSet] = {}
        self._writers: dict[str, Writer] = {}
        self._written_rv: dict[tuple[str, ObjectRef], str] = {}
        self._fights: dict[tuple[str, ObjectRef], deque[float]] = {}
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
                self._sync(key, fed, kind, state, state.name in selected)
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
        self._observed.pop(key, None)
        self.unsynced.discard(key)
        for record in (self._written_rv, self._fights):
            for cluster_key in [k for k in record if k[1] == key]:
                record.pop(cluster_key, None)

    def _observe_latency(self, key: ObjectRef, results: list[ClusterResult]) -> None:
        observed = self._observed.pop(key, None)
        if observed is None or not any(r.wrote for r in results):
            return
        if all(r.status == ClusterStatus.PROPAGATED for r in results):
            self.metrics.propagation_seconds.observe(time.monotonic() - observed)

    async def _sync(
        self, key: ObjectRef, fed: Obj, kind: str, state: MemberState, selected: bool
    ) -> ClusterResult | None:
        """Bring one cluster in line for one Federated object; None when it holds nothing."""
        name = state.name
        if not state.ready or state.discovery is None:
            if selected:
                return ClusterResult(name, state.problem, state.message)
            return None
        try:
            info = await self._member_info(state, fed, kind)
        except (UnknownResource, ValueError) as exc:
            return ClusterResult(name, ClusterStatus.APPLY_FAILED, str(exc)) if selected else None
        cache = self._cache(state).ensure(info)
        if not cache.synced.is_set():
            # Queued again when the cache has synced (see _cache).
            return (
                ClusterResult(name, ClusterStatus.CLUSTER_NOT_READY, "syncing")
                if selected
                else None
            )
        live = cache.get(key.namespace, key.name)
        ours = live is not None and _origin(live) == _origin(self._origin_of(key, fed))
        try:
            if selected:
                return await self._place(key, fed, state, info, live if ours else None)
            if ours and await self._writer(state).delete(info, key.namespace, key.name):
                self._written_rv.pop((name, key), None)
                log.info("propagation: removed %s from %s (no longer placed there)", key, name)
            return None
        except NotFound:
            return None
        except KubeError as exc:
            self.inventory.mark_failed(name, exc)
            status = ClusterStatus.APPLY_FAILED if selected else ClusterStatus.DELETION_FAILED
            return ClusterResult(name, status, _short(exc))

    async def _place(
        self, key: ObjectRef, fed: Obj, state: MemberState, info: ResourceInfo, live: Obj | None
    ) -> ClusterResult:
        name = state.name
        copy_source = ObjectRef(name, info.group, info.resource, key.namespace, key.name)
        if name == self.master and self.copy.is_source(copy_source):
            return ClusterResult(
                name, ClusterStatus.ALREADY_EXISTS, "the object is a copy source; never written"
            )
        rendered = render(fed, name, master_name=self.master, target_api_version=info.api_version)
        if isinstance(rendered, RenderError):
            return ClusterResult(name, ClusterStatus.APPLY_FAILED, rendered.message)
        drifted = False
        if live is not None:
            if _annotation(fed, UPDATE_MODE_ANNOTATION) == UPDATE_MODE_CREATE_ONLY:
                return ClusterResult(name, ClusterStatus.PROPAGATED)
            same_hash = _annotation(live, HASH_ANNOTATION) == rendered.desired_hash
            if same_hash and not self._drifted(name, key, rendered.obj, live):
                return ClusterResult(name, ClusterStatus.PROPAGATED)
            drifted = same_hash
        else:
            existing = await self._existing(state, info, key)
            if existing is not None and not self._may_adopt(fed):
                return ClusterResult(
                    name,
                    ClusterStatus.ALREADY_EXISTS,
                    f"a {info.kind} not managed by synchub exists; annotate the Federated object "
                    f'with {ADOPT_ANNOTATION}: "true" to take it over',
                )
        if drifted and self._fighting(name, key):
            self.metrics.ownership_conflicts.labels(cluster=name).inc()
            self.queue.add_after(key, 60.0)
            return ClusterResult(
                name,
                ClusterStatus.APPLY_FAILED,
                "another writer keeps changing this object; backing off",
            )
        written = await self._apply(state, info, key, rendered.obj)
        if written is None:  # dry-run: the writer logged what it would do
            return ClusterResult(name, ClusterStatus.PROPAGATED)
        self._written_rv[(name, key)] = _rv(written)
        verb = "corrected drift of" if drifted else ("updated" if live else "created")
        log.info("propagation: %s %s on %s", verb, key, name)
        return ClusterResult(name, ClusterStatus.PROPAGATED, wrote=True)

    def _drifted(self, cluster: str, key: ObjectRef, desired: Obj, live: Obj) -> bool:
        """Someone else changed a field the hub sets. The resourceVersion recorded after the
        hub's own write answers cheaply; otherwise the fields are compared."""
        if self._written_rv.get((cluster, key)) == _rv(live):
            return False
        if _contains(live, desired):
            self._written_rv[(cluster, key)] = _rv(live)
            return False
        return True

    def _fighting(self, cluster: str, key: ObjectRef) -> bool:
        now = time.monotonic()
        times = self._fights.setdefault((cluster, key), deque())
        while times and now - times[0] > FIGHT_WINDOW:
            times.popleft()
        times.append(now)
        return len(times) > FIGHT_LIMIT

    def _may_adopt(self, fed: Obj) -> bool:
        return self.config.propagation.adopt or annotation_is_true(fed, ADOPT_ANNOTATION)

    async def _existing(self, state: MemberState, info: ResourceInfo, key: ObjectRef) -> Obj | None:
        assert state.client is not None
        try:
            found: Obj = await state.client.get(info.path(key.namespace, key.name))
            return found
        except NotFound:
            return None

    async def _apply(
        self, state: MemberState, info: ResourceInfo, key: ObjectRef, obj: Obj
    ) -> Obj | None:
        writer = self._writer(state)
        try:
            return await writer.apply(
                info, key.namespace, key.name, obj, field_manager=FIELD_MANAGER
            )
        except NotFound:
            if not (
                info.namespaced and key.namespace and self.config.propagation.create_namespaces
            ):
                raise
        await self._create_namespace(state, key.namespace)
        return await writer.apply(info, key.namespace, key.name, obj, field_manager=FIELD_MANAGER)

    async def _create_namespace(self, state: MemberState, namespace: str) -> None:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        namespaces = ResourceInfo("", "v1", "namespaces", "Namespace", namespaced=False)
        try:
            await self._writer(state).create(namespaces, "", body)
            log.info("propagation: created namespace %s on %s", namespace, state.name)
        except Conflict:
            pass  # created meanwhile

    async def _member_info(self, state: MemberState, fed: Obj, kind: str) -> ResourceInfo:
        assert state.discovery is not None
        api_version = target_api_version(fed)
        if api_version:
            group, _, version = api_version.rpartition("/")
            return await state.discovery.for_kind(group, kind, version)
        return await state.discovery.for_kind_any_group(kind)

    def _cache(self, state: MemberState) -> CacheSet:
        cache = self._caches.get(state.name)
        if cache is None:
            assert state.client is not None
            cache = CacheSet(
                state.client,
                self.supervisor,
                self.metrics,
                self._on_member,
                on_synced=lambda _info: self.resync(),
                label_selector=f"{MANAGED_LABEL}=true",
            )
            self._caches[state.name] = cache
        return cache

    def _writer(self, state: MemberState) -> Writer:
        writer = self._writers.get(state.name)
        if writer is None or writer.client is not state.client:
            assert state.client is not None
            writer = self.writers.for_client(state.client)
            self._writers[state.name] = writer
        return writer

    def _origin_of(self, key: ObjectRef, fed: Obj) -> Obj:
        group = str(fed.get("apiVersion", "")).rpartition("/")[0]
        origin = f"{self.master}/{group}/{fed.get('kind')}/{key.namespace}/{key.name}"
        return {"metadata": {"annotations": {ORIGIN_ANNOTATION: origin}}}

    # --- deletion --------------------------------------------------------------------------

    async def _finalize(self, key: ObjectRef, info: ResourceInfo, fed: Obj, kind: str) -> None:
        finalizers = (fed.get("metadata") or {}).get("finalizers") or []
        if FINALIZER not in finalizers:
            return
        orphan = annotation_is_true(fed, *ORPHAN_ANNOTATIONS)
        results = await asyncio.gather(
            *(self._remove(key, fed, kind, s, orphan) for s in self.inventory.states.values())
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
            await self._writer(self.inventory.get(self.master)).event(
                fed, type_="Warning", reason="DeletionTimedOut", message=message
            )
        if not self.dry_run:
            await self._set_finalizers(info, key, fed, [f for f in finalizers if f != FINALIZER])
        self._forget(key)

    async def _remove(
        self, key: ObjectRef, fed: Obj, kind: str, state: MemberState, orphan: bool
    ) -> ClusterResult | None:
        name = state.name
        if not state.ready or state.discovery is None:
            known = self._caches.get(name)
            if known is None or not known.all_synced() or self._cached_copy(known, key, fed):
                return ClusterResult(name, ClusterStatus.WAITING_FOR_REMOVAL, state.message)
            return None
        try:
            info = await self._member_info(state, fed, kind)
        except (UnknownResource, ValueError):
            return None
        cache = self._cache(state).ensure(info)
        if not cache.synced.is_set():
            return ClusterResult(name, ClusterStatus.WAITING_FOR_REMOVAL, "cache syncing")
        live = cache.get(key.namespace, key.name)
        if live is None or _origin(live) != _origin(self._origin_of(key, fed)):
            return None
        try:
            if orphan:
                patch = {
                    "metadata": {
                        "labels": {MANAGED_LABEL: None},
                        "annotations": {HASH_ANNOTATION: None},
                    }
                }
                if await self._writer(state).merge_patch(info, key.namespace, key.name, patch):
                    log.info("propagation: orphaned %s on %s", key, name)
                return ClusterResult(name, ClusterStatus.ORPHANED)
            if await self._writer(state).delete(info, key.namespace, key.name):
                log.info("propagation: deleted %s from %s", key, name)
            return None
        except NotFound:
            return None
        except KubeError as exc:
            self.inventory.mark_failed(name, exc)
            return ClusterResult(name, ClusterStatus.DELETION_FAILED, _short(exc))

    def _cached_copy(self, cache: CacheSet, key: ObjectRef, fed: Obj) -> bool:
        origin = _origin(self._origin_of(key, fed))
        return any(_origin(obj) == origin for c in cache for obj in c.store.values())

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
            return await self._writer(self.inventory.get(self.master)).merge_patch(
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
            await self._writer(self.inventory.get(self.master)).merge_patch(
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


def _annotation(obj: Obj, name: str) -> str:
    return str(((obj.get("metadata") or {}).get("annotations") or {}).get(name, ""))


def _origin(obj: Obj) -> str:
    return _annotation(obj, ORIGIN_ANNOTATION)


def _rv(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))


def _contains(live: Any, desired: Any) -> bool:
    """True when every field of ``desired`` has the same value in ``live`` (server defaults
    may add fields; lists must match item by item)."""
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(
            k in live and _contains(live[k], v) for k, v in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(live) == len(desired)
            and all(_contains(a, b) for a, b in zip(live, desired, strict=True))
        )
    return bool(live == desired)


def _short(exc: KubeError) -> str:
    if isinstance(exc, ApiError):
        return f"{exc.status} {exc.reason}: {exc.message}"[:300]
    return str(exc)[:300]
