"""End-to-end: ObjectSync in its three forms, with ``synchub run`` as a subprocess.

One hub per module on the sandbox (master + member-1 + member-2); member-1 is labelled
``region: eu``, member-2 ``region: us``; ``objectSync.allowedResources`` adds CronJobs.
The seeds' manifests are applied with only ``metadata.namespace`` set to the test's own.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from hub.core.crds import render_crds
from hub.sandbox import context_name
from hub.testing import Clusters, HubProcess, crd_served, require_cert_manager_build, wait_for

MASTER = "master"
MEMBERS = ("member-1", "member-2")
MANAGED = "synchub.io/managed"
ORIGIN = "synchub.io/origin"

SYNCHUB = ("synchub.io", "v1alpha1", "objectsyncs")
RUSTRIAL = ("sync.rustrial.org", "v1alpha1", "objectsyncs")
REPLIKA = ("replika.prosimcorp.com", "v1alpha1", "replikas")

Obj = dict[str, Any]

CONFIGMAP_SEED = """
kind: ObjectSync
apiVersion: sync.rustrial.org/v1alpha1
metadata:
  name: my-test-config-map-distributor
  namespace: default
spec:
  source:
    group: ""
    kind: ConfigMap
    name: my-test-config-map
  destinations:
  - namespace: "*"
"""

SECRET_SEED = """
kind: ObjectSync
apiVersion: sync.rustrial.org/v1alpha1
metadata:
  name: my-test-config-map-distributor
  namespace: default
spec:
  source:
    group: ""
    kind: Secret
    name: image-pull-secrets
  destinations:
  - namespace: "*"
    name: global-image-pull-secrets
"""

CRONJOB_SEED = """
kind: ObjectSync
apiVersion: sync.rustrial.org/v1alpha1
metadata:
  name: my-test-config-map-distributor
  namespace: default
spec:
  source:
    group: "batch"
    kind: CronJob
    name: my-audit-scanner
  destinations:
  - namespace: "kube-system"
  - namespace: "linkerd"
"""

HELMRELEASE_SEED = """
kind: ObjectSync
apiVersion: sync.rustrial.org/v1alpha1
metadata:
  name: my-test-config-map-distributor
  namespace: default
spec:
  source:
    group: "helm.toolkit.fluxcd.io"
    kind: HelmRelease
    name: my-namespace-agent
  destinations:
  - namespace: "*"
"""

REPLIKA_SEED = """
apiVersion: replika.prosimcorp.com/v1alpha1
kind: Replika
metadata:
  name: replika-sample
spec:
  # Some configuration features
  synchronization:
    time: "20s"

  # Defines the resource to sync through namespaces
  source:
    group: ""
    version: v1
    kind: ConfigMap
    name: sample-configmap
    namespace: &sourceNamespace default

  # Defines the resources that will be generated
  target:
    namespaces:
      # List of namespaces where to replicate the resources when 'matchAll' is disabled
      replicateIn: []

      # Replicate the resource in all namespaces, some of them are excluded
      matchAll: true
      excludeFrom:
        - kube-system
        - kube-public
        - kube-node-lease
        - *sourceNamespace
