"""Overrides: JSON Patch (types.kubefed.io) and dotted paths (types.federation.k8s.io)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hub.core.federation import FEDERATION_API_VERSION, KUBEFED_API_VERSION
from hub.core.objects import Obj
from hub.core.overrides import (
    OverrideError,
    apply_overrides,
    parse_dotted_path,
    parse_json_pointer,
)

SECRET_VALUE = "c3VwZXItc2VjcmV0"


def deployment() -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ns", "labels": {"app": "web"}},
        "spec": {
            "replicas": 1,
            "template": {
                "spec": {
                    "containers": [
                        {"name": "a", "image": "a:1", "args": ["x"]},
                        {"name": "b", "image": "b:1"},
                    ]
                }
            },
        },
    }


def fed(api_version: str, overrides: Any) -> Obj:
    return {
        "apiVersion": api_version,
        "kind": "FederatedDeployment",
        "metadata": {"name": "web", "namespace": "ns"},
        "spec": {"template": {}, "overrides": overrides},
    }


def beta(*items: Obj, cluster: str = "c1") -> Obj:
    return fed(KUBEFED_API_VERSION, [{"clusterName": cluster, "clusterOverrides": list(items)}])


def alpha(*items: Obj, cluster: str = "c1") -> Obj:
    return fed(FEDERATION_API_VERSION, [{"clusterName": cluster, "clusterOverrides": list(items)}])


def ok(result: Obj | OverrideError) -> Obj:
    assert not isinstance(result, OverrideError), result
    return result


def err(result: Obj | OverrideError) -> str:
    assert isinstance(result, OverrideError), result
    return result.message


# --- selection of the cluster's entry


@pytest.mark.parametrize("api_version", [KUBEFED_API_VERSION, FEDERATION_API_VERSION])
def test_no_overrides_returns_an_equal_copy(api_version: str) -> None:
    obj = deployment()
    for federated in (
        fed(api_version, None),
        fed(api_version, []),
        fed(
            api_version,
            [
                {
                    "clusterName": "other",
                    "clusterOverrides": [{"path": "/spec/replicas", "value": 3}],
                }
            ],
        ),
    ):
        result = ok(apply_overrides(obj, federated, "c1"))
        assert result == obj
        assert result is not obj


def test_missing_spec_is_no_overrides() -> None:
    obj = deployment()
    assert ok(apply_overrides(obj, {"apiVersion": KUBEFED_API_VERSION}, "c1")) == obj


def test_only_the_named_clusters_entry_applies() -> None:
    federated = fed(
        KUBEFED_API_VERSION,
        [
            {"clusterName": "c1", "clusterOverrides": [{"path": "/spec/replicas", "value": 3}]},
            {"clusterName": "c2", "clusterOverrides": [{"path": "/spec/replicas", "value": 5}]},
        ],
    )
    assert ok(apply_overrides(deployment(), federated, "c1"))["spec"]["replicas"] == 3
    assert ok(apply_overrides(deployment(), federated, "c2"))["spec"]["replicas"] == 5
    assert ok(apply_overrides(deployment(), federated, "c3"))["spec"]["replicas"] == 1


@pytest.mark.parametrize("api_version", [KUBEFED_API_VERSION, FEDERATION_API_VERSION])
def test_duplicate_cluster_entry_is_an_error(api_version: str) -> None:
    federated = fed(
        api_version,
        [
            {"clusterName": "c1", "clusterOverrides": []},
            {"clusterName": "c2", "clusterOverrides": []},
            {"clusterName": "c1", "clusterOverrides": []},
        ],
    )
    message = err(apply_overrides(deployment(), federated, "c1"))
    assert "c1" in message
    assert "entries 0, 2" in message
    # Another cluster is not held up by c1's mistake.
    assert ok(apply_overrides(deployment(), federated, "c2")) == deployment()


def test_other_clusters_bad_paths_do_not_fail_this_cluster() -> None:
    federated = fed(
        KUBEFED_API_VERSION,
        [
            {"clusterName": "c1", "clusterOverrides": [{"path": "/spec/replicas", "value": 2}]},
            {"clusterName": "c2", "clusterOverrides": [{"path": "/kind", "value": "X"}]},
        ],
    )
    assert ok(apply_overrides(deployment(), federated, "c1"))["spec"]["replicas"] == 2
    assert "c2" in err(apply_overrides(deployment(), federated, "c2"))


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"clusterName": "c1"}, "spec.overrides must be a list"),
        ([{"clusterOverrides": []}], "spec.overrides[0]"),
        (["c1"], "spec.overrides[0]"),
        ([{"clusterName": "c1", "clusterOverrides": {"path": "/a"}}], "clusterOverrides must be"),
        ([{"clusterName": "c1", "clusterOverrides": ["/a"]}], "clusterOverrides[0] must be a map"),
    ],
)
def test_malformed_override_lists_are_errors(overrides: Any, fragment: str) -> None:
    message = err(apply_overrides(deployment(), fed(KUBEFED_API_VERSION, overrides), "c1"))
    assert message.startswith("cluster 'c1': ")
    assert fragment in message


def test_entry_without_cluster_overrides_is_a_no_op() -> None:
    federated = fed(KUBEFED_API_VERSION, [{"clusterName": "c1"}])
    assert ok(apply_overrides(deployment(), federated, "c1")) == deployment()


def test_unknown_api_group_is_an_error() -> None:
    federated = fed("apps/v1", [])
    assert "Federated" in err(apply_overrides(deployment(), federated, "c1"))


# --- types.kubefed.io: JSON Patch


def test_default_op_is_replace() -> None:
    result = ok(apply_overrides(deployment(), beta({"path": "/spec/replicas", "value": 4}), "c1"))
    assert result["spec"]["replicas"] == 4


def test_replace_of_a_missing_key_adds_it_as_kubefed_does() -> None:
    result = ok(apply_overrides(deployment(), beta({"path": "/spec/paused", "value": True}), "c1"))
    assert result["spec"]["paused"] is True


def test_replace_never_creates_missing_parents() -> None:
    override = {"path": "/spec/strategy/rollingUpdate/maxSurge", "value": 1}
    message = err(apply_overrides(deployment(), beta(override), "c1"))
    assert "does not exist" in message


def test_replace_list_element() -> None:
    item = {"op": "replace", "path": "/spec/template/spec/containers/1/image", "value": "b:2"}
    result = ok(apply_overrides(deployment(), beta(item), "c1"))
    assert result["spec"]["template"]["spec"]["containers"][1]["image"] == "b:2"


def test_add_sets_new_and_existing_keys() -> None:
    result = ok(
        apply_overrides(
            deployment(),
            beta(
                {"op": "add", "path": "/spec/paused", "value": True},
                {"op": "add", "path": "/spec/replicas", "value": 9},
            ),
            "c1",
        )
    )
    assert result["spec"]["paused"] is True
    assert result["spec"]["replicas"] == 9


def test_add_never_creates_missing_parents() -> None:
    item = {"op": "add", "path": "/spec/strategy/type", "value": "Recreate"}
    message = err(apply_overrides(deployment(), beta(item), "c1"))
    assert "/spec/strategy" in message
    assert "does not exist" in message


def test_add_inserts_into_lists_and_appends_with_dash() -> None:
    base = "/spec/template/spec/containers/0/args"
    result = ok(
        apply_overrides(
            deployment(),
            beta(
                {"op": "add", "path": f"{base}/0", "value": "first"},
                {"op": "add", "path": f"{base}/-", "value": "last"},
            ),
            "c1",
        )
    )
    assert result["spec"]["template"]["spec"]["containers"][0]["args"] == ["first", "x", "last"]


def test_add_at_list_length_appends() -> None:
    item = {"op": "add", "path": "/spec/template/spec/containers/0/args/1", "value": "y"}
    result = ok(apply_overrides(deployment(), beta(item), "c1"))
    assert result["spec"]["template"]["spec"]["containers"][0]["args"] == ["x", "y"]


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ({"op": "add", "path": "/spec/template/spec/containers/0/args/2", "value": "y"}, "range"),
        ({"op": "replace", "path": "/spec/template/spec/containers/2", "value": {}}, "range"),
        ({"op": "replace", "path": "/spec/template/spec/containers/-", "value": {}}, "list index"),
        ({"op": "remove", "path": "/spec/template/spec/containers/-"}, "list index"),
        ({"op": "remove", "path": "/spec/template/spec/containers/01"}, "list index"),
        ({"op": "remove", "path": "/spec/template/spec/containers/-1"}, "list index"),
        ({"op": "remove", "path": "/spec/template/spec/containers/x/image"}, "list index"),
        ({"op": "remove", "path": "/spec/template/spec/containers/5/image"}, "range"),
        ({"op": "add", "path": "/spec/replicas/x", "value": 1}, "is not a map or a list"),
        ({"op": "remove", "path": "/spec/nothing"}, "does not exist"),
    ],
)
def test_bad_targets_are_errors(item: Obj, fragment: str) -> None:
    assert fragment in err(apply_overrides(deployment(), beta(item), "c1"))


def test_remove_from_map_and_list() -> None:
    result = ok(
        apply_overrides(
            deployment(),
            beta(
                {"op": "remove", "path": "/metadata/labels/app"},
                {"op": "remove", "path": "/spec/template/spec/containers/0"},
            ),
            "c1",
        )
    )
    assert result["metadata"]["labels"] == {}
    assert [c["name"] for c in result["spec"]["template"]["spec"]["containers"]] == ["b"]


def test_ops_apply_in_order() -> None:
    result = ok(
        apply_overrides(
            deployment(),
            beta(
                {"op": "add", "path": "/spec/strategy", "value": {}},
                {"op": "add", "path": "/spec/strategy/type", "value": "Recreate"},
            ),
            "c1",
        )
    )
    assert result["spec"]["strategy"] == {"type": "Recreate"}


def test_json_pointer_escapes() -> None:
    obj = deployment()
    obj["metadata"]["annotations"] = {"example.com/a~b": "old"}
    item = {"path": "/metadata/annotations/example.com~1a~0b", "value": "new"}
    result = ok(apply_overrides(obj, beta(item), "c1"))
    assert result["metadata"]["annotations"] == {"example.com/a~b": "new"}


def test_parse_json_pointer() -> None:
    assert parse_json_pointer("") == ()
    assert parse_json_pointer("/") == ("",)
    assert parse_json_pointer("/a~1b/~0c/~01") == ("a/b", "~c", "~1")
    with pytest.raises(ValueError, match="start with"):
        parse_json_pointer("a/b")
    with pytest.raises(ValueError, match="~0 or ~1"):
        parse_json_pointer("/a~2")
    with pytest.raises(ValueError, match="~0 or ~1"):
        parse_json_pointer("/a~")


def test_value_null_is_a_value_but_missing_value_is_an_error() -> None:
    result = ok(
        apply_overrides(deployment(), beta({"path": "/spec/replicas", "value": None}), "c1")
    )
    assert result["spec"]["replicas"] is None
    assert "needs a value" in err(
        apply_overrides(deployment(), beta({"path": "/spec/replicas"}), "c1")
    )
    item = {"op": "add", "path": "/spec/x"}
    assert "needs a value" in err(apply_overrides(deployment(), beta(item), "c1"))


@pytest.mark.parametrize("op", ["move", "copy", "test", "Replace", 3])
def test_unsupported_ops_are_errors(op: Any) -> None:
    item = {"op": op, "path": "/spec/replicas", "value": 1, "from": "/spec/replicas"}
    assert "op must be one of" in err(apply_overrides(deployment(), beta(item), "c1"))


@pytest.mark.parametrize(
    "path",
    [
        "/metadata/name",
        "/metadata/namespace",
        "/metadata/generateName",
        "/kind",
        "/apiVersion",
        "/metadata",
        "",
    ],
)
@pytest.mark.parametrize("op", ["add", "replace", "remove"])
def test_forbidden_paths(path: str, op: str) -> None:
    message = err(apply_overrides(deployment(), beta({"op": op, "path": path, "value": "x"}), "c1"))
    assert "may not be overridden" in message


@pytest.mark.parametrize("path", [3, None])
def test_path_must_be_a_string(path: Any) -> None:
    assert "path must be a string" in err(
        apply_overrides(deployment(), beta({"path": path, "value": 1}), "c1")
    )


def test_pointer_without_leading_slash_is_an_error() -> None:
    assert "start with '/'" in err(
        apply_overrides(deployment(), beta({"path": "spec/replicas", "value": 1}), "c1")
    )


def test_duplicate_path_for_one_cluster_is_an_error() -> None:
    federated = beta(
        {"path": "/spec/replicas", "value": 2},
        {"op": "add", "path": "/spec/paused", "value": True},
        {"op": "replace", "path": "/spec/replicas", "value": 3},
    )
    message = err(apply_overrides(deployment(), federated, "c1"))
    assert "clusterOverrides[2]" in message
    assert "clusterOverrides[0]" in message


def test_all_overrides_are_validated_before_any_applies() -> None:
    # The first op would succeed; the forbidden second one must still fail the whole set.
    federated = beta({"path": "/spec/replicas", "value": 2}, {"path": "/kind", "value": "X"})
    assert isinstance(apply_overrides(deployment(), federated, "c1"), OverrideError)


def test_error_messages_name_cluster_index_and_path_but_never_values() -> None:
    federated = fed(
        KUBEFED_API_VERSION,
        [
            {"clusterName": "other", "clusterOverrides": []},
            {
                "clusterName": "c1",
                "clusterOverrides": [
                    {"op": "add", "path": "/data/ok", "value": SECRET_VALUE},
                    {"op": "remove", "path": "/data/missing", "value": SECRET_VALUE},
                ],
            },
        ],
    )
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {}}
    message = err(apply_overrides(secret, federated, "c1"))
    assert message.startswith("cluster 'c1': spec.overrides[1].clusterOverrides[1]")
    assert "/data/missing" in message
    assert SECRET_VALUE not in message


def test_inserted_values_are_copies() -> None:
    value = {"nested": ["a"]}
    federated = beta({"op": "add", "path": "/spec/extra", "value": value})
    result = ok(apply_overrides(deployment(), federated, "c1"))
    result["spec"]["extra"]["nested"].append("b")
    assert federated["spec"]["overrides"][0]["clusterOverrides"][0]["value"] == {"nested": ["a"]}


# --- types.federation.k8s.io: dotted paths


def test_alpha_sets_existing_value() -> None:
    result = ok(apply_overrides(deployment(), alpha({"path": "spec.replicas", "value": 5}), "c1"))
    assert result["spec"]["replicas"] == 5


def test_alpha_creates_missing_maps() -> None:
    result = ok(
        apply_overrides(
            deployment(), alpha({"path": "spec.strategy.type", "value": "Recreate"}), "c1"
        )
    )
    assert result["spec"]["strategy"] == {"type": "Recreate"}


def test_alpha_replaces_null_with_a_map() -> None:
    obj = deployment()
    obj["spec"]["strategy"] = None
    result = ok(
        apply_overrides(obj, alpha({"path": "spec.strategy.type", "value": "Recreate"}), "c1")
    )
    assert result["spec"]["strategy"] == {"type": "Recreate"}


def test_alpha_accepts_json_pointer_for_keys_with_dots() -> None:
    item = {"path": "/metadata/labels/app.kubernetes.io~1name", "value": "web"}
    result = ok(apply_overrides(deployment(), alpha(item), "c1"))
    assert result["metadata"]["labels"]["app.kubernetes.io/name"] == "web"


def test_alpha_ignores_op() -> None:
    item = {"op": "remove", "path": "spec.replicas", "value": 7}
    assert ok(apply_overrides(deployment(), alpha(item), "c1"))["spec"]["replicas"] == 7


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ({"path": "spec.replicas"}, "needs a value"),
        ({"path": "", "value": 1}, "empty"),
        ({"path": "spec..replicas", "value": 1}, "empty segments"),
        ({"path": "spec.replicas.", "value": 1}, "empty segments"),
        ({"path": "spec.replicas.x", "value": 1}, "/spec/replicas is not a map"),
        ({"path": "spec.template.spec.containers.0.image", "value": "x"}, "is not a map"),
        ({"path": "metadata.name", "value": "x"}, "may not be overridden"),
        ({"path": "metadata.namespace", "value": "x"}, "may not be overridden"),
        ({"path": "metadata.generateName", "value": "x"}, "may not be overridden"),
        ({"path": "kind", "value": "x"}, "may not be overridden"),
        ({"path": "apiVersion", "value": "x"}, "may not be overridden"),
        ({"path": "metadata", "value": {}}, "may not be overridden"),
        ({"path": "/metadata/name", "value": "x"}, "may not be overridden"),
        ({"path": "/a~2", "value": "x"}, "~0 or ~1"),
    ],
)
def test_alpha_errors(item: Obj, fragment: str) -> None:
    message = err(apply_overrides(deployment(), alpha(item), "c1"))
    assert message.startswith("cluster 'c1': spec.overrides[0].clusterOverrides[0]")
    assert fragment in message


def test_alpha_duplicate_paths_compare_parsed() -> None:
    federated = alpha({"path": "spec.replicas", "value": 2}, {"path": "/spec/replicas", "value": 3})
    assert "already overridden" in err(apply_overrides(deployment(), federated, "c1"))


def test_parse_dotted_path() -> None:
    assert parse_dotted_path("spec.replicas") == ("spec", "replicas")
    assert parse_dotted_path("/spec/a.b") == ("spec", "a.b")
    with pytest.raises(ValueError, match="empty"):
        parse_dotted_path("")


# --- properties

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=4), json_values, max_size=4)


def map_paths(doc: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Paths of every map in ``doc`` (including the root), through maps only."""
    if not isinstance(doc, dict):
        return []
    found = [prefix]
    for key, value in doc.items():
        found += map_paths(value, (*prefix, key))
    return found


