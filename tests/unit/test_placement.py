"""Placement: which clusters a Federated object selects (KubeFed semantics, both generations)."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.core.federation import FEDERATION_API_VERSION, KUBEFED_API_VERSION, MASTER_LABEL
from hub.core.objects import Obj
from hub.core.placement import (
    Cluster,
    FrozenLabels,
    LabelSelector,
    Operator,
    PlacementError,
    PlacementResult,
    Requirement,
    SelectorError,
    matches,
    parse_label_selector,
    select_clusters,
)

GENERATIONS = [KUBEFED_API_VERSION, FEDERATION_API_VERSION]

MASTER = Cluster("mymaster", {MASTER_LABEL: "true", "region": "eu"}, is_master=True)
EU = Cluster("eu-1", {"region": "eu", "tier": "prod"})
US = Cluster("us-1", {"region": "us", "tier": "prod"})
DEV = Cluster("dev-1", {"region": "us", "tier": "dev"})
INVENTORY = [MASTER, EU, US, DEV]
ALL_NAMES = ("mymaster", "eu-1", "us-1", "dev-1")


def fed(api_version: str, placement: Any = None, *, with_placement: bool = True) -> Obj:
    spec: Obj = {"template": {"data": {}}}
    if with_placement:
        spec["placement"] = placement
    return {
        "apiVersion": api_version,
        "kind": "FederatedSecret",
        "metadata": {"name": "s", "namespace": "ns"},
        "spec": spec,
    }


def by_names(api_version: str, names: list[str]) -> Obj:
    """Placement that lists clusters by name, in the field of the object's generation."""
    if api_version == KUBEFED_API_VERSION:
        return {"clusters": [{"name": n} for n in names]}
    return {"clusterNames": list(names)}


def selected(result: PlacementResult | PlacementError) -> tuple[str, ...]:
    assert isinstance(result, PlacementResult), result
    return result.selected


def error(result: PlacementResult | PlacementError) -> str:
    assert isinstance(result, PlacementError), result
    return result.message


# --- the seed example


@pytest.mark.parametrize("api_version", GENERATIONS)
def test_seed_selector_selects_all_members_but_not_the_master(api_version: str) -> None:
    placement = {
        "clusterSelector": {
            "matchExpressions": [{"key": "cluster-master", "operator": "DoesNotExist"}]
        }
    }
    assert selected(select_clusters(fed(api_version, placement), INVENTORY)) == (
        "eu-1",
        "us-1",
        "dev-1",
    )


# --- cluster lists


@pytest.mark.parametrize("api_version", GENERATIONS)
def test_list_selects_named_clusters_in_inventory_order(api_version: str) -> None:
    obj = fed(api_version, by_names(api_version, ["dev-1", "mymaster", "eu-1"]))
    assert selected(select_clusters(obj, INVENTORY)) == ("mymaster", "eu-1", "dev-1")


@pytest.mark.parametrize("api_version", GENERATIONS)
def test_list_wins_over_selector(api_version: str) -> None:
    placement = by_names(api_version, ["us-1"]) | {"clusterSelector": {}}
    assert selected(select_clusters(fed(api_version, placement), INVENTORY)) == ("us-1",)


@pytest.mark.parametrize("api_version", GENERATIONS)
def test_list_wins_even_over_a_malformed_selector(api_version: str) -> None:
    placement = by_names(api_version, ["us-1"]) | {"clusterSelector": {"bogus": 1}}
    assert selected(select_clusters(fed(api_version, placement), INVENTORY)) == ("us-1",)


@pytest.mark.parametrize("api_version", GENERATIONS)
def test_empty_list_selects_nothing_even_with_selector(api_version: str) -> None:
    placement = by_names(api_version, []) | {"clusterSelector": {}}
    assert selected(select_clusters(fed(api_version, placement), INVENTORY)) == ()


@pytest.mark.parametrize("api_version", GENERATIONS)
def test_null_list_falls_back_to_selector(api_version: str) -> None:
    field = "clusters" if api_version == KUBEFED_API_VERSION else "clusterNames"
    placement = {field: None, "clusterSelector": {"matchLabels": {"tier": "dev"}}}
    assert selected(select_clusters(fed(api_version, placement), INVENTORY)) == ("dev-1",)


@pytest.mark.parametrize("api_version", GENERATIONS)
def test_unknown_names_are_ignored_but_reported(api_version: str) -> None:
    obj = fed(api_version, by_names(api_version, ["gone", "eu-1", "gone", "other"]))
    result = select_clusters(obj, INVENTORY)
    assert result == PlacementResult(selected=("eu-1",), unknown=("gone", "other"))


