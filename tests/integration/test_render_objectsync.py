"""``synchub render`` of an ObjectSync: the copies per cluster from the live source and
namespaces, as the hub's planner decides; nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s

from hub.cli.render import CLUSTER_ANNOTATION
from hub.testing import Clusters


def render(clusters: Clusters, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", "-c", str(clusters.clusters_yaml), "render", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_render_objectsync_copies_per_cluster(
    clusters: Clusters, namespace: str, tmp_path: Path
) -> None:
    team = f"r-{uuid.uuid4().hex[:8]}"
    for cluster in clusters.names:
        body = k8s.V1Namespace(metadata={"name": team, "labels": {"team": "render"}})
        clusters.core(cluster).create_namespace(body)
    secret = k8s.V1Secret(metadata={"name": "pull"}, string_data={"a": "1", "b": "2"})
    clusters.core("master").create_namespaced_secret(namespace, secret)
    sync: dict[str, Any] = {
        "apiVersion": "synchub.io/v1alpha1",
        "kind": "ObjectSync",
        "metadata": {"name": "pull", "namespace": namespace},
        "spec": {
            "source": {"kind": "Secret", "name": "pull"},
            "destinations": [
                {
                    "namespaceSelector": {"matchLabels": {"team": "render"}},
                    "clusters": {"names": ["member-1", "member-2"]},
                    "keys": {"a": "renamed"},
                }
            ],
        },
    }
    path = tmp_path / "sync.yaml"
    path.write_text(yaml.safe_dump(sync))

    result = render(clusters, str(path), "-o", "json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)  # one List: each item names its cluster
    assert listed["kind"] == "List"
    rendered = listed["items"]
    places = {
        (d["metadata"]["annotations"][CLUSTER_ANNOTATION], d["metadata"]["namespace"])
        for d in rendered
    }
    assert places == {("member-1", team), ("member-2", team)}
    copy = rendered[0]
    assert set(copy["data"]) == {"renamed"}
    assert copy["metadata"]["labels"]["synchub.io/managed"] == "true"
    assert copy["metadata"]["annotations"]["synchub.io/origin"] == (
        f"master/synchub.io/ObjectSync/{namespace}/pull"
    )
    assert not clusters.core("member-1").list_namespaced_secret(team).items, "nothing written"

    sync["spec"]["source"]["name"] = "absent"
    path.write_text(yaml.safe_dump(sync))
    missing = render(clusters, str(path))
    assert missing.returncode == 1
    assert "SourceNotFound" in missing.stderr
    assert "Traceback" not in missing.stderr
