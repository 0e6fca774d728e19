"""The test kit shared by ``tests/``, ``e2e/``, ``bench/`` and ``make demo``.

Real clusters only (no mocks of the Kubernetes API): :func:`start_clusters` brings up the
sandbox (or kind) and gives synchronous ``kubernetes`` clients for arranging and asserting;
:class:`HubProcess` runs ``synchub run`` as a subprocess the way a user runs it and reads its
``/metrics``; :func:`wait_for` and :func:`settled` wait on conditions instead of sleeping;
:class:`WorkRepo` pushes commits to the sandbox git server. Credentials reach git through
environment-held config (``http.extraHeader``), never through a URL or an argument.

It needs the ``test`` extra (``kubernetes``, the synchronous client); the hub never imports it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Mapping,
)
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Self, TypeVar

import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from prometheus_client.parser import text_string_to_metric_families

from hub.config.loader import load_config
from hub.config.settings import Config
from hub.core.crd_schema import crd_document
from hub.core.crds import render_crds
from hub.sandbox import MASTER, Sandbox, certmanager, context_name, member_names
from hub.sandbox.process import free_ports

#: Members of the shared test sandbox (member-1, member-2).
MEMBERS = 2

T = TypeVar("T")

# --- waiting on conditions -------------------------------------------------------------------


#: A condition is called without arguments; ``...`` lets a loop bind its variables as lambda
#: defaults (``lambda n=name: ...``), which mypy cannot infer against ``Callable[[], object]``.
Condition = Callable[..., object]


def poll(condition: Condition, timeout: float = 30.0, interval: float = 0.1) -> bool:
    """Call ``condition()`` until it is truthy (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def wait_for(
    condition: Condition, timeout: float = 30.0, interval: float = 0.1, what: str = ""
) -> None:
    """Poll until ``condition()`` is truthy; fail naming ``what`` (or the condition) on timeout."""
    if not poll(condition, timeout, interval):
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what or condition}")


async def poll_async(
    condition: Callable[[], Awaitable[object]], timeout: float = 30.0, interval: float = 0.1
) -> bool:
    """:func:`poll` for a coroutine condition, without blocking the event loop."""
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)
    return True


async def wait_for_async(
    condition: Callable[[], Awaitable[object]],
    timeout: float = 30.0,
    interval: float = 0.1,
    what: str = "",
) -> None:
    """:func:`wait_for` for a coroutine condition."""
    if not await poll_async(condition, timeout, interval):
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what or condition}")


async def until(
    condition: Callable[[], object], timeout: float = 30.0, interval: float = 0.05, what: str = ""
) -> None:
    """In a coroutine: wait until the plain ``condition()`` is truthy, letting the loop run."""

    async def check() -> object:
        return condition()

    await wait_for_async(check, timeout, interval, what)


@asynccontextmanager
async def background(
    coroutine: Coroutine[Any, Any, T],
    *,
    stop: Callable[[], object] | None = None,
    timeout: float = 10.0,
) -> AsyncIterator[asyncio.Task[T]]:
    """Run ``coroutine`` as a task during the ``async with`` block.

    On leaving, ``stop()`` it and wait until it ends (without ``stop``: cancel it).
    """
    task = asyncio.create_task(coroutine)
    try:
        yield task
    finally:
        if stop is None:
            task.cancel()
        else:
            stop()
        with suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout)


def settled(
    read: Callable[[], T], quiet: float = 3.0, timeout: float = 60.0, interval: float = 0.25
) -> T:
    """Wait until ``read()`` has not changed for ``quiet`` seconds; return its value."""
    deadline = time.monotonic() + timeout
    value, since = read(), time.monotonic()
    while time.monotonic() - since < quiet:
        if time.monotonic() > deadline:
            raise AssertionError(f"value still changing after {timeout:.0f}s (last {value!r})")
        time.sleep(interval)
        current = read()
        if current != value:
            value, since = current, time.monotonic()
    return value


