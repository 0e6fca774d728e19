"""The fault matrix, defined once for ``tests/reliability/`` and ``bench/faults.py``.

A :class:`Workload` keeps live source Secrets on the master, each copied by a FederatedSecret
(a copy annotation) to every member, while a :class:`ChangeWriter` thread keeps changing them.
A :class:`Fault` acts on a :class:`Rig` (the clusters, the hub processes, the workload);
:func:`run_fault` runs one scenario end to end — hub up, writer on, the fault, writer off —
and returns a :class:`Verdict`: how long after the fault ended every member copy held the
latest source value, what is still wrong, how many writes the hub made in a quiet window
afterwards, and whether a traceback reached its log. It never judges a number itself.

Like :mod:`hub.testing`, it needs the ``test`` extra; the hub never imports it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s

from hub.core.federation import MANAGED_LABEL
from hub.sandbox import MASTER, Sandbox
from hub.testing import Clusters, HubProcess, b64, compact_etcd, poll, wait_for, write_config

GROUP, VERSION, PLURAL = "types.kubefed.io", "v1beta1", "federatedsecrets"
COPY_ANNOTATION = "k8s-copier.fig.org/replace-spec.template.data"
WRITES = "synchub_member_writes_total"  # every write, master's included, by cluster and verb
#: How long each fault lasts (the writer keeps writing through it).
FAULT_SECONDS = 5.0
BIG_BYTES = 1_000_000  # the big Secret's blob, before base64 (~1.3 MiB stored)
MEMBER = "member-1"  # the member the member faults hit


# --- the workload ----------------------------------------------------------------------------


@dataclass
class Workload:
    """Source Secrets on the master and FederatedSecrets copying them to every member.

    ``count`` sources ``src-NN``, each with a FederatedSecret of the same name; ``big`` adds
    a ~1 MiB source ``src-big``.
    """

    clusters: Clusters
    namespace: str
    count: int = 24
    big: bool = False
    #: Per source, every value the writer sent since its last acknowledged one (that one first).
    sent: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def names(self) -> list[str]:
        """The source Secrets (and their FederatedSecrets)."""
        return [f"src-{i:02d}" for i in range(self.count)] + (["src-big"] if self.big else [])

    def create(self) -> None:
        """Create the sources and the FederatedSecrets on the master."""
        placement = {"clusters": [{"name": m} for m in self.clusters.members]}
        for name in self.names:
            data = {"v": b64("v0")}
            if name == "src-big":
                data["blob"] = big_blob()
            self.clusters.core(MASTER).create_namespaced_secret(
                self.namespace, k8s.V1Secret(metadata={"name": name}, data=data)
            )
            self.sent[name] = ["v0"]
            self.clusters.custom(MASTER).create_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL,
                {
                    "apiVersion": f"{GROUP}/{VERSION}", "kind": "FederatedSecret",
                    "metadata": {"name": name,
                                 "annotations": {COPY_ANNOTATION: f"secrets:{name}:data"}},
                    "spec": {"template": {"type": "Opaque"}, "placement": placement},
                },
            )  # fmt: skip

    def set(self, name: str, value: str, **extra: str) -> None:
        """Change source ``name`` to ``value`` (a failed request stays a possible value)."""
        with self.lock:
            self.sent[name].append(value)
        self.clusters.core(MASTER).patch_namespaced_secret(
            name, self.namespace, {"data": {"v": b64(value), **extra}}
        )
        with self.lock:
            self.sent[name] = [value]

    def change_all(self, prefix: str) -> None:
        """Change every source once (``PREFIX-NAME``)."""
        for name in self.names:
            self.set(name, f"{prefix}-{name}")

    def sources(self) -> dict[str, dict[str, str]]:
        """The data of every source Secret on the master, by name."""
        listed = self.clusters.core(MASTER).list_namespaced_secret(self.namespace)
        return {s.metadata.name: dict(s.data or {}) for s in listed.items}

    def copies(self, cluster: str) -> dict[str, dict[str, str]]:
        """The data of every managed copy on ``cluster``, by name."""
        listed = self.clusters.core(cluster).list_namespaced_secret(
            self.namespace, label_selector=f"{MANAGED_LABEL}=true"
        )
        return {s.metadata.name: dict(s.data or {}) for s in listed.items}

    def problems(self) -> list[str]:
        """What keeps the workload from having converged; [] once it has."""
        try:
            sources = self.sources()
            found = lost_updates(self, sources)
            for member in self.clusters.members:
                found += differences(member, sources, self.copies(member))
        except Exception as exc:  # a cluster still down: not converged, say why
            return [f"unreadable: {type(exc).__name__}: {str(exc)[:200]}"]
        return found

    def reporting(self, member: str, status: str) -> int:
        """How many FederatedSecrets report ``status`` for ``member`` now."""
        listed = self.clusters.custom(MASTER).list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL
        )
        return sum(
            1
            for fed in listed["items"]
            for entry in (fed.get("status") or {}).get("clusters") or []
            if entry.get("name") == member and entry.get("status") == status
        )

    def statuses_settled(self) -> bool:
        """Every FederatedSecret says Propagated on every member, for its current generation."""
        listed = self.clusters.custom(MASTER).list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL
        )
        members = set(self.clusters.members)
        for fed in listed["items"]:
            status = fed.get("status") or {}
            done = {c["name"] for c in status.get("clusters") or [] if c["status"] == "Propagated"}
            if done != members or status.get("observedGeneration") != fed["metadata"]["generation"]:
                return False
        return len(listed["items"]) == len(self.names)


def big_blob() -> str:
    """A fresh ~1 MiB (base64) Secret value."""
    return base64.b64encode(os.urandom(BIG_BYTES)).decode()


def decoded(data: dict[str, str], key: str = "v") -> str | None:
    """One value of Secret data, decoded; None when absent."""
    return base64.b64decode(data[key]).decode() if key in data else None


def lost_updates(workload: Workload, sources: dict[str, dict[str, str]]) -> list[str]:
    """Sources whose value is none of those the writer sent last (an update lost)."""
    with workload.lock:
        sent = {name: list(values) for name, values in workload.sent.items()}
    return [
        f"master/{name}: {decoded(sources.get(name, {}))!r}, last sent {values[-1]!r}"
        for name, values in sent.items()
        if decoded(sources.get(name, {})) not in values
    ]


def differences(
    member: str, sources: dict[str, dict[str, str]], copies: dict[str, dict[str, str]]
) -> list[str]:
    """Copies on ``member`` that are missing, stale or stray; values are never named."""
    found = [f"{member}/{name}: missing" for name in sources.keys() - copies.keys()]
    found += [f"{member}/{name}: stray" for name in copies.keys() - sources.keys()]
    for name in sources.keys() & copies.keys():
        if copies[name] != sources[name]:
            found.append(f"{member}/{name}: stale ({digest(copies[name])} != "
                         f"{digest(sources[name])})")  # fmt: skip
    return sorted(found)


def digest(data: dict[str, str]) -> str:
    """A short digest of Secret data (never the value itself)."""
    return hashlib.sha256(repr(sorted(data.items())).encode()).hexdigest()[:8]


class ChangeWriter:
    """A thread changing the sources round-robin, about ``rate`` writes a second."""

    def __init__(self, workload: Workload, rate: float = 10.0) -> None:
        self.workload = workload
        self.interval = 1.0 / rate
        self.writes = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="change-writer", daemon=True)

    def start(self) -> ChangeWriter:
        """Start writing; return once every source has been changed once."""
        self._thread.start()
        names = len(self.workload.names)
        wait_for(lambda: self.writes >= names, timeout=60, what="the writer's first round")
        return self

    def stop(self) -> None:
        """Stop and wait for the thread (its last value then is the latest)."""
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        names, sequence = self.workload.names, 0
        while not self._stop.is_set():
            name = names[sequence % len(names)]
            sequence += 1
            try:
                self.workload.set(name, f"w{sequence}")
                self.writes += 1
            except Exception:  # the master is down or refusing: the fault itself
                self.failures += 1
                self._stop.wait(0.2)
                continue
            self._stop.wait(self.interval)


# --- the rig: clusters, hubs, workload -------------------------------------------------------


@dataclass
class Rig:
    """One scenario's clusters, workload, hub configuration and hub processes."""

    clusters: Clusters
    workload: Workload
    directory: Path
    config: Path
    hubs: list[HubProcess] = field(default_factory=list)

    @property
    def sandbox(self) -> Sandbox:
        """The sandbox the faults act on (kind clusters cannot be crashed this way)."""
        if not isinstance(self.clusters.sandbox, Sandbox):
            raise AssertionError("the fault matrix needs the sandbox provider")
        return self.clusters.sandbox

    def start_hub(self, *, wait_ready: bool = True) -> HubProcess:
        """Start one more hub process on the rig's configuration."""
        log = self.directory / f"hub-{len(self.hubs)}.log"
        hub = HubProcess(self.config, log, "--log-level", "warning")
        self.hubs.append(hub.start(wait_ready=wait_ready))
        return hub

    def running(self) -> list[HubProcess]:
        """The hub processes still running."""
        return [hub for hub in self.hubs if hub.running()]

    def leader(self) -> HubProcess | None:
        """The running hub that holds the lease (the only hub, without leader election)."""
        running = self.running()
        if len(self.hubs) == 1:
            return running[0] if running else None
        return next((h for h in running if h.metric("synchub_leader") == 1), None)

    def writes(self) -> float:
        """Writes of every running hub so far (master and members)."""
        return sum(hub.metric(WRITES) for hub in self.running())

    def tracebacks(self) -> int:
        """Tracebacks in the logs of every hub the rig started."""
        return sum(hub.output().count("Traceback") for hub in self.hubs)

    def stop(self) -> list[int | None]:
        """Stop the running hubs gracefully; their exit codes."""
        return [hub.stop() for hub in self.running()]


