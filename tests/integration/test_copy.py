"""The copy engine against real API servers, with ``synchub run`` as a subprocess.

Every test works in fresh namespaces. Federated objects carry no placement, so they are copy
targets only: propagation selects no cluster for them. The test that restarts the master's
API server comes last, because it disturbs the shared sandbox.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from hub.sandbox import context_name
from hub.testing import (
    Clusters,
    HubProcess,
    b64,
    install_crd,
    require_cert_manager_build,
    run_once,
    running_hub,
    settled,
    stays,
    wait_for,
    write_config,
)

SEED = "k8s-copier.fig.org/replace-"
RULES = "synchub.io/copy"
ALLOWED_NAMESPACES = "synchub.io/copy-allowed-namespaces"
CONDITION = "CopyReady"


# --------------------------------------------------------------------------- API generations


@dataclass(frozen=True)
class Generation:
    group: str
    version: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


KUBEFED = Generation("types.kubefed.io", "v1beta1")
FEDERATION = Generation("types.federation.k8s.io", "v1alpha1")
GENERATIONS = [pytest.param(KUBEFED, id="kubefed"), pytest.param(FEDERATION, id="federation")]


# --------------------------------------------------------------------------- helpers


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def seed(dest: str, value: str) -> dict[str, str]:
    """A k8s-copier annotation: ``replace-<dest>: <value>``."""
    return {SEED + dest: value}


class Master:
    """Arrange and inspect objects on the master, in one test namespace by default."""

    def __init__(self, clusters: Clusters, namespace: str) -> None:
        self.clusters = clusters
        self.namespace = namespace
        self.api = clusters.api["master"]
        self.core = clusters.core("master")
        self.custom = clusters.custom("master")
        self.apps = k8s.AppsV1Api(self.api)

    # --- namespaces

    def new_namespace(self) -> str:
        """Another fresh namespace, on the master only."""
        name = f"t-{uuid.uuid4().hex[:10]}"
        self.core.create_namespace(k8s.V1Namespace(metadata={"name": name}))
        return name

    # --- secrets

    def create_secret(
        self,
        name: str,
        data: dict[str, str],
        *,
        namespace: str | None = None,
        annotations: dict[str, str] | None = None,
        type_: str = "Opaque",
    ) -> None:
        body = {
            "metadata": {"name": name, "annotations": annotations or {}},
            "type": type_,
            "data": {k: b64(v) for k, v in data.items()},
        }
        self.core.create_namespaced_secret(namespace or self.namespace, body)

    def patch_secret(self, name: str, patch: dict[str, Any], namespace: str | None = None) -> None:
        self.core.patch_namespaced_secret(name, namespace or self.namespace, patch)

    def set_secret_data(self, name: str, data: dict[str, str]) -> None:
        """Replace the Secret's data (keys not listed are removed)."""
        current = self.secret(name)["data"]
        patch = dict.fromkeys(current) | {k: b64(v) for k, v in data.items()}
        self.patch_secret(name, {"data": patch})

    def secret(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        response = self.core.read_namespaced_secret(
            name, namespace or self.namespace, _preload_content=False
        )
        return dict(json.loads(response.data))

    # --- deployments

    def create_deployment(self, name: str, image: str) -> None:
        labels = {"app": name}
        body = {
            "metadata": {"name": name},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "web", "image": image}]},
                },
            },
        }
        self.apps.create_namespaced_deployment(self.namespace, body)

    def deployment(self, name: str) -> dict[str, Any]:
        response = self.apps.read_namespaced_deployment(
            name, self.namespace, _preload_content=False
        )
        return dict(json.loads(response.data))

    # --- custom objects (Federated objects, HelmReleases, widgets)

    def create_custom(
        self, group: str, version: str, plural: str, body: dict[str, Any], namespace: str = ""
    ) -> None:
        self.custom.create_namespaced_custom_object(
            group, version, namespace or self.namespace, plural, body
        )

    def get_custom(
        self, group: str, version: str, plural: str, name: str, namespace: str = ""
    ) -> dict[str, Any]:
        return dict(
            self.custom.get_namespaced_custom_object(
                group, version, namespace or self.namespace, plural, name
            )
        )

    def patch_custom(
        self, group: str, version: str, plural: str, name: str, patch: dict[str, Any]
    ) -> None:
        self.custom.patch_namespaced_custom_object(
            group, version, self.namespace, plural, name, patch
        )

    def create_federated(
        self,
        gen: Generation,
        kind: str,
        name: str,
        annotations: dict[str, str],
        template: dict[str, Any] | None = None,
        namespace: str = "",
    ) -> None:
        body = {
            "apiVersion": gen.api_version,
            "kind": f"Federated{kind}",
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"template": template or {}},
        }
        self.create_custom(gen.group, gen.version, federated_plural(kind), body, namespace)

    def federated(self, gen: Generation, kind: str, name: str) -> dict[str, Any]:
        return self.get_custom(gen.group, gen.version, federated_plural(kind), name)

    def patch_federated(self, gen: Generation, kind: str, name: str, patch: dict[str, Any]) -> None:
        self.patch_custom(gen.group, gen.version, federated_plural(kind), name, patch)

    def template(self, gen: Generation, kind: str, name: str, field: str) -> Any:
        """``spec.template.<field>`` of a Federated object (None when missing)."""
        obj = self.federated(gen, kind, name)
        return ((obj.get("spec") or {}).get("template") or {}).get(field)

    def copy_ready(self, gen: Generation, kind: str, name: str) -> tuple[str, str, str] | None:
        """(status, reason, message) of the CopyReady condition, or None."""
        status = self.federated(gen, kind, name).get("status") or {}
        for condition in status.get("conditions") or []:
            if condition.get("type") == CONDITION:
                return condition["status"], condition["reason"], condition.get("message", "")
        return None

    def warning_reasons(self, name: str) -> set[str]:
        """Reasons of the Warning Events recorded about object ``name`` in the namespace."""
        events = self.core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name}"
        )
        return {e.reason for e in events.items if e.type == "Warning"}


