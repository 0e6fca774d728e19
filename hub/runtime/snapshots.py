"""Snapshots: what each controller last knew about each object and cluster, for ``/status``.

Controllers publish; the web layer reads. The status page never calls a cluster and never
imports a controller: it renders the :class:`StatusView` that :meth:`Snapshots.view` returns.

Rules:

1. A snapshot holds **names, states and messages only**, never a value of a synced object
   (a Secret's data must not reach a page). Messages follow the same rule as Events.
2. Publishing is cheap and idempotent: publish on every reconcile. An unchanged snapshot
   changes nothing (not even its ``changed`` time); a changed one bumps :attr:`generation`.
3. Snapshots are frozen values; nothing a reader holds changes under it.
4. ``changed`` times are wall-clock seconds (``time.time()``), set here, per cell: the last
   time that cell's state or message changed.

Publishing from a controller (one call where its status is computed)::

    from hub.runtime.snapshots import Cell, Health

    snapshots.publish(
        "objectsync", "ObjectSync", "team-a", "shared-config",
        [Cell("member-1", "Synced", Health.OK),
         Cell("member-2", "ClusterNotReady", Health.FAILING, "connection refused")],
    )
    snapshots.forget("objectsync", "ObjectSync", "team-a", "shared-config")  # object deleted

Without ``state=``, the object's state is its worst cell's (``Unknown``, progressing, when
it has no cells); pass ``state``, ``health`` and
``message`` for a verdict that is not per cluster (copy rules on the master, a git fetch).
Several controllers may publish about the same object (copy and propagation both judge a
``FederatedSecret``): the page shows one row, the worst verdict first, each cell the worst
of what the controllers said about that cluster; a row in sync shows every controller's
state ("Copied · Propagated"). Clusters are published with
:meth:`Snapshots.publish_cluster`, the hub itself with :meth:`Snapshots.set_hub`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum


class Health(StrEnum):
    """How a state reads at a glance; the page colours by it and filters on it."""

    OK = "ok"
    PROGRESSING = "progressing"
    FAILING = "failing"


#: Worse first: the order in which verdicts win a merge.
SEVERITY = {Health.FAILING: 2, Health.PROGRESSING: 1, Health.OK: 0}


@dataclass(frozen=True, slots=True)
class Cell:
    """One object on one cluster: its state, how that reads, why, and since when."""

    cluster: str
    state: str
    health: Health
    message: str = ""
    changed: float = 0.0


@dataclass(frozen=True, slots=True)
class ObjectSummary:
    """Which object, its state, how that reads and why: what a snapshot and a row share."""

    kind: str
    namespace: str
    name: str
    state: str
    health: Health
    message: str

    @property
    def key(self) -> str:
        """``KIND/NAMESPACE/NAME`` (``KIND/NAME`` when cluster-scoped): the deep-link id."""
        return object_key(self.kind, self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class ObjectSnapshot(ObjectSummary):
    """What one controller (``source``) knows about one object."""

    source: str
    cells: tuple[Cell, ...] = ()
    changed: float = 0.0


@dataclass(frozen=True, slots=True)
class ObjectRow(ObjectSummary):
    """One object as the page shows it: every controller's snapshot of it, merged."""

    cells: dict[str, Cell]
    parts: tuple[ObjectSnapshot, ...]
    changed: float


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    """One cluster as the hub sees it."""

    name: str
    ready: bool
    role: str = "member"  # "master" or "member"
    version: str = ""  # the API server's gitVersion, "" until known
    mode: str = ""  # how objects reach it: "direct" (the hub writes) or "federation"
    labels: tuple[tuple[str, str], ...] = ()
    last_error: str = ""
    last_probe: float | None = None  # wall clock of the last health probe
    changed: float = 0.0


@dataclass(frozen=True, slots=True)
class HubInfo:
    """The hub itself: version, propagation mode and leadership."""

    version: str
    mode: str = "connecting"
    leader: str = "leader election off"  # "leader", "standby", or "leader election off"
    identity: str = ""


@dataclass(frozen=True, slots=True)
class StatusView:
    """Everything the page shows, at one moment: clusters in publish order, objects sorted."""

    hub: HubInfo
    clusters: tuple[ClusterSnapshot, ...]
    objects: tuple[ObjectRow, ...]
    generation: int
    taken: float

    @property
    def cluster_names(self) -> list[str]:
        """The matrix columns: known clusters first, then any a cell names that is not."""
        names = [c.name for c in self.clusters]
        seen = set(names)
        for row in self.objects:
            for name in row.cells:
                if name not in seen:
                    seen.add(name)
                    names.append(name)
        return names


