"""The Cluster registry's status planning (docs/clusters.md): written only when it changes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hub.config.settings import ClusterConfig
from hub.controllers.clusters.controller import status_patch
from hub.core.crd_cluster import placement_labels
from hub.core.federation import ClusterStatus
from hub.runtime.inventory import MemberState


def state(ready: bool, version: str = "v1.35.4", message: str = "") -> MemberState:
    config = ClusterConfig("east", "ctx-east", (), {}, False)
    problem = ClusterStatus.PROPAGATED if ready else ClusterStatus.CLUSTER_NOT_READY
    return MemberState(config, ready=ready, problem=problem, message=message, version=version,
                       probed=True)  # fmt: skip


def applied(obj: dict[str, object], patch: dict[str, object]) -> dict[str, object]:
    """A merge patch of the status applied (null deletes), as the API server would."""
    status = dict(obj.get("status") or {})  # type: ignore[call-overload]
    for key, value in patch["status"].items():  # type: ignore[attr-defined]
        if value is None:
            status.pop(key, None)
        else:
            status[key] = value
    return {**obj, "status": status}


@given(
    st.lists(
        st.tuples(st.booleans(), st.sampled_from(["v1.34.0", "v1.35.4"]),
                  st.sampled_from(["connection refused", "request timed out"])),
        min_size=1, max_size=6,
    )
)  # fmt: skip
def test_converges_in_one_write_and_then_writes_nothing(
    steps: list[tuple[bool, str, str]],
) -> None:
    obj: dict[str, object] = {"metadata": {"resourceVersion": "1"}}
    for ready, version, message in steps:
        member = state(ready, version, message)
        patch = status_patch(obj, member)
        if patch is not None:
            obj = applied(obj, patch)
        assert status_patch(obj, member) is None  # steady state: no write
        status = obj["status"]
        assert isinstance(status, dict)
        assert status["ready"] is ready
        assert status["version"] == version
        assert ("reason" in status) is (not ready)
        assert status.get("message") == (None if ready else message)
        (condition,) = status["conditions"]
        assert condition["status"] == ("True" if ready else "False")


def test_synchubs_marker_label_is_not_a_placement_label() -> None:
    obj = {"metadata": {"labels": {"synchub.io/managed": "true", "region": "eu"}}}
    assert placement_labels(obj) == {"region": "eu"}