def federated_plural(kind: str) -> str:
    return {
        "Secret": "federatedsecrets",
        "ConfigMap": "federatedconfigmaps",
        "Deployment": "federateddeployments",
        "HelmRelease": "federatedhelmreleases",
    }[kind]


def converge(get: Callable[[], Any], expected: Any, hub: HubProcess, timeout: float = 30) -> None:
    """Wait until ``get()`` equals ``expected``; on timeout show the last value and hub log."""
    last: list[Any] = [None]

    def check() -> bool:
        last[0] = get()
        return bool(last[0] == expected)

    try:
        wait_for(check, timeout=timeout)
    except AssertionError:
        raise AssertionError(
            f"after {timeout}s: {last[0]!r} != {expected!r}\n--- hub log ---\n"
            f"{hub.output()[-4000:]}"
        ) from None


def status_reason(master: Master, gen: Generation, kind: str, name: str) -> tuple[str, str] | None:
    condition = master.copy_ready(gen, kind, name)
    return None if condition is None else (condition[0], condition[1])


HELM_GROUP, HELM_VERSION = "helm.toolkit.fluxcd.io", "v2"


@pytest.fixture(scope="session")
def helmrelease_crd(clusters: Clusters) -> str:
    """Flux's real HelmRelease CRD (generated by `make control-plane`) on the master."""
    from hub.sandbox import certmanager

    require_cert_manager_build()
    certmanager.install_crds_on(
        clusters.kubeconfig, context_name("master"), certmanager.helmrelease_crd_file()
    )
    return "helmreleases"


@pytest.fixture
def master(clusters: Clusters, namespace: str) -> Master:
    return Master(clusters, namespace)


def secret_pair(
    master: Master, gen: Generation, data: dict[str, str] | None = None
) -> tuple[str, str]:
    """A Secret and a FederatedSecret copying its data; returns (secret, target) names."""
    secret, target = unique("src"), unique("fed")
    master.create_secret(secret, data or {"token": "one"})
    master.create_federated(
        gen, "Secret", target, seed("spec.template.data", f"secrets:{secret}:data")
    )
    return secret, target


# --------------------------------------------------------------------------- 1 + 2: seeds


@pytest.mark.parametrize("gen", GENERATIONS)
def test_secret_data_reaches_template_and_follows_updates(
    hub: HubProcess, master: Master, gen: Generation
) -> None:
    secret, target = secret_pair(master, gen, {"tls.crt": "cert-1", "tls.key": "key-1"})
    converge(
        lambda: master.template(gen, "Secret", target, "data"), master.secret(secret)["data"], hub
    )
    converge(lambda: status_reason(master, gen, "Secret", target), ("True", "Copied"), hub)

    master.set_secret_data(secret, {"tls.crt": "cert-2", "tls.key": "key-2"})
    expected = {"tls.crt": b64("cert-2"), "tls.key": b64("key-2")}
    converge(lambda: master.template(gen, "Secret", target, "data"), expected, hub)


