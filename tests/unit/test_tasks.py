"""Tests for hub.runtime.tasks.Supervisor: tasks restart with backoff; stop cancels them all."""

from __future__ import annotations

import asyncio
import time

from hub.runtime.tasks import Supervisor
from hub.testing import until


def running_tasks(*names: str) -> list[asyncio.Task[object]]:
    """The tasks of these names that have not finished."""
    return [t for t in asyncio.all_tasks() if t.get_name() in names]


async def test_a_failing_task_restarts_with_growing_delays() -> None:
    calls: list[float] = []

    async def fails() -> None:
        calls.append(time.monotonic())
        raise RuntimeError("boom")

    supervisor = Supervisor()
    supervisor.spawn("fails", fails)
    try:
        await until(lambda: len(calls) >= 3, timeout=15, what="two restarts")
    finally:
        await supervisor.stop()
    first, second = calls[1] - calls[0], calls[2] - calls[1]
    assert first >= 0.5, f"restarted after {first:.2f}s: no backoff"
    assert second > first, f"delays {first:.2f}s then {second:.2f}s: not growing"


async def test_a_task_that_returns_is_started_again() -> None:
    runs = 0

    async def returns() -> None:
        nonlocal runs
        runs += 1

    supervisor = Supervisor()
    supervisor.spawn("returns", returns)
    try:
        await until(lambda: runs >= 2, timeout=10, what="a restart")
    finally:
        await supervisor.stop()


async def test_stop_cancels_every_task_and_nothing_restarts() -> None:
    started: list[str] = []
    cancelled: list[str] = []

    async def run(name: str) -> None:
        started.append(name)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(name)
            raise

    supervisor = Supervisor()
    supervisor.spawn("a", lambda: run("a"))
    supervisor.spawn("b", lambda: run("b"))

    await until(lambda: sorted(started) == ["a", "b"], timeout=5, what="both tasks")
    await supervisor.stop()
    assert sorted(cancelled) == ["a", "b"]
    assert not running_tasks("a", "b")
    assert sorted(started) == ["a", "b"]


async def test_a_name_runs_once() -> None:
    started = 0
    gate = asyncio.Event()

    async def run() -> None:
        nonlocal started
        started += 1
        await gate.wait()

    supervisor = Supervisor()
    supervisor.spawn("one", run)
    supervisor.spawn("one", run)

    await until(lambda: started >= 1, timeout=5, what="the task")
    assert len(running_tasks("one")) == 1
    await supervisor.stop()
    assert started == 1
    assert not running_tasks("one")
