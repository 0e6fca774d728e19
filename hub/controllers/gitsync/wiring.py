"""Build the GitSync controller: the one function the manager's builder calls."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from hub.config.settings import Config
from hub.controllers.gitsync.controller import GitSyncController
from hub.kube.client import ClusterClient
from hub.kube.discovery import Discovery
from hub.runtime.inventory import Inventory
from hub.runtime.metrics import Metrics
from hub.runtime.tasks import Supervisor
from hub.runtime.writer import Writers

WORKDIR_ENV = "SYNCHUB_GIT_WORKDIR"


def build_gitsync(
    config: Config,
    master: ClusterClient,
    discovery: Discovery,
    inventory: Inventory,
    writers: Writers,
    supervisor: Supervisor,
    metrics: Metrics,
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
    controller = GitSyncController(
        config, master, discovery, inventory, writers, supervisor, metrics, workdir=workdir,
        poll=not once,
    )  # fmt: skip

    async def close() -> None:
        await asyncio.to_thread(controller.close)

    closers.append(close)
    return controller
