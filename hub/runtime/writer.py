"""Every write the hub makes to a cluster goes through here: counted, and skipped in dry-run.

Dry-run logs what would be written (object, verb, changed paths), never the values. Writes
are refused while the write fence is closed (this process is not the leader). Status
conditions are written by :meth:`Writer.write_status` alone, only when they change.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.core import objects
from hub.core.conditions import Condition, now_rfc3339, status_patch
from hub.core.errors import Conflict, NotFound, NotLeader
from hub.core.objects import Obj
from hub.kube.client import APPLY_PATCH, MERGE_PATCH, ClusterClient
from hub.kube.resources import ResourceInfo
from hub.kube.slim import slim
from hub.runtime.leader import WriteFence
from hub.runtime.metrics import Metrics

log = logging.getLogger(__name__)

_EVENTS = ResourceInfo("", "v1", "events", "Event", namespaced=True)


def changed_paths(patch: Any, prefix: str = "") -> list[str]:
    """Leaf paths a merge patch touches, for logs (values are never logged)."""
    if not isinstance(patch, dict) or not patch:
        return [prefix or "."]
    paths: list[str] = []
    for key, value in patch.items():
        if key == "metadata" and isinstance(value, dict) and set(value) == {"resourceVersion"}:
            continue
        paths += changed_paths(value, f"{prefix}.{key}" if prefix else str(key))
    return paths


WrittenKey = tuple[str, str, str, str, str]  # cluster, group, resource, namespace, name


#: The one empty set of versions (since Python 3.10 each ``frozenset()`` is a new object).
_NO_VERSIONS: frozenset[str] = frozenset()


@dataclass(slots=True)
class _Written:
    latest: Obj | None  # None once the cache has caught up (only ``produced`` is kept)
    latest_version: str
    older: frozenset[str] = _NO_VERSIONS  # a set per object would cost 216 bytes each
    produced: dict[str, str] = field(default_factory=dict)  # resourceVersion -> "patch"/"status"


@dataclass(slots=True)
class _Flight:
    how: str  # "patch" or "status"
    held: list[Callable[[], None]] = field(default_factory=list)


PRODUCED_KEPT = 4  # versions remembered per object as the hub's own (echo detection)


class WrittenVersions:
    """The objects the hub wrote last, remembered until the watch caches catch up.

    A reconcile that runs before the watch event of the previous write arrives would read
    a stale version from its cache, write again (or be refused with a conflict) and queue
    more work. Writers record each write made under a resourceVersion precondition; readers
    ask :meth:`fresh` for the newest version they know of, and :meth:`produced` tells a
    watch handler that an event is only the echo of the hub's own write
    (docs/propagation.md, "Requests and writes"). The echo often beats the write's own
    response; a handler that would take it for news asks :meth:`hold` to look at it again
    once the response is in.
    """

    def __init__(self) -> None:
        self._objects: dict[WrittenKey, _Written] = {}
        #: Writes under way per object, each with the looks held until it is answered.
        self._in_flight: dict[WrittenKey, list[_Flight]] = {}

    @staticmethod
    def _key(cluster: str, info: ResourceInfo, obj: Obj) -> WrittenKey:
        namespace = objects.namespace(obj) if info.namespaced else ""
        return (cluster, info.group, info.resource, namespace, objects.name(obj))

    def remember(self, cluster: str, info: ResourceInfo, base: str, written: Obj, how: str) -> None:
        """``written`` was the answer to a write of ``how`` made on top of version ``base``.

        It stands in for the cache until the cache catches up, so it is kept as a cache keeps
        its objects (slimmed in place: no managedFields, short strings shared).
        """
        slim(written)
        key = self._key(cluster, info, written)
        version = objects.resource_version(written)
        entry = self._objects.get(key)
        if entry is None or entry.latest_version != base:
            entry = _Written(written, version, produced=entry.produced if entry else {})
        entry.older |= {base}
        entry.latest, entry.latest_version = written, version
        entry.produced[version] = how
        while len(entry.produced) > PRODUCED_KEPT:
            del entry.produced[next(iter(entry.produced))]
        self._objects[key] = entry

    @contextlib.contextmanager
    def writing(
        self, cluster: str, info: ResourceInfo, namespace: str, name: str, how: str
    ) -> Iterator[None]:
        """A write of ``how`` to the object is under way; afterwards, the held looks run."""
        key = (cluster, info.group, info.resource, namespace if info.namespaced else "", name)
        flight = _Flight(how)
        flights = self._in_flight.setdefault(key, [])
        flights.append(flight)
        try:
            yield
        finally:
            flights.remove(flight)
            if not flights:
                del self._in_flight[key]
            for look in flight.held:
                look()

    def hold(
        self, cluster: str, info: ResourceInfo, obj: Obj, how: str, look: Callable[[], None]
    ) -> bool:
        """While a write of ``how`` to ``obj`` is under way, keep ``look`` until it is answered.

        The answer is remembered before ``look`` runs, so :meth:`produced` knows it by then.
        False: no such write is under way (nothing is held).
        """
        for flight in reversed(self._in_flight.get(self._key(cluster, info, obj), ())):
            if flight.how == how:
                flight.held.append(look)
                return True
        return False

    def fresh(self, cluster: str, info: ResourceInfo, cached: Obj) -> Obj:
        """``cached``, or the newer version the hub wrote when the cache is behind it."""
        key = self._key(cluster, info, cached)
        entry = self._objects.get(key)
        if entry is None or entry.latest is None:
            return cached
        version = objects.resource_version(cached)
        if version in entry.older:
            return entry.latest
        if version != entry.latest_version:
            del self._objects[key]  # someone else wrote since: the cache is the news
        else:
            self._caught_up(entry)
        return cached

    @staticmethod
    def _caught_up(entry: _Written) -> None:
        """The cache holds the latest write: keep only what an echo of it needs."""
        entry.latest = None
        entry.older = _NO_VERSIONS
        how = entry.produced.get(entry.latest_version)
        entry.produced = {entry.latest_version: how} if how else {}

    def produced(self, cluster: str, info: ResourceInfo, obj: Obj) -> str:
        """``"patch"`` or ``"status"`` when exactly this version is the hub's own write."""
        entry = self._objects.get(self._key(cluster, info, obj))
        if entry is None:
            return ""
        version = objects.resource_version(obj)
        if version == entry.latest_version:
            self._caught_up(entry)  # the cache holds our last write now
        elif entry.latest is None and version not in entry.produced:
            del self._objects[self._key(cluster, info, obj)]  # newer than all we wrote
        return entry.produced.get(version, "")

    def forget(self, cluster: str, info: ResourceInfo, obj: Obj) -> None:
        """The object is gone: drop what was remembered of it."""
        self._objects.pop(self._key(cluster, info, obj), None)


