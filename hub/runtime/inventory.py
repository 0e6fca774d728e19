"""The clusters the hub writes to: a client, discovery, labels and health for each.

Members are probed in the background; an unreachable member is marked not ready, probed with
backoff, and announced on :attr:`Inventory.changed` when it returns so the controllers
resync it. Labels of same-named ``synchub.io`` ``Cluster`` objects (they win over configured
labels) and ``KubeFedCluster``/``FederatedCluster`` objects (configured labels win over
theirs) on the master are merged in live and announced the same way (docs/clusters.md). A
member never blocks start-up or the other members.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from functools import partial

from hub.config.settings import ClientLimits, ClusterConfig
from hub.core import crd_cluster
from hub.core.backoff import Backoff
from hub.core.errors import ClusterUnreachable, Forbidden, KubeError, Unauthorized
from hub.core.federation import CONTROL_GROUPS, SYNCHUB_GROUP, ClusterStatus
from hub.core.objects import Obj
from hub.core.placement import Cluster
from hub.kube.client import ClusterClient
from hub.kube.discovery import Discovery
from hub.kube.resources import ResourceInfo, by_kind
from hub.kube.watch import EventType
from hub.runtime.caches import CacheSet
from hub.runtime.metrics import Metrics
from hub.runtime.snapshots import ClusterSnapshot, Snapshots
from hub.runtime.tasks import Supervisor
from hub.runtime.wiring import Topic

log = logging.getLogger(__name__)

PROBE_INTERVAL = 10.0  # seconds between probes of a healthy member
PROBE_BACKOFF = (1.0, 30.0)  # first and longest wait between probes of a failing member
FIRST_PROBES_TIMEOUT = 30.0  # seconds: --once waits this long for every member's first probe
MEMBER_TIMEOUT = 10.0  # per request: a black-holed member costs at most this
CLUSTER_KINDS = ("KubeFedCluster", "FederatedCluster")


@dataclass
class MemberState:
    """One cluster's client, discovery, health and labels from cluster objects."""

    config: ClusterConfig
    client: ClusterClient | None = None
    discovery: Discovery | None = None
    ready: bool = False
    problem: ClusterStatus = ClusterStatus.CLUSTER_NOT_READY
    message: str = "not probed yet"
    extra_labels: dict[str, str] = field(default_factory=dict)
    version: str = ""  # the API server's gitVersion, once read
    last_error: str = ""  # the last probe or request failure, kept after recovery
    last_probe: float | None = None  # wall clock
    #: Labels of the cluster's ``synchub.io`` Cluster object: they win over configured ones.
    object_labels: dict[str, str] = field(default_factory=dict)
    #: False until the first probe answered or failed (the master: connected, so True).
    probed: bool = False
    #: The last placement_cluster(), handed out again while the labels stay the same.
    _placement: Cluster | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        """The cluster's name in clusters.yaml."""
        return self.config.name

    @property
    def labels(self) -> dict[str, str]:
        """Placement's labels: KubeFed cluster objects' < configured < the Cluster object's."""
        return {**self.extra_labels, **self.config.labels, **self.object_labels}

    def placement_cluster(self) -> Cluster:
        """The cluster as placement sees it: one shared value while its labels do not change.

        Reconciles keep what placement chose per object; sharing the value keeps that at a
        reference per object instead of a copy of the cluster's labels (bench/memory.py).
        """
        labels = self.labels
        cached = self._placement
        if cached is None or cached.labels != labels:
            cached = self._placement = Cluster(self.name, labels, self.config.is_master)
        return cached


