"""Initial sync and update latency at scale, SyncHub beside the floor, in one run.

For each grid point (objects N x members M) a fresh sandbox (master + M members) holds, in
two namespaces, N master Secrets ``src-i`` and N FederatedSecrets ``fs-i`` copying from them
(so a copy is needed), placed on every member. The floor (bench/floor.py: the minimum
necessary writes) syncs one namespace and ``synchub run --mode direct`` (watching only the
other namespace) the other, one after the other (``--first``; ``--runs`` alternates it),
the one that synced staying idle; each is timed from its process start until a watch on
the master has seen every FederatedSecret report ``Propagated`` on every member. Then both
are measured on source updates (``src-0`` patched, until both members hold the new data),
the floor's and the hub's rounds interleaved, so a machine whose speed drifts slows both.

Prints one JSON object; never fails on a number. ``--profile`` runs the hub under py-spy and
writes a speedscope profile per grid point into ``--out`` (plus its hottest functions).
``--tracemalloc`` runs it under tracemalloc and adds its largest allocation sites once synced
(slower: for finding where memory goes, not for the figures). ``--no-floor`` skips the floor's
sync (its namespace is still filled: the hub must not cache it). The hub's resident memory is
read when synced, once settled, and after the updates.

    .venv/bin/python bench/scale.py [--objects 1000[,5000,10000]] [--members 1,2[,4]]
        [--updates 30] [--runs 1] [--first floor|synchub] [--profile] [--tracemalloc]
        [--no-floor] [--out DIR]
    .venv/bin/python bench/scale.py --quick      # 200 objects x 1,2 members: about a minute
    .venv/bin/python bench/scale.py --grid       # 1000,5000,10000 x 1,2,4 members

``--runs N`` measures each grid point N times (a fresh sandbox each) and adds ``spread``: per
point, the median, lowest and highest ratio, times, update ratios and hub RSS.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import _common as c
from kubernetes import client as k8s

from hub.sandbox import MASTER
from hub.testing import (
    b64,
    copying_federated_secret,
    install_federated_crds,
    start_clusters,
    write_config,
)

GROUP, VERSION = c.KUBEFED
PLURAL = "federatedsecrets"
FLOOR_NS, HUB_NS = "scale-floor", "scale-hub"
SYNC_TIMEOUT = 1800.0
UPDATE_TIMEOUT = 30.0
HERE = Path(__file__).resolve().parent
OTHER = {"floor": "synchub", "synchub": "floor"}
#: The floor's results when it is skipped (--no-floor): its namespace is still filled.
NO_FLOOR: dict[str, Any] = {"seconds": None, "update_latency_ms": {}, "api_cpu_seconds": {}}


# --- objects ---------------------------------------------------------------------------------


def federated(i: int) -> dict[str, Any]:
    return copying_federated_secret(f"fs-{i}", f"src-{i}")


def setup(bench: c.Bench, namespace: str, objects: int) -> None:
    bench.create_namespace(namespace, on=[MASTER])
    core, custom = bench.core(), bench.custom()

    def create(i: int) -> None:
        secret = k8s.V1Secret(metadata={"name": f"src-{i}"}, data={"value": b64(f"v-{i}")})
        core.create_namespaced_secret(namespace, secret)
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, federated(i))

    c.parallel(create, objects, f"Secrets + FederatedSecrets in {namespace}")


# --- observing -------------------------------------------------------------------------------


class Done(c.Watcher):
    """A watch of the FederatedSecrets that notes when each first reports every member."""

    def __init__(self, bench: c.Bench, namespace: str) -> None:
        super().__init__(
            bench.custom().list_namespaced_custom_object,
            group=GROUP, version=VERSION, namespace=namespace, plural=PLURAL,
        )  # fmt: skip
        self.members = set(bench.members)
        self.done_at: dict[str, float] = {}

    def _event(self, event: dict[str, Any]) -> None:
        super()._event(event)
        obj = event.get("raw_object") or {}
        clusters = c.dig(obj, "status", "clusters") or []
        if self.members <= {e.get("name") for e in clusters if e.get("status") == "Propagated"}:
            self.done_at.setdefault(obj["metadata"]["name"], time.monotonic())

    def wait_all(self, count: int, alive: Any) -> float | None:
        """Monotonic time the last of ``count`` objects was done; None on timeout."""
        deadline = time.monotonic() + SYNC_TIMEOUT
        reported = time.monotonic()
        while len(self.done_at) < count:
            if time.monotonic() > deadline or not alive():
                return None
            if time.monotonic() - reported > 10:
                c.say(f"  {len(self.done_at)}/{count} propagated")
                reported = time.monotonic()
            time.sleep(0.1)
        return max(self.done_at.values())


def api_cpu(bench: c.Bench) -> dict[str, float]:
    """CPU seconds used so far by each cluster's kube-apiserver + etcd."""
    state = bench.sandbox.state()  # type: ignore[attr-defined]
    result: dict[str, float] = {}
    for record in state.clusters if state else []:
        total = 0.0
        for process in (record.etcd, record.apiserver):
            if process is not None:
                total += _cpu(process.pid)
        result[record.name] = round(total, 2)
    return result


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: round(v - before.get(k, 0.0), 2) for k, v in after.items()}