# --- the faults ------------------------------------------------------------------------------

Figures = dict[str, float]


@dataclass(frozen=True)
class Fault:
    """One fault: ``act`` runs it while the writer writes and returns once it has ended."""

    name: str
    act: Callable[[Rig], Figures]
    replicas: int = 1  # hub processes (2: leader election)
    big: bool = False  # the workload has a ~1 MiB source
    prepare: Callable[[Rig], None] | None = None  # before the hubs start


def hold(seconds: float = FAULT_SECONDS) -> None:
    """Let the fault last (the writer keeps writing meanwhile)."""
    time.sleep(seconds)


def master_restart(rig: Rig) -> Figures:
    """The master's API server stops, then starts again."""
    rig.sandbox.stop_apiserver(MASTER)
    hold()
    rig.sandbox.start_apiserver(MASTER)
    return {}


def member_restart(rig: Rig) -> Figures:
    """A member crashes (API server and etcd SIGKILLed), then starts again."""
    rig.sandbox.crash(MEMBER)
    hold()
    rig.sandbox.restart(MEMBER)
    return {}


def member_hung(rig: Rig) -> Figures:
    """A member's API server is SIGSTOPped: connections stay open, nothing answers."""
    rig.sandbox.pause_apiserver(MEMBER)
    try:
        hold()
    finally:
        rig.sandbox.pause_apiserver(MEMBER, paused=False)
    return {}


