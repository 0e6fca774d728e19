"""End-to-end: the seeds' user scenarios, with ``synchub run`` as a subprocess.

Arrange and assert with the synchronous ``kubernetes`` client against the sandbox clusters
(master + member-1 + member-2); the hub is the real process. Each test works in a fresh
namespace (created on all three clusters).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from hub.sandbox import Sandbox, certmanager, context_name
from hub.sandbox.process import stop as stop_process
from hub.testing import (
    Clusters,
    HubProcess,
    b64,
    crd_served,
    require_cert_manager_build,
    settled,
    wait_for,
)

MASTER = "master"
MEMBERS = ("member-1", "member-2")

KUBEFED = ("types.kubefed.io", "v1beta1")
FEDERATION = ("types.federation.k8s.io", "v1alpha1")

MANAGED_LABEL = "synchub.io/managed"
ORIGIN_ANNOTATION = "synchub.io/origin"
FINALIZER = "synchub.io/propagation"

#: Placement used by the seeds: every cluster except the master.
NOT_MASTER = {
    "clusterSelector": {"matchExpressions": [{"key": "cluster-master", "operator": "DoesNotExist"}]}
}

HELM_GROUP, HELM_VERSION, HELM_PLURAL = "helm.toolkit.fluxcd.io", "v2", "helmreleases"

Obj = dict[str, Any]


# --- small helpers ---------------------------------------------------------------------------


def encoded(data: dict[str, str]) -> dict[str, str]:
    return {k: b64(v) for k, v in data.items()}


def tls(version: str) -> dict[str, str]:
    """Secret data of a cert-manager style TLS Secret (base64-encoded, as stored)."""
    return encoded(
        {
            "tls.crt": f"-----BEGIN CERTIFICATE-----\n{version}\n-----END CERTIFICATE-----\n",
            "tls.key": f"-----BEGIN PRIVATE KEY-----\n{version}\n-----END PRIVATE KEY-----\n",
            "ca.crt": f"ca {version}",
        }
    )


def plural(kind: str) -> str:
    return {
        "FederatedSecret": "federatedsecrets",
        "FederatedConfigMap": "federatedconfigmaps",
        "FederatedDeployment": "federateddeployments",
        "FederatedHelmRelease": "federatedhelmreleases",
    }[kind]


def _json(response: Any) -> Obj:
    return json.loads(response.data)  # type: ignore[no-any-return]


def _or_none(read: Callable[[], Obj]) -> Obj | None:
    try:
        return read()
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def labels(obj: Obj) -> dict[str, str]:
    return obj["metadata"].get("labels") or {}


def annotations_of(obj: Obj) -> dict[str, str]:
    return obj["metadata"].get("annotations") or {}


def origin(kind: str, namespace: str, name: str, group: str = KUBEFED[0]) -> str:
    return f"{MASTER}/{group}/{kind}/{namespace}/{name}"


class Kube:
    """Arrange and assert across the sandbox clusters in one namespace, with plain dicts."""

    def __init__(self, clusters: Clusters, namespace: str) -> None:
        self.clusters = clusters
        self.ns = namespace

    # Secrets, ConfigMaps, Deployments, HelmReleases

    def create_secret(
        self, cluster: str, name: str, data: dict[str, str], type_: str = "Opaque"
    ) -> Obj:
        body = {"metadata": {"name": name}, "type": type_, "data": data}
        core = self.clusters.core(cluster)
        return _json(core.create_namespaced_secret(self.ns, body, _preload_content=False))

    def secret(self, cluster: str, name: str) -> Obj | None:
        core = self.clusters.core(cluster)
        return _or_none(
            lambda: _json(core.read_namespaced_secret(name, self.ns, _preload_content=False))
        )

    def secret_data(self, cluster: str, name: str) -> dict[str, str] | None:
        found = self.secret(cluster, name)
        return None if found is None else (found.get("data") or {})

    def patch_secret(self, cluster: str, name: str, patch: Obj) -> Obj:
        core = self.clusters.core(cluster)
        return _json(core.patch_namespaced_secret(name, self.ns, patch, _preload_content=False))

    def config_map(self, cluster: str, name: str) -> Obj | None:
        core = self.clusters.core(cluster)
        return _or_none(
            lambda: _json(core.read_namespaced_config_map(name, self.ns, _preload_content=False))
        )

    def apps(self, cluster: str) -> k8s.AppsV1Api:
        return k8s.AppsV1Api(self.clusters.api[cluster])

    def create_deployment(self, cluster: str, name: str, image: str) -> Obj:
        body = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "app", "image": image}]},
                },
            },
        }
        apps = self.apps(cluster)
        return _json(apps.create_namespaced_deployment(self.ns, body, _preload_content=False))

    def deployment(self, cluster: str, name: str) -> Obj | None:
        apps = self.apps(cluster)
        return _or_none(
            lambda: _json(apps.read_namespaced_deployment(name, self.ns, _preload_content=False))
        )

    def image(self, cluster: str, name: str) -> str | None:
        found = self.deployment(cluster, name)
        if found is None:
            return None
        return str(found["spec"]["template"]["spec"]["containers"][0]["image"])

    def set_image(self, cluster: str, name: str, image: str) -> None:
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}}
        self.apps(cluster).patch_namespaced_deployment(name, self.ns, patch)

    def create_certificate(self, cluster: str, name: str, secret: str) -> Obj:
        body = {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": name},
            "spec": {
                "secretName": secret,
                "dnsNames": [f"{name}.{self.ns}.synchub.test"],
                "issuerRef": {"name": certmanager.CA_ISSUER, "kind": "ClusterIssuer"},
            },
        }
        custom = self.clusters.custom(cluster)
        return custom.create_namespaced_custom_object(  # type: ignore[no-any-return]
            "cert-manager.io", "v1", self.ns, "certificates", body
        )

    def certificate(self, cluster: str, name: str) -> Obj | None:
        custom = self.clusters.custom(cluster)
        return _or_none(
            lambda: custom.get_namespaced_custom_object(
                "cert-manager.io", "v1", self.ns, "certificates", name
            )
        )

    def renew_certificate(self, cluster: str, name: str) -> None:
        current = self.certificate(cluster, name)
        assert current is not None
        self.clusters.custom(cluster).patch_namespaced_custom_object_status(
            "cert-manager.io", "v1", self.ns, "certificates", name,
            certmanager.renewal_patch(current),
        )  # fmt: skip

    def create_helm_release(self, cluster: str, name: str, spec: Obj) -> Obj:
        body = {
            "apiVersion": f"{HELM_GROUP}/{HELM_VERSION}",
            "kind": "HelmRelease",
            "metadata": {"name": name},
            "spec": spec,
        }
        custom = self.clusters.custom(cluster)
        return custom.create_namespaced_custom_object(  # type: ignore[no-any-return]
            HELM_GROUP, HELM_VERSION, self.ns, HELM_PLURAL, body
        )

    def helm_release(self, cluster: str, name: str) -> Obj | None:
        custom = self.clusters.custom(cluster)
        return _or_none(
            lambda: custom.get_namespaced_custom_object(
                HELM_GROUP, HELM_VERSION, self.ns, HELM_PLURAL, name
            )
        )

    def patch_helm_release(self, cluster: str, name: str, patch: Obj) -> None:
        self.clusters.custom(cluster).patch_namespaced_custom_object(
            HELM_GROUP, HELM_VERSION, self.ns, HELM_PLURAL, name, patch
        )

    # Federated objects (on the master)

    def create_federated(
        self,
        kind: str,
        name: str,
        template: Obj,
        placement: Obj,
        *,
        annotations: dict[str, str] | None = None,
        overrides: list[Obj] | None = None,
        api: tuple[str, str] = KUBEFED,
    ) -> Obj:
        spec: Obj = {"template": template, "placement": placement}
        if overrides is not None:
            spec["overrides"] = overrides
        body = {
            "apiVersion": f"{api[0]}/{api[1]}",
            "kind": kind,
            "metadata": {"name": name, "annotations": annotations or {}},
            "spec": spec,
        }
        return self.clusters.custom(MASTER).create_namespaced_custom_object(  # type: ignore[no-any-return]
            api[0], api[1], self.ns, plural(kind), body
        )

    def federated(self, kind: str, name: str, api: tuple[str, str] = KUBEFED) -> Obj | None:
        custom = self.clusters.custom(MASTER)
        return _or_none(
            lambda: custom.get_namespaced_custom_object(api[0], api[1], self.ns, plural(kind), name)
        )

    def patch_federated(
        self, kind: str, name: str, patch: Obj, api: tuple[str, str] = KUBEFED
    ) -> Obj:
        return self.clusters.custom(MASTER).patch_namespaced_custom_object(  # type: ignore[no-any-return]
            api[0], api[1], self.ns, plural(kind), name, patch
        )

    def delete_federated(self, kind: str, name: str, api: tuple[str, str] = KUBEFED) -> None:
        self.clusters.custom(MASTER).delete_namespaced_custom_object(
            api[0], api[1], self.ns, plural(kind), name
        )

    def cluster_statuses(
        self, kind: str, name: str, api: tuple[str, str] = KUBEFED
    ) -> dict[str, str]:
        fed = self.federated(kind, name, api) or {}
        entries = (fed.get("status") or {}).get("clusters") or []
        return {entry["name"]: entry["status"] for entry in entries}

    def condition(
        self, kind: str, name: str, type_: str, api: tuple[str, str] = KUBEFED
    ) -> Obj | None:
        fed = self.federated(kind, name, api) or {}
        conditions = (fed.get("status") or {}).get("conditions") or []
        return next((c for c in conditions if c.get("type") == type_), None)

    def propagated(self, kind: str, name: str, api: tuple[str, str] = KUBEFED) -> bool:
        """Status says: both members Propagated, condition Propagation=True."""
        condition = self.condition(kind, name, "Propagation", api) or {}
        return self.cluster_statuses(kind, name, api) == dict.fromkeys(MEMBERS, "Propagated") and (
            condition.get("status") == "True"
        )


def federated_tls_secret(kube: Kube, name: str, **extra: Any) -> Obj:
    """The seed: a FederatedSecret whose data is copied from the master's Secret NAME."""
    seed = {"k8s-copier.fig.org/replace-spec.template.data": f"secrets:{name}:data"}
    return kube.create_federated(
        "FederatedSecret",
        name,
        {"type": "kubernetes.io/tls"},
        NOT_MASTER,
        annotations={**seed, **extra.pop("annotations", {})},
        **extra,
    )


