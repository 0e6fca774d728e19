"""Work queue and rate limiters with client-go ``workqueue`` semantics, for one asyncio loop.

The queue guarantees that a key is never held by two workers at once, that duplicate adds
collapse while a key waits, and that a key added while it is being processed runs again
once the current holder calls :meth:`WorkQueue.done`. Typical worker loop::

    while True:
        try:
            key = await queue.get()
        except QueueShutDown:
            return
        try:
            await reconcile(key)
        except Exception:
            queue.add_rate_limited(key)   # retry with per-key backoff
        else:
            queue.forget(key)             # success: reset the key's backoff
        finally:
            queue.done(key)
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar

from hub.core.errors import QueueShutDown

__all__ = [
    "BucketRateLimiter",
    "ItemExponentialFailureRateLimiter",
    "MaxOfRateLimiter",
    "QueueShutDown",
    "RateLimiter",
    "WorkQueue",
    "default_controller_rate_limiter",
]

K = TypeVar("K", bound=Hashable)
K_contra = TypeVar("K_contra", bound=Hashable, contravariant=True)

#: Returns monotonic seconds; injectable so tests control time.
Clock = Callable[[], float]


# --- rate limiters -------------------------------------------------------------------------


class RateLimiter(Protocol[K_contra]):
    """How long to wait before retrying an item (client-go ``RateLimiter``)."""

    def when(self, item: K_contra) -> float:
        """Record one more failure of ``item`` and return the delay in seconds."""
        ...

    def forget(self, item: K_contra) -> None:
        """Stop tracking ``item`` (it succeeded or no longer exists)."""
        ...

    def num_requeues(self, item: K_contra) -> int:
        """How many times ``item`` has failed since it was last forgotten."""
        ...


class ItemExponentialFailureRateLimiter(Generic[K]):
    """Per-item exponential backoff: ``base * 2**failures``, capped at ``max_delay``."""

    # Beyond this exponent any sane base already exceeds any sane cap; avoids float overflow.
    _MAX_EXPONENT = 62

    def __init__(self, base_delay: float = 0.005, max_delay: float = 300.0) -> None:
        if base_delay < 0 or max_delay < 0:
            raise ValueError("delays must be non-negative")
        self._base = base_delay
        self._max = max_delay
        self._failures: dict[K, int] = {}

    def when(self, item: K) -> float:
        """Count a failure of ``item`` and return its delay."""
        exponent = self._failures.get(item, 0)
        self._failures[item] = exponent + 1
        return min(self._max, self._base * 2.0 ** min(exponent, self._MAX_EXPONENT))

    def forget(self, item: K) -> None:
        """Reset ``item``'s failures."""
        self._failures.pop(item, None)

    def num_requeues(self, item: K) -> int:
        """How many failures of ``item`` are counted."""
        return self._failures.get(item, 0)


class BucketRateLimiter(Generic[K]):
    """Overall token bucket shared by all items: ``qps`` refill rate, ``burst`` capacity.

    Like Go's ``rate.Limiter.Reserve``: every call takes a token, possibly going into debt,
    and the delay is how long until that debt is repaid. It tracks no per-item state.
    """

    def __init__(self, qps: float = 10.0, burst: int = 100, clock: Clock = time.monotonic) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError("qps must be > 0 and burst >= 1")
        self._qps = qps
        self._burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def when(self, item: K) -> float:
        """The delay the shared bucket imposes on this retry, whatever the item."""
        del item  # one bucket for all items
        now = self._clock()
        elapsed = max(0.0, now - self._last)  # tolerate a clock that steps back
        self._last = now
        self._tokens = min(self._burst, self._tokens + elapsed * self._qps) - 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self._qps

    def forget(self, item: K) -> None:
        """Nothing to forget: the bucket keeps no per-item state."""
        del item

    def num_requeues(self, item: K) -> int:
        """Always 0: the bucket does not count retries."""
        del item
        return 0


class MaxOfRateLimiter(Generic[K]):
    """Combines limiters: the delay is the longest any of them asks for."""

    def __init__(self, *limiters: RateLimiter[K]) -> None:
        if not limiters:
            raise ValueError("need at least one rate limiter")
        self._limiters = limiters

    def when(self, item: K) -> float:
        # A list, not a generator: every limiter must record the failure.
        """The longest delay any limiter asks for (each records the failure)."""
        return max([limiter.when(item) for limiter in self._limiters])

    def forget(self, item: K) -> None:
        """Reset ``item`` in every limiter."""
        for limiter in self._limiters:
            limiter.forget(item)

    def num_requeues(self, item: K) -> int:
        """The highest count any limiter keeps for ``item``."""
        return max(limiter.num_requeues(item) for limiter in self._limiters)


def default_controller_rate_limiter(
    *,
    base_delay: float = 0.005,
    max_delay: float = 300.0,
    qps: float = 10.0,
    burst: int = 100,
    clock: Clock = time.monotonic,
) -> MaxOfRateLimiter[K]:
    """Per-item exponential backoff combined with an overall token bucket.

    This is client-go's ``DefaultControllerRateLimiter``, with a 300 s cap instead of 1000 s.
    """
    return MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(base_delay, max_delay),
        BucketRateLimiter(qps, burst, clock),
    )


# --- the queue -----------------------------------------------------------------------------