def pointer(path: tuple[str, ...]) -> str:
    return "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in path)


def get(doc: Any, path: tuple[str, ...]) -> Any:
    for token in path:
        doc = doc[token]
    return doc


ops = st.fixed_dictionaries(
    {"path": st.text("/abc01~-", max_size=8)},
    optional={"op": st.sampled_from(["add", "remove", "replace", "move"]), "value": json_values},
)


@given(
    json_objects,
    st.lists(ops, max_size=4),
    st.sampled_from([KUBEFED_API_VERSION, FEDERATION_API_VERSION]),
)
def test_prop_overrides_never_mutate_inputs(obj: Obj, items: list[Obj], api_version: str) -> None:
    federated = fed(api_version, [{"clusterName": "c1", "clusterOverrides": items}])
    obj_before = copy.deepcopy(obj)
    federated_before = copy.deepcopy(federated)
    result = apply_overrides(obj, federated, "c1")
    assert obj == obj_before
    assert federated == federated_before
    if not isinstance(result, OverrideError):
        assert result is not obj


@given(st.data(), json_objects, json_values)
def test_prop_add_then_remove_at_fresh_key_restores(
    data: st.DataObject, obj: Obj, value: Any
) -> None:
    parent = data.draw(st.sampled_from(map_paths(obj)))
    key = data.draw(st.text(max_size=4))
    assume(key not in get(obj, parent))
    path = pointer((*parent, key))
    assume(path not in ("/kind", "/apiVersion", "/metadata"))
    added = ok(apply_overrides(obj, beta({"op": "add", "path": path, "value": value}), "c1"))
    assert get(added, (*parent, key)) == value
    restored = ok(apply_overrides(added, beta({"op": "remove", "path": path}), "c1"))
    assert restored == obj