def federated_secret(kube: Kube, name: str, data: dict[str, str], **extra: Any) -> Obj:
    """A FederatedSecret with literal data, placed on the members."""
    placement = extra.pop("placement", NOT_MASTER)
    return kube.create_federated(
        "FederatedSecret", name, {"type": "Opaque", "data": data}, placement, **extra
    )


def on_members(kube: Kube, name: str, data: dict[str, str] | None) -> Callable[[], bool]:
    """Condition: every member holds Secret NAME with exactly ``data``."""

    def check() -> bool:
        return all(kube.secret_data(member, name) == data for member in MEMBERS)

    check.__qualname__ = f"members hold secret {name}"
    return check


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def kube(clusters: Clusters, namespace: str) -> Kube:
    return Kube(clusters, namespace)


@pytest.fixture(autouse=True)
def diagnostics_on_failure(
    request: pytest.FixtureRequest, clusters: Clusters, namespace: str, tmp_path: Path
) -> Iterator[None]:
    """When a test fails, print the Federated objects of its namespace (metadata and status)
    and the tail of the hub's log (which the ``hub`` fixture writes into tmp_path)."""
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed == failed_before:
        return
    custom = clusters.custom(MASTER)
    for group, version in (KUBEFED, FEDERATION):
        for kind in (
            "FederatedSecret",
            "FederatedConfigMap",
            "FederatedDeployment",
            "FederatedHelmRelease",
        ):
            with contextlib.suppress(ApiException):
                found = custom.list_namespaced_custom_object(
                    group, version, namespace, plural(kind)
                )
                for item in found["items"]:
                    item["metadata"].pop("managedFields", None)
                    shown = {"metadata": item["metadata"], "status": item.get("status")}
                    # A failure dump: pytest shows captured output for failed tests only.
                    print(f"--- {kind} {item['metadata']['name']} ---\n{yaml.safe_dump(shown)}")  # noqa: T201
    log = tmp_path / "synchub.log"
    if log.exists():
        print(f"--- tail of {log} ---\n{log.read_text(errors='replace')[-6000:]}")  # noqa: T201


