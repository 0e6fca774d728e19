"""The fault matrix (hub/faults.py, the same faults tests/reliability runs): for each fault,
the time from its end until every member copy holds the latest source value.

One sandbox (master + 2 members); each fault gets a namespace, a workload of live source
Secrets copied by FederatedSecrets, a writer changing them and a hub of its own. Prints one
JSON object; never fails on a number.

    .venv/bin/python bench/faults.py [--objects 24] [--fault NAME ...]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import _common as c

from hub.faults import FAULTS, run_fault
from hub.testing import install_federated_crds


def run(bench: c.Bench, args: argparse.Namespace) -> dict[str, Any]:
    install_federated_crds(bench.api["master"])
    results: dict[str, Any] = {}
    for name in args.fault or list(FAULTS):
        c.say(f"fault {name}")
        verdict = run_fault(bench, FAULTS[name], c.workdir(bench) / name, count=args.objects)
        results[name] = {**verdict.as_json(), "complaints": verdict.complaints()}
        c.say(f"fault {name}: converged {verdict.converge_s}s after it ended")
    return {
        "benchmark": "faults",
        "objects": args.objects,
        "converge_seconds": {name: r["converge_s"] for name, r in results.items()},
        "faults": results,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--objects", type=int, default=24, help="source Secrets (default 24)")
    p.add_argument("--fault", action="append", choices=sorted(FAULTS), help="only these")
    return c.main(p.parse_args(), run)


if __name__ == "__main__":
    sys.exit(main())