@pytest.mark.parametrize("api_version", GENERATIONS)
def test_duplicate_names_select_once(api_version: str) -> None:
    obj = fed(api_version, by_names(api_version, ["eu-1", "eu-1"]))
    assert selected(select_clusters(obj, INVENTORY)) == ("eu-1",)


def test_each_generation_reads_only_its_own_list_field() -> None:
    # clusterNames on a v1beta1 object (and clusters on v1alpha1) is not a placement field.
    beta = fed(KUBEFED_API_VERSION, {"clusterNames": ["eu-1"], "clusterSelector": {}})
    alpha = fed(FEDERATION_API_VERSION, {"clusters": [{"name": "eu-1"}], "clusterSelector": {}})
    assert selected(select_clusters(beta, INVENTORY)) == ALL_NAMES
    assert selected(select_clusters(alpha, INVENTORY)) == ALL_NAMES


@pytest.mark.parametrize(
    ("api_version", "placement", "fragment"),
    [
        (KUBEFED_API_VERSION, {"clusters": "eu-1"}, "spec.placement.clusters"),
        (KUBEFED_API_VERSION, {"clusters": ["eu-1"]}, "spec.placement.clusters[0]"),
        (KUBEFED_API_VERSION, {"clusters": [{"name": 3}]}, "spec.placement.clusters[0]"),
        (FEDERATION_API_VERSION, {"clusterNames": "eu-1"}, "spec.placement.clusterNames"),
        (FEDERATION_API_VERSION, {"clusterNames": [{"name": "x"}]}, "spec.placement.clusterNames"),
    ],
)
def test_malformed_lists_are_errors(api_version: str, placement: Obj, fragment: str) -> None:
    assert fragment in error(select_clusters(fed(api_version, placement), INVENTORY))


# --- selectors


@pytest.mark.parametrize("api_version", GENERATIONS)
def test_missing_placement_selects_nothing(api_version: str) -> None:
    assert selected(select_clusters(fed(api_version, with_placement=False), INVENTORY)) == ()
    assert selected(select_clusters(fed(api_version, None), INVENTORY)) == ()
    no_spec = fed(api_version)
    del no_spec["spec"]
    assert selected(select_clusters(no_spec, INVENTORY)) == ()


@pytest.mark.parametrize("api_version", GENERATIONS)
def test_missing_or_null_selector_selects_nothing(api_version: str) -> None:
    assert selected(select_clusters(fed(api_version, {}), INVENTORY)) == ()
    assert selected(select_clusters(fed(api_version, {"clusterSelector": None}), INVENTORY)) == ()


@pytest.mark.parametrize("api_version", GENERATIONS)
@pytest.mark.parametrize(
    "selector", [{}, {"matchLabels": {}}, {"matchExpressions": []}, {"matchLabels": None}]
)
def test_empty_selector_selects_everything_including_master(
    api_version: str, selector: Obj
) -> None:
    placement = {"clusterSelector": selector}
    assert selected(select_clusters(fed(api_version, placement), INVENTORY)) == ALL_NAMES


@pytest.mark.parametrize("api_version", GENERATIONS)
@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({"matchLabels": {"region": "eu"}}, ("mymaster", "eu-1")),
        ({"matchLabels": {"region": "us", "tier": "prod"}}, ("us-1",)),
        ({"matchLabels": {"cluster-master": "true"}}, ("mymaster",)),
        (
            {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["dev", "prod"]}]},
            ("eu-1", "us-1", "dev-1"),
        ),
        (
            {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["prod"]}]},
            ("mymaster", "dev-1"),  # NotIn matches clusters without the key
        ),
        ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, ("eu-1", "us-1", "dev-1")),
        ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, ("mymaster",)),
        (
            {
                "matchLabels": {"region": "us"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["dev"]}],
            },
            ("dev-1",),
        ),
        ({"matchLabels": {"region": "mars"}}, ()),
        # values: [] with Exists is "no values" in Kubernetes, not an error.
        (
            {"matchExpressions": [{"key": "tier", "operator": "Exists", "values": []}]},
            ("eu-1", "us-1", "dev-1"),
        ),
    ],
)
def test_label_selector(api_version: str, selector: Obj, expected: tuple[str, ...]) -> None:
    placement = {"clusterSelector": selector}
    assert selected(select_clusters(fed(api_version, placement), INVENTORY)) == expected


