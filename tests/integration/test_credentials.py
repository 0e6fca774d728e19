"""Credentials that expire: exec plugins are re-run before expiry, tokens reloaded on 401."""

from __future__ import annotations

import datetime
import json
import stat
import sys
from pathlib import Path

import yaml
from kubernetes import client as k8s

from hub.config.settings import ClusterConfig
from hub.kube.client import ClusterClient
from hub.testing import Clusters


def service_account_token(clusters: Clusters, namespace: str, seconds: int = 600) -> str:
    """A token of a ServiceAccount allowed to read namespaces (TokenRequest API)."""
    core = clusters.core("master")
    core.create_namespaced_service_account(namespace, k8s.V1ServiceAccount(metadata={"name": "sa"}))
    k8s.RbacAuthorizationV1Api(clusters.api["master"]).create_cluster_role_binding(
        {
            "metadata": {"name": f"{namespace}-view"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": namespace}],
        }
    )  # fmt: skip
    request = k8s.AuthenticationV1TokenRequest(spec={"expirationSeconds": seconds})
    return str(core.create_namespaced_service_account_token("sa", namespace, request).status.token)


def kubeconfig_with_user(clusters: Clusters, path: Path, user: dict[str, object]) -> Path:
    document = yaml.safe_load(clusters.kubeconfig.read_text())
    for entry in document["users"]:
        entry["user"] = user
    path.write_text(yaml.safe_dump(document))
    return path


def master_with(clusters: Clusters, kubeconfig: Path) -> ClusterConfig:
    master = clusters.config.master
    return ClusterConfig(master.name, master.context, (kubeconfig,), master.labels, True)


async def test_exec_plugin_is_rerun_when_its_token_expires(
    clusters: Clusters, namespace: str, tmp_path: Path
) -> None:
    token = service_account_token(clusters, namespace)
    calls = tmp_path / "calls"
    plugin = tmp_path / "plugin.py"
    # Each run hands out the token with an expiry already in the past, so every request
    # must run the plugin again: a stale cached token would be used otherwise.
    expired = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": token, "expirationTimestamp": expired},
    }
    plugin.write_text(
        f"import sys\nopen({str(calls)!r}, 'a').write('x')\nprint({json.dumps(credential)!r})\n"
    )
    plugin.chmod(plugin.stat().st_mode | stat.S_IEXEC)
    exec_user: dict[str, object] = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": [str(plugin)],
            "interactiveMode": "Never",
        }
    }
    kubeconfig = kubeconfig_with_user(clusters, tmp_path / "kubeconfig", exec_user)
    async with await ClusterClient.connect(master_with(clusters, kubeconfig)) as client:
        before = len(calls.read_text())
        await client.get(f"/api/v1/namespaces/{namespace}")
        await client.get(f"/api/v1/namespaces/{namespace}")
    assert len(calls.read_text()) >= before + 2


async def test_token_file_rotated_on_disk_is_picked_up_after_401(
    clusters: Clusters, namespace: str, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("not-a-valid-token")
    kubeconfig = kubeconfig_with_user(
        clusters, tmp_path / "kubeconfig", {"tokenFile": str(token_file)}
    )
    async with await ClusterClient.connect(master_with(clusters, kubeconfig)) as client:
        token_file.write_text(service_account_token(clusters, namespace))  # rotated
        found = await client.get(f"/api/v1/namespaces/{namespace}")  # 401, reload, retry
    assert found["metadata"]["name"] == namespace