class Writer:
    """Writes to one cluster: counted, refused without leadership, skipped in dry-run."""

    def __init__(
        self,
        client: ClusterClient,
        metrics: Metrics,
        *,
        dry_run: bool = False,
        fence: WriteFence | None = None,
        recent: WrittenVersions | None = None,
    ) -> None:
        self.client = client
        self.metrics = metrics
        self.dry_run = dry_run
        self.fence = fence or WriteFence()
        #: What this hub wrote last (shared by every writer of one hub; see WrittenVersions).
        self.recent = recent or WrittenVersions()

    @property
    def cluster(self) -> str:
        """The name of the cluster written to."""
        return self.client.name

    def _count(self, verb: str) -> None:
        self.metrics.writes_total.labels(cluster=self.cluster, verb=verb).inc()

    def _skip(self, verb: str, info: ResourceInfo, namespace: str, name: str, detail: str) -> bool:
        self.fence.check(f"{verb} {info.kind} {name}")
        if not self.dry_run:
            return False
        self.metrics.dry_run_skipped += 1
        where = f"{namespace}/{name}" if namespace else name
        log.info("dry-run: would %s %s %s on %s%s", verb, info.kind, where, self.cluster, detail)
        return True

    async def _send(self, what: str, method: str, path: str, **kwargs: Any) -> Any:
        """Send one write request, fenced.

        The fence is checked again right before the request leaves, and a fence that closes
        while it is in flight cancels it.
        """
        with self.fence.writing(what):
            return await self.client.request(
                method, path, guard=functools.partial(self.fence.check, what), **kwargs
            )

    async def _write(
        self,
        verbs: tuple[str, str],
        info: ResourceInfo,
        namespace: str,
        name: str,
        method: str,
        path: str,
        *,
        detail: str = "",
        **kwargs: Any,
    ) -> Obj | None:
        """Send one write of an object, fenced and counted; None when skipped (dry-run).

        ``verbs``: how the dry-run log says it (``patch status``), and the metric's verb.
        """
        said, counted = verbs
        if self._skip(said, info, namespace, name, detail):
            return None
        self._count(counted)
        action = said.partition(" ")[0]
        result: Obj = await self._send(f"{action} {info.kind} {name}", method, path, **kwargs)
        return result

    async def merge_patch(
        self,
        info: ResourceInfo,
        namespace: str,
        name: str,
        patch: Obj,
        *,
        subresource: str = "",
    ) -> Obj | None:
        """Merge-patch one object; include metadata.resourceVersion for optimistic locking."""
        paths = ", ".join(changed_paths(patch))
        verb = f"patch {subresource}" if subresource else "patch"
        how = "status" if subresource else "patch"
        base = (patch.get("metadata") or {}).get("resourceVersion")
        with self.recent.writing(self.cluster, info, namespace, name, how):
            result = await self._write(
                (verb, "patch"),
                info,
                namespace,
                name,
                "PATCH",
                info.path(namespace, name, subresource),
                detail=f" ({paths})",
                body=patch,
                content_type=MERGE_PATCH,
            )
            if base and isinstance(result, dict):
                self.recent.remember(self.cluster, info, str(base), result, how)
        return result

    async def write_status(
        self,
        info: ResourceInfo,
        obj: Obj,
        condition: Condition,
        *,
        fields: Mapping[str, Any] | None = None,
        condition_generation: bool = False,
    ) -> bool:
        """Set ``condition`` (and other ``status`` fields) on ``obj`` when they differ.

        The patch goes to the status subresource under ``obj``'s resourceVersion. Returns
        False when the object changed meanwhile (a conflict): the caller looks again at the
        newer version. A kind without a status subresource, an object already deleted and a
        status that already says it all are no failures.
        """
        if not info.has_status:
            return True
        patch = status_patch(
            obj,
            condition,
            fields=fields,
            condition_generation=condition_generation,
            now=now_rfc3339(),
        )
        return patch is None or await self.patch_status(info, obj, patch["status"])

    async def patch_status(self, info: ResourceInfo, obj: Obj, status: Obj) -> bool:
        """Merge-patch ``status`` into ``obj``'s status subresource, under its resourceVersion.

        Returns False when the object changed meanwhile (a conflict); an object already
        deleted is no failure. Callers that compute more than one condition use this; the
        others use :meth:`write_status`.
        """
        body = {"metadata": {"resourceVersion": objects.resource_version(obj)}, "status": status}
        try:
            await self.merge_patch(
                info, objects.namespace(obj), objects.name(obj), body, subresource="status"
            )
        except NotFound:
            return True
        except Conflict:
            return False
        return True

    async def apply(
        self,
        info: ResourceInfo,
        namespace: str,
        name: str,
        obj: Obj,
        *,
        field_manager: str,
        force: bool = True,
    ) -> Obj | None:
        """Server-side apply.

        ``force`` takes ownership of the fields the hub sets; without it, a field another
        manager set to another value is a Conflict.
        """
        return await self._write(
            ("apply", "apply"),
            info,
            namespace,
            name,
            "PATCH",
            info.path(namespace, name),
            params={"fieldManager": field_manager, "force": force},
            body=obj,
            content_type=APPLY_PATCH,
        )

    async def replace(
        self, info: ResourceInfo, namespace: str, name: str, obj: Obj, *, field_manager: str = ""
    ) -> Obj | None:
        """Replace one object whole (PUT); set metadata.resourceVersion for optimistic locking."""
        return await self._write(
            ("replace", "update"),
            info,
            namespace,
            name,
            "PUT",
            info.path(namespace, name),
            params={"fieldManager": field_manager} if field_manager else None,
            body=obj,
        )

    async def create(self, info: ResourceInfo, namespace: str, obj: Obj) -> Obj | None:
        """Create ``obj``; None when skipped (dry-run)."""
        name = objects.name(obj)
        return await self._write(
            ("create", "create"), info, namespace, name, "POST", info.path(namespace), body=obj
        )

    async def delete(self, info: ResourceInfo, namespace: str, name: str) -> bool:
        """Delete one object; False when skipped (dry-run)."""
        if self._skip("delete", info, namespace, name, ""):
            return False
        self._count("delete")
        await self._send(f"delete {info.kind} {name}", "DELETE", info.path(namespace, name))
        return True

    async def event(
        self, involved: Obj, *, type_: str, reason: str, message: str, component: str = "synchub"
    ) -> None:
        """Record a core/v1 Event about ``involved`` (best effort: failures are only logged)."""
        metadata = objects.metadata(involved)
        namespace = metadata.get("namespace") or "default"
        name = f"{metadata.get('name', 'object')}.{uuid.uuid4().hex[:12]}"
        if self._skip("record event", _EVENTS, namespace, reason, ""):
            return
        now = now_rfc3339()
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion"),
                "kind": involved.get("kind"),
                "name": metadata.get("name"),
                "namespace": metadata.get("namespace"),
                "uid": metadata.get("uid"),
                "resourceVersion": metadata.get("resourceVersion"),
            },
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": component},
            "reportingComponent": component,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            self._count("event")
            await self._send(
                f"record event {reason}",
                "POST",
                f"/api/v1/namespaces/{namespace}/events",
                body=event,
            )
        except NotLeader:
            raise
        except Exception as exc:  # an event is a courtesy; never fail a reconcile on it
            log.debug("could not record event on %s: %s", metadata.get("name"), exc)


