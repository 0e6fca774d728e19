"""A set of watch caches on one cluster, started lazily and supervised."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

from hub.core.errors import Forbidden
from hub.core.objects import GroupResource, Obj
from hub.kube.client import ClusterClient
from hub.kube.resources import ResourceInfo
from hub.kube.watch import EventType, WatchCache
from hub.runtime.metrics import Metrics
from hub.runtime.tasks import Supervisor

Handler = Callable[[ResourceInfo, EventType, Obj], None]
SyncHandler = Callable[[ResourceInfo], None]

#: Numbers CacheSets, so two sets watching the same resource on one cluster (the copy
#: controller's sources and the propagation controller's managed copies on the master, say)
#: get distinct supervisor task names; the supervisor ignores a second task of the same name.
_SERIAL = itertools.count(1)


class CacheSet:
    """Watch caches keyed by (resource, namespace); ``ensure`` never waits for a sync."""

    def __init__(
        self,
        client: ClusterClient,
        supervisor: Supervisor,
        metrics: Metrics,
        handler: Handler | None = None,
        *,
        on_synced: SyncHandler | None = None,
        on_refused: SyncHandler | None = None,
        label_selector: str = "",
        packed: bool = False,
    ) -> None:
        self.client = client
        self.supervisor = supervisor
        self.metrics = metrics
        self.handlers = [handler] if handler is not None else []
        self.on_synced = on_synced
        #: Told when a cache is first refused (403): it will not sync, so whoever waits for
        #: it should look again now (and report the refusal).
        self.on_refused = on_refused
        self._refused: set[tuple[GroupResource, str]] = set()
        self.label_selector = label_selector
        #: Keep objects as their JSON, decoded on each read (hub.kube.watch): for sets read
        #: by key, not scanned on every reconcile.
        self.packed = packed
        self._caches: dict[tuple[GroupResource, str], WatchCache] = {}
        self.infos: dict[GroupResource, ResourceInfo] = {}
        self._serial = next(_SERIAL)

    def ensure(self, info: ResourceInfo, namespace: str = "") -> WatchCache:
        """The cache for ``info`` in ``namespace``, started on first use (never waits)."""
        key = (GroupResource(info.group, info.resource), namespace if info.namespaced else "")
        cache = self._caches.get(key)
        if cache is not None:
            return cache
        self.infos[key[0]] = info
        restarts = self.metrics.watch_restarts.labels(
            cluster=self.client.name, resource=str(key[0])
        )
        cache = WatchCache(
            self.client,
            info,
            lambda kind, obj: self._dispatch(info, kind, obj),
            namespace=key[1],
            label_selector=self.label_selector,
            on_restart=lambda: self._restarted(info, key, restarts.inc),
            on_synced=lambda: self.on_synced(info) if self.on_synced else None,
            packed=self.packed,
        )
        self._caches[key] = cache
        self.supervisor.spawn(self._task_name(key), cache.run)
        return cache

    def stop(self, info: ResourceInfo, namespace: str = "") -> None:
        """Stop the cache of ``info`` in ``namespace`` and forget its objects (no events)."""
        key = (GroupResource(info.group, info.resource), namespace if info.namespaced else "")
        if self._caches.pop(key, None) is not None:
            self.supervisor.cancel(self._task_name(key))

    def _task_name(self, key: tuple[GroupResource, str]) -> str:
        name = f"watch#{self._serial}:{self.client.name}:{key[0]}:{key[1] or '*'}"
        if self.label_selector:
            name += f"[{self.label_selector}]"
        return name

    def _restarted(
        self, info: ResourceInfo, key: tuple[GroupResource, str], count: Callable[[], None]
    ) -> None:
        count()
        refused = isinstance(self._caches[key].last_error, Forbidden)
        if refused and key not in self._refused:
            self._refused.add(key)
            if self.on_refused is not None:
                self.on_refused(info)
        elif not refused:
            self._refused.discard(key)

    def add_handler(self, handler: Handler) -> None:
        """Also call ``handler`` for every event (a controller watching a shared set)."""
        self.handlers.append(handler)

    def _dispatch(self, info: ResourceInfo, kind: EventType, obj: Obj) -> None:
        for handler in self.handlers:
            handler(info, kind, obj)

    def get(self, info: ResourceInfo, namespace: str, name: str) -> Obj | None:
        """The cached object, looking in the all-namespaces cache or the namespace's own."""
        gr = GroupResource(info.group, info.resource)
        for ns in ("", namespace) if info.namespaced else ("",):
            cache = self._caches.get((gr, ns))
            if cache is not None and cache.synced.is_set():
                found = cache.get(namespace, name)
                if found is not None:
                    return found
        return None

    def synced_for(self, info: ResourceInfo, namespace: str) -> bool:
        """Whether a synced cache covers ``info`` in ``namespace`` (its own or cluster-wide)."""
        gr = GroupResource(info.group, info.resource)
        return any(
            (cache := self._caches.get((gr, ns))) is not None and cache.synced.is_set()
            for ns in ("", namespace)
        )

    def all_synced(self) -> bool:
        """Whether every cache started so far has synced."""
        return all(cache.synced.is_set() for cache in self._caches.values())

    def settled(self) -> bool:
        """Every cache synced, or refused for good (403: reported on the objects instead)."""
        return all(
            cache.synced.is_set() or isinstance(cache.last_error, Forbidden)
            for cache in self._caches.values()
        )

    def forbidden(self, info: ResourceInfo, namespace: str) -> Forbidden | None:
        """The 403 that keeps the cache serving ``namespace`` from syncing, if any."""
        gr = GroupResource(info.group, info.resource)
        for ns in ("", namespace):
            cache = self._caches.get((gr, ns))
            if cache is not None and isinstance(cache.last_error, Forbidden):
                return cache.last_error
        return None

    def __iter__(self) -> Iterator[WatchCache]:
        return iter(list(self._caches.values()))
