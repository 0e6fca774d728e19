"""The hub's own member writes told apart from others' changes (propagation.member.Echoes)."""

from __future__ import annotations

from hub.controllers.propagation.member import Echoes
from hub.core.objects import Obj
from hub.kube.resources import ResourceInfo
from hub.kube.watch import EventType

INFO = ResourceInfo("", "v1", "secrets", "Secret", True)
KEY = ("member-1", "secrets", "n", "a")


def copy(version: str) -> Obj:
    return {"metadata": {"name": "a", "namespace": "n", "resourceVersion": version}}


def recorder() -> tuple[Echoes, list[tuple[EventType, str]]]:
    told: list[tuple[EventType, str]] = []
    echoes = Echoes(
        lambda _info, kind, obj: told.append((kind, obj["metadata"]["resourceVersion"]))
    )
    return echoes, told


def test_the_echo_after_the_response_is_dropped() -> None:
    echoes, told = recorder()
    echoes.started(KEY)
    echoes.finished(KEY, copy("2"))
    assert echoes.written(KEY) == copy("2")  # stands in for the cache until the echo
    echoes.event(KEY, INFO, "MODIFIED", copy("2"))
    assert told == []
    assert echoes.written(KEY) is None


def test_the_echo_before_the_response_is_held_then_dropped() -> None:
    echoes, told = recorder()
    echoes.started(KEY)
    echoes.event(KEY, INFO, "MODIFIED", copy("2"))
    assert told == []  # held while the write is in flight
    echoes.finished(KEY, copy("2"))
    assert told == []
    assert echoes.written(KEY) is None  # the echo already came: nothing stands in


def test_a_change_by_others_during_a_write_is_told_after_it() -> None:
    echoes, told = recorder()
    echoes.started(KEY)
    echoes.event(KEY, INFO, "MODIFIED", copy("2"))
    echoes.event(KEY, INFO, "MODIFIED", copy("3"))  # someone wrote after the hub
    echoes.finished(KEY, copy("2"))
    assert told == [("MODIFIED", "3")]


def test_a_failed_write_tells_what_arrived_meanwhile() -> None:
    echoes, told = recorder()
    echoes.started(KEY)
    echoes.event(KEY, INFO, "DELETED", copy("4"))
    echoes.finished(KEY, None)
    assert told == [("DELETED", "4")]
    echoes.event(KEY, INFO, "ADDED", copy("5"))  # nothing in flight: told at once
    assert told == [("DELETED", "4"), ("ADDED", "5")]


def test_a_deletion_is_never_an_echo() -> None:
    echoes, told = recorder()
    echoes.started(KEY)
    echoes.finished(KEY, copy("2"))
    echoes.event(KEY, INFO, "DELETED", copy("2"))
    assert told == [("DELETED", "2")]
