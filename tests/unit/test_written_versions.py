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