def hub_killed(rig: Rig) -> Figures:
    """The hub is SIGKILLed right after every source changed (mid fan-out), then restarted."""
    workload, (hub,) = rig.workload, rig.running()
    workload.change_all("burst")
    assert hub.process is not None
    hub.process.kill()
    hub.process.wait()
    pending = len(workload.problems())  # copies the killed hub had not written yet
    hold(1.0)
    rig.start_hub(wait_ready=False)
    return {"pending_at_kill": pending}


def etcd_compacted(rig: Rig) -> Figures:
    """The master's etcd is compacted while its API server restarts.

    Every watch the hub resumes from its last resourceVersion then gets 410 Gone and must
    list again.
    """
    hold(2.0)
    rig.sandbox.stop_apiserver(MASTER)
    compact_etcd(rig.clusters, MASTER)
    rig.sandbox.start_apiserver(MASTER)
    return {}


def big_secret(rig: Rig) -> Figures:
    """A ~1 MiB source Secret changes (its blob replaced) among the small ones."""
    rig.workload.set("src-big", "big-2", blob=big_blob())
    hold(1.0)
    return {}


def leader_killed(rig: Rig) -> Figures:
    """The leader of two hub replicas is SIGKILLed; ``failover_s``: until the other leads."""
    wait_for(lambda: rig.leader() is not None, timeout=60, what="a leader")
    leader = rig.leader()
    assert leader is not None
    assert leader.process is not None
    leader.process.kill()
    leader.process.wait()
    killed = time.monotonic()
    wait_for(lambda: rig.leader() is not None, timeout=60, what="the standby to lead")
    return {"failover_s": round(time.monotonic() - killed, 2)}