def object_key(kind: str, namespace: str, name: str) -> str:
    """``KIND/NAMESPACE/NAME``, or ``KIND/NAME`` for a cluster-scoped object."""
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def worst(snapshots: Iterable[ObjectSnapshot]) -> ObjectSnapshot:
    """The snapshot with the worst health (the first of equals); the iterable is not empty."""
    return max(snapshots, key=lambda s: SEVERITY[s.health])


@dataclass
class Snapshots:
    """The registry: the latest snapshot per (source, object) and per cluster."""

    clock: Callable[[], float] = time.time
    generation: int = 0
    _objects: dict[tuple[str, str, str], dict[str, ObjectSnapshot]] = field(default_factory=dict)
    _clusters: dict[str, ClusterSnapshot] = field(default_factory=dict)
    _hub: HubInfo = field(default_factory=lambda: HubInfo(version=""))
    _view: StatusView | None = None

    def publish(
        self,
        source: str,
        kind: str,
        namespace: str,
        name: str,
        cells: Iterable[Cell] = (),
        *,
        state: str | None = None,
        health: Health | None = None,
        message: str = "",
    ) -> None:
        """Record what ``source`` knows about one object now (see the module docstring)."""
        now = self.clock()
        parts = self._objects.setdefault((kind, namespace, name), {})
        previous = parts.get(source)
        old = {c.cluster: c for c in previous.cells} if previous else {}
        stamped = tuple(
            sorted((_stamp(c, old.get(c.cluster), now) for c in cells), key=lambda c: c.cluster)
        )
        if state is None:
            verdict = max(stamped, key=lambda c: SEVERITY[c.health], default=None)
            state = verdict.state if verdict else "Unknown"
            health = health or (verdict.health if verdict else Health.PROGRESSING)
            message = message or (verdict.message if verdict else "")
        snapshot = ObjectSnapshot(
            kind, namespace, name, state, health or Health.OK, message, source, stamped, now
        )
        if previous is not None and replace(snapshot, changed=previous.changed) == previous:
            return
        parts[source] = snapshot
        self._changed()

    def forget(self, source: str, kind: str, namespace: str, name: str) -> None:
        """``source`` no longer knows the object (it was deleted, or left its scope)."""
        parts = self._objects.get((kind, namespace, name))
        if parts is None or parts.pop(source, None) is None:
            return
        if not parts:
            del self._objects[(kind, namespace, name)]
        self._changed()

    def publish_cluster(self, cluster: ClusterSnapshot) -> None:
        """Record a cluster's state; ``changed`` moves only when ready or last_error did."""
        previous = self._clusters.get(cluster.name)
        moved = previous is None or (previous.ready, previous.last_error) != (
            cluster.ready,
            cluster.last_error,
        )
        stamped = replace(
            cluster, changed=self.clock() if moved or previous is None else previous.changed
        )
        if previous == stamped:
            return
        self._clusters[cluster.name] = stamped
        self._changed()

    def set_hub(self, hub: HubInfo) -> None:
        """Record the hub's version, mode and leadership."""
        if hub != self._hub:
            self._hub = hub
            self._changed()

    @property
    def hub(self) -> HubInfo:
        """The hub's own facts, as last set."""
        return self._hub

    def view(self) -> StatusView:
        """The current picture; built once per change, shared by every reader until the next."""
        if self._view is None or self._view.generation != self.generation:
            rows = [_merge(k, parts) for k, parts in self._objects.items()]
            rows.sort(key=lambda r: (r.kind, r.namespace, r.name))
            self._view = StatusView(
                self._hub,
                tuple(self._clusters.values()),
                tuple(rows),
                self.generation,
                self.clock(),
            )
        return self._view

    def _changed(self) -> None:
        self.generation += 1


def _stamp(cell: Cell, previous: Cell | None, now: float) -> Cell:
    same = previous is not None and (previous.state, previous.message) == (cell.state, cell.message)
    return replace(cell, changed=previous.changed if same and previous else now)


def _merge(key: tuple[str, str, str], parts: dict[str, ObjectSnapshot]) -> ObjectRow:
    kind, namespace, name = key
    ordered = tuple(sorted(parts.values(), key=lambda s: s.source))
    verdict = worst(ordered)
    cells: dict[str, Cell] = {}
    for part in ordered:
        for cell in part.cells:
            held = cells.get(cell.cluster)
            if held is None or SEVERITY[cell.health] > SEVERITY[held.health]:
                cells[cell.cluster] = cell
    # In sync, every controller's word counts ("Copied · Propagated"); else the worst's.
    state = verdict.state
    if verdict.health == Health.OK:
        state = " · ".join(dict.fromkeys(p.state for p in ordered))
    messages = [p.message for p in ordered if p.health != Health.OK and p.message]
    changed = max(p.changed for p in ordered)
    return ObjectRow(
        kind, namespace, name, state, verdict.health, "; ".join(messages), cells,
        ordered, changed,
    )  # fmt: skip
