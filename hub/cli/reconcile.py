"""``synchub reconcile KIND/NAME [-n NS] [--wait]``: ask the hub to sync one object now.

Sets ``synchub.io/reconcile-at: <RFC 3339 time>`` on the object (the change wakes the
controllers that own it). With ``--wait``, polls the object until its
``status.lastHandledReconcileAt`` equals that value, then exits 0 when its status shows no
failure, 1 when it does or when ``--timeout`` runs out (docs/cli.md). A suspended object is
refused (exit 1): the hub would not handle the request.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import sys
import time
from typing import Any

from hub.cli.objects import Target, annotate, master_session, resolve
from hub.config.settings import Config
from hub.core.federation import RECONCILE_AT_ANNOTATION
from hub.core.sync_state import reconcile_handled, sync_state
from hub.kube.client import ClusterClient

POLL = 0.5  # seconds between looks at the object while waiting


def add_parser(commands: argparse._SubParsersAction[Any]) -> None:
    """Register ``reconcile``."""
    parser = commands.add_parser("reconcile", help="ask the hub to sync an object now")
    parser.add_argument("what", metavar="KIND/NAME")
    parser.add_argument("-n", "--namespace", help="namespace (default: default)")
    parser.add_argument("--wait", action="store_true", help="wait until the hub handled it")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds --wait waits (default 120)"
    )


def request_stamp() -> str:
    """Now as RFC 3339 with microseconds, so two requests in one second still differ."""
    now = datetime.datetime.now(datetime.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def _wait(master: ClusterClient, target: Target, stamp: str, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        obj = await master.get(target.path)
        if reconcile_handled(obj, stamp):
            state = sync_state(obj)
            verdict = "failed" if state.failed else "in sync"
            detail = f": {state.message}" if state.failed and state.message else ""
            print(f"{target}: reconciled, {verdict}{detail}")
            for row in state.clusters:
                print(f"  {row.name}: {row.status}{': ' + row.message if row.message else ''}")
            return 1 if state.failed else 0
        await asyncio.sleep(POLL)
    print(f"{target}: not handled within {timeout:.0f}s (is the hub running?)")
    return 1


async def _run(config: Config, ref: str, namespace: str | None, wait: bool, timeout: float) -> int:
    async with master_session(config) as (master, discovery):
        target = await resolve(discovery, ref, namespace)
        if sync_state(await master.get(target.path)).suspended:
            print(f"{target}: suspended; `synchub resume` it first", file=sys.stderr)
            return 1
        stamp = request_stamp()
        await annotate(master, target, {RECONCILE_AT_ANNOTATION: stamp})
        print(f"{target}: reconcile requested at {stamp}")
        if not wait:
            return 0
        return await _wait(master, target, stamp, timeout)


def run_reconcile(
    config: Config, ref: str, namespace: str | None, *, wait: bool, timeout: float
) -> int:
    """Request a reconcile of one object; see the module docstring for the exit codes."""
    return asyncio.run(_run(config, ref, namespace, wait, timeout))
