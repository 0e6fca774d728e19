"""SyncHub beside KubeFed v0.10.0: fan-out, template update latency, memory, quiet writes.

Each controller on a fresh sandbox of the same shape (master + 2 members, KubeFed's CRDs and
the same Federated CRDs), with the same measurements, one at a time: first KubeFed's
controller-manager (``make kubefed`` builds it; bench/_kubefed.py installs it), then
``synchub run --mode direct`` (``--first synchub``: the other way round), each on
FederatedSecrets created (data filled in) before it starts. A sandbox of its own each, because
the second controller on a shared one ran measurably slower than the first, whichever it was
(etcd and API servers still busy with the first run's objects). Per controller:

- fan-out: seconds from its start until every copy exists on both members (and until the
  first did, which is its start-up), then until the master's FederatedSecrets stop changing
  (status written: settled), with the writes per cluster and resource until then;
- template update → both members: median / p99 over ``--updates`` patches of one template;
- RSS and CPU of the process;
- writes in a quiet window: the etcd revision delta of each cluster (every write, by anyone)
  less what the clusters wrote with no controller running, and the watch events on the
  benchmark's objects; for SyncHub also its ``synchub_member_writes_total``.

Prints one JSON object with ratios SyncHub / KubeFed; never fails on a number.

    .venv/bin/python bench/kubefed.py [--objects 1000] [--updates 50] [--quiet-seconds 30]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import _common as c
import _kubefed as kf

from hub.sandbox import MASTER
from hub.testing import MEMBERS, b64, etcd_revision, etcd_versions

GROUP, VERSION = c.KUBEFED
PLURAL = "federatedsecrets"
PREFIX = "fs-"
UPDATED = f"{PREFIX}0"  # the template the update rounds patch
NAMESPACES = {"kubefed": "bench-kubefed", "synchub": "bench-synchub"}
FANOUT_TIMEOUT = 900.0
UPDATE_TIMEOUT = 60.0
SETTLE_QUIET = 3.0  # seconds without a change to the master's objects: settled
SETTLE_TIMEOUT = 600.0


class Controller(Protocol):
    """What the measurements need of either process (c.Hub, kf.ControllerManager)."""

    started: float

    def check_running(self) -> None: ...
    def rss_mb(self) -> float | None: ...
    def cpu_seconds(self) -> float | None: ...


class Copies(c.Watcher):
    """A watch that also counts change events and keeps when each object was first seen."""

    def __init__(self, list_call: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(list_call, **kwargs)
        self.events = 0
        self.last_event = 0.0
        self.first: dict[str, float] = {}

    def _list(self) -> str:
        version = super()._list()
        with self.changed:
            for name, (_, seen) in self.objects.items():
                self.first.setdefault(name, seen)
        return version

    def _event(self, event: dict[str, Any]) -> None:
        super()._event(event)
        kind = event["type"]
        if kind not in ("ADDED", "MODIFIED", "DELETED"):
            return
        with self.changed:
            self.events += 1
            self.last_event = time.monotonic()
            if kind != "DELETED":
                self.first.setdefault(event["raw_object"]["metadata"]["name"], time.monotonic())

    def arrivals(self) -> list[float]:
        """First-seen times of the benchmark's objects."""
        with self.changed:
            return [t for name, t in self.first.items() if name.startswith(PREFIX)]


# --- arranging -------------------------------------------------------------------------------


def federated(i: int, members: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "FederatedSecret",
        "metadata": {"name": f"{PREFIX}{i}"},
        "spec": {
            "template": {"type": "Opaque", "data": {"value": b64(f"literal-{i}")}},
            "placement": {"clusters": [{"name": m} for m in members]},
        },
    }


def setup(bench: c.Bench, namespace: str, objects: int, *, federate: bool) -> None:
    """The namespace on the master (KubeFed: federated too) and its filled FederatedSecrets."""
    bench.create_namespace(namespace, on=[MASTER])
    if federate:
        kf.federate_namespace(bench, namespace)
    custom = bench.custom()
    c.parallel(
        lambda i: custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, federated(i, bench.members)
        ),
        objects,
        f"FederatedSecrets in {namespace}",
    )


