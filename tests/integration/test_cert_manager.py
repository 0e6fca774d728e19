"""The real cert-manager (tools/cert-manager) and Flux's real HelmRelease CRD on the sandbox.

Nothing is skipped: without ``make control-plane``'s cert-manager build these tests fail and
say how to build it.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from hub.kube.client import ClusterClient
from hub.sandbox import MASTER, Sandbox, certmanager
from hub.sandbox.process import alive
from hub.testing import Clusters, crd_served, require_cert_manager_build, wait_for

NAMESPACE = "cm-issuance"  # e2e/test_cert_manager_seed.py holds the seed's cloud/cloud-certificate
CERTIFICATE = "cloud-certificate"
SECRET = "cloud-certificate-tls"
CM = ("cert-manager.io", "v1")


def certificate(name: str, secret: str) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "secretName": secret,
            "commonName": "cloud.synchub.test",
            "dnsNames": ["cloud.synchub.test"],
            "duration": "2160h",
            "issuerRef": {"name": certmanager.CA_ISSUER, "kind": "ClusterIssuer"},
        },
    }


def tls_crt(core: k8s.CoreV1Api, name: str) -> bytes | None:
    try:
        secret = core.read_namespaced_secret(name, NAMESPACE)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    data = secret.data or {}
    return base64.b64decode(data["tls.crt"]) if data.get("tls.crt") else None


def get_certificate(custom: k8s.CustomObjectsApi, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = custom.get_namespaced_custom_object(*CM, NAMESPACE, "certificates", name)
    return obj


async def test_certificate_issued_then_renewed(clusters: Clusters, cert_manager: None) -> None:
    core, custom = clusters.core(MASTER), clusters.custom(MASTER)
    try:
        core.create_namespace(k8s.V1Namespace(metadata={"name": NAMESPACE}))
    except ApiException as exc:
        if exc.status != 409:
            raise
    custom.create_namespaced_custom_object(
        *CM, NAMESPACE, "certificates", certificate(CERTIFICATE, SECRET)
    )
    wait_for(lambda: tls_crt(core, SECRET), timeout=60)
    wait_for(lambda: certmanager.ready(get_certificate(custom, CERTIFICATE)), timeout=30)
    first = tls_crt(core, SECRET)
    assert first is not None
    assert first.startswith(b"-----BEGIN CERTIFICATE-----")
    ca = core.read_namespaced_secret(certmanager.CA_SECRET, certmanager.CLUSTER_RESOURCE_NAMESPACE)
    assert base64.b64decode(ca.data["ca.crt"]) == base64.b64decode(
        core.read_namespaced_secret(SECRET, NAMESPACE).data["ca.crt"]
    ), "leaf not signed by the synchub-ca chain"
    # cert-manager's readiness and issuing controllers write status apart: Ready can come
    # first, the revision a moment later.
    wait_for(
        lambda: get_certificate(custom, CERTIFICATE)["status"].get("revision") == 1,
        what="revision 1",
    )

    started = time.monotonic()
    async with await ClusterClient.connect(clusters.config.master) as client:
        await certmanager.renew(client, NAMESPACE, CERTIFICATE)
    wait_for(lambda: tls_crt(core, SECRET) not in (None, first), timeout=30)
    renewed_after = time.monotonic() - started
    wait_for(lambda: get_certificate(custom, CERTIFICATE)["status"].get("revision") == 2)
    assert certmanager.ready(get_certificate(custom, CERTIFICATE))
    assert renewed_after < 30
    print(f"renewal: new tls.crt {renewed_after:.2f}s after the request")  # noqa: T201  a figure for -s runs


async def test_helmrelease_crd_is_fluxs(clusters: Clusters) -> None:
    require_cert_manager_build()
    async with await ClusterClient.connect(clusters.config.master) as client:
        await certmanager.install_helmrelease_crd(client)
        crd = await client.get(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/helmreleases.helm.toolkit.fluxcd.io"
        )
    versions = {v["name"]: v for v in crd["spec"]["versions"]}
    assert versions["v2"]["storage"]
    assert versions["v2"]["served"]
    assert versions["v2beta2"]["served"]
    assert not versions["v2beta2"]["storage"]
    api = clusters.api[MASTER]
    wait_for(lambda: crd_served(api, "helm.toolkit.fluxcd.io", "v2", "helmreleases"))
    custom = clusters.custom(MASTER)
    release = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "podinfo", "namespace": "default"},
        "spec": {
            "interval": "5m",
            "chart": {
                "spec": {
                    "chart": "podinfo",
                    "sourceRef": {"kind": "HelmRepository", "name": "podinfo"},
                }
            },
        },
    }
    custom.create_namespaced_custom_object(
        "helm.toolkit.fluxcd.io", "v2", "default", "helmreleases", release
    )
    bad = {**release, "metadata": {"name": "bad", "namespace": "default"}, "spec": {}}
    with pytest.raises(ApiException) as refused:  # the real schema: spec.interval is required
        custom.create_namespaced_custom_object(
            "helm.toolkit.fluxcd.io", "v2", "default", "helmreleases", bad
        )
    assert refused.value.status == 422


def synchub(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_sandbox_up_cert_manager_and_down(tmp_path: Path) -> None:
    require_cert_manager_build()
    directory = tmp_path / "sb"
    try:
        up = synchub("sandbox", "up", "--members", "0", "--cert-manager", "--dir", directory)
        assert up.returncode == 0, up.stderr
        assert "cert-manager up on master" in up.stderr
        record = Sandbox(directory).cluster(MASTER)
        assert record.cert_manager is not None
        pid = record.cert_manager.pid
        assert alive(pid, record.dir)

        again = synchub("sandbox", "up", "--members", "0", "--cert-manager", "--dir", directory)
        assert again.returncode == 0, again.stderr
        assert Sandbox(directory).cluster(MASTER).cert_manager.pid == pid  # type: ignore[union-attr]
    finally:
        down = synchub("sandbox", "down", "--dir", directory)
    assert down.returncode == 0, down.stderr
    assert not alive(pid, record.dir)