"""


# --- helpers -----------------------------------------------------------------------------------


def _json(response: Any) -> Obj:
    return json.loads(response.data)  # type: ignore[no-any-return]


class Kube:
    """Arrange and assert with plain dicts across the sandbox clusters."""

    def __init__(self, clusters: Clusters) -> None:
        self.clusters = clusters

    def namespace(self, *, labels: dict[str, str] | None = None, name: str = "") -> str:
        """A namespace on every cluster (existing is fine)."""
        name = name or f"o-{uuid.uuid4().hex[:8]}"
        for cluster in self.clusters.names:
            body = k8s.V1Namespace(metadata={"name": name, "labels": labels or {}})
            with contextlib.suppress(ApiException):
                self.clusters.core(cluster).create_namespace(body)
        return name

    def label_namespace(self, cluster: str, name: str, labels: dict[str, str | None]) -> None:
        self.clusters.core(cluster).patch_namespace(name, {"metadata": {"labels": labels}})

    def create(self, cluster: str, namespace: str, obj: Obj) -> Obj:
        kind = obj["kind"]
        core = self.clusters.core(cluster)
        if kind == "ConfigMap":
            return _json(core.create_namespaced_config_map(namespace, obj, _preload_content=False))
        if kind == "Secret":
            return _json(core.create_namespaced_secret(namespace, obj, _preload_content=False))
        if kind == "CronJob":
            batch = k8s.BatchV1Api(self.clusters.api[cluster])
            return _json(batch.create_namespaced_cron_job(namespace, obj, _preload_content=False))
        raise AssertionError(kind)

    def get(self, cluster: str, kind: str, namespace: str, name: str) -> Obj | None:
        core = self.clusters.core(cluster)
        read: Callable[..., Any] = {
            "ConfigMap": core.read_namespaced_config_map,
            "Secret": core.read_namespaced_secret,
            "CronJob": k8s.BatchV1Api(self.clusters.api[cluster]).read_namespaced_cron_job,
        }[kind]
        try:
            return _json(read(name, namespace, _preload_content=False))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def data(self, cluster: str, kind: str, namespace: str, name: str) -> dict[str, str] | None:
        found = self.get(cluster, kind, namespace, name)
        return None if found is None else dict(found.get("data") or {})

    def patch(self, cluster: str, kind: str, namespace: str, name: str, patch: Obj) -> None:
        core = self.clusters.core(cluster)
        if kind == "ConfigMap":
            core.patch_namespaced_config_map(name, namespace, patch)
        else:
            core.patch_namespaced_secret(name, namespace, patch)

    def delete(self, cluster: str, kind: str, namespace: str, name: str) -> None:
        core = self.clusters.core(cluster)
        if kind == "ConfigMap":
            core.delete_namespaced_config_map(name, namespace)
        else:
            core.delete_namespaced_secret(name, namespace)

    def event_reasons(self, namespace: str, involved: str) -> list[str]:
        events = self.clusters.core(MASTER).list_namespaced_event(namespace).items
        return [e.reason for e in events if e.involved_object.name == involved]

    # sync objects

    def apply_sync(self, api: tuple[str, str, str], namespace: str, text: str) -> Obj:
        obj = yaml.safe_load(text)
        obj["metadata"]["namespace"] = namespace
        group, version, plural = api
        custom = self.clusters.custom(MASTER)
        return custom.create_namespaced_custom_object(  # type: ignore[no-any-return]
            group, version, namespace, plural, obj
        )

    def sync(self, api: tuple[str, str, str], namespace: str, name: str) -> Obj | None:
        group, version, plural = api
        try:
            return self.clusters.custom(MASTER).get_namespaced_custom_object(  # type: ignore[no-any-return]
                group, version, namespace, plural, name
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def patch_sync(self, api: tuple[str, str, str], namespace: str, name: str, patch: Obj) -> None:
        group, version, plural = api
        self.clusters.custom(MASTER).patch_namespaced_custom_object(
            group, version, namespace, plural, name, patch
        )

    def delete_sync(self, api: tuple[str, str, str], namespace: str, name: str) -> None:
        group, version, plural = api
        self.clusters.custom(MASTER).delete_namespaced_custom_object(
            group, version, namespace, plural, name
        )

    def condition(
        self, api: tuple[str, str, str], namespace: str, name: str, type_: str
    ) -> Obj | None:
        found = self.sync(api, namespace, name) or {}
        for condition in (found.get("status") or {}).get("conditions") or []:
            if condition.get("type") == type_:
                return condition  # type: ignore[no-any-return]
        return None

    def destinations(self, api: tuple[str, str, str], namespace: str, name: str) -> list[Obj]:
        found = self.sync(api, namespace, name) or {}
        return list((found.get("status") or {}).get("destinations") or [])


def configmap(name: str, data: dict[str, str]) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def secret(name: str, data: dict[str, str], type_: str = "Opaque") -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "type": type_,
        "stringData": data,
    }


def managed(obj: Obj | None) -> bool:
    return obj is not None and (obj["metadata"].get("labels") or {}).get(MANAGED) == "true"


def ready(kube: Kube, api: tuple[str, str, str], ns: str, name: str, type_: str = "Ready") -> bool:
    condition = kube.condition(api, ns, name, type_)
    return condition is not None and condition["status"] == "True"


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def objectsync_crds(clusters: Clusters) -> None:
    """The three ObjectSync groups' CRDs on the master."""
    api = k8s.ApiextensionsV1Api(clusters.api[MASTER])
    groups = ("synchub.io", "sync.rustrial.org", "replika.prosimcorp.com")
    documents = [d for g in groups for d in yaml.safe_load_all(render_crds((g,)))]
    for document in documents:
        try:
            api.create_custom_resource_definition(document)
        except ApiException as exc:
            if exc.status != 409:
                raise
    for group, version, plural in (
        SYNCHUB,
        RUSTRIAL,
        REPLIKA,
        (*REPLIKA[:1], "v1beta1", REPLIKA[2]),
    ):
        wait_for(lambda g=group, v=version, p=plural: crd_served(clusters.api[MASTER], g, v, p))


