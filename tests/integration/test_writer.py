"""hub.runtime.writer.Writer against a real API server: every write counted by verb, dry-run
writes nothing (and logs no values), and a closed fence refuses every write."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from hub.core.errors import NotLeader
from hub.kube.client import ClusterClient
from hub.kube.resources import ResourceInfo
from hub.runtime.leader import WriteFence
from hub.runtime.metrics import Metrics
from hub.runtime.writer import Writer
from hub.testing import Clusters

CONFIGMAPS = ResourceInfo("", "v1", "configmaps", "ConfigMap", namespaced=True)
SECRET_VALUE = "s3cr3t-value"


@pytest.fixture
async def client(clusters: Clusters) -> AsyncIterator[ClusterClient]:
    async with await ClusterClient.connect(clusters.config.master) as connected:
        yield connected


def configmap(name: str, value: str = "one") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"k": value},
    }


def writes(metrics: Metrics) -> dict[str, float]:
    """synchub_member_writes_total of the master, by verb (only the verbs written)."""
    counted: dict[str, float] = {}
    for verb in ("create", "patch", "apply", "delete", "event"):
        value = metrics.registry.get_sample_value(
            "synchub_member_writes_total", {"cluster": "master", "verb": verb}
        )
        if value:
            counted[verb] = value
    return counted


def read(clusters: Clusters, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        found = clusters.core().read_namespaced_config_map(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return {"data": found.data, "resourceVersion": found.metadata.resource_version}


def event_reasons(clusters: Clusters, namespace: str) -> list[str]:
    return [e.reason for e in clusters.core().list_namespaced_event(namespace).items]


async def test_every_write_is_made_and_counted_by_verb(
    client: ClusterClient, clusters: Clusters, namespace: str
) -> None:
    metrics = Metrics()
    writer = Writer(client, metrics)
    assert writer.cluster == "master"

    created = await writer.create(CONFIGMAPS, namespace, configmap("cm"))
    assert created is not None
    assert created["data"] == {"k": "one"}
    version = created["metadata"]["resourceVersion"]
    patched = await writer.merge_patch(
        CONFIGMAPS,
        namespace,
        "cm",
        {"metadata": {"resourceVersion": version}, "data": {"k": "two"}},
    )
    assert patched is not None
    assert patched["data"] == {"k": "two"}
    applied = await writer.apply(
        CONFIGMAPS, namespace, "cm", configmap("cm", "three"), field_manager="synchub-test"
    )
    assert applied is not None
    assert (read(clusters, namespace, "cm") or {})["data"] == {"k": "three"}
    await writer.event(created, type_="Normal", reason="Tested", message="all writes made")
    assert "Tested" in event_reasons(clusters, namespace)
    assert await writer.delete(CONFIGMAPS, namespace, "cm") is True
    assert read(clusters, namespace, "cm") is None

    assert writes(metrics) == {"create": 1, "patch": 1, "apply": 1, "event": 1, "delete": 1}
    assert metrics.dry_run_skipped == 0


async def test_dry_run_writes_nothing_and_logs_paths_not_values(
    client: ClusterClient,
    clusters: Clusters,
    namespace: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clusters.core().create_namespaced_config_map(namespace, configmap("there"))
    before = read(clusters, namespace, "there")
    metrics = Metrics()
    writer = Writer(client, metrics, dry_run=True)
    caplog.set_level(logging.INFO, logger="hub.runtime.writer")

    assert await writer.create(CONFIGMAPS, namespace, configmap("new", SECRET_VALUE)) is None
    patch = {"data": {"k": SECRET_VALUE, "other": None}}
    assert await writer.merge_patch(CONFIGMAPS, namespace, "there", patch) is None
    applied = await writer.apply(
        CONFIGMAPS, namespace, "there", configmap("there", SECRET_VALUE), field_manager="t"
    )
    assert applied is None
    assert await writer.delete(CONFIGMAPS, namespace, "there") is False
    await writer.event(configmap("there"), type_="Warning", reason="DryRun", message="no")

    assert read(clusters, namespace, "new") is None
    assert read(clusters, namespace, "there") == before  # not even its resourceVersion moved
    assert "DryRun" not in event_reasons(clusters, namespace)
    assert metrics.dry_run_skipped == 5
    assert writes(metrics) == {}  # skipped writes are not counted as writes
    log = caplog.text
    assert f"would patch ConfigMap {namespace}/there on master (data.k, data.other)" in log
    assert f"would create ConfigMap {namespace}/new" in log
    assert f"would delete ConfigMap {namespace}/there" in log
    assert SECRET_VALUE not in log


async def test_a_closed_fence_refuses_every_write(
    client: ClusterClient, clusters: Clusters, namespace: str
) -> None:
    clusters.core().create_namespaced_config_map(namespace, configmap("there"))
    before = read(clusters, namespace, "there")
    fence = WriteFence(open_=False)
    metrics = Metrics()
    writer = Writer(client, metrics, fence=fence)  # dry-run or not, the fence comes first

    with pytest.raises(NotLeader):
        await writer.create(CONFIGMAPS, namespace, configmap("new"))
    with pytest.raises(NotLeader):
        await writer.merge_patch(CONFIGMAPS, namespace, "there", {"data": {"k": "x"}})
    with pytest.raises(NotLeader):
        await writer.apply(CONFIGMAPS, namespace, "there", configmap("there"), field_manager="t")
    with pytest.raises(NotLeader):
        await writer.delete(CONFIGMAPS, namespace, "there")
    with pytest.raises(NotLeader):
        await writer.event(configmap("there"), type_="Normal", reason="Fenced", message="no")

    assert read(clusters, namespace, "new") is None
    assert read(clusters, namespace, "there") == before
    assert "Fenced" not in event_reasons(clusters, namespace)
    assert writes(metrics) == {}

    fence.grant()  # leadership (re)gained: writes go through again
    assert await writer.create(CONFIGMAPS, namespace, configmap("new")) is not None
    assert writes(metrics) == {"create": 1}


async def test_dry_run_behind_a_closed_fence_still_refuses(
    client: ClusterClient, namespace: str
) -> None:
    metrics = Metrics()
    writer = Writer(client, metrics, dry_run=True, fence=WriteFence(open_=False))
    with pytest.raises(NotLeader):
        await writer.create(CONFIGMAPS, namespace, configmap("new"))
    assert metrics.dry_run_skipped == 0
