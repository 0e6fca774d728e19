"""Mode ``auto`` follows a live federation controller's leader lock, never CRDs (docs/modes.md)."""

from __future__ import annotations

import datetime
import json

from hypothesis import given
from hypothesis import strategies as st

from hub.core.federation import (
    LEADER_ANNOTATION,
    controller_running,
    deletion_timed_out,
    lock_renew_time,
    propagation_mode,
)

NOW = datetime.datetime(2026, 12, 1, 12, 0, 0, tzinfo=datetime.UTC)


def stamp(seconds_ago: float) -> str:
    return (NOW - datetime.timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease(seconds_ago: float) -> dict[str, object]:
    return {"kind": "Lease", "spec": {"holderIdentity": "kubefed", "renewTime": stamp(seconds_ago)}}


def configmap_lock(seconds_ago: float) -> dict[str, object]:
    record = json.dumps({"holderIdentity": "kubefed", "renewTime": stamp(seconds_ago)})
    return {"kind": "ConfigMap", "metadata": {"annotations": {LEADER_ANNOTATION: record}}}


@given(st.floats(min_value=-5, max_value=600), st.booleans())
def test_fresh_within_sixty_seconds(seconds_ago: float, as_configmap: bool) -> None:
    lock = configmap_lock(seconds_ago) if as_configmap else lease(seconds_ago)
    assert controller_running([lock], NOW) == (seconds_ago <= 60)


def test_locks_without_a_renew_time_do_not_count() -> None:
    broken = {"kind": "ConfigMap", "metadata": {"annotations": {LEADER_ANNOTATION: "{not json"}}}
    plain = {"kind": "Endpoints", "metadata": {}}
    assert lock_renew_time(broken) is None
    assert not controller_running([broken, plain, {"kind": "Lease", "spec": {}}], NOW)


@given(st.booleans())
def test_only_auto_follows_the_controller(running: bool) -> None:
    assert propagation_mode("auto", running) == ("federation" if running else "direct")
    assert propagation_mode("direct", running) == "direct"
    assert propagation_mode("federation", running) == "federation"


@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_a_deletion_times_out_only_after_the_timeout(age: int, timeout: int) -> None:
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    since = now - datetime.timedelta(seconds=age)
    obj = {"metadata": {"deletionTimestamp": since.strftime("%Y-%m-%dT%H:%M:%SZ")}}
    assert deletion_timed_out(obj, timeout, now) is (age > timeout)


def test_an_unreadable_deletion_stamp_never_holds_a_deletion() -> None:
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    assert deletion_timed_out({"metadata": {"deletionTimestamp": "soon"}}, 300, now)
