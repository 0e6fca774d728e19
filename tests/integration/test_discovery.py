"""Cluster clients and discovery against the real sandbox API servers."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client as k8s

from hub.config.settings import ClusterConfig
from hub.core.errors import NotFound, Unauthorized, UnknownResource
from hub.kube.client import ClusterClient
from hub.kube.discovery import Discovery
from hub.kube.resources import ResourceInfo
from hub.testing import Clusters, open_crd, wait_for_async


def master_config(clusters: Clusters) -> ClusterConfig:
    return clusters.config.master


@pytest.mark.parametrize(
    ("name", "group", "resource"),
    [
        ("secret", "", "secrets"),
        ("Secret", "", "secrets"),
        ("secrets", "", "secrets"),
        ("deployments.apps", "apps", "deployments"),
        ("deployments.v1.apps", "apps", "deployments"),
        ("Deployment", "apps", "deployments"),
        ("leases.coordination.k8s.io", "coordination.k8s.io", "leases"),
    ],
)
async def test_resolves_names(clusters: Clusters, name: str, group: str, resource: str) -> None:
    async with await ClusterClient.connect(master_config(clusters)) as client:
        info = await Discovery(client).resolve(name)
    assert (info.group, info.resource) == (group, resource)


async def test_subresources_never_match(clusters: Clusters) -> None:
    async with await ClusterClient.connect(master_config(clusters)) as client:
        discovery = Discovery(client)
        with pytest.raises(UnknownResource):
            await discovery.resolve("status")
        assert all("/" not in info.resource for info in discovery.resources)
        secrets = await discovery.resolve("secrets")
        assert not secrets.has_status
        deployments = await discovery.resolve("deployments")
        assert deployments.has_status


async def test_crd_created_after_start_is_found(clusters: Clusters) -> None:
    group = f"g{uuid.uuid4().hex[:8]}.example.com"
    async with await ClusterClient.connect(master_config(clusters)) as client:
        discovery = Discovery(client)
        await discovery.refresh()  # discovery is warm before the CRD exists
        k8s.ApiextensionsV1Api(clusters.api["master"]).create_custom_resource_definition(
            open_crd(group, "v1", "Widget")
        )
        info = await wait_resolve(discovery, f"widgets.{group}")
        assert (info.kind, info.version, info.namespaced) == ("Widget", "v1", True)
        assert (await discovery.resolve("Widget")).group == group


async def wait_resolve(discovery: Discovery, name: str) -> ResourceInfo:
    """A new CRD takes a moment to be served: resolve ``name`` once it is."""

    async def found() -> bool:
        try:
            await discovery.resolve(name)
        except UnknownResource:
            return False
        return True

    await wait_for_async(found, timeout=10, interval=0.2, what=f"{name} in discovery")
    return await discovery.resolve(name)


async def test_errors_are_typed(clusters: Clusters, namespace: str) -> None:
    async with await ClusterClient.connect(master_config(clusters)) as client:
        with pytest.raises(NotFound):
            await client.get(f"/api/v1/namespaces/{namespace}/secrets/missing")


def bad_token_kubeconfig(clusters: Clusters, tmp_path: Path) -> Path:
    document = yaml.safe_load(clusters.kubeconfig.read_text())
    for user in document["users"]:
        user["user"] = {"token": "not-a-valid-token"}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(document))
    return path


async def test_bad_token_is_unauthorised(clusters: Clusters, tmp_path: Path) -> None:
    kubeconfig = bad_token_kubeconfig(clusters, tmp_path)
    master = master_config(clusters)
    cluster = ClusterConfig(master.name, master.context, (kubeconfig,), master.labels, True)
    async with await ClusterClient.connect(cluster) as client:
        with pytest.raises(Unauthorized):
            await client.get("/api")


def test_bad_token_check_says_unauthorised(clusters: Clusters, tmp_path: Path) -> None:
    kubeconfig = bad_token_kubeconfig(clusters, tmp_path)
    text = clusters.clusters_yaml.read_text().replace(str(clusters.kubeconfig), str(kubeconfig))
    config = tmp_path / "clusters.yaml"
    config.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "hub", "-c", str(config), "check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "master (context synchub-master): unauthorised" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
