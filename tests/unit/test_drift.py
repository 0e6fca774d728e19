"""Unit tests for hub.controllers.propagation.drift: field containment, drift, fights."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hub.controllers.propagation.drift import (
    FIGHT_LIMIT,
    FIGHT_QUIET,
    FIGHT_QUIET_MAX,
    FIGHT_WINDOW,
    DriftTracker,
    FightDetector,
)
from hub.core.patch import contains

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)
objects = st.dictionaries(st.text(max_size=3), json_values, max_size=4)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@given(json_values)
def test_everything_contains_itself(value: Any) -> None:
    assert contains(value, value)


@given(objects, objects)
def test_extra_live_fields_are_not_drift(desired: dict[str, Any], extra: dict[str, Any]) -> None:
    live = {**extra, **desired}  # server defaults add fields; the hub's fields are intact
    assert contains(live, desired)


@given(objects, st.text(max_size=3), json_values)
def test_a_changed_field_is_drift(desired: dict[str, Any], key: str, value: Any) -> None:
    live = {**desired, key: value}
    assert contains(live, {**desired, key: value})
    if key in desired and not contains(value, desired[key]):
        assert not contains(live, desired)


def test_lists_must_match_item_by_item() -> None:
    assert not contains({"a": [1, 2, 3]}, {"a": [1, 2]})
    assert not contains({"a": [1]}, {"a": [1, 2]})
    assert contains({"a": [{"x": 1, "y": 2}]}, {"a": [{"x": 1}]})
    assert not contains({"a": "1"}, {"a": 1})


def test_drift_uses_the_recorded_resource_version_first() -> None:
    tracker: DriftTracker[str] = DriftTracker()
    desired = {"spec": {"replicas": 2}}
    written = {"metadata": {"resourceVersion": "7"}, "spec": {"replicas": 2}}
    tracker.wrote("k", written)
    # Same resourceVersion as the hub's own write: no compare needed, no drift.
    assert not tracker.drifted("k", desired, {"metadata": {"resourceVersion": "7"}})
    changed = {"metadata": {"resourceVersion": "8"}, "spec": {"replicas": 5}}
    assert tracker.drifted("k", desired, changed)
    same = {"metadata": {"resourceVersion": "9"}, "spec": {"replicas": 2, "extra": 1}}
    assert not tracker.drifted("k", desired, same)
    tracker.forget("k")
    assert tracker.drifted("k", desired, changed)


def test_forget_drops_only_that_key() -> None:
    tracker: DriftTracker[tuple[str, str]] = DriftTracker()
    desired = {"spec": 1}
    for cluster in ("a", "b"):
        tracker.wrote((cluster, "x"), {"metadata": {"resourceVersion": "1"}, "spec": 2})
    tracker.forget(("a", "x"))
    stale = {"metadata": {"resourceVersion": "1"}, "spec": 2}
    assert tracker.drifted(("a", "x"), desired, stale)
    assert not tracker.drifted(("b", "x"), desired, stale)


@given(st.lists(st.floats(min_value=0.0, max_value=FIGHT_QUIET * 0.99), max_size=30))
def test_a_fast_competitor_gets_no_more_than_the_limit_of_corrections(steps: list[float]) -> None:
    # Each step is a foreign write (a new version) seen sooner than the quiet period.
    clock = FakeClock()
    detector: FightDetector[str] = FightDetector(clock)
    corrections = 0
    started = clock.now
    for version, step in enumerate(steps):
        clock.now += step
        corrections += detector.hold("k", str(version)) == 0.0
    assert clock.now - started < FIGHT_WINDOW
    assert corrections == min(len(steps), FIGHT_LIMIT)


@given(
    st.lists(
        st.tuples(st.floats(min_value=0.0, max_value=FIGHT_WINDOW), st.booleans()), max_size=30
    )
)
def test_the_copy_is_restored_soon_after_the_last_foreign_write(
    looks: list[tuple[float, bool]],
) -> None:
    # Looks at a drifted copy, some after a new foreign write: whatever happened before,
    # once the copy is left alone for FIGHT_QUIET_MAX the hub corrects it.
    clock = FakeClock()
    detector: FightDetector[str] = FightDetector(clock)
    version = 0
    for step, foreign in looks:
        clock.now += step
        version += foreign
        wait = detector.hold("k", str(version))
        assert 0.0 <= wait <= FIGHT_QUIET_MAX
    version += 1  # the last foreign write; then nobody touches the copy again
    first = detector.hold("k", str(version))
    clock.now += first
    assert first == 0.0 or detector.hold("k", str(version)) == 0.0
    assert first <= FIGHT_QUIET_MAX


@given(st.integers(min_value=1, max_value=20))
def test_corrections_spaced_beyond_the_window_never_fight(count: int) -> None:
    clock = FakeClock()
    detector: FightDetector[str] = FightDetector(clock)
    for version in range(count):
        assert detector.hold("k", str(version)) == 0.0
        clock.now += FIGHT_WINDOW + 0.001


def test_fights_are_counted_per_key_and_forgotten() -> None:
    clock = FakeClock()
    detector: FightDetector[str] = FightDetector(clock, window=10.0, limit=1, quiet=2.0)
    assert detector.hold("a", "1") == 0.0
    assert detector.hold("b", "1") == 0.0
    assert detector.hold("a", "2") == 2.0
    clock.now += 1.5
    assert detector.hold("a", "2") == 0.5  # the same foreign write: the quiet period runs on
    detector.forget("a")
    assert detector.hold("a", "3") == 0.0
    assert detector.hold("b", "2") == 2.0
