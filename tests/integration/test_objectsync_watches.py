"""ObjectSync watches against the sandbox master: a source kind is watched from the first sync
that names it until the last one goes, and an event re-plans only the syncs it concerns."""

from __future__ import annotations

import asyncio

from kubernetes import client as k8s

from hub.controllers.objectsync.watches import Watches
from hub.core.objects import Obj, ObjectRef
from hub.kube.client import ClusterClient
from hub.kube.discovery import Discovery
from hub.runtime.metrics import Metrics
from hub.runtime.tasks import Supervisor
from hub.testing import Clusters


class Queued:
    """The keys Watches asks to re-plan, with a way to wait for the next ones."""

    def __init__(self) -> None:
        self.keys: list[ObjectRef] = []
        self.changed = asyncio.Event()

    def add(self, key: ObjectRef) -> None:
        self.keys.append(key)
        self.changed.set()

    async def at_least(self, count: int, timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.keys) < count:
                self.changed.clear()
                await self.changed.wait()


async def test_source_watch_lives_as_long_as_a_sync_names_it(
    clusters: Clusters, namespace: str
) -> None:
    def sync(name: str) -> ObjectRef:
        return ObjectRef("master", "synchub.io", "objectsyncs", namespace, name)

    def no_origin(_obj: Obj) -> ObjectRef | None:
        return None

    queued = Queued()
    supervisor = Supervisor()
    async with await ClusterClient.connect(clusters.config.master) as client:
        info = await Discovery(client).resolve("configmaps")
        watches = Watches(client, supervisor, Metrics(), queued.add, no_origin)
        source = ObjectRef("master", "", "configmaps", namespace, "source")
        other = ObjectRef("master", "", "configmaps", namespace, "other")
        try:
            assert list(watches.sources) == []
            watches.track(sync("a"), source, info)
            watches.track(sync("b"), source, info)
            watches.track(sync("c"), other, info)
            await queued.at_least(3)  # the cache synced: every sync is re-planned
            assert watches.sources.synced_for(info, namespace)
            assert len(list(watches.sources)) == 1, "one cache for the namespace"
            queued.keys.clear()

            core = clusters.core("master")

            def create(name: str) -> None:
                body = k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name=name), data={"k": "v"})
                core.create_namespaced_config_map(namespace, body)

            create("other")
            await queued.at_least(1)
            assert queued.keys == [sync("c")], "only the sync that reads it"
            create("source")
            await queued.at_least(3)
            assert sorted(queued.keys[1:]) == [sync("a"), sync("b")]

            watches.forget(sync("a"))
            watches.forget(sync("c"))
            assert len(list(watches.sources)) == 1, "b still names the source"
            watches.forget(sync("b"))
            assert list(watches.sources) == [], "the last sync took the watch with it"
            assert not any("configmaps" in name for name in supervisor.names())
        finally:
            await supervisor.stop()
