"""Memory and quiet CPU: the cost of importing the hub, of running it, and of each object.

Measures, in one run on its own sandbox (master + 2 members, direct mode):

- ``import hub.app`` in a fresh interpreter: resident memory, wall time, modules loaded; beside
  it a floor, a bare interpreter that imports only aiohttp and yaml;
- the hub's resident memory once ready with no FederatedSecrets (base);
- its resident memory after N FederatedSecrets (``--objects``, default 1000, up to 10000) are
  propagated to every member, and the bytes that costs per object per cluster (the
  FederatedSecret on the master, one Secret per member);
- the CPU it used for that sync, per object, and per minute when nothing changes
  (``--quiet-seconds``).

``--tracemalloc`` runs the hub under tracemalloc and adds its largest allocation sites after
the sync (the hub is slower then: use it to find where memory goes, not for the figures).
Prints one JSON object; never fails on a number.

    .venv/bin/python bench/memory.py [--objects 1000] [--quiet-seconds 60] [--tracemalloc]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any

import _common as c
from propagation import GROUP, NAMESPACE, PLURAL, VERSION, literal, propagated

from hub.sandbox import MASTER
from hub.testing import install_federated_crds

FANOUT_TIMEOUT = 1800.0
IMPORT_RUNS = 3
MAX_OBJECTS = 10_000

MEASURE_IMPORT = """
import json, sys, time
started = time.perf_counter()
import {modules}
seconds = time.perf_counter() - started
rss = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS:"))
print(json.dumps({{"rss_mb": round(rss / 1024, 1), "seconds": round(seconds, 3),
                  "modules": len(sys.modules)}}))
"""


def import_cost(modules: str) -> dict[str, Any]:
    """Median RSS and fastest wall time of importing ``modules`` in a fresh interpreter."""
    runs = []
    for _ in range(IMPORT_RUNS):
        out = subprocess.run(
            [sys.executable, "-c", MEASURE_IMPORT.format(modules=modules)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        runs.append(json.loads(out))
    return {
        "rss_mb": statistics.median(r["rss_mb"] for r in runs),
        "seconds": min(r["seconds"] for r in runs),
        "modules": runs[0]["modules"],
    }


def create(bench: c.Bench, objects: int) -> None:
    custom = bench.custom()
    c.parallel(
        lambda i: custom.create_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, PLURAL, literal(i)
        ),
        objects,
        "FederatedSecrets",
    )


def wait_propagated(bench: c.Bench, hub: c.Hub, expected: int) -> float | None:
    """Seconds until every FederatedSecret reports every member Propagated (2 s resolution)."""
    custom, started = bench.custom(), time.monotonic()
    reported = 0.0
    while time.monotonic() - started < FANOUT_TIMEOUT:
        raw = custom.list_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, PLURAL, _preload_content=False
        )
        items = json.loads(raw.data).get("items") or []
        done = sum(1 for o in items if propagated(o, bench.members))
        if done >= expected:
            return time.monotonic() - started
        if time.monotonic() - reported > 10:
            c.say(f"  {done}/{expected} propagated to every member")
            reported = time.monotonic()
        hub.check_running()
        time.sleep(2.0)
    return None


def quiet_cpu(hub: c.Hub, seconds: float) -> float | None:
    """CPU seconds per minute while nothing changes."""
    before = hub.cpu_seconds()
    time.sleep(seconds)
    after = hub.cpu_seconds()
    if before is None or after is None:
        return None
    return round((after - before) * 60 / seconds, 3)


def measure_hub(bench: c.Bench, hub: c.Hub, args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"hub_ready_seconds": round(hub.wait_ready(), 2)}
    c.settle(hub)
    base = hub.rss_mb()
    result["base_rss_mb"] = base
    if isinstance(hub, c.TracedHub):
        result["traced_base_kib"] = hub.allocation_sites()[0]["kib"]
    c.say(f"base RSS {base} MB; creating {args.objects} FederatedSecrets")
    cpu_before = hub.cpu_seconds()
    create(bench, args.objects)
    seconds = wait_propagated(bench, hub, args.objects)
    result["propagated_seconds"] = None if seconds is None else round(seconds, 1)
    c.settle(hub)
    cpu_after = hub.cpu_seconds()
    if cpu_before is not None and cpu_after is not None and args.objects:
        result["sync_cpu_seconds"] = round(cpu_after - cpu_before, 2)
        result["sync_cpu_ms_per_object"] = round((cpu_after - cpu_before) * 1000 / args.objects, 2)
    synced = hub.rss_mb()
    result["synced_rss_mb"] = synced
    clusters = len(bench.names)
    if base is not None and synced is not None and args.objects:
        per = (synced - base) * 1024 * 1024 / (args.objects * clusters)
        result["bytes_per_object_per_cluster"] = round(per)
    c.say(f"synced RSS {synced} MB; quiet period {args.quiet_seconds:.0f}s")
    result["quiet_cpu_seconds_per_minute"] = quiet_cpu(hub, args.quiet_seconds)
    result["quiet_rss_mb"] = hub.rss_mb()
    if isinstance(hub, c.TracedHub):
        result["allocation_sites"] = hub.allocation_sites()
    return result


def run(bench: c.Bench, args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {
        "benchmark": "memory",
        "objects": args.objects,
        "clusters": len(bench.names),
        "tracemalloc": args.tracemalloc,
        "import_hub_app": import_cost("hub.app"),
        "import_floor_aiohttp_yaml": import_cost("aiohttp, yaml"),
    }
    c.say(f"import hub.app: {result['import_hub_app']}")
    install_federated_crds(bench.api[MASTER])
    bench.create_namespace(NAMESPACE, on=[MASTER])
    hub: c.Hub = (
        c.TracedHub(bench, c.workdir(bench) / "tracemalloc.txt", "--mode", "direct")
        if args.tracemalloc
        else c.Hub(bench, "--mode", "direct")
    )
    try:
        hub.start(timeout=0)
        result.update(measure_hub(bench, hub, args))
    finally:
        result["hub_exit_code"] = hub.stop()
    result.update(c.log_report(hub))
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--objects", type=int, default=1000, help="FederatedSecrets (default 1000)")
    p.add_argument("--quiet-seconds", type=float, default=60.0, help="quiet period (default 60)")
    p.add_argument("--tracemalloc", action="store_true", help="add the top allocation sites")
    args = p.parse_args()
    if not 0 <= args.objects <= MAX_OBJECTS:
        p.error(f"--objects must be between 0 and {MAX_OBJECTS}")
    return c.main(args, run)


if __name__ == "__main__":
    sys.exit(main())
