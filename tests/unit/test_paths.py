"""Unit tests for hub.core.paths: the path grammar, reading and pure writing."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.core.paths import (
    MAX_SEGMENTS,
    FieldPath,
    Index,
    Key,
    PathError,
    PathNotFound,
    PathSetError,
    delete_path,
    format_path,
    get_path,
    parse_path,
    parse_plain_path,
    set_path,
)

# --------------------------------------------------------------------------- parse_path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("spec", (Key("spec"),)),
        ("spec.template.data", (Key("spec"), Key("template"), Key("data"))),
        ("containers[0].image", (Key("containers"), Index(0), Key("image"))),
        ("containers.[0].image", (Key("containers"), Index(0), Key("image"))),
        ("containers.0.image", (Key("containers"), Key("0"), Key("image"))),
        ("[3]", (Index(3),)),
        ("[3].name", (Index(3), Key("name"))),
        ("a[1][2]", (Key("a"), Index(1), Index(2))),
        ("data['tls.crt']", (Key("data"), Key("tls.crt"))),
        ('data.["tls.crt"]', (Key("data"), Key("tls.crt"))),
        ("['a.b'].c", (Key("a.b"), Key("c"))),
        ("['it\\'s']", (Key("it's"),)),
        ('["it\'s"]', (Key("it's"),)),
        ("['back\\\\slash']", (Key("back\\slash"),)),
        ("['']", (Key(""),)),
        ("['a b']", (Key("a b"),)),
        ("data.ca:crt", (Key("data"), Key("ca:crt"))),
        ("x[007]", (Key("x"), Index(7))),
    ],
)
def test_parse_path_valid(text: str, expected: FieldPath) -> None:
    assert parse_path(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty path"),
        ("a..b", "empty segment at character 3"),
        (".a", "empty segment at character 1"),
        ("a.", "trailing '.'"),
        ("a[0", "unclosed '['"),
        ("a[", "unclosed '['"),
        ("a['b", "unclosed quote"),
        ("a['b'", "unclosed '['"),
        ("a['b'x]", "expected ']'"),
        ("a[x]", "non-negative integer"),
        ("a[1.5]", "non-negative integer"),
        ("a[-1]", "negative index"),
        ("a[]", "empty index"),
        ("a[ 1]", "non-negative integer"),
        ("a[0]b", "expected '.' or '['"),
        ("a]b", "unexpected ']'"),
        ("a'b", "outside brackets"),
        ("a\\.b", "backslash"),
        ("a b", "whitespace"),
        ("a[" + "9" * 40 + "]", "too large"),
        (".".join(["a"] * (MAX_SEGMENTS + 1)), "more than"),
    ],
)
def test_parse_path_malformed(text: str, fragment: str) -> None:
    with pytest.raises(PathError, match=r"invalid path|empty path") as info:
        parse_path(text)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_path_error_is_a_value_error() -> None:
    assert issubclass(PathError, ValueError)
    assert issubclass(PathNotFound, LookupError)


def test_long_path_text_is_shortened_in_messages() -> None:
    with pytest.raises(PathError) as info:
        parse_path("x" * 1000 + "..")
    assert len(str(info.value)) < 200


def test_index_rejects_negative_and_bool() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        Index(-1)
    with pytest.raises(ValueError, match="non-negative"):
        Index(True)


# --------------------------------------------------------------------------- parse_plain_path


def test_parse_plain_path() -> None:
    assert parse_plain_path("spec.template.data") == (Key("spec"), Key("template"), Key("data"))
    assert parse_plain_path("spec.containers.0") == (Key("spec"), Key("containers"), Key("0"))


@pytest.mark.parametrize(
    "text",
    ["", "a..b", ".a", "a.", "a[0]", "a['b']", 'a."b"', "a]", "a b", "a\\b"],
)
def test_parse_plain_path_malformed(text: str) -> None:
    with pytest.raises(PathError):
        parse_plain_path(text)


# --------------------------------------------------------------------------- format_path


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ((), ""),
        ((Key("spec"), Key("template")), "spec.template"),
        ((Key("containers"), Index(0), Key("image")), "containers[0].image"),
        ((Key("containers"), Key("0")), "containers.0"),
        ((Index(2),), "[2]"),
        ((Key("data"), Key("tls.crt")), "data['tls.crt']"),
        ((Key("tls.crt"),), "['tls.crt']"),
        ((Key("it's"),), '["it\'s"]'),
        ((Key("a'b\"c"),), "['a\\'b\"c']"),
        ((Key(""),), "['']"),
    ],
)
def test_format_path(path: FieldPath, text: str) -> None:
    assert format_path(path) == text
    if path:
        assert parse_path(text) == path


keys = st.one_of(
    st.text(min_size=0, max_size=8),
    st.text(alphabet="ab.[]'\"\\ 0", max_size=6),
    st.from_regex(r"[0-9]{1,3}", fullmatch=True),
)
segments = st.one_of(keys.map(Key), st.integers(min_value=0, max_value=10**6).map(Index))
paths = st.lists(segments, min_size=1, max_size=8).map(tuple)


@given(paths)
def test_parse_format_round_trip(path: FieldPath) -> None:
    assert parse_path(format_path(path)) == path


@given(st.lists(st.from_regex(r"[A-Za-z0-9_:/-]{1,10}", fullmatch=True), min_size=1, max_size=6))
def test_plain_paths_format_plainly(parts: list[str]) -> None:
    text = ".".join(parts)
    path = parse_plain_path(text)
    assert format_path(path) == text
    assert parse_path(text) == path


@given(st.text(max_size=30))
def test_parse_path_only_raises_path_error(text: str) -> None:
    try:
        path = parse_path(text)
    except PathError as exc:
        message = str(exc)
    else:
        assert parse_path(format_path(path)) == path
        return
    assert "\n" not in message


# --------------------------------------------------------------------------- get_path

DOC: dict[str, Any] = {
    "spec": {
        "containers": [{"image": "a"}, {"image": "b"}],
        "data": {"tls.crt": "CERT", "n": 0, "empty": None},
    },
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("spec.containers[1].image", "b"),
        ("spec.containers.1.image", "b"),
        ("spec.data['tls.crt']", "CERT"),
        ("spec.data.n", 0),
        ("spec.data.empty", None),
    ],
)
def test_get_path(text: str, expected: Any) -> None:
    assert get_path(DOC, parse_path(text)) == expected


def test_get_empty_path_is_whole_object() -> None:
    assert get_path(DOC, ()) is DOC


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("status", "key 'status' not found at the top level"),
        ("spec.nope.x", "key 'nope' not found under 'spec' (no such key)"),
        ("spec.containers[5]", "index [5] not found under 'spec.containers'"),
        ("spec.containers.9", "the list has 2 items"),
        ("spec.containers.name", "found a list, not a map"),
        ("spec[0]", "found a map, not a list"),
        ("spec.data['tls.crt'].x", "found a string"),
        ("spec.data.empty.x", "found null"),
        ("spec.containers." + "9" * 30, "out of range"),
    ],
)
def test_get_path_missing(text: str, fragment: str) -> None:
    with pytest.raises(PathNotFound) as info:
        get_path(DOC, parse_path(text))
    assert fragment in str(info.value)


def test_get_path_error_never_shows_values() -> None:
    with pytest.raises(PathNotFound) as info:
        get_path(DOC, parse_path("spec.data['tls.crt'].x"))
    assert "CERT" not in str(info.value)
    assert info.value.depth == 3


# --------------------------------------------------------------------------- set_path


def test_set_path_replaces_subtree_without_merge() -> None:
    out = set_path(DOC, parse_path("spec.data"), {"new": 1})
    assert out["spec"]["data"] == {"new": 1}
    assert out["spec"]["containers"] is DOC["spec"]["containers"]  # shared, not copied


def test_set_path_creates_missing_maps() -> None:
    out = set_path({}, parse_path("spec.template.data"), {"a": "b"})
    assert out == {"spec": {"template": {"data": {"a": "b"}}}}


def test_set_path_null_intermediate_becomes_a_map() -> None:
    assert set_path({"spec": None}, parse_path("spec.x"), 1) == {"spec": {"x": 1}}


def test_set_path_list_element() -> None:
    out = set_path(DOC, parse_path("spec.containers[1].image"), "c")
    assert out["spec"]["containers"] == [{"image": "a"}, {"image": "c"}]
    assert DOC["spec"]["containers"][1]["image"] == "b"
    out = set_path(DOC, parse_path("spec.containers.0"), {"image": "z"})
    assert out["spec"]["containers"][0] == {"image": "z"}


def test_set_path_digit_key_on_a_map_is_a_key() -> None:
    assert set_path({}, parse_path("a.0"), 1) == {"a": {"0": 1}}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("spec.data['tls.crt'].x", "found a string"),
        ("spec.containers[2].image", "out of range"),
        ("spec.containers.name", "found a list, not a map"),
        ("spec[0]", "found a map, not a list"),
        ("spec.missing[0]", "cannot be created"),
    ],
)
def test_set_path_errors(text: str, fragment: str) -> None:
    with pytest.raises(PathSetError) as info:
        set_path(DOC, parse_path(text), 1)
    assert fragment in str(info.value)
    assert "CERT" not in str(info.value)


def test_set_empty_path_is_refused() -> None:
    with pytest.raises(PathError):
        set_path(DOC, (), 1)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=10,
)
key_paths = st.lists(st.text(alphabet="abc.", min_size=1, max_size=3).map(Key), min_size=1)


@given(json_values, key_paths.map(tuple), json_values)
def test_set_then_get_and_no_mutation(obj: Any, path: FieldPath, value: Any) -> None:
    before = copy.deepcopy(obj)
    try:
        out = set_path(obj, path, value)
    except PathSetError:
        pass
    else:
        assert get_path(out, path) == value
    assert obj == before


@given(st.dictionaries(st.sampled_from("abc"), json_values), key_paths.map(tuple), json_values)
def test_set_on_maps_always_succeeds(obj: dict[str, Any], path: FieldPath, value: Any) -> None:
    # Only keys on a map: every intermediate is either a map, created, or a scalar/list.
    before = copy.deepcopy(obj)
    try:
        out = set_path(obj, path, value)
    except PathSetError as exc:
        depth = exc.depth
    else:
        assert get_path(out, path) == value
        depth = -1
    # A failure is only possible below the top map: at an existing scalar or list.
    assert depth != 0
    assert obj == before


# --------------------------------------------------------------------------- delete_path


def test_delete_path() -> None:
    out = delete_path(DOC, parse_path("spec.data.n"))
    assert "n" not in out["spec"]["data"]
    assert "n" in DOC["spec"]["data"]


def test_delete_missing_path_returns_input() -> None:
    assert delete_path(DOC, parse_path("spec.nope.x")) is DOC
    assert delete_path(DOC, parse_path("spec.data['tls.crt'].x")) is DOC
    assert delete_path(DOC, parse_path("spec.containers[7].x")) is DOC


def test_delete_inside_list_element() -> None:
    out = delete_path(DOC, parse_path("spec.containers[0].image"))
    assert out["spec"]["containers"] == [{}, {"image": "b"}]


def test_delete_list_element_is_refused() -> None:
    with pytest.raises(PathSetError, match="cannot be removed"):
        delete_path(DOC, parse_path("spec.containers[0]"))
