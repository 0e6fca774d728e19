"""Tests for hub.runtime.queue: client-go workqueue semantics on asyncio."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from hub.core.errors import QueueShutDown
from hub.core.objects import ObjectRef
from hub.runtime.queue import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    WorkQueue,
    default_controller_rate_limiter,
)

# Long enough to prove a get() is blocked, short enough to keep the suite fast.
BLOCKED = 0.02


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FixedLimiter:
    """Rate limiter returning a fixed delay and counting calls, to test queue wiring."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.failures: dict[str, int] = {}

    def when(self, item: str) -> float:
        self.failures[item] = self.failures.get(item, 0) + 1
        return self.delay

    def forget(self, item: str) -> None:
        self.failures.pop(item, None)

    def num_requeues(self, item: str) -> int:
        return self.failures.get(item, 0)


async def assert_blocked(queue: WorkQueue[str]) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(queue.get(), BLOCKED)


# --- dedup, ordering, processing ---------------------------------------------------------


async def test_duplicates_collapse_while_queued() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for key in ["a", "b", "a", "a", "b"]:
        queue.add(key)
    assert len(queue) == 2
    assert [await queue.get(), await queue.get()] == ["a", "b"]
    assert len(queue) == 0
    assert queue.processing == 2


async def test_works_with_object_refs() -> None:
    queue: WorkQueue[ObjectRef] = WorkQueue()
    ref = ObjectRef("master", "apps", "deployments", "ns", "web")
    queue.add(ref)
    queue.add(ObjectRef("master", "apps", "deployments", "ns", "web"))
    assert len(queue) == 1
    assert await queue.get() == ref


async def test_get_waits_for_add() -> None:
    queue: WorkQueue[str] = WorkQueue()
    getter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    assert not getter.done()
    queue.add("a")
    assert await getter == "a"


async def test_key_is_not_handed_out_twice_while_processing() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    assert await queue.get() == "a"
    queue.add("a")
    assert len(queue) == 0  # dirty, but held back until done()
    await assert_blocked(queue)


async def test_readd_while_processing_runs_once_more_after_done() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    await queue.get()
    queue.add("a")
    queue.add("a")
    queue.done("a")
    assert len(queue) == 1
    assert await queue.get() == "a"
    queue.done("a")
    assert len(queue) == 0
    await assert_blocked(queue)


async def test_done_wakes_a_blocked_getter_for_a_requeued_key() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    await queue.get()
    queue.add("a")
    getter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    assert not getter.done()
    queue.done("a")
    assert await getter == "a"


async def test_done_without_get_raises() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    with pytest.raises(ValueError, match="not being processed"):
        queue.done("a")
    assert len(queue) == 1


async def test_cancelled_getter_does_not_strand_an_item() -> None:
    queue: WorkQueue[str] = WorkQueue()
    first = asyncio.create_task(queue.get())
    second = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.add("a")  # wakes `first` ...
    first.cancel()  # ... which is cancelled before it can take the item
    assert await asyncio.wait_for(second, 1) == "a"
    assert first.cancelled()


# --- delayed adds --------------------------------------------------------------------------


async def test_add_after_delivers_later() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add_after("a", 0.01)
    assert (len(queue), queue.delayed) == (0, 1)
    assert await asyncio.wait_for(queue.get(), 1) == "a"
    assert queue.delayed == 0


async def test_add_after_non_positive_delay_adds_now() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add_after("a", 0)
    queue.add_after("b", -1)
    assert (len(queue), queue.delayed) == (2, 0)


@pytest.mark.parametrize("delays", [(60.0, 0.01), (0.01, 60.0)])
async def test_add_after_earliest_deadline_wins(delays: tuple[float, float]) -> None:
    queue: WorkQueue[str] = WorkQueue()
    for delay in delays:
        queue.add_after("a", delay)
    assert queue.delayed == 1  # one timer per key
    assert await asyncio.wait_for(queue.get(), 1) == "a"
    queue.done("a")
    assert queue.delayed == 0
    await assert_blocked(queue)


async def test_add_after_collapses_with_queued_key() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    queue.add_after("a", 0.005)
    await asyncio.sleep(0.02)
    assert len(queue) == 1


async def test_add_rate_limited_uses_limiter_delay() -> None:
    limiter = FixedLimiter(0.01)
    queue: WorkQueue[str] = WorkQueue(limiter)
    queue.add_rate_limited("a")
    queue.add_rate_limited("a")
    assert (len(queue), queue.delayed) == (0, 1)
    assert queue.num_requeues("a") == 2
    assert await asyncio.wait_for(queue.get(), 1) == "a"
    queue.forget("a")
    assert queue.num_requeues("a") == 0


async def test_default_queue_backs_off_per_key() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for _ in range(3):
        queue.add_rate_limited("a")
    assert queue.num_requeues("a") == 3
    queue.forget("a")
    assert queue.num_requeues("a") == 0
    queue.shutdown()


# --- shutdown and drain --------------------------------------------------------------------


