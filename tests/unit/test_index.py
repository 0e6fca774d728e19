"""Tests for hub.runtime.index.DependencyIndex."""

from __future__ import annotations

from collections.abc import Hashable
from typing import TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.core.objects import GroupResource, ObjectRef
from hub.runtime.index import DependencyIndex

S = TypeVar("S", bound=Hashable)
T = TypeVar("T", bound=Hashable)


def secret(name: str) -> ObjectRef:
    return ObjectRef("master", "", "secrets", "ns", name)


def fed(name: str) -> ObjectRef:
    return ObjectRef("master", "types.kubefed.io", "federatedsecrets", "ns", name)


def sources_of(index: DependencyIndex[S, T], target: T) -> frozenset[S]:
    """The sources ``target`` depends on, read through the public reverse lookup."""
    return frozenset(s for s in index.sources() if target in index.dependents(s))


def test_forward_and_reverse_lookups() -> None:
    index: DependencyIndex[ObjectRef, ObjectRef] = DependencyIndex()
    index.set_sources(fed("a"), [secret("tls"), secret("ca")])
    index.set_sources(fed("b"), [secret("tls")])
    assert index.dependents(secret("tls")) == {fed("a"), fed("b")}
    assert index.dependents(secret("ca")) == {fed("a")}
    assert sources_of(index, fed("a")) == {secret("tls"), secret("ca")}
    assert len(index) == 2


def test_unknown_keys_give_empty_sets() -> None:
    index: DependencyIndex[str, str] = DependencyIndex()
    assert index.dependents("s") == frozenset()
    assert sources_of(index, "t") == frozenset()
    assert len(index) == 0


def test_set_sources_replaces_the_whole_set() -> None:
    index: DependencyIndex[str, str] = DependencyIndex()
    index.set_sources("t", ["s1", "s2"])
    index.set_sources("t", ["s2", "s3"])  # an annotation was edited
    assert sources_of(index, "t") == {"s2", "s3"}
    assert index.dependents("s1") == frozenset()
    assert set(index.sources()) == {"s2", "s3"}  # no stale empty entry for s1


def test_duplicate_rules_on_one_pair_collapse() -> None:
    index: DependencyIndex[str, str] = DependencyIndex()
    index.set_sources("t", ["s", "s", "s"])
    assert sources_of(index, "t") == {"s"}
    assert index.dependents("s") == {"t"}


def test_empty_sources_and_remove_target_leave_nothing_behind() -> None:
    index: DependencyIndex[str, str] = DependencyIndex()
    index.set_sources("t1", ["s"])
    index.set_sources("t2", ["s"])
    index.set_sources("t1", [])  # all annotations removed
    assert index.dependents("s") == {"t2"}
    index.remove_target("t2")
    index.remove_target("never-added")
    assert len(index) == 0
    assert len(index.sources()) == 0


def test_set_sources_reports_first_references() -> None:
    index: DependencyIndex[str, str] = DependencyIndex()
    assert index.set_sources("t1", ["s1", "s2"]) == {"s1", "s2"}
    assert index.set_sources("t2", ["s2", "s3"]) == {"s3"}
    assert index.set_sources("t1", ["s1"]) == frozenset()
    index.remove_target("t1")
    assert index.set_sources("t3", ["s1"]) == {"s1"}  # unreferenced in between


def test_results_are_snapshots() -> None:
    index: DependencyIndex[str, str] = DependencyIndex()
    index.set_sources("t", ["s"])
    before = index.dependents("s")
    index.set_sources("t2", ["s"])
    assert before == {"t"}


def test_referenced_kinds() -> None:
    index: DependencyIndex[ObjectRef, ObjectRef] = DependencyIndex()
    secrets = GroupResource("", "secrets")
    deployments = GroupResource("apps", "deployments")
    index.set_sources(fed("a"), [secret("tls")])
    assert {s.group_resource for s in index.sources()} == {secrets}
    assert deployments not in {s.group_resource for s in index.sources()}
    index.remove_target(fed("a"))
    assert not any(s.group_resource == secrets for s in index.sources())


# --- property test -------------------------------------------------------------------------

SOURCES = st.sampled_from(["s1", "s2", "s3", "s4"])
TARGETS = st.sampled_from(["t1", "t2", "t3"])
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), TARGETS, st.lists(SOURCES, max_size=5)),
        st.tuples(st.just("remove"), TARGETS, st.just([])),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(ops=OPS)
def test_maps_agree_with_a_model_and_hold_no_empty_sets(
    ops: list[tuple[str, str, list[str]]],
) -> None:
    index: DependencyIndex[str, str] = DependencyIndex()
    model: dict[str, frozenset[str]] = {}
    for op, target, sources in ops:
        if op == "set":
            index.set_sources(target, sources)
            model[target] = frozenset(sources)
        else:
            index.remove_target(target)
            model.pop(target, None)
        check(index, {t: s for t, s in model.items() if s})


def check(index: DependencyIndex[str, str], model: dict[str, frozenset[str]]) -> None:
    assert len(index) == len(model)
    for target in ["t1", "t2", "t3"]:
        assert sources_of(index, target) == model.get(target, frozenset())
    referenced = set().union(*model.values())
    assert set(index.sources()) == referenced  # no source without dependents
    for source in ["s1", "s2", "s3", "s4"]:
        dependents = index.dependents(source)
        assert dependents == {t for t, s in model.items() if source in s}
    # Internal maps: the forward map agrees with the model, no empty sets anywhere.
    assert {t: frozenset(s) for t, s in index._sources_by_target.items()} == model
    assert all(index._sources_by_target.values())
    # A lone dependent is kept bare, two or more in a set (never an empty or a single one).
    assert all(
        len(d) > 1 if isinstance(d, set) else d in model for d in index._targets_by_source.values()
    )
