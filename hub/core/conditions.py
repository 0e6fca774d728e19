"""Status conditions (Kubernetes API conventions) and the status patches that set them.

Pure: the condition list is computed from the current one, never mutated; the writer in
runtime/writer.py sends the patch (docs/federated.md and docs/annotations.md list the
conditions the hub writes).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.core import objects
from hub.core.objects import Obj


@dataclass(frozen=True, slots=True)
class Condition:
    """One entry of ``status.conditions``, as the hub wants it."""

    type: str
    """The condition type, e.g. ``CopyReady`` or ``Propagation``."""
    status: str
    """``"True"``, ``"False"`` or ``"Unknown"``."""
    reason: str
    """A CamelCase word saying why."""
    message: str = ""
    """One line for people; never a value from a Secret."""


def now_rfc3339() -> str:
    """The current UTC time in the format of ``lastTransitionTime``."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def find(conditions: Any, type_: str) -> dict[str, Any] | None:
    """The entry of type ``type_`` in a condition list, None when absent."""
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
    """The condition list with ``wanted`` set.

    ``lastTransitionTime`` moves only when the status does, and other writers' conditions are
    kept as they are.
    """
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


def status_patch(
    obj: Obj,
    condition: Condition,
    *,
    fields: Mapping[str, Any] | None = None,
    condition_generation: bool = False,
    now: str,
) -> Obj | None:
    """The merge patch that sets ``condition`` and ``fields`` on ``obj``'s status, or None.

    None means the status already says all of it: nothing is written. The patch carries the
    object's resourceVersion, so a write based on a stale copy fails with a conflict. With
    ``condition_generation`` the condition records ``metadata.generation`` (and a new
    generation alone rewrites it). A field missing
    from the status counts as equal to an empty list or map.
    """
    status = obj.get("status")
    current: Mapping[str, Any] = status if isinstance(status, Mapping) else {}
    wanted = dict(fields or {})
    conditions = current.get("conditions")
    generation = objects.generation(obj) if condition_generation else None
    unchanged = not differs(find(conditions, condition.type), condition, generation) and all(
        current.get(key, _empty_like(value)) == value for key, value in wanted.items()
    )
    if unchanged:
        return None
    wanted["conditions"] = merged(conditions, condition, now=now, observed_generation=generation)
    return {
        "metadata": {"resourceVersion": objects.resource_version(obj)},
        "status": wanted,
    }


def _empty_like(value: Any) -> Any:
    return type(value)() if isinstance(value, list | dict) else None
