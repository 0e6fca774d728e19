"""Local real clusters: one etcd and one kube-apiserver per cluster, on loopback ports.

``up`` is idempotent, ``down`` stops every process recorded in ``state.json`` and removes the
data. Used by ``synchub sandbox``, ``make demo`` and the test fixtures alike.
"""

from __future__ import annotations

import base64
import json
import shutil
import ssl
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hub.core.errors import BinaryNotFound, SandboxError
from hub.sandbox.binaries import find_binary
from hub.sandbox.certs import make_cluster_certs
from hub.sandbox.process import alive, free_ports, kill, pause, probe, spawn, stop, tail

DEFAULT_DIR = Path(".synchub/sandbox")
MASTER = "master"
ETCD_TIMEOUT = 60.0
APISERVER_TIMEOUT = 180.0
STATE_VERSION = 1

Say = Callable[[str], None]


def context_name(cluster: str) -> str:
    """The kubeconfig context of sandbox cluster ``cluster``."""
    return f"synchub-{cluster}"


def member_names(count: int) -> list[str]:
    """The names of ``count`` members: ``member-1`` ..."""
    return [f"member-{i}" for i in range(1, count + 1)]


@dataclass
class ProcessRecord:
    """A process the sandbox started: its pid, arguments and log file."""

    pid: int
    args: list[str]
    log: str


@dataclass
class ClusterRecord:
    """One sandbox cluster: its directory, port and processes."""

    name: str
    dir: str
    port: int
    etcd_port: int
    peer_port: int
    etcd: ProcessRecord | None = None
    apiserver: ProcessRecord | None = None
    cert_manager: ProcessRecord | None = None  # `sandbox up --cert-manager`, master only

    @property
    def context(self) -> str:
        """The cluster's kubeconfig context."""
        return context_name(self.name)

    @property
    def server(self) -> str:
        """The cluster's API server URL."""
        return f"https://127.0.0.1:{self.port}"


