"""GitSync: a repository of many objects applied to 2 members; ``kubectl apply`` as the floor.

On its own sandbox (master + 2 members) and sandbox git server: push a repository of
``--objects`` ConfigMaps, create a GitSync placing them on both members, and measure the first
sync; then change one object, push, ``synchub reconcile --wait``, and measure until both
members hold it; then count writes over a quiet period. Beside it, in the same run, what
KubeSync does: ``kubectl apply --server-side -f DIR`` of the same files (into another
namespace) to each member in turn. Prints one JSON object; never fails on a number.

    .venv/bin/python bench/gitsync.py [--objects 500] [--quiet-seconds 60]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from typing import Any

import _common as c
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from hub.controllers.gitsync.build import kubectl
from hub.core.gitspec import gitsync_crd
from hub.sandbox import MASTER
from hub.sandbox.gitserver import USERNAME, GitServer
from hub.testing import WorkRepo, wait_for

NAMESPACE, FLOOR_NAMESPACE, SYSTEM = "bench-git", "bench-floor", "synchub-system"
GROUP, VERSION, PLURAL = "synchub.io", "v1alpha1", "gitsyncs"
NAME = "bench"
TIMEOUT = 900.0


def manifests(count: int, namespace: str, version: str = "1") -> dict[str, str]:
    files = {}
    for i in range(count):
        body = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": f"cm-{i:04d}", "namespace": namespace},
                "data": {"index": str(i), "version": version}}  # fmt: skip
        files[f"kubernetes/cm-{i:04d}.yaml"] = yaml.safe_dump(body)
    return files


def count_on(bench: c.Bench, cluster: str, namespace: str, version: str | None = None) -> int:
    items = bench.core(cluster).list_namespaced_config_map(namespace).items
    return sum(1 for i in items if version is None or (i.data or {}).get("version") == version)


def setup(bench: c.Bench, server: GitServer, args: argparse.Namespace) -> WorkRepo:
    api = bench.api[MASTER]
    k8s.ApiextensionsV1Api(api).create_custom_resource_definition(gitsync_crd())
    wait_for(lambda: _served(bench), 60, what="the GitSync CRD to be served")
    bench.create_namespace(SYSTEM, on=[MASTER])
    bench.create_namespace(NAMESPACE, on=bench.members)
    bench.create_namespace(FLOOR_NAMESPACE, on=bench.members)
    url = server.create_repo("bench")
    repo = WorkRepo(c.workdir(bench) / "work", url, USERNAME, server.password)
    repo.commit("objects", manifests(args.objects, NAMESPACE))
    bench.core().create_namespaced_secret(SYSTEM, {"metadata": {"name": NAME},
        "stringData": {"username": USERNAME, "password": server.password}})  # fmt: skip
    return repo


def _served(bench: c.Bench) -> bool:
    try:
        bench.custom().list_namespaced_custom_object(GROUP, VERSION, SYSTEM, PLURAL)
    except ApiException:
        return False
    return True


def create_gitsync(bench: c.Bench, url: str) -> None:
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "GitSync",
            "metadata": {"name": NAME, "namespace": SYSTEM},
            "spec": {"url": url, "interval": "10s", "secretRef": {"name": NAME},
                     "placement": {"clusterSelector": {"matchExpressions": [
                         {"key": "cluster-master", "operator": "DoesNotExist"}]}}}}  # fmt: skip
    bench.custom().create_namespaced_custom_object(GROUP, VERSION, SYSTEM, PLURAL, body)


def floor(bench: c.Bench, args: argparse.Namespace) -> float:
    """Seconds for ``kubectl apply --server-side -f DIR`` to each member in turn."""
    directory = c.workdir(bench) / "floor"
    for name, text in manifests(args.objects, FLOOR_NAMESPACE).items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    started = time.monotonic()
    for member in bench.members:
        command = [
            kubectl(),
            "--kubeconfig",
            str(bench.sandbox.kubeconfig),
            "--context",
            f"synchub-{member}",
            "apply",
            "--server-side",
            "-f",
            str(directory / "kubernetes"),
        ]
        subprocess.run(command, check=True, capture_output=True)
    return time.monotonic() - started


def reconcile(bench: c.Bench) -> int:
    command = [sys.executable, "-m", "hub", "-c", str(bench.sandbox.clusters_yaml), "reconcile",
               f"gitsync/{NAME}", "-n", SYSTEM, "--wait"]  # fmt: skip
    return subprocess.run(command, capture_output=True, check=False).returncode


def mean_pass(hub: c.Hub) -> float | None:
    """Mean duration of one GitSync pass (fetch, build, diff, apply), from the hub's metrics."""
    name = "synchub_reconcile_duration_seconds"
    total = sum(v for labels, v in hub.samples(f"{name}_sum") if labels["controller"] == "gitsync")
    count = sum(
        v for labels, v in hub.samples(f"{name}_count") if labels["controller"] == "gitsync"
    )
    return round(total / count, 2) if count else None


def run(bench: c.Bench, args: argparse.Namespace) -> dict[str, Any]:
    server = GitServer(c.workdir(bench) / "gitserver")
    server.up()
    try:
        return measure(bench, server, args)
    finally:
        server.down()


def measure(bench: c.Bench, server: GitServer, args: argparse.Namespace) -> dict[str, Any]:
    repo = setup(bench, server, args)
    result: dict[str, Any] = {"benchmark": "gitsync", "objects": args.objects,
                              "members": len(bench.members)}  # fmt: skip
    with c.running_hub(bench) as hub:
        hub.wait_ready()
        started = time.monotonic()
        create_gitsync(bench, repo.remote)
        wait_for(lambda: all(count_on(bench, m, NAMESPACE) == args.objects
                             for m in bench.members), TIMEOUT, what="the first sync")  # fmt: skip
        result["first_sync_seconds"] = round(time.monotonic() - started, 2)
        c.say(f"first sync: {result['first_sync_seconds']}s")
        result["kubectl_apply_seconds"] = round(floor(bench, args), 2)
        result["ratio_to_kubectl"] = round(
            result["first_sync_seconds"] / result["kubectl_apply_seconds"], 2
        )
        changed = manifests(1, NAMESPACE, version="2")
        started = time.monotonic()
        repo.commit("one change", changed)
        asked = time.monotonic()
        result["reconcile_exit_code"] = reconcile(bench)
        result["reconcile_wait_seconds"] = round(time.monotonic() - asked, 2)
        wait_for(lambda: all(count_on(bench, m, NAMESPACE, "2") == 1 for m in bench.members),
                 120, what="the change on both members")  # fmt: skip
        result["push_to_all_clusters_seconds"] = round(time.monotonic() - started, 2)
        before = hub.writes()
        c.say(f"quiet period: {args.quiet_seconds:.0f}s (the GitSync polls every 10s)")
        time.sleep(args.quiet_seconds)
        result["quiet_seconds"] = args.quiet_seconds
        result["quiet_writes"] = c.total(c.delta(hub.writes(), before))
        result["mean_pass_seconds"] = mean_pass(hub)
        result["hub_rss_mb"] = hub.rss_mb()
        result["hub_cpu_seconds"] = hub.cpu_seconds()
    result.update(c.log_report(hub))
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--objects", type=int, default=500, help="ConfigMaps in the repo (500)")
    p.add_argument("--quiet-seconds", type=float, default=60.0, help="quiet period (default 60)")
    return c.main(p.parse_args(), run)


if __name__ == "__main__":
    sys.exit(main())
