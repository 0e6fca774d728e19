"""Shared fixtures: one real sandbox (master + 2 members) for the integration and e2e suites.

The sandbox is started through the same code as ``synchub sandbox up``. Each test gets fresh
namespaces, because without a controller-manager namespaces never finish deleting.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from hub.config import Config, load_config
from hub.sandbox import MASTER, Sandbox, context_name, member_names

MEMBERS = 2


@dataclass
class Clusters:
    """The running sandbox and synchronous API clients (for arranging and asserting)."""

    sandbox: Sandbox
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
def clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clusters]:
    directory = Path(os.environ.get("SYNCHUB_TEST_SANDBOX") or tmp_path_factory.mktemp("sandbox"))
    sandbox = Sandbox(directory)
    sandbox.up(MEMBERS)
    config = load_config(sandbox.clusters_yaml)
    api = {name: api_client(sandbox.kubeconfig, name) for name in [MASTER, *member_names(MEMBERS)]}
    try:
        yield Clusters(sandbox, config, api)
    finally:
        for client in api.values():
            client.close()
        sandbox.down()


@pytest.fixture
def namespace(clusters: Clusters) -> str:
    """A fresh namespace, created on every sandbox cluster."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    for cluster in clusters.names:
        clusters.core(cluster).create_namespace(k8s.V1Namespace(metadata={"name": name}))
    return name