@dataclass
class Watches:
    """The watches of one run and the clusters' etcd readings taken before its controller
    started.
    """

    namespace: str
    copies: list[Copies]  # each member's Secrets in the namespace
    master: Copies  # the master's FederatedSecrets in the namespace
    revisions: dict[str, int]
    versions: dict[str, dict[str, int]]


@contextmanager
def watching(bench: c.Bench, namespace: str) -> Iterator[Watches]:
    """Watches of the copies on each member and of the FederatedSecrets on the master,
    synced, and the etcd readings of now: start the controller inside.
    """
    members = [
        Copies(bench.core(member).list_namespaced_secret, namespace=namespace)
        for member in bench.members
    ]
    master = Copies(
        bench.custom().list_namespaced_custom_object,
        group=GROUP,
        version=VERSION,
        namespace=namespace,
        plural=PLURAL,
    )
    for watcher in [*members, master]:
        watcher.start()
    try:
        yield Watches(namespace, members, master, revisions(bench), versions(bench))
    finally:
        for watcher in [*members, master]:
            watcher.stop()


# --- measuring -------------------------------------------------------------------------------


def revisions(bench: c.Bench) -> dict[str, int]:
    return {name: etcd_revision(bench, name) for name in bench.names}


def versions(bench: c.Bench) -> dict[str, dict[str, int]]:
    return {name: etcd_versions(bench, name) for name in bench.names}


def resource(key: str) -> str:
    """``secrets`` for /registry/secrets/ns/name, ``leases.coordination.k8s.io`` and the like."""
    parts = key.split("/")
    if len(parts) > 3 and "." in parts[2]:
        return f"{parts[3]}.{parts[2]}"
    return parts[2] if len(parts) > 2 else key


def writes_by_resource(
    after: dict[str, dict[str, int]], before: dict[str, dict[str, int]]
) -> dict[str, dict[str, int]]:
    """Writes per cluster and resource between two readings of the etcd key versions
    (objects created and deleted in between are not seen).
    """
    result: dict[str, dict[str, int]] = {}
    for cluster, keys in after.items():
        counts: dict[str, int] = {}
        for key, version in keys.items():
            written = version - before[cluster].get(key, 0)
            if written > 0:
                counts[resource(key)] = counts.get(resource(key), 0) + written
        result[cluster] = dict(sorted(counts.items(), key=lambda kv: -kv[1]))
    return result


def revision_delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in after}


def wait_fanout(
    process: Controller, copies: list[Copies], expected: int
) -> dict[str, float | int | None]:
    """Seconds from the process start until the first and the last copy arrived."""
    deadline = time.monotonic() + FANOUT_TIMEOUT
    reported = time.monotonic()
    while time.monotonic() < deadline:
        arrivals = [w.arrivals() for w in copies]
        done = sum(len(a) for a in arrivals)
        if all(len(a) >= expected for a in arrivals):
            first, last = min(min(a) for a in arrivals), max(max(a) for a in arrivals)
            return {
                "fanout_seconds": round(last - process.started, 2),
                "first_copy_seconds": round(first - process.started, 2),
                "first_to_last_copy_seconds": round(last - first, 2),
            }
        if time.monotonic() - reported > 10:
            c.say(f"  {done}/{expected * len(copies)} copies on the members")
            reported = time.monotonic()
        process.check_running()
        time.sleep(0.2)
    return {"fanout_seconds": None, "fanout_timeout_copies": done}


def wait_settled(process: Controller, master: Copies) -> float | None:
    """Seconds from the process start until the master's FederatedSecrets last changed
    (status, finalizers) before staying unchanged for SETTLE_QUIET seconds.
    """
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while time.monotonic() < deadline:
        with master.changed:
            events = master.events
        time.sleep(SETTLE_QUIET)
        process.check_running()
        with master.changed:
            if master.events == events:
                return round(max(master.last_event, process.started) - process.started, 2)
    return None


