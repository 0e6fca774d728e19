"""The worker loop shared by controllers: take a key, reconcile it, retry with backoff."""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from typing import ClassVar, Generic, TypeVar

from hub.core.errors import Forbidden, KubeError, QueueShutDown, Requeue, Retry
from hub.runtime.metrics import Metrics
from hub.runtime.queue import WorkQueue
from hub.runtime.wiring import Declaration, Resources

log = logging.getLogger(__name__)

K = TypeVar("K")

FORBIDDEN_RETRY = 30.0  # seconds


class Controller(ABC, Generic[K]):
    """A work queue of keys and workers that reconcile them; the manager runs it.

    Subclasses set :attr:`name` and :attr:`declaration`, take their collaborators in the
    constructor (subscribing their handlers there) and implement :meth:`reconcile`. The hooks
    :meth:`refresh`, :meth:`synced`, :meth:`settle` and :meth:`in_sync` let the manager start,
    probe and judge every controller the same way.
    """

    name: str = "controller"
    declaration: ClassVar[Declaration] = Declaration(Resources("master", "nothing"))

    def __init__(self, metrics: Metrics, workers: int = 4) -> None:
        self.metrics = metrics
        self.queue: WorkQueue[K] = WorkQueue()
        self.workers = workers

    @abstractmethod
    async def reconcile(self, key: K) -> None:
        """Bring one key to its desired state; raise to be retried with backoff."""

    async def refresh(self) -> None:
        """Start watches for what discovery now shows; called at start and after each refresh."""

    def synced(self) -> bool:
        """True once the caches this controller reads have synced (``/readyz``)."""
        return True

    async def settle(self) -> None:
        """``--once``: gather what must be known before judging (members probed, say)."""

    def in_sync(self) -> bool:
        """``--once``: True when no object this controller handles reports a problem."""
        return not self.out_of_sync()

    def out_of_sync(self) -> list[str]:
        """``--once``: one line per reason an object is not in sync; empty when all is.

        Each line names the object, the cluster, the status and the message.
        """
        return []

    async def run_workers(self) -> None:
        """Run the workers until the queue shuts down."""
        await asyncio.gather(*(self._worker() for _ in range(self.workers)))

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except QueueShutDown:
                return
            try:
                await self._process(key)
            finally:
                self.queue.done(key)
                self.metrics.workqueue_depth.labels(controller=self.name).set(len(self.queue))

    async def _process(self, key: K) -> None:
        started = time.monotonic()
        result = "success"
        try:
            await self.reconcile(key)
            self.queue.forget(key)
        except Requeue as again:
            result = "requeue"
            self.queue.add_after(key, again.delay)
        except Retry as failed:
            result = "failure"  # logged and recorded by the controller; healed by retrying
            if failed.delay is None:
                self.queue.add_rate_limited(key)
            else:
                self.queue.add_after(key, failed.delay)
        except Forbidden as exc:
            # Permissions change rarely: say it once in a while, not at backoff speed.
            result = "error"
            log.warning("%s %s: %s; will retry in %.0fs", self.name, key, exc, FORBIDDEN_RETRY)
            self.queue.add_after(key, FORBIDDEN_RETRY)
        except KubeError as exc:
            result = "error"
            log.warning("%s %s: %s; will retry", self.name, key, exc)
            self.queue.add_rate_limited(key)
        except asyncio.CancelledError:
            raise
        except Exception:
            result = "error"
            log.exception("%s %s: unexpected error; will retry", self.name, key)
            self.queue.add_rate_limited(key)
        finally:
            self.metrics.reconcile_total.labels(controller=self.name, result=result).inc()
            self.metrics.reconcile_duration.labels(controller=self.name).observe(
                time.monotonic() - started
            )
