"""The leader's write fence: time-bounded by the last renewal, and it cancels writes in flight."""

from __future__ import annotations

import asyncio

import pytest

from hub.core.errors import NotLeader
from hub.runtime.leader import WriteFence


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def is_open(fence: WriteFence) -> bool:
    """The fence's state now (a call, so that mypy does not narrow it across assertions)."""
    return fence.open


def test_open_until_the_granted_time_only() -> None:
    clock = Clock()
    fence = WriteFence(open_=False, clock=clock)
    assert not is_open(fence)
    fence.grant(until=110.0)
    assert is_open(fence)
    clock.now = 109.9
    fence.check()
    clock.now = 110.0  # a process paused past its renew deadline resumes with the fence shut
    assert not is_open(fence)
    with pytest.raises(NotLeader, match="refusing to apply Secret x"):
        fence.check("apply Secret x")


def test_a_closed_fence_stays_closed_until_granted_again() -> None:
    fence = WriteFence(clock=Clock())
    fence.close()
    assert not fence.open
    fence.grant()
    assert fence.open


async def test_closing_cancels_writes_in_flight() -> None:
    fence = WriteFence()
    started = asyncio.Event()

    async def write() -> None:
        with fence.writing("apply Secret x"):
            started.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(write())
    await started.wait()
    fence.close()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_writing_refuses_when_closed() -> None:
    fence = WriteFence(open_=False)
    with pytest.raises(NotLeader), fence.writing("delete Secret x"):
        raise AssertionError("the write must not start")
