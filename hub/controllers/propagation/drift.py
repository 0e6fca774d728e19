"""Drift and fight detection for propagated copies: pure, with an injected clock.

A copy *drifted* when someone else changed a field the hub sets. The resourceVersion the hub
recorded after its own last write answers cheaply; otherwise the live object is compared
with the rendered one, field by field (server defaults may add fields the hub never sets).

The hub *fights* another writer when it has had to correct the same copy ``limit`` times
within ``window`` seconds; it then backs off instead of flapping the object, and corrects
again only once the copy has been left alone for ``quiet`` seconds (doubled by each further
correction in the window, up to ``quiet_max``): once the fight is over the copy is restored
seconds after the last foreign write, not a whole window later.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import KW_ONLY, dataclass, field
from typing import Generic, TypeVar

from hub.core.objects import Obj
from hub.core.patch import contains

K = TypeVar("K", bound=Hashable)

Clock = Callable[[], float]

FIGHT_WINDOW = 120.0  # seconds: drift corrections counted over this window
FIGHT_LIMIT = 3  # corrections in the window before the hub backs off
FIGHT_QUIET = 3.0  # seconds without a foreign write that end a fight ...
FIGHT_QUIET_MAX = 10.0  # ... doubling with each correction the fight provokes, up to this


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

    def drifted(self, key: K, desired: Obj, live: Obj, *, exact: bool = False) -> bool:
        """Someone else changed a field of ``desired`` in ``live`` since the hub wrote it.

        ``exact`` (strategy replace): any write by someone else since the hub's own last
        write is drift, fields they only added included.
        """
        rv = resource_version(live)
        written = self._written.get(key)
        if written == rv:
            return False
        if exact and written is not None:
            return True
        if contains(live, desired):
            self._written[key] = rv  # the same content: the next look is cheap again
            return False
        return True

    def forget(self, key: K) -> None:
        """The copy is gone (deleted, or no longer placed)."""
        self._written.pop(key, None)


_EPSILON = 1e-6  # seconds


@dataclass(eq=False)
class FightDetector(Generic[K]):
    """Counts drift corrections per key over a sliding window of ``clock`` time.

    It also remembers when each key was last written by someone else. The limits after
    ``clock`` are keyword-only.
    """

    clock: Clock
    _: KW_ONLY
    window: float = FIGHT_WINDOW
    limit: int = FIGHT_LIMIT
    quiet: float = FIGHT_QUIET
    quiet_max: float = FIGHT_QUIET_MAX
    _times: dict[K, deque[float]] = field(default_factory=dict, init=False, repr=False)
    #: key -> (version, first seen)
    _foreign: dict[K, tuple[str, float]] = field(default_factory=dict, init=False, repr=False)

    def hold(self, key: K, version: str) -> float:
        """Drift seen on ``key``, whose live copy is at ``version``: how long to hold off.

        0.0 to correct it now (counted), or the seconds to hold off because the hub is in a
        fight over it.
        """
        now = self.clock()
        seen = self._foreign.get(key)
        if seen is None or seen[0] != version:
            seen = self._foreign[key] = (version, now)
        times = self._times.setdefault(key, deque())
        while times and now - times[0] > self.window:
            times.popleft()
        if len(times) >= self.limit:
            quiet = min(self.quiet_max, self.quiet * 2.0 ** min(len(times) - self.limit, 16))
            wait = quiet - (now - seen[1])
            if wait > _EPSILON:  # clock arithmetic leaves crumbs; a crumb is no reason to wait
                return wait
        times.append(now)
        return 0.0

    def forget(self, key: K) -> None:
        """Forget the corrections of ``key`` (its copy is gone)."""
        self._times.pop(key, None)
        self._foreign.pop(key, None)
