"""The fan-out planner (hub.core.fanout): examples and hypothesis properties."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hub.core.fanout import (
    KEY_NOT_FOUND,
    NAMESPACE_NOT_FOUND,
    SOURCE_ITSELF,
    NamespaceInfo,
    Origin,
    Plan,
    plan_copies,
)
from hub.core.objectsync import (
    ClusterChoice,
    Destination,
    SourceSpec,
    SyncSpec,
)
from hub.core.placement import Cluster, LabelSelector, Operator, Requirement

MASTER = "master"
ORIGIN = Origin("master/synchub.io/ObjectSync/src/sync", MASTER)
SOURCE_NS = "src"

CLUSTERS = [
    Cluster(MASTER, {"cluster-master": "true"}, is_master=True),
    Cluster("east", {"region": "eu"}),
    Cluster("west", {"region": "us"}),
]


def source(kind: str = "Secret", **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {
            "name": "regcred",
            "namespace": SOURCE_NS,
            "uid": "u-1",
            "resourceVersion": "42",
            "labels": {"app": "x", "synchub.io/managed": "true"},
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
                "synchub.io/copy-allowed-namespaces": "*",
                "note": "kept",
            },
        },
        "type": "Opaque",
        "data": {"a": "QQ==", "b": "Qg=="},
        **extra,
    }


def sync(*destinations: Destination) -> SyncSpec:
    return SyncSpec("synchub", SourceSpec("", "v1", "Secret", "regcred", SOURCE_NS), destinations)


def namespaces(*names: str, **labels: dict[str, str]) -> list[NamespaceInfo]:
    return [NamespaceInfo(n, labels.get(n.replace("-", "_"), {})) for n in names]


def plan(spec: SyncSpec, known: dict[str, list[NamespaceInfo]], **kw: Any) -> Plan:
    return plan_copies(
        spec,
        kw.pop("obj", source()),
        origin=ORIGIN,
        namespaced=kw.pop("namespaced", True),
        clusters=CLUSTERS,
        namespaces=known,
    )


def where(result: Plan) -> set[tuple[str, str, str]]:
    return {(c.cluster, c.namespace, c.name) for c in result.copies}


# --- examples ----------------------------------------------------------------------------------


def test_wildcard_covers_every_namespace_but_the_source() -> None:
    result = plan(sync(Destination("*")), {MASTER: namespaces(SOURCE_NS, "a", "b")})
    assert where(result) == {(MASTER, "a", "regcred"), (MASTER, "b", "regcred")}
    assert [(s.namespace, s.reason) for s in result.skipped] == [(SOURCE_NS, SOURCE_ITSELF)]


def test_copy_is_cleaned_labelled_and_hashed() -> None:
    result = plan(sync(Destination("a", name="global")), {MASTER: namespaces("a")})
    (made,) = result.copies
    metadata = made.obj["metadata"]
    assert (metadata["name"], metadata["namespace"]) == ("global", "a")
    assert "uid" not in metadata
    assert "resourceVersion" not in metadata
    assert metadata["labels"] == {"app": "x", "synchub.io/managed": "true"}
    assert metadata["annotations"] == {
        "note": "kept",
        "synchub.io/origin": ORIGIN.annotation,
        "synchub.io/source": f"{MASTER}/{SOURCE_NS}/regcred",
        "synchub.io/desired-hash": made.desired_hash,
    }
    assert made.obj["data"] == source()["data"]


def test_keys_keep_and_rename() -> None:
    destination = Destination("a", keys=(("a", "renamed"),))
    (made,) = plan(sync(destination), {MASTER: namespaces("a")}).copies
    assert made.obj["data"] == {"renamed": "QQ=="}
    missing = plan(sync(Destination("a", keys=(("zz", "zz"),))), {MASTER: namespaces("a")})
    assert not missing.copies
    assert [s.reason for s in missing.skipped] == [KEY_NOT_FOUND]
    assert "'zz'" in missing.skipped[0].message


def test_named_namespace_missing_or_terminating_is_reported() -> None:
    known = {MASTER: [NamespaceInfo("gone", terminating=True)]}
    result = plan(sync(Destination("absent"), Destination("gone")), known)
    assert not result.copies
    assert {s.reason for s in result.skipped} == {NAMESPACE_NOT_FOUND, "NamespaceTerminating"}


def test_namespace_and_cluster_scoped_sources_are_refused() -> None:
    known = {MASTER: namespaces("a")}
    refused = plan(sync(Destination("*")), known, obj=source(kind="Namespace"))
    assert refused.refused
    assert not refused.copies
    scoped = plan(sync(Destination("*")), known, namespaced=False, obj=source(kind="ClusterRole"))
    assert "cluster-scoped" in scoped.refused


def test_clusters_by_name_and_selector_and_unknown_names() -> None:
    eu = LabelSelector((Requirement("region", Operator.IN, frozenset({"eu"})),))
    destination = Destination("a", clusters=ClusterChoice(names=("west", "north"), selector=eu))
    known = {name: namespaces("a") for name in ("master", "east", "west")}
    result = plan(sync(destination), known)
    assert {c.cluster for c in result.copies} == {"east", "west"}
    assert [(s.cluster, s.reason) for s in result.skipped] == [("north", "UnknownCluster")]


def test_clusters_without_known_namespaces_are_pending() -> None:
    everywhere = Destination("*", clusters=ClusterChoice(selector=LabelSelector()))
    result = plan(sync(everywhere), {MASTER: namespaces("a")})
    assert result.pending == {"east", "west"}
    assert {c.cluster for c in result.copies} == {MASTER}


# --- properties --------------------------------------------------------------------------------

NAMES = st.sampled_from([SOURCE_NS, "a", "b", "c", "kube-system", "team-x"])
LABELS = st.dictionaries(st.sampled_from(["team", "env"]), st.sampled_from(["a", "b"]), max_size=2)
NAMESPACE = st.builds(NamespaceInfo, NAMES, LABELS, st.booleans())
KNOWN = st.dictionaries(
    st.sampled_from([c.name for c in CLUSTERS]),
    st.lists(NAMESPACE, max_size=6, unique_by=lambda n: n.name),
    max_size=3,
)
SELECTOR = st.one_of(
    st.none(),
    st.builds(
        lambda v: LabelSelector((Requirement("team", Operator.IN, frozenset({v})),)),
        st.sampled_from(["a", "b"]),
    ),
)
CHOICE = st.one_of(
    st.just(ClusterChoice()),
    st.builds(
        ClusterChoice,
        st.one_of(st.none(), st.tuples(st.sampled_from(["east", "west", "nowhere"]))),
        st.just(LabelSelector()),
    ),
)
DESTINATION = st.builds(
    Destination,
    st.one_of(st.just("*"), st.just(""), NAMES),
    SELECTOR,
    st.frozensets(NAMES, max_size=2),
    st.one_of(st.none(), st.sampled_from(["regcred", "other"])),
    CHOICE,
    st.one_of(st.none(), st.just((("a", "x"),))),
)
SPECS = st.lists(DESTINATION, min_size=1, max_size=4).map(lambda ds: sync(*ds))


@given(SPECS, KNOWN)
def test_plans_obey_the_rules(spec: SyncSpec, known: dict[str, list[NamespaceInfo]]) -> None:
    obj = source()
    before = copy.deepcopy((spec, obj, known))
    result = plan(spec, known, obj=obj)
    assert (spec, obj, known) == before, "inputs are never mutated"
    places = [(c.cluster, c.namespace, c.name) for c in result.copies]
    assert len(places) == len(set(places)), "one copy per (cluster, namespace, name)"
    assert (MASTER, SOURCE_NS, "regcred") not in places, "never the source itself"
    for made in result.copies:
        namespace = {n.name: n for n in known[made.cluster]}[made.namespace]
        assert not namespace.terminating
        assert made.cluster not in result.pending
        labels = made.obj["metadata"]["labels"]
        assert labels["synchub.io/managed"] == "true"
        annotations = made.obj["metadata"]["annotations"]
        assert annotations["synchub.io/desired-hash"] == made.desired_hash
        assert "kubectl.kubernetes.io/last-applied-configuration" not in annotations
        assert set(made.obj["data"]) in ({"a", "b"}, {"x"})
    assert result.pending <= {c.name for c in CLUSTERS} - set(known)


@given(KNOWN, st.frozensets(NAMES, max_size=3))
def test_wildcard_fills_every_live_namespace_not_excluded(
    known: dict[str, list[NamespaceInfo]], exclude: frozenset[str]
) -> None:
    everywhere = ClusterChoice(selector=LabelSelector())
    result = plan(sync(Destination("*", exclude=exclude, clusters=everywhere)), known)
    expected = {
        (cluster, n.name, "regcred")
        for cluster, found in known.items()
        for n in found
        if not n.terminating and n.name not in exclude and (cluster, n.name) != (MASTER, SOURCE_NS)
    }
    assert where(result) == expected


@given(KNOWN, st.sampled_from(["Namespace", "Secret"]), st.booleans())
def test_namespaces_and_cluster_scoped_kinds_never_copy(
    known: dict[str, list[NamespaceInfo]], kind: str, namespaced: bool
) -> None:
    result = plan(sync(Destination("*")), known, obj=source(kind=kind), namespaced=namespaced)
    if kind == "Namespace" or not namespaced:
        assert result.refused
        assert result.copies == ()
    else:
        assert not result.refused
