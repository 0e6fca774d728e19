"""Wiring: connect to the master, start caches and controllers, serve HTTP, shut down cleanly."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from hub.config.loader import Config
from hub.controllers.copy.controller import CopyController
from hub.controllers.propagation.controller import PropagationController
from hub.core.errors import KubeError, LeadershipLost, UserError
from hub.core.federation import CONTROL_GROUPS, FEDERATED_GROUPS, propagation_mode
from hub.core.objects import Obj
from hub.kube.client import ClusterClient
from hub.kube.discovery import Discovery
from hub.kube.resources import ResourceInfo
from hub.kube.watch import EventType
from hub.runtime.caches import CacheSet
from hub.runtime.inventory import Inventory
from hub.runtime.leader import LeaderElector, WriteFence
from hub.runtime.metrics import Metrics
from hub.runtime.tasks import Supervisor
from hub.runtime.writer import Writer
from hub.web.server import HttpServer

log = logging.getLogger(__name__)

DISCOVERY_INTERVAL = 30.0  # seconds: new Federated CRDs become targets within this
ONCE_TIMEOUT = 300.0
CLUSTER_KINDS = ("KubeFedCluster", "FederatedCluster")
SHUTDOWN_GRACE = 10.0


@dataclass(frozen=True)
class RunOptions:
    once: bool = False
    dry_run: bool = False
    mode: str | None = None
    http_host: str = "0.0.0.0"
    http_port: int = 8080


class Hub:
    def __init__(self, config: Config, options: RunOptions) -> None:
        self.config = config
        self.options = options
        self.metrics = Metrics()
        self.supervisor = Supervisor()
        self.copy: CopyController | None = None
        self.propagation: PropagationController | None = None
        self.inventory: Inventory | None = None
        self.server = HttpServer(self.metrics, self.readiness)
        self.fence = WriteFence()
        self.elector: LeaderElector | None = None

    def readiness(self) -> tuple[bool, str]:
        if self.elector is not None and not self.elector.is_leader:
            return False, f"not the leader ({self.elector.identity})"
        if self.copy is None:
            return False, "connecting to the master"
        if not self.copy.synced():
            return False, "caches syncing"
        return True, "ready"

    async def run(self, stop: asyncio.Event) -> int:
        if not self.options.once:
            try:
                await self.server.start(self.options.http_host, self.options.http_port)
            except OSError as exc:
                where = f"{self.options.http_host}:{self.options.http_port}"
                raise UserError(f"--http-addr {where}: {exc.strerror or exc}") from None
            log.info("serving /healthz /readyz /metrics on port %d", self.server.port)
        connected = await self._connect_master(stop)
        if connected is None:  # --once could not connect, or asked to stop while trying
            await self.server.stop()
            return 0 if stop.is_set() else 1
        master, discovery = connected
        try:
            return await self._run_with(master, discovery, stop)
        finally:
            await self._shutdown()
            await master.close()

    async def _connect_master(self, stop: asyncio.Event) -> tuple[ClusterClient, Discovery] | None:
        """Connect and discover; a hub keeps trying, ``--once`` gives up at the first error."""
        failures = 0
        while not stop.is_set():
            client: ClusterClient | None = None
            try:
                client = await ClusterClient.connect(self.config.master)
                discovery = Discovery(client)
                await discovery.refresh()
                self.metrics.cluster_ready.labels(cluster=client.name).set(1)
                return client, discovery
            except KubeError as exc:
                if client is not None:
                    await client.close()
                self.metrics.cluster_ready.labels(cluster=self.config.master.name).set(0)
                if self.options.once:
                    log.error("master %s: %s", self.config.master.name, exc)
                    return None
                failures += 1
                delay = min(30.0, 2.0**failures) * random.uniform(0.8, 1.2)
                log.warning("master %s: %s; retrying in %.0fs", self.config.master.name, exc, delay)
                await _wait(stop, delay)
        return None

    async def _run_with(
        self, master: ClusterClient, discovery: Discovery, stop: asyncio.Event
    ) -> int:
        if self.config.leader_election.enabled and not self.options.once:
            self.elector = LeaderElector(
                master, self.config.leader_election.namespace, self.metrics, fence=self.fence
            )
            if not await _until_stopped(self.elector.acquire(), stop):
                return 0
        mode = self._mode(discovery)
        log.info(
            "master %s (%s): propagation mode %s%s",
            master.name,
            master.server,
            mode,
            " (dry-run: no writes)" if self.options.dry_run else "",
        )
        writer = Writer(master, self.metrics, dry_run=self.options.dry_run, fence=self.fence)
        self.copy = CopyController(
            self.config, master, discovery, writer, self.supervisor, self.metrics
        )
        if mode == "direct":
            self._start_propagation(master, discovery)
        await self._start_targets(discovery)
        self.supervisor.spawn("copy-workers", self.copy.run_workers)
        self.supervisor.spawn("discovery", lambda: self._rediscover(discovery))
        if self.options.once:
            return await self._once()
        if self.elector is not None:
            try:
                await _until_stopped(self.elector.hold(), stop)
            except LeadershipLost as exc:
                log.error("leader election: lost the lease (%s); exiting to restart clean", exc)
                return 1
        else:
            await stop.wait()
        log.info("shutting down")
        return 0

    def _start_propagation(self, master: ClusterClient, discovery: Discovery) -> None:
        assert self.copy is not None
        copy = self.copy
        self.inventory = Inventory(
            master,
            discovery,
            self.config.master,
            list(self.config.members),
            self.supervisor,
            self.metrics,
            on_ready=lambda _name: None,
        )
        self.propagation = PropagationController(
            self.config,
            self.inventory,
            copy.targets,
            self.supervisor,
            self.metrics,
            dry_run=self.options.dry_run,
            is_copy_source=lambda ref: ref in copy.index.sources(),
            fence=self.fence,
        )
        self.inventory.on_ready = self.propagation.resync
        copy.targets.add_handler(self.propagation.on_federated)
        copy.on_template_written = self.propagation.note_change
        copy.on_judged = self.propagation.queue.add
        self.propagation.copy_pending = copy.pending
        self.inventory.start()
        self._watch_cluster_labels(master, discovery)
        self.supervisor.spawn("propagation-workers", self.propagation.run_workers)

    def _watch_cluster_labels(self, master: ClusterClient, discovery: Discovery) -> None:
        """Merge labels of same-named KubeFedCluster / FederatedCluster objects, live."""
        inventory, propagation = self.inventory, self.propagation
        assert inventory is not None
        assert propagation is not None

        def on_cluster(_info: ResourceInfo, kind: EventType, obj: Obj) -> None:
            metadata = obj.get("metadata") or {}
            labels = {} if kind == "DELETED" else dict(metadata.get("labels") or {})
            if inventory.set_labels(str(metadata.get("name", "")), labels):
                log.info("cluster %s: labels from %s", metadata.get("name"), obj.get("kind"))
                propagation.resync()

        caches = CacheSet(master, self.supervisor, self.metrics, on_cluster)
        for info in discovery.resources:
            if info.group in CONTROL_GROUPS and info.kind in CLUSTER_KINDS and info.preferred:
                caches.ensure(info)
        propagation.placement_ready = caches.all_synced

    async def _start_targets(self, discovery: Discovery) -> None:
        """Caches for the copy targets, and for every Federated type when propagating."""
        assert self.copy is not None
        await self.copy.start_targets()
        if self.propagation is None:
            return
        for info in discovery.resources:
            if info.group in FEDERATED_GROUPS and info.preferred:
                for namespace in self.config.namespaces or ("",):
                    self.copy.targets.ensure(info, namespace)

    def _mode(self, discovery: Discovery) -> str:
        controller = any(discovery.serves_group(g) for g in CONTROL_GROUPS)
        return propagation_mode(self.options.mode or self.config.propagation.mode, controller)

    async def _rediscover(self, discovery: Discovery) -> None:
        """Pick up target CRDs created after start (discovery is two cheap requests)."""
        assert self.copy is not None
        while True:
            await asyncio.sleep(DISCOVERY_INTERVAL)
            try:
                await discovery.refresh()
                await self._start_targets(discovery)
            except KubeError as exc:
                log.warning("discovery refresh failed: %s", exc)

    async def _once(self) -> int:
        """Wait until every cache has synced and the queue is settled, then judge."""
        assert self.copy is not None
        copy = self.copy
        controllers: list[CopyController | PropagationController] = [copy]
        if self.propagation is not None:
            controllers.append(self.propagation)
            await self._members_probed()
        deadline = time.monotonic() + ONCE_TIMEOUT
        settled = 0
        while settled < 3:
            idle = copy.synced() and all(
                not len(c.queue) and not c.queue.processing for c in controllers
            )
            settled = settled + 1 if idle else 0
            if time.monotonic() > deadline:
                log.error("--once: not settled after %.0fs", ONCE_TIMEOUT)
                return 1
            await asyncio.sleep(0.05)
        delayed = sum(c.queue.delayed for c in controllers)
        if delayed:
            log.error("--once: %d objects are waiting to retry after errors", delayed)
            return 1
        if self.metrics.dry_run_skipped:
            log.error("--once --dry-run: %d writes would be needed", self.metrics.dry_run_skipped)
            return 1
        if not copy.in_sync() or (self.propagation and self.propagation.unsynced):
            log.error("--once: some objects are not in sync (see the warnings above)")
            return 1
        log.info("--once: everything is in sync")
        return 0

    async def _members_probed(self) -> None:
        """--once judges members too: give each its first probe before looking."""
        assert self.inventory is not None
        inventory = self.inventory
        try:
            async with asyncio.timeout(30):
                await inventory.probed.wait()
        except TimeoutError:
            pass
        assert self.propagation is not None
        self.propagation.resync()

    async def _shutdown(self) -> None:
        for controller in (self.copy, self.propagation):
            if controller is not None:
                controller.queue.shutdown()
        try:
            async with asyncio.timeout(SHUTDOWN_GRACE):
                for controller in (self.copy, self.propagation):
                    if controller is not None:
                        await controller.queue.drain()  # in-flight writes finish
        except TimeoutError:
            log.warning("shutdown: in-flight work did not finish in %.0fs", SHUTDOWN_GRACE)
        await self.supervisor.stop()
        if self.elector is not None:
            await self.elector.release()
        if self.inventory is not None:
            await self.inventory.close()
        await self.server.stop()


async def _until_stopped(work: Coroutine[Any, Any, None], stop: asyncio.Event) -> bool:
    """Run ``work`` until it ends (True) or ``stop`` is set (False); its errors propagate."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (task, stopped):
            if not pending.done():
                pending.cancel()
    if task.done() and not task.cancelled():
        task.result()
        return True
    return False


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        async with asyncio.timeout(seconds):
            await stop.wait()
    except TimeoutError:
        pass
