"""The shared core helpers: object metadata readers, the origin string, names, backoff, problems."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.core import names, objects
from hub.core.backoff import Backoff
from hub.core.copy_rules import ResolveError, RuleError
from hub.core.objects import Origin
from hub.core.overrides import OverrideError
from hub.core.placement import PlacementError, SelectorError
from hub.core.problems import Problem
from hub.core.render import RenderError

# --- object metadata ------------------------------------------------------------------------

FULL = {
    "metadata": {
        "name": "web",
        "namespace": "shop",
        "resourceVersion": "42",
        "generation": 3,
        "labels": {"app": "web"},
        "annotations": {"a": "1"},
    }
}


def test_readers_return_the_metadata_fields() -> None:
    assert objects.name(FULL) == "web"
    assert objects.namespace(FULL) == "shop"
    assert objects.resource_version(FULL) == "42"
    assert objects.generation(FULL) == 3
    assert objects.labels_of(FULL) == {"app": "web"}
    assert objects.annotations_of(FULL) == {"a": "1"}
    assert objects.annotation(FULL, "a") == "1"
    assert objects.annotation(FULL, "b") == ""


@pytest.mark.parametrize(
    "obj",
    [{}, {"metadata": None}, {"metadata": "x"}, {"metadata": {"labels": 3, "annotations": []}}],
)
def test_readers_never_raise_on_malformed_objects(obj: dict[str, Any]) -> None:
    assert objects.name(obj) == ""
    assert objects.namespace(obj) == ""
    assert objects.resource_version(obj) == ""
    assert objects.generation(obj) is None
    assert objects.labels_of(obj) == {}
    assert objects.annotations_of(obj) == {}


def test_generation_ignores_a_boolean() -> None:
    assert objects.generation({"metadata": {"generation": True}}) is None


def test_origin_round_trips_including_cluster_scoped() -> None:
    origin = Origin("mymaster", "types.kubefed.io", "FederatedSecret", "cloud", "cert")
    assert str(origin) == "mymaster/types.kubefed.io/FederatedSecret/cloud/cert"
    assert Origin.parse(str(origin)) == origin
    cluster_scoped = Origin("m", "types.kubefed.io", "FederatedClusterRole", "", "reader")
    assert str(cluster_scoped) == "m/types.kubefed.io/FederatedClusterRole//reader"
    assert Origin.parse(str(cluster_scoped)) == cluster_scoped


@pytest.mark.parametrize("text", ["", "a/b/c/d", "a/b/c/d/e/f"])
def test_origin_parse_refuses_other_shapes(text: str) -> None:
    assert Origin.parse(text) is None


# --- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label", "subdomain"),
    [
        ("default", True, True),
        ("a-b", True, True),
        ("a.b", False, True),
        ("A", False, False),
        ("-a", False, False),
        ("a-", False, False),
        ("", False, False),
        ("a\n", False, False),  # `$` would let a trailing newline through; fullmatch does not
        ("a" * 63, True, True),
        ("a" * 64, False, True),
        ("a." * 126 + "a", False, True),
        ("a." * 127, False, False),
    ],
)
def test_dns_names(text: str, label: bool, subdomain: bool) -> None:
    assert names.is_dns_label(text) is label
    assert names.is_dns_subdomain(text) is subdomain


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("app", None),
        ("example.com/app", None),
        ("app.kubernetes.io/name", None),
        ("", "non-empty"),
        (3, "non-empty"),
        ("/app", "invalid prefix"),
        ("Example.com/app", "invalid prefix"),
        ("example.com/", "not a valid label key"),
        ("-app", "not a valid label key"),
        ("a" * 64, "not a valid label key"),
    ],
)
def test_label_keys(key: object, problem: str | None) -> None:
    found = names.label_key_problem(key)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


@pytest.mark.parametrize(
    ("value", "ok"),
    [("", True), ("us-east_1.a", True), ("-x", False), ("a" * 64, False), (1, False)],
)
def test_label_values(value: object, ok: bool) -> None:
    assert (names.label_value_problem(value) is None) is ok


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("secrets", True),
        ("Secret", True),
        ("deployments.apps", True),
        ("helmreleases.v2.helm.toolkit.fluxcd.io", True),
        (".apps", False),
        ("a..b", False),
        ("deployments/apps", False),
        ("secrets-", False),
    ],
)
def test_resource_names(text: str, ok: bool) -> None:
    assert names.is_resource_name(text) is ok


# --- backoff --------------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_maximum_and_resets() -> None:
    backoff = Backoff(0.5, 4.0, jitter=0.0)
    assert [backoff.next() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.next() == 0.5


def test_backoff_jitter_bounds() -> None:
    low = Backoff(1.0, 30.0, rng=lambda: 0.0)
    high = Backoff(1.0, 30.0, rng=lambda: 0.999999)
    assert low.next() == pytest.approx(0.8)
    assert high.next() == pytest.approx(1.2, rel=1e-5)


def test_backoff_survives_very_many_failures() -> None:
    backoff = Backoff(1.0, 30.0, jitter=0.0, failures=10_000)
    assert backoff.next() == 30.0


@given(
    initial=st.floats(0.001, 10.0),
    maximum=st.floats(10.0, 600.0),
    jitter=st.floats(0.0, 0.5),
    failures=st.integers(1, 200),
    rolls=st.lists(st.floats(0.0, 0.999999), min_size=200, max_size=200),
)
def test_backoff_delays_stay_within_the_jittered_bounds(
    initial: float, maximum: float, jitter: float, failures: int, rolls: list[float]
) -> None:
    dice = iter(rolls)
    backoff = Backoff(initial, maximum, jitter=jitter, rng=lambda: next(dice))
    previous_base = 0.0
    for attempt in range(1, failures + 1):
        delay = backoff.next()
        base = min(maximum, initial * 2.0 ** (attempt - 1))
        assert base * (1 - jitter) - 1e-9 <= delay <= base * (1 + jitter) + 1e-9
        assert base >= previous_base  # never shrinks until reset
        previous_base = base
    assert backoff.failures == failures


# --- problems -------------------------------------------------------------------------------


def test_problem_text_names_where() -> None:
    assert str(Problem("InvalidYAML", "bad", "line 3")) == "line 3: bad"
    assert str(Problem("InvalidYAML", "bad")) == "bad"


@pytest.mark.parametrize(
    ("problem", "reason"),
    [
        (SelectorError("m"), "InvalidSelector"),
        (PlacementError("m"), "InvalidPlacement"),
        (OverrideError("m"), "InvalidOverride"),
        (RenderError("m"), "RenderFailed"),
        (RuleError("ConflictingRules", "m", "k"), "ConflictingRules"),
        (ResolveError("PathNotFound", "m", "k"), "PathNotFound"),
    ],
)
def test_domain_problems_are_problems(problem: Problem, reason: str) -> None:
    assert isinstance(problem, Problem)
    assert problem.reason == reason
    assert problem.message == "m"
    assert hash(problem) == hash(type(problem)(*_args(problem)))


def _args(problem: Problem) -> tuple[str, ...]:
    if isinstance(problem, RuleError | ResolveError):
        return (problem.reason, problem.message, problem.origin)
    return (problem.message,)


def test_rule_error_origin_is_where() -> None:
    error = RuleError("InvalidAnnotation", "value must be ...", "k8s-copier.fig.org/replace-x")
    assert error.origin == error.where == "k8s-copier.fig.org/replace-x"
    assert str(error) == "k8s-copier.fig.org/replace-x: value must be ..."
    assert error != Problem("InvalidAnnotation", "value must be ...", error.where)