class WorkQueue(Generic[K]):
    """A deduplicating, delaying, rate-limited FIFO of keys for asyncio workers.

    State follows client-go: ``dirty`` holds keys that need processing, ``processing`` the
    keys handed out by :meth:`get` and not yet :meth:`done`. A key is in the FIFO exactly
    when it is dirty and not processing, so it is never handed to two workers at once.

    Shutdown drains like client-go: :meth:`shutdown` refuses new adds and cancels delayed
    ones, but :meth:`get` keeps handing out what is already queued (including keys re-queued
    by :meth:`done`) and raises :class:`QueueShutDown` only once nothing is left.

    Single event loop, no threads; :meth:`add_after` needs a running loop.
    """

    def __init__(self, rate_limiter: RateLimiter[K] | None = None) -> None:
        if rate_limiter is None:
            rate_limiter = default_controller_rate_limiter()
        self._rate_limiter = rate_limiter
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        # One loop timer per delayed key: bounded by distinct keys, nothing to leak.
        self._delayed: dict[K, asyncio.TimerHandle] = {}
        self._getters: deque[asyncio.Future[None]] = deque()
        self._idle_waiters: list[asyncio.Future[None]] = []
        self._shutting_down = False

    def __len__(self) -> int:
        """Keys waiting to be handed out (not those being processed or delayed)."""
        return len(self._queue)

    @property
    def processing(self) -> int:
        """Keys handed out by :meth:`get` and not yet :meth:`done`."""
        return len(self._processing)

    @property
    def delayed(self) -> int:
        """Keys waiting on an :meth:`add_after` / :meth:`add_rate_limited` timer."""
        return len(self._delayed)

    @property
    def retrying(self) -> int:
        """Delayed keys that failed (a rate-limited retry), not those merely scheduled."""
        return sum(1 for key in self._delayed if self._rate_limiter.num_requeues(key) > 0)

    def pending(self, key: K) -> bool:
        """``key`` is waiting or being processed (not merely delayed)."""
        return key in self._dirty or key in self._processing

    # adding

    def add(self, key: K) -> None:
        """Mark ``key`` for processing. No-op if already pending or after shutdown."""
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return  # done() re-queues it, so it never reaches a second worker
        self._queue.append(key)
        self._wake_one_getter()

    def add_after(self, key: K, delay: float) -> None:
        """Add ``key`` after ``delay`` seconds.

        For a key already waiting, the earliest deadline wins. Delays <= 0 add at once.
        """
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay
        pending = self._delayed.get(key)
        if pending is not None:
            if pending.when() <= deadline:
                return
            pending.cancel()
        self._delayed[key] = loop.call_at(deadline, self._fire_delayed, key)

    def add_rate_limited(self, key: K) -> None:
        """Add ``key`` after the rate limiter's delay (counts one more failure)."""
        if self._shutting_down:
            return
        self.add_after(key, self._rate_limiter.when(key))

    def forget(self, key: K) -> None:
        """Reset ``key``'s failure count: call after success, and for deleted objects."""
        self._rate_limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        """How many times ``key`` has been retried since it last succeeded."""
        return self._rate_limiter.num_requeues(key)

    def cancel_delayed(self, key: K) -> None:
        """Drop ``key``'s pending :meth:`add_after` timer, if any (its reason is gone)."""
        timer = self._delayed.pop(key, None)
        if timer is not None:
            timer.cancel()

    def _fire_delayed(self, key: K) -> None:
        del self._delayed[key]
        self.add(key)

    # taking

    async def get(self) -> K:
        """Wait for a key and mark it processing; the caller must call :meth:`done`.

        Raises :class:`QueueShutDown` once shut down and nothing is queued.
        """
        while not self._queue:
            if self._shutting_down:
                raise QueueShutDown
            await self._wait_for_item()
        key = self._queue.popleft()
        self._dirty.discard(key)
        self._processing.add(key)
        return key

    def done(self, key: K) -> None:
        """Finish processing ``key``; re-queues it if it was added meanwhile."""
        if key not in self._processing:
            raise ValueError(f"done() for a key that is not being processed: {key!r}")
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._wake_one_getter()
        elif self._is_idle():
            self._wake_idle_waiters()

    # stopping

    def shutdown(self) -> None:
        """Refuse new adds, cancel delayed adds, and wake idle getters. Idempotent."""
        self._shutting_down = True
        for handle in self._delayed.values():
            handle.cancel()
        self._delayed.clear()
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)

    async def drain(self) -> None:
        """Wait until the queue is idle: nothing queued and nothing processing.

        Delayed keys do not count. Used for graceful shutdown (``shutdown()`` then
        ``drain()``) and to wait for a full pass in ``--once`` mode. Needs running workers
        if anything is queued; bound it with ``asyncio.timeout``.
        """
        while not self._is_idle():
            waiter = asyncio.get_running_loop().create_future()
            self._idle_waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._idle_waiters:
                    self._idle_waiters.remove(waiter)

    # internals

    def _is_idle(self) -> bool:
        return not self._queue and not self._processing

    async def _wait_for_item(self) -> None:
        getter = asyncio.get_running_loop().create_future()
        self._getters.append(getter)
        try:
            await getter
        except asyncio.CancelledError:
            if getter in self._getters:
                self._getters.remove(getter)
            # Woken, then cancelled before taking the item: pass the wake-up on so the
            # item is not stranded while other getters sleep.
            elif self._queue:
                self._wake_one_getter()
            raise

    def _wake_one_getter(self) -> None:
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
                return

    def _wake_idle_waiters(self) -> None:
        for waiter in self._idle_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._idle_waiters.clear()
