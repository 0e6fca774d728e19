"""Propagation under member faults (issue 15): a hung member, a fight that ends, refused
credentials, leftovers of a timed-out deletion. Real sandbox clusters, the hub as a process."""

from __future__ import annotations

import base64
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from hub.faults import member_token, write_member_kubeconfig
from hub.sandbox import Sandbox
from hub.testing import Clusters, HubProcess, wait_for

GROUP, VERSION = "types.kubefed.io", "v1beta1"
MEMBERS = {"clusters": [{"name": "member-1"}, {"name": "member-2"}]}
BOTH = ("member-1", "member-2")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def config_file(clusters: Clusters, tmp_path: Path, **extra: Any) -> Path:
    document = yaml.safe_load(clusters.clusters_yaml.read_text())
    document.update(extra)
    path = tmp_path / "clusters.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def federated_secret(
    clusters: Clusters, namespace: str, name: str, value: str, placement: dict[str, Any]
) -> None:
    clusters.custom("master").create_namespaced_custom_object(
        GROUP, VERSION, namespace, "federatedsecrets",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "FederatedSecret",
            "metadata": {"name": name},
            "spec": {"template": {"data": {"k": b64(value)}}, "placement": placement},
        },
    )  # fmt: skip


def set_value(clusters: Clusters, namespace: str, name: str, value: str) -> None:
    clusters.custom("master").patch_namespaced_custom_object(
        GROUP, VERSION, namespace, "federatedsecrets", name,
        {"spec": {"template": {"data": {"k": b64(value)}}}},
    )  # fmt: skip


def member_value(clusters: Clusters, cluster: str, namespace: str, name: str) -> str | None:
    try:
        secret = clusters.core(cluster).read_namespaced_secret(name, namespace)
    except k8s.ApiException as exc:
        if exc.status == 404:
            return None
        raise
    data = secret.data or {}
    return base64.b64decode(data["k"]).decode() if "k" in data else ""


def cluster_statuses(clusters: Clusters, namespace: str, name: str) -> dict[str, str]:
    fed = clusters.custom("master").get_namespaced_custom_object(
        GROUP, VERSION, namespace, "federatedsecrets", name
    )
    entries = (fed.get("status") or {}).get("clusters") or []
    return {e["name"]: e["status"] for e in entries}


