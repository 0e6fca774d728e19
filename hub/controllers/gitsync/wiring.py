"""Build the GitSync controller: the one function the manager's builder calls."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from hub.controllers.gitsync.controller import GitSyncController
from hub.runtime.inventory import Inventory
from hub.runtime.wiring import Collaborators

WORKDIR_ENV = "SYNCHUB_GIT_WORKDIR"


def build_gitsync(
    deps: Collaborators,
    inventory: Inventory,
    closers: list[Callable[[], Awaitable[None]]],
    *,
    once: bool = False,
) -> GitSyncController:
    """The controller, on the shared member ``inventory``, with its working-copy directory.

    The directory is ``$SYNCHUB_GIT_WORKDIR``, else a fresh temporary one, removed on shutdown.

    It idles until the master serves ``gitsyncs.synchub.io`` (looked for at every discovery
    refresh).
    """
    root = os.environ.get(WORKDIR_ENV)
    workdir = Path(root) if root else Path(tempfile.mkdtemp(prefix="synchub-gitsync-"))
    controller = GitSyncController(deps, inventory, workdir=workdir, poll=not once)

    async def close() -> None:
        await asyncio.to_thread(controller.close)

    closers.append(close)
    return controller