def latencies(bench: c.Bench, namespaces: dict[str, str], updates: int) -> dict[str, Any]:
    """Source update → every member holds the new data, ``updates`` times in each namespace.

    The rounds alternate between the namespaces (the floor's, the hub's), so a machine whose
    speed drifts over minutes slows both alike.
    """

    def watch(member: str, namespace: str) -> c.Watcher:
        return c.Watcher(
            bench.core(member).list_namespaced_secret,
            namespace=namespace,
            field_selector="metadata.name=fs-0",
        ).start()

    watchers = {
        name: [watch(m, namespace) for m in bench.members] for name, namespace in namespaces.items()
    }
    core = bench.core()
    seconds: dict[str, list[float]] = {name: [] for name in namespaces}
    for k in range(updates):
        for name, namespace in namespaces.items():
            value = b64(f"update-{k}-{time.time_ns()}")
            started = time.monotonic()
            core.patch_namespaced_secret("src-0", namespace, {"data": {"value": value}})

            def copied(obj: dict[str, Any], value: str = value) -> bool:
                return bool((obj.get("data") or {}).get("value") == value)

            seen = [w.wait_for("fs-0", copied, UPDATE_TIMEOUT) for w in watchers[name]]
            if all(s is not None for s in seen):
                seconds[name].append(max(s for s in seen if s is not None) - started)
            time.sleep(0.3)  # let this round's status write land
    for watcher in (w for ws in watchers.values() for w in ws):
        watcher.stop()
    return {
        name: {**c.summary_ms(got), "timeouts": updates - len(got)} for name, got in seconds.items()
    }


# --- the floor -------------------------------------------------------------------------------


@contextlib.contextmanager
def floor_running(bench: c.Bench, objects: int) -> Iterator[dict[str, Any]]:
    """The floor's initial sync; it keeps following its sources until the block ends."""
    done = Done(bench, FLOOR_NS)
    done.start()
    cpu = api_cpu(bench)
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, str(HERE / "floor.py"), str(bench.clusters_yaml), FLOOR_NS],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(HERE.parent)},
    )  # fmt: skip
    finished = done.wait_all(objects, lambda: process.poll() is None)
    result: dict[str, Any] = {
        "seconds": None if finished is None else round(finished - started, 2),
        "api_cpu_seconds": cpu_delta(api_cpu(bench), cpu),
    }
    assert process.stdout is not None
    result["own_seconds"] = json.loads(process.stdout.readline() or "{}").get("synced")
    c.say(f"floor: initial sync {result['seconds']}s")
    done.stop()
    if process.poll() is not None:
        raise RuntimeError(f"the floor exited with {process.returncode}")
    try:
        yield result
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
        result["requests"] = json.loads(out.strip().splitlines()[-1] or "{}").get("requests")


