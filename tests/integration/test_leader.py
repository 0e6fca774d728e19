"""Leader election between two real hub processes on the sandbox master."""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from hub.core.errors import LeadershipLost
from hub.kube.client import ClusterClient
from hub.runtime.leader import LEASE_NAME, LeaderElector, Timing, WriteFence
from hub.runtime.metrics import Metrics
from hub.testing import Clusters, HubProcess, b64, wait_for, write_config

SEED_ANNOTATION = "k8s-copier.fig.org/replace-spec.template.data"
NOT_MASTER = {
    "clusterSelector": {"matchExpressions": [{"key": "cluster-master", "operator": "DoesNotExist"}]}
}


def leader_config(clusters: Clusters, tmp_path: Path, namespace: str) -> Path:
    """clusters.yaml with leader election on, its lease in a namespace of its own."""
    leader = {"enabled": True, "namespace": namespace}
    return write_config(
        clusters.clusters_yaml, tmp_path, leaderElection=leader, namespaces=[namespace]
    )


def make_secret_and_federated(clusters: Clusters, namespace: str, value: str) -> None:
    clusters.core("master").create_namespaced_secret(
        namespace,
        k8s.V1Secret(metadata={"name": "cert"}, data={"tls.crt": b64(value)}),
    )
    clusters.custom("master").create_namespaced_custom_object(
        "types.kubefed.io", "v1beta1", namespace, "federatedsecrets",
        {
            "apiVersion": "types.kubefed.io/v1beta1",
            "kind": "FederatedSecret",
            "metadata": {
                "name": "cert",
                "annotations": {SEED_ANNOTATION: "secrets:cert:data"},
            },
            "spec": {"placement": NOT_MASTER},
        },
    )  # fmt: skip


def member_value(clusters: Clusters, member: str, namespace: str) -> str | None:
    try:
        secret = clusters.core(member).read_namespaced_secret("cert", namespace)
    except k8s.ApiException:
        return None
    return base64.b64decode((secret.data or {}).get("tls.crt", "")).decode()


def rotate(clusters: Clusters, namespace: str, value: str) -> None:
    clusters.core("master").patch_namespaced_secret(
        "cert", namespace, {"data": {"tls.crt": b64(value)}}
    )


def converged(clusters: Clusters, namespace: str, value: str) -> bool:
    return all(member_value(clusters, m, namespace) == value for m in ("member-1", "member-2"))


def test_one_leader_writes_and_a_standby_takes_over(
    clusters: Clusters, federated_crds: None, namespace: str, tmp_path: Path
) -> None:
    config = leader_config(clusters, tmp_path, namespace)
    first = HubProcess(config, tmp_path / "first.log").start()
    second = HubProcess(config, tmp_path / "second.log").start()  # a standby is ready too
    try:
        assert first.ready()
        assert second.metric("synchub_leader") == 0  # leadership is a metric, not readiness
        make_secret_and_federated(clusters, namespace, "v1")
        wait_for(lambda: converged(clusters, namespace, "v1"), timeout=60)
        assert second.metric("synchub_member_writes_total") == 0
        assert first.metric("synchub_leader") == 1
        assert second.metric("synchub_leader") == 0

        assert first.process is not None
        first.process.kill()
        first.process.wait()
        killed = time.monotonic()
        wait_for(lambda: second.metric("synchub_leader") == 1, timeout=40)
        took = time.monotonic() - killed
        assert took < 15 + 2 + 5, f"takeover took {took:.1f}s"
        rotate(clusters, namespace, "v2")
        wait_for(lambda: converged(clusters, namespace, "v2"), timeout=60)
    finally:
        first.stop()
        assert second.stop() == 0


def test_graceful_shutdown_releases_the_lease(
    clusters: Clusters, federated_crds: None, namespace: str, tmp_path: Path
) -> None:
    config = leader_config(clusters, tmp_path, namespace)
    first = HubProcess(config, tmp_path / "first.log").start()
    second = HubProcess(config, tmp_path / "second.log").start(wait_ready=False)
    try:
        assert first.stop() == 0
        stopped = time.monotonic()
        wait_for(lambda: second.metric("synchub_leader") == 1, timeout=20)
        assert time.monotonic() - stopped < 10  # released, not waited out
    finally:
        second.stop()


