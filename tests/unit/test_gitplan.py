"""Unit and property tests for hub.core.gitplan: parsing, the apply plan, prune safety."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.core.gitplan import (
    PRUNE_ANNOTATION,
    Entry,
    Manifest,
    ManifestError,
    Plan,
    Refusal,
    Rules,
    inventory_keys,
    is_manifest_file,
    parse_manifests,
    plan,
    prunable,
    read_inventory,
    removal_order,
)

ORIGIN = "master/synchub.io/GitSync/synchub-system/apps"
SCOPES = {
    ("", "ConfigMap"): True,
    ("", "Namespace"): False,
    ("apps", "Deployment"): True,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): False,
    ("rbac.authorization.k8s.io", "ClusterRole"): False,
}


def scope(group: str, kind: str) -> bool | None:
    return SCOPES.get((group, kind))


def obj(kind: str, name: str, namespace: str | None = None, api: str = "v1") -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {"apiVersion": api, "kind": kind, "metadata": metadata}


def manifests(*objs: dict[str, Any]) -> list[Manifest]:
    return [Manifest(f"m{i}.yaml", o) for i, o in enumerate(objs)]


def must_plan(result: Plan | Refusal) -> Plan:
    assert isinstance(result, Plan), result
    return result


# --- parsing


def test_files_are_chosen_by_suffix() -> None:
    assert [is_manifest_file(n) for n in ("a.yaml", "b.YML", "c.json", "d.txt", ".e.yaml")] == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_multi_document_files_and_lists_are_read() -> None:
    text = "---\n" + "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\n"
    text += "apiVersion: v1\nkind: List\nitems:\n"
    text += "- {apiVersion: v1, kind: Secret, metadata: {name: s}}\n"
    found = parse_manifests(
        [
            ("dir/x.yaml", text),
            ("y.json", '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}}'),
        ]
    )
    assert isinstance(found, list)
    assert [(m.source, m.obj["metadata"]["name"]) for m in found] == [
        ("dir/x.yaml#1", "a"),
        ("dir/x.yaml#3", "s"),
        ("y.json", "j"),
    ]


def test_a_yaml_error_names_the_file_and_line() -> None:
    good = ("ok.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    bad = ("sub/bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [x\n")
    found = parse_manifests([good, bad])
    assert isinstance(found, ManifestError)
    assert found.file == "sub/bad.yaml"
    assert found.line == 4
    assert str(found).startswith("sub/bad.yaml:4: ")


@pytest.mark.parametrize(
    "text", ["a: " + "[" * 5000 + "]" * 5000 + "\n", "a: " + "[" * 300 + "]" * 300 + "\n"]
)
def test_deeply_nested_yaml_is_one_line_error(text: str) -> None:
    found = parse_manifests([("deep.yaml", text)])
    assert isinstance(found, ManifestError)  # libyaml's own limit, or the hub's (200 levels)
    assert str(found).startswith("deep.yaml")
    assert "\n" not in str(found)
    assert "nest" in found.message


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- a\n- b\n", "must be a mapping"),
        ("kind: ConfigMap\nmetadata: {name: a}\n", "apiVersion is missing"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", "metadata.name is missing"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: 3}\n", "namespace"),
    ],
)
def test_malformed_manifests_are_named(text: str, problem: str) -> None:
    found = parse_manifests([("f.yaml", text)])
    assert isinstance(found, ManifestError)
    assert found.file == "f.yaml"
    assert problem in found.message


# --- the plan


def test_namespaces_and_crds_first_and_stamped() -> None:
    crd = obj("CustomResourceDefinition", "widgets.example.com", api="apiextensions.k8s.io/v1")
    crd["spec"] = {"group": "example.com", "scope": "Namespaced", "names": {"kind": "Widget"}}
    result = must_plan(
        plan(
            manifests(
                obj("ConfigMap", "c", "team"),
                obj("Widget", "w", "team", api="example.com/v1"),
                crd,
                obj("Namespace", "team"),
                obj("ConfigMap", "d"),
            ),
            scope,
            [],
            Rules(ORIGIN, default_namespace="apps"),
        )
    )
    kinds = [entry.kind for entry, _ in result.applies]
    assert kinds == ["Namespace", "CustomResourceDefinition", "ConfigMap", "Widget", "ConfigMap"]
    defaulted = result.applies[-1][1]
    assert defaulted["metadata"]["namespace"] == "apps"
    assert defaulted["metadata"]["labels"] == {"synchub.io/managed": "true"}
    annotations = defaulted["metadata"]["annotations"]
    assert annotations["synchub.io/origin"] == ORIGIN
    assert "synchub.io/desired-hash" in annotations
    assert result.applies[0][1]["metadata"].get("namespace") is None  # cluster-scoped


def test_prunes_are_what_left_the_repo_namespaces_last() -> None:
    previous = [
        Entry("", "Namespace", "", "old"),
        Entry("", "ConfigMap", "a", "gone"),
        Entry("", "ConfigMap", "a", "kept"),
    ]
    result = must_plan(
        plan(manifests(obj("ConfigMap", "kept", "a")), scope, previous, Rules(ORIGIN))
    )
    assert result.prunes == (Entry("", "ConfigMap", "a", "gone"), Entry("", "Namespace", "", "old"))
    assert result.inventory == (Entry("", "ConfigMap", "a", "kept"),)


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        (obj("ConfigMap", "x", "kube-system"), "namespace kube-system is not in namespaces"),
        (obj("ClusterRole", "r", api="rbac.authorization.k8s.io/v1"), "cluster-scoped"),
        (obj("Namespace", "other"), "cluster-scoped"),
        (obj("Gadget", "g", "team", api="example.com/v1"), "is not served"),
        (obj("ConfigMap", "ok", "team"), "is also in m0.yaml"),
    ],
)
def test_one_refused_object_refuses_the_revision(bad: dict[str, Any], problem: str) -> None:
    rules = Rules(ORIGIN, namespaces=("team",), default_namespace="team")
    good = [obj("ConfigMap", "ok", "team"), obj("Namespace", "team")]
    result = plan(manifests(*good, bad), scope, [Entry("", "ConfigMap", "team", "old")], rules)
    assert isinstance(result, Refusal)
    assert problem in result.message
    assert "m2.yaml" in result.message


def test_inventory_round_trips_through_status() -> None:
    entries = [Entry("apps", "Deployment", "a", "web"), Entry("", "Namespace", "", "a")]
    status = {"inventory": {"entries": [*inventory_keys(entries), "junk"]}}
    assert sorted(read_inventory(status)) == sorted(entries)


# --- properties

NAMES = st.sampled_from(["a", "b", "c", "d"])
NAMESPACES = st.sampled_from(["team", "other", "kube-system"])
OBJECTS = st.one_of(
    st.builds(lambda n, ns: obj("ConfigMap", n, ns), NAMES, NAMESPACES),
    st.builds(lambda n: obj("Namespace", n), NAMESPACES),
    st.builds(lambda n, ns: obj("Deployment", n, ns, api="apps/v1"), NAMES, NAMESPACES),
)
ENTRIES = st.builds(
    Entry,
    st.sampled_from(["", "apps"]),
    st.sampled_from(["ConfigMap", "Namespace", "Deployment"]),
    NAMESPACES,
    NAMES,
)
ALLOWED = st.sampled_from([(), ("team",), ("team", "other")])


@given(st.lists(OBJECTS, max_size=8), st.lists(ENTRIES, max_size=8), ALLOWED)
def test_a_plan_stays_within_its_rules(
    objs: list[dict[str, Any]], previous: list[Entry], allowed: tuple[str, ...]
) -> None:
    result = plan(manifests(*objs), scope, previous, Rules(ORIGIN, namespaces=allowed))
    if isinstance(result, Refusal):
        return
    desired = {entry for entry, _ in result.applies}
    assert set(result.prunes) == set(previous) - desired  # exactly what left the repo
    assert set(result.inventory) == desired
    orders = [0 if e.kind == "Namespace" else 2 for e, _ in result.applies]
    assert orders == sorted(orders)
    for entry, _ in result.applies:
        if allowed:
            assert (entry.namespace or entry.name) in allowed


@given(st.lists(OBJECTS, max_size=6), st.lists(ENTRIES, max_size=6), st.integers(0, 6))
def test_a_refused_object_anywhere_means_no_prune(
    objs: list[dict[str, Any]], previous: list[Entry], at: int
) -> None:
    objs = [*objs[:at], obj("ConfigMap", "x", "kube-system"), *objs[at:]]
    result = plan(manifests(*objs), scope, previous, Rules(ORIGIN, namespaces=("team",)))
    assert isinstance(result, Refusal)  # a Refusal carries no prunes and no applies


LABELS = st.dictionaries(
    st.sampled_from(["synchub.io/managed", "app"]), st.sampled_from(["true", "false"]), max_size=2
)
ANNOTATIONS = st.dictionaries(
    st.sampled_from(["synchub.io/origin", PRUNE_ANNOTATION]),
    st.sampled_from([ORIGIN, "master/synchub.io/GitSync/x/other", "disabled", "enabled"]),
    max_size=2,
)


@given(LABELS, ANNOTATIONS)
def test_prune_never_touches_unmanaged_foreign_or_protected_objects(
    labels: dict[str, str], annotations: dict[str, str]
) -> None:
    live = {"metadata": {"name": "x", "labels": labels, "annotations": annotations}}
    expected = (
        labels.get("synchub.io/managed") == "true"
        and annotations.get("synchub.io/origin") == ORIGIN
        and annotations.get(PRUNE_ANNOTATION) != "disabled"
    )
    assert prunable(live, ORIGIN) is expected


def test_prune_skips_missing_and_terminating_objects() -> None:
    managed = {
        "labels": {"synchub.io/managed": "true"},
        "annotations": {"synchub.io/origin": ORIGIN},
    }
    assert prunable({"metadata": managed}, ORIGIN)
    assert not prunable(None, ORIGIN)
    assert not prunable(
        {"metadata": {**managed, "deletionTimestamp": "2026-01-01T00:00:00Z"}}, ORIGIN
    )


@given(st.lists(ENTRIES, max_size=10))
def test_removal_deletes_contents_before_their_namespace(entries: list[Entry]) -> None:
    order = removal_order(entries)
    assert set(order) == set(entries)
    assert len(order) == len(set(entries))
    kinds = [0 if e.kind == "Namespace" else 2 for e in order]
    assert kinds == sorted(kinds, reverse=True)  # every Namespace after everything else
