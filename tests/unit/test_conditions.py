"""Tests for hub.core.conditions: finding, comparing and merging status conditions."""

from __future__ import annotations

import datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hub.core.conditions import Condition, differs, find, merged, now_rfc3339

READY = Condition("Ready", "True", "Copied", "all copy rules resolved")
T0, T1 = "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"


def entry(type_: str, status: str, reason: str = "R", message: str = "", **extra: Any) -> Any:
    return {"type": type_, "status": status, "reason": reason, "message": message, **extra}


def test_now_is_rfc3339_utc_to_the_second() -> None:
    stamp = now_rfc3339()
    parsed = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    assert abs((datetime.datetime.now(datetime.UTC) - parsed).total_seconds()) < 5


def test_find_by_type_and_tolerate_junk() -> None:
    conditions = ["junk", entry("Other", "False"), entry("Ready", "True")]
    assert find(conditions, "Ready") == entry("Ready", "True")
    assert find(conditions, "Missing") is None
    assert find(None, "Ready") is None
    assert find({"type": "Ready"}, "Ready") is None  # not a list


def test_differs_compares_status_reason_and_message_only() -> None:
    same = entry("Ready", "True", "Copied", "all copy rules resolved", lastTransitionTime=T0)
    assert not differs(same, READY)
    assert differs(None, READY)
    assert differs({**same, "status": "False"}, READY)
    assert differs({**same, "reason": "Other"}, READY)
    assert differs({**same, "message": "else"}, READY)
    without_message = Condition("Ready", "True", "Copied")
    assert not differs({"type": "Ready", "status": "True", "reason": "Copied"}, without_message)


def test_a_new_condition_is_appended_with_the_time_now() -> None:
    others = [entry("Propagation", "True", lastTransitionTime=T0)]
    result = merged(others, READY, now=T1, observed_generation=4)
    assert result == [
        others[0],
        {
            "type": "Ready",
            "status": "True",
            "reason": "Copied",
            "message": "all copy rules resolved",
            "lastTransitionTime": T1,
            "observedGeneration": 4,
        },
    ]


def test_the_transition_time_moves_only_when_the_status_does() -> None:
    current = [entry("Ready", "True", "Old", "old message", lastTransitionTime=T0)]
    kept = merged(current, READY, now=T1)
    assert kept[0]["lastTransitionTime"] == T0
    assert (kept[0]["reason"], kept[0]["message"]) == ("Copied", "all copy rules resolved")
    assert "observedGeneration" not in kept[0]

    flipped = merged(current, Condition("Ready", "False", "SourceNotFound"), now=T1)
    assert flipped[0]["lastTransitionTime"] == T1
    assert flipped[0]["status"] == "False"


def test_a_current_entry_without_a_time_gets_now() -> None:
    assert merged([entry("Ready", "True")], READY, now=T1)[0]["lastTransitionTime"] == T1


def test_not_a_list_counts_as_no_conditions() -> None:
    assert [c["type"] for c in merged("junk", READY, now=T1)] == ["Ready"]


TYPES = st.sampled_from(["Ready", "Propagation", "CopyReady"])
STATUSES = st.sampled_from(["True", "False", "Unknown"])
CONDITIONS = st.lists(
    st.builds(entry, TYPES, STATUSES, st.sampled_from(["A", "B"]), lastTransitionTime=st.just(T0)),
    max_size=4,
    unique_by=lambda c: c["type"],
)


@given(CONDITIONS, st.builds(Condition, TYPES, STATUSES, st.sampled_from(["A", "B"])))
def test_merged_sets_one_entry_and_keeps_the_others(
    conditions: list[dict[str, Any]], wanted: Condition
) -> None:
    result = merged(conditions, wanted, now=T1)
    assert [c for c in result if c["type"] == wanted.type] == [result[-1]]
    assert not differs(find(result, wanted.type), wanted)
    others = [c for c in conditions if c["type"] != wanted.type]
    assert result[:-1] == others
    previous = find(conditions, wanted.type)
    moved = previous is None or previous["status"] != wanted.status
    assert result[-1]["lastTransitionTime"] == (T1 if moved else T0)
