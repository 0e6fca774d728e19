"""Render: Federated object + cluster -> member manifest with managed label, origin and hash."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.core.federation import (
    FEDERATION_API_VERSION,
    HASH_ANNOTATION,
    KUBEFED_API_VERSION,
    MANAGED_LABEL,
    ORIGIN_ANNOTATION,
    ORPHAN_ANNOTATIONS,
    ApiGeneration,
    ClusterStatus,
    annotation_is_true,
    api_generation,
    api_group,
    federated_kind,
    target_kind,
)
from hub.core.objects import Obj
from hub.core.render import (
    HASH_LENGTH,
    SERVER_OWNED_METADATA,
    Rendered,
    RenderError,
    canonical_json,
    compute_hash,
    render,
    target_api_version,
)

GENERATIONS = [KUBEFED_API_VERSION, FEDERATION_API_VERSION]
SERVER_OWNED = {
    "uid": "1234",
    "resourceVersion": "42",
    "generation": 3,
    "creationTimestamp": "2019-05-02T00:00:00Z",
    "deletionTimestamp": "2019-05-03T00:00:00Z",
    "deletionGracePeriodSeconds": 30,
    "managedFields": [{"manager": "kubectl"}],
    "ownerReferences": [{"kind": "Certificate", "name": "cloud-certificate"}],
    "selfLink": "/api/v1/namespaces/cloud/secrets/cloud-certificate",
    "finalizers": ["example.com/keep"],
    "generateName": "cloud-",
}


def federated_secret(api_version: str = FEDERATION_API_VERSION, **spec: Any) -> Obj:
    """The seed's FederatedSecret, with its template filled in as k8s-copier would."""
    return {
        "apiVersion": api_version,
        "kind": "FederatedSecret",
        "metadata": {"name": "cloud-certificate", "namespace": "cloud", "uid": "fed-uid"},
        "spec": {
            "template": {
                "type": "kubernetes.io/tls",
                "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5"},
            },
            "placement": {
                "clusterSelector": {
                    "matchExpressions": [{"key": "cluster-master", "operator": "DoesNotExist"}]
                }
            },
            **spec,
        },
    }


def ok(result: Rendered | RenderError) -> Rendered:
    assert isinstance(result, Rendered), result
    return result


def err(result: Rendered | RenderError) -> str:
    assert isinstance(result, RenderError), result
    return result.message


def do_render(obj: Obj, cluster: str = "m1", api_version: str = "v1") -> Rendered | RenderError:
    return render(obj, cluster, master_name="mymaster", target_api_version=api_version)


# --- basic shape


@pytest.mark.parametrize("api_version", GENERATIONS)
def test_render_seed_secret(api_version: str) -> None:
    rendered = ok(do_render(federated_secret(api_version)))
    group = api_version.split("/")[0]
    assert rendered.obj == {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5"},
        "metadata": {
            "name": "cloud-certificate",
            "namespace": "cloud",
            "labels": {MANAGED_LABEL: "true"},
            "annotations": {
                ORIGIN_ANNOTATION: f"mymaster/{group}/FederatedSecret/cloud/cloud-certificate",
                HASH_ANNOTATION: rendered.desired_hash,
            },
        },
    }


def test_origin_annotation_example_from_the_design() -> None:
    rendered = ok(do_render(federated_secret(KUBEFED_API_VERSION)))
    assert rendered.obj["metadata"]["annotations"][ORIGIN_ANNOTATION] == (
        "mymaster/types.kubefed.io/FederatedSecret/cloud/cloud-certificate"
    )


def test_hash_is_sha256_prefix_of_canonical_json_without_the_hash_annotation() -> None:
    rendered = ok(do_render(federated_secret()))
    assert len(rendered.desired_hash) == HASH_LENGTH
    assert all(c in "0123456789abcdef" for c in rendered.desired_hash)
    without = copy.deepcopy(rendered.obj)
    del without["metadata"]["annotations"][HASH_ANNOTATION]
    assert compute_hash(without) == rendered.desired_hash


