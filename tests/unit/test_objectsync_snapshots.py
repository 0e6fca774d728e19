"""ObjectSync rows on the status page: per cluster, the worst of its destinations."""

from __future__ import annotations

from typing import Any, cast

from hub.controllers.objectsync import status as st
from hub.controllers.objectsync.reporting import Reporter
from hub.core.objects import ObjectRef
from hub.runtime.snapshots import Health, Snapshots

KEY = ObjectRef("master", "synchub.io", "objectsyncs", "platform", "regcred")


def reporter() -> tuple[Reporter, Snapshots]:
    snapshots = Snapshots()
    return Reporter(cast(Any, None), lambda _key: None, snapshots), snapshots


def test_each_cluster_shows_its_worst_destination() -> None:
    report, snapshots = reporter()
    results = [
        st.Result("master", "a", "regcred", st.SYNCED),
        st.Result("member-1", "a", "regcred", st.SYNCED),
        st.Result("member-1", "b", "regcred", st.APPLY_FAILED, "422 Invalid"),
        st.Result("member-1", "c", "regcred", st.SYNCING),
    ]
    report.publish(KEY, "ObjectSync", results, None)
    (row,) = snapshots.view().objects
    assert (row.kind, row.namespace, row.name) == ("ObjectSync", "platform", "regcred")
    assert row.cells["master"].health is Health.OK
    failing = row.cells["member-1"]
    assert (failing.state, failing.health) == (st.APPLY_FAILED, Health.FAILING)
    assert failing.message == "member-1/b/regcred: 422 Invalid"


def test_a_refused_sync_is_one_failing_verdict_and_forget_removes_it() -> None:
    report, snapshots = reporter()
    report.publish(KEY, "Replika", [], st.Verdict("Refused", "a Namespace is never copied"))
    (row,) = snapshots.view().objects
    assert row.health is Health.FAILING
    report.forget(KEY)
    assert snapshots.view().objects == ()
