"""Unit tests for hub.kube.slim: what the watch caches keep of an object."""

from __future__ import annotations

import copy
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from hub.kube.slim import SHARED_MAX, slim

scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=80)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=30,
)
metadata = st.fixed_dictionaries(
    {"name": st.text(min_size=1, max_size=20), "namespace": st.text(max_size=20)},
    optional={
        "uid": st.uuids().map(str),
        "resourceVersion": st.integers(1, 10**9).map(str),
        "labels": st.dictionaries(st.text(max_size=20), st.text(max_size=20), max_size=3),
        "annotations": st.dictionaries(st.text(max_size=20), st.text(max_size=200), max_size=3),
        "managedFields": st.lists(st.dictionaries(st.text(max_size=8), json_values), max_size=2),
    },
)
objects = st.fixed_dictionaries(
    {"apiVersion": st.just("v1"), "kind": st.just("Secret"), "metadata": metadata},
    optional={
        "data": st.dictionaries(st.text(max_size=20), st.text(max_size=100)),
        "spec": json_values,
    },
)


def without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    expected = copy.deepcopy(obj)
    expected["metadata"].pop("managedFields", None)
    return expected


@given(objects)
def test_slimming_keeps_every_field_but_managed_fields(obj: dict[str, Any]) -> None:
    expected = without_managed_fields(obj)
    assert slim(obj) == expected
    assert orjson.dumps(obj) == orjson.dumps(expected)  # same types, same order


@given(objects)
def test_slimming_twice_changes_nothing_more(obj: dict[str, Any]) -> None:
    once = copy.deepcopy(slim(obj))
    assert slim(obj) == once


def decoded(namespace: str, name: str, value: str) -> dict[str, Any]:
    body = {
        "metadata": {"name": name, "namespace": namespace, "uid": "u-" + name},
        "data": {"v": value},
    }
    return slim(orjson.loads(orjson.dumps(body)))


def test_short_strings_of_separate_objects_are_one_string() -> None:
    first = decoded("team-a", "db", "c2VjcmV0")
    second = decoded("team-a", "db", "c2VjcmV0")  # the master's template and a member's copy
    assert first["metadata"]["namespace"] is second["metadata"]["namespace"]
    assert first["metadata"]["name"] is second["metadata"]["name"]
    assert first["data"]["v"] is second["data"]["v"]


def test_unique_and_long_strings_are_left_alone() -> None:
    long_value = "x" * (SHARED_MAX + 1)
    first, second = decoded("ns", "a", long_value), decoded("ns", "a", long_value)
    assert first["data"]["v"] is not second["data"]["v"]
    assert first["metadata"]["uid"] is not second["metadata"]["uid"]