@dataclass
class State:
    """What ``sandbox up`` started, kept in ``DIR/state.json``."""

    members: int
    clusters: list[ClusterRecord] = field(default_factory=list)
    version: int = STATE_VERSION

    @classmethod
    def read(cls, path: Path) -> State | None:
        """The state in ``path``; None when missing or written by another version."""
        try:
            raw = json.loads(path.read_text())
            clusters = []
            for c in raw["clusters"]:
                etcd, api = c.pop("etcd", None), c.pop("apiserver", None)
                cm = c.pop("cert_manager", None)
                clusters.append(
                    ClusterRecord(
                        **c,
                        etcd=ProcessRecord(**etcd) if etcd else None,
                        apiserver=ProcessRecord(**api) if api else None,
                        cert_manager=ProcessRecord(**cm) if cm else None,
                    )
                )
            return cls(members=raw["members"], clusters=clusters, version=raw["version"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, path: Path) -> None:
        """Save the state to ``path``."""
        path.write_text(json.dumps(asdict(self), indent=2))


class Sandbox:
    """A set of local clusters rooted at ``directory``."""

    def __init__(self, directory: Path = DEFAULT_DIR, say: Say | None = None) -> None:
        self.dir = directory.resolve()
        self.say: Say = say or (lambda _msg: None)

    @property
    def state_file(self) -> Path:
        """Where the state is kept."""
        return self.dir / "state.json"

    @property
    def kubeconfig(self) -> Path:
        """The kubeconfig with a context per cluster."""
        return self.dir / "kubeconfig"

    @property
    def clusters_yaml(self) -> Path:
        """The ``clusters.yaml`` for ``synchub run`` on the sandbox."""
        return self.dir / "clusters.yaml"

    def state(self) -> State | None:
        """The recorded state, None when nothing was started."""
        return State.read(self.state_file)

    def cluster(self, name: str) -> ClusterRecord:
        """The record of cluster ``name``; a SandboxError when there is none."""
        state = self.state()
        for record in state.clusters if state else []:
            if record.name == name:
                return record
        raise SandboxError(f"sandbox in {self.dir} has no cluster {name!r}")

    # --- lifecycle ---------------------------------------------------------------------

    def up(self, members: int = 2, *, cert_manager: bool = False) -> State:
        """Start master + ``members`` clusters, or return the running sandbox if it matches.

        ``cert_manager`` also runs the real cert-manager on the master (see
        :meth:`start_cert_manager`), on a new or an already running sandbox.
        """
        if members < 0:
            raise SandboxError("--members must be 0 or more")
        state = self.state()
        if state is not None:
            if state.members == members and self.healthy(state):
                self.say(f"sandbox already running in {self.dir}")
                self._write_client_files(state)
                if cert_manager:
                    self.start_cert_manager()
                    state = self.state() or state
                return state
            self.say("sandbox state is stale or differs; recreating it")
            self.down()
        try:
            binaries = {name: str(find_binary(name)) for name in ("etcd", "kube-apiserver")}
        except BinaryNotFound as exc:
            raise SandboxError(str(exc)) from None
        started = time.monotonic()
        self.dir.mkdir(parents=True, exist_ok=True)
        state = State(members=members)
        try:
            self._start(state, binaries)
        except BaseException:
            self.down(state)
            raise
        self._write_client_files(state)
        self.say(f"sandbox up: {members + 1} clusters in {time.monotonic() - started:.1f}s")
        if cert_manager:
            self.start_cert_manager()
            state = self.state() or state
        return state

    def start_cert_manager(self, name: str = MASTER) -> ProcessRecord:
        """Start cert-manager on cluster ``name``: its CRDs, its controller, the CA issuers.

        The issuer chain ends in ``synchub-ca``. The controller is recorded in the state, so
        ``down`` stops it. Already running: nothing to do.
        """
        from hub.sandbox import certmanager

        state = self.state()
        record = next((r for r in state.clusters if r.name == name), None) if state else None
        if state is None or record is None:
            raise SandboxError(f"sandbox in {self.dir} has no cluster {name!r}")
        if record.cert_manager is not None and alive(record.cert_manager.pid, record.dir):
            return record.cert_manager
        started = time.monotonic()
        pid, args, log = certmanager.setup(self.kubeconfig, record.context, Path(record.dir))
        record.cert_manager = ProcessRecord(pid, args, log.name)
        state.write(self.state_file)
        self.say(
            f"cert-manager up on {name} in {time.monotonic() - started:.1f}s "
            f"(ClusterIssuer {certmanager.CA_ISSUER})"
        )
        return record.cert_manager

    def stop_cert_manager(self, name: str = MASTER) -> None:
        """Stop cert-manager's controller on cluster ``name`` (its CRDs and issuers stay)."""
        record = self.cluster(name)
        if record.cert_manager is not None:
            stop(record.cert_manager.pid, record.dir)

    def _start(self, state: State, binaries: dict[str, str]) -> None:
        names = [MASTER, *member_names(state.members)]
        ports = free_ports(3 * len(names))
        for i, name in enumerate(names):
            cluster_dir = self.dir / name
            cluster_dir.mkdir(parents=True, exist_ok=True)
            port, etcd_port, peer_port = ports[3 * i : 3 * i + 3]
            state.clusters.append(ClusterRecord(name, str(cluster_dir), port, etcd_port, peer_port))
            self._write_certs(cluster_dir, name)
        for record in state.clusters:
            args = _etcd_args(binaries["etcd"], record)
            record.etcd = ProcessRecord(
                spawn(args, Path(record.dir) / "etcd.log"), args, "etcd.log"
            )
            state.write(self.state_file)
        self._wait(state, "etcd", ETCD_TIMEOUT)
        for record in state.clusters:
            self._spawn_apiserver(record, binaries["kube-apiserver"])
            state.write(self.state_file)
        self._wait(state, "apiserver", APISERVER_TIMEOUT)

    def _spawn_apiserver(self, record: ClusterRecord, binary: str) -> None:
        args = _apiserver_args(binary, record)
        log = Path(record.dir) / "kube-apiserver.log"
        record.apiserver = ProcessRecord(spawn(args, log), args, log.name)

    def down(self, state: State | None = None) -> None:
        """Stop every process the sandbox started and remove its data."""
        state = state or self.state()
        for record in state.clusters if state else []:
            for process in (record.cert_manager, record.apiserver, record.etcd):
                if process is not None:
                    stop(process.pid, record.dir)
        if self.dir.exists():
            shutil.rmtree(self.dir, ignore_errors=True)

    def healthy(self, state: State | None = None) -> bool:
        """Whether every recorded process runs and every API server answers."""
        state = state or self.state()
        if state is None:
            return False
        return all(
            r.etcd is not None
            and r.apiserver is not None
            and alive(r.etcd.pid, r.dir)
            and alive(r.apiserver.pid, r.dir)
            and self._ready(r)
            for r in state.clusters
        )

    # --- outages, for tests and the demo --------------------------------------------------

    def stop_apiserver(self, name: str) -> None:
        """Stop one cluster's API server (an outage, for tests and the demo)."""
        record = self.cluster(name)
        if record.apiserver is not None:
            stop(record.apiserver.pid, record.dir)

    def start_apiserver(self, name: str) -> None:
        """Restart a stopped API server on its old port and wait until it is ready."""
        state = self.state()
        assert state is not None
        record = next(r for r in state.clusters if r.name == name)
        if record.apiserver is not None and alive(record.apiserver.pid, record.dir):
            return
        assert record.apiserver is not None
        args = record.apiserver.args
        record.apiserver = ProcessRecord(
            spawn(args, Path(record.dir) / "kube-apiserver.log"), args, "kube-apiserver.log"
        )
        state.write(self.state_file)
        self._wait(State(state.members, [record]), "apiserver", APISERVER_TIMEOUT)

    def pause_apiserver(self, name: str, paused: bool = True) -> None:
        """SIGSTOP (``paused``) or SIGCONT one cluster's API server: a hung cluster."""
        record = self.cluster(name)
        if record.apiserver is not None:
            pause(record.apiserver.pid, record.dir, paused)

    def crash(self, name: str) -> None:
        """SIGKILL one cluster's API server and etcd (a crashed cluster; data stays)."""
        record = self.cluster(name)
        for process in (record.apiserver, record.etcd):
            if process is not None:
                kill(process.pid, record.dir)

    def restart(self, name: str) -> None:
        """Start a crashed cluster again on its old ports and data; wait until it serves."""
        state = self.state()
        assert state is not None
        record = next(r for r in state.clusters if r.name == name)
        assert record.etcd is not None
        assert record.apiserver is not None
        if not alive(record.etcd.pid, record.dir):
            args = record.etcd.args
            record.etcd = ProcessRecord(
                spawn(args, Path(record.dir) / "etcd.log"), args, "etcd.log"
            )
            state.write(self.state_file)
            self._wait(State(state.members, [record]), "etcd", ETCD_TIMEOUT)
        state.write(self.state_file)
        self.start_apiserver(name)

    def rebuild(self, name: str) -> None:
        """Replace cluster ``name`` by an empty one (a lost cluster re-created).

        Same ports, certificates and context, fresh etcd data: for disaster-recovery tests.
        """
        state = self.state()
        assert state is not None
        record = next(r for r in state.clusters if r.name == name)
        for process in (record.apiserver, record.etcd):
            if process is not None:
                stop(process.pid, record.dir)
        shutil.rmtree(Path(record.dir) / "etcd", ignore_errors=True)
        assert record.etcd is not None
        args = record.etcd.args
        record.etcd = ProcessRecord(spawn(args, Path(record.dir) / "etcd.log"), args, "etcd.log")
        state.write(self.state_file)
        self._wait(State(state.members, [record]), "etcd", ETCD_TIMEOUT)
        assert record.apiserver is not None
        self._spawn_apiserver(record, record.apiserver.args[0])
        state.write(self.state_file)
        self._wait(State(state.members, [record]), "apiserver", APISERVER_TIMEOUT)

    # --- helpers ---------------------------------------------------------------------------

    def _wait(self, state: State, which: str, timeout: float) -> None:
        pending = list(state.clusters)
        deadline = time.monotonic() + timeout
        while pending:
            for record in list(pending):
                process = record.etcd if which == "etcd" else record.apiserver
                assert process is not None
                log = Path(record.dir) / process.log
                if not alive(process.pid, record.dir):
                    raise SandboxError(
                        f"{which} of cluster {record.name} exited during start; "
                        f"last lines of {log}:\n{tail(log)}"
                    )
                ready = (
                    probe(f"http://127.0.0.1:{record.etcd_port}/health")
                    if which == "etcd"
                    else self._ready(record)
                )
                if ready:
                    pending.remove(record)
            if pending and time.monotonic() > deadline:
                record = pending[0]
                process = record.etcd if which == "etcd" else record.apiserver
                assert process is not None
                log = Path(record.dir) / process.log
                raise SandboxError(
                    f"{which} of cluster {record.name} not ready after {timeout:.0f}s; "
                    f"last lines of {log}:\n{tail(log)}"
                )
            if pending:
                time.sleep(0.2)

    def _ready(self, record: ClusterRecord) -> bool:
        return probe(f"{record.server}/readyz", _client_tls(Path(record.dir)))

    def _write_certs(self, cluster_dir: Path, name: str) -> None:
        certs = make_cluster_certs(name)
        pki = cluster_dir / "pki"
        pki.mkdir(exist_ok=True)
        files = {
            "ca.crt": certs.ca.cert,
            "ca.key": certs.ca.key,
            "apiserver.crt": certs.serving.cert,
            "apiserver.key": certs.serving.key,
            "admin.crt": certs.admin.cert,
            "admin.key": certs.admin.key,
            "sa.key": certs.service_account_key,
            "sa.pub": certs.service_account_pub,
        }
        for file_name, content in files.items():
            path = pki / file_name
            path.write_bytes(content)
            path.chmod(0o600)

    def _write_client_files(self, state: State) -> None:
        self.kubeconfig.write_text(yaml.safe_dump(kubeconfig_document(state), sort_keys=False))
        self.kubeconfig.chmod(0o600)
        self.clusters_yaml.write_text(clusters_yaml_text(state, self.kubeconfig))

    def env(self) -> str:
        """Shell exports that point kubectl and synchub at the sandbox."""
        return f"export KUBECONFIG={self.kubeconfig}\nexport SYNCHUB_CONFIG={self.clusters_yaml}\n"


def _client_tls(cluster_dir: Path) -> ssl.SSLContext:
    pki = cluster_dir / "pki"
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    return context


def _etcd_args(binary: str, r: ClusterRecord) -> list[str]:
    client = f"http://127.0.0.1:{r.etcd_port}"
    peer = f"http://127.0.0.1:{r.peer_port}"
    return [
        binary,
        f"--name={r.name}",
        f"--data-dir={r.dir}/etcd",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster={r.name}={peer}",
        "--unsafe-no-fsync",  # throwaway data: speed over durability
        "--log-level=warn",
    ]


def _apiserver_args(binary: str, r: ClusterRecord) -> list[str]:
    pki = f"{r.dir}/pki"
    return [
        binary,
        f"--etcd-servers=http://127.0.0.1:{r.etcd_port}",
        f"--cert-dir={r.dir}/certs",
        f"--tls-cert-file={pki}/apiserver.crt",
        f"--tls-private-key-file={pki}/apiserver.key",
        f"--client-ca-file={pki}/ca.crt",
        f"--secure-port={r.port}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        "--service-cluster-ip-range=10.0.0.0/24",
        f"--service-account-issuer=https://127.0.0.1:{r.port}/",
        f"--service-account-key-file={pki}/sa.pub",
        f"--service-account-signing-key-file={pki}/sa.key",
        "--authorization-mode=RBAC",
        "--disable-admission-plugins=ServiceAccount",
        "--enable-priority-and-fairness=false",  # fewer background writes and goroutines
        "--endpoint-reconciler-type=none",  # no periodic endpoint writes: quiet clusters
        "--profiling=false",
    ]


def kubeconfig_document(state: State) -> dict[str, Any]:
    """The kubeconfig for ``state``: a cluster, user and context per cluster."""

    def b64(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    clusters, users, contexts = [], [], []
    for r in state.clusters:
        pki = Path(r.dir) / "pki"
        clusters.append(
            {
                "name": r.context,
                "cluster": {"server": r.server, "certificate-authority-data": b64(pki / "ca.crt")},
            }
        )
        users.append(
            {
                "name": f"{r.context}-admin",
                "user": {
                    "client-certificate-data": b64(pki / "admin.crt"),
                    "client-key-data": b64(pki / "admin.key"),
                },
            }
        )
        contexts.append(
            {"name": r.context, "context": {"cluster": r.context, "user": f"{r.context}-admin"}}
        )
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters,
        "users": users,
        "contexts": contexts,
        "current-context": context_name(MASTER),
        "preferences": {},
    }


def clusters_yaml_text(state: State, kubeconfig: Path) -> str:
    """``clusters.yaml`` for the sandbox: the master and every member."""
    document: dict[str, Any] = {
        "kubeconfig": str(kubeconfig),
        "master": {"name": MASTER, "context": context_name(MASTER)},
        "members": [
            {"name": r.name, "context": r.context, "labels": {"synchub.io/sandbox": r.name}}
            for r in state.clusters
            if r.name != MASTER
        ],
    }
    header = "# Written by `synchub sandbox up`: the local sandbox clusters.\n"
    return header + yaml.safe_dump(document, sort_keys=False)
