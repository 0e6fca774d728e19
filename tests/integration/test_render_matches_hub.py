"""``synchub render`` shows exactly what the hub then writes to a member, problems included.

Same inputs for both: one clusters.yaml whose master user may not read Secrets, one file of
Federated objects. One object copies from a readable ConfigMap, one from a Secret the hub
is forbidden to list, and one names no namespace (it lands in ``default``, as with
``kubectl apply``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from hub.core.federation import FEDERATED_GROUPS
from hub.testing import Clusters, HubProcess, wait_for

GROUP, VERSION, PLURAL = "types.kubefed.io", "v1beta1", "federatedconfigmaps"
REPLACE = "k8s-copier.fig.org/replace-spec.template.data"
SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation")
ONLY_MEMBER_1 = {"clusters": [{"name": "member-1"}]}


def federated(name: str, source: str, namespace: str | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "annotations": {REPLACE: source}}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "FederatedConfigMap",
        "metadata": metadata,
        "spec": {"template": {}, "placement": ONLY_MEMBER_1},
    }


@pytest.fixture
def no_secrets_master(clusters: Clusters, namespace: str, tmp_path: Path) -> Iterator[Path]:
    """A clusters.yaml whose master user can do what the hub needs except read Secrets."""
    core = clusters.core("master")
    rbac = k8s.RbacAuthorizationV1Api(clusters.api["master"])
    name = f"{namespace}-no-secrets"
    core.create_namespaced_service_account(
        namespace, k8s.V1ServiceAccount(metadata={"name": "hub"})
    )
    rbac.create_cluster_role({"metadata": {"name": name}, "rules": [
        {"apiGroups": list(FEDERATED_GROUPS), "resources": ["*"], "verbs": ["*"]},
        {"apiGroups": [""], "resources": ["configmaps", "events", "namespaces"], "verbs": ["*"]},
    ]})  # fmt: skip
    rbac.create_cluster_role_binding({
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": "hub", "namespace": namespace}],
    })  # fmt: skip
    request = k8s.AuthenticationV1TokenRequest(spec={"expirationSeconds": 3600})
    token = core.create_namespaced_service_account_token("hub", namespace, request).status.token
    kubeconfig = yaml.safe_load(clusters.kubeconfig.read_text())
    context = next(c for c in kubeconfig["contexts"] if c["name"] == clusters.config.master.context)
    for user in kubeconfig["users"]:
        if user["name"] == context["context"]["user"]:
            user["user"] = {"token": token}
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(kubeconfig))
    document = yaml.safe_load(clusters.clusters_yaml.read_text())
    document["kubeconfig"] = str(tmp_path / "kubeconfig")
    document["namespaces"] = [namespace, "default"]  # this hub leaves other tests alone
    (tmp_path / "clusters.yaml").write_text(yaml.safe_dump(document))
    try:
        yield tmp_path / "clusters.yaml"
    finally:
        rbac.delete_cluster_role_binding(name)
        rbac.delete_cluster_role(name)


def render_json(config: Path, manifest: Path) -> tuple[dict[str, Any], str]:
    """``synchub render -o json``: the rendered objects by name, and stderr."""
    result = subprocess.run(
        [sys.executable, "-m", "hub", "-c", str(config), "render", str(manifest), "-o", "json",
         "--cluster", "member-1"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr  # the forbidden source is a problem
    assert "Traceback" not in result.stderr
    listed = json.loads(result.stdout)  # one List; with --cluster, the objects as written
    assert listed["kind"] == "List"
    rendered = {item["metadata"]["name"]: item for item in listed["items"]}
    return rendered, result.stderr


def live_copy(clusters: Clusters, namespace: str, name: str) -> dict[str, Any] | None:
    """The member's ConfigMap as plain JSON without the fields the server sets."""
    api = clusters.api["member-1"]
    try:
        found = k8s.CoreV1Api(api).read_namespaced_config_map(name, namespace)
    except k8s.ApiException as exc:
        if exc.status == 404:
            return None
        raise
    obj: dict[str, Any] = api.sanitize_for_serialization(found)
    obj.setdefault("apiVersion", "v1")
    obj.setdefault("kind", "ConfigMap")
    for key in SERVER_FIELDS:
        obj["metadata"].pop(key, None)
    return obj


