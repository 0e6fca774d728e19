"""Removing what a GitSync applied from whole clusters (docs/gitsync.md, "Prune").

Used when the GitSync is deleted (every cluster it applied to) and when a cluster leaves
its placement (that cluster). Only what :func:`hub.core.gitplan.prunable` allows is
deleted: objects SyncHub manages for this GitSync, never one annotated
``synchub.io/prune: disabled``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence

from hub.controllers.gitsync.engine import ClusterOutcome, Target, prune_entries
from hub.core import gitplan, gitspec
from hub.core.errors import KubeError, brief
from hub.core.gitplan import Entry

log = logging.getLogger(__name__)


async def remove(
    targets: Sequence[Target],
    unreachable: Iterable[ClusterOutcome],
    entries: Iterable[Entry],
    origin: str,
) -> list[ClusterOutcome]:
    """Prune ``entries`` on every target; the clusters still holding some (WaitingForRemoval).

    ``unreachable`` are the clusters that could not be reached at all: they wait too.
    """
    order = gitplan.removal_order(entries)
    results = await asyncio.gather(*(_remove_on(target, order, origin) for target in targets))
    waiting = [*unreachable, *(r for r in results if r is not None)]
    return [ClusterOutcome(c.name, gitspec.WAITING_FOR_REMOVAL, c.message) for c in waiting]


async def _remove_on(
    target: Target, entries: Sequence[Entry], origin: str
) -> ClusterOutcome | None:
    try:
        await prune_entries(target, entries, origin)
    except KubeError as exc:
        log.warning("gitsync: cluster %s: removal failed: %s", target.name, brief(exc))
        return ClusterOutcome(target.name, gitspec.WAITING_FOR_REMOVAL, brief(exc))
    return None
