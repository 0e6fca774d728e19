"""The hub makes only the necessary requests (docs/propagation.md, "Requests and writes").

An initial sync of FederatedSecrets that copy from Secrets costs at most two master writes
per object (the copy carrying the finalizer, one status carrying both conditions), one
apply per object per member and no GET on a member before it; a missing namespace is
created once per member; a source update costs the template write and one status write.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from hub.core.federation import FINALIZER
from hub.sandbox import MASTER
from hub.testing import (
    Clusters,
    HubProcess,
    b64,
    copying_federated_secret,
    running_hub,
    settled,
    wait_for,
    write_config,
)

GROUP, VERSION, PLURAL = "types.kubefed.io", "v1beta1", "federatedsecrets"
OBJECTS = 20


def federated(i: int) -> dict[str, Any]:
    return copying_federated_secret(f"fs-{i}", f"src-{i}")


def requests(hub: HubProcess) -> Counter[tuple[str, str]]:
    """Requests sent so far, by (cluster, verb); the periodic probes' discovery left out."""
    counts: Counter[tuple[str, str]] = Counter()
    for labels, value in hub.samples("synchub_api_requests_total"):
        if labels["verb"] != "discovery":
            counts[(labels["cluster"], labels["verb"])] += int(value)
    return counts


def conflicts(hub: HubProcess) -> int:
    return int(
        sum(v for got, v in hub.samples("synchub_api_requests_total") if got["code"] == "409")
    )


def listing(clusters: Clusters, namespace: str) -> list[dict[str, Any]]:
    raw = clusters.custom().list_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, _preload_content=False
    )
    items: list[dict[str, Any]] = json.loads(raw.data)["items"]
    return items


def propagated(obj: dict[str, Any], members: list[str], generation: bool = False) -> bool:
    status = obj.get("status") or {}
    done = {e["name"] for e in status.get("clusters") or [] if e.get("status") == "Propagated"}
    current = status.get("observedGeneration") == obj["metadata"]["generation"]
    return set(members) <= done and (current or not generation)


def condition(obj: dict[str, Any], type_: str) -> str:
    for entry in (obj.get("status") or {}).get("conditions") or []:
        if entry.get("type") == type_:
            return str(entry.get("status"))
    return ""


def test_initial_sync_and_updates_make_only_the_necessary_requests(
    clusters: Clusters, federated_crds: None, tmp_path: Path
) -> None:
    namespace = clusters.create_namespace(on=[MASTER])  # the hub creates it on the members
    config = write_config(clusters.clusters_yaml, tmp_path, namespaces=[namespace])
    with running_hub(config, tmp_path / "synchub.log", "--mode", "direct") as hub:
        wait_for(
            lambda: hub.metric("synchub_cluster_ready") == len(clusters.names), what="clusters"
        )
        before = settled(lambda: requests(hub))
        core, custom = clusters.core(), clusters.custom()
        for i in range(OBJECTS):  # the sources first: each target finds its source at once
            secret = {"metadata": {"name": f"src-{i}"}, "data": {"v": b64(f"value-{i}")}}
            core.create_namespaced_secret(namespace, secret)
        for i in range(OBJECTS):
            custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, federated(i))
        wait_for(
            lambda: all(propagated(o, clusters.members) for o in listing(clusters, namespace)),
            timeout=120,
            what="every FederatedSecret propagated",
        )
        synced = settled(lambda: requests(hub)) - before

        assert synced[(MASTER, "patch")] <= 2 * OBJECTS, synced
        for member in clusters.members:
            assert synced[(member, "get")] == 0, (member, synced)  # apply first, never look
            assert synced[(member, "create")] == 1, (member, synced)  # the namespace, once
            # One apply per object, plus the first one that met the missing namespace.
            assert OBJECTS <= synced[(member, "patch")] <= OBJECTS + 1, (member, synced)
            copy = clusters.core(member).read_namespaced_secret("fs-3", namespace)
            assert copy.data == {"v": b64("value-3")}
        for obj in listing(clusters, namespace):
            assert FINALIZER in obj["metadata"].get("finalizers", []), obj["metadata"]
            assert condition(obj, "CopyReady") == "True", obj.get("status")
            assert condition(obj, "Propagation") == "True", obj.get("status")

        updates = 5
        for k in range(updates):
            core.patch_namespaced_secret(f"src-{k}", namespace, {"data": {"v": b64(f"update-{k}")}})
            wait_for(
                lambda k=k: all(
                    propagated(o, clusters.members, generation=True)
                    for o in listing(clusters, namespace)
                    if o["metadata"]["name"] == f"fs-{k}"
                ),
                timeout=60,
                what=f"update {k} propagated",
            )
        updated = settled(lambda: requests(hub)) - before - synced
        # Per update: the template write, and one status write (its observedGeneration).
        assert updated[(MASTER, "patch")] <= 2 * updates, updated
        for member in clusters.members:
            assert updated[(member, "patch")] == updates, (member, updated)
            assert updated[(member, "get")] == 0, (member, updated)
        assert conflicts(hub) == 0