@pytest.fixture(scope="module")
def hub(
    clusters: Clusters, objectsync_crds: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HubProcess]:
    """One hub for the module, with region labels and CronJobs allowed."""
    directory = tmp_path_factory.mktemp("objectsync")
    config = yaml.safe_load(clusters.clusters_yaml.read_text())
    regions = {"member-1": "eu", "member-2": "us"}
    for member in config["members"]:
        member["labels"]["region"] = regions[member["name"]]
    allowed = ["secrets", "configmaps", "cronjobs.batch", "helmreleases.helm.toolkit.fluxcd.io"]
    config["objectSync"] = {"allowedResources": allowed}
    path = directory / "clusters.yaml"
    path.write_text(yaml.safe_dump(config))
    process = HubProcess(path, directory / "synchub.log").start()
    yield process
    code = process.stop()
    assert code == 0, f"synchub did not shut down cleanly ({code}):\n{process.output()[-3000:]}"


@pytest.fixture
def kube(clusters: Clusters, hub: HubProcess, request: pytest.FixtureRequest) -> Iterator[Kube]:
    failed_before = request.session.testsfailed
    yield Kube(clusters)
    if request.session.testsfailed != failed_before:
        print(f"--- tail of the hub's log ---\n{hub.output()[-8000:]}")  # noqa: T201  failure dump


# --- 1. k8s-object-syncer's seed examples -------------------------------------------------------


def test_configmap_to_all_namespaces_follows_source_and_heals(kube: Kube) -> None:
    ns, other = kube.namespace(), kube.namespace()
    kube.create(MASTER, ns, configmap("my-test-config-map", {"someKey": "someValue"}))
    kube.apply_sync(RUSTRIAL, ns, CONFIGMAP_SEED)
    name = "my-test-config-map"
    for where in (other, "default", "kube-public"):
        wait_for(
            lambda w=where: kube.data(MASTER, "ConfigMap", w, name) == {"someKey": "someValue"}
        )
    copy = kube.get(MASTER, "ConfigMap", other, name)
    assert managed(copy)
    assert copy is not None
    assert copy["metadata"]["annotations"][ORIGIN] == (
        f"master/sync.rustrial.org/ObjectSync/{ns}/my-test-config-map-distributor"
    )
    assert copy["metadata"]["annotations"]["synchub.io/source"] == f"master/{ns}/{name}"
    assert not managed(kube.get(MASTER, "ConfigMap", ns, name)), "the source is never written"
    assert kube.get("member-1", "ConfigMap", other, name) is None, "master only"
    wait_for(lambda: ready(kube, RUSTRIAL, ns, "my-test-config-map-distributor"))
    assert ready(kube, RUSTRIAL, ns, "my-test-config-map-distributor", "InSync")

    kube.patch(MASTER, "ConfigMap", ns, name, {"data": {"someKey": "v2"}})
    wait_for(lambda: kube.data(MASTER, "ConfigMap", other, name) == {"someKey": "v2"})
    kube.patch(MASTER, "ConfigMap", other, name, {"data": {"someKey": "edited"}})
    wait_for(lambda: kube.data(MASTER, "ConfigMap", other, name) == {"someKey": "v2"})
    kube.delete(MASTER, "ConfigMap", other, name)
    wait_for(lambda: kube.data(MASTER, "ConfigMap", other, name) == {"someKey": "v2"})
    later = kube.namespace()
    wait_for(lambda: kube.data(MASTER, "ConfigMap", later, name) == {"someKey": "v2"})
    kube.delete_sync(RUSTRIAL, ns, "my-test-config-map-distributor")
    wait_for(lambda: kube.get(MASTER, "ConfigMap", other, name) is None)
    wait_for(lambda: kube.sync(RUSTRIAL, ns, "my-test-config-map-distributor") is None)
    assert kube.get(MASTER, "ConfigMap", ns, name) is not None, "the source stays"