def copy_ready(clusters: Clusters, namespace: str, name: str) -> dict[str, Any] | None:
    obj = clusters.custom("master").get_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name
    )
    found = [c for c in (obj.get("status") or {}).get("conditions", []) if c["type"] == "CopyReady"]
    return found[0] if found else None


def test_render_output_is_what_the_hub_writes(
    clusters: Clusters,
    federated_crds: None,
    namespace: str,
    no_secrets_master: Path,
    tmp_path: Path,
) -> None:
    core = clusters.core("master")
    suffix = uuid.uuid4().hex[:8]
    readable, forbidden_, unplaced = f"readable-{suffix}", f"forbidden-{suffix}", f"nons-{suffix}"
    core.create_namespaced_config_map(
        namespace, k8s.V1ConfigMap(metadata={"name": "settings"}, data={"color": "blue"})
    )
    core.create_namespaced_secret(
        namespace, k8s.V1Secret(metadata={"name": "hidden"}, string_data={"k": "v"})
    )
    core.create_namespaced_config_map(
        "default", k8s.V1ConfigMap(metadata={"name": unplaced}, data={"size": "L"})
    )
    documents = [
        federated(readable, "configmaps:settings:data", namespace),
        federated(forbidden_, "secrets:hidden:data", namespace),
        federated(unplaced, f"configmaps:{unplaced}:data", None),  # lands in "default"
    ]
    manifest = tmp_path / "federated.yaml"
    manifest.write_text(yaml.safe_dump_all(documents))

    rendered, stderr = render_json(no_secrets_master, manifest)
    assert set(rendered) == {readable, forbidden_, unplaced}
    assert rendered[readable]["data"] == {"color": "blue"}
    assert rendered[unplaced]["metadata"]["namespace"] == "default"
    assert rendered[unplaced]["data"] == {"size": "L"}
    assert "data" not in rendered[forbidden_]

    custom = clusters.custom("master")
    for document in documents:
        where = document["metadata"].get("namespace", "default")
        custom.create_namespaced_custom_object(GROUP, VERSION, where, PLURAL, document)
    hub = HubProcess(no_secrets_master, tmp_path / "hub.log")
    try:
        hub.start()
        places = {readable: namespace, forbidden_: namespace, unplaced: "default"}
        for name, where in places.items():

            def as_rendered(n: str = name, w: str = where) -> bool:
                return bool(live_copy(clusters, w, n) == rendered[n])

            try:
                wait_for(as_rendered, 60)
            except AssertionError:
                assert live_copy(clusters, where, name) == rendered[name]  # shows the diff
                raise
        # The status (with CopyReady) is written once the members have answered: after them.
        wait_for(lambda: copy_ready(clusters, namespace, forbidden_), what="CopyReady")
        wait_for(lambda: copy_ready(clusters, namespace, readable), what="CopyReady")
        condition = copy_ready(clusters, namespace, forbidden_)
        assert condition is not None
        assert condition["status"] == "False"
        # The same problem, word for word, as render reported it.
        line = f"FederatedConfigMap {forbidden_}: {condition['reason']}: {condition['message']}"
        assert line in stderr.splitlines(), stderr
        assert "forbidden" in condition["message"]
        assert copy_ready(clusters, namespace, readable)["status"] == "True"  # type: ignore[index]
        for name, where in places.items():
            custom.delete_namespaced_custom_object(GROUP, VERSION, where, PLURAL, name)
        for name, where in places.items():

            def gone(n: str = name, w: str = where) -> bool:
                return live_copy(clusters, w, n) is None

            wait_for(gone, timeout=60)
    finally:
        assert hub.stop() == 0, hub.output()[-3000:]
        core.delete_namespaced_config_map(unplaced, "default")