def test_copy_ready_carries_the_current_generation(hub: HubProcess, master: Master) -> None:
    secret, target = secret_pair(master, KUBEFED, {"k": "v1"})
    converge(lambda: status_reason(master, KUBEFED, "Secret", target), ("True", "Copied"), hub)
    master.set_secret_data(secret, {"k": "v2"})
    converge(lambda: master.template(KUBEFED, "Secret", target, "data"), {"k": b64("v2")}, hub)

    def current() -> bool:
        obj = master.federated(KUBEFED, "Secret", target)
        ready = next(c for c in obj["status"]["conditions"] if c["type"] == CONDITION)
        return bool(ready.get("observedGeneration") == obj["metadata"]["generation"])

    converge(current, True, hub)


@pytest.mark.parametrize("gen", GENERATIONS)
def test_deployment_spec_reaches_template_and_follows_updates(
    hub: HubProcess, master: Master, gen: Generation
) -> None:
    source, target = unique("web"), unique("fed")
    master.create_deployment(source, "nginx:1.25")
    master.create_federated(
        gen, "Deployment", target, seed("spec.template.spec", f"deployments:{source}:spec")
    )
    get: Callable[[], Any] = lambda: master.template(gen, "Deployment", target, "spec")  # noqa: E731
    converge(get, master.deployment(source)["spec"], hub)

    master.apps.patch_namespaced_deployment(source, master.namespace, {"spec": {"replicas": 5}})
    wait_for(lambda: master.deployment(source)["spec"]["replicas"] == 5)
    converge(get, master.deployment(source)["spec"], hub)
    assert get()["replicas"] == 5


@pytest.mark.parametrize("gen", GENERATIONS)
def test_helmrelease_spec_reaches_template_and_follows_updates(
    hub: HubProcess, master: Master, gen: Generation, helmrelease_crd: str
) -> None:
    source, target = unique("podinfo"), unique("fed")
    spec = {
        "interval": "5m",
        "chart": {
            "spec": {
                "chart": "podinfo",
                "version": "6.5.0",
                "sourceRef": {"kind": "HelmRepository", "name": "podinfo"},
            }
        },
        "values": {"replicaCount": 2, "ingress": {"enabled": False}},
    }
    body = {
        "apiVersion": f"{HELM_GROUP}/{HELM_VERSION}",
        "kind": "HelmRelease",
        "metadata": {"name": source},
        "spec": spec,
    }
    master.create_custom(HELM_GROUP, HELM_VERSION, helmrelease_crd, body)
    master.create_federated(
        gen, "HelmRelease", target, seed("spec.template.spec", f"helmreleases:{source}:spec")
    )
    get: Callable[[], Any] = lambda: master.template(gen, "HelmRelease", target, "spec")  # noqa: E731
    # The real CRD defaults fields (reconcileStrategy...): the copy equals the stored spec.

    def stored() -> Any:
        return master.get_custom(HELM_GROUP, HELM_VERSION, helmrelease_crd, source)["spec"]

    assert stored()["values"] == spec["values"]
    converge(get, stored(), hub)

    master.patch_custom(
        HELM_GROUP, HELM_VERSION, helmrelease_crd, source, {"spec": {"values": {"replicaCount": 4}}}
    )
    assert stored()["values"] == {"replicaCount": 4, "ingress": {"enabled": False}}
    converge(get, stored(), hub)


# --------------------------------------------------------------------------- 3: deleted source


@pytest.mark.parametrize("gen", GENERATIONS)
def test_deleted_source_leaves_template_and_reports(
    hub: HubProcess, master: Master, gen: Generation
) -> None:
    secret, target = secret_pair(master, gen)
    copied = master.secret(secret)["data"]
    converge(lambda: master.template(gen, "Secret", target, "data"), copied, hub)

    master.core.delete_namespaced_secret(secret, master.namespace)
    converge(lambda: status_reason(master, gen, "Secret", target), ("False", "SourceNotFound"), hub)
    converge(lambda: "SourceNotFound" in master.warning_reasons(target), True, hub)
    assert master.template(gen, "Secret", target, "data") == copied


