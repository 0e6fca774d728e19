"""Which per-cluster status changes are announced (Events) and which immutable fields a
member named."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hub.controllers.propagation.member import immutable_fields
from hub.controllers.propagation.report import FAILURES, Change, ClusterResult, transitions
from hub.core.conditions import Condition, differs
from hub.core.federation import ClusterStatus

NAMES = st.sampled_from(["member-1", "member-2", "member-3"])
STATUSES = st.sampled_from(list(ClusterStatus))
RESULTS = st.lists(
    st.builds(ClusterResult, NAMES, STATUSES, transient=st.booleans()),
    unique_by=lambda r: r.name,
)


@given(st.dictionaries(NAMES, STATUSES.map(str)), RESULTS)
def test_only_entries_into_a_failure_and_recoveries_are_announced(
    previous: dict[str, str], results: list[ClusterResult]
) -> None:
    for change, result in transitions(previous, results):
        before = previous.get(result.name, "")
        if change == Change.FAILED:
            assert result.status in FAILURES
            assert before != result.status
            assert not result.transient
        else:
            assert result.status == ClusterStatus.PROPAGATED
            assert before in FAILURES


@given(RESULTS)
def test_the_same_statuses_again_announce_nothing(results: list[ClusterResult]) -> None:
    same = {r.name: str(r.status) for r in results}
    assert transitions(same, results) == []


def test_a_first_failure_and_its_recovery() -> None:
    failed = ClusterResult("m", ClusterStatus.APPLY_FAILED, "no kind")
    assert transitions({}, [failed]) == [(Change.FAILED, failed)]
    healed = ClusterResult("m", ClusterStatus.PROPAGATED)
    assert transitions({"m": "ApplyFailed"}, [healed]) == [(Change.HEALED, healed)]
    assert transitions({}, [healed]) == []


def test_immutable_fields_are_read_from_the_servers_message() -> None:
    secret = 'Secret "tls" is invalid: type: Invalid value: field is immutable'
    assert immutable_fields(secret) == ["type"]
    deployment = (
        'Deployment.apps "web" is invalid: spec.selector: Invalid value: '
        '{"matchLabels":{"app":"x"}}: field is immutable'
    )
    assert immutable_fields(deployment) == ["spec.selector"]
    assert immutable_fields('Secret "x" is invalid: data[k]: Invalid value: bad base64') == []


def test_a_condition_at_an_old_generation_differs() -> None:
    wanted = Condition("Propagation", "True", "Propagated", "")
    current = {"status": "True", "reason": "Propagated", "message": "", "observedGeneration": 1}
    assert not differs(current, wanted, 1)
    assert differs(current, wanted, 2)
    assert not differs(current, wanted)
