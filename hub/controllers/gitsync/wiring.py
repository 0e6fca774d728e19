"""Build and start the GitSync controller: the one function the manager calls."""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hub.config.loader import Config
from hub.controllers.gitsync.controller import GitSyncController
from hub.core import gitspec
from hub.core.errors import UnknownResource
from hub.kube.client import ClusterClient
from hub.kube.discovery import Discovery
from hub.runtime.inventory import Inventory
from hub.runtime.leader import WriteFence
from hub.runtime.metrics import Metrics
from hub.runtime.tasks import Supervisor

log = logging.getLogger(__name__)

WORKDIR_ENV = "SYNCHUB_GIT_WORKDIR"


@dataclass
class GitSyncRuntime:
    """The running controller, and the member inventory when it had to make its own."""

    controller: GitSyncController
    own_inventory: Inventory | None

    async def close(self) -> None:
        self.controller.close()
        if self.own_inventory is not None:
            await self.own_inventory.close()


async def start_gitsync(
    config: Config,
    master: ClusterClient,
    discovery: Discovery,
    inventory: Inventory | None,
    supervisor: Supervisor,
    metrics: Metrics,
    *,
    dry_run: bool = False,
    fence: WriteFence | None = None,
) -> GitSyncRuntime | None:
    """Start the controller when the master serves GitSync; None (logged) when it does not."""
    try:
        info = await discovery.for_kind(gitspec.GROUP, gitspec.KIND, gitspec.VERSION)
    except UnknownResource:
        log.info("GitSync CRD not installed on the master (synchub crds): GitSync is off")
        return None
    own = None
    if inventory is None:
        inventory = own = Inventory(master, discovery, config.master, list(config.members),
                                    supervisor, metrics, on_ready=lambda _name: None)  # fmt: skip
        own.start()
    root = os.environ.get(WORKDIR_ENV)
    workdir = Path(root) if root else Path(tempfile.mkdtemp(prefix="synchub-gitsync-"))
    controller = GitSyncController(config, master, info, inventory, supervisor, metrics,
                                   workdir=workdir, dry_run=dry_run, fence=fence)  # fmt: skip
    previous = inventory.on_ready

    def on_ready(name: str) -> None:
        previous(name)
        controller.resync(name)

    inventory.on_ready = on_ready
    controller.start()
    supervisor.spawn("gitsync-workers", controller.run_workers)
    return GitSyncRuntime(controller, own)
