"""Credentials that expire: exec plugins are re-run before expiry, tokens reloaded on 401."""

from __future__ import annotations

import base64
import datetime
import json
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from hub.config.settings import ClusterConfig
from hub.core.errors import ClusterUnreachable
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


def kubeconfig_with(
    clusters: Clusters,
    path: Path,
    cluster: dict[str, object],
    user: dict[str, object] | None = None,
) -> Path:
    """The sandbox kubeconfig with fields of every cluster (and user) entry changed."""
    document = yaml.safe_load(clusters.kubeconfig.read_text())
    for entry in document["clusters"]:
        entry["cluster"].update(cluster)
        entry["cluster"] = {k: v for k, v in entry["cluster"].items() if v is not None}
    for entry in document["users"]:
        entry["user"].update(user or {})
        entry["user"] = {k: v for k, v in entry["user"].items() if v is not None}
    path.write_text(yaml.safe_dump(document))
    return path


def sandbox_fields(clusters: Clusters) -> tuple[dict[str, Any], dict[str, Any]]:
    """The master's cluster and user entries of the sandbox kubeconfig."""
    document = yaml.safe_load(clusters.kubeconfig.read_text())
    context = next(c for c in document["contexts"] if c["name"] == clusters.config.master.context)
    cluster = next(c for c in document["clusters"] if c["name"] == context["context"]["cluster"])
    user = next(u for u in document["users"] if u["name"] == context["context"]["user"])
    return cluster["cluster"], user["user"]


async def test_client_certificate_and_ca_from_files(
    clusters: Clusters, namespace: str, tmp_path: Path
) -> None:
    cluster, user = sandbox_fields(clusters)
    files = {
        "ca.crt": cluster["certificate-authority-data"],
        "tls.crt": user["client-certificate-data"],
        "tls.key": user["client-key-data"],
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(base64.b64decode(data))
    kubeconfig = kubeconfig_with(
        clusters,
        tmp_path / "kubeconfig",
        {"certificate-authority-data": None, "certificate-authority": "ca.crt"},
        {
            "client-certificate-data": None,
            "client-key-data": None,
            "client-certificate": "tls.crt",
            "client-key": "tls.key",
        },
    )
    async with await ClusterClient.connect(master_with(clusters, kubeconfig)) as client:
        found = await client.get(f"/api/v1/namespaces/{namespace}")
    assert found["metadata"]["name"] == namespace


async def test_tls_server_name_is_the_name_verified(
    clusters: Clusters, namespace: str, tmp_path: Path
) -> None:
    # The sandbox serves its certificate for 127.0.0.1 and "kubernetes", not for other names.
    right = kubeconfig_with(clusters, tmp_path / "right", {"tls-server-name": "kubernetes"})
    async with await ClusterClient.connect(master_with(clusters, right)) as client:
        assert (await client.get(f"/api/v1/namespaces/{namespace}"))["metadata"]["name"]
    wrong = kubeconfig_with(clusters, tmp_path / "wrong", {"tls-server-name": "other.example"})
    async with await ClusterClient.connect(master_with(clusters, wrong)) as client:
        with pytest.raises(ClusterUnreachable, match="certificate"):
            await client.get(f"/api/v1/namespaces/{namespace}")


async def test_insecure_skip_tls_verify_trusts_any_server(
    clusters: Clusters, namespace: str, tmp_path: Path
) -> None:
    kubeconfig = kubeconfig_with(
        clusters,
        tmp_path / "kubeconfig",
        {"certificate-authority-data": None, "insecure-skip-tls-verify": True},
    )
    async with await ClusterClient.connect(master_with(clusters, kubeconfig)) as client:
        found = await client.get(f"/api/v1/namespaces/{namespace}")
    assert found["metadata"]["name"] == namespace


async def test_static_token_and_exec_plugin_with_args_and_env(
    clusters: Clusters, namespace: str, tmp_path: Path
) -> None:
    token = service_account_token(clusters, namespace)
    static = kubeconfig_with_user(clusters, tmp_path / "static", {"token": token})
    async with await ClusterClient.connect(master_with(clusters, static)) as client:
        assert (await client.get(f"/api/v1/namespaces/{namespace}"))["metadata"]["name"]
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": token},
    }
    plugin = tmp_path / "plugin.py"
    # Answers with the token only when it got its argument and its environment variable.
    plugin.write_text(
        "import os, sys\n"
        "ok = sys.argv[1:] == ['--cluster', 'master'] and os.environ['PLUGIN_KEY'] == 'k'\n"
        f"print({json.dumps(credential)!r} if ok else '{{}}')\n"
    )
    exec_user: dict[str, object] = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": [str(plugin), "--cluster", "master"],
            "env": [{"name": "PLUGIN_KEY", "value": "k"}],
        }
    }
    kubeconfig = kubeconfig_with_user(clusters, tmp_path / "exec", exec_user)
    async with await ClusterClient.connect(master_with(clusters, kubeconfig)) as client:
        found = await client.get(f"/api/v1/namespaces/{namespace}")
    assert found["metadata"]["name"] == namespace
