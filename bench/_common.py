"""What the benchmarks share beyond the test kit (hub/testing.py): the hub's write counts
and resource use, watches that time arrivals, percentiles, JSON output.

Not a benchmark itself (``make bench`` runs every ``bench/*.py``; this one does nothing).
Every benchmark prints one JSON object on stdout and its progress on stderr; it never fails
on a number, only when its own setup fails.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kubernetes import watch as k8s_watch
from kubernetes.client.exceptions import ApiException

from hub.testing import (
    MEMBERS,
    Clusters,
    HubProcess,
    start_clusters,
    wait_for,
)

KUBEFED = ("types.kubefed.io", "v1beta1")
WRITES = "synchub_member_writes_total"
POOL = 8  # threads for bulk creation
SETTLE_SECONDS = 5.0  # after ready or after a sync: let the last events drain


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result, indent=2))


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--objects", type=int, default=1000, help="FederatedSecrets (default 1000)")
    p.add_argument("--updates", type=int, default=50, help="measured updates (default 50)")
    return p


# --- sandbox and clients (the kit in hub/testing.py) -----------------------------------------

#: The running sandbox and its sync clients (hub.testing.Clusters).
Bench = Clusters


def main(
    args: argparse.Namespace, run: Callable[[Bench, argparse.Namespace], dict[str, Any]]
) -> int:
    """Run one benchmark on its own sandbox and print its JSON; exit 1 only if setup fails."""

    def sandboxed(args: argparse.Namespace) -> dict[str, Any]:
        with sandbox() as bench:
            return run(bench, args)

    return main_unsandboxed(args, sandboxed)


def main_unsandboxed(
    args: argparse.Namespace, run: Callable[[argparse.Namespace], dict[str, Any]]
) -> int:
    """Run one benchmark that starts its own sandboxes; print its JSON; exit 1 only if
    setup fails.
    """
    try:
        result = run(args)
    except Exception as exc:  # setup failed: the only non-zero exit
        say(f"benchmark setup failed: {type(exc).__name__}: {exc}")
        return 1
    emit(result)
    return 0


@contextmanager
def sandbox() -> Iterator[Bench]:
    """Start master + 2 members in a fresh temp dir; always tear them down."""
    root = Path(tempfile.mkdtemp(prefix="synchub-bench-"))
    try:
        started = time.monotonic()
        say(f"starting sandbox (master + {MEMBERS} members) in {root / 'sandbox'}")
        with start_clusters(root / "sandbox", pool_size=2 * POOL, say=say) as bench:
            say(f"sandbox ready in {time.monotonic() - started:.1f}s")
            yield bench
            say("tearing the sandbox down")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def workdir(bench: Bench) -> Path:
    """The benchmark's temporary directory (the sandbox lives in its ``sandbox/``)."""
    return bench.clusters_yaml.parent.parent


def parallel(function: Callable[[int], object], count: int, what: str) -> float:
    """Run ``function(i)`` for i in range(count) on a pool of POOL threads; seconds taken."""
    started = time.monotonic()
    with ThreadPoolExecutor(POOL) as pool:
        for _ in pool.map(function, range(count)):
            pass
    seconds = time.monotonic() - started
    say(f"created {count} {what} in {seconds:.1f}s")
    return seconds


# --- the hub ---------------------------------------------------------------------------------


