"""Tests for hub.core.patch: the merge patch (RFC 7386) between two versions of an object."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.core.patch import merge_patch

KEYS = st.sampled_from(["a", "b", "c", "data", "spec", "x.y", ""])
SCALARS = st.one_of(
    st.booleans(), st.integers(-3, 3), st.floats(-2, 2, allow_nan=False), st.text(max_size=3)
)
#: Values a list may hold: anything JSON, null included (lists are replaced whole).
ANY_JSON = st.recursive(
    st.one_of(st.none(), SCALARS),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=4,
)
#: Object members: never null (a merge patch cannot set a member to null, null removes it).
MEMBER = st.recursive(
    st.one_of(SCALARS, st.lists(ANY_JSON, max_size=3)),
    lambda inner: st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=6,
)
OBJECTS = st.dictionaries(KEYS, MEMBER, max_size=4)
#: The machine is shared: judge the property, not the speed of generation.
RELAXED = settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)


def apply(target: Any, patch: Any) -> Any:
    """RFC 7386 MergePatch(target, patch), as the API server applies it."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply(result.get(key), value)
    return result


def exact(value: Any) -> str:
    """A comparison that keeps 1, 1.0 and True apart, as the server stores them."""
    return json.dumps(value, sort_keys=True)


@RELAXED
@given(OBJECTS, OBJECTS)
def test_applying_the_patch_to_old_gives_new(old: dict[str, Any], new: dict[str, Any]) -> None:
    assert exact(apply(old, merge_patch(old, new))) == exact(new)


@RELAXED
@given(OBJECTS, OBJECTS)
def test_the_patch_leaves_its_inputs_alone(old: dict[str, Any], new: dict[str, Any]) -> None:
    before = exact((old, new))
    merge_patch(old, new)
    assert exact((old, new)) == before


@RELAXED
@given(OBJECTS)
def test_no_change_is_an_empty_patch(obj: dict[str, Any]) -> None:
    assert merge_patch(obj, copy.deepcopy(obj)) == {}


@RELAXED
@given(OBJECTS, OBJECTS)
def test_the_patch_names_only_what_changed(old: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in merge_patch(old, new).items():
        if value is None:
            assert key in old
            assert key not in new
        else:
            assert key not in old or exact(old[key]) != exact(new[key])


def test_removed_keys_become_null_and_nested_changes_stay_nested() -> None:
    old = {"metadata": {"labels": {"a": "1", "b": "2"}}, "data": {"k": "v"}}
    new = {"metadata": {"labels": {"a": "1", "c": "3"}}}
    assert merge_patch(old, new) == {
        "metadata": {"labels": {"b": None, "c": "3"}},
        "data": None,
    }


def test_lists_are_replaced_whole() -> None:
    old = {"spec": {"ports": [1, 2, 3]}}
    new = {"spec": {"ports": [1, 2]}}
    assert merge_patch(old, new) == {"spec": {"ports": [1, 2]}}


def test_numbers_of_another_type_are_a_change() -> None:
    assert merge_patch({"n": 1}, {"n": 1.0}) == {"n": 1.0}
    assert merge_patch({"n": 1}, {"n": True}) == {"n": True}
    assert merge_patch({"n": 1}, {"n": 1}) == {}


def test_a_dict_replacing_a_scalar_is_written_whole() -> None:
    assert merge_patch({"a": "text"}, {"a": {"b": 1}}) == {"a": {"b": 1}}
    assert merge_patch({"a": {"b": 1}}, {"a": "text"}) == {"a": "text"}