async def test_shutdown_hands_out_remaining_then_raises() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    queue.add("b")
    queue.shutdown()
    queue.add("c")  # refused
    assert [await queue.get(), await queue.get()] == ["a", "b"]
    with pytest.raises(QueueShutDown):
        await queue.get()
    queue.add("d")  # still refused after draining
    assert len(queue) == 0


async def test_shutdown_still_requeues_keys_dirtied_before_it() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    await queue.get()
    queue.add("a")
    queue.shutdown()
    queue.done("a")
    assert await queue.get() == "a"
    queue.done("a")
    with pytest.raises(QueueShutDown):
        await queue.get()


async def test_shutdown_wakes_blocked_getters() -> None:
    queue: WorkQueue[str] = WorkQueue()
    getters = [asyncio.create_task(queue.get()) for _ in range(3)]
    await asyncio.sleep(0)
    queue.shutdown()
    results = await asyncio.gather(*getters, return_exceptions=True)
    assert all(isinstance(result, QueueShutDown) for result in results)


async def test_shutdown_cancels_delayed_adds() -> None:
    queue: WorkQueue[str] = WorkQueue(FixedLimiter(0.005))
    queue.add_after("a", 0.005)
    queue.add_rate_limited("b")
    queue.shutdown()
    queue.add_after("c", 0.005)
    assert queue.delayed == 0
    await asyncio.sleep(0.02)
    assert len(queue) == 0


async def test_drain_returns_at_once_when_idle() -> None:
    queue: WorkQueue[str] = WorkQueue()
    await asyncio.wait_for(queue.drain(), 1)


async def test_drain_waits_for_in_flight_and_queued_work() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for key in "abc":
        queue.add(key)
    held = await queue.get()
    drained = asyncio.create_task(queue.drain())
    queue.shutdown()
    await asyncio.sleep(0)
    assert not drained.done()
    queue.done(held)
    for _ in range(2):
        key = await queue.get()
        await asyncio.sleep(0)
        assert not drained.done()
        queue.done(key)
    await asyncio.wait_for(drained, 1)
    assert (len(queue), queue.processing) == (0, 0)


# --- rate limiters -------------------------------------------------------------------------


def test_exponential_backoff_grows_per_item_and_caps() -> None:
    limiter: ItemExponentialFailureRateLimiter[str] = ItemExponentialFailureRateLimiter(0.005, 0.04)
    assert [limiter.when("a") for _ in range(6)] == [0.005, 0.01, 0.02, 0.04, 0.04, 0.04]
    assert limiter.when("b") == 0.005  # items back off independently
    assert limiter.num_requeues("a") == 6


def test_exponential_backoff_defaults_and_no_overflow() -> None:
    limiter: ItemExponentialFailureRateLimiter[str] = ItemExponentialFailureRateLimiter()
    assert limiter.when("a") == 0.005
    delays = [limiter.when("a") for _ in range(2000)]
    assert max(delays) == 300.0
    assert delays[-1] == 300.0


def test_forget_resets_backoff() -> None:
    limiter: ItemExponentialFailureRateLimiter[str] = ItemExponentialFailureRateLimiter()
    for _ in range(5):
        limiter.when("a")
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0
    assert limiter.when("a") == 0.005


def test_token_bucket_allows_burst_then_paces() -> None:
    clock = FakeClock()
    limiter: BucketRateLimiter[str] = BucketRateLimiter(qps=10, burst=3, clock=clock)
    assert [limiter.when("x") for _ in range(3)] == [0, 0, 0]
    assert limiter.when("x") == pytest.approx(0.1)
    assert limiter.when("x") == pytest.approx(0.2)  # reservations queue up behind each other
    assert limiter.num_requeues("x") == 0


def test_token_bucket_refills_up_to_burst() -> None:
    clock = FakeClock()
    limiter: BucketRateLimiter[str] = BucketRateLimiter(qps=10, burst=2, clock=clock)
    limiter.when("x")
    limiter.when("x")
    clock.now += 0.1  # one token back
    assert limiter.when("x") == 0
    assert limiter.when("x") == pytest.approx(0.1)
    clock.now += 3600  # long idle: capped at burst, not 36000 tokens
    assert [limiter.when("x") for _ in range(2)] == [0, 0]
    assert limiter.when("x") == pytest.approx(0.1)


def test_token_bucket_tolerates_clock_stepping_back() -> None:
    clock = FakeClock()
    limiter: BucketRateLimiter[str] = BucketRateLimiter(qps=10, burst=1, clock=clock)
    limiter.when("x")
    clock.now -= 10
    assert limiter.when("x") == pytest.approx(0.1)


def test_max_of_takes_the_longest_delay_and_forgets_everywhere() -> None:
    clock = FakeClock()
    limiter: MaxOfRateLimiter[str] = MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(0.005, 300), BucketRateLimiter(10, 2, clock)
    )
    assert limiter.when("a") == 0.005  # backoff wins while the bucket has tokens
    assert limiter.when("b") == 0.005
    assert limiter.when("c") == pytest.approx(0.1)  # bucket empty: it wins
    assert limiter.num_requeues("a") == 1
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0


