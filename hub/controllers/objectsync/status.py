"""ObjectSync status: one entry per destination, the form's conditions, written on change.

Entries: ``{cluster, namespace, name, status, message?, syncedVersion?}`` sorted by place.
``Synced`` and ``Skipped`` (the source itself) are healthy; anything else makes Ready False.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.core.conditions import Condition, differs, find, merged, now_rfc3339
from hub.core.objects import Obj
from hub.core.objectsync import IN_SYNC_CONDITION, READY_CONDITION, SOURCE_SYNCED_CONDITION

SYNCED = "Synced"
SKIPPED = "Skipped"
ALREADY_EXISTS = "AlreadyExists"
CLUSTER_NOT_READY = "ClusterNotReady"
APPLY_FAILED = "ApplyFailed"
DELETION_FAILED = "DeletionFailed"
WAITING_FOR_REMOVAL = "WaitingForRemoval"
#: A cache is still listing: not a failure (no Event, no retry: the cache's sync re-queues).
SYNCING = "Syncing"
HEALTHY = frozenset({SYNCED, SKIPPED})
#: Failures that heal elsewhere (a member returns, RBAC is granted): retried with backoff.
RETRIED = frozenset(
    {ALREADY_EXISTS, CLUSTER_NOT_READY, APPLY_FAILED, DELETION_FAILED, WAITING_FOR_REMOVAL}
)
MAX_MESSAGE = 1024


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome for one destination."""

    cluster: str
    namespace: str
    name: str
    status: str
    message: str = ""
    synced_version: str = ""
    wrote: bool = False

    def entry(self) -> dict[str, str]:
        """The status entry (empty fields left out)."""
        entry = {
            "cluster": self.cluster,
            "namespace": self.namespace,
            "name": self.name,
            "status": self.status,
        }
        if self.message:
            entry["message"] = self.message
        if self.synced_version:
            entry["syncedVersion"] = self.synced_version
        return entry

    @property
    def place(self) -> str:
        """``cluster/namespace/name`` of the copy, for messages."""
        return f"{self.cluster}/{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why a whole sync is not fanned out (refused, source missing); None when planned."""

    reason: str
    message: str


def conditions_for(
    types: tuple[str, ...], results: list[Result], verdict: Verdict | None
) -> list[Condition]:
    """The form's conditions from the destination results, or from a refusal."""
    if verdict is not None:
        ready = Condition(READY_CONDITION, "False", verdict.reason, verdict.message)
        in_sync = Condition(IN_SYNC_CONDITION, "False", verdict.reason, verdict.message)
    else:
        failing = [r for r in results if r.status not in HEALTHY]
        synced = sum(1 for r in results if r.status == SYNCED)
        if failing:
            detail = "; ".join(f"{r.place}: {r.status}" for r in failing[:10])
            more = f" (and {len(failing) - 10} more)" if len(failing) > 10 else ""
            message = f"{len(failing)} of {len(results)} destinations failing: {detail}{more}"
            ready = Condition(READY_CONDITION, "False", failing[0].status, message[:MAX_MESSAGE])
            in_sync = Condition(IN_SYNC_CONDITION, "False", "OutOfSync", ready.message)
        else:
            message = f"{synced} copies in sync"
            ready = Condition(READY_CONDITION, "True", SYNCED, message)
            in_sync = Condition(IN_SYNC_CONDITION, "True", "InSync", message)
    if types == (SOURCE_SYNCED_CONDITION,):
        return [Condition(SOURCE_SYNCED_CONDITION, ready.status, ready.reason, ready.message)]
    return [ready, in_sync]


def status_patch(obj: Obj, results: list[Result], conditions: list[Condition]) -> Obj | None:
    """The status to write, or None when the object already says exactly this."""
    status = obj.get("status") or {}
    generation = (obj.get("metadata") or {}).get("generation")
    entries = [r.entry() for r in sorted(results, key=lambda r: (r.cluster, r.namespace, r.name))]
    synced = sum(1 for r in results if r.status == SYNCED)
    summary = f"{synced}/{sum(1 for r in results if r.status != SKIPPED)}"
    current = status.get("conditions")
    unchanged = (
        status.get("observedGeneration") == generation
        and status.get("destinations", []) == entries
        and status.get("destinationSummary") == summary
        and not any(differs(find(current, c.type), c) for c in conditions)
    )
    if unchanged:
        return None
    now = now_rfc3339()
    merged_conditions: Any = current
    for condition in conditions:
        merged_conditions = merged(
            merged_conditions, condition, now=now, observed_generation=generation
        )
    return {
        "observedGeneration": generation,
        "destinations": entries,
        "destinationSummary": summary,
        "conditions": merged_conditions,
    }


def statuses(obj: Obj) -> dict[tuple[str, str, str], str]:
    """Each destination's status as the object's status shows it."""
    return {
        (str(e.get("cluster")), str(e.get("namespace")), str(e.get("name"))): str(e.get("status"))
        for e in (obj.get("status") or {}).get("destinations") or []
        if isinstance(e, dict)
    }


def new_failures(before: dict[tuple[str, str, str], str], results: list[Result]) -> list[Result]:
    """Destinations that just moved into a failure (each gets a Warning Event)."""
    return [
        r
        for r in results
        if r.status not in HEALTHY | {SYNCING}
        and before.get((r.cluster, r.namespace, r.name)) != r.status
    ]