# --- the hub ---------------------------------------------------------------------------------


class Profiled(c.TracedHub):
    """The hub, optionally under ``py-spy record`` (speedscope output) and/or tracemalloc."""

    def __init__(
        self, bench: c.Bench, config: Path, profile: Path | None, traced: Path | None
    ) -> None:
        super().__init__(bench, traced, "--mode", "direct")
        self.config = config
        self.profile = profile

    def command(self) -> list[str]:
        command = super().command()
        if self.profile is None:
            return command
        spy = str(Path(sys.executable).parent / "py-spy")
        return [spy, "record", "-f", "speedscope", "-o", str(self.profile), "-r", "100",
                "--nonblocking", "--", *command]  # fmt: skip

    @property
    def hub_pid(self) -> int:
        """The hub's own pid (py-spy's child when profiled)."""
        if self.profile is None:
            return self.pid
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            children = (task / "children").read_text().split()
            if children:
                return int(children[0])
        return self.pid

    def stop(self, timeout: float = 60.0) -> int | None:
        if self.profile is not None and self.running():
            os.kill(self.hub_pid, signal.SIGTERM)  # py-spy writes its file when the hub exits
            assert self.process is not None
            self.process.wait(timeout)
        return super().stop(timeout)


def counts(hub: c.Hub, name: str, *labels: str) -> dict[str, int]:
    result: Counter[str] = Counter()
    for got, value in hub.samples(name):
        result[" ".join(got.get(label, "?") for label in labels)] += int(value)
    return dict(sorted(result.items()))


@contextlib.contextmanager
def hub_running(
    bench: c.Bench, objects: int, profile: Path | None, traced: Path | None
) -> Iterator[dict[str, Any]]:
    """The hub's initial sync, then settled; it keeps running until the block ends.

    Updates made meanwhile are counted (writes, reconciles) when the block ends.
    """
    config = write_config(bench.clusters_yaml, c.workdir(bench), namespaces=[HUB_NS])
    done = Done(bench, HUB_NS)
    done.start()
    cpu = api_cpu(bench)
    hub = Profiled(bench, config, profile, traced)
    hub.start(timeout=0)
    try:
        finished = done.wait_all(objects, hub.running)
        result: dict[str, Any] = {
            "seconds": None if finished is None else round(finished - hub.started, 2),
            "api_cpu_seconds": cpu_delta(api_cpu(bench), cpu),
        }
        c.say(f"synchub: initial sync {result['seconds']}s")
        result["writes"] = hub.writes()
        result["requests"] = counts(hub, "synchub_api_requests_total", "cluster", "verb")
        result["reconciles"] = counts(hub, "synchub_reconcile_total", "controller", "result")
        result["hub_cpu_seconds"] = _cpu(hub.hub_pid)
        result["hub_rss_mb"] = hub.rss_mb()
        c.settle(hub)
        result["hub_settled_rss_mb"] = hub.rss_mb()
        if traced is not None:
            result["allocation_sites"] = hub.allocation_sites()
        done.stop()
        writes, reconciles = hub.writes(), result["reconciles"]
        yield result
        result["update_writes"] = c.delta(hub.writes(), writes)
        after = counts(hub, "synchub_reconcile_total", "controller", "result")
        result["update_reconciles"] = {k: v - reconciles.get(k, 0) for k, v in after.items()}
        result["hub_rss_after_updates_mb"] = hub.rss_mb()
        result.update(c.log_report(hub, limit=10))
    finally:
        hub.stop()
        done.stop()


# --- one grid point --------------------------------------------------------------------------


def per(value: float, count: float) -> float | None:
    return round(value / count, 3) if count else None


