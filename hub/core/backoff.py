"""Exponential backoff with jitter, as a value the caller sleeps on.

``Backoff(initial, maximum)`` gives ``initial``, then twice that, and so on up to
``maximum``, each multiplied by a random factor in ``[1 - jitter, 1 + jitter]`` so that many
loops failing together do not retry in step. ``reset()`` after a success starts again from
``initial``. It only computes delays: sleeping (on an event, a clock or ``asyncio.sleep``) is
the caller's, so this stays pure and serves every layer, ``kube/`` included. The work queue's
per-item rate limiter (runtime/queue.py) is separate: it follows client-go and has no jitter.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

# 2**64 times any sensible initial delay is past every maximum: the exponent stops there, so a
# loop failing for weeks never overflows a float.
_MAX_EXPONENT = 64


@dataclass(slots=True)
class Backoff:
    """Delays for one retry loop: call :meth:`next` after each failure, :meth:`reset` on success.

    ``rng`` returns a float in ``[0, 1)``; inject one for reproducible delays in tests.
    """

    initial: float
    """First delay in seconds."""
    maximum: float
    """Longest delay in seconds, before jitter."""
    factor: float = 2.0
    """Growth per consecutive failure."""
    jitter: float = 0.2
    """Relative spread: 0.2 gives a factor between 0.8 and 1.2; 0 gives exact delays."""
    rng: Callable[[], float] = field(default=random.random, repr=False)
    """Source of randomness in ``[0, 1)``."""
    failures: int = 0
    """Consecutive failures so far."""

    def next(self) -> float:
        """Count one more failure and return how long to wait before the next attempt."""
        self.failures += 1
        exponent = min(self.failures - 1, _MAX_EXPONENT)
        base = min(self.maximum, self.initial * self.factor**exponent)
        return float(base * (1.0 + self.jitter * (2.0 * self.rng() - 1.0)))

    def reset(self) -> None:
        """Forget the failures: the next delay is ``initial`` again."""
        self.failures = 0
