"""ObjectSync fan-out: one Secret to N namespaces on the master and on 2 members (3N copies).

Measures, on its own sandbox: the time until all 3N copies exist after the ObjectSync is
created; source update → all 3N copies updated (median and p99 of the last copy over the
updates); writes in a quiet period (should be 0); the hub's RSS. Beside it, in the same run, a
raw-client floor: a plain API client applying the same 3N objects with the same concurrency
per cluster (32), once to create and once to update. Prints one JSON object; never fails on a
number.

    .venv/bin/python bench/objectsync.py [--namespaces 1000] [--updates 20] [--quiet-seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
import threading
import time
from typing import Any

import _common as c
import yaml
from kubernetes import client as k8s
from kubernetes import watch as k8s_watch
from kubernetes.client.exceptions import ApiException

from hub.config.loader import load_config
from hub.core.crds import render_crds
from hub.kube.client import APPLY_PATCH, ClusterClient
from hub.sandbox import MASTER
from hub.testing import wait_for

SOURCE_NS = "bench-source"
SOURCE = "regcred"
LABEL = {"synchub-bench": "fanout"}
IN_FLIGHT = 32  # per cluster, as the hub's ObjectSync writer
FANOUT_TIMEOUT = 900.0
UPDATE_TIMEOUT = 120.0


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def namespaces(count: int) -> list[str]:
    return [f"bench-ns-{i}" for i in range(count)]


def setup(bench: c.Bench, count: int) -> None:
    api = k8s.ApiextensionsV1Api(bench.api[MASTER])
    for crd in yaml.safe_load_all(render_crds(("synchub.io",))):
        api.create_custom_resource_definition(crd)
    clusters = [MASTER, *bench.members]
    names = namespaces(count)
    bench.create_namespace(SOURCE_NS, on=[MASTER])
    body = {"metadata": {"name": SOURCE}, "data": {"value": b64("initial")}}
    bench.core().create_namespaced_secret(SOURCE_NS, body)

    def create(i: int) -> None:
        cluster, name = clusters[i % len(clusters)], names[i // len(clusters)]
        ns = k8s.V1Namespace(metadata={"name": name, "labels": LABEL})
        bench.core(cluster).create_namespace(ns)

    c.parallel(create, count * len(clusters), "namespaces")
    wait_for(
        lambda: bench.custom().get_api_resources("synchub.io", "v1alpha1") is not None,
        60,
        what="ObjectSync CRD served",
    )


def objectsync() -> dict[str, Any]:
    return {
        "apiVersion": "synchub.io/v1alpha1",
        "kind": "ObjectSync",
        "metadata": {"name": "fanout"},
        "spec": {
            "source": {"kind": "Secret", "name": SOURCE},
            "destinations": [
                {"namespaceSelector": {"matchLabels": LABEL}, "clusters": {"selector": {}}}
            ],
        },
    }


# --- the raw-client floor -----------------------------------------------------------------------


async def _floor_round(bench: c.Bench, count: int, value: str) -> float:
    config = load_config(bench.sandbox.clusters_yaml)
    clients = [await ClusterClient.connect(cluster) for cluster in config.clusters]
    started = time.monotonic()
    try:

        async def apply(client: ClusterClient, limit: asyncio.Semaphore, ns: str) -> None:
            body = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "floor", "namespace": ns},
                "data": {"value": value},
            }
            async with limit:
                await client.request(
                    "PATCH",
                    f"/api/v1/namespaces/{ns}/secrets/floor",
                    params={"fieldManager": "floor", "force": True},
                    body=body,
                    content_type=APPLY_PATCH,
                )

        await asyncio.gather(
            *(
                apply(client, limit, ns)
                for client, limit in ((cl, asyncio.Semaphore(IN_FLIGHT)) for cl in clients)
                for ns in namespaces(count)
            )
        )
        return time.monotonic() - started
    finally:
        for client in clients:
            await client.close()


def floor(bench: c.Bench, count: int) -> dict[str, float]:
    c.say(f"raw-client floor: applying {3 * count} Secrets, then updating them")
    create = asyncio.run(_floor_round(bench, count, b64("floor-1")))
    update = asyncio.run(_floor_round(bench, count, b64("floor-2")))
    return {"create_seconds": round(create, 2), "update_seconds": round(update, 2)}


# --- watching the copies ------------------------------------------------------------------------


class RawWatch(k8s_watch.Watch):  # type: ignore[misc]
    """A watch that leaves events as JSON: building client models for 3N objects would cost
    the benchmark more CPU than the hub it measures."""

    def get_return_type(self, _func: Any) -> None:
        return None


class Copies:
    """Arrival time of each data value per (cluster, namespace), from one watch per cluster."""

    def __init__(self, bench: c.Bench, clusters: list[str]) -> None:
        self.arrivals: dict[str, dict[tuple[str, str], float]] = {}
        self.lock = threading.Condition()
        self._stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(bench.core(cl), cl), daemon=True)
            for cl in clusters
        ]
        for thread in self.threads:
            thread.start()

    def _run(self, core: k8s.CoreV1Api, cluster: str) -> None:
        while not self._stop.is_set():
            try:
                for event in RawWatch().stream(
                    core.list_secret_for_all_namespaces,
                    label_selector="synchub.io/managed=true",
                    timeout_seconds=60,
                ):
                    obj = event["raw_object"]
                    value = (obj.get("data") or {}).get("value", "")
                    where = (cluster, obj["metadata"]["namespace"])
                    with self.lock:
                        self.arrivals.setdefault(value, {}).setdefault(where, time.monotonic())
                        self.lock.notify_all()
            except (ApiException, Exception):  # a dropped watch: list + watch again
                time.sleep(0.2)

    def wait_all(self, value: str, expected: int, timeout: float) -> float | None:
        """Arrival time of the last of ``expected`` copies holding ``value``."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while len(self.arrivals.get(value, {})) < expected:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.lock.wait(remaining)
            return max(self.arrivals[value].values())

    def stop(self) -> None:
        self._stop.set()