def test_canonical_json_is_sorted_and_compact() -> None:
    assert canonical_json({"b": 1, "a": [1, {"d": None, "c": "é"}]}) == (
        '{"a":[1,{"c":"é","d":null}],"b":1}'
    )


def test_template_labels_and_annotations_are_kept() -> None:
    obj = federated_secret()
    obj["spec"]["template"]["metadata"] = {
        "labels": {"app": "cloud"},
        "annotations": {"note": "keep me"},
    }
    metadata = ok(do_render(obj)).obj["metadata"]
    assert metadata["labels"] == {"app": "cloud", MANAGED_LABEL: "true"}
    assert metadata["annotations"]["note"] == "keep me"


def test_managed_label_and_hash_cannot_be_spoofed_by_the_template() -> None:
    obj = federated_secret()
    obj["spec"]["template"]["metadata"] = {
        "labels": {MANAGED_LABEL: "false"},
        "annotations": {HASH_ANNOTATION: "stale", ORIGIN_ANNOTATION: "elsewhere"},
    }
    rendered = ok(do_render(obj))
    plain = ok(do_render(federated_secret()))
    assert rendered.obj["metadata"]["labels"][MANAGED_LABEL] == "true"
    assert rendered.obj["metadata"]["annotations"][HASH_ANNOTATION] == rendered.desired_hash
    assert rendered.obj == plain.obj


def test_server_owned_metadata_and_status_are_dropped() -> None:
    obj = federated_secret()
    obj["spec"]["template"]["metadata"] = {**SERVER_OWNED, "labels": {"app": "x"}}
    obj["spec"]["template"]["status"] = {"phase": "Ready"}
    rendered = ok(do_render(obj)).obj
    assert "status" not in rendered
    assert not set(SERVER_OWNED) & set(rendered["metadata"])
    assert set(SERVER_OWNED) == set(SERVER_OWNED_METADATA)


def test_name_and_namespace_come_from_the_federated_object() -> None:
    obj = federated_secret()
    obj["spec"]["template"]["metadata"] = {"name": "other", "namespace": "elsewhere"}
    metadata = ok(do_render(obj)).obj["metadata"]
    assert (metadata["name"], metadata["namespace"]) == ("cloud-certificate", "cloud")


@pytest.mark.parametrize("namespace", [None, ""])
def test_cluster_scoped_object_has_no_namespace(namespace: str | None) -> None:
    obj: Obj = {
        "apiVersion": KUBEFED_API_VERSION,
        "kind": "FederatedClusterRole",
        "metadata": {"name": "reader"},
        "spec": {"template": {"metadata": {"namespace": "stray"}, "rules": []}},
    }
    if namespace is not None:
        obj["metadata"]["namespace"] = namespace
    rendered = ok(do_render(obj, api_version="rbac.authorization.k8s.io/v1")).obj
    assert "namespace" not in rendered["metadata"]
    assert rendered["kind"] == "ClusterRole"
    assert rendered["apiVersion"] == "rbac.authorization.k8s.io/v1"
    assert rendered["metadata"]["annotations"][ORIGIN_ANNOTATION] == (
        "mymaster/types.kubefed.io/FederatedClusterRole//reader"
    )


def test_api_version_and_kind_are_set() -> None:
    obj = federated_secret()
    obj["spec"]["template"]["apiVersion"] = "v1"
    obj["spec"]["template"]["kind"] = "Secret"
    rendered = ok(do_render(obj, api_version="v1")).obj
    assert (rendered["apiVersion"], rendered["kind"]) == ("v1", "Secret")


def test_target_api_version_parameter_wins() -> None:
    obj = federated_secret()
    obj["spec"]["template"]["apiVersion"] = "v1"
    assert ok(do_render(obj, api_version="v2")).obj["apiVersion"] == "v2"


def test_render_does_not_mutate_input() -> None:
    obj = federated_secret(
        KUBEFED_API_VERSION,
        overrides=[
            {"clusterName": "m1", "clusterOverrides": [{"path": "/type", "value": "Opaque"}]}
        ],
    )
    obj["spec"]["template"]["metadata"] = {**SERVER_OWNED, "labels": {"a": "b"}}
    before = copy.deepcopy(obj)
    rendered = ok(do_render(obj))
    assert obj == before
    rendered.obj["data"]["tls.crt"] = "changed"
    assert obj == before