# --------------------------------------------------------------------------- 4: namespaces


@pytest.mark.parametrize("allowed", ["*", "TARGET"])
def test_cross_namespace_source_needs_opt_in_by_default(
    hub: HubProcess, master: Master, allowed: str
) -> None:
    gen = KUBEFED
    other = master.new_namespace()
    secret, target = unique("src"), unique("fed")
    master.create_secret(secret, {"ca.crt": "ca"}, namespace=other)
    master.create_federated(
        gen, "Secret", target, seed("spec.template.data", f"secrets:{other}/{secret}:data")
    )
    converge(
        lambda: status_reason(master, gen, "Secret", target), ("False", "CrossNamespaceDenied"), hub
    )
    converge(lambda: "CrossNamespaceDenied" in master.warning_reasons(target), True, hub)
    assert master.template(gen, "Secret", target, "data") is None

    value = master.namespace if allowed == "TARGET" else allowed
    master.patch_secret(secret, {"metadata": {"annotations": {ALLOWED_NAMESPACES: value}}}, other)
    converge(lambda: master.template(gen, "Secret", target, "data"), {"ca.crt": b64("ca")}, hub)
    converge(lambda: status_reason(master, gen, "Secret", target), ("True", "Copied"), hub)


def test_cross_namespace_opt_in_for_another_namespace_is_denied(
    hub: HubProcess, master: Master
) -> None:
    gen = KUBEFED
    other = master.new_namespace()
    secret, target = unique("src"), unique("fed")
    annotations = {ALLOWED_NAMESPACES: "some-other-ns, and-another"}
    master.create_secret(secret, {"a": "1"}, namespace=other, annotations=annotations)
    master.create_federated(
        gen, "Secret", target, seed("spec.template.data", f"secrets:{other}/{secret}:data")
    )
    converge(
        lambda: status_reason(master, gen, "Secret", target), ("False", "CrossNamespaceDenied"), hub
    )
    assert master.template(gen, "Secret", target, "data") is None


@pytest.mark.parametrize("policy", ["deny", "allow"])
def test_cross_namespace_policies(
    clusters: Clusters, federated_crds: None, master: Master, tmp_path: Path, policy: str
) -> None:
    gen = FEDERATION
    config = write_config(clusters.clusters_yaml, tmp_path, copy={"crossNamespace": policy})
    other = master.new_namespace()
    opted_in, plain, local = unique("opted-in"), unique("plain"), unique("local")
    master.create_secret(
        opted_in, {"k": "v1"}, namespace=other, annotations={ALLOWED_NAMESPACES: "*"}
    )
    master.create_secret(plain, {"k": "v2"}, namespace=other)
    master.create_secret(local, {"k": "v3"})
    for name, source in ((opted_in, f"{other}/{opted_in}"), (plain, f"{other}/{plain}")):
        master.create_federated(
            gen, "Secret", name, seed("spec.template.data", f"secrets:{source}:data")
        )
    master.create_federated(
        gen, "Secret", local, seed("spec.template.data", f"secrets:{local}:data")
    )

    with running_hub(config, tmp_path / "synchub.log") as hub:
        # Same-namespace sources are always allowed.
        converge(lambda: master.template(gen, "Secret", local, "data"), {"k": b64("v3")}, hub)
        if policy == "allow":
            for name, value in ((opted_in, "v1"), (plain, "v2")):
                converge(
                    partial(master.template, gen, "Secret", name, "data"), {"k": b64(value)}, hub
                )
        else:
            for name in (opted_in, plain):
                converge(
                    partial(status_reason, master, gen, "Secret", name),
                    ("False", "CrossNamespaceDenied"),
                    hub,
                )
                assert master.template(gen, "Secret", name, "data") is None


# --------------------------------------------------------------------------- 5: rule list


