"""The cyclic garbage collector, kept off the heap of long-lived cache entries.

Each full collection walks every object the collector tracks, and the hub's caches are most
of them: dicts and lists decoded from the API servers' JSON, alive as long as the objects
they mirror. Left alone, a full collection paused the event loop for 55 ms at 1,000 objects
x 3 clusters, longer as the caches grow. Cache entries hold no reference cycles (reference
counting frees them when replaced), so once the controllers settle after a burst of work,
one collection clears the cycles there are and :func:`gc.freeze` moves every survivor into
the permanent generation, which later collections skip (docs/configuration.md, "Collector
pauses").

A reference cycle frozen while alive and dropped later is never collected. Such cycles are
rare here (a finished task, a caught exception): bytes, not a leak that grows with the
objects.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

SETTLE_CHECK = 5.0  # seconds between looks at whether the controllers have settled
REFREEZE_AFTER = 300.0  # seconds: at most one collection and freeze this often
CHURN = 100  # young collections since the last freeze (about 70,000 new objects) worth one


async def freeze_when_settled(
    settled: Callable[[], bool],
    *,
    check_every: float = SETTLE_CHECK,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Collect, then freeze the heap, each time the hub settles after enough new work."""
    last = -REFREEZE_AFTER
    young_at_last = -CHURN
    while True:
        await asyncio.sleep(check_every)
        young = gc.get_stats()[0]["collections"]
        if clock() - last < REFREEZE_AFTER or young - young_at_last < CHURN or not settled():
            continue
        started = clock()
        gc.collect()
        gc.freeze()
        last, young_at_last = clock(), gc.get_stats()[0]["collections"]
        log.debug(
            "heap: %d objects frozen out of collections (took %.0f ms)",
            gc.get_freeze_count(),
            (last - started) * 1000,
        )
