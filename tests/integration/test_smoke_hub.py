"""The hub answers its health endpoints and exposes its metrics."""

from __future__ import annotations

import urllib.request

from hub.testing import Clusters, HubProcess, wait_for

SEED = "k8s-copier.fig.org/replace-spec.template.data"


def test_hub_serves_health_and_metrics(clusters: Clusters, hub: HubProcess) -> None:
    for path in ("/healthz", "/readyz"):
        with urllib.request.urlopen(f"http://127.0.0.1:{hub.port}{path}", timeout=5) as response:
            assert response.status == 200, path
    text = hub.metrics()
    assert "# TYPE synchub_reconcile_total counter" in text
    assert "# TYPE synchub_member_writes_total counter" in text

    def ready() -> dict[str, float]:
        return {labels["cluster"]: value for labels, value in hub.samples("synchub_cluster_ready")}

    wait_for(lambda: ready() == dict.fromkeys(clusters.names, 1.0), what="every cluster ready")


def test_writes_are_counted(hub: HubProcess, clusters: Clusters, namespace: str) -> None:
    """A copy the hub makes shows in synchub_member_writes_total of the master."""
    before = hub.metric("synchub_member_writes_total", cluster="master", verb="patch")
    clusters.core().create_namespaced_secret(
        namespace, {"metadata": {"name": "src"}, "data": {"k": "dg=="}}
    )
    clusters.custom().create_namespaced_custom_object(
        "types.kubefed.io",
        "v1beta1",
        namespace,
        "federatedsecrets",
        {
            "apiVersion": "types.kubefed.io/v1beta1",
            "kind": "FederatedSecret",
            "metadata": {
                "name": "fed",
                "annotations": {
                    "k8s-copier.fig.org/replace-spec.template.data": "secrets:src:data"
                },
            },
            "spec": {"template": {}},
        },
    )
    wait_for(
        lambda: hub.metric("synchub_member_writes_total", cluster="master", verb="patch") > before,
        what="a counted patch on the master",
    )
