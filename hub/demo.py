"""``make demo``: start the local sandbox clusters and show what the hub sees."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from hub.check import check_all, render_table
from hub.config import load_config
from hub.sandbox import DEFAULT_DIR, Sandbox, SandboxError


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m hub.demo")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--members", type=int, default=2)
    args = parser.parse_args()

    sandbox = Sandbox(args.dir, say=lambda msg: print(f"demo: {msg}"))
    try:
        sandbox.up(args.members)
    except SandboxError as exc:
        print(f"demo: sandbox failed: {exc}", file=sys.stderr)
        return 1
    config = load_config(sandbox.clusters_yaml)
    reports = asyncio.run(check_all(config))
    print()
    print(render_table(config, reports))
    print(
        f"""
The sandbox keeps running. Point kubectl and synchub at it:

  eval "$(.venv/bin/synchub sandbox env --dir {args.dir})"
  kubectl --context synchub-member-1 get namespaces
  .venv/bin/synchub check

Stop it with: make demo-down
"""
    )
    return 0 if all(r.ok for r in reports) else 1


if __name__ == "__main__":
    raise SystemExit(main())