@pytest.mark.parametrize("gen", GENERATIONS)
def test_rule_list_copies_one_renamed_key(hub: HubProcess, master: Master, gen: Generation) -> None:
    secret, target = unique("tls"), unique("fed")
    master.create_secret(
        secret,
        {"tls.crt": "CERT", "tls.key": "PRIVATE", "ca.crt": "CA-1"},
        type_="kubernetes.io/tls",
    )
    rules = [
        {
            "to": "spec.template.data",
            "from": {"resource": "secrets", "name": secret, "path": "data"},
            "keys": {"ca.crt": "ca-bundle.crt"},
        }
    ]
    master.create_federated(gen, "Secret", target, {RULES: json.dumps(rules)})
    get: Callable[[], Any] = lambda: master.template(gen, "Secret", target, "data")  # noqa: E731
    converge(get, {"ca-bundle.crt": b64("CA-1")}, hub)

    master.patch_secret(secret, {"data": {"ca.crt": b64("CA-2")}})
    converge(get, {"ca-bundle.crt": b64("CA-2")}, hub)
    converge(lambda: status_reason(master, gen, "Secret", target), ("True", "Copied"), hub)


def test_rule_list_in_yaml_with_quoted_source_path(hub: HubProcess, master: Master) -> None:
    gen = KUBEFED
    secret, target = unique("tls"), unique("fed")
    master.create_secret(secret, {"ca.crt": "CA", "tls.key": "PRIVATE"})
    rules = (
        f"- to: spec.template.data.ca-bundle\n"
        f"  from: {{resource: Secret, name: {secret}, path: \"data['ca.crt']\"}}\n"
        f"- to: spec.template.type\n"
        f"  value: Opaque\n"
    )
    master.create_federated(gen, "Secret", target, {RULES: rules})
    converge(lambda: master.template(gen, "Secret", target, "data"), {"ca-bundle": b64("CA")}, hub)
    assert master.template(gen, "Secret", target, "type") == "Opaque"


# --------------------------------------------------------------------------- 6: removal


@pytest.mark.parametrize("gen", GENERATIONS)
def test_removed_annotation_stops_copying(hub: HubProcess, master: Master, gen: Generation) -> None:
    secret, target = secret_pair(master, gen, {"token": "one"})
    get: Callable[[], Any] = lambda: master.template(gen, "Secret", target, "data")  # noqa: E731
    converge(get, {"token": b64("one")}, hub)

    master.patch_federated(
        gen, "Secret", target, {"metadata": {"annotations": {SEED + "spec.template.data": None}}}
    )
    # A witness of the same kind, created after the removal: once the hub has copied into it,
    # its watch (one ordered stream per kind) has delivered the removal too.
    witness = unique("fed")
    master.create_federated(
        gen, "Secret", witness, seed("spec.template.data", f"secrets:{secret}:data")
    )
    seen: Callable[[], Any] = lambda: master.template(gen, "Secret", witness, "data")  # noqa: E731
    converge(seen, {"token": b64("one")}, hub)

    master.set_secret_data(secret, {"token": "two"})
    converge(seen, {"token": b64("two")}, hub)  # the hub has handled the source change
    assert get() == {"token": b64("one")}
    stays(get, {"token": b64("one")}, seconds=3)


# --------------------------------------------------------------------------- 7: new CRD


@pytest.mark.parametrize("gen", GENERATIONS)
def test_source_kind_installed_after_hub_start(
    hub: HubProcess, clusters: Clusters, master: Master, gen: Generation
) -> None:
    group = f"w{uuid.uuid4().hex[:8]}.example.com"
    plural = install_crd([clusters.api["master"]], group, "v1", "Widget")
    source, target = unique("widget"), unique("fed")
    body = {
        "apiVersion": f"{group}/v1",
        "kind": "Widget",
        "metadata": {"name": source},
        "spec": {"color": "blue", "size": "3"},
    }
    master.create_custom(group, "v1", plural, body)
    master.create_federated(
        gen, "ConfigMap", target, seed("spec.template.data", f"widgets.{group}:{source}:spec")
    )
    get: Callable[[], Any] = lambda: master.template(gen, "ConfigMap", target, "data")  # noqa: E731
    converge(get, {"color": "blue", "size": "3"}, hub)

    master.patch_custom(group, "v1", plural, source, {"spec": {"color": "red"}})
    converge(get, {"color": "red", "size": "3"}, hub)


