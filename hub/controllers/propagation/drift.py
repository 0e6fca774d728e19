"""Drift and fight detection for propagated copies: pure, with an injected clock.

A copy *drifted* when someone else changed a field the hub sets. The resourceVersion the hub
recorded after its own last write answers cheaply; otherwise the live object is compared
with the rendered one, field by field (server defaults may add fields the hub never sets).

The hub *fights* another writer when it has had to correct the same copy more than
``limit`` times within ``window`` seconds; it then backs off instead of flapping the object.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from hub.core.objects import Obj
from hub.core.patch import contains

K = TypeVar("K", bound=Hashable)

Clock = Callable[[], float]

FIGHT_WINDOW = 120.0  # seconds: drift corrections counted over this window
FIGHT_LIMIT = 3  # corrections in the window before the hub backs off


def resource_version(obj: Obj) -> str:
    """``metadata.resourceVersion``, or ``""``."""
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))


class DriftTracker(Generic[K]):
    """Remembers the resourceVersion of the hub's own last write of each copy."""

    def __init__(self) -> None:
        self._written: dict[K, str] = {}

    def wrote(self, key: K, written: Obj) -> None:
        """The hub just wrote ``written`` (the server's answer) for ``key``."""
        self._written[key] = resource_version(written)

    def drifted(self, key: K, desired: Obj, live: Obj) -> bool:
        """Someone else changed a field of ``desired`` in ``live`` since the hub wrote it."""
        rv = resource_version(live)
        if self._written.get(key) == rv:
            return False
        if contains(live, desired):
            self._written[key] = rv  # the same content: the next look is cheap again
            return False
        return True

    def forget(self, key: K) -> None:
        """The copy is gone (deleted, or no longer placed)."""
        self._written.pop(key, None)

    def forget_where(self, match: Callable[[K], bool]) -> None:
        """Forget every key ``match`` accepts."""
        for key in [k for k in self._written if match(k)]:
            del self._written[key]


class FightDetector(Generic[K]):
    """Counts drift corrections per key over a sliding window of ``clock`` time."""

    def __init__(
        self, clock: Clock, *, window: float = FIGHT_WINDOW, limit: int = FIGHT_LIMIT
    ) -> None:
        self.clock = clock
        self.window = window
        self.limit = limit
        self._times: dict[K, deque[float]] = {}

    def correcting(self, key: K) -> bool:
        """Count one more correction of ``key``; True when that makes it a fight."""
        now = self.clock()
        times = self._times.setdefault(key, deque())
        while times and now - times[0] > self.window:
            times.popleft()
        times.append(now)
        return len(times) > self.limit

    def forget_where(self, match: Callable[[K], bool]) -> None:
        """Forget the corrections of every key ``match`` accepts."""
        for key in [k for k in self._times if match(k)]:
            del self._times[key]
