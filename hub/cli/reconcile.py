"""``synchub reconcile KIND/NAME [-n NS] [--wait]``: ask the hub to sync one object now.

Sets ``synchub.io/reconcile-at: <RFC 3339 time>`` on the object on the master. ``--wait``
waits until the object's ``status.lastHandledReconcileAt`` equals that value and exits 0 when
its ``Ready`` condition is True, 1 otherwise.
"""

from __future__ import annotations

import asyncio
import datetime
import time

from hub.config.settings import Config
from hub.core.conditions import find
from hub.core.errors import KubeError, NotFound, UsageError, UserError
from hub.core.gitspec import RECONCILE_ANNOTATION
from hub.kube.client import MERGE_PATCH, ClusterClient
from hub.kube.discovery import Discovery

WAIT_TIMEOUT = 300.0


def run_reconcile(config: Config, target: str, namespace: str, wait: bool) -> int:
    """Annotate the object; with ``wait`` judge the result from its status."""
    kind, sep, name = target.partition("/")
    if not sep or not kind or not name:
        raise UsageError(f"reconcile: {target!r}: expected KIND/NAME, e.g. gitsync/system")
    return asyncio.run(_reconcile(config, kind, name, namespace, wait))


async def _reconcile(config: Config, kind: str, name: str, namespace: str, wait: bool) -> int:
    async with await ClusterClient.connect(config.master) as master:
        try:
            info = await Discovery(master).resolve(kind)
            path = info.path(namespace, name)
            stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds")
            patch = {"metadata": {"annotations": {RECONCILE_ANNOTATION: stamp}}}
            await master.request("PATCH", path, body=patch, content_type=MERGE_PATCH)
        except NotFound:
            raise UserError(
                f"reconcile: {kind}/{name} not found in namespace {namespace}"
            ) from None
        except KubeError as exc:
            raise UserError(f"reconcile: {exc}") from None
        print(f"{kind}/{name}: reconcile requested at {stamp}")
        if not wait:
            return 0
        return await _wait(master, path, stamp)


async def _wait(master: ClusterClient, path: str, stamp: str) -> int:
    deadline = time.monotonic() + WAIT_TIMEOUT
    while time.monotonic() < deadline:
        status = (await master.get(path)).get("status") or {}
        if status.get("lastHandledReconcileAt") == stamp:
            ready = find(status.get("conditions"), "Ready") or {}
            print(f"{ready.get('reason', '')}: {ready.get('message', '')}")
            return 0 if ready.get("status") == "True" else 1
        await asyncio.sleep(0.5)
    print(f"not handled within {WAIT_TIMEOUT:.0f}s")
    return 1
