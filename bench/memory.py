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
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _common as c
from propagation import GROUP, NAMESPACE, PLURAL, VERSION, literal, propagated

from hub.sandbox import MASTER
from hub.testing import install_federated_crds, wait_for

FANOUT_TIMEOUT = 1800.0
SETTLE_SECONDS = 5.0  # after ready or after the fan-out: let the last events drain
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

# Runs the hub with tracemalloc on; SIGUSR1 writes the traced total, the 40 largest allocation
# lines and the 25 largest files to a file (renamed into place once complete).
TRACED_HUB = """
import os, signal, sys, tracemalloc
tracemalloc.start(1)
def dump(*_):
    snapshot = tracemalloc.take_snapshot()
    total = tracemalloc.get_traced_memory()[0]
    with open({out!r} + ".tmp", "w") as f:
        f.write(f"{{total}}\\t0\\ttotal\\n")
        for s in snapshot.statistics("lineno")[:40]:
            f.write(f"{{s.size}}\\t{{s.count}}\\t{{s.traceback[0]}}\\n")
        for s in snapshot.statistics("filename")[:25]:
            f.write(f"{{s.size}}\\t{{s.count}}\\tfile {{s.traceback[0].filename}}\\n")
    os.rename({out!r} + ".tmp", {out!r})
signal.signal(signal.SIGUSR1, dump)
from hub.cli.main import main
sys.argv = ["synchub", *sys.argv[1:]]
sys.exit(main())
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


class TracedHub(c.Hub):
    """The bench hub, run under tracemalloc (see TRACED_HUB)."""

    def __init__(self, bench: c.Bench, out: Path, *args: str) -> None:
        super().__init__(bench, *args)
        self.out = out

    def command(self) -> list[str]:
        hub_args = super().command()[3:]  # drop "python -m hub"
        return [sys.executable, "-c", TRACED_HUB.format(out=str(self.out)), *hub_args]

    def allocation_sites(self) -> list[dict[str, Any]]:
        """The largest allocation sites now (SIGUSR1, then read the hub's dump)."""
        self.out.unlink(missing_ok=True)
        os.kill(self.pid, signal.SIGUSR1)
        wait_for(self.out.exists, timeout=120, what="the tracemalloc dump")
        sites = []
        for line in self.out.read_text().splitlines():
            size, count, where = line.split("\t")
            sites.append({"kib": round(int(size) / 1024), "blocks": int(count), "at": where})
        return sites


def settle(hub: c.Hub, seconds: float = SETTLE_SECONDS, limit: float = 120.0) -> None:
    """Wait until the hub used under 2 % of a core over ``seconds`` (its work is done)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = hub.cpu_seconds() or 0.0
        time.sleep(seconds)
        if (hub.cpu_seconds() or 0.0) - before < 0.02 * seconds:
            return


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
    settle(hub)
    base = hub.rss_mb()
    result["base_rss_mb"] = base
    if isinstance(hub, TracedHub):
        result["traced_base_kib"] = hub.allocation_sites()[0]["kib"]
    c.say(f"base RSS {base} MB; creating {args.objects} FederatedSecrets")
    cpu_before = hub.cpu_seconds()
    create(bench, args.objects)
    seconds = wait_propagated(bench, hub, args.objects)
    result["propagated_seconds"] = None if seconds is None else round(seconds, 1)
    settle(hub)
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
    if isinstance(hub, TracedHub):
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
        TracedHub(bench, c.workdir(bench) / "tracemalloc.txt", "--mode", "direct")
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