@given(st.data(), json_objects, json_values)
def test_prop_alpha_set_then_get(data: st.DataObject, obj: Obj, value: Any) -> None:
    parent = data.draw(st.sampled_from(map_paths(obj)))
    tail = data.draw(st.lists(st.text("abc", min_size=1, max_size=3), min_size=1, max_size=3))
    path = (*parent, *tail)
    assume(
        path[:2]
        not in {("metadata", "name"), ("metadata", "namespace"), ("metadata", "generateName")}
    )
    assume(path not in {("kind",), ("apiVersion",), ("metadata",)})
    # Creating maps is only possible where the walk meets maps or nothing.
    node: Any = obj
    for token in path[:-1]:
        if not isinstance(node, dict):
            break
        node = node.get(token)
    assume(node is None or isinstance(node, dict))
    result = ok(apply_overrides(obj, alpha({"path": pointer(path), "value": value}), "c1"))
    assert get(result, path) == value


def test_overrides_none_tells_a_cluster_independent_object() -> None:
    from hub.core.overrides import overrides_none

    assert overrides_none({"spec": {"template": {}}})
    assert overrides_none({"spec": {"overrides": []}})
    assert overrides_none({"spec": None})
    assert not overrides_none({"spec": {"overrides": [{"clusterName": "a"}]}})
    assert not overrides_none({"spec": {"overrides": "malformed"}})  # rendered per cluster: fails
