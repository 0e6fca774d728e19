"""hub.kube.watch.WatchCache against a real API server: paginated lists, watch events, and the
re-list after 410 Gone that reports what vanished while the cache was not watching."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hub.core.objects import Obj
from hub.kube import watch
from hub.kube.client import ClusterClient
from hub.kube.resources import ResourceInfo
from hub.kube.watch import EventType, WatchCache
from hub.testing import Clusters, background, compact_etcd, until

CONFIGMAPS = ResourceInfo("", "v1", "configmaps", "ConfigMap", namespaced=True)
EVENTS = ResourceInfo("", "v1", "events", "Event", namespaced=True)


class Recorder:
    """The handler and hooks of a cache, keeping what they were told."""

    def __init__(self) -> None:
        self.events: list[tuple[EventType, str]] = []
        self.restarts = 0
        self.synced = 0

    def handler(self, kind: EventType, obj: Obj) -> None:
        self.events.append((kind, obj["metadata"]["name"]))

    def restart(self) -> None:
        self.restarts += 1

    def sync(self) -> None:
        self.synced += 1

    def names(self, kind: EventType) -> set[str]:
        return {name for k, name in self.events if k == kind}


def make_cache(
    client: ClusterClient, namespace: str, recorder: Recorder, *, packed: bool = False
) -> WatchCache:
    return WatchCache(
        client,
        CONFIGMAPS,
        recorder.handler,
        namespace=namespace,
        on_restart=recorder.restart,
        on_synced=recorder.sync,
        packed=packed,
    )


def create_configmaps(clusters: Clusters, namespace: str, names: list[str]) -> None:
    core = clusters.core()
    for name in names:
        core.create_namespaced_config_map(
            namespace, {"metadata": {"name": name}, "data": {"name": name}}
        )


def stored(cache: WatchCache) -> set[str]:
    return {name for _, name in cache.stored_keys()}


@pytest.mark.parametrize("packed", [False, True], ids=["dicts", "packed"])
async def test_lists_in_pages_then_follows_the_watch(
    clusters: Clusters, namespace: str, monkeypatch: pytest.MonkeyPatch, packed: bool
) -> None:
    names = [f"cm-{i:02}" for i in range(11)]
    create_configmaps(clusters, namespace, names)
    monkeypatch.setattr(watch, "PAGE_SIZE", 3)
    pages: list[dict[str, Any]] = []
    async with await ClusterClient.connect(clusters.config.master) as client:
        real_get = client.get

        async def counting_get(path: str, params: Any = None) -> Any:
            if params and "limit" in params:
                pages.append(dict(params))
            return await real_get(path, params)

        monkeypatch.setattr(client, "get", counting_get)
        recorder = Recorder()
        cache = make_cache(client, namespace, recorder, packed=packed)
        async with background(cache.run()):
            await asyncio.wait_for(cache.synced.wait(), 20)
            assert stored(cache) == set(names)
            assert len(cache) == len(names)
            assert {obj["data"]["name"] for obj in cache.values()} == set(names)
            assert recorder.names("ADDED") == set(names)
            assert recorder.synced == 1
            assert len(pages) == 4  # 11 objects, 3 a page
            assert all(page["limit"] == 3 for page in pages)
            assert [bool(page.get("continue")) for page in pages] == [False, True, True, True]
            assert cache.resource_version
            assert all("managedFields" not in obj["metadata"] for obj in cache.values())

            core = clusters.core()
            core.patch_namespaced_config_map("cm-00", namespace, {"data": {"name": "changed"}})
            core.delete_namespaced_config_map("cm-01", namespace)
            create_configmaps(clusters, namespace, ["cm-new"])
            await until(lambda: stored(cache) == set(names) - {"cm-01"} | {"cm-new"}, what="events")
            await until(lambda: ("MODIFIED", "cm-00") in recorder.events, what="the update")
            read = cache.get(namespace, "cm-00") or {}
            assert read["data"] == {"name": "changed"}
            assert "managedFields" not in read["metadata"]
            if packed:  # every read is an object of its own: a reader cannot change the cache
                read["data"]["name"] = "scribbled"
                assert (cache.get(namespace, "cm-00") or {})["data"]["name"] == "changed"
            assert ("DELETED", "cm-01") in recorder.events
            assert ("ADDED", "cm-new") in recorder.events
            assert len(pages) == 4  # events came by the watch, not by listing again
            assert recorder.restarts == 0


def event(namespace: str, name: str, message: str = "first") -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "involvedObject": {"kind": "ConfigMap", "name": "anything", "namespace": namespace},
        "reason": "Testing",
        "message": message,
        "type": "Normal",
    }


async def test_gone_after_etcd_compaction_relists_and_reports_what_changed_meanwhile(
    clusters: Clusters, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Events are watched from etcd itself (the API server keeps no watch cache for them), so
    resuming from a compacted resourceVersion gets 410 Gone, as any watch does after a long
    enough absence."""
    core = clusters.core()
    for name in ("stays", "goes", "changes"):
        core.create_namespaced_event(namespace, event(namespace, name))
    async with await ClusterClient.connect(clusters.config.master) as client:
        recorder = Recorder()
        cache = WatchCache(
            client, EVENTS, recorder.handler, namespace=namespace, on_restart=recorder.restart
        )
        async with background(cache.run()):
            await asyncio.wait_for(cache.synced.wait(), 20)
        assert stored(cache) == {"stays", "goes", "changes"}
        resumed_from = cache.resource_version

        # While nobody watches: one deleted, one changed, one created; then etcd compacts.
        core.delete_namespaced_event("goes", namespace)
        core.patch_namespaced_event("changes", namespace, {"message": "second"})
        core.create_namespaced_event(namespace, event(namespace, "arrives"))
        assert compact_etcd(clusters) > int(resumed_from)
        recorder.events.clear()
        async with background(cache.run()):
            await until(lambda: recorder.restarts >= 1, what="the 410 to restart the cache")
            await until(
                lambda: stored(cache) == {"stays", "changes", "arrives"}, what="the re-list"
            )
            await until(lambda: len(recorder.events) >= 3, what="the differences")
            assert int(cache.resource_version) > int(resumed_from)
        assert sorted(recorder.events) == [
            ("ADDED", "arrives"),
            ("DELETED", "goes"),
            ("MODIFIED", "changes"),
        ]
        assert (cache.get(namespace, "changes") or {})["message"] == "second"
        # A 410 is routine: re-listed at once, no error logged, no backoff.
        assert not [r for r in caplog.records if r.name == watch.__name__ and r.levelno >= 30]


async def test_a_label_selector_filters_the_list_and_the_watch(
    clusters: Clusters, namespace: str
) -> None:
    core = clusters.core()
    for name, team in (("a", "blue"), ("b", "red")):
        core.create_namespaced_config_map(
            namespace, {"metadata": {"name": name, "labels": {"team": team}}}
        )
    async with await ClusterClient.connect(clusters.config.master) as client:
        recorder = Recorder()
        cache = WatchCache(
            client, CONFIGMAPS, recorder.handler, namespace=namespace, label_selector="team=blue"
        )
        async with background(cache.run()):
            await asyncio.wait_for(cache.synced.wait(), 20)
            assert stored(cache) == {"a"}
            core.patch_namespaced_config_map(
                "b", namespace, {"metadata": {"labels": {"team": "blue"}}}
            )
            await until(lambda: stored(cache) == {"a", "b"}, what="b to match")
            assert recorder.events == [("ADDED", "a"), ("ADDED", "b")]