@pytest.fixture(scope="module")
def helmrelease_crd(clusters: Clusters) -> None:
    """Flux's real HelmRelease CRD (generated from its Go API) on all three clusters."""
    require_cert_manager_build()
    crd = certmanager.helmrelease_crd_file()
    for name in clusters.names:
        certmanager.install_crds_on(clusters.kubeconfig, context_name(name), crd)
    apis = [clusters.api[name] for name in clusters.names]
    wait_for(lambda: all(crd_served(a, HELM_GROUP, HELM_VERSION, HELM_PLURAL) for a in apis))


# --- 1. cert-manager fan-out -----------------------------------------------------------------


@pytest.mark.usefixtures("cert_manager")
def test_cert_manager_secret_fans_out_to_members(kube: Kube, hub: HubProcess) -> None:
    """The real cert-manager issues web-tls on the master, then renews it."""
    name = "web-tls"
    kube.create_certificate(MASTER, "web", name)
    wait_for(lambda: certmanager.ready(kube.certificate(MASTER, "web")), timeout=60)
    source = kube.secret(MASTER, name)
    assert source is not None
    issued = source["data"]
    assert {"tls.crt", "tls.key", "ca.crt"} <= issued.keys()
    federated_tls_secret(kube, name)

    wait_for(on_members(kube, name, issued), timeout=60)
    for member in MEMBERS:
        copy = kube.secret(member, name)
        assert copy is not None
        assert copy["type"] == "kubernetes.io/tls"
        assert labels(copy)[MANAGED_LABEL] == "true"
        assert annotations_of(copy)[ORIGIN_ANNOTATION] == origin("FederatedSecret", kube.ns, name)

    wait_for(lambda: kube.propagated("FederatedSecret", name), timeout=30)
    statuses = kube.cluster_statuses("FederatedSecret", name)
    assert statuses == {"member-1": "Propagated", "member-2": "Propagated"}

    master = kube.secret(MASTER, name)
    assert master is not None
    assert MANAGED_LABEL not in labels(master)
    assert ORIGIN_ANNOTATION not in annotations_of(master)
    assert master["metadata"]["resourceVersion"] == source["metadata"]["resourceVersion"]

    # cert-manager renews the certificate (as `cmctl renew` asks it to): the members follow.
    kube.renew_certificate(MASTER, "web")
    wait_for(lambda: (kube.secret_data(MASTER, name) or issued) != issued, timeout=30)
    renewed = kube.secret_data(MASTER, name)
    assert renewed is not None
    assert renewed["tls.crt"] != issued["tls.crt"]
    wait_for(on_members(kube, name, renewed), timeout=60)
    master = kube.secret(MASTER, name)
    assert master is not None
    assert MANAGED_LABEL not in labels(master)


