"""Wiring of the ObjectSync controller: the one function the manager calls (docs/objectsync.md)."""

from __future__ import annotations

from hub.runtime.inventory import Inventory
from hub.runtime.wiring import Collaborators

from .controller import ObjectSyncController


def build_objectsync(
    deps: Collaborators, inventory: Inventory, *, once: bool = False
) -> ObjectSyncController:
    """The controller, subscribed to member changes (a member returned, its labels changed).

    The manager starts its watches (:meth:`~ObjectSyncController.refresh`) and workers.
    ``once``: no resync periods (``synchub run --once`` judges and exits).
    """
    controller = ObjectSyncController(deps, inventory, resync_periods=not once)
    inventory.changed.subscribe(controller.resync)
    return controller