# --- overrides


@pytest.mark.parametrize(
    ("api_version", "path"),
    [(KUBEFED_API_VERSION, "/type"), (FEDERATION_API_VERSION, "type")],
)
def test_overrides_apply_per_cluster(api_version: str, path: str) -> None:
    obj = federated_secret(
        api_version,
        overrides=[{"clusterName": "m2", "clusterOverrides": [{"path": path, "value": "Opaque"}]}],
    )
    m1 = ok(do_render(obj, "m1"))
    m2 = ok(do_render(obj, "m2"))
    assert m1.obj["type"] == "kubernetes.io/tls"
    assert m2.obj["type"] == "Opaque"
    assert m1.desired_hash != m2.desired_hash


def test_overrides_may_change_labels_but_not_the_managed_label() -> None:
    obj = federated_secret(
        KUBEFED_API_VERSION,
        overrides=[
            {
                "clusterName": "m1",
                "clusterOverrides": [
                    {"op": "add", "path": "/metadata/labels", "value": {"zone": "a"}},
                    {"op": "add", "path": "/metadata/labels/synchub.io~1managed", "value": "no"},
                ],
            }
        ],
    )
    labels = ok(do_render(obj)).obj["metadata"]["labels"]
    assert labels == {"zone": "a", MANAGED_LABEL: "true"}


def test_overrides_cannot_inject_server_owned_fields() -> None:
    obj = federated_secret(
        KUBEFED_API_VERSION,
        overrides=[
            {
                "clusterName": "m1",
                "clusterOverrides": [
                    {"op": "add", "path": "/metadata/uid", "value": "x"},
                    {"op": "add", "path": "/status", "value": {}},
                ],
            }
        ],
    )
    rendered = ok(do_render(obj)).obj
    assert "uid" not in rendered["metadata"]
    assert "status" not in rendered


def test_override_error_becomes_render_error_naming_the_cluster() -> None:
    obj = federated_secret(
        KUBEFED_API_VERSION,
        overrides=[
            {"clusterName": "m1", "clusterOverrides": [{"path": "/metadata/name", "value": "x"}]}
        ],
    )
    message = err(do_render(obj))
    assert message.startswith("cluster 'm1': spec.overrides[0].clusterOverrides[0]")
    assert "/metadata/name" in message
    assert ok(do_render(obj, "m2"))


def test_override_making_labels_a_non_map_is_an_error() -> None:
    obj = federated_secret(
        KUBEFED_API_VERSION,
        overrides=[
            {
                "clusterName": "m1",
                "clusterOverrides": [{"op": "add", "path": "/metadata/labels", "value": "x"}],
            }
        ],
    )
    assert "metadata.labels must be a map" in err(do_render(obj))


# --- errors


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda o: o["spec"].pop("template"), "spec.template is missing"),
        (lambda o: o["spec"].__setitem__("template", None), "spec.template is missing"),
        (lambda o: o.pop("spec"), "spec.template is missing"),
        (lambda o: o["spec"].__setitem__("template", []), "spec.template must be a map"),
        (lambda o: o["spec"]["template"].__setitem__("kind", "ConfigMap"), "does not match"),
        (lambda o: o["spec"]["template"].__setitem__("metadata", []), "metadata must be a map"),
        (lambda o: o.__setitem__("kind", "Secret"), "Federated<Kind>"),
        (lambda o: o.__setitem__("kind", "Federated"), "Federated<Kind>"),
        (lambda o: o.__setitem__("kind", None), "kind must be a string"),
        (lambda o: o.__setitem__("apiVersion", "v1"), "not a Federated type group"),
        (lambda o: o.pop("apiVersion"), "not a Federated type group"),
        (lambda o: o.pop("metadata"), "metadata must be a map"),
        (lambda o: o["metadata"].pop("name"), "metadata.name"),
        (lambda o: o["metadata"].__setitem__("namespace", 3), "metadata.namespace"),
        (lambda o: o["spec"]["template"].__setitem__("data", {"x": float("nan")}), "JSON"),
        (lambda o: o["spec"]["template"].__setitem__("data", {"x": object()}), "JSON"),
    ],
)
def test_render_errors(mutate: Any, fragment: str) -> None:
    obj = federated_secret()
    mutate(obj)
    message = err(do_render(obj))
    assert message.startswith("cluster 'm1': ")
    assert fragment in message


