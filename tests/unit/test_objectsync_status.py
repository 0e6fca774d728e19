"""ObjectSync status: conditions per form, written only on change, Events on transitions."""

from __future__ import annotations

from hub.controllers.objectsync import status as st

RESULTS = [
    st.Result("master", "a", "x", st.SYNCED, synced_version="7"),
    st.Result("master", "src", "x", st.SKIPPED, "the source; never written"),
    st.Result("east", "a", "x", st.CLUSTER_NOT_READY, "unreachable"),
]


def test_conditions_per_form_and_verdict() -> None:
    ready, in_sync = st.conditions_for(("Ready", "InSync"), RESULTS[:2], None)
    assert (ready.type, ready.status, in_sync.status) == ("Ready", "True", "True")
    (synced,) = st.conditions_for(("SourceSynced",), RESULTS, None)
    assert (synced.type, synced.status, synced.reason) == (
        "SourceSynced",
        "False",
        st.CLUSTER_NOT_READY,
    )
    assert "east/a/x: ClusterNotReady" in synced.message
    verdict = st.Verdict("ResourceNotAllowed", "pods is not in objectSync.allowedResources")
    refused, _ = st.conditions_for(("Ready", "InSync"), [], verdict)
    assert (refused.status, refused.reason) == ("False", "ResourceNotAllowed")


def test_status_is_written_only_on_change() -> None:
    obj = {"metadata": {"generation": 2}}
    conditions = st.conditions_for(("Ready", "InSync"), RESULTS, None)
    patch = st.status_patch(obj, RESULTS, conditions)
    assert patch is not None
    assert patch["destinationSummary"] == "1/2"
    assert [d["cluster"] for d in patch["destinations"]] == ["east", "master", "master"]
    assert patch["destinations"][1] == {
        "cluster": "master",
        "namespace": "a",
        "name": "x",
        "status": "Synced",
        "syncedVersion": "7",
    }
    assert st.status_patch({**obj, "status": patch}, RESULTS, conditions) is None
    changed = [*RESULTS[:2], st.Result("east", "a", "x", st.SYNCED, synced_version="7")]
    assert st.status_patch({**obj, "status": patch}, changed, conditions) is not None


def test_new_failures_are_transitions_only() -> None:
    before = {("east", "a", "x"): st.CLUSTER_NOT_READY}
    assert st.new_failures(before, RESULTS) == []
    assert st.new_failures({}, RESULTS) == [RESULTS[2]]
    syncing = [st.Result("east", "a", "x", st.SYNCING, "listing copies")]
    assert st.new_failures({}, syncing) == [], "a cache still listing is no failure"
