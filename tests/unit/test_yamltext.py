"""Unit tests for hub.core.yamltext: YAML text to data, every failure one line."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.core.yamltext import MAX_DEPTH, YamlFault, load, load_all


@settings(deadline=None, max_examples=40)  # parsing hundreds of levels is slow-ish
@given(st.integers(min_value=1, max_value=3 * MAX_DEPTH), st.booleans())
def test_nesting_over_the_limit_is_a_fault_and_under_it_loads(depth: int, maps: bool) -> None:
    value: object = 1
    for _ in range(depth):
        value = {"k": value} if maps else [value]
    loaded = load(json.dumps(value))  # JSON is YAML (flow style)
    if depth > MAX_DEPTH:
        assert loaded == YamlFault("", f"nested too deeply (more than {MAX_DEPTH} levels)")
    else:
        assert loaded == value


def test_recursion_inside_the_parser_is_a_fault() -> None:
    assert isinstance(load("[" * 5000 + "]" * 5000), YamlFault)


def test_a_parse_error_names_its_line() -> None:
    fault = load("a: 1\nb: [\n")
    assert isinstance(fault, YamlFault)
    assert fault.where.startswith("line ")
    assert fault.problem.startswith("invalid YAML: ")


def test_documents() -> None:
    assert load_all("a: 1\n---\nb: 2\n") == [{"a": 1}, {"b": 2}]
    assert load("") is None
    assert isinstance(load("a: 1\n---\nb: 2\n"), YamlFault)