def test_empty_target_api_version_is_an_error() -> None:
    assert "apiVersion" in err(do_render(federated_secret(), api_version=""))


def test_error_messages_do_not_leak_template_values() -> None:
    obj = federated_secret()
    obj["spec"]["template"]["kind"] = "ConfigMap"
    assert "Y2VydA==" not in err(do_render(obj))


# --- target_api_version


def test_target_api_version_helper() -> None:
    obj = federated_secret()
    assert target_api_version(obj) is None
    obj["spec"]["template"]["apiVersion"] = "v1"
    assert target_api_version(obj) == "v1"
    obj["spec"]["template"]["apiVersion"] = ""
    assert target_api_version(obj) is None
    assert target_api_version({}) is None
    assert target_api_version({"spec": {"template": None}}) is None


# --- properties

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=6))
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=10,
)
templates = st.fixed_dictionaries(
    {"data": st.dictionaries(st.text("abc.", min_size=1, max_size=4), json_values, max_size=4)},
    optional={
        "metadata": st.fixed_dictionaries(
            {},
            optional={
                "labels": st.dictionaries(
                    st.text("ab", min_size=1, max_size=3), st.text(max_size=3)
                ),
                "annotations": st.dictionaries(
                    st.text("cd", min_size=1, max_size=3), st.text(max_size=3)
                ),
                **{k: st.just(v) for k, v in SERVER_OWNED.items()},
            },
        ),
        "status": json_values,
    },
)


def reorder(value: Any) -> Any:
    """The same JSON value with every map's keys in reverse insertion order."""
    if isinstance(value, dict):
        return {k: reorder(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reorder(v) for v in value]
    return value


def with_template(template: Obj, api_version: str, overrides: Any = None) -> Obj:
    obj = federated_secret(api_version)
    obj["spec"]["template"] = template
    if overrides is not None:
        obj["spec"]["overrides"] = overrides
    return obj


@given(templates, st.sampled_from(GENERATIONS))
def test_prop_hash_is_stable_across_key_order(template: Obj, api_version: str) -> None:
    obj = with_template(template, api_version)
    first = ok(do_render(obj))
    second = ok(do_render(reorder(obj)))
    assert first.desired_hash == second.desired_hash
    assert first.obj == second.obj
    assert ok(do_render(copy.deepcopy(obj))).desired_hash == first.desired_hash


@given(templates, st.sampled_from(GENERATIONS), st.text("abc", min_size=1, max_size=4), json_values)
def test_prop_hash_changes_when_template_changes(
    template: Obj, api_version: str, key: str, value: Any
) -> None:
    changed = copy.deepcopy(template)
    changed["data"] = {**changed["data"], key: value}
    before = ok(do_render(with_template(template, api_version)))
    after = ok(do_render(with_template(changed, api_version)))
    assert (before.desired_hash == after.desired_hash) == (before.obj == after.obj)
    if template["data"].get(key, object()) != value:
        assert before.desired_hash != after.desired_hash


@given(templates, st.sampled_from(GENERATIONS), json_values, json_values)
def test_prop_hash_changes_when_overrides_change(
    template: Obj, api_version: str, first: Any, second: Any
) -> None:
    path = "/data/extra" if api_version == KUBEFED_API_VERSION else "data.extra"

    def overrides(value: Any) -> list[Obj]:
        item = {"op": "add", "path": path, "value": value}
        return [{"clusterName": "m1", "clusterOverrides": [item]}]

    a = ok(do_render(with_template(template, api_version, overrides(first))))
    b = ok(do_render(with_template(template, api_version, overrides(second))))
    assert (a.desired_hash == b.desired_hash) == (canonical_json(first) == canonical_json(second))


# generateName is a forbidden override path (an error, tested in test_overrides.py).
server_owned_overrides = st.lists(
    st.sampled_from(sorted(set(SERVER_OWNED) - {"generateName"})).map(
        lambda key: {"op": "add", "path": f"/metadata/{key}", "value": SERVER_OWNED[key]}
    ),
    unique_by=lambda item: str(item["path"]),
    max_size=4,
)


@given(templates, server_owned_overrides, st.booleans())
def test_prop_rendered_object_never_contains_server_owned_fields(
    template: Obj, items: list[Obj], add_status: bool
) -> None:
    template = copy.deepcopy(template)
    template.setdefault("metadata", {})
    if add_status:
        items = [*items, {"op": "add", "path": "/status", "value": {"x": 1}}]
    obj = with_template(
        template, KUBEFED_API_VERSION, [{"clusterName": "m1", "clusterOverrides": items}]
    )
    rendered = ok(do_render(obj)).obj
    assert "status" not in rendered
    assert not set(SERVER_OWNED_METADATA) & set(rendered["metadata"])
    assert rendered["metadata"]["labels"][MANAGED_LABEL] == "true"


# --- hub.core.federation helpers used by render


def test_target_kind_and_federated_kind() -> None:
    assert target_kind("FederatedSecret") == "Secret"
    assert target_kind("FederatedHelmRelease") == "HelmRelease"
    assert federated_kind("Deployment") == "FederatedDeployment"
    for bad in ("Secret", "Federated", "federatedSecret", ""):
        with pytest.raises(ValueError, match="Federated<Kind>"):
            target_kind(bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("types.kubefed.io/v1beta1", ApiGeneration.KUBEFED),
        ("types.kubefed.io", ApiGeneration.KUBEFED),
        ("types.federation.k8s.io/v1alpha1", ApiGeneration.FEDERATION),
        ("types.federation.k8s.io", ApiGeneration.FEDERATION),
    ],
)
def test_api_generation(value: str, expected: ApiGeneration) -> None:
    assert api_generation(value) is expected
    assert api_generation(value) == expected.value


