"""``synchub suspend KIND/NAME`` / ``synchub resume KIND/NAME``.

They set or clear ``synchub.io/suspend: "true"``; the hub writes nothing for a suspended
object (docs/cli.md).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from hub.cli.objects import annotate, master_session, resolve
from hub.config.settings import Config
from hub.core.federation import SUSPEND_ANNOTATION


def add_parsers(commands: argparse._SubParsersAction[Any]) -> None:
    """Register ``suspend`` and ``resume``."""
    for name, help_ in (
        ("suspend", "stop the hub writing anything for an object"),
        ("resume", "let the hub sync a suspended object again"),
    ):
        parser = commands.add_parser(name, help=help_)
        parser.add_argument("what", metavar="KIND/NAME")
        parser.add_argument("-n", "--namespace", help="namespace (default: default)")


async def _run(config: Config, ref: str, namespace: str | None, suspend: bool) -> int:
    async with master_session(config) as (master, discovery):
        target = await resolve(discovery, ref, namespace)
        await annotate(master, target, {SUSPEND_ANNOTATION: "true" if suspend else None})
    print(f"{target}: {'suspended' if suspend else 'resumed'}")
    return 0


def run_suspend(config: Config, ref: str, namespace: str | None, *, suspend: bool) -> int:
    """Suspend (or resume) one object on the master."""
    return asyncio.run(_run(config, ref, namespace, suspend))