class Inventory:
    """Every cluster the hub writes to, the master included, with its health and labels."""

    def __init__(
        self,
        master: ClusterClient,
        master_discovery: Discovery,
        master_config: ClusterConfig,
        members: list[ClusterConfig],
        supervisor: Supervisor,
        metrics: Metrics,
        snapshots: Snapshots | None = None,
        limits: ClientLimits | None = None,
    ) -> None:
        self.supervisor = supervisor
        #: ``client:`` of clusters.yaml, applied to every member client.
        self.limits = limits or ClientLimits()
        self.metrics = metrics
        self.snapshots = snapshots or Snapshots()
        #: Publishes a cluster's name when it becomes ready, stops answering (so objects
        #: report it at once) or its labels change.
        self.changed: Topic[str] = Topic("inventory.changed")
        self.master_name = master.name
        self._labels = CacheSet(master, supervisor, metrics, self._on_cluster_object)
        self.states: dict[str, MemberState] = {
            master.name: MemberState(
                master_config, master, master_discovery, ready=True, message="", probed=True
            )
        }
        for member in members:
            self.states[member.name] = MemberState(member)
        self._unprobed = {m.name for m in members}
        #: Set once every member has been probed (successfully or not) at least once.
        self.probed = asyncio.Event()
        if not self._unprobed:
            self.probed.set()
        #: What the status page shows as these clusters' mode.
        self.mode = "direct"
        for state in self.states.values():
            self._publish(state)

    def start(self) -> None:
        """Probe every member in the background and watch the master's cluster objects."""
        for state in self.states.values():
            if state.name != self.master_name:
                self.supervisor.spawn(f"probe:{state.name}", partial(self._probe_loop, state))
        self.supervisor.spawn("probe:master", self._master_loop)
        discovery = self.states[self.master_name].discovery
        assert discovery is not None
        for info in discovery.resources:
            if info.group in CONTROL_GROUPS and info.kind in CLUSTER_KINDS and info.preferred:
                self._labels.ensure(info)
        self.watch_registry(discovery)

    def watch_registry(self, discovery: Discovery) -> bool:
        """Follow the labels of ``synchub.io`` Cluster objects once the master serves them."""
        found = by_kind(discovery.resources, SYNCHUB_GROUP, crd_cluster.KIND)
        if found:
            self._labels.ensure(found[0])
        return bool(found)

    def labels_synced(self) -> bool:
        """False while cluster labels are still loading (placement must wait for them)."""
        return self._labels.all_synced()

    def _on_cluster_object(self, info: ResourceInfo, kind: EventType, obj: Obj) -> None:
        metadata = obj.get("metadata") or {}
        registry = info.group == SYNCHUB_GROUP
        labels = {} if kind == "DELETED" else dict(metadata.get("labels") or {})
        if registry and labels:
            labels = crd_cluster.placement_labels(obj)
        name = str(metadata.get("name", ""))
        if self.set_labels(name, labels, registry=registry):
            log.info("cluster %s: labels from %s", name, obj.get("kind"))
            self.changed.publish(name)

    async def first_probes(self, timeout: float = FIRST_PROBES_TIMEOUT) -> None:
        """Wait until every member has been probed once, or ``timeout`` seconds (``--once``)."""
        try:
            async with asyncio.timeout(timeout):
                await self.probed.wait()
        except TimeoutError:
            pass

    def clusters(self) -> list[Cluster]:
        """Every cluster, as placement sees it."""
        return [s.placement_cluster() for s in self.states.values()]

    def get(self, name: str) -> MemberState:
        """The state of cluster ``name``."""
        return self.states[name]

    def set_labels(self, name: str, labels: dict[str, str], *, registry: bool = False) -> bool:
        """Take labels from a cluster object; True when placement's labels changed.

        The object is a KubeFedCluster/FederatedCluster, or (``registry``) the cluster's
        ``synchub.io`` Cluster object.
        """
        state = self.states.get(name)
        if state is None:
            return False
        before = state.labels
        if registry:
            state.object_labels = dict(labels)
        else:
            state.extra_labels = dict(labels)
        if state.labels == before:
            return False
        self._publish(state)
        return True

    def mark_failed(self, name: str, exc: KubeError) -> bool:
        """A request failed: stop using the member until the next probe succeeds.

        True when ``exc`` is a cluster-level cause: the member is then not ready, and
        ``problem``/``message`` of its state say why (the same on every object).
        """
        state = self.states[name]
        if name == self.master_name or not isinstance(exc, ClusterUnreachable | Unauthorized):
            return False
        self._set(state, False, *_classify(exc))
        return True

    async def close(self) -> None:
        """Close the member clients (the master's belongs to the manager)."""
        for state in self.states.values():
            if state.name != self.master_name and state.client is not None:
                await state.client.close()

    async def _probe_loop(self, state: MemberState) -> None:
        backoff = Backoff(*PROBE_BACKOFF)
        while True:
            if await self._probe(state):
                backoff.reset()
                delay = PROBE_INTERVAL
            else:
                delay = backoff.next()
            await asyncio.sleep(delay)

    async def _master_loop(self) -> None:
        """Probe the master for its status-page row: version, last probe, last error."""
        state = self.states[self.master_name]
        while True:
            assert state.client is not None
            try:
                state.version, ready = await _version(state.client), True
            except KubeError as exc:
                state.last_error, ready = str(exc), False
            state.last_probe = time.time()
            self._publish(state, ready=ready)
            await asyncio.sleep(PROBE_INTERVAL)

    async def _probe(self, state: MemberState) -> bool:
        try:
            if state.client is None:
                state.client = self.metrics.observe_requests(
                    await ClusterClient.connect(state.config, timeout=MEMBER_TIMEOUT)
                )
                state.client.limit_rate(self.limits.qps, self.limits.burst)
                state.discovery = Discovery(state.client)
            assert state.discovery is not None
            if not state.ready:
                await state.discovery.refresh()  # a returning member may serve other APIs
                state.version = await _version(state.client)
            else:
                await state.client.get("/api")  # cheap, and proves the credentials still work
        except KubeError as exc:
            self._set(state, False, *_classify(exc))
            return False
        self._set(state, True, ClusterStatus.PROPAGATED, "")
        return True

    def _set(self, state: MemberState, ready: bool, problem: ClusterStatus, message: str) -> None:
        first = state.name in self._unprobed
        self._unprobed.discard(state.name)
        state.probed = True
        if not self._unprobed:
            self.probed.set()
        was = state.ready
        state.ready, state.problem, state.message = ready, problem, message
        state.last_error = message or state.last_error
        state.last_probe = time.time()
        self._publish(state)
        self.metrics.cluster_ready.labels(cluster=state.name).set(1 if ready else 0)
        if ready and not was:
            log.info("cluster %s is ready", state.name)
            self.changed.publish(state.name)
        elif not ready and (was or first):  # down at start is as loud as going down
            log.warning(
                "cluster %s is not ready: %s", state.name, message, extra={"cluster": state.name}
            )
            self.changed.publish(state.name)

    def _publish(self, state: MemberState, *, ready: bool | None = None) -> None:
        labels = state.placement_cluster().labels
        self.snapshots.publish_cluster(
            ClusterSnapshot(
                state.name,
                state.ready if ready is None else ready,
                role="master" if state.name == self.master_name else "member",
                version=state.version,
                mode=self.mode,
                labels=tuple(sorted(labels.items())),
                last_error=state.last_error,
                last_probe=state.last_probe,
            )
        )


async def _version(client: ClusterClient) -> str:
    """The API server's ``gitVersion`` (``/version`` is one small unauthenticated read)."""
    answer = await client.get("/version")
    return str(answer.get("gitVersion", "")) if isinstance(answer, dict) else ""


def _classify(exc: KubeError) -> tuple[ClusterStatus, str]:
    if isinstance(exc, Unauthorized | Forbidden):
        return ClusterStatus.CREDENTIALS_INVALID, f"credentials refused: {exc}"
    return ClusterStatus.CLUSTER_NOT_READY, str(exc)
