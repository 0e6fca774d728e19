"""Objects near the API server's size limit flow through watches like small ones."""

from __future__ import annotations

import asyncio
import base64
import os
import time

from kubernetes import client as k8s

from hub.core.objects import Obj
from hub.kube.client import ClusterClient
from hub.kube.discovery import Discovery
from hub.kube.watch import EventType, WatchCache
from hub.testing import Clusters

MASTER = "master"


async def _until(predicate: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_a_secret_of_a_megabyte_reaches_the_watch_cache(
    clusters: Clusters, namespace: str
) -> None:
    blob = base64.b64encode(os.urandom(1_000_000)).decode()
    seen: list[tuple[EventType, str]] = []

    def record(kind: EventType, obj: Obj) -> None:
        seen.append((kind, obj["metadata"]["name"]))

    async with await ClusterClient.connect(clusters.config.master) as client:
        info = await Discovery(client).resolve("secrets")
        cache = WatchCache(client, info, record, namespace=namespace)
        task = asyncio.create_task(cache.run())
        try:
            await asyncio.wait_for(cache.synced.wait(), 30)
            core = clusters.core(MASTER)
            core.create_namespaced_secret(
                namespace, k8s.V1Secret(metadata={"name": "big"}, data={"blob": blob})
            )
            await _until(lambda: cache.get(namespace, "big") is not None)
            assert (cache.get(namespace, "big") or {})["data"]["blob"] == blob
            # The stream is still alive after the big event: a small change follows it.
            core.create_namespaced_secret(
                namespace, k8s.V1Secret(metadata={"name": "small"}, string_data={"a": "b"})
            )
            await _until(lambda: cache.get(namespace, "small") is not None)
            assert ("ADDED", "big") in seen
            assert cache.last_error is None
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