def test_target_naming_a_kind_not_yet_installed_converges(
    hub: HubProcess, clusters: Clusters, master: Master
) -> None:
    """The target comes first, the CRD of its source later: picked up after rediscovery."""
    gen = KUBEFED
    group = f"w{uuid.uuid4().hex[:8]}.example.com"
    source, target = unique("widget"), unique("fed")
    master.create_federated(
        gen, "ConfigMap", target, seed("spec.template.data", f"widgets.{group}:{source}:spec")
    )
    converge(
        lambda: status_reason(master, gen, "ConfigMap", target), ("False", "InvalidAnnotation"), hub
    )

    plural = install_crd([clusters.api["master"]], group, "v1", "Widget")
    body = {
        "apiVersion": f"{group}/v1",
        "kind": "Widget",
        "metadata": {"name": source},
        "spec": {"color": "blue"},
    }
    master.create_custom(group, "v1", plural, body)
    get: Callable[[], Any] = lambda: master.template(gen, "ConfigMap", target, "data")  # noqa: E731
    converge(get, {"color": "blue"}, hub, timeout=90)  # discovery is refreshed every 30 s
    converge(lambda: status_reason(master, gen, "ConfigMap", target), ("True", "Copied"), hub)


# --------------------------------------------------------------------------- 8: restart


def test_source_changed_while_hub_down_converges_after_restart(
    hub: HubProcess, master: Master, tmp_path: Path
) -> None:
    gen = KUBEFED
    secret, target = secret_pair(master, gen, {"token": "one"})
    get: Callable[[], Any] = lambda: master.template(gen, "Secret", target, "data")  # noqa: E731
    converge(get, {"token": b64("one")}, hub)

    assert hub.stop() == 0, hub.output()[-3000:]
    master.set_secret_data(secret, {"token": "two"})
    with running_hub(hub.config, tmp_path / "synchub-2.log") as again:
        converge(get, {"token": b64("two")}, again)


# --------------------------------------------------------------------------- 9: conflicts


@pytest.mark.parametrize("gen", GENERATIONS)
def test_concurrent_writer_on_target_converges(
    hub: HubProcess, master: Master, gen: Generation
) -> None:
    secret, target = secret_pair(master, gen, {"token": "v0"})
    get: Callable[[], Any] = lambda: master.template(gen, "Secret", target, "data")  # noqa: E731
    converge(get, {"token": b64("v0")}, hub)

    stop = threading.Event()
    errors: list[BaseException] = []

    def scribble() -> None:
        """Change an unrelated annotation as fast as possible: the hub's writes hit 409s."""
        count = 0
        try:
            while not stop.is_set():
                count += 1
                patch = {"metadata": {"annotations": {"example.com/scribble": str(count)}}}
                master.patch_federated(gen, "Secret", target, patch)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    writer = threading.Thread(target=scribble, daemon=True)
    writer.start()
    try:
        deadline = time.monotonic() + 5
        version = 0
        while time.monotonic() < deadline:
            version += 1
            master.set_secret_data(secret, {"token": f"v{version}"})
            time.sleep(0.25)
    finally:
        stop.set()
        writer.join(timeout=10)
    assert not errors, errors
    converge(get, {"token": b64(f"v{version}")}, hub, timeout=60)
    assert hub.running()


# --------------------------------------------------------------------------- malformed input


def test_malformed_annotations_do_not_stop_good_rules(hub: HubProcess, master: Master) -> None:
    gen = KUBEFED
    secret, target = unique("src"), unique("fed")
    master.create_secret(secret, {"token": "good"})
    annotations = {
        SEED + "spec.template.data": f"secrets:{secret}:data",  # the good one
        SEED + "spec.template.type": "secrets:too-few-parts",
        SEED + "spec.template.immutable": "json:{not json",
        SEED + "spec.template.stringData": "nosuchresources:whatever:spec",
        SEED + "spec..metadata": f"secrets:{secret}:data",  # empty path segment
        SEED + "spec.template.metadata": f"secrets:{secret}:data['unclosed",
        RULES: "{this is: [not a list",
    }
    master.create_federated(gen, "Secret", target, annotations)
    converge(lambda: master.template(gen, "Secret", target, "data"), {"token": b64("good")}, hub)
    converge(
        lambda: status_reason(master, gen, "Secret", target), ("False", "InvalidAnnotation"), hub
    )
    condition = master.copy_ready(gen, "Secret", target)
    assert condition is not None
    for key in annotations:
        if key != SEED + "spec.template.data":
            assert key in condition[2], f"{key} not reported in {condition[2]!r}"
    converge(lambda: "InvalidAnnotation" in master.warning_reasons(target), True, hub)

    # An annotation key cannot carry brackets: the API server refuses it before the hub sees it.
    bracketed = unique("fed")
    with pytest.raises(ApiException) as refused:
        master.create_federated(
            gen, "Secret", bracketed, {SEED + "spec.template.data['x']": f"secrets:{secret}:data"}
        )
    assert refused.value.status == 422

    # The hub is still alive and still copying.
    master.set_secret_data(secret, {"token": "better"})
    converge(lambda: master.template(gen, "Secret", target, "data"), {"token": b64("better")}, hub)
    assert hub.running()
    assert "Traceback" not in hub.output()


