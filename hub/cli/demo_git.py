"""The git step of ``make demo`` (docs/gitsync.md).

A repository with a Namespace and two ConfigMaps is synced by a GitSync to both members, then
a commit removes one ConfigMap, which is pruned on both. Uses the sandbox git server
(``synchub sandbox up --git``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import yaml

from hub.config.settings import Config
from hub.core import gitspec
from hub.core.errors import Conflict, KubeError, NotFound
from hub.kube.client import MERGE_PATCH, ClusterClient
from hub.sandbox.gitserver import USERNAME, GitServer
from hub.testing import WorkRepo

NAMESPACE, SYSTEM, NAME = "gitops", "synchub-system", "demo"
CONFIG_MAPS = ("app-settings", "feature-flags")
MEMBERS_ONLY = {"clusterSelector": {"matchExpressions": [
    {"key": "cluster-master", "operator": "DoesNotExist"}]}}  # fmt: skip


def say(message: str) -> None:
    """One line of the demo's narration."""
    print(f"demo: {message}", flush=True)


async def install_crd(config: Config) -> None:
    """The GitSync CRD, before the hub starts (it looks for it at start-up)."""
    async with await ClusterClient.connect(config.master) as master:
        with contextlib.suppress(Conflict):
            await master.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                                 body=gitspec.gitsync_crd())  # fmt: skip


def files(names: tuple[str, ...]) -> dict[str, str | None]:
    """The repository content: a namespace and one ConfigMap per name."""
    docs: dict[str, str | None] = {"kubernetes/namespace.yaml": yaml.safe_dump(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})}  # fmt: skip
    for name in CONFIG_MAPS:
        body = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"from": "git"},
                "metadata": {"name": name, "namespace": NAMESPACE}}  # fmt: skip
        docs[f"kubernetes/{name}.yaml"] = yaml.safe_dump(body) if name in names else None
    return docs


GITSYNCS = f"/apis/synchub.io/v1alpha1/namespaces/{SYSTEM}/gitsyncs"


async def create_gitsync(config: Config, url: str, password: str) -> None:
    """The GitSync (and its credentials Secret) pulling the demo repository."""
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYSTEM}}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": NAME},
              "stringData": {"username": USERNAME, "password": password}}  # fmt: skip
    gitsync = {"apiVersion": "synchub.io/v1alpha1", "kind": "GitSync", "metadata": {"name": NAME},
               "spec": {"url": url, "interval": "30s", "secretRef": {"name": NAME},
                        "placement": MEMBERS_ONLY}}  # fmt: skip
    async with await ClusterClient.connect(config.master) as master:
        for path, body in (
            ("/api/v1/namespaces", namespace),
            (f"/api/v1/namespaces/{SYSTEM}/secrets", secret),
            (GITSYNCS, gitsync),
        ):
            with contextlib.suppress(Conflict):
                await master.request("POST", path, body=body)


async def reconcile(config: Config) -> None:
    """Ask the hub to sync the GitSync now."""
    async with await ClusterClient.connect(config.master) as master:
        patch = {"metadata": {"annotations": {gitspec.RECONCILE_ANNOTATION: str(time.time())}}}
        path = f"{GITSYNCS}/{NAME}"
        await master.request("PATCH", path, body=patch, content_type=MERGE_PATCH)


async def holdings(config: Config) -> dict[str, tuple[str, ...]]:
    """The demo ConfigMaps each member holds."""
    found: dict[str, tuple[str, ...]] = {}
    for cluster in config.members:
        names = []
        async with await ClusterClient.connect(cluster, timeout=5) as client:
            for name in CONFIG_MAPS:
                with contextlib.suppress(NotFound):
                    await client.get(f"/api/v1/namespaces/{NAMESPACE}/configmaps/{name}")
                    names.append(name)
        found[cluster.name] = tuple(names)
    return found


async def wait_for(config: Config, wanted: tuple[str, ...], timeout: float = 90.0) -> bool:
    """Wait until every member holds exactly ``wanted``; False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(KubeError):
            if all(held == wanted for held in (await holdings(config)).values()):
                return True
        await asyncio.sleep(0.5)
    return False


def show(rows: dict[str, tuple[str, ...]]) -> str:
    """The ConfigMaps per cluster as a small table."""
    lines = [f"  {'CLUSTER':<10} CONFIGMAPS IN {NAMESPACE}"]
    lines += [f"  {cluster:<10} {', '.join(names) or '(none)'}" for cluster, names in rows.items()]
    return "\n".join(lines)


def git_step(config: Config, sandbox_dir: Path) -> bool:
    """Push, sync to both members, remove one ConfigMap, see it pruned; True when it did."""
    server = GitServer(sandbox_dir)
    server.up()
    url = server.create_repo(NAME)
    repo = WorkRepo(sandbox_dir / "git-work" / NAME, url, USERNAME, server.password)
    repo.commit("a namespace and two config maps", files(CONFIG_MAPS))
    asyncio.run(create_gitsync(config, url, server.password))
    say(f"pushed {url} and created GitSync {SYSTEM}/{NAME} (placement: the members)")
    synced = asyncio.run(wait_for(config, CONFIG_MAPS))
    print(f"\nFrom git, on both members:\n{show(asyncio.run(holdings(config)))}\n")
    repo.commit("remove feature-flags", files(CONFIG_MAPS[:1]))
    asyncio.run(reconcile(config))
    say("pushed a commit removing feature-flags; synchub reconcile gitsync/demo")
    pruned = asyncio.run(wait_for(config, CONFIG_MAPS[:1]))
    print(f"\nAfter the commit (pruned on every member):\n{show(asyncio.run(holdings(config)))}\n")
    return synced and pruned
