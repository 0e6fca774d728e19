"""What a reconcile's per-cluster results announce: failures entered, failures healed.

Pure: given the statuses a Federated object had per cluster and the ones it has now, say
which clusters went into a failure (a Warning Event and a log line) and which recovered (a
Normal Event). See docs/propagation.md, "Failures and retries".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from hub.core.federation import ClusterStatus

#: Statuses that are failures: announced on entry, retried with backoff until healed.
FAILURES = frozenset(
    {
        ClusterStatus.APPLY_FAILED,
        ClusterStatus.DELETION_FAILED,
        ClusterStatus.ALREADY_EXISTS,
        ClusterStatus.CLUSTER_NOT_READY,
        ClusterStatus.CREDENTIALS_INVALID,
    }
)


class Change(StrEnum):
    """How one cluster's status moved."""

    FAILED = "failed"
    HEALED = "healed"


@dataclass(frozen=True, slots=True)
class ClusterResult:
    """What happened to one Federated object on one cluster (one ``status.clusters`` entry)."""

    name: str
    status: ClusterStatus
    message: str = ""
    wrote: bool = False
    transient: bool = False
    """A passing state not worth announcing (a member cache still syncing)."""
    retry_after: float = 0.0
    """The failure schedules its own retry this many seconds later (0: the key's backoff)."""

    def as_status(self) -> dict[str, str]:
        """The ``status.clusters`` entry."""
        entry = {"name": self.name, "status": str(self.status)}
        if self.message:
            entry["message"] = self.message
        return entry


def transitions(
    previous: Mapping[str, str], results: Iterable[ClusterResult]
) -> list[tuple[Change, ClusterResult]]:
    """The announcements for moving from ``previous`` (cluster → status) to ``results``."""
    changes: list[tuple[Change, ClusterResult]] = []
    for result in results:
        before = previous.get(result.name, "")
        if result.status in FAILURES and not result.transient:
            if before != result.status:
                changes.append((Change.FAILED, result))
        elif result.status == ClusterStatus.PROPAGATED and before in FAILURES:
            changes.append((Change.HEALED, result))
    return changes


def is_failure(result: ClusterResult) -> bool:
    """The cluster must be retried with backoff until it succeeds."""
    return result.status in FAILURES
