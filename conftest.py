"""Shared fixtures: one real sandbox (master + 2 members) for the integration and e2e suites.

The sandbox is started through the same code as ``synchub sandbox up``. Each test gets fresh
namespaces, because without a controller-manager namespaces never finish deleting. Helpers
live in :mod:`hub.testing`; this file holds fixtures only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.sandbox import MASTER, Sandbox, certmanager, context_name
from hub.sandbox.gitserver import GitServer
from hub.sandbox.process import stop
from hub.testing import (
    Clusters,
    HubProcess,
    docker_problem,
    install_federated_crds,
    require_cert_manager_build,
    start_clusters,
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--provider``: where the test clusters come from."""
    parser.addoption(
        "--provider",
        choices=("sandbox", "kind"),
        default="sandbox",
        help="test clusters: local kube-apiservers (sandbox, default) or kind clusters",
    )


@pytest.fixture(scope="session")
def clusters(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Clusters]:
    """The shared test clusters, for the whole session."""
    directory = Path(os.environ.get("SYNCHUB_TEST_SANDBOX") or tmp_path_factory.mktemp("sandbox"))
    provider = str(request.config.getoption("--provider"))
    if provider == "kind":
        problem = docker_problem()
        if problem:
            pytest.skip(f"--provider kind needs a running Docker engine: {problem}")
    with start_clusters(directory, provider) as running:
        yield running


@pytest.fixture
def namespace(clusters: Clusters) -> str:
    """A fresh namespace, created on every sandbox cluster."""
    return clusters.create_namespace()


@pytest.fixture(scope="session")
def federated_crds(clusters: Clusters) -> None:
    """The Federated CRDs of both API generations, on the master (where templates live)."""
    install_federated_crds(clusters.api["master"])


@pytest.fixture
def hub(clusters: Clusters, federated_crds: None, tmp_path: Path) -> Iterator[HubProcess]:
    """A running hub on the sandbox; its log is printed when the test fails."""
    process = HubProcess(clusters.clusters_yaml, tmp_path / "synchub.log").start()
    yield process
    code = process.stop()
    assert code == 0, f"synchub did not shut down cleanly ({code}):\n{process.output()[-3000:]}"


@pytest.fixture(scope="module")
def cert_manager(clusters: Clusters, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The real cert-manager on the master with ClusterIssuer ``synchub-ca`` Ready; stopped
    after the module that asked for it."""
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
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    """The sandbox git server (smart HTTP through git http-backend, basic auth), as
    ``synchub sandbox up --git`` starts it."""
    server = GitServer(tmp_path_factory.mktemp("gitserver"))
    server.up()
    yield server
    server.down()