def test_secret_renamed_and_cronjob_to_two_namespaces(kube: Kube) -> None:
    ns, other = kube.namespace(), kube.namespace()
    kube.namespace(name="linkerd")
    kube.create(MASTER, ns, secret("image-pull-secrets", {"token": "t1"}))
    kube.apply_sync(RUSTRIAL, ns, SECRET_SEED)
    wait_for(lambda: managed(kube.get(MASTER, "Secret", other, "global-image-pull-secrets")))
    assert kube.get(MASTER, "Secret", other, "image-pull-secrets") is None

    jobs = kube.namespace()
    cronjob = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "my-audit-scanner"},
        "spec": {
            "schedule": "*/5 * * * *",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "scan", "image": "busybox:1.36"}],
                        }
                    }
                }
            },
        },
    }
    kube.create(MASTER, jobs, cronjob)
    kube.apply_sync(RUSTRIAL, jobs, CRONJOB_SEED)
    for where in ("kube-system", "linkerd"):
        wait_for(lambda w=where: managed(kube.get(MASTER, "CronJob", w, "my-audit-scanner")))
    assert kube.get(MASTER, "CronJob", other, "my-audit-scanner") is None
    wait_for(lambda: ready(kube, RUSTRIAL, jobs, "my-test-config-map-distributor"))
    for sync_ns in (ns, jobs):
        kube.delete_sync(RUSTRIAL, sync_ns, "my-test-config-map-distributor")
    wait_for(lambda: kube.get(MASTER, "CronJob", "linkerd", "my-audit-scanner") is None)


def test_helm_release_to_all_namespaces(kube: Kube, clusters: Clusters) -> None:
    from hub.sandbox import certmanager

    require_cert_manager_build()
    certmanager.install_crds_on(  # Flux's real CRD, as generated by `make control-plane`
        clusters.kubeconfig, context_name(MASTER), certmanager.helmrelease_crd_file()
    )
    plural = "helmreleases"
    ns, other = kube.namespace(), kube.namespace()
    release = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "my-namespace-agent"},
        "spec": {
            "interval": "5m",
            "chart": {
                "spec": {
                    "chart": "agent",
                    "version": "1.2.3",
                    "sourceRef": {"kind": "HelmRepository", "name": "agents"},
                }
            },
        },
        "status": {"observedGeneration": 1},
    }
    custom = clusters.custom(MASTER)
    custom.create_namespaced_custom_object("helm.toolkit.fluxcd.io", "v2", ns, plural, release)
    kube.apply_sync(RUSTRIAL, ns, HELMRELEASE_SEED)

    def copied() -> Obj | None:
        try:
            return custom.get_namespaced_custom_object(  # type: ignore[no-any-return]
                "helm.toolkit.fluxcd.io", "v2", other, plural, "my-namespace-agent"
            )
        except ApiException:
            return None

    wait_for(lambda: managed(copied()))
    found = copied()
    assert found is not None
    stored = custom.get_namespaced_custom_object(
        "helm.toolkit.fluxcd.io", "v2", ns, plural, "my-namespace-agent"
    )
    assert stored["spec"]["chart"]["spec"]["chart"] == "agent"
    assert found["spec"] == stored["spec"]  # the real schema defaults fields: equal the stored
    wait_for(lambda: ready(kube, RUSTRIAL, ns, "my-test-config-map-distributor"))
    kube.delete_sync(RUSTRIAL, ns, "my-test-config-map-distributor")
    wait_for(lambda: copied() is None)


# --- 2. Replika's seed example ------------------------------------------------------------------


