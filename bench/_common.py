"""Helpers shared by the benchmarks: sandbox, hub subprocess, metrics, watches, percentiles.

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
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from kubernetes.client.exceptions import ApiException
from prometheus_client.parser import text_string_to_metric_families

from hub.core.crds import render_crds
from hub.sandbox import MASTER, Sandbox, context_name, member_names

KUBEFED = ("types.kubefed.io", "v1beta1")
WRITES = "synchub_member_writes_total"
POOL = 8  # threads for bulk creation
MEMBERS = 2


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result, indent=2))


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--objects", type=int, default=1000, help="FederatedSecrets (default 1000)")
    p.add_argument("--updates", type=int, default=50, help="measured updates (default 50)")
    return p


# --- sandbox and clients ---------------------------------------------------------------------


def main(
    args: argparse.Namespace, run: Callable[[Bench, argparse.Namespace], dict[str, Any]]
) -> int:
    """Run one benchmark on its own sandbox and print its JSON; exit 1 only if setup fails."""
    try:
        with sandbox() as bench:
            result = run(bench, args)
    except Exception as exc:  # setup failed: the only non-zero exit
        say(f"benchmark setup failed: {type(exc).__name__}: {exc}")
        return 1
    emit(result)
    return 0


@dataclass
class Bench:
    """A running sandbox (master + members) in a temporary directory, with sync clients."""

    sandbox: Sandbox
    api: dict[str, k8s.ApiClient] = field(default_factory=dict)

    @property
    def members(self) -> list[str]:
        return member_names(MEMBERS)

    def core(self, cluster: str = MASTER) -> k8s.CoreV1Api:
        return k8s.CoreV1Api(self.api[cluster])

    def custom(self, cluster: str = MASTER) -> k8s.CustomObjectsApi:
        return k8s.CustomObjectsApi(self.api[cluster])

    @property
    def tmp(self) -> Path:
        return self.sandbox.dir.parent


@contextmanager
def sandbox() -> Iterator[Bench]:
    """Start master + 2 members in a fresh temp dir; always tear them down."""
    root = Path(tempfile.mkdtemp(prefix="synchub-bench-"))
    box = Sandbox(root / "sandbox", say=say)
    bench = Bench(box)
    try:
        started = time.monotonic()
        say(f"starting sandbox (master + {MEMBERS} members) in {box.dir}")
        box.up(MEMBERS)
        say(f"sandbox ready in {time.monotonic() - started:.1f}s")
        for name in [MASTER, *member_names(MEMBERS)]:
            bench.api[name] = api_client(box.kubeconfig, name)
        yield bench
    finally:
        for api in bench.api.values():
            api.close()
        say("tearing the sandbox down")
        box.down()
        shutil.rmtree(root, ignore_errors=True)


def api_client(kubeconfig: Path, cluster: str) -> k8s.ApiClient:
    configuration = k8s.Configuration()
    configuration.connection_pool_maxsize = 2 * POOL
    # Not load_kube_config (banned: without a configuration it sets the process-wide default).
    client: k8s.ApiClient = k8s_config.new_client_from_config(
        config_file=str(kubeconfig),
        context=context_name(cluster),
        client_configuration=configuration,
    )
    return client


def install_crds(bench: Bench, timeout: float = 60.0) -> None:
    """The Federated CRDs on the master, waited for until served."""
    api = k8s.ApiextensionsV1Api(bench.api[MASTER])
    documents = list(yaml.safe_load_all(render_crds()))
    for document in documents:
        try:
            api.create_custom_resource_definition(document)
        except ApiException as exc:
            if exc.status != 409:
                raise
    wait_until(lambda: all(_served(bench, d) for d in documents), timeout, "CRDs served")


def _served(bench: Bench, crd: dict[str, Any]) -> bool:
    spec = crd["spec"]
    group, version, plural = spec["group"], spec["versions"][0]["name"], spec["names"]["plural"]
    try:
        resources = bench.custom().get_api_resources(group, version)
    except ApiException:
        return False
    return any(r.name == plural for r in resources.resources)


def create_namespace(bench: Bench, name: str, clusters: Iterable[str] = (MASTER,)) -> None:
    for cluster in clusters:
        bench.core(cluster).create_namespace(k8s.V1Namespace(metadata={"name": name}))


def parallel(function: Callable[[int], object], count: int, what: str) -> float:
    """Run ``function(i)`` for i in range(count) on a pool of POOL threads; seconds taken."""
    started = time.monotonic()
    with ThreadPoolExecutor(POOL) as pool:
        for _ in pool.map(function, range(count)):
            pass
    seconds = time.monotonic() - started
    say(f"created {count} {what} in {seconds:.1f}s")
    return seconds


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


# --- the hub ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Hub:
    """``synchub run`` as a subprocess on the bench sandbox; its log goes to a file."""

    def __init__(self, bench: Bench, *args: str) -> None:
        self.config = bench.sandbox.clusters_yaml
        self.log = bench.tmp / "synchub.log"
        self.args = args
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0

    def start(self) -> Hub:
        command = [
            sys.executable, "-m", "hub", "-c", str(self.config), "run",
            "--http-addr", f"127.0.0.1:{self.port}", "--log-level", "warning", *self.args,
        ]  # fmt: skip
        say(f"starting the hub: synchub run {' '.join(self.args)}".rstrip())
        self.started = time.monotonic()
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(
                f"synchub exited with {self.process.returncode}:\n{self.output()[-3000:]}"
            )

    def ready(self) -> bool:
        self.check_alive()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Seconds from start until /readyz answers 200."""
        wait_until(self.ready, timeout, "the hub to be ready")
        seconds = time.monotonic() - self.started
        say(f"hub ready after {seconds:.1f}s")
        return seconds

    def samples(self, name: str) -> list[tuple[dict[str, str], float]]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10) as r:
            text = r.read().decode()
        return [
            (dict(sample.labels), sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name
        ]

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
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
        except OSError:
            pass
        return None

    def cpu_seconds(self) -> float | None:
        """User + system CPU time the hub process has used so far."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        return round(ticks / os.sysconf("SC_CLK_TCK"), 2)

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> int | None:
        """SIGTERM and wait: a graceful shutdown exits 0."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@contextmanager
def running_hub(bench: Bench, *args: str) -> Iterator[Hub]:
    hub = Hub(bench, *args)
    try:
        yield hub.start()
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