@contextmanager
def paused_apiserver(clusters: Clusters, name: str) -> Iterator[None]:
    """SIGSTOP the member's kube-apiserver: connections stay open, nothing answers."""
    if not isinstance(clusters.sandbox, Sandbox):
        pytest.skip("pausing an API server needs the sandbox provider")
    record = clusters.sandbox.cluster(name).apiserver
    assert record is not None
    os.kill(record.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(record.pid, signal.SIGCONT)


def test_a_hung_member_does_not_slow_the_healthy_one(
    clusters: Clusters, federated_crds: None, namespace: str, tmp_path: Path
) -> None:
    hub = HubProcess(config_file(clusters, tmp_path, namespaces=[namespace]), tmp_path / "hub.log")
    hub.start()
    names = [f"s{i}" for i in range(12)]  # more objects than the hub has workers
    try:
        for name in names:
            federated_secret(clusters, namespace, name, "v1", MEMBERS)
        wait_for(lambda: all(member_value(clusters, m, namespace, n) == "v1"
                             for n in names for m in BOTH), timeout=60)  # fmt: skip
        with paused_apiserver(clusters, "member-1"):
            started = time.monotonic()
            for name in names:
                set_value(clusters, namespace, name, "v2")
            wait_for(lambda: all(member_value(clusters, "member-2", namespace, n) == "v2"
                                 for n in names), timeout=60)  # fmt: skip
            elapsed = time.monotonic() - started
            print(f"member-2 updated {len(names)} objects in {elapsed:.2f}s with member-1 hung")
            assert elapsed < 3.0, f"member-2 waited {elapsed:.1f}s on the hung member-1"
            # Status is right for every object: none keeps a stale Propagated for member-1.
            wait_for(lambda: all(
                cluster_statuses(clusters, namespace, n).get("member-1") == "ClusterNotReady"
                and cluster_statuses(clusters, namespace, n).get("member-2") == "Propagated"
                for n in names), timeout=60)  # fmt: skip
        wait_for(lambda: all(member_value(clusters, "member-1", namespace, n) == "v2"
                             for n in names), timeout=90)  # fmt: skip
        wait_for(lambda: all(set(cluster_statuses(clusters, namespace, n).values())
                             == {"Propagated"} for n in names), timeout=60)  # fmt: skip
    finally:
        assert hub.stop() == 0, hub.output()[-2000:]
    assert "Traceback" not in hub.output()


def test_the_copy_is_restored_within_seconds_once_a_fight_ends(
    clusters: Clusters, federated_crds: None, namespace: str, tmp_path: Path
) -> None:
    hub = HubProcess(config_file(clusters, tmp_path, namespaces=[namespace]), tmp_path / "hub.log")
    hub.start()
    member = clusters.core("member-1")
    try:
        federated_secret(clusters, namespace, "cert", "ours", {"clusters": [{"name": "member-1"}]})
        wait_for(lambda: member_value(clusters, "member-1", namespace, "cert") == "ours")
        before = hub.metric("synchub_member_writes_total", cluster="member-1")
        ended = time.monotonic() + 6
        while time.monotonic() < ended:  # another controller insisting on its own value
            member.patch_namespaced_secret("cert", namespace, {"data": {"k": b64("theirs")}})
            time.sleep(0.3)
        last_foreign_write = time.monotonic()
        during = hub.metric("synchub_member_writes_total", cluster="member-1") - before
        assert during <= 6, f"{during} writes during a 6 s fight: the hub kept fighting"
        assert hub.metric("synchub_ownership_conflicts_total", cluster="member-1") >= 1
        wait_for(lambda: member_value(clusters, "member-1", namespace, "cert") == "ours", 30)
        restored = time.monotonic() - last_foreign_write
        print(f"copy restored {restored:.2f}s after the last foreign write")
        assert restored < 8.0, f"restored only {restored:.1f}s after the fight ended"
    finally:
        assert hub.stop() == 0, hub.output()[-2000:]


def test_refused_credentials_are_one_status_on_every_object(
    clusters: Clusters, federated_crds: None, namespace: str, tmp_path: Path
) -> None:
    member_kubeconfig = tmp_path / "member-1.kubeconfig"
    write_member_kubeconfig(
        clusters, "member-1", member_kubeconfig, member_token(clusters, "member-1", namespace)
    )
    document = yaml.safe_load(clusters.clusters_yaml.read_text())
    for member in document["members"]:
        if member["name"] == "member-1":
            member["kubeconfig"] = str(member_kubeconfig)
    config = tmp_path / "clusters.yaml"
    config.write_text(yaml.safe_dump({**document, "namespaces": [namespace]}))
    hub = HubProcess(config, tmp_path / "hub.log").start()
    names = [f"s{i}" for i in range(12)]
    try:
        for name in names:
            federated_secret(clusters, namespace, name, "v1", MEMBERS)
        wait_for(lambda: all(member_value(clusters, m, namespace, n) == "v1"
                             for n in names for m in BOTH), timeout=60)  # fmt: skip
        clusters.core("member-1").delete_namespaced_service_account("hub", namespace)
        for name in names:
            set_value(clusters, namespace, name, "v2")

        def one_cause() -> bool:
            statuses = [cluster_statuses(clusters, namespace, n).get("member-1") for n in names]
            return statuses == ["CredentialsInvalid"] * len(names)

        wait_for(one_cause, timeout=60)
        time.sleep(2)  # no object drifts back to another status
        assert one_cause(), [cluster_statuses(clusters, namespace, n) for n in names]
        fixed = time.monotonic()
        write_member_kubeconfig(
            clusters, "member-1", member_kubeconfig, member_token(clusters, "member-1", namespace)
        )
        wait_for(lambda: all(member_value(clusters, "member-1", namespace, n) == "v2"
                             for n in names), timeout=90)  # fmt: skip
        caught_up = time.monotonic() - fixed
        print(f"member-1 caught up {caught_up:.2f}s after its credentials were fixed")
    finally:
        assert hub.stop() == 0, hub.output()[-2000:]


def test_strategy_replace_removes_fields_others_added(
    clusters: Clusters, federated_crds: None, namespace: str, tmp_path: Path
) -> None:
    hub = HubProcess(config_file(clusters, tmp_path, namespaces=[namespace]), tmp_path / "hub.log")
    hub.start()
    member = clusters.core("member-1")
    only_member_1 = {"clusters": [{"name": "member-1"}]}
    try:
        federated_secret(clusters, namespace, "exact", "ours", only_member_1)
        federated_secret(clusters, namespace, "shared", "ours", only_member_1)
        clusters.custom("master").patch_namespaced_custom_object(
            GROUP, VERSION, namespace, "federatedsecrets", "exact",
            {"metadata": {"annotations": {"synchub.io/strategy": "replace"}}},
        )  # fmt: skip
        wait_for(lambda: all(member_value(clusters, "member-1", namespace, n) == "ours"
                             for n in ("exact", "shared")))  # fmt: skip
        time.sleep(1)  # the annotation change has been seen (a no-op for the copy)
        added = {"metadata": {"labels": {"someone": "else"}}, "data": {"extra": b64("x")}}
        for name in ("exact", "shared"):
            member.patch_namespaced_secret(name, namespace, added)
        changed = time.monotonic()

        def exact() -> bool:
            secret = member.read_namespaced_secret("exact", namespace)
            return set(secret.data) == {"k"} and "someone" not in (secret.metadata.labels or {})

        wait_for(exact, timeout=30)
        print(f"added fields removed {time.monotonic() - changed:.2f}s after they were written")
        shared = member.read_namespaced_secret("shared", namespace)
        # strategy apply (the default) reclaims changed fields only: added ones survive.
        assert set(shared.data) == {"k", "extra"}
        assert shared.metadata.labels.get("someone") == "else"
    finally:
        assert hub.stop() == 0, hub.output()[-2000:]


@pytest.fixture
def own_sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox of its own: KubeFed's CRDs change what `mode: auto` detects on the master."""
    sandbox = Sandbox(tmp_path / "sandbox")
    sandbox.up(2)
    try:
        yield sandbox
    finally:
        sandbox.down()


def test_adopt_resources_of_a_kubefed_config_is_honoured(
    own_sandbox: Sandbox, tmp_path: Path
) -> None:
    from hub.core.crds import render_crds
    from hub.testing import api_client, crd_served, open_crd

    master = api_client(own_sandbox.kubeconfig, "master")
    member = api_client(own_sandbox.kubeconfig, "member-1")
    extensions = k8s.ApiextensionsV1Api(master)
    config_crd = open_crd("core.kubefed.io", "v1beta1", "KubeFedConfig")
    for crd in [*yaml.safe_load_all(render_crds()), config_crd]:
        extensions.create_custom_resource_definition(crd)
    for api in (master, member):
        for ns in ("kube-federation-system", "app"):
            k8s.CoreV1Api(api).create_namespace(k8s.V1Namespace(metadata={"name": ns}))
    wait_for(lambda: crd_served(master, "core.kubefed.io", "v1beta1", "kubefedconfigs"))
    wait_for(lambda: crd_served(master, GROUP, VERSION, "federatedsecrets"))
    handmade = k8s.V1Secret(metadata={"name": "cert"}, data={"k": b64("handmade")})
    k8s.CoreV1Api(member).create_namespaced_secret("app", handmade)
    hub = HubProcess(own_sandbox.clusters_yaml, tmp_path / "hub.log", "--mode", "direct").start()
    custom = k8s.CustomObjectsApi(master)
    try:
        custom.create_namespaced_custom_object(GROUP, VERSION, "app", "federatedsecrets", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "FederatedSecret",
            "metadata": {"name": "cert"},
            "spec": {"template": {"data": {"k": b64("ours")}},
                     "placement": {"clusters": [{"name": "member-1"}]}},
        })  # fmt: skip

        def status() -> str | None:
            fed = custom.get_namespaced_custom_object(
                GROUP, VERSION, "app", "federatedsecrets", "cert"
            )
            entries = (fed.get("status") or {}).get("clusters") or []
            return next((e["status"] for e in entries if e["name"] == "member-1"), None)

        wait_for(lambda: status() == "AlreadyExists")  # SyncHub's default: never adopt
        custom.create_namespaced_custom_object(
            "core.kubefed.io", "v1beta1", "kube-federation-system", "kubefedconfigs",
            {"apiVersion": "core.kubefed.io/v1beta1", "kind": "KubeFedConfig",
             "metadata": {"name": "kubefed"}, "spec": {"adoptResources": "Enabled"}},
        )  # fmt: skip
        secret = k8s.CoreV1Api(member)
        wait_for(lambda: base64.b64decode(
            secret.read_namespaced_secret("cert", "app").data["k"]).decode() == "ours")  # fmt: skip
        wait_for(lambda: status() == "Propagated")
    finally:
        assert hub.stop() == 0, hub.output()[-2000:]
        for api in (master, member):
            api.close()