class Hub(HubProcess):
    """``synchub run`` on the bench sandbox at --log-level warning, with resource readings."""

    def __init__(self, bench: Bench, *args: str) -> None:
        log = workdir(bench) / "synchub.log"
        super().__init__(bench.clusters_yaml, log, "--log-level", "warning", *args)

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Seconds from start until /readyz answers 200."""
        wait_for(self.ready, timeout, what="the hub to be ready")
        seconds = time.monotonic() - self.started
        say(f"hub ready after {seconds:.1f}s")
        return seconds

    def writes(self) -> dict[str, dict[str, int]]:
        """``synchub_member_writes_total`` as {cluster: {verb: count}}."""
        result: dict[str, dict[str, int]] = {}
        for labels, value in self.samples(WRITES):
            per_cluster = result.setdefault(labels.get("cluster", "?"), {})
            verb = labels.get("verb", "?")
            per_cluster[verb] = per_cluster.get(verb, 0) + int(value)
        return result

    def rss_mb(self) -> float | None:
        """Resident memory of the hub process (VmRSS), MB."""
        return rss_mb(self.pid)

    def cpu_seconds(self) -> float | None:
        """User + system CPU time the hub process has used so far."""
        return cpu_seconds(self.pid)


# Runs the hub with tracemalloc on (SYNCHUB_TRACE_FRAMES frames per allocation, default 1).
# SIGUSR1 writes to a file (renamed into place once complete): the traced total and peak, what
# a full garbage collection then freed (cyclic garbage the hub still held, objects found), the
# 40 largest allocation lines, the 25 largest files and, with more than one frame, the 25
# largest allocation tracebacks.
TRACED_HUB = """
import gc, os, signal, sys, tracemalloc
frames = int(os.environ.get("SYNCHUB_TRACE_FRAMES") or 1)
tracemalloc.start(frames)
def dump(*_):
    total, peak = tracemalloc.get_traced_memory()
    found = gc.collect()
    garbage = total - tracemalloc.get_traced_memory()[0]
    snapshot = tracemalloc.take_snapshot()
    with open({out!r} + ".tmp", "w") as f:
        f.write(f"{{total}}\\t0\\ttotal\\n")
        f.write(f"{{peak}}\\t0\\tpeak\\n")
        f.write(f"{{garbage}}\\t{{found}}\\tcyclic garbage freed by gc.collect()\\n")
        for s in snapshot.statistics("lineno")[:40]:
            f.write(f"{{s.size}}\\t{{s.count}}\\t{{s.traceback[0]}}\\n")
        for s in snapshot.statistics("filename")[:25]:
            f.write(f"{{s.size}}\\t{{s.count}}\\tfile {{s.traceback[0].filename}}\\n")
        for s in snapshot.statistics("traceback")[:25] if frames > 1 else ():
            where = " <- ".join(str(frame) for frame in reversed(s.traceback))
            f.write(f"{{s.size}}\\t{{s.count}}\\ttraceback {{where}}\\n")
    os.rename({out!r} + ".tmp", {out!r})
signal.signal(signal.SIGUSR1, dump)
from hub.cli.main import main
sys.argv = ["synchub", *sys.argv[1:]]
sys.exit(main())
"""


class TracedHub(Hub):
    """The bench hub, run under tracemalloc (see TRACED_HUB): slower, so for finding where
    memory goes, not for the figures."""

    def __init__(self, bench: Bench, out: Path | None, *args: str) -> None:
        super().__init__(bench, *args)
        #: Where the dump goes; None runs the hub without tracemalloc.
        self.out = out

    def command(self) -> list[str]:
        if self.out is None:
            return super().command()
        hub_args = super().command()[3:]  # drop "python -m hub"
        return [sys.executable, "-c", TRACED_HUB.format(out=str(self.out)), *hub_args]

    def allocation_sites(self) -> list[dict[str, Any]]:
        """Traced total and peak, then the largest allocation sites now (SIGUSR1, read the dump)."""
        assert self.out is not None, "the hub runs without tracemalloc"
        self.out.unlink(missing_ok=True)
        os.kill(self.pid, signal.SIGUSR1)
        wait_for(self.out.exists, timeout=120, what="the tracemalloc dump")
        sites = []
        for line in self.out.read_text().splitlines():
            size, count, where = line.split("\t")
            sites.append({"kib": round(int(size) / 1024), "blocks": int(count), "at": where})
        return sites


def settle(hub: Hub, seconds: float = SETTLE_SECONDS, limit: float = 120.0) -> None:
    """Wait until the hub used under 2 % of a core over ``seconds`` (its work is done)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = hub.cpu_seconds() or 0.0
        time.sleep(seconds)
        if (hub.cpu_seconds() or 0.0) - before < 0.02 * seconds:
            return


def rss_mb(pid: int) -> float | None:
    """Resident memory of process ``pid`` (VmRSS), MB; None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time process ``pid`` has used so far; None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return round(ticks / os.sysconf("SC_CLK_TCK"), 2)


@contextmanager
def running_hub(bench: Bench, *args: str) -> Iterator[Hub]:
    """A started hub (not yet waited for); stopped on leaving."""
    hub = Hub(bench, *args)
    try:
        yield hub.start(timeout=0)
    finally:
        code = hub.stop()
        say(f"hub stopped, exit code {code}")


def log_report(hub: Hub, limit: int = 40) -> dict[str, Any]:
    """The hub's log (it runs at --log-level warning, so every line is notable)."""
    lines = [line for line in hub.output().splitlines() if line.strip()]
    if lines:
        say(f"hub log: {len(lines)} lines")
        for line in lines[:limit]:
            print(f"    {line}", file=sys.stderr)
    return {"hub_log_lines": len(lines), "hub_log": lines[:limit]}


