"""Copy engine latency: source Secret changed ─► FederatedSecret template updated.

The hub runs with ``--mode federation`` (copy only) on its own sandbox; every FederatedSecret
has an empty placement, so nothing propagates. Prints one JSON object; never fails on a number.

    .venv/bin/python bench/copy_latency.py [--objects 1000] [--updates 50]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from typing import Any

import _common as c
from kubernetes import client as k8s

from hub.sandbox import MASTER
from hub.testing import b64, copying_federated_secret, install_federated_crds

NAMESPACE = "bench-copy"
GROUP, VERSION = c.KUBEFED
PLURAL = "federatedsecrets"
SYNC_TIMEOUT = 600.0
UPDATE_TIMEOUT = 60.0
QUIET_SECONDS = 10.0


def source(i: int, value: str) -> k8s.V1Secret:
    return k8s.V1Secret(metadata={"name": f"src-{i}"}, data={"value": value})


def federated(i: int) -> dict[str, Any]:
    return copying_federated_secret(f"fs-{i}", f"src-{i}", {"clusters": []})


def template_data(obj: dict[str, Any]) -> Any:
    return c.dig(obj, "spec", "template", "data")


def setup(bench: c.Bench, objects: int) -> dict[str, dict[str, str]]:
    """CRDs, namespace, sources and FederatedSecrets; the data each template should get."""
    c.say("installing the Federated CRDs")
    install_federated_crds(bench.api[MASTER])
    bench.create_namespace(NAMESPACE, on=[MASTER])
    core, custom = bench.core(), bench.custom()
    expected = {f"fs-{i}": {"value": b64(f"v0-{i}")} for i in range(objects)}
    c.parallel(
        lambda i: core.create_namespaced_secret(NAMESPACE, source(i, b64(f"v0-{i}"))),
        objects,
        "source Secrets",
    )
    c.parallel(
        lambda i: custom.create_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, PLURAL, federated(i)
        ),
        objects,
        "FederatedSecrets",
    )
    return expected


def wait_filled(
    watcher: c.Watcher, hub: c.Hub, expected: dict[str, dict[str, str]]
) -> tuple[float | None, int]:
    """Seconds from hub start until every template holds its source's data, and how many do."""
    deadline = time.monotonic() + SYNC_TIMEOUT
    reported = time.monotonic()
    filled = 0
    while time.monotonic() < deadline:
        snapshot = watcher.snapshot()
        filled = sum(1 for n, d in expected.items() if template_data(snapshot.get(n, {})) == d)
        if filled == len(expected):
            return time.monotonic() - hub.started, filled
        if time.monotonic() - reported > 5:
            c.say(f"  {filled}/{len(expected)} templates filled")
            reported = time.monotonic()
        hub.check_running()
        time.sleep(0.05)
    return None, filled


def measure_updates(
    bench: c.Bench, watcher: c.Watcher, objects: int, updates: int, rng: random.Random
) -> tuple[list[float], int]:
    core = bench.core()
    latencies: list[float] = []
    timeouts = 0
    for k in range(updates):
        i = rng.randrange(objects)
        value = b64(f"u{k}-{i}-{time.time_ns()}")
        started = time.monotonic()
        core.patch_namespaced_secret(f"src-{i}", NAMESPACE, {"data": {"value": value}})

        def copied(obj: dict[str, Any], value: str = value) -> bool:
            return bool(template_data(obj) == {"value": value})

        seen = watcher.wait_for(f"fs-{i}", copied, UPDATE_TIMEOUT)
        if seen is None:
            timeouts += 1
            c.say(f"  update {k} (src-{i}): not copied within {UPDATE_TIMEOUT:.0f}s")
        else:
            latencies.append(seen - started)
        time.sleep(0.05)
    return latencies, timeouts


def run(bench: c.Bench, args: argparse.Namespace) -> dict[str, Any]:
    expected = setup(bench, args.objects)
    custom = bench.custom()
    watcher = c.Watcher(
        custom.list_namespaced_custom_object,
        group=GROUP,
        version=VERSION,
        namespace=NAMESPACE,
        plural=PLURAL,
    ).start()
    result: dict[str, Any] = {
        "benchmark": "copy_latency",
        "objects": args.objects,
        "updates": args.updates,
    }
    with c.running_hub(bench, "--mode", "federation") as hub:
        result["hub_ready_seconds"] = round(hub.wait_ready(), 2)
        c.say(f"waiting for {args.objects} templates to be filled")
        seconds, filled = wait_filled(watcher, hub, expected)
        result["initial_sync_seconds"] = None if seconds is None else round(seconds, 2)
        if seconds is None:
            result["initial_sync_timeout"] = f"{filled}/{args.objects} filled after {SYNC_TIMEOUT}s"
            c.say(result["initial_sync_timeout"])
        else:
            c.say(f"all templates filled {seconds:.1f}s after the hub started")
        initial = hub.writes()
        result["initial_writes"] = initial

        c.say(f"measuring {args.updates} source updates")
        latencies, timeouts = measure_updates(
            bench, watcher, args.objects, args.updates, random.Random(args.seed)
        )
        result["latency_ms"] = c.summary_ms(latencies)
        result["update_timeouts"] = timeouts
        after_updates = hub.writes()
        result["update_writes"] = c.delta(after_updates, initial)
        c.say(f"latency ms: {result['latency_ms']}")

        c.say(f"quiet period: {QUIET_SECONDS:.0f}s")
        time.sleep(QUIET_SECONDS)
        final = hub.writes()
        quiet = c.delta(final, after_updates)
        result["quiet_writes"] = c.total(quiet)
        if quiet:
            result["quiet_writes_by_cluster"] = quiet
        result["hub_rss_mb"] = hub.rss_mb()
        result["hub_cpu_seconds"] = hub.cpu_seconds()
        result["writes_total"] = c.total(final)
        result["writes"] = final
        result["watch_errors"] = watcher.errors
    watcher.stop()
    result["hub_exit_code"] = hub.process.returncode if hub.process else None
    result.update(c.log_report(hub))
    return result


def main() -> int:
    p = c.parser(__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--seed", type=int, default=1, help="random seed for the updated objects")
    return c.main(p.parse_args(), run)


if __name__ == "__main__":
    sys.exit(main())
