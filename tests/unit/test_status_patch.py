"""conditions.status_patch: the one computation behind every status write (runtime Writer)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hub.core.conditions import Condition, merged, status_patch

NOW = "2026-01-01T00:00:00Z"
READY = Condition("CopyReady", "True", "Copied", "all copy rules resolved")


def obj(status: Any = None, generation: int | None = 2) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "x", "resourceVersion": "7"}
    if generation is not None:
        metadata["generation"] = generation
    body: dict[str, Any] = {"metadata": metadata}
    if status is not None:
        body["status"] = status
    return body


def test_first_write_carries_the_resource_version_and_condition() -> None:
    patch = status_patch(obj(), READY, condition_generation=True, now=NOW)
    assert patch == {
        "metadata": {"resourceVersion": "7"},
        "status": {
            "conditions": [
                {
                    "type": "CopyReady",
                    "status": "True",
                    "reason": "Copied",
                    "message": "all copy rules resolved",
                    "lastTransitionTime": NOW,
                    "observedGeneration": 2,
                }
            ]
        },
    }


def test_nothing_to_write_when_the_status_says_it_already() -> None:
    current = {"conditions": merged(None, READY, now="earlier")}
    assert status_patch(obj(current), READY, now=NOW) is None


def test_other_fields_are_compared_and_written() -> None:
    fields = {"observedGeneration": 2, "clusters": [{"name": "a", "status": "Propagated"}]}
    current = {"conditions": merged(None, READY, now="earlier")}
    patch = status_patch(obj(current), READY, fields=fields, now=NOW)
    assert patch is not None
    assert patch["status"]["clusters"] == fields["clusters"]
    assert patch["status"]["observedGeneration"] == 2
    assert "observedGeneration" not in patch["status"]["conditions"][0]
    written = {**current, **fields}
    assert status_patch(obj(written), READY, fields=fields, now=NOW) is None


def test_a_missing_list_equals_an_empty_one() -> None:
    current = {"observedGeneration": 2, "conditions": merged(None, READY, now="t")}
    fields = {"observedGeneration": 2, "clusters": []}
    assert status_patch(obj(current), READY, fields=fields, now=NOW) is None


def test_a_malformed_status_is_replaced_not_trusted() -> None:
    patch = status_patch(obj("not a map"), READY, now=NOW)
    assert patch is not None
    assert patch["status"]["conditions"][0]["type"] == "CopyReady"


@given(
    status=st.sampled_from(["True", "False", "Unknown"]),
    reason=st.sampled_from(["Copied", "SourceNotFound", "PathNotFound"]),
    message=st.text(max_size=20),
)
def test_writing_the_patch_makes_the_next_one_none(status: str, reason: str, message: str) -> None:
    wanted = Condition("CopyReady", status, reason, message)
    target = obj({"conditions": merged(None, READY, now="t0")})
    patch = status_patch(target, wanted, condition_generation=True, now=NOW)
    if patch is None:
        assert (status, reason, message) == ("True", "Copied", READY.message)
        return
    applied = {**target, "status": {**target["status"], **patch["status"]}}
    assert status_patch(applied, wanted, condition_generation=True, now="later") is None
    transition = patch["status"]["conditions"][0]["lastTransitionTime"]
    assert transition == ("t0" if status == "True" else NOW)
