"""Drift on the clusters, seen at once (docs/gitsync.md, "Drift").

After each applied revision the controller hands :class:`DriftWatch` what it applied where.
On every cluster it then watches the kinds of those objects (the managed ones only, through
the shared :class:`~hub.runtime.caches.CacheSet`), and an object edited away from the
revision, or deleted, queues its GitSync at once instead of at the next poll. Events that
match the revision (the hub's own applies) queue nothing, and watches only read: a quiet
repository still costs zero writes. A watch stops when no GitSync applies that kind there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from functools import partial

from hub.core import gitplan
from hub.core.errors import UnknownResource
from hub.core.federation import MANAGED_LABEL, ORIGIN_ANNOTATION
from hub.core.gitplan import Entry
from hub.core.objects import GroupResource, Obj, ObjectRef
from hub.kube.resources import ResourceInfo
from hub.kube.watch import EventType
from hub.runtime.caches import CacheSet
from hub.runtime.inventory import Inventory
from hub.runtime.wiring import Collaborators

log = logging.getLogger(__name__)

Watched = tuple[str, GroupResource]  # (cluster, resource)


class DriftWatch:
    """Member watches of what each GitSync applied; drift queues the GitSync."""

    def __init__(
        self, deps: Collaborators, inventory: Inventory, enqueue: Callable[[ObjectRef], None]
    ) -> None:
        self.inventory = inventory
        self.supervisor = deps.supervisor
        self.metrics = deps.metrics
        self.enqueue = enqueue
        self._caches: dict[str, CacheSet] = {}
        #: GitSync -> (clusters it applied to, the objects it applied).
        self._desired: dict[ObjectRef, tuple[frozenset[str], dict[Entry, Obj]]] = {}
        self._origins: dict[str, ObjectRef] = {}
        self._uses: dict[ObjectRef, set[Watched]] = {}
        self._infos: dict[Watched, ResourceInfo] = {}

    async def track(
        self,
        key: ObjectRef,
        origin: str,
        clusters: Sequence[str],
        applied: Sequence[tuple[Entry, Obj]],
    ) -> None:
        """Watch ``applied`` on ``clusters`` for ``key`` (replacing what it tracked before)."""
        desired = dict(applied)
        self._desired[key] = (frozenset(clusters), desired)
        self._origins[origin] = key
        uses: set[Watched] = set()
        for cluster in clusters:
            for info in await self._kinds(cluster, desired):
                watched = (cluster, GroupResource(info.group, info.resource))
                uses.add(watched)
                self._infos[watched] = info
                self._cache(cluster).ensure(info)
        self._release(key, uses)

    def forget(self, key: ObjectRef) -> None:
        """``key`` is gone: stop what only it watched."""
        self._desired.pop(key, None)
        for origin in [o for o, k in self._origins.items() if k == key]:
            del self._origins[origin]
        self._release(key, set())

    async def _kinds(self, cluster: str, desired: Mapping[Entry, Obj]) -> list[ResourceInfo]:
        state = self.inventory.get(cluster)
        if state.discovery is None:
            return []
        infos: dict[tuple[str, str], ResourceInfo] = {}
        for entry, obj in desired.items():
            if (entry.group, entry.kind) in infos:
                continue
            version = str(obj.get("apiVersion", "")).rpartition("/")[2] or None
            try:
                info = await state.discovery.for_kind(entry.group, entry.kind, version)
            except UnknownResource:
                continue  # not served there (yet): the next applied revision looks again
            infos[(entry.group, entry.kind)] = info
        return list(infos.values())

    def _cache(self, cluster: str) -> CacheSet:
        cache = self._caches.get(cluster)
        if cache is None:
            client = self.inventory.get(cluster).client
            assert client is not None
            cache = CacheSet(
                client,
                self.supervisor,
                self.metrics,
                partial(self._on_event, cluster),
                label_selector=f"{MANAGED_LABEL}=true",
            )
            self._caches[cluster] = cache
        return cache

    def _release(self, key: ObjectRef, uses: set[Watched]) -> None:
        """Record ``key``'s watches; stop those nobody uses any more."""
        before = self._uses.pop(key, set())
        if uses:
            self._uses[key] = uses
        still = set().union(*self._uses.values()) if self._uses else set()
        for watched in before - still:
            info = self._infos.pop(watched)
            self._caches[watched[0]].stop(info)

    def _on_event(self, cluster: str, info: ResourceInfo, kind: EventType, obj: Obj) -> None:
        """Queue the GitSync of an object that no longer matches its revision."""
        metadata = obj.get("metadata") or {}
        key = self._origins.get(str((metadata.get("annotations") or {}).get(ORIGIN_ANNOTATION)))
        tracked = self._desired.get(key) if key is not None else None
        if key is None or tracked is None or cluster not in tracked[0]:
            return
        namespace = str(metadata.get("namespace", "")) if info.namespaced else ""
        entry = Entry(info.group, info.kind, namespace, str(metadata.get("name", "")))
        desired = tracked[1].get(entry)
        if desired is None:
            return  # no longer in the revision (pruned): nothing to restore
        if kind == "DELETED" or not gitplan.in_sync(obj, desired):
            log.info("gitsync %s: %s on %s drifted (%s)", key, entry, cluster, kind.lower())
            self.enqueue(key)