def measure_updates(
    bench: c.Bench, namespace: str, copies: list[Copies], updates: int
) -> dict[str, Any]:
    """Patch one template's data ``updates`` times; time until both members hold it."""
    custom = bench.custom()
    latencies: list[float] = []
    timeouts = 0
    for k in range(updates):
        value = b64(f"update-{k}-{time.time_ns()}")
        patch = {"spec": {"template": {"data": {"value": value}}}}
        started = time.monotonic()
        custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, UPDATED, patch)

        def arrived(obj: dict[str, Any], value: str = value) -> bool:
            return bool(c.dig(obj, "data", "value") == value)

        seen = [w.wait_for(UPDATED, arrived, UPDATE_TIMEOUT) for w in copies]
        if any(s is None for s in seen):
            timeouts += 1
        else:
            latencies.append(max(s for s in seen if s is not None) - started)
        time.sleep(0.2)  # let this round's status writes land before the next one
    return {"update_latency_ms": c.summary_ms(latencies), "update_timeouts": timeouts}


def quiet_window(
    bench: c.Bench, seconds: float, watchers: list[Copies]
) -> tuple[dict[str, int], int]:
    """(etcd revision delta per cluster, watch events on the benchmark's objects) over
    ``seconds`` of doing nothing.
    """
    before, events = revisions(bench), sum(w.events for w in watchers)
    time.sleep(seconds)
    return revision_delta(revisions(bench), before), sum(w.events for w in watchers) - events


def quiet_writes(
    bench: c.Bench, args: argparse.Namespace, watchers: list[Copies], process: Controller
) -> dict[str, Any]:
    """The quiet window's writes, net of ``args.baseline`` (the clusters' own), what they
    were written to and, for SyncHub, what its own metric counted.
    """
    c.say(f"  quiet window: {args.quiet_seconds:.0f}s")
    keys = versions(bench)
    hub = process if isinstance(process, c.Hub) else None
    counted = hub.writes() if hub else {}
    raw, events = quiet_window(bench, args.quiet_seconds, watchers)
    # Net of the clusters' own periodic writes (their API servers' leases); never below 0.
    net = {name: max(0, raw[name] - args.baseline[name]) for name in raw}
    result = {
        "quiet_etcd_writes": sum(net.values()),
        "quiet_etcd_writes_by_cluster": net,
        "quiet_etcd_writes_raw_by_cluster": raw,
        "quiet_writes_by_resource": writes_by_resource(versions(bench), keys),
        "quiet_object_events": events,
    }
    if hub:
        result["quiet_metric_writes"] = c.total(c.delta(hub.writes(), counted))
    return result


def measure(
    bench: c.Bench, args: argparse.Namespace, watches: Watches, process: Controller
) -> dict[str, Any]:
    """Fan-out, settling, updates, resources and the quiet window of one running
    controller; the quiet writes are net of ``args.baseline`` (the clusters' own writes in
    such a window).
    """
    result: dict[str, Any] = {}
    result.update(wait_fanout(process, watches.copies, args.objects))
    result["fanout_cpu_seconds"] = process.cpu_seconds()
    c.say(f"  fan-out: {result.get('fanout_seconds')}s; waiting for the master to settle")
    result["settled_seconds"] = wait_settled(process, watches.master)
    result["initial_writes_by_cluster"] = revision_delta(revisions(bench), watches.revisions)
    result["initial_writes_by_resource"] = writes_by_resource(versions(bench), watches.versions)
    result["initial_cpu_seconds"] = process.cpu_seconds()
    c.say(f"  settled at {result['settled_seconds']}s; measuring {args.updates} updates")
    result.update(measure_updates(bench, watches.namespace, watches.copies, args.updates))
    c.say(f"  update latency ms: {result['update_latency_ms']}")
    time.sleep(2.0)  # the last round's status writes, before the window opens
    result.update(quiet_writes(bench, args, [*watches.copies, watches.master], process))
    result["rss_mb"] = process.rss_mb()
    result["cpu_seconds"] = process.cpu_seconds()
    return result


# --- the two runs ----------------------------------------------------------------------------