# --------------------------------------------------------------------------- 12: --once


def test_once_exits_zero_when_in_sync(
    clusters: Clusters, federated_crds: None, master: Master, tmp_path: Path
) -> None:
    config = write_config(clusters.clusters_yaml, tmp_path, namespaces=[master.namespace])
    gen = KUBEFED
    _, target = secret_pair(master, gen, {"token": "one"})

    first = run_once(config)  # copies
    assert first.returncode == 0, first.stdout + first.stderr
    assert master.template(gen, "Secret", target, "data") == {"token": b64("one")}
    again = run_once(config)  # nothing left to do
    assert again.returncode == 0, again.stdout + again.stderr


def test_once_exits_one_when_a_source_is_missing(
    clusters: Clusters, federated_crds: None, master: Master, tmp_path: Path
) -> None:
    config = write_config(clusters.clusters_yaml, tmp_path, namespaces=[master.namespace])
    target = unique("fed")
    master.create_federated(
        KUBEFED, "Secret", target, seed("spec.template.data", "secrets:not-there:data")
    )
    result = run_once(config)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "SourceNotFound" in result.stdout + result.stderr


def test_once_dry_run_changes_nothing(
    clusters: Clusters, federated_crds: None, master: Master, tmp_path: Path
) -> None:
    config = write_config(clusters.clusters_yaml, tmp_path, namespaces=[master.namespace])
    gen = FEDERATION
    secret, target = unique("src"), unique("fed")
    master.create_secret(secret, {"token": "new"})
    stale = {"token": b64("old")}
    master.create_federated(
        gen, "Secret", target, seed("spec.template.data", f"secrets:{secret}:data"), {"data": stale}
    )
    before = master.federated(gen, "Secret", target)

    result = run_once(config, "--dry-run")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output  # a write would be needed: not in sync
    assert "writes would be needed" in output
    assert "dry-run: would patch FederatedSecret" in output
    assert "copy: updated" not in output
    assert b64("new") not in output  # values are never logged
    after = master.federated(gen, "Secret", target)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["spec"]["template"]["data"] == stale


# --------------------------------------------------------------------------- 11: quiet period


def test_no_writes_in_steady_state(hub: HubProcess, master: Master) -> None:
    gen = KUBEFED
    _, target = secret_pair(master, gen, {"token": "steady"})
    converge(lambda: master.template(gen, "Secret", target, "data"), {"token": b64("steady")}, hub)
    converge(lambda: status_reason(master, gen, "Secret", target), ("True", "Copied"), hub)

    # Let the startup work (other tests' leftovers in the sandbox) finish: three quiet seconds.
    before = settled(lambda: hub.metric("synchub_member_writes_total"), quiet=3, interval=0.5)
    time.sleep(30)  # the quiet period itself
    after = hub.metric("synchub_member_writes_total")
    assert after == before, f"{after - before} writes in steady state:\n{hub.output()[-3000:]}"


# --------------------------------------------------------------------------- 10: master restart
# Keep this test last: it restarts the shared master API server.


def test_master_apiserver_restart(hub: HubProcess, clusters: Clusters, master: Master) -> None:
    gen = KUBEFED
    secret, target = secret_pair(master, gen, {"token": "before"})
    get: Callable[[], Any] = lambda: master.template(gen, "Secret", target, "data")  # noqa: E731
    converge(get, {"token": b64("before")}, hub)

    seen = len(hub.output())
    try:
        clusters.sandbox.stop_apiserver("master")
        # The hub notices the outage (its watches fail to reconnect) before the server returns.
        wait_for(lambda: "unreachable" in hub.output()[seen:], timeout=30)
    finally:
        clusters.sandbox.start_apiserver("master")

    def update() -> bool:
        try:
            master.set_secret_data(secret, {"token": "after"})
        except Exception:  # the test's own client may hold a dead connection at first
            return False
        return True

    wait_for(update, timeout=30, interval=0.5)
    converge(get, {"token": b64("after")}, hub, timeout=60)
    assert hub.running()
