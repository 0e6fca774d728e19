"""Propagation failures are loud (Events, logs, metrics, --once reasons) and heal themselves;
reconcile-at, suspend and on-immutable recreate, against the sandbox."""

from __future__ import annotations

import base64
import contextlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from hub.core.crds import federated_crd
from hub.testing import Clusters, HubProcess, crd_served, install_crd, wait_for

GROUP, VERSION = "types.kubefed.io", "v1beta1"
ONLY_MEMBER_1 = {"clusters": [{"name": "member-1"}]}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def config_file(clusters: Clusters, tmp_path: Path, namespace: str) -> Path:
    document = yaml.safe_load(clusters.clusters_yaml.read_text())
    document["namespaces"] = [namespace]
    path = tmp_path / "clusters.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def federated(clusters: Clusters, plural: str, namespace: str, name: str) -> Any:
    return clusters.custom("master").get_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, name
    )


def cluster_status(clusters: Clusters, plural: str, namespace: str, name: str) -> dict[str, Any]:
    """``status.clusters`` of a Federated object, by cluster name."""
    status = federated(clusters, plural, namespace, name).get("status") or {}
    return {entry["name"]: entry for entry in status.get("clusters") or []}


def events(clusters: Clusters, namespace: str, name: str) -> list[Any]:
    items = clusters.core("master").list_namespaced_event(namespace).items
    return [e for e in items if e.involved_object.name == name]


@pytest.fixture
def widget_kind(clusters: Clusters) -> Iterator[tuple[str, str]]:
    """A kind served on the master (with its FederatedWidget CRD) but not on the members."""
    group = f"w{uuid.uuid4().hex[:8]}.example.com"
    install_crd([clusters.api["master"]], group, "v1", "Widget")
    fed_crd = federated_crd(GROUP, "Widget")
    fed_crd["metadata"]["name"] = f"federatedwidgets.{GROUP}"
    k8s.ApiextensionsV1Api(clusters.api["master"]).create_custom_resource_definition(fed_crd)
    wait_for(lambda: crd_served(clusters.api["master"], GROUP, VERSION, "federatedwidgets"))
    try:
        yield group, "federatedwidgets"
    finally:
        for cluster in ("master", "member-1"):
            api = k8s.ApiextensionsV1Api(clusters.api[cluster])
            with contextlib.suppress(k8s.ApiException):
                api.delete_custom_resource_definition(f"widgets.{group}")
        k8s.ApiextensionsV1Api(clusters.api["master"]).delete_custom_resource_definition(
            f"federatedwidgets.{GROUP}"
        )


def run_once(config: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "hub", "-c", str(config), "run", "--once"]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_a_kind_missing_on_a_member_fails_loudly_and_heals_when_its_crd_arrives(
    clusters: Clusters,
    federated_crds: None,
    widget_kind: tuple[str, str],
    namespace: str,
    tmp_path: Path,
) -> None:
    group, plural = widget_kind
    config = config_file(clusters, tmp_path, namespace)
    clusters.custom("master").create_namespaced_custom_object(
        GROUP, VERSION, namespace, plural,
        {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "FederatedWidget",
            "metadata": {"name": "w"},
            "spec": {"template": {"apiVersion": f"{group}/v1", "spec": {"size": 1}},
                     "placement": ONLY_MEMBER_1},
        },
    )  # fmt: skip
    once = run_once(config)
    assert once.returncode == 1, once.stderr[-2000:]
    assert f"member-1/Widget/{namespace}/w: ApplyFailed" in once.stderr, once.stderr[-2000:]
    assert "see the warnings above" not in once.stderr
    # The transition into the failure was logged with the member object as a structured key.
    assert f"member_object=member-1/Widget/{namespace}/w" in once.stderr, once.stderr[-2000:]

    hub = HubProcess(config, tmp_path / "hub.log").start()
    try:
        wait_for(
            lambda: cluster_status(clusters, plural, namespace, "w").get("member-1", {}).get(
                "status") == "ApplyFailed", timeout=30,
        )  # fmt: skip
        wait_for(lambda: any(e.type == "Warning" and e.reason == "ApplyFailed"
                             for e in events(clusters, namespace, "w")))  # fmt: skip
        assert hub.metric("synchub_reconcile_total", controller="propagation", result="failure") > 0

        install_crd([clusters.api["member-1"]], group, "v1", "Widget")
        wait_for(
            lambda: cluster_status(clusters, plural, namespace, "w").get("member-1", {}).get(
                "status") == "Propagated", timeout=30,
        )  # fmt: skip
        widget = clusters.custom("member-1").get_namespaced_custom_object(
            group, "v1", namespace, "widgets", "w"
        )
        assert widget["spec"] == {"size": 1}
        wait_for(lambda: any(e.type == "Normal" and e.reason == "Propagated"
                             for e in events(clusters, namespace, "w")))  # fmt: skip
    finally:
        assert hub.stop() == 0, hub.output()[-2000:]