def run_kubefed(bench: c.Bench, args: argparse.Namespace) -> dict[str, Any]:
    namespace = NAMESPACES["kubefed"]
    setup(bench, namespace, args.objects, federate=True)
    result: dict[str, Any] = {"version": kf.version(), "sync_workers": args.kubefed_workers}
    with watching(bench, namespace) as watches, kf.running(bench) as manager:
        result["ready_seconds"] = round(manager.wait_ready(), 2)
        result.update(measure(bench, args, watches, manager))
        errors = [line for line in manager.output().splitlines() if line.startswith("E")]
        result["log_error_lines"] = len(errors)
        result["log_errors"] = errors[:10]
    return result


def run_synchub(bench: c.Bench, args: argparse.Namespace) -> dict[str, Any]:
    namespace = NAMESPACES["synchub"]
    setup(bench, namespace, args.objects, federate=False)
    with watching(bench, namespace) as watches, c.running_hub(bench, "--mode", "direct") as hub:
        result: dict[str, Any] = {"ready_seconds": round(hub.wait_ready(), 2)}
        result.update(measure(bench, args, watches, hub))
        result["metric_writes"] = c.by_verb(hub.writes())
    result.update(c.log_report(hub))
    return result


def ratio(synchub: Any, kubefed: Any) -> float | None:
    if not isinstance(synchub, int | float) or not isinstance(kubefed, int | float) or not kubefed:
        return None
    return round(synchub / kubefed, 2)


def ratios(synchub: dict[str, Any], kubefed: dict[str, Any]) -> dict[str, float | None]:
    """SyncHub / KubeFed for each headline figure (below 1: SyncHub is faster or smaller)."""
    s_lat, k_lat = synchub["update_latency_ms"], kubefed["update_latency_ms"]
    return {
        "fanout_seconds": ratio(synchub["fanout_seconds"], kubefed["fanout_seconds"]),
        "settled_seconds": ratio(synchub["settled_seconds"], kubefed["settled_seconds"]),
        "first_to_last_copy_seconds": ratio(
            synchub.get("first_to_last_copy_seconds"), kubefed.get("first_to_last_copy_seconds")
        ),
        "update_median": ratio(s_lat["median"], k_lat["median"]),
        "update_p99": ratio(s_lat["p99"], k_lat["p99"]),
        "rss_mb": ratio(synchub["rss_mb"], kubefed["rss_mb"]),
        "cpu_seconds": ratio(synchub["cpu_seconds"], kubefed["cpu_seconds"]),
    }


RUNS: dict[str, Callable[[c.Bench, argparse.Namespace], dict[str, Any]]] = {
    "kubefed": run_kubefed,
    "synchub": run_synchub,
}


def run_on_fresh_sandbox(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """One controller's run on a sandbox of its own, after a baseline quiet window."""
    with c.sandbox() as bench:
        kf.install(bench, workers=args.kubefed_workers)
        c.say(f"baseline: {args.quiet_seconds:.0f}s with no controller running")
        args.baseline, _ = quiet_window(bench, args.quiet_seconds, [])
        c.say(f"{name} run")
        result = RUNS[name](bench, args)
        result["baseline_etcd_writes_by_cluster"] = args.baseline
        return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    order = ["synchub", "kubefed"] if args.first == "synchub" else ["kubefed", "synchub"]
    result: dict[str, Any] = {
        "benchmark": "kubefed",
        "objects": args.objects,
        "members": MEMBERS,
        "updates": args.updates,
        "quiet_seconds": args.quiet_seconds,
        "order": order,
    }
    for name in order:
        result[name] = run_on_fresh_sandbox(name, args)
    result["synchub_over_kubefed"] = ratios(result["synchub"], result["kubefed"])
    return result


def main() -> int:
    p = c.parser(__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--quiet-seconds", type=float, default=30.0, help="quiet window (default 30)")
    p.add_argument(
        "--kubefed-workers",
        type=int,
        default=1,
        help="KubeFed sync controller maxConcurrentReconciles (default 1, the chart's)",
    )
    p.add_argument(
        "--first",
        choices=["kubefed", "synchub"],
        default="kubefed",
        help="which controller runs first (default kubefed)",
    )
    try:
        kf.binary(), kf.crds_file()
    except kf.KubeFedNotBuilt as exc:
        c.say(str(exc))
        return 1
    return c.main_unsandboxed(p.parse_args(), run)


if __name__ == "__main__":
    sys.exit(main())
