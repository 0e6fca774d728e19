"""hub.core.yamlfile: one strict loader, problems as values with their line, for every YAML file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.config.loader import parse_config
from hub.core import yamlfile
from hub.core.errors import ConfigError, KubeconfigError
from hub.core.problems import Problem
from hub.core.yamlfile import MAX_DEPTH, YamlFault, load_all_data, load_data
from hub.kube.kubeconfig import load_kubeconfigs


def problem(text: str) -> Problem:
    result = yamlfile.load(text)
    assert isinstance(result, Problem), result
    assert result.reason == yamlfile.INVALID_YAML
    assert "\n" not in str(result)
    return result


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("a: 1\nb: 2\na: 3\n", "line 3", "duplicate key 'a' (first given at line 1)"),
        ("{a: 1, a: 2}", "line 1", "duplicate key 'a'"),
        ("outer:\n  x: 1\n  x: 2\n", "line 3", "duplicate key 'x' (first given at line 2)"),
        ("- {k: 1}\n- {k: 1, k: 2}\n", "line 2", "duplicate key 'k'"),
        ("a: {b\n", "line 2", "expected ',' or '}'"),
        ("a: \x07\n", "line 1", "unacceptable character #x0007"),
    ],
)
def test_problems_name_the_line(text: str, where: str, message: str) -> None:
    found = problem(text)
    assert found.where == where
    assert message in found.message


def test_columns_on_request() -> None:
    found = yamlfile.load("[1, 2", columns=True)
    assert isinstance(found, Problem)
    assert found.where.startswith("line 1, column ")


def test_merge_keys_may_be_overridden() -> None:
    text = "base: &b {a: 1, c: 3}\nitem:\n  <<: *b\n  a: 2\n"
    result = yamlfile.load(text)
    assert isinstance(result, yamlfile.Document)
    assert result.value["item"] == {"a": 2, "c": 3}


def test_deep_nesting_is_one_line() -> None:
    assert "nested too deeply" in problem("[" * 5000).message


def test_huge_number_is_one_line() -> None:
    assert "cannot be read" in problem("a: " + "9" * 5000).message


def test_snippet_is_never_echoed() -> None:
    secret = "hunter2-token-value"
    found = problem(f"password: {secret}\n  bad: [\n")
    assert secret not in str(found)


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.integers(), max_size=6))
def test_what_safe_dump_writes_loads_back(data: dict[str, int]) -> None:
    result = yamlfile.load(yaml.safe_dump(data))
    assert isinstance(result, yamlfile.Document)
    assert result.value == (data or {})


def test_clusters_yaml_with_a_duplicate_key_is_a_config_error() -> None:
    text = "master:\n  context: one\nmembers: []\nmaster:\n  context: two\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, Path("clusters.yaml"), {"KUBECONFIG": "/nonexistent"})
    message = str(caught.value)
    assert message.startswith("clusters.yaml: line 4: ")
    assert "duplicate key 'master' (first given at line 1)" in message
    assert caught.value.exit_code == 2


def test_kubeconfig_with_a_duplicate_key_is_refused(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text("apiVersion: v1\nclusters: []\nclusters: []\n")
    with pytest.raises(KubeconfigError) as caught:
        load_kubeconfigs([kubeconfig], config_file="clusters.yaml", key="master.kubeconfig")
    assert "is not valid YAML: line 3: duplicate key 'clusters'" in str(caught.value)


def test_load_all_reads_every_document_and_names_the_line() -> None:
    result = yamlfile.load_all("a: 1\n---\nb: 2\n---\n")
    assert isinstance(result, yamlfile.Documents)
    assert result.values == ({"a": 1}, {"b": 2}, None)
    found = yamlfile.load_all("a: 1\n---\nb: 2\nb: 3\n")
    assert isinstance(found, Problem)
    assert str(found) == "line 4: duplicate key 'b' (first given at line 3)"


# Plain data or a YamlFault (load_data, load_all_data): every failure one line.


@settings(deadline=None, max_examples=40)  # parsing hundreds of levels is slow-ish
@given(st.integers(min_value=1, max_value=3 * MAX_DEPTH), st.booleans())
def test_nesting_over_the_limit_is_a_fault_and_under_it_loads(depth: int, maps: bool) -> None:
    value: object = 1
    for _ in range(depth):
        value = {"k": value} if maps else [value]
    loaded = load_data(json.dumps(value))  # JSON is YAML (flow style)
    if depth > MAX_DEPTH:
        assert loaded == YamlFault("", f"nested too deeply (more than {MAX_DEPTH} levels)")
    else:
        assert loaded == value


def test_recursion_inside_the_parser_is_a_fault() -> None:
    assert isinstance(load_data("[" * 5000 + "]" * 5000), YamlFault)


def test_a_parse_error_names_its_line() -> None:
    fault = load_data("a: 1\nb: [\n")
    assert isinstance(fault, YamlFault)
    assert fault.where.startswith("line ")
    assert fault.problem.startswith("invalid YAML: ")


def test_documents() -> None:
    assert load_all_data("a: 1\n---\nb: 2\n") == [{"a": 1}, {"b": 2}]
    assert load_data("") is None
    assert isinstance(load_data("a: 1\n---\nb: 2\n"), YamlFault)