@pytest.mark.parametrize("value", ["v1", "apps/v1", "core.kubefed.io/v1beta1", ""])
def test_api_generation_rejects_other_groups(value: str) -> None:
    with pytest.raises(ValueError, match="not a Federated type group"):
        api_generation(value)


def test_api_group() -> None:
    assert api_group("v1") == ""
    assert api_group("apps/v1") == "apps"
    assert api_group(KUBEFED_API_VERSION) == "types.kubefed.io"


def test_annotation_is_true_honours_either_orphan_annotation() -> None:
    def annotated(annotations: Any) -> Obj:
        return {"metadata": {"annotations": annotations}}

    assert annotation_is_true(annotated({"kubefed.io/orphan": "true"}), *ORPHAN_ANNOTATIONS)
    assert annotation_is_true(annotated({"synchub.io/orphan": "true"}), *ORPHAN_ANNOTATIONS)
    assert not annotation_is_true(annotated({"synchub.io/orphan": "True"}), *ORPHAN_ANNOTATIONS)
    assert not annotation_is_true(annotated({"synchub.io/orphan": True}), *ORPHAN_ANNOTATIONS)
    assert not annotation_is_true(annotated(None), *ORPHAN_ANNOTATIONS)
    assert not annotation_is_true({}, *ORPHAN_ANNOTATIONS)


def test_cluster_status_values_match_the_contract() -> None:
    assert [s.value for s in ClusterStatus] == [
        "Propagated",
        "AlreadyExists",
        "ClusterNotReady",
        "ApplyFailed",
        "DeletionFailed",
        "WaitingForRemoval",
        "Orphaned",
        "CredentialsInvalid",
        "Suspended",
    ]
    assert f"{ClusterStatus.PROPAGATED}" == "Propagated"


@pytest.mark.parametrize(
    ("configured", "controller", "mode"),
    [
        ("auto", False, "direct"),
        ("auto", True, "federation"),
        ("direct", True, "direct"),
        ("federation", False, "federation"),
    ],
)
def test_propagation_mode(configured: str, controller: bool, mode: str) -> None:
    from hub.core.federation import propagation_mode

    assert propagation_mode(configured, controller) == mode
