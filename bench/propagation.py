"""Direct propagation: initial fan-out of many FederatedSecrets, then source ─► members latency.

The hub runs in direct mode on its own sandbox (master + 2 members). The FederatedSecrets exist
before it starts; then one FederatedSecret copying from a source Secret is updated repeatedly
and the time until both members hold the new data is measured. Prints one JSON object; never
fails on a number.

    .venv/bin/python bench/propagation.py [--objects 1000] [--updates 50] [--quiet-seconds 60]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import _common as c
from kubernetes import client as k8s

from hub.sandbox import MASTER
from hub.testing import b64, install_federated_crds

NAMESPACE = "bench-prop"
GROUP, VERSION = c.KUBEFED
PLURAL = "federatedsecrets"
COPIED = "copied"  # the FederatedSecret that copies from SOURCE
SOURCE = "source"
FANOUT_TIMEOUT = 600.0
UPDATE_TIMEOUT = 60.0
MEMBERS_ONLY = {"matchExpressions": [{"key": "cluster-master", "operator": "DoesNotExist"}]}


def federated(name: str, template: dict[str, Any], annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "FederatedSecret",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"template": template, "placement": {"clusterSelector": MEMBERS_ONLY}},
    }


def literal(i: int) -> dict[str, Any]:
    return federated(f"fs-{i}", {"type": "Opaque", "data": {"value": b64(f"literal-{i}")}}, {})


def copying() -> dict[str, Any]:
    annotation = {"k8s-copier.fig.org/replace-spec.template.data": f"secrets:{SOURCE}:data"}
    return federated(COPIED, {"type": "Opaque"}, annotation)


def setup(bench: c.Bench, objects: int) -> None:
    c.say("installing the Federated CRDs")
    install_federated_crds(bench.api[MASTER])
    bench.create_namespace(NAMESPACE, on=[MASTER])  # on the master; the hub creates it on members
    core, custom = bench.core(), bench.custom()
    core.create_namespaced_secret(
        NAMESPACE, k8s.V1Secret(metadata={"name": SOURCE}, data={"value": b64("initial")})
    )
    custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, copying())
    c.parallel(
        lambda i: custom.create_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, PLURAL, literal(i)
        ),
        objects,
        "FederatedSecrets",
    )


def propagated(obj: dict[str, Any], members: list[str]) -> bool:
    clusters = c.dig(obj, "status", "clusters") or []
    done = {e.get("name") for e in clusters if e.get("status") == "Propagated"}
    return all(m in done for m in members)


def wait_fanout(bench: c.Bench, hub: c.Hub, expected: int) -> tuple[float | None, int]:
    """Seconds from hub start until every FederatedSecret reports both members Propagated.

    One list call per second; resolution is therefore about a second.
    """
    custom = bench.custom()
    deadline = time.monotonic() + FANOUT_TIMEOUT
    reported = 0.0
    done = 0
    while time.monotonic() < deadline:
        raw = custom.list_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, PLURAL, _preload_content=False
        )
        items = json.loads(raw.data).get("items") or []
        done = sum(1 for o in items if propagated(o, bench.members))
        if done >= expected:
            return time.monotonic() - hub.started, done
        if time.monotonic() - reported > 5:
            c.say(f"  {done}/{expected} propagated to both members")
            reported = time.monotonic()
        hub.check_running()
        time.sleep(1.0)
    return None, done


def managed_copies(bench: c.Bench) -> dict[str, int]:
    """Secrets labelled as managed by the hub, per member (sanity check of the fan-out)."""
    counts = {}
    for member in bench.members:
        raw = bench.core(member).list_namespaced_secret(
            NAMESPACE, label_selector="synchub.io/managed=true", _preload_content=False
        )
        counts[member] = len(json.loads(raw.data).get("items") or [])
    return counts


def measure_updates(
    bench: c.Bench, watchers: list[c.Watcher], updates: int
) -> tuple[list[float], int]:
    core = bench.core()
    latencies: list[float] = []
    timeouts = 0
    for k in range(updates):
        value = b64(f"update-{k}-{time.time_ns()}")
        started = time.monotonic()
        core.patch_namespaced_secret(SOURCE, NAMESPACE, {"data": {"value": value}})

        # Both watches receive concurrently; wait_for only reads what each has seen.
        def copied(obj: dict[str, Any], value: str = value) -> bool:
            return bool(obj.get("data") == {"value": value})

        seen = [w.wait_for(COPIED, copied, UPDATE_TIMEOUT) for w in watchers]
        if any(s is None for s in seen):
            timeouts += 1
            c.say(f"  update {k}: not on both members within {UPDATE_TIMEOUT:.0f}s")
        else:
            latencies.append(max(s for s in seen if s is not None) - started)
        time.sleep(0.2)  # let the status write of this round land before the next one
    return latencies, timeouts


def run(bench: c.Bench, args: argparse.Namespace) -> dict[str, Any]:
    setup(bench, args.objects)
    result: dict[str, Any] = {
        "benchmark": "propagation",
        "objects": args.objects,
        "members": len(bench.members),
        "updates": args.updates,
    }
    with c.running_hub(bench, "--mode", "direct") as hub:
        result["hub_ready_seconds"] = round(hub.wait_ready(), 2)
        c.say(f"waiting for {args.objects + 1} FederatedSecrets to reach both members")
        seconds, done = wait_fanout(bench, hub, args.objects + 1)
        result["initial_fanout_seconds"] = None if seconds is None else round(seconds, 2)
        if seconds is None:
            result["initial_fanout_timeout"] = (
                f"{done}/{args.objects + 1} propagated after {FANOUT_TIMEOUT:.0f}s"
            )
            c.say(result["initial_fanout_timeout"])
        else:
            c.say(f"fan-out done {seconds:.1f}s after the hub started")
        initial = hub.writes()
        result["initial_writes"] = c.by_verb(initial)
        result["initial_writes_by_cluster"] = initial
        result["member_copies"] = managed_copies(bench)

        watchers = [
            c.Watcher(
                bench.core(member).list_namespaced_secret,
                namespace=NAMESPACE,
                field_selector=f"metadata.name={COPIED}",
            ).start()
            for member in bench.members
        ]
        c.say(f"measuring {args.updates} source updates")
        latencies, timeouts = measure_updates(bench, watchers, args.updates)
        result["update_latency_ms"] = c.summary_ms(latencies)
        result["update_timeouts"] = timeouts
        after_updates = hub.writes()
        result["update_writes"] = c.delta(after_updates, initial)
        c.say(f"update latency ms: {result['update_latency_ms']}")
        for watcher in watchers:
            watcher.stop()

        c.say(f"quiet period: {args.quiet_seconds:.0f}s")
        result["quiet_seconds"] = args.quiet_seconds
        time.sleep(args.quiet_seconds)
        final = hub.writes()
        quiet = c.delta(final, after_updates)
        result["quiet_writes"] = c.total(quiet)
        if quiet:
            result["quiet_writes_by_cluster"] = quiet
        result["hub_rss_mb"] = hub.rss_mb()
        result["hub_cpu_seconds"] = hub.cpu_seconds()
        result["writes_total"] = c.total(final)
    result["hub_exit_code"] = hub.process.returncode if hub.process else None
    result.update(c.log_report(hub))
    return result


def main() -> int:
    p = c.parser(__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--quiet-seconds", type=float, default=60.0, help="quiet period (default 60)")
    return c.main(p.parse_args(), run)


if __name__ == "__main__":
    sys.exit(main())
