"""Shared fixtures: one real sandbox (master + 2 members) for the integration and e2e suites.

The sandbox is started through the same code as ``synchub sandbox up``. Each test gets fresh
namespaces, because without a controller-manager namespaces never finish deleting.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from prometheus_client.parser import text_string_to_metric_families

from hub.config.loader import load_config
from hub.config.settings import Config
from hub.sandbox import MASTER, Sandbox, context_name, member_names

MEMBERS = 2


class Provider(Protocol):
    """Where the test clusters come from: the sandbox (default) or kind (``--provider kind``)."""

    kubeconfig: Path
    clusters_yaml: Path

    def stop_apiserver(self, name: str) -> None: ...

    def start_apiserver(self, name: str) -> None: ...


class KindClusters:
    """Three kind clusters through pytest-kind, named and wired like the sandbox."""

    def __init__(self, directory: Path) -> None:
        from pytest_kind import KindCluster

        self.dir = directory
        self.kind = {n: KindCluster(f"synchub-{n}") for n in [MASTER, *member_names(MEMBERS)]}
        self.kubeconfig = directory / "kubeconfig"
        self.clusters_yaml = directory / "clusters.yaml"

    def up(self) -> None:
        import yaml

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
        members = [{"name": n, "context": context_name(n), "labels": {"synchub.io/sandbox": n}}
                   for n in member_names(MEMBERS)]  # fmt: skip
        self.clusters_yaml.write_text(yaml.safe_dump({
            "kubeconfig": str(self.kubeconfig),
            "master": {"name": MASTER, "context": context_name(MASTER)},
            "members": members,
        }))  # fmt: skip

    def down(self) -> None:
        for cluster in self.kind.values():
            cluster.delete()

    def stop_apiserver(self, name: str) -> None:
        subprocess.run(["docker", "stop", f"synchub-{name}-control-plane"], check=True)

    def start_apiserver(self, name: str) -> None:
        subprocess.run(["docker", "start", f"synchub-{name}-control-plane"], check=True)
        client = api_client(self.kubeconfig, name)
        wait_for(lambda: _readyz(client), timeout=120, interval=1)


def _readyz(client: k8s.ApiClient) -> bool:
    try:
        client.call_api("/readyz", "GET", _preload_content=False, auth_settings=["BearerToken"])
    except Exception:
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


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--provider",
        choices=("sandbox", "kind"),
        default="sandbox",
        help="test clusters: local kube-apiservers (sandbox, default) or kind clusters",
    )


@dataclass
class Clusters:
    """The running test clusters and synchronous API clients (for arranging and asserting)."""

    sandbox: Provider
    config: Config
    api: dict[str, k8s.ApiClient]

    @property
    def kubeconfig(self) -> Path:
        return self.sandbox.kubeconfig

    @property
    def clusters_yaml(self) -> Path:
        return self.sandbox.clusters_yaml

    @property
    def names(self) -> list[str]:
        return [MASTER, *member_names(MEMBERS)]

    def core(self, cluster: str) -> k8s.CoreV1Api:
        return k8s.CoreV1Api(self.api[cluster])

    def custom(self, cluster: str) -> k8s.CustomObjectsApi:
        return k8s.CustomObjectsApi(self.api[cluster])


def api_client(kubeconfig: Path, cluster: str) -> k8s.ApiClient:
    return k8s_config.new_client_from_config(
        config_file=str(kubeconfig), context=context_name(cluster)
    )


@pytest.fixture(scope="session")
def clusters(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Clusters]:
    directory = Path(os.environ.get("SYNCHUB_TEST_SANDBOX") or tmp_path_factory.mktemp("sandbox"))
    provider: Sandbox | KindClusters
    if request.config.getoption("--provider") == "kind":
        problem = docker_problem()
        if problem:
            pytest.skip(f"--provider kind needs a running Docker engine: {problem}")
        provider = KindClusters(directory)
        provider.up()
    else:
        provider = Sandbox(directory)
        provider.up(MEMBERS)
    config = load_config(provider.clusters_yaml)
    names = [MASTER, *member_names(MEMBERS)]
    api = {name: api_client(provider.kubeconfig, name) for name in names}
    try:
        yield Clusters(provider, config, api)
    finally:
        for client in api.values():
            client.close()
        provider.down()


@pytest.fixture
def namespace(clusters: Clusters) -> str:
    """A fresh namespace, created on every sandbox cluster."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    for cluster in clusters.names:
        clusters.core(cluster).create_namespace(k8s.V1Namespace(metadata={"name": name}))
    return name


@pytest.fixture(scope="session")
def federated_crds(clusters: Clusters) -> None:
    """The Federated CRDs of both API generations, on the master (where templates live)."""
    import yaml
    from kubernetes.client.exceptions import ApiException

    from hub.core.crds import render_crds

    api = k8s.ApiextensionsV1Api(clusters.api[MASTER])
    for document in yaml.safe_load_all(render_crds()):
        try:
            api.create_custom_resource_definition(document)
        except ApiException as exc:
            if exc.status != 409:
                raise
    wait_for(lambda: all(served(clusters, d) for d in yaml.safe_load_all(render_crds())))


