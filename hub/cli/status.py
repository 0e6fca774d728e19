"""``synchub status [-o table|json] [KIND[/NAME]]``: every synced object's per-cluster state.

The state is read from the objects' status on the master (like ``flux get``; docs/cli.md).

Reads each synced API group the master serves (Federated*, and ObjectSync, Replika, GitSync
where their CRDs are installed) generically; never touches members. Exit 1 when any listed
object reports a failure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from hub.cli.objects import master_session, synced_resources
from hub.cli.table import table
from hub.config.settings import Config
from hub.core.errors import Forbidden, NotFound
from hub.core.objects import Obj
from hub.core.sync_state import SyncState, sync_state
from hub.kube.client import ClusterClient
from hub.kube.discovery import Discovery
from hub.kube.resources import ResourceInfo


def add_parser(commands: argparse._SubParsersAction[Any]) -> None:
    """Register ``status``."""
    parser = commands.add_parser("status", help="every synced object and its per-cluster state")
    parser.add_argument("what", nargs="?", metavar="KIND[/NAME]", help="only this kind or object")
    parser.add_argument("-o", "--output", choices=("table", "json"), default="table")


async def _resources(discovery: Discovery, what: str | None) -> list[ResourceInfo]:
    if not what:
        return synced_resources(discovery)
    return [await discovery.resolve(what.partition("/")[0])]


async def _objects(master: ClusterClient, info: ResourceInfo, name: str) -> list[Obj]:
    try:
        listed = await master.get(info.path(""))
    except (NotFound, Forbidden):
        return []
    items: list[Obj] = listed.get("items") or []
    for item in items:
        item.setdefault("kind", info.kind)
    return [i for i in items if not name or (i.get("metadata") or {}).get("name") == name]


def _row(info: ResourceInfo, obj: Obj, state: SyncState) -> dict[str, object]:
    metadata = obj.get("metadata") or {}
    return {
        "kind": f"{info.kind}.{info.group}",
        "namespace": metadata.get("namespace", ""),
        "name": metadata.get("name", ""),
        "ready": state.ready,
        "suspended": state.suspended,
        "message": state.message,
        "clusters": [asdict(c) for c in state.clusters],
    }


def render_table(rows: Sequence[dict[str, object]]) -> str:
    """One line per object; CLUSTERS lists ``name=status`` per cluster."""
    body = []
    for row in rows:
        clusters = row["clusters"]
        assert isinstance(clusters, list)
        cells = " ".join(f"{c['name']}={c['status']}" for c in clusters) or "-"
        ready = "Suspended" if row["suspended"] else str(row["ready"])
        body.append((str(row["kind"]), str(row["namespace"]) or "-", str(row["name"]), ready,
                     cells, str(row["message"]) or "-"))  # fmt: skip
    header = ("KIND", "NAMESPACE", "NAME", "READY", "CLUSTERS", "MESSAGE")
    return table(header, body) if body else "no synced objects found"


async def _run(config: Config, what: str | None, output: str) -> int:
    name = what.partition("/")[2] if what else ""
    rows = []
    failed = False
    async with master_session(config) as (master, discovery):
        for info in await _resources(discovery, what):
            for obj in await _objects(master, info, name):
                state = sync_state(obj)
                failed |= state.failed
                rows.append(_row(info, obj, state))
    print(json.dumps(rows, indent=2) if output == "json" else render_table(rows))
    return 1 if failed else 0


def run_status(config: Config, what: str | None, output: str) -> int:
    """Print the status of the synced objects; exit 1 if any reports a failure."""
    return asyncio.run(_run(config, what, output))