def test_replika_seed_example(kube: Kube) -> None:
    other = kube.namespace()
    with contextlib.suppress(ApiException):
        kube.create(MASTER, "default", configmap("sample-configmap", {"k": "v"}))
    kube.apply_sync(REPLIKA, "default", REPLIKA_SEED)
    try:
        wait_for(lambda: kube.data(MASTER, "ConfigMap", other, "sample-configmap") == {"k": "v"})
        assert not managed(kube.get(MASTER, "ConfigMap", "default", "sample-configmap"))
        for excluded in ("kube-system", "kube-public", "kube-node-lease"):
            assert kube.get(MASTER, "ConfigMap", excluded, "sample-configmap") is None
        wait_for(lambda: ready(kube, REPLIKA, "default", "replika-sample", "SourceSynced"))
        later = kube.namespace()
        wait_for(lambda: managed(kube.get(MASTER, "ConfigMap", later, "sample-configmap")))
    finally:
        kube.delete_sync(REPLIKA, "default", "replika-sample")
    wait_for(lambda: kube.get(MASTER, "ConfigMap", other, "sample-configmap") is None)


# --- 3. SyncHub's own form ----------------------------------------------------------------------


def test_selectors_clusters_and_keys(kube: Kube) -> None:
    ns = kube.namespace()
    team_a, team_b = kube.namespace(labels={"team": "a"}), kube.namespace(labels={"team": "b"})
    dockercfg = '{"auths": {}}'
    kube.create(
        MASTER,
        ns,
        secret("regcred", {".dockerconfigjson": dockercfg}, "kubernetes.io/dockerconfigjson"),
    )
    kube.create(MASTER, ns, secret("bundle", {"ca.crt": "CA", "tls.key": "KEY"}))
    text = """
apiVersion: synchub.io/v1alpha1
kind: ObjectSync
metadata: {name: registry-credentials}
spec:
  source: {kind: Secret, name: regcred}
  destinations:
    - namespaceSelector: {matchLabels: {team: a}}
      name: global-regcred
      clusters: {selector: {matchLabels: {region: eu}}}
"""
    kube.apply_sync(SYNCHUB, ns, text)
    keys = f"""
apiVersion: synchub.io/v1alpha1
kind: ObjectSync
metadata: {{name: ca-only}}
spec:
  source: {{kind: Secret, name: bundle}}
  destinations:
    - namespace: {team_b}
      name: ca
      clusters: {{names: [member-2]}}
      keys: {{ca.crt: trusted.crt}}
"""
    kube.apply_sync(SYNCHUB, ns, keys)
    wait_for(lambda: managed(kube.get("member-1", "Secret", team_a, "global-regcred")))
    wait_for(lambda: ready(kube, SYNCHUB, ns, "registry-credentials"))
    assert kube.get("member-1", "Secret", team_b, "global-regcred") is None
    assert kube.get("member-2", "Secret", team_a, "global-regcred") is None, "region us"
    assert kube.get(MASTER, "Secret", team_a, "global-regcred") is None, "master has no region"
    assert [(d["cluster"], d["namespace"], d["status"]) for d in kube.destinations(
        SYNCHUB, ns, "registry-credentials"
    )] == [("member-1", team_a, "Synced")]  # fmt: skip

    wait_for(lambda: kube.data("member-2", "Secret", team_b, "ca") is not None)
    assert set(kube.data("member-2", "Secret", team_b, "ca") or {}) == {"trusted.crt"}

    kube.label_namespace("member-1", team_a, {"team": "b"})
    wait_for(lambda: kube.get("member-1", "Secret", team_a, "global-regcred") is None)
    wait_for(lambda: kube.destinations(SYNCHUB, ns, "registry-credentials") == [])