# --- refused credentials ---------------------------------------------------------------------


def member_token(clusters: Clusters, cluster: str, namespace: str) -> str:
    """A token of a cluster-admin ServiceAccount ``hub`` on ``cluster``.

    Deleting the ServiceAccount makes the API server refuse the token.
    """
    core = clusters.core(cluster)
    core.create_namespaced_service_account(
        namespace, k8s.V1ServiceAccount(metadata={"name": "hub"})
    )
    try:
        k8s.RbacAuthorizationV1Api(clusters.api[cluster]).create_cluster_role_binding(
            {
                "metadata": {"name": f"{namespace}-hub"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                            "name": "cluster-admin"},
                "subjects": [{"kind": "ServiceAccount", "name": "hub", "namespace": namespace}],
            }
        )  # fmt: skip
    except k8s.ApiException as exc:
        if exc.status != 409:
            raise
    request = k8s.AuthenticationV1TokenRequest(spec={"expirationSeconds": 3600})
    return str(core.create_namespaced_service_account_token("hub", namespace, request).status.token)


def write_member_kubeconfig(clusters: Clusters, cluster: str, path: Path, token: str) -> None:
    """A kubeconfig at ``path`` for ``cluster`` that authenticates with ``token``."""
    document = yaml.safe_load(clusters.kubeconfig.read_text())
    context = next(c for c in document["contexts"] if c["name"].endswith(cluster))
    document["current-context"] = context["name"]
    for user in document["users"]:
        if user["name"] == context["context"]["user"]:
            user["user"] = {"token": token}
    path.write_text(yaml.safe_dump(document))


def token_kubeconfig(rig: Rig) -> None:
    """Before the hub starts: member-1 is reached with a ServiceAccount token of its own."""
    path = rig.directory / f"{MEMBER}.kubeconfig"
    namespace = rig.workload.namespace
    write_member_kubeconfig(
        rig.clusters, MEMBER, path, member_token(rig.clusters, MEMBER, namespace)
    )
    document = yaml.safe_load(rig.config.read_text())
    for member in document["members"]:
        if member["name"] == MEMBER:
            member["kubeconfig"] = str(path)
    rig.config.write_text(yaml.safe_dump(document))


def credentials_refused(rig: Rig) -> Figures:
    """Member-1 refuses the hub's token (its ServiceAccount deleted); then a new one works."""
    namespace = rig.workload.namespace
    rig.clusters.core(MEMBER).delete_namespaced_service_account("hub", namespace)
    refused = time.monotonic()
    wait_for(lambda: rig.workload.reporting(MEMBER, "CredentialsInvalid"), timeout=60,
             what=f"{MEMBER}'s refusal to be reported")  # fmt: skip
    reported = time.monotonic() - refused
    hold()
    path = rig.directory / f"{MEMBER}.kubeconfig"
    token = member_token(rig.clusters, MEMBER, namespace)
    write_member_kubeconfig(rig.clusters, MEMBER, path, token)
    return {"reported_s": round(reported, 2)}


#: Every fault of the matrix, by name.
FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault("master-apiserver-restart", master_restart),
        Fault("member-killed-and-restarted", member_restart),
        Fault("hub-sigkill-mid-fanout", hub_killed),
        Fault("etcd-compaction-relist", etcd_compacted),
        Fault("credentials-refused-then-fixed", credentials_refused, prepare=token_kubeconfig),
        Fault("leader-sigkill-failover", leader_killed, replicas=2),
        Fault("member-hung-sigstop", member_hung),
        Fault("big-secret-1mib", big_secret, big=True),
    )
}


# --- one scenario ----------------------------------------------------------------------------


