"""Status conditions (Kubernetes API conventions), computed purely."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Condition:
    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str = ""


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def find(conditions: Any, type_: str) -> dict[str, Any] | None:
    for entry in conditions if isinstance(conditions, list) else []:
        if isinstance(entry, dict) and entry.get("type") == type_:
            return entry
    return None


def differs(
    current: dict[str, Any] | None, wanted: Condition, observed_generation: int | None = None
) -> bool:
    """``current`` must be rewritten to say ``wanted`` (at ``observed_generation``, if given)."""
    if current is None:
        return True
    if observed_generation is not None and current.get("observedGeneration") != observed_generation:
        return True
    return (current.get("status"), current.get("reason"), current.get("message", "")) != (
        wanted.status,
        wanted.reason,
        wanted.message,
    )


def merged(
    conditions: Any, wanted: Condition, *, now: str, observed_generation: int | None = None
) -> list[dict[str, Any]]:
    """The condition list with ``wanted`` set; lastTransitionTime moves only when the status
    does, and other writers' conditions are kept as they are."""
    current = find(conditions, wanted.type)
    transition = now
    if current is not None and current.get("status") == wanted.status:
        transition = current.get("lastTransitionTime") or now
    entry: dict[str, Any] = {
        "type": wanted.type,
        "status": wanted.status,
        "reason": wanted.reason,
        "message": wanted.message,
        "lastTransitionTime": transition,
    }
    if observed_generation is not None:
        entry["observedGeneration"] = observed_generation
    others = [
        c
        for c in (conditions if isinstance(conditions, list) else [])
        if not (isinstance(c, dict) and c.get("type") == wanted.type)
    ]
    return [*others, entry]
