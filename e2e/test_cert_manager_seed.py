"""The k8s-copier seed's cert-manager scenario, with the real cert-manager on the master.

A ``Certificate`` ``cloud-certificate`` in ``cloud``; the seed's FederatedSecret verbatim (the
``types.federation.k8s.io`` group) and one in ``types.kubefed.io`` whose template says
``type: kubernetes.io/tls``. Both reach both members; five renewals each reach both members; the
master's Secret is never written by the hub, and the hub writes nothing between renewals.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from hub.sandbox import certmanager
from hub.testing import Clusters, HubProcess, wait_for

NAMESPACE = "cloud"
MEMBERS = ("member-1", "member-2")
RENEWALS = 5
NOT_MASTER = {"clusterSelector": {"matchExpressions": [
    {"key": "cluster-master", "operator": "DoesNotExist"},
]}}  # fmt: skip

#: The seed's FederatedSecret, as its README writes it.
SEED_FEDERATED_SECRET: dict[str, Any] = {
    "apiVersion": "types.federation.k8s.io/v1alpha1",
    "kind": "FederatedSecret",
    "metadata": {
        "name": "cloud-certificate",
        "namespace": "cloud",
        "annotations": {
            "k8s-copier.fig.org/replace-spec.template.data": "secrets:cloud-certificate:data"
        },
    },
    "spec": {"placement": NOT_MASTER},
}
TLS_COPY = "cloud-certificate-tls"
KUBEFED_TLS_SECRET: dict[str, Any] = {
    "apiVersion": "types.kubefed.io/v1beta1",
    "kind": "FederatedSecret",
    "metadata": {
        "name": TLS_COPY,
        "namespace": "cloud",
        "annotations": {
            "k8s-copier.fig.org/replace-spec.template.data": "secrets:cloud-certificate:data"
        },
    },
    "spec": {"template": {"type": "kubernetes.io/tls"}, "placement": NOT_MASTER},
}


def _ensure_namespace(clusters: Clusters) -> None:
    """``cloud`` on every cluster (namespaces never finish deleting here: create if missing)."""
    for name in clusters.names:
        try:
            clusters.core(name).create_namespace(k8s.V1Namespace(metadata={"name": NAMESPACE}))
        except ApiException as exc:
            if exc.status != 409:
                raise


def _secret(clusters: Clusters, cluster: str, name: str) -> Any:
    try:
        return clusters.core(cluster).read_namespaced_secret(name, NAMESPACE)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def _data(clusters: Clusters, cluster: str, name: str) -> dict[str, str] | None:
    found = _secret(clusters, cluster, name)
    return None if found is None else dict(found.data or {})


def _members_hold(clusters: Clusters, data: dict[str, str]) -> bool:
    return all(
        _data(clusters, member, name) == data
        for member in MEMBERS
        for name in ("cloud-certificate", TLS_COPY)
    )


def _hub_never_wrote_the_master_secret(clusters: Clusters) -> None:
    master = _secret(clusters, "master", "cloud-certificate")
    managers = {entry.manager for entry in master.metadata.managed_fields or []}
    assert not any(m.startswith("synchub") for m in managers), managers
    assert "synchub.io/managed" not in (master.metadata.labels or {})


def _writes(hub: HubProcess) -> float:
    return hub.metric("synchub_member_writes_total")


QUIET = 3.0


def _settled_writes(hub: HubProcess, timeout: float = 30.0) -> float:
    """The write count once the renewal's last writes (status included) have landed."""
    deadline = time.monotonic() + timeout
    last, since = _writes(hub), time.monotonic()
    while time.monotonic() - since < 2.0:
        assert time.monotonic() < deadline, "hub writes did not settle"
        time.sleep(0.2)
        now = _writes(hub)
        if now != last:
            last, since = now, time.monotonic()
    return last


def _renew(clusters: Clusters) -> None:
    custom = clusters.custom("master")
    current = custom.get_namespaced_custom_object(
        "cert-manager.io", "v1", NAMESPACE, "certificates", "cloud-certificate"
    )
    custom.patch_namespaced_custom_object_status(
        "cert-manager.io", "v1", NAMESPACE, "certificates", "cloud-certificate",
        certmanager.renewal_patch(current),
    )  # fmt: skip


@pytest.mark.usefixtures("cert_manager", "federated_crds")
def test_cloud_certificate_and_five_renewals_reach_both_members(
    clusters: Clusters, hub: HubProcess
) -> None:
    _ensure_namespace(clusters)
    custom = clusters.custom("master")
    certificate = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "cloud-certificate", "namespace": NAMESPACE},
        "spec": {
            "secretName": "cloud-certificate",
            "dnsNames": ["cloud.example.com"],
            "issuerRef": {"kind": "ClusterIssuer", "name": certmanager.CA_ISSUER},
        },
    }
    custom.create_namespaced_custom_object(
        "cert-manager.io", "v1", NAMESPACE, "certificates", certificate
    )
    for federated in (SEED_FEDERATED_SECRET, KUBEFED_TLS_SECRET):
        group, version = federated["apiVersion"].split("/")
        custom.create_namespaced_custom_object(
            group, version, NAMESPACE, "federatedsecrets", federated
        )
    wait_for(lambda: _data(clusters, "master", "cloud-certificate"), timeout=60)
    issued = _data(clusters, "master", "cloud-certificate")
    assert issued is not None
    assert {"tls.crt", "tls.key", "ca.crt"} <= issued.keys()
    wait_for(lambda: _members_hold(clusters, issued), timeout=60)
    for member in MEMBERS:
        assert _secret(clusters, member, TLS_COPY).type == "kubernetes.io/tls"

    seen = {issued["tls.crt"]}
    for _ in range(RENEWALS):
        before = _data(clusters, "master", "cloud-certificate")
        _renew(clusters)
        wait_for(lambda: _data(clusters, "master", "cloud-certificate") != before, timeout=30)  # noqa: B023
        renewed = _data(clusters, "master", "cloud-certificate")
        assert renewed is not None
        assert renewed["tls.crt"] not in seen  # a new certificate each time
        seen.add(renewed["tls.crt"])
        wait_for(lambda: _members_hold(clusters, renewed), timeout=60)  # noqa: B023
        # Between renewals the hub is quiet: nothing to write until cert-manager acts again.
        writes = _settled_writes(hub)
        time.sleep(QUIET)  # the window in which no write may happen
        assert _writes(hub) == writes
        _hub_never_wrote_the_master_secret(clusters)
    assert len(seen) == RENEWALS + 1