def federated_secret(clusters: Clusters, namespace: str, name: str) -> None:
    clusters.custom("master").create_namespaced_custom_object(
        GROUP, VERSION, namespace, "federatedsecrets",
        {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "FederatedSecret",
            "metadata": {"name": name},
            "spec": {"template": {"data": {"k": b64("v1")}}, "placement": ONLY_MEMBER_1},
        },
    )  # fmt: skip


def patch_federated(clusters: Clusters, namespace: str, name: str, patch: dict[str, Any]) -> None:
    clusters.custom("master").patch_namespaced_custom_object(
        GROUP, VERSION, namespace, "federatedsecrets", name, patch
    )


def member_secret(clusters: Clusters, namespace: str, name: str) -> Any:
    try:
        return clusters.core("member-1").read_namespaced_secret(name, namespace)
    except k8s.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def member_1(clusters: Clusters, namespace: str, name: str) -> dict[str, Any]:
    entry: dict[str, Any] = cluster_status(clusters, "federatedsecrets", namespace, name).get(
        "member-1", {}
    )
    return entry


@pytest.fixture
def hub_in(
    clusters: Clusters, federated_crds: None, namespace: str, tmp_path: Path
) -> Iterator[HubProcess]:
    hub = HubProcess(config_file(clusters, tmp_path, namespace), tmp_path / "hub.log").start()
    try:
        yield hub
    finally:
        assert hub.stop() == 0, hub.output()[-2000:]


def test_a_secret_type_change_is_refused_naming_the_field_unless_recreate_is_asked(
    clusters: Clusters, hub_in: HubProcess, namespace: str
) -> None:
    federated_secret(clusters, namespace, "tls")
    wait_for(lambda: member_1(clusters, namespace, "tls").get("status") == "Propagated")
    assert member_secret(clusters, namespace, "tls").type == "Opaque"
    patch_federated(clusters, namespace, "tls", {"spec": {"template": {
        "type": "kubernetes.io/tls",
        "data": {"k": None, "tls.crt": b64("cert"), "tls.key": b64("key")},
    }}})  # fmt: skip
    wait_for(lambda: member_1(clusters, namespace, "tls").get("status") == "ApplyFailed")
    message = member_1(clusters, namespace, "tls")["message"]
    assert "immutable field type" in message
    assert "synchub.io/on-immutable" in message

    patch_federated(clusters, namespace, "tls", {
        "metadata": {"annotations": {"synchub.io/on-immutable": "recreate"}}})  # fmt: skip
    wait_for(lambda: (member_secret(clusters, namespace, "tls") or k8s.V1Secret()).type
             == "kubernetes.io/tls")  # fmt: skip
    wait_for(lambda: member_1(clusters, namespace, "tls").get("status") == "Propagated")
    assert sorted(member_secret(clusters, namespace, "tls").data) == ["tls.crt", "tls.key"]


def test_suspend_writes_nothing_and_reconcile_at_is_recorded(
    clusters: Clusters, hub_in: HubProcess, namespace: str
) -> None:
    federated_secret(clusters, namespace, "s")
    wait_for(lambda: member_1(clusters, namespace, "s").get("status") == "Propagated")
    fed = federated(clusters, "federatedsecrets", namespace, "s")
    condition = next(c for c in fed["status"]["conditions"] if c["type"] == "Propagation")
    assert condition["observedGeneration"] == fed["metadata"]["generation"]

    patch_federated(clusters, namespace, "s", {
        "metadata": {"annotations": {"synchub.io/suspend": "true"}},
        "spec": {"template": {"data": {"k": b64("v2")}}},
    })  # fmt: skip
    wait_for(lambda: member_1(clusters, namespace, "s").get("status") == "Suspended")
    assert member_secret(clusters, namespace, "s").data["k"] == b64("v1")

    requested = "2026-01-01T00:00:00Z"
    patch_federated(clusters, namespace, "s", {"metadata": {"annotations": {
        "synchub.io/suspend": None, "synchub.io/reconcile-at": requested}}})  # fmt: skip
    wait_for(lambda: member_secret(clusters, namespace, "s").data["k"] == b64("v2"))
    wait_for(
        lambda: federated(clusters, "federatedsecrets", namespace, "s")["status"].get(
            "lastHandledReconcileAt") == requested
    )  # fmt: skip
    fed = federated(clusters, "federatedsecrets", namespace, "s")
    condition = next(c for c in fed["status"]["conditions"] if c["type"] == "Propagation")
    assert condition["observedGeneration"] == fed["metadata"]["generation"]
    assert condition["status"] == "True"


def test_a_member_down_at_start_is_logged_as_a_warning(
    clusters: Clusters, federated_crds: None, namespace: str, tmp_path: Path
) -> None:
    clusters.sandbox.stop_apiserver("member-2")
    try:
        hub = HubProcess(config_file(clusters, tmp_path, namespace), tmp_path / "hub.log").start()
        try:
            wait_for(lambda: "WARNING hub.runtime.inventory: cluster member-2 is not ready"
                     in hub.output())  # fmt: skip
            assert "cluster=member-2" in hub.output()
        finally:
            assert hub.stop() == 0, hub.output()[-2000:]
    finally:
        clusters.sandbox.start_apiserver("member-2")
