"""Unit tests for hub.core.copy_resolve: one resolution path for the hub and ``render``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hub.core.copy_resolve import (
    NOT_FOUND,
    PENDING,
    Scopes,
    Unreadable,
    forbidden,
    placed_namespace,
    problem_lines,
    resolve_copies,
    source_refs,
    source_resources,
)
from hub.core.copy_rules import RULES_ANNOTATION, parse_rules
from hub.core.errors import ResourceNameError, UnknownResource
from hub.core.objects import Obj, ObjectRef
from hub.core.problems import Problem

REPLACE = "k8s-copier.fig.org/replace-spec.template.data"
LITERAL = "k8s-copier.fig.org/replace-spec.template.metadata.labels.team"


@dataclass(frozen=True)
class Info:
    """A resource scope, as discovery resolves it."""

    group: str
    resource: str
    namespaced: bool


SECRETS = Info("", "secrets", True)
NODES = Info("", "nodes", False)


def secret(namespace: str, name: str, data: dict[str, str]) -> Obj:
    return {"metadata": {"name": name, "namespace": namespace}, "data": data}


def test_a_namespaced_source_defaults_to_the_target_namespace() -> None:
    parsed = parse_rules({REPLACE: "secrets:cert:data"})
    scopes: Scopes = {"secrets": SECRETS}
    store = {ObjectRef("m", "", "secrets", "web", "cert"): secret("web", "cert", {"k": "dg=="})}
    result = resolve_copies(
        "m", "web", parsed, scopes, lambda ref: store.get(ref, NOT_FOUND), cross_namespace="deny"
    )
    assert result.problems == []
    assert [value for _, value in result.pairs] == [{"k": "dg=="}]
    assert result.sources == set(store)
    assert source_refs("m", "web", parsed, scopes) == set(store)


def test_unreadable_sources_are_problems_or_waiting() -> None:
    parsed = parse_rules({REPLACE: "secrets:cert:data"})
    scopes: Scopes = {"secrets": SECRETS}

    def judge(answer: Unreadable) -> tuple[list[Problem], bool]:
        result = resolve_copies(
            "m", "web", parsed, scopes, lambda _ref: answer, cross_namespace="deny"
        )
        assert result.pairs == []
        return result.problems, result.waiting

    assert judge(PENDING) == ([], True)
    missing, waiting = judge(NOT_FOUND)
    assert not waiting
    assert missing == [Problem("SourceNotFound", f"{REPLACE}: secrets web/cert not found")]
    refused, waiting = judge(forbidden("secrets is forbidden"))
    assert not waiting
    assert refused == [
        Problem(
            "SourceNotFound", f"{REPLACE}: cannot read secrets: forbidden (secrets is forbidden)"
        )
    ]
    assert problem_lines(refused) == [f"SourceNotFound: {refused[0].message}"]


def test_unresolvable_resource_names_are_invalid_annotations() -> None:
    parsed = parse_rules({REPLACE: "widgets:cert:data"})
    for error, unknown in (
        (UnknownResource("m", "widgets"), True),
        (ResourceNameError("'widgets' is not a resource name"), False),
    ):
        result = resolve_copies(
            "m", "web", parsed, {"widgets": error}, lambda _ref: NOT_FOUND, cross_namespace="deny"
        )
        assert [p.reason for p in result.problems] == ["InvalidAnnotation"]
        assert result.unknown_resource is unknown
        assert result.sources == set()
        assert source_refs("m", "web", parsed, {"widgets": error}) == set()


def test_a_cluster_scoped_target_reads_a_namespaced_source_from_no_namespace() -> None:
    # The hub's key of a cluster-scoped target has namespace ""; render must agree.
    parsed = parse_rules({REPLACE: "secrets:cert:data"})
    refs = source_refs("m", "", parsed, {"secrets": SECRETS})
    assert refs == {ObjectRef("m", "", "secrets", "", "cert")}
    assert source_refs("m", "web", parse_rules({REPLACE: "nodes:n1:data"}), {"nodes": NODES}) == {
        ObjectRef("m", "", "nodes", "", "n1")
    }


def test_cross_namespace_policy_applies_to_the_looked_up_source() -> None:
    parsed = parse_rules({REPLACE: "secrets:other/cert:data"})
    source = secret("other", "cert", {"k": "dg=="})
    for policy, allowed in (("deny", False), ("allow", True)):
        result = resolve_copies(
            "m", "web", parsed, {"secrets": SECRETS}, lambda _ref: source, cross_namespace=policy
        )
        assert bool(result.pairs) is allowed
        assert [p.reason for p in result.problems] == ([] if allowed else ["CrossNamespaceDenied"])


def test_literals_and_parse_errors_need_no_lookup() -> None:
    parsed = parse_rules({LITERAL: 'json:"blue"', "k8s-copier.fig.org/replace-": "x"})
    assert source_resources(parsed) == set()

    def never(_ref: ObjectRef) -> Obj:
        raise AssertionError("no source to look up")

    result = resolve_copies("m", "web", parsed, {}, never, cross_namespace="deny")
    assert [value for _, value in result.pairs] == ["blue"]
    assert [p.reason for p in result.problems] == ["InvalidAnnotation"]


namespaces = st.one_of(
    st.none(), st.just(""), st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)
)


@given(namespaces, st.booleans())
def test_placed_namespace_is_what_the_api_server_gives(
    namespace: str | None, namespaced: bool
) -> None:
    metadata: dict[str, Any] = {"name": "x"}
    if namespace is not None:
        metadata["namespace"] = namespace
    placed = placed_namespace({"metadata": metadata}, namespaced)
    if not namespaced:
        assert placed == ""
    else:
        assert placed == (namespace or "default")


@given(st.sets(st.from_regex(r"[a-z]{1,6}", fullmatch=True), min_size=1, max_size=4))
def test_every_source_read_is_reported_as_a_source(names: set[str]) -> None:
    rules = "\n".join(
        f"- {{from: {{resource: secrets, name: {n}, path: data}}, to: spec.template.data.{n}}}"
        for n in sorted(names)
    )
    parsed = parse_rules({RULES_ANNOTATION: rules})
    asked: set[ObjectRef] = set()

    def lookup(ref: ObjectRef) -> Obj | Unreadable:
        asked.add(ref)
        return NOT_FOUND

    result = resolve_copies(
        "m", "web", parsed, {"secrets": SECRETS}, lookup, cross_namespace="deny"
    )
    assert asked == result.sources == source_refs("m", "web", parsed, {"secrets": SECRETS})
    assert len(result.problems) == len(names)
