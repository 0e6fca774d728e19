"""Unit tests for hub.core.copy_rules: annotation parsing, conflicts, resolve and apply."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.core.copy_rules import (
    CROSS_NS_ANNOTATION,
    RULES_ANNOTATION,
    SEED_PREFIX,
    ParsedRules,
    Resolved,
    ResolveError,
    Rule,
    RuleError,
    SourceRef,
    apply_values,
    needs_write,
    parse_rules,
    resolve,
    values_equal,
)
from hub.core.paths import Index, Key, PathSetError, parse_path

TLS_SECRET: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "cloud-certificate", "namespace": "web"},
    "type": "kubernetes.io/tls",
    "data": {"tls.crt": "Q0VSVA==", "tls.key": "S0VZ", "ca.crt": "Q0E="},
}


def seed(dst: str, value: str) -> ParsedRules:
    return parse_rules({SEED_PREFIX + dst: value})


def one_rule(parsed: ParsedRules) -> Rule:
    assert parsed.errors == ()
    assert len(parsed.rules) == 1
    return parsed.rules[0]


def one_error(parsed: ParsedRules, reason: str = "InvalidAnnotation") -> RuleError:
    assert parsed.rules == ()
    assert len(parsed.errors) == 1
    error = parsed.errors[0]
    assert error.reason == reason
    assert "\n" not in error.message
    return error


def rule_list(items: Any) -> ParsedRules:
    return parse_rules({RULES_ANNOTATION: json.dumps(items)})


def test_constants() -> None:
    assert SEED_PREFIX == "k8s-copier.fig.org/replace-"
    assert RULES_ANNOTATION == "synchub.io/copy"
    assert CROSS_NS_ANNOTATION == "synchub.io/copy-allowed-namespaces"


# --------------------------------------------------------------------------- seed form


@pytest.mark.parametrize(
    ("value", "resource", "name", "src"),
    [
        ("secrets:cloud-certificate:data", "secrets", "cloud-certificate", "data"),
        ("deployments:cloud-deployment:spec", "deployments", "cloud-deployment", "spec"),
        ("helmreleases:cloud-release:spec", "helmreleases", "cloud-release", "spec"),
    ],
)
def test_seed_examples(value: str, resource: str, name: str, src: str) -> None:
    dst = "spec.template.data" if resource == "secrets" else "spec.template.spec"
    rule = one_rule(seed(dst, value))
    assert rule.dest == parse_path(dst)
    assert rule.source == SourceRef(resource, name, None)
    assert rule.src_path == (Key(src),)
    assert rule.origin == SEED_PREFIX + dst
    assert rule.keys is None


@pytest.mark.parametrize(
    "resource",
    ["Secret", "secret", "deployments.apps", "helmreleases.helm.toolkit.fluxcd.io", "x.v1.g"],
)
def test_seed_resource_is_kept_raw(resource: str) -> None:
    rule = one_rule(seed("spec.x", f"{resource}:name:spec"))
    assert rule.source is not None
    assert rule.source.resource == resource


def test_seed_namespace_and_name() -> None:
    rule = one_rule(seed("spec.template.data", "secrets:cert-manager/cloud-certificate:data"))
    assert rule.source == SourceRef("secrets", "cloud-certificate", "cert-manager")


def test_seed_src_path_may_contain_colons() -> None:
    rule = one_rule(seed("spec.x", "configmaps:cfg:data.a:b:c"))
    assert rule.src_path == (Key("data"), Key("a:b:c"))


def test_seed_src_path_uses_full_grammar() -> None:
    rule = one_rule(seed("spec.x", "secrets:cert:data['ca.crt']"))
    assert rule.src_path == (Key("data"), Key("ca.crt"))
    rule = one_rule(seed("spec.x", "deployments:d:spec.template.spec.containers[0].image"))
    assert rule.src_path[-2:] == (Index(0), Key("image"))


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("json:1", 1),
        ("json:1.5", 1.5),
        ("json:-3", -3),
        ("json:null", None),
        ("json:true", True),
        ('json:"text"', "text"),
        ('json:{"a": [1, {"b": null}]}', {"a": [1, {"b": None}]}),
        ("json:[]", []),
        ('json: "padded" ', "padded"),
    ],
)
def test_seed_json_literals(literal: str, expected: Any) -> None:
    rule = one_rule(seed("spec.replicas", literal))
    assert rule.source is None
    assert rule.literal == expected
    assert type(rule.literal) is type(expected)
    assert resolve(rule, None) == Resolved(expected)


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("spec.x", "secrets:name", "found 2 parts"),
        ("spec.x", "secrets", "found 1 part)"),
        ("spec.x", "", "found 1 part"),
        ("spec.x", ":name:data", "resource is empty"),
        ("spec.x", "secrets::data", "source name is empty"),
        ("spec.x", "secrets:name:", "source path is empty"),
        ("spec.x", "secrets:a/b/c:data", "one '/' at most"),
        ("spec.x", "secrets:/name:data", "empty namespace or name"),
        ("spec.x", "secrets:ns/:data", "empty namespace or name"),
        ("spec.x", "secrets:Bad_Name:data", "not a valid object name"),
        ("spec.x", "secrets:-name:data", "not a valid object name"),
        ("spec.x", "secrets:" + "a" * 254 + ":data", "at most 253"),
        ("spec.x", "secrets:ns.with.dots/name:data", "not a valid namespace"),
        ("spec.x", "secrets/status:name:data", "subresources"),
        ("spec.x", "sec rets:name:data", "not a resource name"),
        ("spec.x", "secrets..x:name:data", "not a resource name"),
        ("spec.x", "secrets:name:data..x", "source path: invalid path"),
        ("spec.x", "secrets:name:data[x]", "non-negative integer"),
        ("spec.x", "json:", "empty JSON literal"),
        ("spec.x", "json:{bad", "invalid JSON literal"),
        ("spec.x", "json:NaN", "invalid JSON literal"),
        ("spec.x", "json:1e999", "non-finite"),
        ("spec.x", "json:" + "9" * 5000, "invalid JSON literal"),
        ("spec.x", "json:" + "[" * 70 + "]" * 70, "nested more than"),
        ("spec.x", "json:" + "[" * 100000, "invalid JSON literal"),
        ("", "secrets:name:data", "destination path is empty"),
        ("spec..x", "secrets:name:data", "empty segment"),
        ("spec.x[0]", "secrets:name:data", "no brackets"),
        ("spec.['x']", "secrets:name:data", "no brackets"),
        ("status.x", "json:1", "status"),
        ("status", "json:1", "status"),
        ("metadata", "json:{}", "metadata.name"),
        ("metadata.name", "json:1", "metadata.name"),
        ("metadata.namespace", "json:1", "metadata.namespace"),
        ("metadata.uid", "json:1", "metadata.uid"),
        ("metadata.resourceVersion", "json:1", "metadata.resourceVersion"),
        ("apiVersion", "json:1", "apiVersion"),
        ("kind", "json:1", "kind"),
        ("metadata.annotations", "json:{}", "copy annotations"),
        ("spec", "json:null", "whole spec"),
        ("spec", "secrets:name:data", "whole spec"),
    ],
)
def test_seed_malformed_is_an_error_value(key: str, value: str, fragment: str) -> None:
    error = one_error(seed(key, value))
    assert fragment in error.message
    assert error.origin == SEED_PREFIX + key


def test_error_messages_do_not_echo_json_literals() -> None:
    error = one_error(seed("spec.x", 'json:{"password": "hunter2",}'))
    assert "hunter2" not in error.message


def test_metadata_labels_and_single_annotations_are_writable() -> None:
    one_rule(seed("metadata.labels", "json:{}"))
    one_rule(seed("metadata.annotations.team", 'json:"web"'))


def test_unrelated_annotations_are_ignored() -> None:
    parsed = parse_rules({"other.io/x": "y", "k8s-copier.fig.org/other": "z"})
    assert parsed == ParsedRules((), ())


def test_one_bad_annotation_does_not_drop_others() -> None:
    parsed = parse_rules(
        {
            SEED_PREFIX + "spec.a": "secrets:ok:data",
            SEED_PREFIX + "spec.b": "secrets:broken",
        }
    )
    assert [r.origin for r in parsed.rules] == [SEED_PREFIX + "spec.a"]
    assert [e.origin for e in parsed.errors] == [SEED_PREFIX + "spec.b"]


# --------------------------------------------------------------------------- rule-list form


def test_rule_list_yaml() -> None:
    text = """
