"""Wiring of the ObjectSync controller: the one function the manager calls (docs/objectsync.md)."""

from __future__ import annotations

from hub.config.settings import Config
from hub.runtime.inventory import Inventory
from hub.runtime.metrics import Metrics
from hub.runtime.snapshots import Snapshots
from hub.runtime.tasks import Supervisor
from hub.runtime.writer import Writers

from .controller import ObjectSyncController


def build_objectsync(
    config: Config,
    inventory: Inventory,
    writers: Writers,
    supervisor: Supervisor,
    metrics: Metrics,
    *,
    once: bool = False,
    snapshots: Snapshots | None = None,
) -> ObjectSyncController:
    """The controller, subscribed to member changes (a member returned, its labels changed).

    The manager starts its watches (:meth:`~ObjectSyncController.refresh`) and workers.
    ``once``: no resync periods (``synchub run --once`` judges and exits).
    """
    controller = ObjectSyncController(
        config,
        inventory,
        writers,
        supervisor,
        metrics,
        resync_periods=not once,
        snapshots=snapshots,
    )
    inventory.changed.subscribe(controller.resync)
    return controller
