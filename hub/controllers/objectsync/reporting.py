"""Status and Events of one sync.

The status subresource is written only when it changes; a Warning Event marks each
transition into a failure and a Normal Event the recovery, each once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from hub.core.conditions import Condition, find
from hub.core.objects import Obj, ObjectRef
from hub.kube.resources import ResourceInfo
from hub.runtime.snapshots import SEVERITY, Cell, Health, Snapshots
from hub.runtime.writer import Writer

from . import status as st

log = logging.getLogger(__name__)

CONTROLLER = "objectsync"

#: The first condition's status and reason, and each destination's status, as last reported.
Seen = tuple[str, str, dict[tuple[str, str, str], str]]


class Reporter:
    """Writes what a reconcile found onto the sync object; ``requeue`` on a write conflict."""

    def __init__(
        self,
        writer: Writer,
        requeue: Callable[[ObjectRef], None],
        snapshots: Snapshots | None = None,
    ) -> None:
        self.writer = writer
        self.requeue = requeue
        self.snapshots = snapshots or Snapshots()
        #: Remembered here because the cached object may not show the last status yet.
        self._seen: dict[ObjectRef, Seen] = {}
        self._kinds: dict[ObjectRef, str] = {}  # what the status page was told, to forget it
        #: Syncs not fully in sync after their last reconcile (``--once`` judges them).
        self.unsynced: set[ObjectRef] = set()

    def forget(self, key: ObjectRef) -> None:
        """The sync is gone: forget its last report."""
        self._seen.pop(key, None)
        self.unsynced.discard(key)
        kind = self._kinds.pop(key, None)
        if kind is not None:
            self.snapshots.forget(CONTROLLER, kind, key.namespace, key.name)

    def publish(
        self, key: ObjectRef, kind: str, results: list[st.Result], verdict: st.Verdict | None
    ) -> None:
        """The sync's row of the status page: per cluster, its worst destination."""
        self._kinds[key] = kind
        if verdict is not None:
            self.snapshots.publish(
                CONTROLLER, kind, key.namespace, key.name,
                state=verdict.reason, health=Health.FAILING, message=verdict.message,
            )  # fmt: skip
            return
        worst: dict[str, st.Result] = {}
        for result in results:
            seen = worst.get(result.cluster)
            if seen is None or SEVERITY[_health(result.status)] > SEVERITY[_health(seen.status)]:
                worst[result.cluster] = result
        cells = [
            Cell(
                cluster, r.status, _health(r.status), f"{r.place}: {r.message}" if r.message else ""
            )
            for cluster, r in sorted(worst.items())
        ]
        self.snapshots.publish(CONTROLLER, kind, key.namespace, key.name, cells)

    async def report(
        self,
        key: ObjectRef,
        info: ResourceInfo,
        obj: Obj,
        types: tuple[str, ...],
        results: list[st.Result],
        verdict: st.Verdict | None,
    ) -> bool:
        """Publish the status page row, record Events and status; True when the sync is healthy.

        A sync found unhealthy stays in :attr:`unsynced` until a later report finds it healthy.
        """
        self.publish(key, info.kind, results, verdict)
        conditions = st.conditions_for(types, results, verdict)
        await self._events(key, obj, types, results, conditions, verdict)
        patch = st.status_patch(obj, results, conditions)
        if patch is not None and not await self.writer.patch_status(info, obj, patch):
            self.requeue(key)  # the object moved on; its next version gets the status
        healthy = conditions[0].status == "True"
        (self.unsynced.discard if healthy else self.unsynced.add)(key)
        return healthy

    async def _events(
        self,
        key: ObjectRef,
        obj: Obj,
        types: tuple[str, ...],
        results: list[st.Result],
        conditions: list[Condition],
        verdict: st.Verdict | None,
    ) -> None:
        status, reason, places = self._seen.get(key) or _said(obj, types)
        if verdict is not None and reason != verdict.reason:
            log.warning("objectsync %s/%s: %s", key.namespace, key.name, verdict.message)
            await self.writer.event(
                obj, type_="Warning", reason=verdict.reason, message=verdict.message
            )
        for failure in st.new_failures(places, results)[:10]:
            message = f"{failure.place}: {failure.message or failure.status}"
            log.warning("objectsync %s/%s: %s", key.namespace, key.name, message)
            await self.writer.event(obj, type_="Warning", reason=failure.status, message=message)
        if status == "False" and reason != st.SYNCING and conditions[0].status == "True":
            await self.writer.event(
                obj, type_="Normal", reason="Synced", message=conditions[0].message
            )
        self._seen[key] = (
            conditions[0].status,
            conditions[0].reason,
            {(r.cluster, r.namespace, r.name): r.status for r in results},
        )


def _said(obj: Obj, types: tuple[str, ...]) -> Seen:
    """What the object's status says (the first look since the hub started)."""
    current = find((obj.get("status") or {}).get("conditions"), types[0]) or {}
    return str(current.get("status", "")), str(current.get("reason", "")), st.statuses(obj)


def _health(status: str) -> Health:
    if status in st.HEALTHY:
        return Health.OK
    if status in (st.SYNCING, st.WAITING_FOR_REMOVAL):
        return Health.PROGRESSING
    return Health.FAILING