def served(clusters: Clusters, crd: dict[str, Any]) -> bool:
    spec = crd["spec"]
    version = spec["versions"][0]["name"]
    return crd_served(clusters.api[MASTER], spec["group"], version, spec["names"]["plural"])


def crd_served(api: k8s.ApiClient, group: str, version: str, plural: str) -> bool:
    """True once the API server serves ``plural`` in ``group/version``."""
    try:
        resources = k8s.CustomObjectsApi(api).get_api_resources(group, version)
    except Exception:
        return False
    return any(r.name == plural for r in resources.resources)


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
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
            "versions": [served_version],
        },
    }


def install_crd(
    apis: list[k8s.ApiClient], group: str, version: str, kind: str, *, status: bool = False
) -> str:
    """Create an open CRD on each API server (already there is fine); wait until served."""
    from kubernetes.client.exceptions import ApiException

    crd = open_crd(group, version, kind, status=status)
    for api in apis:
        try:
            k8s.ApiextensionsV1Api(api).create_custom_resource_definition(crd)
        except ApiException as exc:
            if exc.status != 409:
                raise
    plural = str(crd["spec"]["names"]["plural"])
    wait_for(lambda: all(crd_served(api, group, version, plural) for api in apis))
    return plural


def wait_for(condition: Callable[[], object], timeout: float = 30.0, interval: float = 0.1) -> None:
    """Poll until ``condition()`` is truthy; fail with the condition's name on timeout."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {condition}")
        time.sleep(interval)


class HubProcess:
    """``synchub run`` as a subprocess, the way a user runs it."""

    def __init__(self, config: Path, log: Path, *args: str) -> None:
        self.config = config
        self.log = log
        self.args = args
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, wait_ready: bool = True) -> HubProcess:
        command = [
            sys.executable, "-m", "hub", "-c", str(self.config), "run",
            "--http-addr", f"127.0.0.1:{self.port}", *self.args,
        ]  # fmt: skip
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        wait_for(self.ready if wait_ready else self.alive, timeout=60)
        return self

    def alive(self) -> bool:
        """The process runs and answers /healthz (before it is connected and ready)."""
        return self._get("/healthz")

    def ready(self) -> bool:
        return self._get("/readyz")

    def _get(self, path: str) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"synchub exited with {self.process.returncode}:\n{self.output()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            return str(r.read().decode())

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels``."""
        total = 0.0
        for family in text_string_to_metric_families(self.metrics()):
            for sample in family.samples:
                if sample.name == name and labels.items() <= sample.labels.items():
                    total += sample.value
        return total

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM and wait: a graceful shutdown exits 0."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def hub(clusters: Clusters, federated_crds: None, tmp_path: Path) -> Iterator[HubProcess]:
    """A running hub on the sandbox; its log is printed when the test fails."""
    process = HubProcess(clusters.clusters_yaml, tmp_path / "synchub.log").start()
    yield process
    code = process.stop()
    assert code == 0, f"synchub did not shut down cleanly ({code}):\n{process.output()[-3000:]}"


def require_cert_manager_build() -> None:
    """Fail (never skip) when ``make control-plane`` has not built cert-manager and the CRDs."""
    from hub.sandbox import certmanager

    try:
        certmanager.find_cert_manager()
        certmanager.cert_manager_crds_file()
        certmanager.helmrelease_crd_file()
    except certmanager.CertManagerNotFound as exc:
        pytest.fail(f"cert-manager build missing (CI runs `make control-plane`): {exc}")


@pytest.fixture(scope="module")
def cert_manager(clusters: Clusters, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The real cert-manager on the master with ClusterIssuer ``synchub-ca`` Ready; stopped
    after the module that asked for it."""
    from hub.sandbox import certmanager
    from hub.sandbox.process import stop

    require_cert_manager_build()
    if isinstance(clusters.sandbox, Sandbox):
        clusters.sandbox.start_cert_manager(MASTER)
        yield
        clusters.sandbox.stop_cert_manager(MASTER)
    else:  # kind: the same controller, run from here against the kind master
        workdir = tmp_path_factory.mktemp("cert-manager")
        pid, _args, _log = certmanager.setup(clusters.kubeconfig, context_name(MASTER), workdir)
        yield
        stop(pid, str(workdir))


@pytest.fixture(scope="session")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The sandbox git server (smart HTTP through git http-backend, basic auth), as
    ``synchub sandbox up --git`` starts it."""
    from hub.sandbox.gitserver import GitServer

    server = GitServer(tmp_path_factory.mktemp("gitserver"))
    server.up()
    yield server
    server.down()