# --- 2. Flux Deployment ----------------------------------------------------------------------


def test_flux_deployment_propagates_with_image_changes(kube: Kube, hub: HubProcess) -> None:
    name = "podinfo"
    kube.create_deployment(MASTER, name, "ghcr.io/stefanprodan/podinfo:6.5.0")
    kube.create_federated(
        "FederatedDeployment",
        name,
        {"metadata": {"labels": {"app": name}}},
        NOT_MASTER,
        annotations={"k8s-copier.fig.org/replace-spec.template.spec": f"deployments:{name}:spec"},
    )

    def images(image: str) -> Callable[[], bool]:
        return lambda: all(kube.image(m, name) == image for m in MEMBERS)

    wait_for(images("ghcr.io/stefanprodan/podinfo:6.5.0"), timeout=60)
    for member in MEMBERS:
        copy = kube.deployment(member, name)
        assert copy is not None
        assert copy["spec"]["replicas"] == 2
        assert labels(copy)[MANAGED_LABEL] == "true"
        assert labels(copy)["app"] == name
    wait_for(lambda: kube.propagated("FederatedDeployment", name), timeout=30)

    # Flux rolls out a new image on the master.
    kube.set_image(MASTER, name, "ghcr.io/stefanprodan/podinfo:6.6.0")
    wait_for(images("ghcr.io/stefanprodan/podinfo:6.6.0"), timeout=60)
    wait_for(lambda: kube.propagated("FederatedDeployment", name), timeout=30)


