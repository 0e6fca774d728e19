"""ObjectSync (docs/objectsync.md): one source object, copied to many namespaces and clusters.

The copies go to namespaces on the master and on members; all three API forms are read by
this one controller.

A reconcile reads the sync, its source and the namespaces from caches, asks the pure planner
(:mod:`hub.core.fanout`) for the desired copies, and brings each cluster in line: create,
update (server-side apply or exact replacement), delete strays. Writes happen only when the
desired hash changed or a copy drifted: zero writes in steady state. Nothing is deleted on a
cluster whose namespaces or copies are not fully listed (no deletion on partial data), and an
object without SyncHub's label and this sync's origin is never touched (``AlreadyExists``).
"""

from __future__ import annotations

import asyncio
import datetime
import logging

from hub.config.settings import Config
from hub.core import objects
from hub.core.copy_rules import cross_namespace_denied
from hub.core.errors import Requeue, UnknownResource
from hub.core.fanout import (
    SOURCE_ITSELF,
    NamespaceInfo,
    Origin,
    Plan,
    chosen_clusters,
    plan_copies,
)
from hub.core.federation import (
    ADOPT_ANNOTATION,
    ORIGIN_ANNOTATION,
    annotation_is_true,
    deletion_timed_out,
)
from hub.core.objects import GroupResource, Obj, ObjectRef
from hub.core.objectsync import (
    SUSPEND_ANNOTATION,
    SYNC_KINDS,
    SpecError,
    SyncSpec,
    parse_sync,
)
from hub.kube.resources import ResourceInfo
from hub.kube.watch import EventType
from hub.runtime.caches import CacheSet
from hub.runtime.controller import Controller
from hub.runtime.inventory import Inventory
from hub.runtime.wiring import Collaborators, Declaration, Resources

from . import status as st
from .copies import ClusterSync, Job
from .finalizer import Finalizer
from .reporting import Reporter
from .watches import ALL, Watches

log = logging.getLogger(__name__)

RETRY = (1.0, 300.0)  # first and longest wait before retrying failed destinations
WAIT_FOR_REMOVAL = 10.0


DECLARATION = Declaration(
    for_=Resources("master", "ObjectSync and Replika objects"),
    owns=(
        Resources("all", "copies labelled synchub.io/managed=true"),
        Resources("master", "finalizer and status of ObjectSync and Replika objects; Events"),
    ),
    watches=(
        "sources on the master (per kind and namespace, while a sync names them)",
        "namespaces on selected clusters",
        "managed copies on every cluster",
        "inventory.changed",
    ),
)