def stays(get: Callable[[], object], expected: object, seconds: float = 3.0) -> None:
    """Assert ``get()`` keeps equal to ``expected`` for ``seconds`` (an absence check)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = get()
        assert value == expected, f"changed to {value!r}, expected to stay {expected!r}"
        time.sleep(0.2)


# --- small helpers -------------------------------------------------------------------------


def b64(text: str) -> str:
    """``text`` base64-encoded, as Secret data holds it."""
    return base64.b64encode(text.encode()).decode()


#: Placement on every member, never the master.
MEMBERS_ONLY = {"matchExpressions": [{"key": "cluster-master", "operator": "DoesNotExist"}]}


def copying_federated_secret(
    name: str, source: str, placement: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A FederatedSecret whose data the hub copies from Secret ``source``.

    ``types.kubefed.io/v1beta1``, k8s-copier's annotation; placed on every member unless
    ``placement`` says otherwise.
    """
    return {
        "apiVersion": "types.kubefed.io/v1beta1",
        "kind": "FederatedSecret",
        "metadata": {
            "name": name,
            "annotations": {
                "k8s-copier.fig.org/replace-spec.template.data": f"secrets:{source}:data"
            },
        },
        "spec": {
            "template": {"type": "Opaque"},
            "placement": placement or {"clusterSelector": MEMBERS_ONLY},
        },
    }


def write_config(source: Path, directory: Path, **extra: Any) -> Path:
    """``directory``/clusters.yaml: the one at ``source`` with top-level keys added or replaced."""
    path = directory / "clusters.yaml"
    document = yaml.safe_load(source.read_text())
    document.update(extra)
    path.write_text(yaml.safe_dump(document))
    return path


# --- ports and metrics -----------------------------------------------------------------------


def free_port(preferred: int = 0) -> int:
    """``preferred`` when it is free on 127.0.0.1, else a free port the sandbox would choose."""
    if preferred:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", preferred))
            except OSError:
                pass
            else:
                return preferred
    return free_ports(1)[0]


Sample = tuple[dict[str, str], float]


