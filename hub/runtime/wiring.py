"""Declarative wiring: what a controller watches and owns, and the topics controllers share.

In the spirit of controller-runtime's builder (``For``/``Owns``/``Watches``), every controller
states, as a :class:`Declaration`, which objects it reconciles, which it writes and which other
inputs queue work for it. Controllers subscribe their own handlers to what they watch in their
constructors; the manager (``hub/app.py``) only builds, starts and stops them, and hands every
controller its writers from one :class:`~hub.runtime.writer.Writers` factory that is gated on
leadership.

Every controller takes the collaborators all of them share as one :class:`Collaborators`
value, and only what is its own (a cache set, the member inventory, a clock) besides.

Controllers never import each other: one controller publishes on a :class:`Topic` it owns,
another subscribes to it through a structural protocol it defines itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from hub.config.settings import Config
    from hub.kube.client import ClusterClient
    from hub.kube.discovery import Discovery
    from hub.runtime.metrics import Metrics
    from hub.runtime.snapshots import Snapshots
    from hub.runtime.tasks import Supervisor
    from hub.runtime.writer import Writers

T = TypeVar("T")


@dataclass(frozen=True)
class Collaborators:
    """What the manager hands every controller it builds, once, instead of a parameter list."""

    config: Config
    """The hub's configuration (clusters.yaml)."""
    master: ClusterClient
    """The master cluster's client."""
    discovery: Discovery
    """The master's discovery."""
    writers: Writers
    """The only source of writers: all behind the leadership fence and ``--dry-run``."""
    supervisor: Supervisor
    """Runs the controller's background tasks (watches)."""
    metrics: Metrics
    """The hub's metrics."""
    snapshots: Snapshots
    """Where controllers publish what the status page shows."""


@dataclass(frozen=True)
class Resources:
    """One set of objects a controller reads or writes."""

    cluster: str
    """``master``, ``members`` or ``all``: where the objects live."""
    what: str
    """The objects, in words (``Federated* objects``, ``Events``, ...)."""

    def __str__(self) -> str:
        return f"{self.what} on {self.cluster}"


@dataclass(frozen=True)
class Declaration:
    """What a controller reconciles (``for_``), writes (``owns``) and listens to (``watches``).

    ``watches`` names the inputs other than ``for_`` that queue keys: other watch caches and
    the :class:`Topic` names of other controllers or of the member inventory.
    """

    for_: Resources
    """The objects whose keys the controller's queue holds."""
    owns: tuple[Resources, ...] = ()
    """The objects it writes; every write goes through a fenced writer."""
    watches: tuple[str, ...] = ()
    """Other inputs that queue keys (caches and topic names)."""

    def describe(self) -> str:
        """One line for the start-up log."""
        owns = ", ".join(map(str, self.owns)) or "nothing"
        watches = ", ".join(self.watches) or "nothing else"
        return f"for {self.for_}; owns {owns}; watches {watches}"


class Topic(Generic[T]):
    """A named, in-process stream of notifications: one publisher, any number of watchers.

    Handlers run synchronously inside :meth:`publish` (they queue keys; they never block).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._handlers: list[Callable[[T], None]] = []

    def subscribe(self, handler: Callable[[T], None]) -> None:
        """Call ``handler`` with every value published from now on."""
        self._handlers.append(handler)

    def publish(self, value: T) -> None:
        """Tell every subscriber about ``value``."""
        for handler in self._handlers:
            handler(value)