def test_strategies_and_cross_namespace_sources(kube: Kube) -> None:
    ns, src, dest = kube.namespace(), kube.namespace(), kube.namespace()
    kube.create(MASTER, src, configmap("shared-cfg", {"a": "1"}))
    kube.create(MASTER, ns, configmap("local-cfg", {"a": "1"}))
    text = f"""
apiVersion: synchub.io/v1alpha1
kind: ObjectSync
metadata: {{name: NAME}}
spec:
  source: {{kind: ConfigMap, name: SOURCE, namespace: SOURCE_NS}}
  destinations: [{{namespace: {dest}, name: NAME}}]
  strategy: STRATEGY
"""

    def sync(name: str, source: str, source_ns: str, strategy: str) -> None:
        body = text.replace("SOURCE_NS", source_ns).replace("SOURCE", source)
        kube.apply_sync(SYNCHUB, ns, body.replace("NAME", name).replace("STRATEGY", strategy))

    sync("exact", "local-cfg", ns, "replace")
    sync("shared", "local-cfg", ns, "apply")
    for name in ("exact", "shared"):
        wait_for(lambda n=name: kube.data(MASTER, "ConfigMap", dest, n) == {"a": "1"})
        kube.patch(MASTER, "ConfigMap", dest, name, {"data": {"extra": "x"}})
    # replace: made exactly equal again; apply: fields others own survive.
    wait_for(lambda: kube.data(MASTER, "ConfigMap", dest, "exact") == {"a": "1"})
    assert kube.data(MASTER, "ConfigMap", dest, "shared") == {"a": "1", "extra": "x"}

    sync("across", "shared-cfg", src, "apply")
    wait_for(
        lambda: (
            (kube.condition(SYNCHUB, ns, "across", "Ready") or {}).get("reason")
            == "CrossNamespaceDenied"
        )
    )
    assert kube.get(MASTER, "ConfigMap", dest, "across") is None
    allow = {"metadata": {"annotations": {"synchub.io/copy-allowed-namespaces": ns}}}
    kube.patch(MASTER, "ConfigMap", src, "shared-cfg", allow)
    wait_for(lambda: kube.data(MASTER, "ConfigMap", dest, "across") == {"a": "1"})
    copy = kube.get(MASTER, "ConfigMap", dest, "across") or {}
    assert "synchub.io/copy-allowed-namespaces" not in copy["metadata"]["annotations"]


# --- 4. deletion --------------------------------------------------------------------------------


def _fan_out(kube: Kube, ns: str, name: str) -> str:
    """A ConfigMap synced to one namespace on both members; returns that namespace."""
    dest = kube.namespace()
    kube.create(MASTER, ns, configmap(name, {"k": "v"}))
    text = f"""
apiVersion: synchub.io/v1alpha1
kind: ObjectSync
metadata: {{name: {name}}}
spec:
  source: {{kind: ConfigMap, name: {name}}}
  destinations: [{{namespace: {dest}, clusters: {{names: [member-1, member-2]}}}}]
"""
    kube.apply_sync(SYNCHUB, ns, text)
    for member in MEMBERS:
        wait_for(lambda m=member: managed(kube.get(m, "ConfigMap", dest, name)))
    return dest


def test_source_deleted_removes_copies(kube: Kube) -> None:
    ns = kube.namespace()
    dest = _fan_out(kube, ns, "doomed")
    kube.delete(MASTER, "ConfigMap", ns, "doomed")
    for member in MEMBERS:
        wait_for(lambda m=member: kube.get(m, "ConfigMap", dest, "doomed") is None)
    wait_for(
        lambda: (
            (kube.condition(SYNCHUB, ns, "doomed", "Ready") or {}).get("reason") == "SourceNotFound"
        )
    )


@pytest.mark.parametrize("orphan", [False, True])
def test_sync_deleted_removes_or_orphans_copies(kube: Kube, orphan: bool) -> None:
    ns = kube.namespace()
    dest = _fan_out(kube, ns, "leaving")
    if orphan:
        kube.patch_sync(
            SYNCHUB, ns, "leaving", {"metadata": {"annotations": {"synchub.io/orphan": "true"}}}
        )
    kube.delete_sync(SYNCHUB, ns, "leaving")
    wait_for(lambda: kube.sync(SYNCHUB, ns, "leaving") is None)
    for member in MEMBERS:
        left = kube.get(member, "ConfigMap", dest, "leaving")
        if orphan:
            assert left is not None
            assert not managed(left)
            assert left["data"] == {"k": "v"}
        else:
            assert left is None


# --- 5. refusals --------------------------------------------------------------------------------


