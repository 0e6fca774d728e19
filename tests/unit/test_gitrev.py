"""Unit tests for hub.core.gitrev: spec.ref parsing, tag:latest, ls-remote, short SHAs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.core.gitrev import (
    RefError,
    RefSpec,
    latest_tag,
    match_prefix,
    parse_ls_remote,
    parse_ref,
    revision,
    version_key,
)

SHA = st.text("0123456789abcdef", min_size=40, max_size=40)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", RefSpec("default")),
        ("branch:main", RefSpec("branch", "main")),
        ("branch:release/1.2", RefSpec("branch", "release/1.2")),
        ("tag:v1.0.0", RefSpec("tag", "v1.0.0")),
        ("tag:latest", RefSpec("latest")),
        ("commit:ABCDEF1", RefSpec("commit", "abcdef1")),
    ],
)
def test_refs_parse(text: str, expected: RefSpec) -> None:
    assert parse_ref(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("main", "expected branch:<b>"),
        ("branch:", "expected branch:<b>"),
        ("commit:xyz", "hexadecimal"),
        ("commit:abc", "hexadecimal"),
        ("head:main", "unknown mode 'head'"),
        ("branch:a..b", "not a valid git branch name"),
        ("tag:-x", "not a valid git tag name"),
    ],
)
def test_bad_refs_are_named(text: str, problem: str) -> None:
    parsed = parse_ref(text)
    assert isinstance(parsed, RefError)
    assert problem in parsed.message
    assert "\n" not in parsed.message


def test_revision_string() -> None:
    assert revision("main", "0123abcd") == "main@sha1:0123abcd"


def test_ls_remote_is_read_with_peeled_tags() -> None:
    text = (
        "ref: refs/heads/trunk\tHEAD\n"
        "aaa\tHEAD\n"
        "aaa\trefs/heads/trunk\n"
        "bbb\trefs/heads/dev\n"
        "ccc\trefs/tags/v1\n"
        "ddd\trefs/tags/v2\n"
        "eee\trefs/tags/v2^{}\n"
        "fff\trefs/pull/1/head\n"
    )
    refs = parse_ls_remote(text)
    assert refs.head == "trunk"
    assert refs.branches == {"trunk": "aaa", "dev": "bbb"}
    assert refs.tags == {"v1": "ccc", "v2": "eee"}


def test_latest_tag_is_the_nearest_to_the_tip() -> None:
    history = ["c3", "c2", "c1"]
    assert latest_tag({"v1": "c1", "v2": "c2", "elsewhere": "x9"}, history) == "v2"
    assert latest_tag({"v1.9": "c2", "v1.10": "c2"}, history) == "v1.10"
    assert latest_tag({"off-branch": "x9"}, history) is None


@given(st.dictionaries(st.text(min_size=1, max_size=5), SHA, max_size=6), st.lists(SHA, max_size=8))
def test_latest_tag_points_into_history(tags: dict[str, str], history: list[str]) -> None:
    found = latest_tag(tags, history)
    on_branch = [sha for sha in history if sha in tags.values()]
    if not on_branch:
        assert found is None
    else:
        assert found is not None
        assert tags[found] == on_branch[0]  # no tagged commit is newer than the chosen one


def test_version_key_orders_numbers_numerically() -> None:
    assert sorted(["v1.10", "v1.9", "v1.2"], key=version_key) == ["v1.2", "v1.9", "v1.10"]


def test_short_sha_matching() -> None:
    shas = ["abcdef0123", "abd0000000", "1234567890"]
    assert match_prefix("abcd", shas) == "abcdef0123"
    assert match_prefix("ffff", shas) is None
    ambiguous = match_prefix("ab", shas)
    assert isinstance(ambiguous, RefError)
    assert "ambiguous" in ambiguous.message