@pytest.mark.parametrize(
    ("selector", "fragment"),
    [
        ({"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["x"]}]}, "operator"),
        ({"matchExpressions": [{"key": "a", "operator": "in", "values": ["x"]}]}, "operator"),
        ({"matchExpressions": [{"key": "a", "operator": ["In"], "values": ["x"]}]}, "operator"),
        ({"matchExpressions": [{"key": "a"}]}, "operator"),
        ({"matchExpressions": [{"key": "a", "operator": "In"}]}, "at least one value"),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": []}]}, "at least one"),
        ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}, "no values"),
        (
            {"matchExpressions": [{"key": "a", "operator": "DoesNotExist", "values": ["x"]}]},
            "no values",
        ),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": "x"}]}, "list"),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": [1]}]}, "strings"),
        ({"matchExpressions": [{"operator": "Exists"}]}, "key"),
        ({"matchExpressions": [{"key": "", "operator": "Exists"}]}, "key"),
        ({"matchExpressions": [{"key": "a b", "operator": "Exists"}]}, "key"),
        ({"matchExpressions": [{"key": "Bad_/a", "operator": "Exists"}]}, "prefix"),
        ({"matchExpressions": [{"key": "a", "operator": "Exists", "value": []}]}, "unknown"),
        ({"matchExpressions": "a"}, "matchExpressions"),
        ({"matchExpressions": ["a"]}, "matchExpressions[0]"),
        ({"matchLabels": {"a": True}}, "strings"),
        ({"matchLabels": {"a": "b c"}}, "label value"),
        ({"matchLabels": ["a"]}, "matchLabels"),
        ({"matchLabel": {"a": "b"}}, "unknown fields"),  # a typo must not widen to "all"
        ("cluster-master", "selector must be a map"),
    ],
)
@pytest.mark.parametrize("api_version", GENERATIONS)
def test_malformed_selector_is_an_error(api_version: str, selector: Any, fragment: str) -> None:
    message = error(select_clusters(fed(api_version, {"clusterSelector": selector}), INVENTORY))
    assert message.startswith("spec.placement.clusterSelector")
    assert fragment in message


def test_error_names_the_expression_index() -> None:
    selector = {
        "matchExpressions": [
            {"key": "a", "operator": "Exists"},
            {"key": "b", "operator": "Bogus", "values": ["x"]},
        ]
    }
    assert "matchExpressions[1]" in error(
        select_clusters(fed(KUBEFED_API_VERSION, {"clusterSelector": selector}), INVENTORY)
    )


@pytest.mark.parametrize(
    ("obj", "fragment"),
    [
        ({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {}}, "Federated"),
        ({"kind": "FederatedSecret", "spec": {}}, "Federated"),
        ({"apiVersion": KUBEFED_API_VERSION, "spec": []}, "spec"),
        ({"apiVersion": KUBEFED_API_VERSION, "spec": {"placement": []}}, "spec.placement"),
    ],
)
def test_malformed_objects_are_errors(obj: Obj, fragment: str) -> None:
    assert fragment in error(select_clusters(obj, INVENTORY))


def test_select_clusters_does_not_mutate_input() -> None:
    obj = fed(KUBEFED_API_VERSION, {"clusterSelector": {"matchLabels": {"region": "eu"}}})
    before = copy.deepcopy(obj)
    select_clusters(obj, INVENTORY)
    assert obj == before


# --- parse_label_selector / matches


def test_parse_label_selector_none_matches_nothing_and_empty_matches_all() -> None:
    nothing = parse_label_selector(None)
    everything = parse_label_selector({})
    assert isinstance(nothing, LabelSelector)
    assert isinstance(everything, LabelSelector)
    assert not matches(nothing, {})
    assert not matches(nothing, {"a": "b"})
    assert matches(everything, {})
    assert matches(everything, {"a": "b"})


def test_parse_label_selector_builds_requirements() -> None:
    parsed = parse_label_selector(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "example.com/tier", "operator": "NotIn", "values": ["a"]}],
        }
    )
    assert parsed == LabelSelector(
        (
            Requirement("app", Operator.IN, frozenset({"web"})),
            Requirement("example.com/tier", Operator.NOT_IN, frozenset({"a"})),
        )
    )


def test_parse_label_selector_reports_selector_error() -> None:
    assert isinstance(parse_label_selector({"matchLabels": 3}), SelectorError)


# --- Cluster


def test_cluster_labels_are_an_immutable_copy() -> None:
    labels = {"a": "1"}
    cluster = Cluster("c", labels)
    labels["a"] = "2"
    assert cluster.labels == {"a": "1"}
    assert isinstance(cluster.labels, FrozenLabels)
    with pytest.raises(TypeError):
        cluster.labels["b"] = "x"  # type: ignore[index]


def test_cluster_is_hashable_comparable_and_copyable() -> None:
    a = Cluster("c", {"x": "1", "y": "2"}, is_master=True)
    b = Cluster("c", {"y": "2", "x": "1"}, is_master=True)
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    assert a != Cluster("c", {"x": "1"}, is_master=True)
    assert copy.deepcopy(a) == a
    assert pickle.loads(pickle.dumps(a)) == a
    assert Cluster("d").labels == {}
    assert not Cluster("d").is_master


