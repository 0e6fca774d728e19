"""``synchub render``: what the hub would write, per cluster, from live sources; no writes."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import yaml
from kubernetes import client as k8s

from hub.testing import Clusters


def render(clusters: Clusters, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", "-c", str(clusters.clusters_yaml), "render", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_render_resolves_copies_and_overrides_per_cluster(
    clusters: Clusters, federated_crds: None, namespace: str, tmp_path: Path
) -> None:
    tls = base64.b64encode(b"certificate").decode()
    clusters.core("master").create_namespaced_secret(
        namespace, k8s.V1Secret(metadata={"name": "cert"}, data={"tls.crt": tls})
    )
    federated = {
        "apiVersion": "types.kubefed.io/v1beta1",
        "kind": "FederatedSecret",
        "metadata": {
            "name": "cert",
            "namespace": namespace,
            "annotations": {"k8s-copier.fig.org/replace-spec.template.data": "secrets:cert:data"},
        },
        "spec": {
            "placement": {"clusters": [{"name": "member-1"}, {"name": "member-2"}]},
            "overrides": [
                {"clusterName": "member-2",
                 "clusterOverrides": [{"op": "add", "path": "/data/extra", "value": "eA=="}]}
            ],
        },
    }  # fmt: skip
    path = tmp_path / "federated.yaml"
    path.write_text(yaml.safe_dump(federated))

    result = render(clusters, str(path), "-o", "json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)  # one List, not a stream of documents
    assert (listed["apiVersion"], listed["kind"]) == ("v1", "List")
    rendered = {}
    for item in listed["items"]:
        rendered[item["metadata"]["annotations"].pop("synchub.io/cluster")] = item
        if not item["metadata"]["annotations"]:
            del item["metadata"]["annotations"]
    assert set(rendered) == {"member-1", "member-2"}
    assert rendered["member-1"]["data"] == {"tls.crt": tls}
    assert rendered["member-2"]["data"] == {"tls.crt": tls, "extra": "eA=="}
    assert rendered["member-1"]["metadata"]["labels"] == {"synchub.io/managed": "true"}

    only = render(clusters, str(path), "--cluster", "member-2")
    assert only.returncode == 0, only.stderr
    assert "# cluster: member-2" in only.stdout
    assert "# cluster: member-1" not in only.stdout

    # Nothing was written anywhere: no Federated object, no copies.
    assert not clusters.custom("master").list_namespaced_custom_object(
        "types.kubefed.io", "v1beta1", namespace, "federatedsecrets"
    )["items"]
    assert not clusters.core("member-1").list_namespaced_secret(namespace).items


def test_render_reports_a_missing_source_and_a_bad_cluster(
    clusters: Clusters, namespace: str, tmp_path: Path
) -> None:
    path = tmp_path / "federated.yaml"
    path.write_text(yaml.safe_dump({
        "apiVersion": "types.kubefed.io/v1beta1",
        "kind": "FederatedSecret",
        "metadata": {"name": "cert", "namespace": namespace, "annotations": {
            "k8s-copier.fig.org/replace-spec.template.data": "secrets:absent:data"}},
        "spec": {"placement": {"clusters": [{"name": "member-1"}]}},
    }))  # fmt: skip
    missing = render(clusters, str(path))
    assert missing.returncode == 1
    assert "SourceNotFound" in missing.stderr
    assert "Traceback" not in missing.stderr

    unknown = render(clusters, str(path), "--cluster", "nowhere")
    assert unknown.returncode == 2  # a usage error
    assert unknown.stderr.strip().count("\n") == 0
    assert "no cluster named 'nowhere'" in unknown.stderr