def total(writes: dict[str, dict[str, int]]) -> int:
    return sum(sum(verbs.values()) for verbs in writes.values())


def by_verb(writes: dict[str, dict[str, int]]) -> dict[str, int]:
    result: dict[str, int] = {}
    for verbs in writes.values():
        for verb, count in verbs.items():
            result[verb] = result.get(verb, 0) + count
    return dict(sorted(result.items()))


def delta(
    after: dict[str, dict[str, int]], before: dict[str, dict[str, int]]
) -> dict[str, dict[str, int]]:
    """Writes between two readings, only the non-zero ones."""
    result: dict[str, dict[str, int]] = {}
    for cluster, verbs in after.items():
        for verb, count in verbs.items():
            diff = count - before.get(cluster, {}).get(verb, 0)
            if diff:
                result.setdefault(cluster, {})[verb] = diff
    return result


# --- statistics ------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); ``q`` in [0, 100]."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(seconds: list[float]) -> dict[str, float | None]:
    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 1)

    return {
        "median": ms(percentile(seconds, 50)),
        "p99": ms(percentile(seconds, 99)),
        "max": ms(max(seconds) if seconds else None),
    }


# --- watches ---------------------------------------------------------------------------------


class Watcher:
    """Latest version of each object of one list call, kept current by a watch in a thread.

    ``list_call`` is a kubernetes-client list function (bound with its arguments via
    ``kwargs``); the watch restarts from its last resourceVersion and relists on 410 Gone.
    Each object is stored with the monotonic time its event arrived.
    """

    def __init__(self, list_call: Callable[..., Any], **kwargs: Any) -> None:
        self.list_call = list_call
        self.kwargs = kwargs
        self.objects: dict[str, tuple[dict[str, Any], float]] = {}
        self.changed = threading.Condition()
        self.errors = 0
        self._stop = threading.Event()
        self._synced = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self, timeout: float = 30.0) -> Watcher:
        self._thread.start()
        if not self._synced.wait(timeout):
            raise TimeoutError("watch did not sync")
        return self

    def stop(self) -> None:
        self._stop.set()

    def _list(self) -> str:
        raw = self.list_call(**self.kwargs, _preload_content=False)
        body = json.loads(raw.data)
        now = time.monotonic()
        with self.changed:
            self.objects = {o["metadata"]["name"]: (o, now) for o in body.get("items") or []}
            self.changed.notify_all()
        self._synced.set()
        return str(body["metadata"]["resourceVersion"])

    def _run(self) -> None:
        version = ""
        while not self._stop.is_set():
            try:
                if not version:
                    version = self._list()
                watch = k8s_watch.Watch()
                for event in watch.stream(
                    self.list_call,
                    **self.kwargs,
                    resource_version=version,
                    allow_watch_bookmarks=True,
                    timeout_seconds=60,
                ):
                    if self._stop.is_set():
                        watch.stop()
                        break
                    self._event(event)
                version = watch.resource_version or version
            except ApiException as exc:
                self.errors += 1
                if exc.status == 410:
                    version = ""
                else:
                    time.sleep(0.2)
            except Exception:  # connection reset and the like: resume from the last version
                self.errors += 1
                time.sleep(0.2)

    def _event(self, event: dict[str, Any]) -> None:
        now = time.monotonic()
        kind, obj = event["type"], event["raw_object"]
        if kind == "BOOKMARK":
            return
        if kind == "ERROR":
            raise ApiException(status=obj.get("code", 500), reason=obj.get("message"))
        name = obj["metadata"]["name"]
        with self.changed:
            if kind == "DELETED":
                self.objects.pop(name, None)
            else:
                self.objects[name] = (obj, now)
            self.changed.notify_all()

    def wait_for(
        self, name: str, predicate: Callable[[dict[str, Any]], bool], timeout: float
    ) -> float | None:
        """Monotonic arrival time of the first version of ``name`` satisfying ``predicate``."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                entry = self.objects.get(name)
                if entry is not None and predicate(entry[0]):
                    return entry[1]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.changed.wait(remaining)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self.changed:
            return {name: obj for name, (obj, _) in self.objects.items()}


def dig(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


if __name__ == "__main__":
    say("bench/_common.py holds shared helpers; run bench/copy_latency.py or propagation.py")
