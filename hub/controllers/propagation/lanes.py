"""Per-cluster lanes: a hung member only ever holds its own lane (docs/propagation.md).

The work of one Federated object on one cluster runs in that cluster's own queue and workers.

The controller submits a key to every cluster's lane and reads back the latest
:class:`Outcome` of each; a lane tells the controller when an outcome changed. A lane whose
oldest request has been in flight for longer than :data:`STALLED_AFTER` is *stalled*: the
controller reports the cluster as not answering instead of waiting for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from hub.controllers.propagation.drift import Clock
from hub.controllers.propagation.report import ClusterResult
from hub.core.errors import KubeError, QueueShutDown
from hub.core.objects import ObjectRef
from hub.runtime.queue import WorkQueue
from hub.runtime.tasks import Supervisor

log = logging.getLogger(__name__)

LANE_WORKERS = 4  # concurrent objects per cluster (propagation.concurrency; docs/configuration.md)
STALLED_AFTER = 2.0  # seconds a request may take before its cluster is reported not answering


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one object on one cluster, for the object version it was computed on."""

    resource_version: str
    selected: bool
    result: ClusterResult | None


Work = Callable[[str, ObjectRef], Awaitable[Outcome | None]]


@dataclass
class _Lane:
    queue: WorkQueue[ObjectRef] = field(default_factory=WorkQueue)
    busy: dict[ObjectRef, float] = field(default_factory=dict)  # key -> when work started
    waiters: dict[ObjectRef, list[asyncio.Future[None]]] = field(default_factory=dict)


class Lanes:
    """One queue and ``workers`` (default :data:`LANE_WORKERS`) workers per cluster.

    Each lane starts on first use.
    """

    def __init__(
        self,
        supervisor: Supervisor,
        work: Work,
        changed: Callable[[ObjectRef], None],
        clock: Clock = time.monotonic,
        *,
        workers: int = LANE_WORKERS,
    ) -> None:
        self.supervisor = supervisor
        self.workers = workers
        self.work = work
        self.changed = changed
        self.clock = clock
        self._lanes: dict[str, _Lane] = {}
        self._outcomes: dict[tuple[str, ObjectRef], Outcome] = {}
        #: Keys whose outcome changed on some lane since the controller was last told.
        self._unreported: set[ObjectRef] = set()

    def submit(self, cluster: str, key: ObjectRef) -> asyncio.Future[None]:
        """Queue ``key`` on ``cluster``'s lane.

        The future resolves once a run that started after this call has finished.
        """
        lane = self._lanes.get(cluster)
        if lane is None:
            lane = self._lanes[cluster] = _Lane()
            self.supervisor.spawn(f"propagation:{cluster}", lambda: self._run(cluster, lane))
        done = asyncio.get_running_loop().create_future()
        lane.waiters.setdefault(key, []).append(done)
        lane.queue.add(key)
        return done

    def pending(self, cluster: str, key: ObjectRef) -> bool:
        """``key`` waits in ``cluster``'s lane or is being worked on there."""
        lane = self._lanes.get(cluster)
        return lane is not None and lane.queue.pending(key)

    def outcome(self, cluster: str, key: ObjectRef) -> Outcome | None:
        """The latest outcome of ``key`` on ``cluster``, if any."""
        return self._outcomes.get((cluster, key))

    def stalled_for(self, cluster: str) -> float:
        """Seconds the oldest work in flight on ``cluster`` has run when past the stall limit.

        That limit is :data:`STALLED_AFTER`; below it, 0.
        """
        lane = self._lanes.get(cluster)
        if lane is None or not lane.busy:
            return 0.0
        age = self.clock() - min(lane.busy.values())
        return age if age > STALLED_AFTER else 0.0

    def forget(self, key: ObjectRef) -> None:
        """The object is gone: drop its outcomes."""
        self._unreported.discard(key)
        for cluster in self._lanes:
            self._outcomes.pop((cluster, key), None)

    def shutdown(self) -> None:
        """Refuse new work; the workers finish what they hold."""
        for lane in self._lanes.values():
            lane.queue.shutdown()

    async def _run(self, cluster: str, lane: _Lane) -> None:
        await asyncio.gather(*(self._worker(cluster, lane) for _ in range(self.workers)))

    async def _worker(self, cluster: str, lane: _Lane) -> None:
        while True:
            try:
                key = await lane.queue.get()
            except QueueShutDown:
                return
            waiters = lane.waiters.pop(key, [])
            lane.busy[key] = self.clock()
            try:
                await self._process(cluster, lane, key)
            finally:
                del lane.busy[key]
                lane.queue.done(key)
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)

    async def _process(self, cluster: str, lane: _Lane, key: ObjectRef) -> None:
        try:
            outcome = await self.work(cluster, key)
            lane.queue.forget(key)
        except asyncio.CancelledError:
            raise
        except KubeError as exc:
            log.warning("propagation %s on %s: %s; will retry", key, cluster, exc)
            lane.queue.add_rate_limited(key)
            return
        except Exception:
            log.exception("propagation %s on %s: unexpected error; will retry", key, cluster)
            lane.queue.add_rate_limited(key)
            return
        before = self._outcomes.get((cluster, key))
        if outcome is None:
            self._outcomes.pop((cluster, key), None)
        else:
            self._outcomes[(cluster, key)] = outcome
        wrote = outcome is not None and outcome.result is not None and outcome.result.wrote
        if wrote or before != outcome:
            self._unreported.add(key)
        others = any(c != cluster and lane.queue.pending(key) for c, lane in self._lanes.items())
        if key in self._unreported and not others:
            # The last lane to answer tells the controller of every change since: one look
            # at all the outcomes, not one per cluster (a stalled lane: STALLED_AFTER).
            self._unreported.discard(key)
            self.changed(key)
