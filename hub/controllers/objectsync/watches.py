"""What the ObjectSync controller watches, and which syncs an event concerns.

* Sources: one cache per (resource, namespace) on the master, started when the first sync
  names a source there and stopped when the last one stops naming it.
* Namespaces: one cache per selected cluster, so namespaces created or relabelled later
  re-plan the syncs that cover that cluster (a wildcard or selector) or name them.
* Copies: one cache per (cluster, resource) holding only objects labelled
  ``synchub.io/managed=true``; an edited or deleted copy re-plans the sync in its origin.

Two dependency indexes map events to sync keys, so an event re-plans only the syncs it
concerns. Handlers only enqueue keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hub.core.fanout import NamespaceInfo
from hub.core.federation import MANAGED_LABEL
from hub.core.objects import GroupResource, Obj, ObjectRef
from hub.kube.client import ClusterClient
from hub.kube.resources import ResourceInfo
from hub.kube.watch import EventType
from hub.runtime.caches import CacheSet, Handler, SyncHandler
from hub.runtime.index import DependencyIndex
from hub.runtime.metrics import Metrics
from hub.runtime.tasks import Supervisor

NAMESPACES = ResourceInfo("", "v1", "namespaces", "Namespace", namespaced=False)
ALL = "*"

#: (cluster, namespace name or "*" for every namespace of the cluster)
NamespaceScope = tuple[str, str]


@dataclass(frozen=True, slots=True)
class NamespaceState:
    """What the planner reads of a namespace; events that change neither are ignored."""

    labels: tuple[tuple[str, str], ...]
    terminating: bool


def namespace_state(obj: Obj) -> NamespaceState:
    """Labels and phase of a namespace object."""
    metadata = obj.get("metadata") or {}
    labels = tuple(sorted((metadata.get("labels") or {}).items()))
    terminating = bool(metadata.get("deletionTimestamp")) or (
        (obj.get("status") or {}).get("phase") == "Terminating"
    )
    return NamespaceState(labels, terminating)


class Watches:
    """Caches and indexes for every sync; ``enqueue`` receives the keys to re-plan."""

    def __init__(
        self,
        master: ClusterClient,
        supervisor: Supervisor,
        metrics: Metrics,
        enqueue: Callable[[ObjectRef], None],
        origin_key: Callable[[Obj], ObjectRef | None],
    ) -> None:
        self.master = master.name
        self.supervisor = supervisor
        self.metrics = metrics
        self.enqueue = enqueue
        self.origin_key = origin_key
        self.sources = CacheSet(
            master, supervisor, metrics, self._on_source, on_synced=self._on_source_synced
        )
        self.source_index: DependencyIndex[ObjectRef, ObjectRef] = DependencyIndex()
        self.namespace_index: DependencyIndex[NamespaceScope, ObjectRef] = DependencyIndex()
        self.namespaces: dict[str, CacheSet] = {}
        self.copies: dict[str, CacheSet] = {}
        self._namespace_states: dict[tuple[str, str], NamespaceState] = {}
        self._source_infos: dict[GroupResource, ResourceInfo] = {}
        self._source_of: dict[ObjectRef, ObjectRef] = {}

    # --- declaring what a sync needs ----------------------------------------------------

    def track(self, key: ObjectRef, source: ObjectRef | None, info: ResourceInfo | None) -> None:
        """``key`` reads ``source`` (None: nothing): start its cache, stop unused ones."""
        if source is not None and info is not None:
            self._source_infos[source.group_resource] = info
        before = self._source_of.pop(key, None)
        if source is not None:
            self._source_of[key] = source
        self.source_index.set_sources(key, () if source is None else (source,))
        if before is not None and before != source:
            self._stop_unused(before)
        if source is not None and info is not None:
            self.sources.ensure(info, source.namespace)

    def track_namespaces(self, key: ObjectRef, scopes: set[NamespaceScope]) -> None:
        """``key`` covers these (cluster, namespace) scopes."""
        self.namespace_index.set_sources(key, scopes)

    def forget(self, key: ObjectRef) -> None:
        """The sync is gone: drop its edges and stop caches nothing needs any more."""
        self.track(key, None, None)
        self.namespace_index.remove_target(key)

    def _stop_unused(self, source: ObjectRef) -> None:
        gr, namespace = source.group_resource, source.namespace
        named = self.source_index.sources()
        if any(s.group_resource == gr and s.namespace == namespace for s in named):
            return
        info = self._source_infos.get(gr)
        if info is not None:
            self.sources.stop(info, namespace)
        if not any(s.group_resource == gr for s in named):
            for cache in self.copies.values():
                member_info = cache.infos.get(gr)
                if member_info is not None:
                    cache.stop(member_info)

    # --- caches per cluster -----------------------------------------------------------------

    def namespace_cache(self, cluster: str, client: ClusterClient) -> CacheSet:
        """The Namespace cache of ``cluster``, started (again) for its current client."""
        cache = self._cache_of(
            self.namespaces,
            cluster,
            client,
            lambda _i, kind, obj: self._on_namespace(cluster, kind, obj),
            lambda _info: self._on_namespaces_synced(cluster),
        )
        cache.ensure(NAMESPACES)
        return cache

    def listed_namespaces(self, cluster: str, client: ClusterClient) -> list[NamespaceInfo] | None:
        """The cluster's namespaces as the planner reads them; None until fully listed."""
        cache = self.namespace_cache(cluster, client)
        if not cache.all_synced():
            return None
        return [
            NamespaceInfo(str(ns["metadata"]["name"]), dict(state.labels), state.terminating)
            for c in cache
            for ns in c.values()
            if (state := namespace_state(ns))
        ]

    def copy_cache(self, cluster: str, client: ClusterClient) -> CacheSet:
        """The managed-copy cache of ``cluster``, started (again) for its current client."""
        return self._cache_of(
            self.copies,
            cluster,
            client,
            self._on_copy,
            lambda _info: self.resync(),
            label_selector=f"{MANAGED_LABEL}=true",
        )

    def _cache_of(
        self,
        caches: dict[str, CacheSet],
        cluster: str,
        client: ClusterClient,
        handler: Handler,
        on_synced: SyncHandler,
        *,
        label_selector: str = "",
    ) -> CacheSet:
        """``caches[cluster]``, made again when the cluster's client was replaced."""
        cache = caches.get(cluster)
        if cache is None or cache.client is not client:
            cache = CacheSet(
                client,
                self.supervisor,
                self.metrics,
                handler,
                on_synced=on_synced,
                label_selector=label_selector,
            )
            caches[cluster] = cache
        return cache

    def resync(self) -> None:
        """Re-plan every sync with a source (a cluster returned, a cache synced)."""
        for key in {
            k for s in self.source_index.sources() for k in self.source_index.dependents(s)
        }:
            self.enqueue(key)

    # --- events -------------------------------------------------------------------------

    def _on_source(self, info: ResourceInfo, _kind: EventType, obj: Obj) -> None:
        metadata = obj.get("metadata") or {}
        ref = ObjectRef(
            self.master,
            info.group,
            info.resource,
            str(metadata.get("namespace", "")),
            str(metadata.get("name", "")),
        )
        for key in self.source_index.dependents(ref):
            self.enqueue(key)

    def _on_source_synced(self, info: ResourceInfo) -> None:
        gr = GroupResource(info.group, info.resource)
        for source in list(self.source_index.sources()):
            if source.group_resource == gr:
                for key in self.source_index.dependents(source):
                    self.enqueue(key)

    def _on_namespace(self, cluster: str, kind: EventType, obj: Obj) -> None:
        name = str((obj.get("metadata") or {}).get("name", ""))
        state = namespace_state(obj)
        where = (cluster, name)
        if kind == "DELETED":
            self._namespace_states.pop(where, None)
        elif self._namespace_states.get(where) == state:
            return  # nothing the planner reads has changed
        else:
            self._namespace_states[where] = state
        for scope in ((cluster, ALL), where):
            for key in self.namespace_index.dependents(scope):
                self.enqueue(key)

    def _on_namespaces_synced(self, cluster: str) -> None:
        for key in self.namespace_index.dependents((cluster, ALL)):
            self.enqueue(key)
        for scope in list(self.namespace_index.sources()):
            if scope[0] == cluster:
                for key in self.namespace_index.dependents(scope):
                    self.enqueue(key)

    def _on_copy(self, _info: ResourceInfo, _kind: EventType, obj: Obj) -> None:
        key = self.origin_key(obj)
        if key is not None:
            self.enqueue(key)
