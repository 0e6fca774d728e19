"""Supervised background tasks.

Every task is referenced, restarted with backoff if it ends or dies, and cancelled together
on shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from hub.core.backoff import Backoff

log = logging.getLogger(__name__)

TaskFactory = Callable[[], Coroutine[Any, Any, None]]
RESTART_BACKOFF = (1.0, 30.0)  # seconds: first and longest wait before restarting a task


class Supervisor:
    """Owns every background task: named, restarted with backoff, cancelled on stop."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    def spawn(self, name: str, factory: TaskFactory) -> None:
        """Run ``factory()`` as task ``name``; if it ever ends or fails, start it again."""
        if name in self._tasks:
            log.debug("task %s already runs; not starting it twice", name)
            return
        self._tasks[name] = asyncio.create_task(self._keep(name, factory), name=name)

    def cancel(self, name: str) -> None:
        """Stop task ``name`` for good (a watch nothing needs any more)."""
        task = self._tasks.pop(name, None)
        if task is not None:
            task.cancel()

    def names(self) -> list[str]:
        """Names of the tasks running now."""
        return list(self._tasks)

    async def _keep(self, name: str, factory: TaskFactory) -> None:
        # Exact delays, as before: one task restarting is no thundering herd.
        backoff = Backoff(RESTART_BACKOFF[0], RESTART_BACKOFF[1], jitter=0.0)
        while not self._stopping:
            delay = backoff.next()
            try:
                await factory()
                log.warning("task %s ended unexpectedly; restarting", name)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("task %s failed; restarting in %.0fs", name, delay)
            await asyncio.sleep(delay)

    async def stop(self) -> None:
        """Cancel every task and wait until they have ended."""
        self._stopping = True
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
