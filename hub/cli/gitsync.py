"""``synchub gitsync --from-env``: the KubeSync drop-in (docs/gitsync.md, "KubeSync drop-in").

Reads KubeSync's variables and syncs that one repository into one cluster (the kubeconfig's
current context, or ``KUBECTL_OPTIONS``' ``--kubeconfig``/``--context``) with the GitSync
engine, prune included. The inventory lives in a ConfigMap ``synchub-kubesync-<hash>`` in
``default``, so prune works across restarts. ``CMD`` runs as KubeSync ran it (``sh -c``): the
environment is the operator's own configuration, so no ``git.allowTransforms`` is asked for.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import signal
import tempfile
from pathlib import Path

from hub.controllers.gitsync.engine import Engine, Outcome, Target
from hub.controllers.gitsync.git import GitCredentials, public_url
from hub.core import gitplan, gitspec
from hub.core.errors import KubeError, NotFound, UsageError
from hub.kube.client import ClusterClient
from hub.kube.discovery import Discovery
from hub.kube.kubeconfig import ClientConfig, default_kubeconfig_paths, expand, load_kubeconfigs
from hub.runtime.metrics import Metrics
from hub.runtime.writer import Writer

log = logging.getLogger(__name__)

CLUSTER = "kubesync"
INVENTORY_NAMESPACE = "default"


def client_config(settings: gitspec.KubeSyncEnv) -> ClientConfig:
    """The one cluster: KUBECTL_OPTIONS' kubeconfig and context, else kubectl's defaults."""
    paths = (expand(settings.kubeconfig),) if settings.kubeconfig else default_kubeconfig_paths()
    context = settings.context
    if not context:
        merged = load_kubeconfigs(paths, config_file="KUBECTL_OPTIONS", key="--kubeconfig")
        context = str(merged.merged.get("current-context") or "")
        if not context:
            raise UsageError("KUBECTL_OPTIONS: no --context and the kubeconfig has none current")
    return ClientConfig(CLUSTER, context, paths)


def run_from_env(environ: dict[str, str]) -> int:
    """Exit 0 after a good pass with ONCE, 1 after a failed one; otherwise run until stopped."""
    settings = gitspec.parse_kubesync_env(environ)
    if isinstance(settings, gitspec.SpecError):
        raise UsageError(settings.message)
    return asyncio.run(_main(settings, client_config(settings)))


async def _main(settings: gitspec.KubeSyncEnv, cluster: ClientConfig) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    client = await ClusterClient.connect(cluster)
    key = hashlib.sha256(settings.spec.url.encode()).hexdigest()[:10]
    engine = Engine(Path(tempfile.mkdtemp(prefix="synchub-kubesync-")), allow_transforms=True)
    try:
        while True:
            outcome = await _pass(engine, key, settings, client)
            if settings.once:
                return 0 if outcome.ok else 1
            try:
                async with asyncio.timeout(settings.spec.interval):
                    await stop.wait()
                return 0
            except TimeoutError:
                pass
    finally:
        engine.close()
        await client.close()


async def _pass(
    engine: Engine, key: str, settings: gitspec.KubeSyncEnv, client: ClusterClient
) -> Outcome:
    writer = Writer(client, Metrics(), dry_run=settings.spec.dry_run)
    target = Target(CLUSTER, client, Discovery(client), writer)
    credentials = GitCredentials(settings.username, settings.password)
    rules = gitplan.Rules(gitspec.origin(CLUSTER, INVENTORY_NAMESPACE, f"kubesync-{key}"))
    try:
        previous = await _read_inventory(client, key)
        outcome = await engine.sync(key, settings.spec, credentials, rules, [target], previous)
        if outcome.inventory is not None and not settings.spec.dry_run:
            await _write_inventory(writer, key, outcome.inventory)
    except KubeError as exc:
        outcome = Outcome(False, "ClusterUnreachable", str(exc))
    where = public_url(settings.spec.url)
    if outcome.ok:
        log.info("gitsync %s: %s: %s", where, outcome.reason, outcome.message)
    else:
        log.error("gitsync %s: %s: %s", where, outcome.reason, outcome.message)
    return outcome


def _inventory_path(key: str) -> str:
    return f"/api/v1/namespaces/{INVENTORY_NAMESPACE}/configmaps/synchub-kubesync-{key}"


async def _read_inventory(client: ClusterClient, key: str) -> list[gitplan.Entry]:
    try:
        found = await client.get(_inventory_path(key))
    except NotFound:
        return []
    text = str((found.get("data") or {}).get("entries", ""))
    return gitplan.read_inventory({"inventory": {"entries": text.split()}})


async def _write_inventory(writer: Writer, key: str, entries: tuple[gitplan.Entry, ...]) -> None:
    from hub.kube.resources import ResourceInfo

    info = ResourceInfo("", "v1", "configmaps", "ConfigMap", namespaced=True)
    name = f"synchub-kubesync-{key}"
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": INVENTORY_NAMESPACE},
            "data": {"entries": "\n".join(gitplan.inventory_keys(entries))}}  # fmt: skip
    await writer.apply(info, INVENTORY_NAMESPACE, name, body,
                       field_manager=gitplan.FIELD_MANAGER)  # fmt: skip