def summary(
    n: int, m: int, floor: dict[str, Any], hub: dict[str, Any], updates: int
) -> dict[str, Any]:
    writes = hub["writes"]
    master = writes.get(MASTER, {})
    applies = sum(v.get("apply", 0) for k, v in writes.items() if k != MASTER)
    reconciles: Counter[str] = Counter()
    for key, value in hub["reconciles"].items():
        reconciles[key.split()[0]] += value
    update_reconciles: Counter[str] = Counter()
    for key, value in hub["update_reconciles"].items():
        update_reconciles[key.split()[0]] += value
    member_gets = {
        k.split()[0]: v
        for k, v in hub["requests"].items()
        if k.endswith(" get") and MASTER not in k
    }
    f, s = floor["seconds"], hub["seconds"]
    fl, hl = floor["update_latency_ms"], hub["update_latency_ms"]
    return {
        "floor_seconds": f,
        "synchub_seconds": s,
        "ratio": round(s / f, 2) if f and s else None,
        "ms_per_object": round(1000 * s / n, 2) if s else None,
        "floor_ms_per_object": round(1000 * f / n, 2) if f else None,
        "master_writes_per_object": per(master.get("patch", 0), n),
        "master_writes_by_verb": master,
        "member_applies_per_object_per_member": per(applies, n * m),
        "member_gets_during_sync": member_gets,
        "reconciles_per_object": {k: per(v, n) for k, v in sorted(reconciles.items())},
        "reconciles_per_update": {k: per(v, updates) for k, v in sorted(update_reconciles.items())},
        "update_latency_ms": {"floor": fl, "synchub": hl},
        "update_ratio_median": _ratio(hl.get("median"), fl.get("median")),
        "update_ratio_p99": _ratio(hl.get("p99"), fl.get("p99")),
        "api_cpu_seconds": {"floor": floor["api_cpu_seconds"], "synchub": hub["api_cpu_seconds"]},
        "hub_cpu_seconds": hub["hub_cpu_seconds"],
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def point(
    n: int, m: int, args: argparse.Namespace, out: Path, first: str = "floor"
) -> dict[str, Any]:
    """One grid point on a fresh sandbox: each initial sync in turn (``first`` first, the
    other one idle), then the updates of both, interleaved."""
    root = Path(tempfile.mkdtemp(prefix="synchub-scale-"))
    c.say(f"grid point {n} objects x {m} members ({first} first)")
    profile = out / f"synchub-{n}x{m}.speedscope.json" if args.profile else None
    traced = out / f"tracemalloc-{n}x{m}.txt" if args.tracemalloc else None
    with start_clusters(root / "sandbox", members=m, pool_size=2 * c.POOL, say=c.say) as bench:
        install_federated_crds(bench.api[MASTER])
        setup(bench, FLOOR_NS, n)
        setup(bench, HUB_NS, n)
        phases = {
            "floor": lambda: floor_running(bench, n),
            "synchub": lambda: hub_running(bench, n, profile, traced),
        }
        order = sorted(phases, key=lambda name: name != first)
        if args.no_floor:
            order.remove("floor")
        with contextlib.ExitStack() as running:
            synced = {name: running.enter_context(phases[name]()) for name in order}
            namespaces = {"floor": FLOOR_NS, "synchub": HUB_NS}
            measured = latencies(bench, {k: namespaces[k] for k in order}, args.updates)
            for name, figures in measured.items():
                synced[name]["update_latency_ms"] = figures
    floor, hub = synced.get("floor", NO_FLOOR), synced["synchub"]
    result = {"objects": n, "members": m, "first": first}
    result.update(summary(n, m, floor, hub, args.updates))
    result["detail"] = {"floor": floor, "synchub": hub}
    if profile is not None and profile.exists():
        result["profile"] = {"file": str(profile), "top": hottest(profile)}
    return result


def hottest(path: Path, limit: int = 25) -> dict[str, Any]:
    """Self and total sample shares of the hottest functions of a speedscope profile."""
    document = json.loads(path.read_text())
    frames = document["shared"]["frames"]
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for profile in document["profiles"]:
        for stack, weight in zip(profile["samples"], profile["weights"], strict=False):
            samples += weight
            names = [f"{frames[i]['name']} ({Path(frames[i].get('file', '')).name})" for i in stack]
            if names:
                own[names[-1]] += weight
            for name in set(names):
                total[name] += weight

    def share(counter: Counter[str]) -> dict[str, float]:
        return {k: round(100 * v / samples, 1) for k, v in counter.most_common(limit)}

    return {"samples": samples, "self_percent": share(own), "total_percent": share(total)}


#: Values to spread over runs: (name, how to read it from a point).
SPREAD: tuple[tuple[str, Callable[[dict[str, Any]], float | None]], ...] = (
    ("ratio", lambda p: p.get("ratio")),
    ("synchub_seconds", lambda p: p.get("synchub_seconds")),
    ("floor_seconds", lambda p: p.get("floor_seconds")),
    ("update_ratio_median", lambda p: p.get("update_ratio_median")),
    ("update_ratio_p99", lambda p: p.get("update_ratio_p99")),
    ("hub_rss_mb", lambda p: p.get("detail", {}).get("synchub", {}).get("hub_rss_mb")),
    (
        "hub_settled_rss_mb",
        lambda p: p.get("detail", {}).get("synchub", {}).get("hub_settled_rss_mb"),
    ),
)


def spread(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per grid point over its runs: the median, lowest and highest of each SPREAD value."""
    runs: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for one in points:
        runs.setdefault((one["objects"], one["members"]), []).append(one)
    result = []
    for (n, m), same in runs.items():
        row: dict[str, Any] = {"objects": n, "members": m, "runs": len(same)}
        for name, read in SPREAD:
            values = sorted(v for v in (read(one) for one in same) if v is not None)
            if values:
                row[name] = {
                    "median": statistics.median(values),
                    "min": values[0],
                    "max": values[-1],
                }
        result.append(row)
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--objects", default="1000", help="comma-separated (default 1000)")
    p.add_argument("--members", default="1,2", help="comma-separated (default 1,2)")
    p.add_argument("--updates", type=int, default=30, help="measured updates (default 30)")
    p.add_argument("--runs", type=int, default=1, help="runs of each grid point (default 1)")
    p.add_argument(
        "--quick", action="store_true", help="200 objects x 1,2 members, 10 updates (a minute)"
    )
    p.add_argument(
        "--grid", action="store_true", help="the whole grid: 1000,5000,10000 x 1,2,4 members"
    )
    p.add_argument("--profile", action="store_true", help="run the hub under py-spy")
    p.add_argument("--tracemalloc", action="store_true", help="add the hub's top allocation sites")
    p.add_argument("--no-floor", action="store_true", help="skip the floor (its objects stay)")
    p.add_argument(
        "--first",
        choices=sorted(OTHER),
        default="floor",
        help="whose initial sync goes first (default floor; --runs alternates it)",
    )
    p.add_argument("--out", default="", help="output folder (default: a temp dir)")
    args = p.parse_args()
    if args.quick:
        args.objects, args.members, args.updates = "200", "1,2", 10
    if args.grid:
        args.objects, args.members = "1000,5000,10000", "1,2,4"
    out = Path(args.out or tempfile.mkdtemp(prefix="synchub-scale-out-"))
    out.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for m in (int(x) for x in args.members.split(",")):
            for n in (int(x) for x in args.objects.split(",")):
                for run in range(args.runs):
                    # Runs alternate which initial sync goes first: the second meets API
                    # servers that have already served the first.
                    first = args.first if run % 2 == 0 else OTHER[args.first]
                    results.append(point(n, m, args, out, first))
    except Exception as exc:  # setup failed: the only non-zero exit
        c.say(f"benchmark setup failed: {type(exc).__name__}: {exc}")
        if not results:
            return 1
    report = {"benchmark": "scale", "machine": machine(), "out": str(out), "points": results}
    if args.runs > 1:
        report["spread"] = spread(results)
    c.emit(report)
    return 0


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()]}


if __name__ == "__main__":
    sys.exit(main())
