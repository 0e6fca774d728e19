"""The hub's own writes, remembered until the watch cache catches up (runtime.writer)."""

from __future__ import annotations

from hub.kube.resources import ResourceInfo
from hub.runtime.writer import WrittenVersions

INFO = ResourceInfo("types.kubefed.io", "v1beta1", "federatedsecrets", "FederatedSecret", True)


def obj(version: str, **extra: object) -> dict[str, object]:
    return {"metadata": {"name": "a", "namespace": "n", "resourceVersion": version}, **extra}


def test_a_stale_cache_reads_the_hubs_newer_write() -> None:
    recent = WrittenVersions()
    recent.remember("m", INFO, "1", obj("2", spec="copied"), "patch")
    recent.remember("m", INFO, "2", obj("3", spec="copied", status="done"), "status")
    assert recent.fresh("m", INFO, obj("1")) == obj("3", spec="copied", status="done")
    assert recent.fresh("m", INFO, obj("2")) == obj("3", spec="copied", status="done")
    assert recent.produced("m", INFO, obj("2")) == "patch"
    assert recent.produced("m", INFO, obj("3")) == "status"  # the echo of the last write
    assert recent.fresh("m", INFO, obj("3")) == obj("3")  # caught up: the cache is the truth


def test_another_writer_wins_over_the_memory() -> None:
    recent = WrittenVersions()
    recent.remember("m", INFO, "1", obj("2"), "status")
    assert recent.fresh("m", INFO, obj("5", spec="theirs")) == obj("5", spec="theirs")
    assert recent.fresh("m", INFO, obj("1")) == obj("1")  # forgotten
    assert recent.produced("m", INFO, obj("5")) == ""


def test_objects_and_clusters_are_kept_apart() -> None:
    recent = WrittenVersions()
    recent.remember("m", INFO, "1", obj("2"), "status")
    other = {"metadata": {"name": "b", "namespace": "n", "resourceVersion": "1"}}
    assert recent.fresh("m", INFO, other) is other
    assert recent.fresh("east", INFO, obj("1")) == obj("1")
    assert recent.produced("east", INFO, obj("2")) == ""


def test_a_caught_up_entry_keeps_only_its_echo() -> None:
    recent = WrittenVersions()
    recent.remember("m", INFO, "1", obj("2"), "patch")
    assert recent.produced("m", INFO, obj("2")) == "patch"
    assert recent.fresh("m", INFO, obj("1")) == obj("1")  # nothing newer to offer any more
    assert recent.produced("m", INFO, obj("7")) == ""  # newer than all the hub wrote
    assert recent.produced("m", INFO, obj("2")) == ""  # and then forgotten


def test_an_echo_that_beats_its_answer_is_looked_at_once_the_answer_is_in() -> None:
    recent = WrittenVersions()
    seen: list[str] = []

    def look(event: dict[str, object]) -> None:
        seen.append(recent.produced("m", INFO, event) or "news")

    echo = obj("2")
    with recent.writing("m", INFO, "n", "a", "patch"):
        assert recent.hold("m", INFO, echo, "patch", lambda: look(echo))
        assert not recent.hold("m", INFO, echo, "status", lambda: look(echo))  # none under way
        assert seen == []  # held while the write is under way
        recent.remember("m", INFO, "1", obj("2"), "patch")
    assert seen == ["patch"]  # the echo of the hub's own write: dropped by its handler
    assert not recent.hold("m", INFO, echo, "patch", lambda: look(echo))  # nothing under way


def test_a_refused_write_releases_what_it_held_and_overlapping_writes_keep_theirs() -> None:
    recent = WrittenVersions()
    seen: list[str] = []
    event = obj("7")
    try:
        with recent.writing("m", INFO, "n", "a", "status"):
            with recent.writing("m", INFO, "n", "a", "patch"):
                assert recent.hold("m", INFO, event, "patch", lambda: seen.append("patch"))
            assert seen == ["patch"]  # its own write answered; the status write goes on
            assert recent.hold("m", INFO, event, "status", lambda: seen.append("status"))
            raise RuntimeError("refused")
    except RuntimeError:
        pass
    assert seen == ["patch", "status"]  # nothing held is ever lost
    assert not recent.hold("m", INFO, event, "status", lambda: None)