def test_unmanaged_object_namespace_source_and_disallowed_kind_are_refused(kube: Kube) -> None:
    ns, dest = kube.namespace(), kube.namespace()
    kube.create(MASTER, ns, configmap("shared", {"k": "source"}))
    kube.create(MASTER, dest, configmap("shared", {"k": "mine"}))
    text = f"""
apiVersion: synchub.io/v1alpha1
kind: ObjectSync
metadata: {{name: shared}}
spec:
  source: {{kind: ConfigMap, name: shared}}
  destinations: [{{namespace: {dest}}}, {{namespace: {ns}}}]
"""
    kube.apply_sync(SYNCHUB, ns, text)
    wait_for(
        lambda: (
            {d["namespace"]: d["status"] for d in kube.destinations(SYNCHUB, ns, "shared")}
            == {dest: "AlreadyExists", ns: "Skipped"}
        )
    )
    assert kube.data(MASTER, "ConfigMap", dest, "shared") == {"k": "mine"}
    assert not managed(kube.get(MASTER, "ConfigMap", dest, "shared"))
    condition = kube.condition(SYNCHUB, ns, "shared", "Ready")
    assert condition is not None
    assert condition["reason"] == "AlreadyExists"
    wait_for(lambda: "AlreadyExists" in kube.event_reasons(ns, "shared"))

    for name, kind, reason, words in (
        ("ns-source", "Namespace", "KindRefused", "cluster-scoped"),
        ("sa-source", "ServiceAccount", "ResourceNotAllowed", "objectSync.allowedResources"),
    ):
        body = f"""
apiVersion: synchub.io/v1alpha1
kind: ObjectSync
metadata: {{name: {name}}}
spec:
  source: {{kind: {kind}, name: default}}
  destinations: [{{namespace: "*"}}]
"""
        kube.apply_sync(SYNCHUB, ns, body)
        wait_for(lambda n=name: kube.condition(SYNCHUB, ns, n, "Ready") is not None)
        refused = kube.condition(SYNCHUB, ns, name, "Ready")
        assert refused is not None
        assert (refused["status"], refused["reason"]) == ("False", reason)
        assert words in refused["message"]


# --- 6. a member down ---------------------------------------------------------------------------


def test_member_down_does_not_hold_up_the_other(kube: Kube, clusters: Clusters) -> None:
    ns = kube.namespace()
    dest = _fan_out(kube, ns, "outage")
    clusters.sandbox.stop_apiserver("member-2")
    try:
        kube.patch(MASTER, "ConfigMap", ns, "outage", {"data": {"k": "v2"}})
        started = time.monotonic()
        wait_for(lambda: kube.data("member-1", "ConfigMap", dest, "outage") == {"k": "v2"})
        assert time.monotonic() - started < 15, "member-1 was held up by member-2's outage"
        wait_for(
            lambda: (
                {d["cluster"]: d["status"] for d in kube.destinations(SYNCHUB, ns, "outage")}
                == {"member-1": "Synced", "member-2": "ClusterNotReady"}
            ),
            timeout=60,
        )
    finally:
        clusters.sandbox.start_apiserver("member-2")
    wait_for(lambda: kube.data("member-2", "ConfigMap", dest, "outage") == {"k": "v2"}, timeout=90)
    wait_for(lambda: ready(kube, SYNCHUB, ns, "outage"), timeout=60)


# --- 7. steady state ----------------------------------------------------------------------------


def _writes(hub: HubProcess) -> float:
    return hub.metric("synchub_member_writes_total")


def test_zero_writes_in_steady_state(kube: Kube, hub: HubProcess) -> None:
    """Every sync left by the tests above (a standing AlreadyExists and Replika's 20 s resync
    included) writes nothing once settled."""
    ns = kube.namespace()
    _fan_out(kube, ns, "quiet")
    wait_for(lambda: ready(kube, SYNCHUB, ns, "quiet"))
    deadline = time.monotonic() + 60
    value, since = _writes(hub), time.monotonic()
    while time.monotonic() - since < 25:  # longer than Replika's resync period
        assert time.monotonic() < deadline, f"writes still changing after 60s ({value})"
        time.sleep(0.5)
        if (current := _writes(hub)) != value:
            value, since = current, time.monotonic()
    assert _writes(hub) == value