def test_default_controller_rate_limiter_combines_both() -> None:
    clock = FakeClock()
    limiter: MaxOfRateLimiter[int] = default_controller_rate_limiter(clock=clock)
    delays = [limiter.when(i) for i in range(101)]
    assert delays[:100] == [0.005] * 100  # burst of 100 distinct items, first failure each
    assert delays[100] == pytest.approx(0.1)  # then 10 qps
    for _ in range(20):
        last = limiter.when(0)
    assert last == 300.0


def test_rate_limiter_arguments_are_validated() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        ItemExponentialFailureRateLimiter(-1)
    with pytest.raises(ValueError, match="qps"):
        BucketRateLimiter(qps=0)
    with pytest.raises(ValueError, match="at least one"):
        MaxOfRateLimiter()


# --- property tests ------------------------------------------------------------------------

KEYS = st.sampled_from("abcde")


class QueueMachine(RuleBasedStateMachine):
    """Model: a key added after its last get is either queued once or held (and dirty)."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.queue: WorkQueue[str] = WorkQueue()
        self.held: set[str] = set()
        self.pending: set[str] = set()  # added since its last get
        self.shut = False

    def teardown(self) -> None:
        try:
            # Release every holder: each pending key must then come out exactly once.
            for key in sorted(self.held):
                self.done(key)
            seen: list[str] = []
            while len(self.queue) and len(seen) <= len(self.pending):  # bounded if buggy
                seen.append(self.get_now())
                self.queue.done(seen[-1])
            assert sorted(seen) == sorted(self.pending)
        finally:
            self.loop.close()

    def get_now(self) -> str:
        return self.loop.run_until_complete(self.queue.get())

    @rule(key=KEYS)
    def add(self, key: str) -> None:
        self.queue.add(key)
        if not self.shut:
            self.pending.add(key)

    @precondition(lambda self: len(self.queue) > 0)
    @rule()
    def get(self) -> None:
        key = self.get_now()
        assert key not in self.held, "handed to two holders"
        assert key in self.pending
        self.held.add(key)
        self.pending.discard(key)

    @precondition(lambda self: bool(self.held))
    @rule(data=st.data())
    def done_one(self, data: st.DataObject) -> None:
        self.done(data.draw(st.sampled_from(sorted(self.held))))

    def done(self, key: str) -> None:
        self.queue.done(key)
        self.held.discard(key)

    @rule()
    def shutdown(self) -> None:
        self.queue.shutdown()
        self.shut = True

    @precondition(lambda self: self.shut and len(self.queue) == 0)
    @rule()
    def get_after_shutdown_raises(self) -> None:
        with pytest.raises(QueueShutDown):
            self.get_now()

    @invariant()
    def queued_exactly_the_pending_keys_not_held(self) -> None:
        assert len(self.queue) == len(self.pending - self.held)
        assert self.queue.processing == len(self.held)


QueueMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestQueueMachine = QueueMachine.TestCase


@settings(max_examples=30, deadline=None)
@given(
    keys=st.lists(KEYS, min_size=1, max_size=30),
    workers=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_concurrent_workers_never_share_a_key_and_lose_nothing(
    keys: list[str], workers: int, seed: int
) -> None:
    # A private loop: asyncio.run() would reset the loop pytest-asyncio keeps for other tests.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(_run_workers(keys, workers, random.Random(seed)))
    finally:
        loop.close()


async def _run_workers(keys: list[str], workers: int, rng: random.Random) -> None:
    queue: WorkQueue[str] = WorkQueue()
    in_flight: set[str] = set()
    last_added: dict[str, int] = {}  # key -> step of its latest add
    last_started: dict[str, int] = {}  # key -> step when its latest processing began
    runs: list[str] = []
    step = 0

    async def worker() -> None:
        nonlocal step
        while True:
            try:
                key = await queue.get()
            except QueueShutDown:
                return
            assert key not in in_flight, "two workers hold one key"
            in_flight.add(key)
            runs.append(key)
            assert len(runs) <= len(keys), "more runs than adds"
            step += 1
            last_started[key] = step
            for _ in range(rng.randrange(3)):
                await asyncio.sleep(0)
            in_flight.discard(key)
            queue.done(key)

    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    for key in keys:
        step += 1
        last_added[key] = step
        queue.add(key)
        for _ in range(rng.randrange(2)):
            await asyncio.sleep(0)
    await asyncio.wait_for(queue.drain(), 1)
    queue.shutdown()
    await asyncio.gather(*tasks)
    # Every add was followed by a processing run that started after it.
    assert all(last_started[key] > added for key, added in last_added.items())


async def test_retrying_counts_failed_keys_not_scheduled_ones() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add_after("scheduled", 60)
    queue.add_rate_limited("failed")
    queue.add_rate_limited("failed")  # the earlier deadline stays; still one key
    assert queue.delayed == 2
    assert queue.retrying == 1
    queue.shutdown()
