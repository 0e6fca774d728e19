"""Propagation safety on the sandbox: deletion deadlines, ownership fights, cluster labels."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from hub.sandbox import Sandbox
from hub.testing import (
    Clusters,
    HubProcess,
    api_client,
    b64,
    crd_served,
    open_crd,
    wait_for,
    write_config,
)

GROUP, VERSION = "types.kubefed.io", "v1beta1"
NOT_MASTER = {
    "clusterSelector": {"matchExpressions": [{"key": "cluster-master", "operator": "DoesNotExist"}]}
}


def federated_secret(
    api: k8s.ApiClient, namespace: str, name: str, value: str, placement: dict[str, Any]
) -> None:
    k8s.CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, "federatedsecrets",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "FederatedSecret",
            "metadata": {"name": name},
            "spec": {"template": {"data": {"k": b64(value)}}, "placement": placement},
        },
    )  # fmt: skip


def member_secret(api: k8s.ApiClient, namespace: str, name: str) -> Any:
    try:
        return k8s.CoreV1Api(api).read_namespaced_secret(name, namespace)
    except k8s.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def federated_exists(clusters: Clusters, namespace: str, name: str) -> bool:
    try:
        clusters.custom("master").get_namespaced_custom_object(
            GROUP, VERSION, namespace, "federatedsecrets", name
        )
    except k8s.ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def test_unreachable_member_holds_a_deletion_only_until_the_deadline(
    clusters: Clusters, federated_crds: None, namespace: str, tmp_path: Path
) -> None:
    config = write_config(
        clusters.clusters_yaml, tmp_path, namespaces=[namespace],
        propagation={"deletionTimeout": "4s"},
    )  # fmt: skip
    hub = HubProcess(config, tmp_path / "hub.log").start()
    try:
        federated_secret(clusters.api["master"], namespace, "cert", "v1", NOT_MASTER)
        wait_for(lambda: all(member_secret(clusters.api[m], namespace, "cert")
                             for m in ("member-1", "member-2")), timeout=60)  # fmt: skip
        clusters.sandbox.stop_apiserver("member-2")
        try:
            clusters.custom("master").delete_namespaced_custom_object(
                GROUP, VERSION, namespace, "federatedsecrets", "cert"
            )
            wait_for(lambda: member_secret(clusters.api["member-1"], namespace, "cert") is None)
            wait_for(lambda: not federated_exists(clusters, namespace, "cert"), timeout=60)
            assert hub.metric("synchub_deletion_leftovers_total", cluster="member-2") == 1
            events = clusters.core("master").list_namespaced_event(namespace).items
            assert any(e.reason == "DeletionTimedOut" for e in events)
        finally:
            clusters.sandbox.start_apiserver("member-2")
        back = time.monotonic()
        # Reported above, and removed once the member is back: its origin no longer exists.
        wait_for(lambda: member_secret(clusters.api["member-2"], namespace, "cert") is None, 60)
        print(f"leftover removed {time.monotonic() - back:.2f}s after member-2 returned")
        removed = hub.metric(
            "synchub_deletion_leftovers_total", cluster="member-2", outcome="removed"
        )
        assert removed == 1
    finally:
        assert hub.stop() == 0, hub.output()[-2000:]


def test_a_competing_writer_is_counted_and_not_fought_forever(
    clusters: Clusters, federated_crds: None, namespace: str, tmp_path: Path
) -> None:
    config = write_config(clusters.clusters_yaml, tmp_path, namespaces=[namespace])
    hub = HubProcess(config, tmp_path / "hub.log").start()
    member = k8s.CoreV1Api(clusters.api["member-1"])
    try:
        federated_secret(
            clusters.api["master"], namespace, "cert", "ours", {"clusters": [{"name": "member-1"}]}
        )
        wait_for(lambda: member_secret(clusters.api["member-1"], namespace, "cert") is not None)
        stop = threading.Event()

        def compete() -> None:  # another controller insisting on its own value
            while not stop.is_set():
                member.patch_namespaced_secret("cert", namespace, {"data": {"k": b64("theirs")}})
                time.sleep(0.3)

        before = hub.metric("synchub_member_writes_total", cluster="member-1")
        fighter = threading.Thread(target=compete)
        fighter.start()
        time.sleep(8)
        stop.set()
        fighter.join()
        writes = hub.metric("synchub_member_writes_total", cluster="member-1") - before
        assert hub.metric("synchub_ownership_conflicts_total", cluster="member-1") >= 1
        assert writes <= 6, f"{writes} writes in 8 s: the hub kept fighting"
    finally:
        assert hub.stop() == 0, hub.output()[-2000:]


KUBEFED_CLUSTER_CRD = open_crd("core.kubefed.io", "v1beta1", "KubeFedCluster")


@pytest.fixture
def own_sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox of its own: this test installs KubeFed's cluster CRD, which changes what
    `mode: auto` detects for every other hub on the master."""
    sandbox = Sandbox(tmp_path / "sandbox")
    sandbox.up(2)
    try:
        yield sandbox
    finally:
        sandbox.down()


def test_labels_of_kubefed_cluster_objects_drive_placement(
    own_sandbox: Sandbox, tmp_path: Path
) -> None:
    import yaml as pyyaml

    from hub.core.crds import render_crds

    master = api_client(own_sandbox.kubeconfig, "master")
    members = {m: api_client(own_sandbox.kubeconfig, m) for m in ("member-1", "member-2")}
    extensions = k8s.ApiextensionsV1Api(master)
    for crd in [*pyyaml.safe_load_all(render_crds()), KUBEFED_CLUSTER_CRD]:
        extensions.create_custom_resource_definition(crd)
    core = k8s.CoreV1Api(master)
    for ns in ("kube-federation-system", "app"):
        core.create_namespace(k8s.V1Namespace(metadata={"name": ns}))
    clusters_api = k8s.CustomObjectsApi(master)

    def label_cluster(name: str, tier: str) -> None:
        body = {"apiVersion": "core.kubefed.io/v1beta1", "kind": "KubeFedCluster",
                "metadata": {"name": name, "labels": {"tier": tier}}, "spec": {}}  # fmt: skip
        try:
            clusters_api.create_namespaced_custom_object(
                "core.kubefed.io", "v1beta1", "kube-federation-system", "kubefedclusters", body
            )
        except k8s.ApiException:
            clusters_api.patch_namespaced_custom_object(
                "core.kubefed.io", "v1beta1", "kube-federation-system", "kubefedclusters", name,
                {"metadata": {"labels": {"tier": tier}}},
            )  # fmt: skip

    wait_for(lambda: crd_served(master, "core.kubefed.io", "v1beta1", "kubefedclusters"))
    wait_for(lambda: crd_served(master, GROUP, VERSION, "federatedsecrets"))
    label_cluster("member-1", "bronze")
    label_cluster("member-2", "gold")
    hub = HubProcess(own_sandbox.clusters_yaml, tmp_path / "hub.log", "--mode", "direct").start()
    try:
        gold = {"clusterSelector": {"matchLabels": {"tier": "gold"}}}
        federated_secret(master, "app", "cert", "v1", gold)
        wait_for(lambda: member_secret(members["member-2"], "app", "cert") is not None)
        assert member_secret(members["member-1"], "app", "cert") is None
        label_cluster("member-2", "bronze")
        label_cluster("member-1", "gold")
        wait_for(lambda: member_secret(members["member-1"], "app", "cert") is not None)
        wait_for(lambda: member_secret(members["member-2"], "app", "cert") is None)
    finally:
        assert hub.stop() == 0, hub.output()[-2000:]
        for api in (master, *members.values()):
            api.close()