# --- properties

KEYS = ["region", "tier", "cluster-master", "example.com/zone"]
VALUES = ["eu", "us", "true", "dev"]

label_maps = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=4)


@st.composite
def inventories(draw: st.DrawFn) -> list[Cluster]:
    names = draw(st.lists(st.text("abcdef-", min_size=1, max_size=4), unique=True, max_size=6))
    return [Cluster(name, draw(label_maps), is_master=i == 0) for i, name in enumerate(names)]


expressions = st.one_of(
    st.builds(
        lambda k, op, vs: {"key": k, "operator": op, "values": vs},
        st.sampled_from(KEYS),
        st.sampled_from(["In", "NotIn"]),
        st.lists(st.sampled_from(VALUES), min_size=1, max_size=3),
    ),
    st.builds(
        lambda k, op: {"key": k, "operator": op},
        st.sampled_from(KEYS),
        st.sampled_from(["Exists", "DoesNotExist"]),
    ),
)
selectors = st.fixed_dictionaries(
    {},
    optional={
        "matchLabels": label_maps,
        "matchExpressions": st.lists(expressions, max_size=3),
    },
)


@given(inventories(), selectors, st.lists(st.text("abcdefgh-", max_size=4), max_size=5))
def test_prop_list_beats_selector(clusters: list[Cluster], selector: Obj, names: list[str]) -> None:
    for api_version in GENERATIONS:
        placement = by_names(api_version, names) | {"clusterSelector": selector}
        result = select_clusters(fed(api_version, placement), clusters)
        assert selected(result) == tuple(c.name for c in clusters if c.name in names)
        assert isinstance(result, PlacementResult)
        assert set(result.unknown) == set(names) - {c.name for c in clusters}


@given(inventories(), st.one_of(st.none(), selectors))
def test_prop_empty_list_selects_nothing(clusters: list[Cluster], selector: Obj | None) -> None:
    for api_version in GENERATIONS:
        placement = by_names(api_version, []) | {"clusterSelector": selector}
        assert selected(select_clusters(fed(api_version, placement), clusters)) == ()


@given(inventories())
def test_prop_empty_selector_selects_all(clusters: list[Cluster]) -> None:
    for api_version in GENERATIONS:
        result = select_clusters(fed(api_version, {"clusterSelector": {}}), clusters)
        assert selected(result) == tuple(c.name for c in clusters)


@given(inventories())
def test_prop_missing_selector_selects_nothing(clusters: list[Cluster]) -> None:
    for api_version in GENERATIONS:
        assert selected(select_clusters(fed(api_version, {}), clusters)) == ()
        assert (
            selected(select_clusters(fed(api_version, {"clusterSelector": None}), clusters)) == ()
        )


@given(inventories(), label_maps)
def test_prop_match_labels_equals_in_expressions(clusters: list[Cluster], wanted: Obj) -> None:
    as_expressions = [{"key": k, "operator": "In", "values": [v]} for k, v in wanted.items()]
    for api_version in GENERATIONS:
        by_labels = select_clusters(
            fed(api_version, {"clusterSelector": {"matchLabels": wanted}}), clusters
        )
        by_exprs = select_clusters(
            fed(api_version, {"clusterSelector": {"matchExpressions": as_expressions}}), clusters
        )
        assert selected(by_labels) == selected(by_exprs)


@given(inventories(), selectors)
def test_prop_selection_is_an_ordered_subset_decided_per_cluster(
    clusters: list[Cluster], selector: Obj
) -> None:
    parsed = parse_label_selector(selector)
    assert isinstance(parsed, LabelSelector)
    result = selected(
        select_clusters(fed(KUBEFED_API_VERSION, {"clusterSelector": selector}), clusters)
    )
    assert result == tuple(c.name for c in clusters if matches(parsed, c.labels))


@given(label_maps, st.sampled_from(KEYS), st.lists(st.sampled_from(VALUES), min_size=1))
def test_prop_not_in_is_the_complement_of_in(labels: Obj, key: str, values: list[str]) -> None:
    in_ = parse_label_selector(
        {"matchExpressions": [{"key": key, "operator": "In", "values": values}]}
    )
    not_in = parse_label_selector(
        {"matchExpressions": [{"key": key, "operator": "NotIn", "values": values}]}
    )
    assert isinstance(in_, LabelSelector)
    assert isinstance(not_in, LabelSelector)
    assert matches(in_, labels) != matches(not_in, labels)
