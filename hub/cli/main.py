"""The ``synchub`` command (docs/cli.md): arguments, then one module per command.

User errors print one line and exit 2 (usage, configuration) or 1 (runtime); no traceback
reaches the user for them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from hub import __version__
from hub.config.loader import config_path, load_config
from hub.config.settings import Config
from hub.core.errors import SandboxError, UserError
from hub.sandbox import DEFAULT_DIR, Sandbox
from hub.sandbox.gitserver import GitServer
from hub.web.server import parse_addr


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line plus the usage hint, exit 2 — argparse's own convention, kept.
        self.exit(2, f"{self.prog}: error: {message}\n")


CONFIG_HELP = "clusters.yaml (default: $SYNCHUB_CONFIG, then ./clusters.yaml)"


def _config_option(parser: argparse.ArgumentParser, default: object = None) -> None:
    parser.add_argument("-c", "--config", default=default, help=CONFIG_HELP)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``synchub`` and its commands (docs/cli.md)."""
    parser = _Parser(prog="synchub", description="Multi-cluster sync hub for Kubernetes.")
    _config_option(parser)
    parser.add_argument("--version", action="version", version=f"synchub {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_commands(commands)
    for sub in commands.choices.values():
        # Also after the subcommand; SUPPRESS keeps a value given before it.
        _config_option(sub, argparse.SUPPRESS)
    return parser


def _add_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    """Every subcommand; the newer ones live with their modules (status, reconcile, ...)."""
    run = commands.add_parser("run", help="run the hub")
    run.add_argument("--once", action="store_true", help="sync once; exit 0 only if all in sync")
    run.add_argument("--dry-run", action="store_true", help="log every write, perform none")
    run.add_argument("--mode", choices=("auto", "federation", "direct"), help="propagation mode")
    run.add_argument("--http-addr", default="0.0.0.0:8080", help="HOST:PORT (default 0.0.0.0:8080)")
    run.add_argument("--log-format", choices=("text", "json"), default="text")
    run.add_argument(
        "--log-level", default="info", choices=("debug", "info", "warning", "error"), type=str.lower
    )

    check = commands.add_parser("check", help="connect to every cluster and report")
    check.add_argument("-o", "--output", choices=("table", "json"), default="table")
    from hub.cli import crds, reconcile, status, suspend

    status.add_parser(commands)
    reconcile.add_parser(commands)
    suspend.add_parsers(commands)
    crds.add_parser(commands)

    render = commands.add_parser("render", help="print what the hub would write, per cluster")
    render.add_argument("files", nargs="+", metavar="FILE", help="YAML files ('-' for stdin)")
    render.add_argument("--cluster", help="only this cluster")
    render.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml")

    commands.add_parser("version", help="print the version")

    gitsync = commands.add_parser("gitsync", help="KubeSync drop-in: sync one repo from env")
    gitsync.add_argument(
        "--from-env", action="store_true", required=True, help="read KubeSync's variables"
    )

    sandbox = commands.add_parser("sandbox", help="local real clusters for tests and the demo")
    actions = sandbox.add_subparsers(dest="action", required=True, parser_class=_Parser)
    up = actions.add_parser("up", help="start master + N member clusters")
    up.add_argument("--members", type=int, default=2, help="number of members (default 2)")
    up.add_argument(
        "--cert-manager",
        action="store_true",
        help="also run the real cert-manager on the master, with ClusterIssuer synchub-ca",
    )
    up.add_argument("--git", action="store_true", help="also start a local git server")
    for action in (
        up,
        actions.add_parser("down", help="stop them and remove their data"),
        actions.add_parser("env", help="print shell exports for the sandbox"),
    ):
        action.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"default {DEFAULT_DIR}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``synchub`` with ``argv``; the exit code (docs/cli.md lists them)."""
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
    except BrokenPipeError:
        # The reader went away (`synchub ... | head -1`): stop quietly, as coreutils do. Point
        # stdout at /dev/null so the interpreter's final flush does not fail a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "version":
        print(f"synchub {__version__}")
        return 0
    if args.command == "sandbox":
        return _sandbox(args)
    if args.command == "crds":
        from hub.cli.crds import run_crds

        return run_crds(args.group, args.kind or ())
    if args.command == "gitsync":
        from hub.cli.gitsync import run_from_env
        from hub.runtime.logs import setup_logging

        setup_logging()
        return run_from_env(dict(os.environ))
    config = load_config(config_path(args.config))
    if args.command in _CLUSTER_COMMANDS:
        return _CLUSTER_COMMANDS[args.command](config, args)
    if args.command == "run":
        return _run(config, args)
    if args.command == "render":
        from hub.cli.render import run_render

        return run_render(config, args.files, args.cluster, args.output)
    if args.command == "check":
        from hub.cli.check import run_check

        return run_check(config, args.output)
    raise AssertionError(args.command)


def _status(config: Config, args: argparse.Namespace) -> int:
    from hub.cli.status import run_status

    return run_status(config, args.what, args.output)


def _reconcile(config: Config, args: argparse.Namespace) -> int:
    from hub.cli.reconcile import run_reconcile

    return run_reconcile(config, args.what, args.namespace, wait=args.wait, timeout=args.timeout)


def _suspend(config: Config, args: argparse.Namespace) -> int:
    from hub.cli.suspend import run_suspend

    return run_suspend(config, args.what, args.namespace, suspend=args.command == "suspend")


_CLUSTER_COMMANDS = {
    "status": _status,
    "reconcile": _reconcile,
    "suspend": _suspend,
    "resume": _suspend,
}


def _run(config: Config, args: argparse.Namespace) -> int:
    from hub.app import Manager, RunOptions
    from hub.runtime.logs import setup_logging

    host, port = parse_addr(args.http_addr)
    setup_logging(args.log_level, args.log_format)
    options = RunOptions(
        once=args.once, dry_run=args.dry_run, mode=args.mode, http_host=host, http_port=port
    )

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await Manager(config, options).run(stop)

    return asyncio.run(main())


def _sandbox(args: argparse.Namespace) -> int:
    sandbox = Sandbox(args.dir, say=lambda msg: print(msg, file=sys.stderr))
    git = GitServer(args.dir)
    if args.action == "up":
        sandbox.up(args.members, cert_manager=args.cert_manager)
        if args.git:
            print(f"git server:    {git.up()} (credentials in {git.env_file})")
        print(f"kubeconfig:    {sandbox.kubeconfig}")
        print(f"clusters.yaml: {sandbox.clusters_yaml}")
        print(f"try: kubectl --kubeconfig {sandbox.kubeconfig} --context synchub-member-1 get ns")
    elif args.action == "down":
        git.down()
        sandbox.down()
        print(f"sandbox in {sandbox.dir} stopped and removed", file=sys.stderr)
    else:
        print(sandbox.env(), end="")
    return 0