# --- 3. Flux HelmRelease ---------------------------------------------------------------------


@pytest.mark.usefixtures("helmrelease_crd")
def test_helm_release_propagates(kube: Kube, hub: HubProcess) -> None:
    name = "podinfo"
    spec: Obj = {
        "interval": "5m",
        "chart": {
            "spec": {
                "chart": "podinfo",
                "version": "6.x",
                "sourceRef": {"kind": "HelmRepository", "name": "podinfo", "namespace": "flux"},
            }
        },
        "values": {"replicaCount": 2, "ui": {"message": "hello"}},
    }
    kube.create_helm_release(MASTER, name, spec)
    kube.create_federated(
        "FederatedHelmRelease",
        name,
        {"apiVersion": f"{HELM_GROUP}/{HELM_VERSION}", "kind": "HelmRelease"},
        NOT_MASTER,
        annotations={
            "k8s-copier.fig.org/replace-spec.template.spec": (
                f"helmreleases.{HELM_GROUP}:{name}:spec"
            )
        },
    )

    def values(expected: Obj) -> Callable[[], bool]:
        def check() -> bool:
            copies = [kube.helm_release(m, name) for m in MEMBERS]
            return all(
                c is not None and c.get("spec", {}).get("values") == expected for c in copies
            )

        return check

    wait_for(values(spec["values"]), timeout=60)
    source = kube.helm_release(MASTER, name)
    assert source is not None
    # The real schema defaults fields (chart.spec.reconcileStrategy): copies equal the master's.
    assert source["spec"]["chart"]["spec"]["reconcileStrategy"] == "ChartVersion"
    for member in MEMBERS:
        copy = kube.helm_release(member, name)
        assert copy is not None
        assert copy["spec"]["chart"] == source["spec"]["chart"]
        assert labels(copy)[MANAGED_LABEL] == "true"
        assert annotations_of(copy)[ORIGIN_ANNOTATION] == origin(
            "FederatedHelmRelease", kube.ns, name
        )

    kube.patch_helm_release(MASTER, name, {"spec": {"values": {"replicaCount": 3}}})
    wait_for(values({"replicaCount": 3, "ui": {"message": "hello"}}), timeout=60)
    wait_for(lambda: kube.propagated("FederatedHelmRelease", name), timeout=30)


# --- 5. placement change, deletion, orphaning ------------------------------------------------


def test_placement_change_and_deletion_remove_copies(kube: Kube, hub: HubProcess) -> None:
    name = "app-config"
    data = encoded({"password": "s3cret"})
    federated_secret(kube, name, data)
    wait_for(on_members(kube, name, data), timeout=60)
    fed = kube.federated("FederatedSecret", name)
    assert fed is not None
    assert FINALIZER in fed["metadata"].get("finalizers", [])

    # Narrow the placement: the explicit list wins over the selector.
    only_member_1 = {"spec": {"placement": {"clusters": [{"name": "member-1"}]}}}
    kube.patch_federated("FederatedSecret", name, only_member_1)
    wait_for(lambda: kube.secret("member-2", name) is None, timeout=60)
    assert kube.secret_data("member-1", name) == data
    wait_for(lambda: kube.cluster_statuses("FederatedSecret", name) == {"member-1": "Propagated"})

    # Delete the Federated object: copies go, then the object (its finalizer released).
    kube.delete_federated("FederatedSecret", name)
    fed = kube.federated("FederatedSecret", name)
    assert fed is None or FINALIZER in fed["metadata"].get("finalizers", [])
    wait_for(lambda: kube.secret("member-1", name) is None, timeout=60)
    wait_for(lambda: kube.federated("FederatedSecret", name) is None, timeout=60)
    assert all(kube.secret(c, name) is None for c in (MASTER, *MEMBERS))