def measure_updates(bench: c.Bench, copies: Copies, expected: int, updates: int) -> list[float]:
    latencies = []
    for k in range(updates):
        value = b64(f"update-{k}-{time.time_ns()}")
        started = time.monotonic()
        bench.core().patch_namespaced_secret(SOURCE, SOURCE_NS, {"data": {"value": value}})
        last = copies.wait_all(value, expected, UPDATE_TIMEOUT)
        if last is None:
            c.say(f"  update {k}: not all {expected} copies within {UPDATE_TIMEOUT:.0f}s")
            continue
        latencies.append(last - started)
        c.say(f"  update {k}: {last - started:.2f}s")
    return latencies


def settled_writes(hub: c.Hub, quiet: float = 3.0, timeout: float = 60.0) -> dict[str, Any]:
    """The write counters once they stopped moving (the last update's status write landed)."""
    deadline = time.monotonic() + timeout
    writes, since = hub.writes(), time.monotonic()
    while time.monotonic() - since < quiet and time.monotonic() < deadline:
        time.sleep(0.5)
        if (current := hub.writes()) != writes:
            writes, since = current, time.monotonic()
    return writes


def run(bench: c.Bench, args: argparse.Namespace) -> dict[str, Any]:
    count = args.namespaces
    setup(bench, count)
    expected = count * (1 + len(bench.members))
    result: dict[str, Any] = {
        "benchmark": "objectsync",
        "namespaces_per_cluster": count,
        "copies": expected,
        "updates": args.updates,
        "raw_client_floor": floor(bench, count),
    }
    copies = Copies(bench, [MASTER, *bench.members])
    with c.running_hub(bench) as hub:
        result["hub_ready_seconds"] = round(hub.wait_ready(), 2)
        started = time.monotonic()
        bench.custom().create_namespaced_custom_object(
            "synchub.io", "v1alpha1", SOURCE_NS, "objectsyncs", objectsync()
        )
        last = copies.wait_all(b64("initial"), expected, FANOUT_TIMEOUT)
        fanout = None if last is None else round(last - started, 2)
        result["fanout_seconds"] = fanout
        c.say(f"fan-out of {expected} copies: {fanout}s")
        initial = hub.writes()
        result["fanout_writes"] = c.by_verb(initial)
        latencies = measure_updates(bench, copies, expected, args.updates)
        result["update_last_copy_ms"] = c.summary_ms(latencies)
        after = settled_writes(hub)
        c.say(f"quiet period: {args.quiet_seconds:.0f}s")
        time.sleep(args.quiet_seconds)
        result["quiet_seconds"] = args.quiet_seconds
        result["quiet_writes"] = c.total(c.delta(hub.writes(), after))
        result["hub_rss_mb"] = hub.rss_mb()
        result["hub_cpu_seconds"] = hub.cpu_seconds()
    copies.stop()
    floor_times = result["raw_client_floor"]
    if fanout:
        result["fanout_vs_floor_create"] = round(fanout / floor_times["create_seconds"], 2)
    median = result["update_last_copy_ms"].get("median")
    if median:
        result["update_p50_vs_floor_update"] = round(
            median / 1000 / floor_times["update_seconds"], 2
        )
    result.update(c.log_report(hub))
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--namespaces", type=int, default=1000, help="per cluster (default 1000)")
    p.add_argument("--updates", type=int, default=20, help="measured updates (default 20)")
    p.add_argument("--quiet-seconds", type=float, default=60.0, help="quiet period (default 60)")
    return c.main(p.parse_args(), run)


if __name__ == "__main__":
    sys.exit(main())
