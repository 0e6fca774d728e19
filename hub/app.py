"""The manager: connect to the master, build and run the controllers, serve HTTP, shut down.

Controllers are listed in :data:`CONTROLLERS` as builders. A builder takes the shared
:class:`Wiring` (config, master client, discovery, the fenced :class:`~hub.runtime.writer.Writers`,
the shared target caches, the controllers built before it) and returns a controller, or None
when the controller does not apply. Controllers subscribe themselves to what their
:class:`~hub.runtime.wiring.Declaration` says they watch; the manager starts them, judges
them for ``/readyz`` and ``--once``, and drains them on shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hub import __version__
from hub.config.settings import Config
from hub.controllers.clusters.controller import ClusterRegistry
from hub.controllers.copy.controller import CopyController
from hub.controllers.gitsync.wiring import build_gitsync
from hub.controllers.objectsync.builder import build_objectsync
from hub.controllers.objectsync.controller import ObjectSyncController
from hub.controllers.propagation.controller import PropagationController
from hub.core.backoff import Backoff
from hub.core.errors import KubeError, LeadershipLost, UserError
from hub.core.federation import propagation_mode
from hub.kube.client import ClusterClient
from hub.kube.discovery import Discovery
from hub.kube.locks import federation_controller_running
from hub.runtime.caches import CacheSet
from hub.runtime.controller import Controller
from hub.runtime.heap import freeze_when_settled
from hub.runtime.inventory import Inventory
from hub.runtime.leader import LeaderElector, WriteFence
from hub.runtime.metrics import Metrics
from hub.runtime.snapshots import ClusterSnapshot, HubInfo, Snapshots
from hub.runtime.tasks import Supervisor
from hub.runtime.wiring import Collaborators
from hub.runtime.writer import Writers
from hub.web.server import HttpServer

log = logging.getLogger(__name__)

DISCOVERY_INTERVAL = 30.0  # seconds: new Federated CRDs become targets within this
ONCE_TIMEOUT = 300.0
SHUTDOWN_GRACE = 10.0
MASTER_BACKOFF = (2.0, 30.0)  # seconds: first and longest wait between connection attempts

C = TypeVar("C", bound=Controller[Any])


@dataclass(frozen=True)
class RunOptions:
    """How ``synchub run`` was asked to run."""

    once: bool = False
    """Judge once and exit: 0 when everything is in sync."""
    dry_run: bool = False
    """Log the writes that would be made; make none."""
    mode: str | None = None
    """``--mode``: overrides ``propagation.mode`` of clusters.yaml."""
    http_host: str = "0.0.0.0"
    """Address for /healthz, /readyz and /metrics."""
    http_port: int = 8080
    """Port for /healthz, /readyz and /metrics (0: any free port)."""


@dataclass
class Wiring:
    """What a controller builder gets: the shared collaborators of one connected hub."""

    config: Config
    options: RunOptions
    master: ClusterClient
    discovery: Discovery
    mode: str
    """The propagation mode in effect: ``direct`` or ``controller``."""
    supervisor: Supervisor
    metrics: Metrics
    writers: Writers
    """The only source of writers: all behind the leadership fence and ``--dry-run``."""
    targets: CacheSet
    """Shared watch caches of target and Federated objects on the master."""
    controllers: list[Controller[Any]] = field(default_factory=list)
    """The controllers built so far, in :data:`CONTROLLERS` order."""
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Called on shutdown after the workers stopped (member clients, say)."""
    snapshots: Snapshots = field(default_factory=Snapshots)
    """Where controllers publish what the status page shows."""

    _inventory: Inventory | None = None

    def inventory(self) -> Inventory:
        """The clusters the hub writes to.

        One set of member clients and probes, shared by every controller that asks.
        """
        if self._inventory is None:
            self._inventory = Inventory(
                self.master,
                self.discovery,
                self.config.master,
                list(self.config.members),
                self.supervisor,
                self.metrics,
                snapshots=self.snapshots,
                limits=self.config.client,
            )
            self.closers.append(self._inventory.close)
            self._inventory.start()
        return self._inventory

    def deps(self) -> Collaborators:
        """The collaborators every controller is built with."""
        return Collaborators(
            self.config,
            self.master,
            self.discovery,
            self.writers,
            self.supervisor,
            self.metrics,
            self.snapshots,
        )

    def find(self, kind: type[C]) -> C:
        """The controller of type ``kind`` built before this one."""
        for controller in self.controllers:
            if isinstance(controller, kind):
                return controller
        raise LookupError(f"no {kind.__name__} built yet (see CONTROLLERS order)")


#: Builds one controller, or returns None when it does not apply to this hub.
Builder = Callable[[Wiring], Controller[Any] | None]