@pytest.mark.parametrize("orphan", ["synchub.io/orphan", "kubefed.io/orphan"])
def test_orphan_annotation_keeps_copies(kube: Kube, hub: HubProcess, orphan: str) -> None:
    name = "kept"
    data = encoded({"token": "abc"})
    federated_secret(kube, name, data, annotations={orphan: "true"})
    wait_for(on_members(kube, name, data), timeout=60)
    wait_for(lambda: kube.propagated("FederatedSecret", name), timeout=30)

    kube.delete_federated("FederatedSecret", name)
    wait_for(lambda: kube.federated("FederatedSecret", name) is None, timeout=60)
    for member in MEMBERS:
        copy = kube.secret(member, name)
        assert copy is not None, f"orphaned copy on {member} was deleted"
        assert copy.get("data") == data
        assert MANAGED_LABEL not in labels(copy)


# --- 6. ownership: AlreadyExists, then adopt -------------------------------------------------


def test_existing_unmanaged_object_is_not_touched_until_adopted(
    kube: Kube, hub: HubProcess
) -> None:
    name = "db-credentials"
    mine = kube.create_secret("member-1", name, encoded({"password": "hand-made"}))
    data = encoded({"password": "from-template"})
    federated_secret(kube, name, data)

    wait_for(
        lambda: (
            kube.cluster_statuses("FederatedSecret", name)
            == {"member-1": "AlreadyExists", "member-2": "Propagated"}
        ),
        timeout=60,
    )
    condition = kube.condition("FederatedSecret", name, "Propagation")
    assert condition is not None
    assert condition["status"] == "False"
    untouched = kube.secret("member-1", name)
    assert untouched is not None
    assert untouched["metadata"]["resourceVersion"] == mine["metadata"]["resourceVersion"]
    assert MANAGED_LABEL not in labels(untouched)
    assert kube.secret_data("member-2", name) == data

    kube.patch_federated(
        "FederatedSecret", name, {"metadata": {"annotations": {"synchub.io/adopt": "true"}}}
    )

    def adopted() -> bool:
        copy = kube.secret("member-1", name)
        return copy is not None and labels(copy).get(MANAGED_LABEL) == "true"

    wait_for(adopted, timeout=60)
    assert kube.secret_data("member-1", name) == data
    wait_for(lambda: kube.propagated("FederatedSecret", name), timeout=30)


# --- 7. drift ----------------------------------------------------------------------------------


def test_edited_or_deleted_copies_are_restored(kube: Kube, hub: HubProcess) -> None:
    name = "api-key"
    data = encoded({"key": "right"})
    federated_secret(kube, name, data)
    wait_for(on_members(kube, name, data), timeout=60)

    kube.patch_secret("member-1", name, {"data": {"key": b64("wrong")}})
    wait_for(lambda: kube.secret_data("member-1", name) == data, timeout=60)

    kube.clusters.core("member-2").delete_namespaced_secret(name, kube.ns)
    wait_for(lambda: kube.secret_data("member-2", name) == data, timeout=60)
    copy = kube.secret("member-2", name)
    assert copy is not None
    assert labels(copy)[MANAGED_LABEL] == "true"
    wait_for(lambda: kube.propagated("FederatedSecret", name), timeout=30)


# --- 8. per-cluster overrides, both generations ----------------------------------------------


