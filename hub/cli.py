"""The ``synchub`` command (DESIGN.md §2). User errors print one line and exit 2 (usage,
configuration) or 1 (runtime); no traceback reaches the user for them."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from hub import __version__
from hub.config import config_path, load_config
from hub.errors import UserError
from hub.sandbox import DEFAULT_DIR, Sandbox, SandboxError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line plus the usage hint, exit 2 — argparse's own convention, kept.
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="synchub", description="Multi-cluster sync hub for Kubernetes.")
    parser.add_argument(
        "-c", "--config", help="clusters.yaml (default: $SYNCHUB_CONFIG, then ./clusters.yaml)"
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    commands.add_parser("check", help="connect to every cluster and report")
    commands.add_parser("version", help="print the version")

    sandbox = commands.add_parser("sandbox", help="local real clusters for tests and the demo")
    actions = sandbox.add_subparsers(dest="action", required=True, parser_class=_Parser)
    up = actions.add_parser("up", help="start master + N member clusters")
    up.add_argument("--members", type=int, default=2, help="number of members (default 2)")
    for action in (
        up,
        actions.add_parser("down", help="stop them and remove their data"),
        actions.add_parser("env", help="print shell exports for the sandbox"),
    ):
        action.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"default {DEFAULT_DIR}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except UserError as exc:
        print(f"synchub: {exc}", file=sys.stderr)
        return exc.exit_code
    except SandboxError as exc:
        print(f"synchub: sandbox: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "version":
        print(f"synchub {__version__}")
        return 0
    if args.command == "sandbox":
        return _sandbox(args)
    config = load_config(config_path(args.config))
    if args.command == "check":
        from hub.check import check_all, render_table

        reports = asyncio.run(check_all(config))
        print(render_table(config, reports))
        return 0 if all(r.ok for r in reports) else 1
    raise AssertionError(args.command)


def _sandbox(args: argparse.Namespace) -> int:
    sandbox = Sandbox(args.dir, say=lambda msg: print(msg, file=sys.stderr))
    if args.action == "up":
        sandbox.up(args.members)
        print(f"kubeconfig:    {sandbox.kubeconfig}")
        print(f"clusters.yaml: {sandbox.clusters_yaml}")
        print(f"try: kubectl --kubeconfig {sandbox.kubeconfig} --context synchub-member-1 get ns")
    elif args.action == "down":
        sandbox.down()
        print(f"sandbox in {sandbox.dir} stopped and removed", file=sys.stderr)
    else:
        print(sandbox.env(), end="")
    return 0