- to: spec.template.data
  from: {resource: secrets, name: cloud-certificate, namespace: certs, path: data}
  keys: [ca.crt]
- to: spec.template.data2
  from: {resource: secrets, name: cloud-certificate, path: data}
  keys: {ca.crt: ca.pem}
- to: spec.replicas
  value: 3
"""
    parsed = parse_rules({RULES_ANNOTATION: text})
    assert parsed.errors == ()
    first, second, third = parsed.rules
    assert first.source == SourceRef("secrets", "cloud-certificate", "certs")
    assert first.keys == (("ca.crt", "ca.crt"),)
    assert first.origin == "synchub.io/copy[0]"
    assert second.source == SourceRef("secrets", "cloud-certificate", None)
    assert second.keys == (("ca.crt", "ca.pem"),)
    assert third.source is None
    assert third.literal == 3
    assert third.dest == (Key("spec"), Key("replicas"))


def test_rule_list_json_and_full_path_grammar() -> None:
    parsed = rule_list(
        [
            {
                "to": "spec.template.data['ca.crt']",
                "from": {"resource": "Secret", "name": "c", "path": "data['ca.crt']"},
            }
        ]
    )
    rule = one_rule(parsed)
    assert rule.dest == (Key("spec"), Key("template"), Key("data"), Key("ca.crt"))
    assert rule.src_path == (Key("data"), Key("ca.crt"))


def test_rule_list_empty_list_means_no_rules() -> None:
    assert parse_rules({RULES_ANNOTATION: "[]"}) == ParsedRules((), ())


def test_rule_list_value_null_is_a_literal() -> None:
    rule = one_rule(rule_list([{"to": "spec.x", "value": None}]))
    assert rule.source is None
    assert rule.literal is None


def test_rule_list_timestamps_stay_strings() -> None:
    rule = one_rule(parse_rules({RULES_ANNOTATION: "- {to: spec.x, value: 2024-01-01}"}))
    assert rule.literal == "2024-01-01"


SRC = {"resource": "secrets", "name": "cert", "path": "data"}
DEEP: Any = []
for _ in range(80):
    DEEP = [DEEP]


@pytest.mark.parametrize(
    ("items", "fragment"),
    [
        (["spec.x"], "must be a mapping"),
        ([{"to": "spec.x", "value": 1, "extra": 2}], "unknown field(s) 'extra'"),
        ([{"value": 1}], "'to' (the destination path) is required"),
        ([{"to": 5, "value": 1}], "'to' must be a string, not a number"),
        ([{"to": "", "value": 1}], "destination path is empty"),
        ([{"to": "spec..x", "value": 1}], "empty segment"),
        ([{"to": "status.x", "value": 1}], "status"),
        ([{"to": "metadata.annotations['synchub.io/copy']", "value": 1}], "copy annotations"),
        ([{"to": "spec.x"}], "needs 'from'"),
        ([{"to": "spec.x", "value": 1, "from": SRC}], "not both"),
        ([{"to": "spec.x", "value": 1, "keys": ["a"]}], "'keys' applies only with 'from'"),
        ([{"to": "spec.x", "from": "secrets:cert:data"}], "'from' must be a mapping"),
        ([{"to": "spec.x", "from": {**SRC, "kind": "x"}}], "unknown field(s) 'kind'"),
        ([{"to": "spec.x", "from": {"name": "c", "path": "data"}}], "'from.resource' is required"),
        ([{"to": "spec.x", "from": {"resource": "secrets", "path": "d"}}], "'from.name'"),
        ([{"to": "spec.x", "from": {"resource": "secrets", "name": "c"}}], "'from.path' is req"),
        ([{"to": "spec.x", "from": {**SRC, "path": ""}}], "source path is empty"),
        ([{"to": "spec.x", "from": {**SRC, "path": "a["}}], "unclosed"),
        ([{"to": "spec.x", "from": {**SRC, "name": "Bad"}}], "not a valid object name"),
        ([{"to": "spec.x", "from": {**SRC, "name": 3}}], "'from.name' must be a string"),
        ([{"to": "spec.x", "from": {**SRC, "namespace": "a/b"}}], "not a valid namespace"),
        ([{"to": "spec.x", "from": {**SRC, "resource": ""}}], "resource is empty"),
        ([{"to": "spec.x", "from": SRC, "keys": "ca.crt"}], "'keys' must be a list"),
        ([{"to": "spec.x", "from": SRC, "keys": []}], "'keys' is empty"),
        ([{"to": "spec.x", "from": SRC, "keys": [1]}], "non-empty strings"),
        ([{"to": "spec.x", "from": SRC, "keys": [""]}], "non-empty strings"),
        ([{"to": "spec.x", "from": SRC, "keys": ["a", "a"]}], "'a' listed twice"),
        ([{"to": "spec.x", "from": SRC, "keys": {"a": "x", "b": "x"}}], "'x' written twice"),
        ([{"to": "spec.x", "value": DEEP}], "nested more than"),
    ],
)
def test_rule_list_bad_item(items: list[Any], fragment: str) -> None:
    error = one_error(rule_list(items))
    assert fragment in error.message
    assert error.origin == "synchub.io/copy[0]"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("{to: spec.x}", "found a mapping"),
        ("just text", "found a string"),
        ("[1, 2", "not valid JSON or YAML"),
        ("- a: &x [1]\n- b: *x", "aliases are not supported"),
        ("- {to: spec.x, value: !!binary aGk=}", "cannot represent"),
        ("- {to: spec.x, value: !!python/object:os.system {}}", "not valid JSON or YAML"),
        ("- {to: spec.x, value: .nan}", "non-finite"),
        ("- {to: spec.x, value: {1: a}}", "not a string"),
        ("- {to: spec.x, value: " + "9" * 5000 + "}", "not valid JSON or YAML"),
        ("[" * 100000, "not valid JSON or YAML"),
        ("a\n---\nb", "not valid JSON or YAML"),
    ],
)
def test_rule_list_bad_annotation(text: str, fragment: str) -> None:
    error = one_error(parse_rules({RULES_ANNOTATION: text}))
    assert fragment in error.message
    assert error.origin in (RULES_ANNOTATION, RULES_ANNOTATION + "[0]")


def test_rule_list_bad_item_drops_only_itself() -> None:
    parsed = rule_list(
        [{"to": "spec.a", "value": 1}, {"to": "spec.b"}, {"to": "spec.c", "value": 2}]
    )
    assert [r.origin for r in parsed.rules] == ["synchub.io/copy[0]", "synchub.io/copy[2]"]
    assert [e.origin for e in parsed.errors] == ["synchub.io/copy[1]"]


def test_yaml_error_does_not_echo_content() -> None:
    error = one_error(parse_rules({RULES_ANNOTATION: "- {to: spec.x, value: 's3cr3t}"}))
    assert "s3cr3t" not in error.message


# --------------------------------------------------------------------------- conflicts


def test_overlapping_destinations_conflict() -> None:
    parsed = parse_rules(
        {
            SEED_PREFIX + "spec.template": "deployments:d:spec",
            SEED_PREFIX + "spec.template.data": "secrets:s:data",
            SEED_PREFIX + "spec.other": "json:1",
        }
    )
    assert [r.origin for r in parsed.rules] == [SEED_PREFIX + "spec.other"]
    (error,) = parsed.errors
    assert error.reason == "ConflictingRules"
    assert "spec.template" in error.message
    assert SEED_PREFIX + "spec.template.data" in error.message


def test_equal_destinations_across_forms_conflict() -> None:
    parsed = parse_rules(
        {
            SEED_PREFIX + "spec.template.data": "secrets:s:data",
            RULES_ANNOTATION: json.dumps([{"to": "spec.template.data", "value": {}}]),
        }
    )
    assert parsed.rules == ()
    assert [e.reason for e in parsed.errors] == ["ConflictingRules"]


def test_digit_key_and_index_conflict() -> None:
    parsed = rule_list(
        [{"to": "spec.items.0", "value": 1}, {"to": "spec.items[0].name", "value": "x"}]
    )
    assert parsed.rules == ()
    assert len(parsed.errors) == 1


def test_one_error_per_conflicting_pair() -> None:
    parsed = rule_list(
        [
            {"to": "spec.a", "value": 1},
            {"to": "spec.a.b", "value": 2},
            {"to": "spec.a.c", "value": 3},
            {"to": "spec.ab", "value": 4},
        ]
    )
    assert [r.origin for r in parsed.rules] == ["synchub.io/copy[3]"]
    assert len(parsed.errors) == 2
    assert all(e.reason == "ConflictingRules" for e in parsed.errors)


def test_sibling_destinations_do_not_conflict() -> None:
    parsed = parse_rules(
        {
            SEED_PREFIX + "spec.template.data": "secrets:s:data",
            SEED_PREFIX + "spec.template.spec": "deployments:d:spec",
        }
    )
    assert len(parsed.rules) == 2
    assert parsed.errors == ()


# --------------------------------------------------------------------------- hypothesis: no raise

text_or_seedish = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"[a-zA-Z.:/\[\]'\"0-9 -]{0,30}", fullmatch=True),
    st.builds(
        lambda a, b, c: f"{a}:{b}:{c}",
        st.text(max_size=8),
        st.text(max_size=8),
        st.text(max_size=8),
    ),
    st.text(max_size=20).map(lambda t: "json:" + t),
)


@given(
    st.dictionaries(
        st.one_of(
            st.text(max_size=20), st.sampled_from(["spec", "spec.a", "spec.a.b", "spec.b"])
        ).map(lambda t: SEED_PREFIX + t),
        st.one_of(text_or_seedish, st.sampled_from(["json:1", "secrets:s:data"])),
        max_size=4,
    )
)
def test_parse_rules_never_raises_on_seed_input(annotations: dict[str, str]) -> None:
    parsed = parse_rules(annotations)
    # Every annotation is accounted for: as a rule, or in an error (conflicts name both).
    mentioned = [r.origin for r in parsed.rules] + [
        f"{e.origin} {e.message}" for e in parsed.errors
    ]
    for key in annotations:
        assert any(key in text for text in mentioned)


yamlish = st.one_of(
    st.text(max_size=60),
    st.from_regex(r"[-\[\]{}:, a-z.'\"\n!&*0-9]{0,60}", fullmatch=True),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(["to", "from", "value", "keys", "path", "name", "x"]),
                inner,
                max_size=4,
            )
        ),
        max_leaves=12,
    ).map(json.dumps),
)


@given(yamlish, st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3))
def test_parse_rules_never_raises_on_rule_list(text: str, others: dict[str, str]) -> None:
    parse_rules({RULES_ANNOTATION: text, **others})


# --------------------------------------------------------------------------- resolve


def source_rule(src: str, keys: tuple[tuple[str, str], ...] | None = None) -> Rule:
    return Rule(
        dest=parse_path("spec.template.data"),
        origin="test",
        source=SourceRef("secrets", "cloud-certificate", None),
        src_path=parse_path(src),
        literal=None,
        keys=keys,
    )


def test_resolve_whole_subtree_is_a_copy() -> None:
    result = resolve(source_rule("data"), TLS_SECRET)
    assert result == Resolved(TLS_SECRET["data"])
    assert isinstance(result, Resolved)
    assert result.value is not TLS_SECRET["data"]


def test_resolve_single_quoted_key() -> None:
    assert resolve(source_rule("data['ca.crt']"), TLS_SECRET) == Resolved("Q0E=")


def test_resolve_keys_selects_ca_crt_alone() -> None:
    rule = one_rule(
        rule_list([{"to": "spec.template.data", "from": {**SRC, "name": "c"}, "keys": ["ca.crt"]}])
    )
    assert resolve(rule, TLS_SECRET) == Resolved({"ca.crt": "Q0E="})


def test_resolve_keys_renames() -> None:
    rule = one_rule(
        rule_list(
            [
                {
                    "to": "spec.template.data",
                    "from": SRC,
                    "keys": {"ca.crt": "ca.pem", "tls.crt": "c"},
                }
            ]
        )
    )
    assert resolve(rule, TLS_SECRET) == Resolved({"ca.pem": "Q0E=", "c": "Q0VSVA=="})


def test_resolve_missing_key_is_path_not_found() -> None:
    result = resolve(source_rule("data", (("ca.crt", "ca.crt"), ("nope", "x"))), TLS_SECRET)
    assert isinstance(result, ResolveError)
    assert result.reason == "PathNotFound"
    assert "'nope'" in result.message
    assert "Q0E=" not in result.message


def test_resolve_keys_on_non_map() -> None:
    result = resolve(source_rule("type", (("a", "a"),)), TLS_SECRET)
    assert isinstance(result, ResolveError)
    assert "needs a map" in result.message
    assert "kubernetes.io/tls" not in result.message


def test_resolve_missing_path() -> None:
    result = resolve(source_rule("data['tls.crt'].x"), TLS_SECRET)
    assert isinstance(result, ResolveError)
    assert result.reason == "PathNotFound"
    assert "secrets cloud-certificate" in result.message
    assert "Q0VSVA==" not in result.message
    assert result.origin == "test"


def test_resolve_literal_is_a_copy() -> None:
    rule = one_rule(seed("spec.x", 'json:{"a": [1]}'))
    result = resolve(rule, None)
    assert isinstance(result, Resolved)
    result.value["a"].append(2)
    assert rule.literal == {"a": [1]}


# --------------------------------------------------------------------------- apply / needs_write


def test_apply_values_replaces_and_creates() -> None:
    target = {"spec": {"template": {"data": {"old": "x"}, "keep": 1}}}
    before = copy.deepcopy(target)
    out = apply_values(
        target,
        [(parse_path("spec.template.data"), {"new": "y"}), (parse_path("spec.placement.a"), 2)],
    )
    assert out == {
        "spec": {"template": {"data": {"new": "y"}, "keep": 1}, "placement": {"a": 2}},
    }
    assert target == before


def test_apply_values_none_removes() -> None:
    target = {"spec": {"a": 1, "b": 2}}
    assert apply_values(target, [(parse_path("spec.a"), None)]) == {"spec": {"b": 2}}
    assert apply_values(target, [(parse_path("spec.z.y"), None)]) is target


def test_apply_values_shape_error() -> None:
    with pytest.raises(PathSetError):
        apply_values({"spec": "text"}, [(parse_path("spec.x"), 1)])


@pytest.mark.parametrize(
    ("target", "path", "value", "expected"),
    [
        ({"spec": {"replicas": 1.0}}, "spec.replicas", 1, False),
        ({"spec": {"replicas": 1}}, "spec.replicas", 2, True),
        ({"spec": {"replicas": 1}}, "spec.replicas", True, True),
        ({"spec": {}}, "spec.replicas", 1, True),
        ({"spec": {}}, "spec.replicas", None, False),
        ({"spec": {"replicas": None}}, "spec.replicas", None, False),
        ({"spec": {"replicas": 0}}, "spec.replicas", None, True),
        ({"spec": "text"}, "spec.replicas", None, False),
        ({"spec": {"d": {"a": 1, "b": [1.0]}}}, "spec.d", {"b": [1], "a": 1.0}, False),
    ],
)
def test_needs_write(target: Any, path: str, value: Any, expected: bool) -> None:
    assert needs_write(target, [(parse_path(path), value)]) is expected


def test_needs_write_after_apply_is_false() -> None:
    pairs = [(parse_path("spec.template.data"), {"a": "b"}), (parse_path("spec.x"), None)]
    out = apply_values({"spec": {"x": 1}}, pairs)
    assert not needs_write(out, pairs)


# --------------------------------------------------------------------------- values_equal


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (1, 1.0, True),
        (0, -0.0, True),
        (2**53, float(2**53), True),
        (1, 2, False),
        (True, 1, False),
        (1.0, True, False),
        (False, 0, False),
        (True, True, True),
        (None, None, True),
        (None, 0, False),
        ("1", 1, False),
        ({"a": 1}, {"a": 1.0}, True),
        ({"a": 1}, {"a": 1, "b": 2}, False),
        ([1, 2], [1.0, 2.0], True),
        ([1, 2], (1, 2), True),
        ([1, 2], [2, 1], False),
        ([1], {"0": 1}, False),
        (float("nan"), float("nan"), True),
        ({"a": [{"b": True}]}, {"a": [{"b": 1}]}, False),
    ],
)
def test_values_equal(a: Any, b: Any, expected: bool) -> None:
    assert values_equal(a, b) is expected
    assert values_equal(b, a) is expected


json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
json_docs = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=10,
)


@given(json_docs)
def test_values_equal_matches_json_round_trip(doc: Any) -> None:
    assert values_equal(doc, json.loads(json.dumps(doc)))
    assert values_equal(doc, copy.deepcopy(doc))
