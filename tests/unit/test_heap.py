"""The heap is frozen out of collections once the hub settles after work (runtime.heap)."""

from __future__ import annotations

import asyncio
import contextlib
import gc

from hub.runtime.heap import CHURN, REFREEZE_AFTER, freeze_when_settled


async def run_for(seconds: float, settled: list[bool], now: list[float]) -> None:
    task = asyncio.create_task(
        freeze_when_settled(lambda: settled[0], check_every=0.001, clock=lambda: now[0])
    )
    await asyncio.sleep(seconds)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def churn() -> None:
    for _ in range(CHURN):
        gc.collect(0)


async def test_freezes_only_when_settled_and_after_enough_work() -> None:
    gc.unfreeze()
    try:
        settled, now = [False], [1000.0]
        await run_for(0.05, settled, now)
        assert gc.get_freeze_count() == 0  # busy: never
        settled[0] = True
        await run_for(0.05, settled, now)
        frozen = gc.get_freeze_count()
        assert frozen > 0
        gc.unfreeze()
        now[0] += 1.0
        await run_for(0.05, settled, now)  # a fresh watcher: frozen again at once
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


async def test_no_second_freeze_without_new_work_or_time() -> None:
    gc.unfreeze()
    try:
        settled, now = [True], [1000.0]
        task = asyncio.create_task(
            freeze_when_settled(lambda: settled[0], check_every=0.001, clock=lambda: now[0])
        )
        await asyncio.sleep(0.05)
        assert gc.get_freeze_count() > 0
        gc.unfreeze()
        now[0] += REFREEZE_AFTER
        await asyncio.sleep(0.05)
        assert gc.get_freeze_count() == 0  # time passed, but no new work since
        now[0] -= REFREEZE_AFTER / 2
        churn()
        await asyncio.sleep(0.05)
        assert gc.get_freeze_count() == 0  # new work, but too soon after the last freeze
        now[0] += REFREEZE_AFTER / 2
        await asyncio.sleep(0.05)
        assert gc.get_freeze_count() > 0  # enough work and time since
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        gc.unfreeze()