class ObjectSyncController(Controller[ObjectRef]):
    """Reconciles ObjectSync and Replika objects, keyed by their ObjectRef on the master."""

    name = "objectsync"
    declaration = DECLARATION

    def __init__(
        self, deps: Collaborators, inventory: Inventory, *, resync_periods: bool = True
    ) -> None:
        super().__init__(deps.metrics)
        self.config = deps.config
        self.inventory = inventory
        self.master = inventory.master_name
        master = inventory.get(self.master)
        assert master.client is not None
        assert master.discovery is not None
        self.discovery = master.discovery
        self.writer = deps.writers.for_client(master.client)
        self.resync_periods = resync_periods
        self.syncs = CacheSet(master.client, deps.supervisor, deps.metrics, self._on_sync)
        self.watches = Watches(
            master.client, deps.supervisor, deps.metrics, self.queue.add, self.origin_key
        )
        self.clusters = ClusterSync(inventory, self.watches, deps.writers)
        self._failures: dict[ObjectRef, int] = {}
        self.reporter = Reporter(self.writer, self.queue.add, deps.snapshots)
        self.finalizer = Finalizer(self.writer, self.discovery, self.clusters)
        #: Deleted syncs whose copies deletionTimeout left behind: (origin, spec), swept
        #: when their members are back.
        self._leftovers: dict[ObjectRef, tuple[str, SyncSpec]] = {}

    # --- wiring -------------------------------------------------------------------------

    async def refresh(self) -> None:
        """Watch every ObjectSync form the master serves (new CRDs after a refresh too)."""
        for info in self.discovery.resources:
            if (info.group, info.kind) in SYNC_KINDS and info.preferred:
                for namespace in self.config.namespaces or ("",):
                    self.syncs.ensure(info, namespace)

    def synced(self) -> bool:
        """The sync objects are listed, or refused for good.

        A hub whose RBAC leaves ObjectSync out is still ready for the rest (the watch logs the
        403 and keeps retrying).
        """
        return self.syncs.settled()

    async def settle(self) -> None:
        """``--once`` judges members too: give each its first probe before looking."""
        await self.inventory.first_probes()
        self.resync()

    def in_sync(self) -> bool:
        """Every sync reached every destination at its last reconcile."""
        return not self.reporter.unsynced

    def resync(self, _cluster: str = "") -> None:
        """Queue every sync, and every deleted one that left copies behind.

        Called when a member returned or cluster labels changed.
        """
        for cache in self.syncs:
            for obj in list(cache.values()):
                self.queue.add(_ref(self.master, cache.info, obj))
        for key in list(self._leftovers):
            self.queue.add(key)

    def _on_sync(self, info: ResourceInfo, _kind: EventType, obj: Obj) -> None:
        self.queue.add(_ref(self.master, info, obj))

    def origin_key(self, obj: Obj) -> ObjectRef | None:
        """The sync a copy came from, read from its origin annotation."""
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        parts = str(annotations.get(ORIGIN_ANNOTATION, "")).split("/")
        if len(parts) != 5 or parts[0] != self.master:
            return None
        _, group, kind, namespace, name = parts
        for gr, info in self.syncs.infos.items():
            if info.group == group and info.kind == kind:
                return ObjectRef(self.master, gr.group, gr.resource, namespace, name)
        return None

    # --- reconcile ----------------------------------------------------------------------

    async def reconcile(self, key: ObjectRef) -> None:
        """Plan one sync's copies from the caches and bring every cluster in line."""
        info = self.syncs.infos.get(key.group_resource)
        obj = self.syncs.get(info, key.namespace, key.name) if info else None
        if info is None or obj is None:
            await self._gone(key)
            return
        self._leftovers.pop(key, None)  # the sync exists (again): its copies are its own
        spec = parse_sync(obj)
        if (obj.get("metadata") or {}).get("deletionTimestamp"):
            await self._finalize(key, info, obj, spec)
            return
        if isinstance(spec, SpecError):
            self.watches.forget(key)
            await self.reporter.report(
                key, info, obj, ("Ready", "InSync"), [], st.Verdict("InvalidSpec", spec.message)
            )
            return
        if annotation_is_true(obj, SUSPEND_ANNOTATION):
            await self.reporter.report(
                key,
                info,
                obj,
                spec.conditions,
                [],
                st.Verdict("Suspended", "synchub.io/suspend is set"),
            )
            return
        updated = await self.finalizer.ensure(key, info, obj)
        if updated is None:
            return
        results, verdict = await self._sync(key, obj, spec)
        await self.reporter.report(key, info, updated, spec.conditions, results, verdict)
        self._schedule(key, spec, results, verdict)

    async def _source(self, key: ObjectRef, spec: SyncSpec) -> ResourceInfo | st.Verdict:
        """The source's resource, allowed and watched; a verdict when it cannot be synced."""
        try:
            source_info = await self.discovery.for_kind(
                spec.source.group, spec.source.kind, spec.source.version
            )
        except UnknownResource as exc:
            self.watches.forget(key)
            return st.Verdict("SourceKindUnknown", str(exc))
        refusal = refused(self.config, source_info)
        if refusal is not None:
            self.watches.forget(key)
            return refusal
        source_ref = ObjectRef(
            self.master,
            source_info.group,
            source_info.resource,
            spec.source.namespace,
            spec.source.name,
        )
        self.watches.track(key, source_ref, source_info)
        if not self.watches.sources.synced_for(source_info, spec.source.namespace):
            raise Requeue(1.0)  # also queued when the cache syncs
        return source_info

    async def _sync(
        self, key: ObjectRef, obj: Obj, spec: SyncSpec
    ) -> tuple[list[st.Result], st.Verdict | None]:
        source_info = await self._source(key, spec)
        if isinstance(source_info, st.Verdict):
            return [], source_info
        source = self.watches.sources.get(source_info, spec.source.namespace, spec.source.name)
        origin = Origin(self._origin(key), self.master)
        if source is None or (source.get("metadata") or {}).get("deletionTimestamp"):
            results = await self.clusters.remove_all(
                key, origin.annotation, source_info, orphan=False
            )
            where = f"{spec.source.namespace}/{spec.source.name}"
            message = f"source {source_info.kind} {where} not found; its copies are removed"
            return results, st.Verdict("SourceNotFound", message)
        denied = cross_namespace_denied(
            self.config.copy.cross_namespace, key.namespace, spec.source.namespace, source
        )
        if denied:
            return [], st.Verdict("CrossNamespaceDenied", denied)
        plan = plan_copies(
            spec,
            source,
            origin=origin,
            namespaced=source_info.namespaced,
            clusters=self.inventory.clusters(),
            namespaces=self._namespaces(key, spec),
        )
        if plan.refused:
            return [], st.Verdict("KindRefused", plan.refused)
        job = Job(
            key,
            origin.annotation,
            source_info,
            objects.resource_version(source),
            create_only=spec.update_mode == "create-only",
            adopt=annotation_is_true(obj, ADOPT_ANNOTATION),
        )
        return await self._apply_plan(job, plan), None

    def _namespaces(self, key: ObjectRef, spec: SyncSpec) -> dict[str, list[NamespaceInfo]]:
        """Namespaces of every cluster the spec covers whose namespace list is complete."""
        clusters = self.inventory.clusters()
        chosen: set[str] = set()
        scopes: set[tuple[str, str]] = set()
        for destination in spec.destinations:
            names, _ = chosen_clusters(destination.clusters, clusters, self.master)
            chosen.update(names)
            scope = ALL if destination.all_namespaces else destination.namespace
            scopes.update((name, scope) for name in names)
        self.watches.track_namespaces(key, scopes)
        known: dict[str, list[NamespaceInfo]] = {}
        for name in chosen:
            client = self.inventory.get(name).client
            listed = None if client is None else self.watches.listed_namespaces(name, client)
            if listed is not None:
                known[name] = listed
        return known

    async def _apply_plan(self, job: Job, plan: Plan) -> list[st.Result]:
        results = [
            st.Result(
                s.cluster,
                s.namespace,
                s.name,
                st.SKIPPED if s.reason == SOURCE_ITSELF else s.reason,
                s.message,
            )
            for s in plan.skipped
        ]
        per_cluster = await asyncio.gather(
            *(self.clusters.sync(job, name, plan) for name in self.inventory.states)
        )
        for found in per_cluster:
            results.extend(found)
        return results

    # --- deletion -----------------------------------------------------------------------

    async def _finalize(
        self, key: ObjectRef, info: ResourceInfo, obj: Obj, spec: SyncSpec | SpecError
    ) -> None:
        if not isinstance(spec, SpecError):
            waiting = await self.finalizer.remove_copies(key, self._origin(key), obj, spec)
            now = datetime.datetime.now(datetime.UTC)
            timeout = self.config.propagation.deletion_timeout
            if waiting and not deletion_timed_out(obj, timeout, now):
                await self.reporter.report(key, info, obj, spec.conditions, waiting, None)
                syncing = any(r.status == st.SYNCING for r in waiting)
                raise Requeue(1.0 if syncing else WAIT_FOR_REMOVAL)
            if waiting:
                await self._give_up(key, obj, waiting)
                self._leftovers[key] = (self._origin(key), spec)
        await self.finalizer.release(key, info, obj)
        self._forget(key)

    async def _gone(self, key: ObjectRef) -> None:
        """The sync is gone: forget it; sweep the copies its deletion left behind."""
        self._forget(key)
        left = self._leftovers.get(key)
        if left is None:
            return
        if not await self.finalizer.sweep(key, *left):
            raise Requeue(WAIT_FOR_REMOVAL)  # a member still away (or listing)
        del self._leftovers[key]
        log.info("objectsync %s: removed the copies its deletion left behind", key)

    async def _give_up(self, key: ObjectRef, obj: Obj, waiting: list[st.Result]) -> None:
        """propagation.deletionTimeout ran out: say which clusters may keep copies.

        Once per cluster, a Warning Event and a log line; then the sync may go
        (docs/objectsync.md).
        """
        for cluster in sorted({r.cluster for r in waiting}):
            held = [r for r in waiting if r.cluster == cluster]
            message = (
                f"gave up removing {len(held)} copies on cluster {cluster} after "
                f"propagation.deletionTimeout ({held[0].status}: {held[0].message}); "
                "they may be left behind"
            )[:1000]
            log.warning("objectsync %s: %s", key, message, extra=key.log_keys)
            self.metrics.deletion_leftovers.labels(cluster=cluster, outcome="left").inc(len(held))
            await self.writer.event(
                obj, type_="Warning", reason="DeletionTimedOut", message=message
            )

    def _forget(self, key: ObjectRef) -> None:
        self.watches.forget(key)
        self.clusters.forget(key)
        self._failures.pop(key, None)
        self.reporter.forget(key)

    # --- writes to the sync object ------------------------------------------------------

    def _schedule(
        self, key: ObjectRef, spec: SyncSpec, results: list[st.Result], verdict: st.Verdict | None
    ) -> None:
        """Retry failed destinations with backoff; Replika's resync period otherwise."""
        if any(r.status in st.RETRIED for r in results):
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
            low, high = RETRY
            self.queue.add_after(key, min(high, low * 2 ** (failures - 1)))
            return
        self._failures.pop(key, None)
        if spec.resync and verdict is None and self.resync_periods:
            self.queue.add_after(key, spec.resync)

    def _origin(self, key: ObjectRef) -> str:
        info = self.syncs.infos[key.group_resource]
        return f"{self.master}/{info.group}/{info.kind}/{key.namespace}/{key.name}"


def refused(config: Config, info: ResourceInfo) -> st.Verdict | None:
    """Why a source kind is never synced: cluster-scoped, or not in allowedResources."""
    if info.kind == "Namespace" or not info.namespaced:
        message = f"{info.kind} is cluster-scoped; only namespaced objects are synced"
        return st.Verdict("KindRefused", message)
    allowed = config.object_sync.allowed_resources
    name = str(GroupResource(info.group, info.resource))
    if name not in allowed:
        return st.Verdict(
            "ResourceNotAllowed",
            f"{name} is not in objectSync.allowedResources of {config.path} "
            f"(allowed: {', '.join(allowed)})",
        )
    return None


def _ref(cluster: str, info: ResourceInfo, obj: Obj) -> ObjectRef:
    return ObjectRef(cluster, info.group, info.resource, objects.namespace(obj), objects.name(obj))