def test_kubefed_json_patch_overrides_reach_only_their_cluster(kube: Kube, hub: HubProcess) -> None:
    name = "settings"
    data = encoded({"mode": "default"})
    overrides = [
        {
            "clusterName": "member-2",
            "clusterOverrides": [
                {"op": "add", "path": "/data/extra", "value": b64("only-on-2")},
                {"path": "/data/mode", "value": b64("special")},  # op defaults to replace
            ],
        }
    ]
    federated_secret(kube, name, data, overrides=overrides)

    wait_for(
        lambda: (
            kube.secret_data("member-2", name) == encoded({"mode": "special", "extra": "only-on-2"})
        ),
        timeout=60,
    )
    assert kube.secret_data("member-1", name) == data
    wait_for(lambda: kube.propagated("FederatedSecret", name), timeout=30)


def test_federation_v1alpha1_dotted_overrides_reach_only_their_cluster(
    kube: Kube, hub: HubProcess
) -> None:
    name = "feature-flags"
    kube.create_federated(
        "FederatedConfigMap",
        name,
        {"data": {"color": "green"}},
        {"clusterNames": list(MEMBERS)},
        overrides=[
            {
                "clusterName": "member-1",
                "clusterOverrides": [
                    {"path": "data.color", "value": "blue"},
                    {"path": "metadata.labels.tier", "value": "canary"},
                ],
            }
        ],
        api=FEDERATION,
    )

    def data(cluster: str) -> dict[str, str] | None:
        found = kube.config_map(cluster, name)
        return None if found is None else found.get("data")

    wait_for(lambda: data("member-1") == {"color": "blue"}, timeout=60)
    wait_for(lambda: data("member-2") == {"color": "green"}, timeout=60)
    one, two = kube.config_map("member-1", name), kube.config_map("member-2", name)
    assert one is not None
    assert two is not None
    assert labels(one).get("tier") == "canary"
    assert "tier" not in labels(two)
    assert annotations_of(two)[ORIGIN_ANNOTATION] == origin(
        "FederatedConfigMap", kube.ns, name, group=FEDERATION[0]
    )
    wait_for(lambda: kube.propagated("FederatedConfigMap", name, api=FEDERATION), timeout=30)


# --- 9. update mode create-only --------------------------------------------------------------


def test_create_only_never_updates_copies(kube: Kube, hub: HubProcess) -> None:
    name = "bootstrap"
    first = encoded({"seed": "one"})
    federated_secret(kube, name, first, annotations={"synchub.io/update-mode": "create-only"})
    wait_for(on_members(kube, name, first), timeout=60)
    wait_for(lambda: kube.propagated("FederatedSecret", name), timeout=30)

    fed = kube.patch_federated(
        "FederatedSecret", name, {"spec": {"template": {"data": encoded({"seed": "two"})}}}
    )
    generation = fed["metadata"]["generation"]

    def observed() -> bool:
        current = kube.federated("FederatedSecret", name) or {}
        return bool((current.get("status") or {}).get("observedGeneration") == generation)

    wait_for(observed, timeout=60)  # the hub has reconciled the new template
    assert on_members(kube, name, first)()


# --- 10. zero writes in steady state ---------------------------------------------------------


def test_zero_writes_in_steady_state(kube: Kube, hub: HubProcess) -> None:
    name = "steady-tls"
    kube.create_secret(MASTER, name, tls("v1"), type_="kubernetes.io/tls")
    federated_tls_secret(kube, name)
    wait_for(on_members(kube, name, tls("v1")), timeout=60)
    wait_for(lambda: kube.propagated("FederatedSecret", name), timeout=30)

    before = settled(lambda: hub.metric("synchub_member_writes_total"))
    time.sleep(20)
    after = hub.metric("synchub_member_writes_total")
    assert after == before, f"{after - before} writes in steady state"


# --- 11. metrics -----------------------------------------------------------------------------


