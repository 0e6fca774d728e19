"""The hub's own member writes told apart from others' changes (propagation.member.Echoes)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hub.controllers.propagation.member import Echoes
from hub.core.objects import Obj
from hub.kube.resources import ResourceInfo
from hub.kube.watch import EventType
from hub.runtime.writer import WrittenVersions

INFO = ResourceInfo("", "v1", "secrets", "Secret", True)
KEY = ("member-1", "secrets", "n", "a")


def copy(version: str) -> Obj:
    return {"metadata": {"name": "a", "namespace": "n", "resourceVersion": version}}


def recorder() -> tuple[Echoes, list[tuple[EventType, str]]]:
    told: list[tuple[EventType, str]] = []
    echoes = Echoes(
        lambda _info, kind, obj: told.append((kind, obj["metadata"]["resourceVersion"])),
        WrittenVersions(),
    )
    return echoes, told


async def answer(written: Obj | None, meanwhile: Callable[[], None] = lambda: None) -> Obj | None:
    """A write answered with ``written``, while ``meanwhile`` (events) happens."""
    meanwhile()
    return written


def event(echoes: Echoes, kind: EventType, version: str) -> Callable[[], None]:
    return lambda: echoes.event(KEY, INFO, kind, copy(version))


async def test_the_echo_after_the_response_is_dropped() -> None:
    echoes, told = recorder()
    await echoes.write(KEY, INFO, answer(copy("2")))
    assert echoes.written(KEY) == copy("2")  # stands in for the cache until the echo
    echoes.event(KEY, INFO, "MODIFIED", copy("2"))
    assert told == []
    assert echoes.written(KEY) is None


async def test_the_echo_before_the_response_is_held_then_dropped() -> None:
    echoes, told = recorder()
    await echoes.write(KEY, INFO, answer(copy("2"), event(echoes, "MODIFIED", "2")))
    assert told == []
    assert echoes.written(KEY) is None  # the echo already came: nothing stands in


async def test_a_change_by_others_during_a_write_is_told_after_it() -> None:
    echoes, told = recorder()

    def events() -> None:
        event(echoes, "MODIFIED", "2")()
        event(echoes, "MODIFIED", "3")()  # someone wrote after the hub
        assert told == []  # held while the write is in flight

    await echoes.write(KEY, INFO, answer(copy("2"), events))
    assert told == [("MODIFIED", "3")]


async def test_a_failed_write_tells_what_arrived_meanwhile() -> None:
    echoes, told = recorder()
    await echoes.write(KEY, INFO, answer(None, event(echoes, "DELETED", "4")))
    assert told == [("DELETED", "4")]
    echoes.event(KEY, INFO, "ADDED", copy("5"))  # nothing in flight: told at once
    assert told == [("DELETED", "4"), ("ADDED", "5")]


async def test_a_write_that_raises_still_tells_what_arrived_meanwhile() -> None:
    echoes, told = recorder()

    async def refused() -> Obj:
        event(echoes, "MODIFIED", "6")()
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        await echoes.write(KEY, INFO, refused())
    assert told == [("MODIFIED", "6")]


async def test_a_deletion_is_never_an_echo() -> None:
    echoes, told = recorder()
    await echoes.write(KEY, INFO, answer(copy("2")))
    echoes.event(KEY, INFO, "DELETED", copy("2"))
    assert told == [("DELETED", "2")]
