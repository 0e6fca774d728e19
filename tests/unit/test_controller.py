"""Tests for the worker loop of hub.runtime.controller.Controller: what each outcome of a
reconcile does to the key (forget, requeue, back off, wait) and to the metrics."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager

import pytest

from hub.core.errors import Forbidden, KubeError, Requeue
from hub.runtime import controller as controller_module
from hub.runtime.controller import Controller
from hub.runtime.metrics import Metrics
from hub.runtime.queue import ItemExponentialFailureRateLimiter, WorkQueue
from hub.testing import background, until

NAME = "scripted"


class Scripted(Controller[str]):
    """Reconciles by raising (or not) what the script says for each attempt of a key."""

    name = NAME

    def __init__(self, script: dict[str, list[BaseException | None]]) -> None:
        super().__init__(Metrics(), workers=2)
        # Fast backoff, so a rate-limited retry comes at once; the failure count stays visible.
        self.queue = WorkQueue(ItemExponentialFailureRateLimiter(0.001, 0.001))
        self.script = script
        self.calls: list[str] = []
        self.requeues_seen: list[int] = []

    async def reconcile(self, key: str) -> None:
        self.calls.append(key)
        self.requeues_seen.append(self.queue.num_requeues(key))
        outcomes = self.script[key]
        outcome = outcomes.pop(0) if outcomes else None
        if outcome is not None:
            raise outcome

    def count(self, result: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "synchub_reconcile_total", {"controller": NAME, "result": result}
        )
        return value or 0.0

    def attempts(self, key: str) -> int:
        return self.calls.count(key)


def running(controller: Scripted) -> AbstractAsyncContextManager[object]:
    """The controller's workers, shut down (queue drained) on leaving."""
    return background(controller.run_workers(), stop=controller.queue.shutdown, timeout=5)


def forbidden() -> Forbidden:
    return Forbidden("master", 403, "Forbidden", "secrets is forbidden")


async def test_success_forgets_the_failures_of_the_key() -> None:
    controller = Scripted({"k": [KubeError("down"), KubeError("down"), None]})
    async with running(controller):
        controller.queue.add("k")
        await until(lambda: controller.count("success") == 1, what="the successful attempt")
    assert controller.requeues_seen == [0, 1, 2]  # each failure counted before the retry
    assert controller.queue.num_requeues("k") == 0
    assert (controller.count("error"), controller.count("success")) == (2, 1)


async def test_requeue_runs_the_key_again_after_its_delay_without_counting_a_failure() -> None:
    controller = Scripted({"k": [Requeue(0.2), None]})
    async with running(controller):
        controller.queue.add("k")
        await until(lambda: controller.count("requeue") == 1, what="the requeue")
        assert controller.queue.delayed == 1
        assert controller.attempts("k") == 1
        await until(lambda: controller.count("success") == 1, what="the second attempt")
    assert controller.requeues_seen == [0, 0]
    assert controller.count("error") == 0


async def test_kube_error_is_retried_rate_limited() -> None:
    controller = Scripted({"k": [KubeError("unreachable"), None]})
    async with running(controller):
        controller.queue.add("k")
        await until(lambda: controller.attempts("k") == 2, what="the retry")
    assert controller.requeues_seen == [0, 1]  # the retry went through the rate limiter
    assert controller.count("error") == 1


async def test_an_unexpected_error_is_retried_rate_limited(
    caplog: pytest.LogCaptureFixture,
) -> None:
    controller = Scripted({"k": [ValueError("bug"), None]})
    async with running(controller):
        controller.queue.add("k")
        await until(lambda: controller.count("success") == 1, what="the retry")
    assert controller.requeues_seen == [0, 1]
    assert controller.count("error") == 1
    assert "unexpected error" in caplog.text


async def test_forbidden_waits_the_long_delay_not_the_backoff() -> None:
    assert controller_module.FORBIDDEN_RETRY >= 10  # permissions change rarely
    controller = Scripted({"k": [forbidden(), None]})
    async with running(controller):
        controller.queue.add("k")
        await until(lambda: controller.count("error") == 1, what="the refused attempt")
        assert controller.queue.delayed == 1
        assert controller.queue.num_requeues("k") == 0  # not the rate limiter
    assert controller.attempts("k") == 1  # shutdown cancels the delayed retry


async def test_forbidden_retries_after_the_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(controller_module, "FORBIDDEN_RETRY", 0.1)
    controller = Scripted({"k": [forbidden(), None]})
    async with running(controller):
        controller.queue.add("k")
        await until(lambda: controller.count("success") == 1, what="the retry after the delay")
    assert controller.requeues_seen == [0, 0]


async def test_metrics_time_every_reconcile_and_report_the_queue_depth() -> None:
    controller = Scripted({key: [] for key in "abc"})
    async with running(controller):
        for key in "abc":
            controller.queue.add(key)
        await until(lambda: controller.count("success") == 3, what="three reconciles")
    registry = controller.metrics.registry
    observed = registry.get_sample_value(
        "synchub_reconcile_duration_seconds_count", {"controller": NAME}
    )
    assert observed == 3
    depth = registry.get_sample_value("synchub_workqueue_depth", {"controller": NAME})
    assert depth == 0


async def test_a_key_is_never_reconciled_by_two_workers_at_once() -> None:
    inside: set[str] = set()
    overlaps: list[str] = []

    class Slow(Scripted):
        async def reconcile(self, key: str) -> None:
            if key in inside:
                overlaps.append(key)
            inside.add(key)
            await asyncio.sleep(0.02)
            inside.discard(key)
            await super().reconcile(key)

    controller = Slow({"k": [KubeError("x")] * 3})
    async with running(controller):
        for _ in range(5):
            controller.queue.add("k")
            await asyncio.sleep(0.005)
        await until(lambda: controller.count("success") >= 1, what="the key to succeed")
    assert not overlaps