def _copy(w: Wiring) -> CopyController:
    return CopyController(w.deps(), w.targets)


def _clusters(w: Wiring) -> ClusterRegistry:
    """The cluster registry; it builds the shared inventory in every mode.

    It reports the clusters' health even when a federation controller propagates.
    """
    inventory = w.inventory()
    inventory.mode = w.mode
    return ClusterRegistry(w.deps(), inventory)


def _propagation(w: Wiring) -> PropagationController | None:
    if w.mode != "direct":
        return None
    return PropagationController(w.deps(), w.inventory(), w.targets, copy=w.find(CopyController))


def _objectsync(w: Wiring) -> ObjectSyncController:
    return build_objectsync(w.deps(), w.inventory(), once=w.options.once)


def _gitsync(w: Wiring) -> Controller[Any]:
    return build_gitsync(w.deps(), w.inventory(), w.closers, once=w.options.once)


#: Every controller the hub runs, built in this order (a later one may ``find`` an earlier
#: one). Adding a controller: write a builder and append it here.
CONTROLLERS: tuple[Builder, ...] = (_copy, _clusters, _propagation, _objectsync, _gitsync)


class Manager:
    """Connects to the master, builds and runs the controllers, serves HTTP, shuts down."""

    def __init__(
        self, config: Config, options: RunOptions, builders: Sequence[Builder] = CONTROLLERS
    ) -> None:
        self.config = config
        self.options = options
        self.builders = tuple(builders)
        self.metrics = Metrics()
        self.supervisor = Supervisor()
        self.controllers: list[Controller[Any]] = []
        self.closers: list[Callable[[], Awaitable[None]]] = []
        self.snapshots = Snapshots()
        self.snapshots.set_hub(HubInfo(__version__))
        self.server = HttpServer(self.metrics, self.readiness, self.snapshots)
        self.fence = WriteFence()
        self.elector: LeaderElector | None = None
        self.wiring: Wiring | None = None
        self.mode = ""

    def readiness(self) -> tuple[bool, str]:
        """``/readyz``: connected, and on the leader every controller's caches synced.

        True on a standby too: leadership is ``synchub_leader`` (docs/deploy.md), not readiness.
        """
        if self.elector is not None and not self.elector.is_leader:
            return True, f"standby ({self.elector.identity}): connected, waiting for the lease"
        if not self.controllers:
            return False, "connecting to the master"
        if not all(c.synced() for c in self.controllers):
            return False, "caches syncing"
        return True, f"ready; propagation mode {self.mode}"

    async def run(self, stop: asyncio.Event) -> int:
        """Run until ``stop`` is set (or, with ``--once``, until judged); the exit code."""
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
        backoff = Backoff(*MASTER_BACKOFF)
        while not stop.is_set():
            client: ClusterClient | None = None
            try:
                client = self.metrics.observe_requests(
                    await ClusterClient.connect(self.config.master)
                )
                client.limit_rate(self.config.client.qps, self.config.client.burst)
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
                delay = backoff.next()
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
            self.snapshots.set_hub(
                HubInfo(__version__, leader="standby", identity=self.elector.identity)
            )
            if not await _until_stopped(self.elector.acquire(), stop):
                return 0
        mode = self.mode = await self._mode(master)
        self._publish_hub(master.name, mode)
        log.info(
            "master %s (%s): propagation mode %s%s",
            master.name,
            master.server,
            mode,
            " (dry-run: no writes)" if self.options.dry_run else "",
        )
        self.wiring = self._build(master, discovery, mode)
        await self._start(self.wiring, discovery)
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

    def _build(self, master: ClusterClient, discovery: Discovery, mode: str) -> Wiring:
        """Build every controller; each subscribes itself to what it watches."""
        wiring = Wiring(
            self.config,
            self.options,
            master,
            discovery,
            mode,
            self.supervisor,
            self.metrics,
            Writers(self.metrics, dry_run=self.options.dry_run, fence=self.fence),
            CacheSet(master, self.supervisor, self.metrics, packed=True),  # read by key
            closers=self.closers,
            snapshots=self.snapshots,
        )
        for build in self.builders:
            controller = build(wiring)
            if controller is not None:
                log.debug("controller %s: %s", controller.name, controller.declaration.describe())
                wiring.controllers.append(controller)
        return wiring

    async def _start(self, wiring: Wiring, discovery: Discovery) -> None:
        """Start the watches, then the workers, then the discovery refresh loop."""
        self.controllers = wiring.controllers  # /readyz judges them from now on
        for controller in self.controllers:
            await controller.refresh()
        for controller in self.controllers:
            self.supervisor.spawn(f"{controller.name}-workers", controller.run_workers)
        self.supervisor.spawn("discovery", lambda: self._rediscover(wiring.master, discovery))
        self.supervisor.spawn("heap", lambda: freeze_when_settled(self._settled))

    def _settled(self) -> bool:
        """Every controller's caches synced and its queue empty, nothing in progress."""
        return all(
            c.synced() and not len(c.queue) and not c.queue.processing for c in self.controllers
        )

    async def _rediscover(self, master: ClusterClient, discovery: Discovery) -> None:
        """Pick up CRDs created after start and re-decide the mode (a few cheap requests)."""
        while True:
            await asyncio.sleep(DISCOVERY_INTERVAL)
            try:
                await discovery.refresh()
                await self._recheck_mode(master)
                for controller in self.controllers:
                    await controller.refresh()
            except KubeError as exc:
                log.warning("discovery refresh failed: %s", exc)

    async def _recheck_mode(self, master: ClusterClient) -> None:
        """Say a mode change at WARNING and follow it.

        A switch to direct starts propagating, a switch to federation stops it (a federation
        controller propagates; docs/modes.md).
        """
        mode = await self._mode(master)
        if mode == self.mode or self.wiring is None:
            return
        log.warning("propagation mode changed from %s to %s", self.mode, mode)
        self.mode = self.wiring.mode = mode
        self._publish_hub(master.name, mode)
        self.wiring.inventory().mode = mode
        running = [c for c in self.controllers if isinstance(c, PropagationController)]
        # Paused, not rebuilt: its caches and per-cluster lanes are supervised tasks whose
        # names a second controller could not take (it never propagated after a switch back).
        for controller in running:
            if mode == "federation":
                controller.pause()
            else:
                controller.resume()
        if mode != "federation" and not running and (started := _propagation(self.wiring)):
            await started.refresh()
            self.controllers.append(started)
            self.supervisor.spawn(f"{started.name}-workers", started.run_workers)

    async def _once(self) -> int:
        """Wait until every cache has synced and every queue is settled, then judge."""
        for controller in self.controllers:
            await controller.settle()
        deadline = time.monotonic() + ONCE_TIMEOUT
        settled = 0
        while settled < 3:
            settled = settled + 1 if self._settled() else 0
            if time.monotonic() > deadline:
                log.error("--once: not settled after %.0fs", ONCE_TIMEOUT)
                return 1
            await asyncio.sleep(0.05)
        reasons = [line for c in self.controllers for line in c.out_of_sync()]
        for line in reasons:
            log.error("--once: not in sync: %s", line)
        if reasons:
            return 1
        # Scheduled looks (a sweep, a poll, a requeue) are not errors; failed retries are.
        retrying = sum(c.queue.retrying for c in self.controllers)
        if retrying:
            log.error("--once: %d objects are waiting to retry after errors", retrying)
            return 1
        if self.metrics.dry_run_skipped:
            log.error("--once --dry-run: %d writes would be needed", self.metrics.dry_run_skipped)
            return 1
        if not all(c.in_sync() for c in self.controllers):
            log.error("--once: some objects are not in sync")
            return 1
        log.info("--once: everything is in sync")
        return 0

    async def _shutdown(self) -> None:
        for controller in self.controllers:
            controller.queue.shutdown()
        try:
            async with asyncio.timeout(SHUTDOWN_GRACE):
                for controller in self.controllers:
                    await controller.queue.drain()  # in-flight writes finish
        except TimeoutError:
            log.warning("shutdown: in-flight work did not finish in %.0fs", SHUTDOWN_GRACE)
        await self.supervisor.stop()
        if self.elector is not None:
            await self.elector.release()
        for close in self.closers:
            await close()
        await self.server.stop()

    def _publish_hub(self, master: str, mode: str) -> None:
        """The status page's header, and the master's row until the inventory probes it."""
        leader = "leader election off" if self.elector is None else "leader"
        identity = "" if self.elector is None else self.elector.identity
        self.snapshots.set_hub(HubInfo(__version__, mode, leader, identity))
        self.snapshots.publish_cluster(ClusterSnapshot(master, True, role="master", mode=mode))

    async def _mode(self, master: ClusterClient) -> str:
        """The propagation mode now: ``auto`` follows a live federation controller's lock."""
        configured = self.options.mode or self.config.propagation.mode
        if configured != "auto":
            return configured
        try:
            running = await federation_controller_running(master)
        except KubeError as exc:
            # Keep what was decided; at start, the hub's own default. Looked at again soon.
            log.warning("mode auto: cannot read federation controller locks: %s", exc)
            return self.mode or propagation_mode(configured, False)
        return propagation_mode(configured, running)


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