def samples(text: str, name: str) -> list[Sample]:
    """(labels, value) of every sample called ``name`` in a Prometheus text exposition."""
    return [
        (dict(sample.labels), float(sample.value))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def metric_sum(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    return sum(v for got, v in samples(text, name) if labels.items() <= got.items())


# --- the hub as a process --------------------------------------------------------------------


class HubProcess:
    """``synchub run`` as a subprocess, the way a user runs it; output appended to ``log``.

    ``detached`` starts it in a session of its own, so it outlives the caller (``make demo``).
    """

    def __init__(
        self, config: Path, log: Path, *args: str, port: int = 0, detached: bool = False
    ) -> None:
        self.config = config
        self.log = log
        self.args = args
        self.port = port or free_port()
        self.detached = detached
        self.process: subprocess.Popen[bytes] | None = None
        #: Monotonic time of :meth:`start`.
        self.started = 0.0

    def command(self) -> list[str]:
        """The command line :meth:`start` runs."""
        return [
            sys.executable, "-m", "hub", "-c", str(self.config), "run",
            "--http-addr", f"127.0.0.1:{self.port}", *self.args,
        ]  # fmt: skip

    def start(self, *, wait_ready: bool = True, timeout: float = 60.0) -> Self:
        """Start it; wait until ready (or, for a standby, until alive); ``timeout=0``: no wait."""
        self.started = time.monotonic()
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=self.detached,
            )
        if timeout:
            wait_for(self.ready if wait_ready else self.alive, timeout=timeout, what="the hub")
        return self

    @property
    def pid(self) -> int:
        """The process id (after :meth:`start`)."""
        assert self.process is not None, "the hub was not started"
        return self.process.pid

    def check_running(self) -> None:
        """Fail with the log's tail when the process has exited."""
        assert self.process is not None, "the hub was not started"
        if self.process.poll() is not None:
            raise AssertionError(
                f"synchub exited with {self.process.returncode}:\n{self.output()[-3000:]}"
            )

    def running(self) -> bool:
        """True while the process runs."""
        return self.process is not None and self.process.poll() is None

    def alive(self) -> bool:
        """The process runs and answers /healthz (before it is connected and ready)."""
        return self._get("/healthz")

    def ready(self) -> bool:
        """The process runs and answers /readyz with 200."""
        return self._get("/readyz")

    def _get(self, path: str) -> bool:
        self.check_running()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def metrics(self) -> str:
        """The /metrics text."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10) as r:
            return str(r.read().decode())

    def samples(self, name: str) -> list[Sample]:
        """(labels, value) of the samples of ``name`` now."""
        return samples(self.metrics(), name)

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels``."""
        return metric_sum(self.metrics(), name, **labels)

    def output(self) -> str:
        """Everything the process wrote so far."""
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait (a graceful shutdown exits 0); None when never started."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@contextmanager
def running_hub(config: Path, log: Path, *args: str) -> Iterator[HubProcess]:
    """A started hub; on leaving, it must shut down cleanly (exit 0)."""
    process = HubProcess(config, log, *args)
    try:
        yield process.start()
    finally:
        code = process.stop()
    assert code == 0, f"synchub did not shut down cleanly ({code}):\n{process.output()[-3000:]}"


def run_once(config: Path, *args: str, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
    """``synchub run --once`` to completion, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "hub", "-c", str(config), "run", "--once", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# --- clusters --------------------------------------------------------------------------------


class Provider(Protocol):
    """Where the test clusters come from: the sandbox (default) or kind."""

    @property
    def kubeconfig(self) -> Path:
        """The kubeconfig with one context per cluster."""
        ...

    @property
    def clusters_yaml(self) -> Path:
        """The hub's clusters.yaml for these clusters."""
        ...

    def up(self, members: int = MEMBERS) -> object:
        """Start the clusters."""
        ...

    def down(self) -> None:
        """Stop the clusters."""
        ...

    def stop_apiserver(self, name: str) -> None:
        """Take one cluster's API server down."""
        ...

    def start_apiserver(self, name: str) -> None:
        """Bring it back and wait until it serves."""
        ...


class KindClusters:
    """Clusters made by kind through pytest-kind, named and wired like the sandbox."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.names: list[str] = []
        self.kind: dict[str, Any] = {}
        self.kubeconfig = directory / "kubeconfig"
        self.clusters_yaml = directory / "clusters.yaml"

    def up(self, members: int = MEMBERS) -> None:
        """Create the clusters; write one kubeconfig and clusters.yaml for all of them."""
        from pytest_kind import KindCluster  # type: ignore[import-untyped]

        self.names = [MASTER, *member_names(members)]
        self.kind = {n: KindCluster(f"synchub-{n}") for n in self.names}
        merged: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "clusters": [],
                                  "users": [], "contexts": []}  # fmt: skip
        for name, cluster in self.kind.items():
            cluster.create()
            doc = yaml.safe_load(Path(cluster.kubeconfig_path).read_text())
            context = context_name(name)
            merged["clusters"].append({"name": context, "cluster": doc["clusters"][0]["cluster"]})
            merged["users"].append({"name": context, "user": doc["users"][0]["user"]})
            merged["contexts"].append(
                {"name": context, "context": {"cluster": context, "user": context}}
            )
        self.kubeconfig.write_text(yaml.safe_dump(merged))
        listed = [{"name": n, "context": context_name(n), "labels": {"synchub.io/sandbox": n}}
                  for n in self.names[1:]]  # fmt: skip
        self.clusters_yaml.write_text(yaml.safe_dump({
            "kubeconfig": str(self.kubeconfig),
            "master": {"name": MASTER, "context": context_name(MASTER)},
            "members": listed,
        }))  # fmt: skip

    def down(self) -> None:
        """Delete the clusters."""
        for cluster in self.kind.values():
            cluster.delete()

    def stop_apiserver(self, name: str) -> None:
        """Stop the cluster's node container."""
        subprocess.run(["docker", "stop", f"synchub-{name}-control-plane"], check=True)

    def start_apiserver(self, name: str) -> None:
        """Start the node container again and wait for /readyz."""
        subprocess.run(["docker", "start", f"synchub-{name}-control-plane"], check=True)
        client = api_client(self.kubeconfig, name)
        try:
            wait_for(lambda: _readyz(client), timeout=120, interval=1, what=f"{name} to serve")
        finally:
            client.close()


def _readyz(client: k8s.ApiClient) -> bool:
    """The API server answers (GET /version)."""
    try:
        k8s.VersionApi(client).get_code()
    except Exception:  # not up yet, whatever the way it says so
        return False
    return True


def docker_problem() -> str:
    """Why kind cannot run here, or "" when a Docker engine answers."""
    if shutil.which("docker") is None:
        return "no docker command"
    probe = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return (probe.stderr.strip().splitlines() or ["docker info failed"])[-1]
    return ""


def api_client(kubeconfig: Path, cluster: str, pool_size: int = 0) -> k8s.ApiClient:
    """A synchronous client for one cluster's context.

    It has its own configuration, never the process-global default; ``pool_size`` widens the
    connection pool for threaded use.
    """
    client = k8s_config.new_client_from_config(
        config_file=str(kubeconfig), context=context_name(cluster)
    )
    if not pool_size:
        return client
    configuration = client.configuration
    client.close()
    configuration.connection_pool_maxsize = pool_size
    return k8s.ApiClient(configuration)


@dataclass
class Clusters:
    """Running test clusters and synchronous API clients (for arranging and asserting)."""

    sandbox: Provider
    config: Config
    api: dict[str, k8s.ApiClient]

    @property
    def kubeconfig(self) -> Path:
        """The kubeconfig with a context per cluster."""
        return self.sandbox.kubeconfig

    @property
    def clusters_yaml(self) -> Path:
        """The hub's clusters.yaml for these clusters."""
        return self.sandbox.clusters_yaml

    @property
    def names(self) -> list[str]:
        """The master first, then the members."""
        return list(self.api)

    @property
    def members(self) -> list[str]:
        """The members' names."""
        return self.names[1:]

    def core(self, cluster: str = MASTER) -> k8s.CoreV1Api:
        """The core/v1 API of one cluster."""
        return k8s.CoreV1Api(self.api[cluster])

    def custom(self, cluster: str = MASTER) -> k8s.CustomObjectsApi:
        """The custom-objects API of one cluster."""
        return k8s.CustomObjectsApi(self.api[cluster])

    def create_namespace(self, name: str = "", on: Iterable[str] | None = None) -> str:
        """Create namespace ``name`` (default: a fresh ``t-…``) on ``on`` (default: all)."""
        name = name or f"t-{uuid.uuid4().hex[:10]}"
        for cluster in self.names if on is None else on:
            self.core(cluster).create_namespace({"metadata": {"name": name}})
        return name


@contextmanager
def start_clusters(
    directory: Path,
    provider: str = "sandbox",
    members: int = MEMBERS,
    *,
    pool_size: int = 0,
    say: Callable[[str], None] | None = None,
) -> Iterator[Clusters]:
    """Master + ``members`` clusters in ``directory`` (sandbox or kind); always torn down."""
    chosen: Provider = (
        KindClusters(directory) if provider == "kind" else Sandbox(directory, say=say)
    )
    chosen.up(members)
    api: dict[str, k8s.ApiClient] = {}
    try:
        for name in [MASTER, *member_names(members)]:
            api[name] = api_client(chosen.kubeconfig, name, pool_size)
        yield Clusters(chosen, load_config(chosen.clusters_yaml), api)
    finally:
        for client in api.values():
            client.close()
        chosen.down()


def require_cert_manager_build() -> None:
    """Fail (never skip) when ``make control-plane`` has not built cert-manager and the CRDs."""
    try:
        certmanager.find_cert_manager()
        certmanager.cert_manager_crds_file()
        certmanager.helmrelease_crd_file()
    except certmanager.CertManagerNotFound as exc:
        raise AssertionError(
            f"cert-manager build missing (CI runs `make control-plane`): {exc}"
        ) from None


def _etcd(clusters: Clusters, cluster: str, path: str, body: dict[str, object]) -> dict[str, Any]:
    """POST to the sandbox etcd's v3 JSON gateway of ``cluster``."""
    if not isinstance(clusters.sandbox, Sandbox):
        raise AssertionError("reaching etcd needs the sandbox provider")
    url = f"http://127.0.0.1:{clusters.sandbox.cluster(cluster).etcd_port}/v3/kv/{path}"
    request = urllib.request.Request(url, json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read()))


def etcd_revision(clusters: Clusters, cluster: str = MASTER) -> int:
    """The current etcd revision of sandbox cluster ``cluster``.

    It grows by one per write any client (or the API server itself) makes there.
    """
    return int(_etcd(clusters, cluster, "range", {"key": "Lw=="})["header"]["revision"])  # "/"


def etcd_versions(clusters: Clusters, cluster: str = MASTER) -> dict[str, int]:
    """Every etcd key of sandbox cluster ``cluster`` with its version.

    The version is the number of writes to the key since it was created: two readings tell
    how often each object was written.
    """
    everything = {"key": "AA==", "range_end": "AA==", "keys_only": True}  # "\0": all keys
    kvs = _etcd(clusters, cluster, "range", everything).get("kvs") or []
    return {base64.b64decode(kv["key"]).decode(): int(kv.get("version", 0)) for kv in kvs}


def compact_etcd(clusters: Clusters, cluster: str = MASTER) -> int:
    """Compact the sandbox etcd of ``cluster`` up to its current revision, which it returns.

    Watches and lists from an older resourceVersion that reach etcd then get 410 Gone.
    """
    revision = etcd_revision(clusters, cluster)
    _etcd(clusters, cluster, "compaction", {"revision": revision, "physical": True})
    return revision


# --- CRDs ------------------------------------------------------------------------------------


def crd_served(api: k8s.ApiClient, group: str, version: str, plural: str) -> bool:
    """True once the API server serves ``plural`` in ``group/version``."""
    try:
        resources = k8s.CustomObjectsApi(api).get_api_resources(group, version)
    except ApiException:
        return False
    return any(r.name == plural for r in resources.resources)


def create_crds(apis: list[k8s.ApiClient], crds: list[dict[str, Any]], timeout: float = 60) -> None:
    """Create CRDs on each API server (already there is fine); wait until all are served."""
    for api in apis:
        for crd in crds:
            try:
                k8s.ApiextensionsV1Api(api).create_custom_resource_definition(crd)
            except ApiException as exc:
                if exc.status != 409:
                    raise

    def served() -> bool:
        return all(
            crd_served(api, c["spec"]["group"], version["name"], c["spec"]["names"]["plural"])
            for api in apis
            for c in crds
            for version in c["spec"]["versions"][:1]
        )

    wait_for(served, timeout=timeout, what="CRDs to be served")


def install_federated_crds(api: k8s.ApiClient) -> None:
    """The Federated CRDs of both API generations (``synchub crds``), served."""
    create_crds([api], list(yaml.safe_load_all(render_crds())))


def open_crd(
    group: str, version: str, kind: str, *, scope: str = "Namespaced", status: bool = False
) -> dict[str, Any]:
    """A CRD with an open schema, the way tests stand in for other projects' APIs."""
    plural = kind.lower() + "s"
    served_version: dict[str, Any] = {
        "name": version,
        "served": True,
        "storage": True,
        "schema": {
            "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        },
    }
    if status:
        served_version["subresources"] = {"status": {}}
    names = {"kind": kind, "plural": plural, "singular": kind.lower()}
    return crd_document(group, names, [served_version], scope=scope)


def install_crd(
    apis: list[k8s.ApiClient], group: str, version: str, kind: str, *, status: bool = False
) -> str:
    """An open CRD on each API server, served; returns its plural."""
    crd = open_crd(group, version, kind, status=status)
    create_crds(apis, [crd])
    return str(crd["spec"]["names"]["plural"])


# --- git (docs/gitsync.md) ---------------------------------------------------------------------


class WorkRepo:
    """A clone-less working repository: write files, commit, tag, push to ``remote``."""

    def __init__(self, directory: Path, remote: str, username: str, password: str) -> None:
        self.dir = directory
        self.remote = remote
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._env = {
            **os.environ,
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {token}",
            "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.com",
            "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.com",
            "GIT_TERMINAL_PROMPT": "0",
        }  # fmt: skip
        directory.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        """Run git in the repository; raise with git's message when it fails."""
        done = subprocess.run(
            ["git", *args], cwd=self.dir, env=self._env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"git {args[0]} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def write(self, files: Mapping[str, str | None]) -> None:
        """Create, replace (text) or delete (None) files, paths relative to the repository."""
        for name, text in files.items():
            path = self.dir / name
            if text is None:
                path.unlink(missing_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)

    def commit(self, message: str, files: Mapping[str, str | None] | None = None) -> str:
        """Write ``files``, commit everything, push ``main``; the new commit's sha."""
        if files:
            self.write(files)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        self.push("main")
        return self.git("rev-parse", "HEAD")

    def tag(self, name: str, *, annotated: bool = False) -> None:
        """Tag HEAD and push the tag."""
        self.git("tag", *(["-a", "-m", name] if annotated else []), name)
        self.push(f"refs/tags/{name}")

    def push(self, *refs: str) -> None:
        """Force-push ``refs`` to the remote."""
        self.git("push", "-q", "--force", self.remote, *refs)
