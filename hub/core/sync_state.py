"""How a synced object is doing, read from its status alone.

For ``synchub status`` and ``reconcile --wait``. Pure; works for every synced kind:
Federated*, ObjectSync, Replika, GitSync.

Readiness comes from the first of the kinds' main conditions present (``Propagation``,
``Ready``, ``InSync``, ``SourceSynced``, ``CopyReady``); a ``False`` in any of them is a
failure. Per-cluster rows come from ``status.clusters`` or ``status.destinations``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.core.federation import LAST_HANDLED_FIELD, RECONCILE_AT_ANNOTATION, SUSPEND_ANNOTATION

MAIN_CONDITIONS = ("Propagation", "Ready", "InSync", "SourceSynced", "CopyReady")
#: Per-cluster states that are not failures.
GOOD_STATES = frozenset({"Propagated", "Synced", "Applied", "Orphaned", "Suspended", "Ready"})


@dataclass(frozen=True)
class ClusterState:
    """One row of ``status.clusters`` (or ``status.destinations``)."""

    name: str
    status: str
    message: str = ""


@dataclass(frozen=True)
class SyncState:
    """The summary ``synchub status`` prints for one object."""

    ready: str  # "True" | "False" | "Unknown"
    message: str
    clusters: tuple[ClusterState, ...]
    suspended: bool

    @property
    def failed(self) -> bool:
        """A main condition is False, or a cluster is in a failure state."""
        return self.ready == "False" or any(c.status not in GOOD_STATES for c in self.clusters)


def _conditions(status: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    found = status.get("conditions")
    items = found if isinstance(found, list) else []
    return {str(c.get("type")): c for c in items if isinstance(c, Mapping)}


def _rows(status: Mapping[str, Any]) -> tuple[ClusterState, ...]:
    rows: list[ClusterState] = []
    for key in ("clusters", "destinations"):
        for entry in status.get(key) or []:
            if not isinstance(entry, Mapping):
                continue
            name = str(entry.get("name") or entry.get("cluster") or "?")
            if key == "destinations" and entry.get("namespace"):
                name = f"{name}/{entry['namespace']}"
            rows.append(
                ClusterState(name, str(entry.get("status", "")), str(entry.get("message") or ""))
            )
    return tuple(rows)


def sync_state(obj: Mapping[str, Any]) -> SyncState:
    """Summarise ``obj``'s status; never reads anything but the object."""
    status = obj.get("status") if isinstance(obj.get("status"), Mapping) else {}
    assert isinstance(status, Mapping)
    conditions = _conditions(status)
    present = [conditions[t] for t in MAIN_CONDITIONS if t in conditions]
    falses = [c for c in present if c.get("status") == "False"]
    chosen = falses[0] if falses else (present[0] if present else None)
    ready = "False" if falses else str(chosen.get("status", "Unknown")) if chosen else "Unknown"
    message = str(chosen.get("message") or chosen.get("reason") or "") if chosen else ""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return SyncState(ready, message, _rows(status), annotations.get(SUSPEND_ANNOTATION) == "true")


def reconcile_handled(obj: Mapping[str, Any], requested: str) -> bool:
    """True once the hub has handled the ``synchub.io/reconcile-at`` value ``requested``."""
    status = obj.get("status")
    return isinstance(status, Mapping) and status.get(LAST_HANDLED_FIELD) == requested


def reconcile_requested(obj: Mapping[str, Any]) -> str | None:
    """The pending ``synchub.io/reconcile-at`` value, when the status has not handled it yet."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    wanted = annotations.get(RECONCILE_AT_ANNOTATION)
    if not isinstance(wanted, str) or reconcile_handled(obj, wanted):
        return None
    return wanted