def federated_names(clusters: Clusters, namespace: str) -> set[str]:
    listed = clusters.custom("master").list_namespaced_custom_object(
        GROUP, VERSION, namespace, "federatedsecrets"
    )
    return {fed["metadata"]["name"] for fed in listed["items"]}


def test_a_hung_member_does_not_delay_deletions_elsewhere(
    clusters: Clusters, federated_crds: None, namespace: str, tmp_path: Path
) -> None:
    timeout = {"deletionTimeout": "6s"}
    config = config_file(clusters, tmp_path, namespaces=[namespace], propagation=timeout)
    hub = HubProcess(config, tmp_path / "hub.log").start()
    names = [f"d{i}" for i in range(12)]  # more objects than the hub has workers
    try:
        for name in names:
            federated_secret(clusters, namespace, name, "v1", MEMBERS)
        wait_for(lambda: all(member_value(clusters, m, namespace, n) == "v1"
                             for n in names for m in BOTH), timeout=60)  # fmt: skip
        with paused_apiserver(clusters, "member-1"):
            started = time.monotonic()
            for name in names:
                clusters.custom("master").delete_namespaced_custom_object(
                    GROUP, VERSION, namespace, "federatedsecrets", name
                )
            wait_for(lambda: all(member_value(clusters, "member-2", namespace, n) is None
                                 for n in names), timeout=60)  # fmt: skip
            elapsed = time.monotonic() - started
            print(f"member-2 lost {len(names)} copies in {elapsed:.2f}s with member-1 hung")
            assert elapsed < 3.0, f"deletions on member-2 waited {elapsed:.1f}s on member-1"
            # member-1 still hangs: propagation.deletionTimeout releases the finalizers.
            wait_for(lambda: not federated_names(clusters, namespace), timeout=60)
            released = time.monotonic() - started
            print(f"finalizers released {released:.2f}s after the deletions (timeout 6s)")
            assert released >= 6.0, f"released after {released:.1f}s, before deletionTimeout"
        # Back again: the copies left behind on member-1 are swept.
        wait_for(lambda: all(member_value(clusters, "member-1", namespace, n) is None
                             for n in names), timeout=90)  # fmt: skip
    finally:
        assert hub.stop() == 0, hub.output()[-2000:]
    assert "Traceback" not in hub.output()