@dataclass
class Verdict:
    """What one fault left behind (the caller judges it; bench only reports it)."""

    fault: str
    #: Fault end → every copy holds the latest source value (every source is changed once
    #: more right after the fault ended, so this includes those changes' propagation).
    converge_s: float | None
    status_s: float | None  # fault end → every FederatedSecret says Propagated
    quiet_writes: float  # hub writes in the quiet window after convergence
    problems: list[str]
    tracebacks: int
    exit_codes: list[int | None]
    figures: Figures = field(default_factory=dict)
    writer: dict[str, int] = field(default_factory=dict)

    def complaints(self) -> list[str]:
        """What is wrong after the fault: [] when it converged, cleanly and quietly."""
        found = [f"not converged: {p}" for p in self.problems[:10]]
        if self.converge_s is None:
            found.append("copies did not converge in time")
        if self.status_s is None:
            found.append("statuses did not settle on Propagated in time")
        if self.quiet_writes:
            found.append(f"{self.quiet_writes:.0f} hub writes in the quiet window")
        if self.tracebacks:
            found.append(f"{self.tracebacks} tracebacks in the hub log")
        if any(code != 0 for code in self.exit_codes):
            found.append(f"hub exit codes {self.exit_codes}")
        return found

    def as_json(self) -> dict[str, Any]:
        """The verdict as a JSON-ready mapping."""
        return {k: v for k, v in self.__dict__.items() if k != "fault"}


def rig_for(clusters: Clusters, fault: Fault, directory: Path, count: int) -> Rig:
    """A fresh namespace, the workload in it, a hub configuration for it (hubs not started)."""
    directory.mkdir(parents=True, exist_ok=True)
    namespace = clusters.create_namespace()
    extra: dict[str, Any] = {"namespaces": [namespace]}
    if fault.replicas > 1:
        extra["leaderElection"] = {"enabled": True, "namespace": namespace}
    config = write_config(clusters.clusters_yaml, directory, **extra)
    workload = Workload(clusters, namespace, count, big=fault.big)
    return Rig(clusters, workload, directory, config)


def run_fault(
    clusters: Clusters,
    fault: Fault,
    directory: Path,
    *,
    count: int = 24,
    quiet: float = 3.0,
    timeout: float = 180.0,
) -> Verdict:
    """Run ``fault`` on a workload of ``count`` sources in a namespace of its own."""
    rig = rig_for(clusters, fault, directory, count)
    if fault.prepare is not None:
        fault.prepare(rig)
    rig.workload.create()
    try:
        for _ in range(fault.replicas):
            rig.start_hub()
        wait_for(lambda: not rig.workload.problems(), timeout=120, what="the first fan-out")
        writer = ChangeWriter(rig.workload).start()
        try:
            figures = fault.act(rig)
        finally:
            ended = time.monotonic()
            writer.stop()
        rig.workload.change_all("after")  # what changes once the fault is over gets through
        verdict = judge(rig, fault.name, ended, quiet, timeout)
        verdict.figures.update(figures)
        verdict.writer = {"writes": writer.writes, "failures": writer.failures}
    finally:
        codes = rig.stop()
    verdict.exit_codes = codes
    verdict.tracebacks = rig.tracebacks()
    return verdict


def judge(rig: Rig, name: str, ended: float, quiet: float, timeout: float) -> Verdict:
    """Wait for convergence after the fault ended at ``ended``; then the quiet window."""
    small: Figures = {}
    # The small sources first: the big one must not hold them up.
    if rig.workload.big and poll(lambda: not small_problems(rig.workload), timeout, 0.2):
        small["small_converge_s"] = round(time.monotonic() - ended, 2)
    converged = poll(lambda: not rig.workload.problems(), timeout=timeout, interval=0.2)
    converge_s = round(time.monotonic() - ended, 2) if converged else None
    settled = converged and poll(rig.workload.statuses_settled, timeout=60, interval=0.2)
    status_s = round(time.monotonic() - ended, 2) if settled else None
    before = rig.writes()
    time.sleep(quiet)  # the window itself: nothing changes, so nothing may be written
    total = rig.writes()
    verdict = Verdict(name, converge_s, status_s, total - before, rig.workload.problems(), 0, [])
    verdict.figures.update(small, hub_writes=total)  # hub_writes: never 0 here
    return verdict


def small_problems(workload: Workload) -> list[str]:
    """:meth:`Workload.problems` of every source but the big one."""
    return [p for p in workload.problems() if "src-big" not in p]
