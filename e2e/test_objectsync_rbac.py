"""End-to-end: ObjectSync under the deploy/ RBAC (docs/objectsync.md), least privilege.

The master gets the base's Namespace, ServiceAccount and RBAC plus components/objectsync; the
members get deploy/member-rbac/. The hub runs with those ServiceAccounts' tokens and fans a
Secret out to the master and a member without a single ``forbidden``.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from hub.core.crds import render_crds
from hub.sandbox import MASTER, context_name
from hub.testing import Clusters, HubProcess, crd_served, wait_for

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
SYSTEM_NS = "synchub-system"
RBAC_KINDS = {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role"}
RBAC_KINDS |= {"RoleBinding"}


def find_kubectl() -> str | None:
    bundled = ROOT / ".venv" / "bin" / "kubectl"
    return str(bundled) if bundled.exists() else shutil.which("kubectl")


KUBECTL = find_kubectl()
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl not found")


def kubectl(*args: str, stdin: str | None = None) -> str:
    assert KUBECTL is not None
    result = subprocess.run(
        [KUBECTL, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"kubectl {' '.join(args)}:\n{result.stderr}"
    return result.stdout


def apply(clusters: Clusters, cluster: str, *args: str, stdin: str | None = None) -> None:
    where = ["--kubeconfig", str(clusters.kubeconfig), "--context", context_name(cluster)]
    kubectl(*where, "apply", *args, stdin=stdin)


def token(clusters: Clusters, cluster: str) -> str:
    request = k8s.AuthenticationV1TokenRequest(
        spec=k8s.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
    )
    answer = clusters.core(cluster).create_namespaced_service_account_token(
        "synchub", SYSTEM_NS, request
    )
    assert answer.status is not None
    return str(answer.status.token)


def deployed_config(clusters: Clusters, directory: Path) -> Path:
    """clusters.yaml for a hub that is the deploy ServiceAccount on every cluster."""
    admin = yaml.safe_load(clusters.kubeconfig.read_text())
    kubeconfig: dict[str, Any] = {"apiVersion": "v1", "kind": "Config"}
    kubeconfig.update(clusters=[], users=[], contexts=[])
    for cluster in clusters.names:
        entry = next(c for c in admin["clusters"] if c["name"] == context_name(cluster))
        kubeconfig["clusters"].append({"name": cluster, "cluster": entry["cluster"]})
        kubeconfig["users"].append({"name": cluster, "user": {"token": token(clusters, cluster)}})
        kubeconfig["contexts"].append(
            {"name": cluster, "context": {"cluster": cluster, "user": cluster}}
        )
    path = directory / "deployed.kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig))
    config = {
        "kubeconfig": str(path),
        "master": {"name": MASTER, "context": MASTER},
        "members": [{"name": c, "context": c} for c in clusters.names if c != MASTER],
    }
    clusters_yaml = directory / "deployed.yaml"
    clusters_yaml.write_text(yaml.safe_dump(config))
    return clusters_yaml


def test_objectsync_under_deploy_rbac(clusters: Clusters, tmp_path: Path) -> None:
    crds = [d for g in ("synchub.io",) for d in yaml.safe_load_all(render_crds((g,)))]
    api = k8s.ApiextensionsV1Api(clusters.api[MASTER])
    for crd in crds:
        try:
            api.create_custom_resource_definition(crd)
        except ApiException as exc:
            if exc.status != 409:
                raise
    wait_for(lambda: crd_served(clusters.api[MASTER], "synchub.io", "v1alpha1", "objectsyncs"))
    base = yaml.safe_load_all(kubectl("kustomize", str(DEPLOY)))
    rbac = [d for d in base if d and d["kind"] in RBAC_KINDS]
    component = (DEPLOY / "components" / "objectsync" / "rbac.yaml").read_text()
    apply(clusters, MASTER, "-f", "-", stdin=yaml.safe_dump_all(rbac))
    apply(clusters, MASTER, "-f", "-", stdin=component)
    for member in clusters.names[1:]:
        apply(clusters, member, "-k", str(DEPLOY / "member-rbac"))

    ns, dest = (f"r-{uuid.uuid4().hex[:8]}" for _ in range(2))
    for cluster in clusters.names:
        for name in (ns, dest):
            clusters.core(cluster).create_namespace(k8s.V1Namespace(metadata={"name": name}))
    body = {"metadata": {"name": "pull"}, "type": "Opaque", "stringData": {"token": "t"}}
    clusters.core(MASTER).create_namespaced_secret(ns, body)
    sync = {
        "apiVersion": "synchub.io/v1alpha1",
        "kind": "ObjectSync",
        "metadata": {"name": "pull"},
        "spec": {
            "source": {"kind": "Secret", "name": "pull"},
            "destinations": [{"namespace": dest, "clusters": {"names": [MASTER, "member-1"]}}],
            "strategy": "replace",
        },
    }
    custom = clusters.custom(MASTER)
    custom.create_namespaced_custom_object("synchub.io", "v1alpha1", ns, "objectsyncs", sync)

    def copied(cluster: str) -> bool:
        try:
            clusters.core(cluster).read_namespaced_secret("pull", dest)
        except ApiException:
            return False
        return True

    hub = HubProcess(deployed_config(clusters, tmp_path), tmp_path / "synchub.log").start()
    try:
        wait_for(lambda: copied(MASTER) and copied("member-1"), timeout=60)

        def ready() -> bool:
            found = custom.get_namespaced_custom_object(
                "synchub.io", "v1alpha1", ns, "objectsyncs", "pull"
            )
            conditions = (found.get("status") or {}).get("conditions") or []
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

        wait_for(ready, timeout=30)
        clusters.core(MASTER).patch_namespaced_secret("pull", dest, {"data": {"extra": "eA=="}})
        wait_for(
            lambda: (
                set(clusters.core(MASTER).read_namespaced_secret("pull", dest).data or {})
                == {"token"}
            )
        )
        custom.delete_namespaced_custom_object("synchub.io", "v1alpha1", ns, "objectsyncs", "pull")
        wait_for(lambda: not copied(MASTER) and not copied("member-1"), timeout=30)
    finally:
        code = hub.stop()
    output = hub.output()
    assert code == 0, output[-3000:]
    # Other modules leave objects behind in the shared sandbox (copy rules on kinds this RBAC
    # rightly refuses); what matters is that ObjectSync's own work is never refused.
    refused = [
        line
        for line in output.lower().splitlines()
        if "forbidden" in line
        and any(word in line for word in ("objectsync", "replika", ns.lower(), dest.lower()))
    ]
    assert not refused, "\n".join(refused[-20:])