def test_leader_that_cannot_renew_stops_and_exits(
    clusters: Clusters, federated_crds: None, namespace: str, tmp_path: Path
) -> None:
    config = leader_config(clusters, tmp_path, namespace)
    hub = HubProcess(config, tmp_path / "hub.log").start()
    assert hub.process is not None
    try:
        clusters.sandbox.stop_apiserver("master")
        code = hub.process.wait(timeout=40)  # renew deadline 10 s, retry 2 s
        assert code != 0
        assert "lost the lease" in hub.output()
    finally:
        clusters.sandbox.start_apiserver("master")
        hub.stop()
    lease_holder = (
        k8s.CoordinationV1Api(clusters.api["master"])
        .read_namespaced_lease("synchub", namespace)
        .spec.holder_identity
    )
    assert lease_holder  # still recorded: it could not release, the master was down


# --- LeaderElector itself, on a real Lease, with short timings --------------------------------

FAST = Timing(lease_duration=3.0, renew_deadline=2.0, retry_period=0.3)


def elector(client: ClusterClient, namespace: str, identity: str) -> LeaderElector:
    return LeaderElector(
        client, namespace, Metrics(), fence=WriteFence(), identity=identity, timing=FAST
    )


def lease_spec(clusters: Clusters, namespace: str) -> Any:
    return (
        k8s.CoordinationV1Api(clusters.api["master"])
        .read_namespaced_lease(LEASE_NAME, namespace)
        .spec
    )


def writes_allowed(candidate: LeaderElector) -> bool:
    """Whether the candidate's writers may write now (its fence is open)."""
    return candidate.fence.open


def leader_gauge(candidate: LeaderElector) -> float | None:
    return candidate.metrics.registry.get_sample_value(
        "synchub_leader", {"identity": candidate.identity}
    )


async def test_one_candidate_leads_and_a_release_hands_over_at_once(
    clusters: Clusters, namespace: str
) -> None:
    async with await ClusterClient.connect(clusters.config.master) as client:
        first, second = elector(client, namespace, "first"), elector(client, namespace, "second")
        assert not writes_allowed(first)  # closed until the lease is held
        await asyncio.wait_for(first.acquire(), 10)
        assert writes_allowed(first)
        assert leader_gauge(first) == 1
        holding = asyncio.create_task(first.hold())
        waiting = asyncio.create_task(second.acquire())
        try:
            # Two lease durations: the first keeps renewing, so the second never gets in.
            done, _ = await asyncio.wait({waiting}, timeout=2 * FAST.lease_duration)
            assert not done, "the standby took a lease that was being renewed"
            assert not writes_allowed(second)
            assert leader_gauge(second) == 0
            assert lease_spec(clusters, namespace).holder_identity == "first"

            holding.cancel()
            await first.release()
            released = time.monotonic()
            await asyncio.wait_for(waiting, 10)
            assert time.monotonic() - released < FAST.lease_duration  # not waited out
        finally:
            for task in (holding, waiting):
                task.cancel()
        assert not writes_allowed(first)
        assert leader_gauge(first) == 0
        assert writes_allowed(second)
        spec = lease_spec(clusters, namespace)
        assert spec.holder_identity == "second"
        assert spec.lease_transitions == 1


async def test_a_lease_no_longer_renewed_is_taken_after_its_duration(
    clusters: Clusters, namespace: str
) -> None:
    async with await ClusterClient.connect(clusters.config.master) as client:
        crashed, standby = elector(client, namespace, "crashed"), elector(client, namespace, "b")
        await asyncio.wait_for(crashed.acquire(), 10)  # then it never renews nor releases
        started = time.monotonic()
        await asyncio.wait_for(standby.acquire(), 4 * FAST.lease_duration)
        took = time.monotonic() - started
        assert FAST.lease_duration <= took < FAST.lease_duration + 3 * FAST.retry_period + 2
        assert lease_spec(clusters, namespace).holder_identity == "b"


async def test_a_leader_that_cannot_renew_closes_its_fence(
    clusters: Clusters, namespace: str
) -> None:
    async with await ClusterClient.connect(clusters.config.master) as client:
        leader = elector(client, namespace, "leader")
        await asyncio.wait_for(leader.acquire(), 10)
        holding = asyncio.create_task(leader.hold())
        # Another process overwrites the lease: renewing now fails on every attempt.
        leases = k8s.CoordinationV1Api(clusters.api["master"])
        leases.patch_namespaced_lease(
            LEASE_NAME,
            namespace,
            {"spec": {"holderIdentity": "usurper", "leaseDurationSeconds": 60}},
        )
        stolen = time.monotonic()
        with pytest.raises(LeadershipLost):
            await asyncio.wait_for(holding, 10)
        assert time.monotonic() - stolen < FAST.renew_deadline + 2 * FAST.retry_period + 1
        assert not writes_allowed(leader)
        assert not leader.is_leader
        assert leader_gauge(leader) == 0
        await leader.release()  # not the holder: it must leave the lease alone
        assert lease_spec(clusters, namespace).holder_identity == "usurper"