def test_propagation_metrics(kube: Kube, hub: HubProcess) -> None:
    name = "metrics-tls"
    kube.create_secret(MASTER, name, tls("v1"), type_="kubernetes.io/tls")
    federated_tls_secret(kube, name)
    wait_for(on_members(kube, name, tls("v1")), timeout=60)

    kube.patch_secret(MASTER, name, {"data": tls("v2")})
    wait_for(on_members(kube, name, tls("v2")), timeout=60)
    wait_for(lambda: hub.metric("synchub_propagation_seconds_count") > 0, timeout=30)
    assert hub.metric("synchub_cluster_ready", cluster="member-1") == 1
    assert hub.metric("synchub_member_writes_total", cluster="member-1") > 0


# --- 12. dry-run -----------------------------------------------------------------------------


@pytest.mark.usefixtures("federated_crds")
def test_dry_run_writes_nothing(kube: Kube, clusters: Clusters, tmp_path: Path) -> None:
    name = "dry"
    data = encoded({"key": "value"})
    created = federated_secret(kube, name, data)

    config = yaml.safe_load(clusters.clusters_yaml.read_text())
    config["namespaces"] = [kube.ns]
    path = tmp_path / "clusters.yaml"
    path.write_text(yaml.safe_dump(config))
    log = tmp_path / "synchub.log"
    command = [sys.executable, "-m", "hub", "-c", str(path), "run", "--once", "--dry-run"]
    with log.open("wb") as out:
        result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=120)
    output = log.read_text(errors="replace")

    assert result.returncode in (0, 1), output
    assert "dry-run: would apply" in output
    for member in MEMBERS:
        assert kube.secret(member, name) is None
    fed = kube.federated("FederatedSecret", name)
    assert fed is not None
    assert fed["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert FINALIZER not in (fed["metadata"].get("finalizers") or [])


# --- 4. member outage (last: it stops an API server) -----------------------------------------


def stop_member_apiserver(clusters: Clusters, member: str, how: str) -> None:
    """``stop``: graceful SIGTERM shutdown; ``crash``: SIGKILL at once, so the hub meets the
    outage on a write before its health probe notices."""
    if how == "stop":
        clusters.sandbox.stop_apiserver(member)
        return
    if not isinstance(clusters.sandbox, Sandbox):
        pytest.skip("crashing an API server needs the sandbox provider")
    record = clusters.sandbox.cluster(member)
    assert record.apiserver is not None
    stop_process(record.apiserver.pid, record.dir, timeout=0)  # SIGTERM, then SIGKILL at once


@pytest.mark.parametrize("how", ["stop", "crash"])
def test_member_outage_then_recovery(
    kube: Kube, clusters: Clusters, hub: HubProcess, how: str
) -> None:
    name = "outage-tls"
    kube.create_secret(MASTER, name, tls("v1"), type_="kubernetes.io/tls")
    federated_tls_secret(kube, name)
    wait_for(on_members(kube, name, tls("v1")), timeout=60)
    wait_for(lambda: kube.propagated("FederatedSecret", name), timeout=30)

    stop_member_apiserver(clusters, "member-2", how)
    try:
        kube.patch_secret(MASTER, name, {"data": tls("v2")})
        started = time.monotonic()
        wait_for(lambda: kube.secret_data("member-1", name) == tls("v2"), timeout=30)
        assert time.monotonic() - started < 15, "member-1 was held up by member-2's outage"
        wait_for(
            lambda: (
                kube.cluster_statuses("FederatedSecret", name)
                == {"member-1": "Propagated", "member-2": "ClusterNotReady"}
            ),
            timeout=60,
        )
        condition = kube.condition("FederatedSecret", name, "Propagation")
        assert condition is not None
        assert condition["status"] == "False"
        wait_for(lambda: hub.metric("synchub_cluster_ready", cluster="member-2") == 0, timeout=60)
        assert hub.metric("synchub_cluster_ready", cluster="member-1") == 1
    finally:
        clusters.sandbox.start_apiserver("member-2")

    wait_for(lambda: kube.secret_data("member-2", name) == tls("v2"), timeout=90)
    wait_for(lambda: kube.propagated("FederatedSecret", name), timeout=60)
    assert hub.metric("synchub_cluster_ready", cluster="member-2") == 1