class Writers:
    """Makes every :class:`Writer` the hub uses: one dry-run switch, one leadership fence.

    The manager creates one and hands it to each controller, so no controller can write
    without holding the lease (``WriteFence``) or in spite of ``--dry-run``.
    """

    def __init__(self, metrics: Metrics, *, dry_run: bool, fence: WriteFence) -> None:
        self.metrics = metrics
        self.dry_run = dry_run
        self.fence = fence
        #: What the hub wrote last, shared by every writer it makes.
        self.recent = WrittenVersions()

    def for_client(self, client: ClusterClient) -> Writer:
        """A writer to ``client``'s cluster, behind the fence."""
        return Writer(
            client, self.metrics, dry_run=self.dry_run, fence=self.fence, recent=self.recent
        )


class MemberWriters:
    """One fenced writer per member cluster, made again when the member's client is replaced."""

    def __init__(self, writers: Writers) -> None:
        self.writers = writers
        self._by_cluster: dict[str, Writer] = {}

    def get(self, cluster: str, client: ClusterClient | None) -> Writer:
        """The writer to ``cluster`` through its current ``client`` (which must be set)."""
        writer = self._by_cluster.get(cluster)
        if writer is None or writer.client is not client:
            assert client is not None
            writer = self.writers.for_client(client)
            self._by_cluster[cluster] = writer
        return writer
