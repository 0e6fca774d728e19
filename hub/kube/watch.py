"""List + watch cache for one resource in one cluster (client-go reflector semantics).

Paginated list, then a watch from the list's resourceVersion with bookmarks and a server-side
timeout (jittered); a client read timeout catches dead streams; the watch resumes from the last
version seen, and a 410 Gone re-lists, emitting deletes for objects that vanished meanwhile.
Errors back off with jitter. Objects are cached as raw dicts, slimmed (hub.kube.slim: no
``managedFields``, short strings shared), or *packed*: each kept as its JSON and decoded on
every read. A packed Secret copy costs a third of its dicts' memory, the garbage collector
never walks it, and every reader gets an object of its own; a read costs a few microseconds,
so packing suits caches read by key, not scanned in full on every reconcile.
Handlers are plain callbacks that must not block (they enqueue keys).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Iterator
from typing import Any, Literal

import orjson

from hub.core import objects
from hub.core.backoff import Backoff
from hub.core.errors import ApiError, ClusterUnreachable, Gone, KubeError
from hub.core.objects import Obj
from hub.kube.client import ClusterClient
from hub.kube.resources import ResourceInfo
from hub.kube.slim import slim

log = logging.getLogger(__name__)

EventType = Literal["ADDED", "MODIFIED", "DELETED"]
Handler = Callable[[EventType, Obj], None]
StoreKey = tuple[str, str]  # (namespace, name)

PAGE_SIZE = 500
WATCH_TIMEOUT = (240, 480)  # seconds, server side; jittered so watches do not reconnect together
READ_GRACE = 30.0  # client read timeout beyond the server's: a silent stream is dead
BACKOFF = (0.5, 30.0)  # seconds: first and longest wait after an error


class WatchCache:
    """Keeps its cache equal to the cluster's objects of one resource (optionally filtered)."""

    def __init__(
        self,
        client: ClusterClient,
        info: ResourceInfo,
        handler: Handler,
        *,
        namespace: str = "",
        label_selector: str = "",
        on_restart: Callable[[], None] | None = None,
        on_synced: Callable[[], None] | None = None,
        packed: bool = False,
    ) -> None:
        self.client = client
        self.info = info
        self.handler = handler
        self.namespace = namespace
        self.label_selector = label_selector
        self.on_restart = on_restart or (lambda: None)
        self.on_synced = on_synced or (lambda: None)
        #: The objects, as dicts or (packed) as their JSON: read them through get/values.
        self._store: dict[StoreKey, Any] = {}
        self._keep: Callable[[Obj], Any] = _pack if packed else slim
        self._read: Callable[[Any], Obj] = orjson.loads if packed else _same
        self.synced = asyncio.Event()
        self.resource_version = ""
        self._backoff = Backoff(*BACKOFF)
        #: The error that stopped the last list or watch; None once a list succeeds.
        self.last_error: KubeError | None = None

    def __repr__(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        return f"WatchCache({self.client.name}:{self.info}{where})"

    def get(self, namespace: str, name: str) -> Obj | None:
        """The cached object, None when absent (``namespace`` is ignored when cluster-scoped)."""
        kept = self._store.get((namespace if self.info.namespaced else "", name))
        return None if kept is None else self._read(kept)

    def values(self) -> Iterator[Obj]:
        """Every cached object (decoded one by one when packed)."""
        return map(self._read, list(self._store.values()))

    def items(self) -> Iterator[tuple[StoreKey, Obj]]:
        """Every cached object with its (namespace, name)."""
        read = self._read
        return ((key, read(kept)) for key, kept in list(self._store.items()))

    def stored_keys(self) -> list[StoreKey]:
        """The (namespace, name) of every cached object."""
        return list(self._store)

    def __len__(self) -> int:
        return len(self._store)

    async def run(self) -> None:
        """List and watch until cancelled; never returns otherwise."""
        while True:
            try:
                if not self.resource_version:
                    await self._list()
                await self._watch()
                self._backoff.reset()
            except Gone:
                log.debug("%r: resourceVersion expired; re-listing", self)
                self.resource_version = ""
                self.on_restart()
            except (KubeError, ValueError) as exc:
                self.last_error = exc if isinstance(exc, KubeError) else None
                if _relist_after(exc):
                    self.resource_version = ""
                delay = self._backoff.next()
                log.warning("%r: %s; retrying in %.1fs", self, exc, delay)
                self.on_restart()
                await asyncio.sleep(delay)

    def _params(self) -> dict[str, str | int | bool]:
        params: dict[str, str | int | bool] = {}
        if self.label_selector:
            params["labelSelector"] = self.label_selector
        return params

    async def _list(self) -> None:
        path = self.info.path(self.namespace)
        fresh: dict[StoreKey, Any] = {}
        token = ""
        while True:
            params = {**self._params(), "limit": PAGE_SIZE}
            if token:
                params["continue"] = token
            page = await self.client.get(path, params)
            for item in page.get("items") or []:
                item.setdefault("apiVersion", self.info.api_version)
                item.setdefault("kind", self.info.kind)
                fresh[_key(item)] = self._keep(item)
            token = str(objects.metadata(page).get("continue") or "")
            if not token:
                self.resource_version = objects.resource_version(page)
                break
        self._replace(fresh)
        self.last_error = None
        if not self.synced.is_set():
            self.synced.set()
            self.on_synced()

    def _replace(self, fresh: dict[StoreKey, Any]) -> None:
        """Swap in a fresh listing and tell the handler what changed since the old one."""
        old, self._store = self._store, fresh
        read = self._read
        for key, kept in fresh.items():
            previous = old.get(key)
            if previous is None:
                self.handler("ADDED", read(kept))
            else:
                obj = read(kept)
                if objects.resource_version(read(previous)) != objects.resource_version(obj):
                    self.handler("MODIFIED", obj)
        for key, kept in old.items():
            if key not in fresh:
                self.handler("DELETED", read(kept))

    async def _watch(self) -> None:
        timeout = random.randint(*WATCH_TIMEOUT)
        params = {
            **self._params(),
            "watch": True,
            "allowWatchBookmarks": True,
            "resourceVersion": self.resource_version,
            "timeoutSeconds": timeout,
        }
        stream = self.client.stream(
            self.info.path(self.namespace), params, read_timeout=timeout + READ_GRACE
        )
        async for event in stream:
            self._apply(event)

    def _apply(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        obj = event.get("object") or {}
        if kind == "ERROR":
            code = obj.get("code")
            if code == 410:
                raise Gone(self.client.name, 410, "Gone", str(obj.get("message", "")))
            raise ApiError.from_response(self.client.name, int(code or 500), obj)
        version = objects.resource_version(obj)
        if kind == "BOOKMARK":
            self.resource_version = version or self.resource_version
            return
        if kind not in ("ADDED", "MODIFIED", "DELETED"):
            return
        key = _key(obj)
        if kind == "DELETED":
            self._store.pop(key, None)
            slim(obj)
        else:
            self._store[key] = self._keep(obj)
        if version:
            self.resource_version = version
        self.handler(kind, obj)


def _relist_after(exc: Exception) -> bool:
    """Whether the watch must list afresh instead of resuming from the last version.

    After the cluster could not be reached: it may be a new cluster under the same name,
    rebuilt empty (docs/propagation.md, "A hung, failing or rebuilt member"), whose versions
    start again from 1, so resuming would miss every change. And after a too large resource
    version was refused, as client-go's reflector does.
    """
    if isinstance(exc, ClusterUnreachable):
        return True
    return isinstance(exc, ApiError) and "too large resource version" in exc.message.lower()


def _pack(obj: Obj) -> bytes:
    """The object's JSON without ``managedFields``, which it loses too (as :func:`slim` does)."""
    metadata = obj.get("metadata")
    if isinstance(metadata, dict):
        metadata.pop("managedFields", None)
    # Copied to its exact size: orjson's own answer keeps a buffer of 4 KB or more.
    return bytes(memoryview(orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)))


def _same(obj: Obj) -> Obj:
    return obj


def _key(obj: Obj) -> StoreKey:
    return objects.namespace(obj), objects.name(obj)
