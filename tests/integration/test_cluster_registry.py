"""The cluster registry against a real master (docs/clusters.md): one ``Cluster`` per
configured cluster with its readiness, a down member's reason, no writes in steady state, and
the object of a cluster removed from clusters.yaml deleted (a hand-made one kept).

A sandbox of its own: the registry writes cluster-scoped objects every hub on a master shares.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from hub.core.crd_cluster import cluster_crd
from hub.sandbox import Sandbox
from hub.testing import HubProcess, api_client, free_port, wait_for

GROUP, VERSION, PLURAL = "synchub.io", "v1alpha1", "clusters"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    own = Sandbox(tmp_path_factory.mktemp("registry") / "sandbox")
    own.up(1)
    try:
        yield own
    finally:
        own.down()


@pytest.fixture(scope="module")
def master(sandbox: Sandbox) -> Iterator[k8s.ApiClient]:
    api = api_client(sandbox.kubeconfig, "master")
    extensions = k8s.ApiextensionsV1Api(api)
    for crd in [cluster_crd()]:
        extensions.create_custom_resource_definition(crd)
    objects = k8s.CustomObjectsApi(api)

    def served() -> bool:
        try:
            objects.list_cluster_custom_object(GROUP, VERSION, PLURAL)
        except ApiException:
            return False
        return True

    wait_for(served)
    yield api
    api.close()


def with_unreachable_context(sandbox: Sandbox, directory: Path) -> Path:
    """The sandbox kubeconfig plus context ``nowhere``: member-1's user, a closed port."""
    document = yaml.safe_load(sandbox.kubeconfig.read_text())
    context = next(c for c in document["contexts"] if c["name"] == "synchub-member-1")
    member = next(c for c in document["clusters"] if c["name"] == context["context"]["cluster"])
    document["clusters"].append({
        "name": "nowhere",
        "cluster": {**member["cluster"], "server": f"https://127.0.0.1:{free_port()}"},
    })  # fmt: skip
    document["contexts"].append(
        {"name": "nowhere", "context": {"cluster": "nowhere", "user": context["context"]["user"]}}
    )
    path = directory / "kubeconfig"
    path.write_text(yaml.safe_dump(document))
    return path


def config(directory: Path, kubeconfig: Path, *members: str) -> Path:
    contexts = {"member-1": "synchub-member-1", "nowhere": "nowhere"}
    path = directory / f"clusters-{len(members)}.yaml"
    path.write_text(yaml.safe_dump({
        "kubeconfig": str(kubeconfig),
        "master": {"name": "master", "context": "synchub-master"},
        "members": [{"name": m, "context": contexts[m]} for m in members],
        "propagation": {"mode": "direct"},
    }))  # fmt: skip
    return path


def registry(api: k8s.ApiClient) -> dict[str, dict[str, Any]]:
    listed = k8s.CustomObjectsApi(api).list_cluster_custom_object(GROUP, VERSION, PLURAL)
    return {item["metadata"]["name"]: item for item in listed["items"]}


def test_registry_reports_clusters_and_follows_clusters_yaml(
    sandbox: Sandbox, master: k8s.ApiClient, tmp_path: Path
) -> None:
    kubeconfig = with_unreachable_context(sandbox, tmp_path)
    handmade = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Cluster",
                "metadata": {"name": "handmade", "labels": {"team": "a"}}}  # fmt: skip
    k8s.CustomObjectsApi(master).create_cluster_custom_object(GROUP, VERSION, PLURAL, handmade)

    hub = HubProcess(config(tmp_path, kubeconfig, "member-1", "nowhere"), tmp_path / "a.log")
    hub.start()
    try:

        def reported() -> bool:
            found = registry(master)
            status = {n: (found.get(n) or {}).get("status") or {} for n in found}
            return (
                status.get("master", {}).get("ready") is True
                and status.get("member-1", {}).get("ready") is True
                and "connection refused" in status.get("nowhere", {}).get("message", "")
            )

        wait_for(reported, timeout=60)
        found = registry(master)
        assert found["master"]["status"]["version"].startswith("v1.")
        down = found["nowhere"]["status"]
        assert down["ready"] is False
        assert "connection refused" in down["message"]
        (ready,) = down["conditions"]
        assert (ready["type"], ready["status"]) == ("Ready", "False")
        assert "reason" not in found["member-1"]["status"]

        # Steady state: the registry looks every few seconds and writes nothing.
        versions = {n: o["metadata"]["resourceVersion"] for n, o in found.items()}
        before = hub.metric("synchub_member_writes_total", cluster="master")
        time.sleep(12)  # more than two registry passes (STATUS_INTERVAL is 5 s)
        assert hub.metric("synchub_member_writes_total", cluster="master") == before
        assert {n: o["metadata"]["resourceVersion"] for n, o in registry(master).items()} == (
            versions
        )
    finally:
        assert hub.stop() == 0, hub.output()[-3000:]

    # "nowhere" leaves clusters.yaml: its Cluster goes, the hand-made one stays.
    hub = HubProcess(config(tmp_path, kubeconfig, "member-1"), tmp_path / "b.log").start()
    try:
        wait_for(lambda: "nowhere" not in registry(master), timeout=60)
        assert set(registry(master)) == {"master", "member-1", "handmade"}
        assert "status" not in registry(master)["handmade"]  # not configured: not reported
    finally:
        assert hub.stop() == 0, hub.output()[-3000:]
