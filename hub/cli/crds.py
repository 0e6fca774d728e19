"""``synchub crds``: print CRD YAML (docs/federated-types.md).

Without ``--group``: the ``types.kubefed.io`` Federated kinds and the ``synchub.io`` CRDs, so
a bare ``kubectl get federatedsecrets`` never resolves to the other Federated generation.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from hub.core.crds import ALL_GROUPS, DEFAULT_GROUPS, DEFAULT_KINDS, crd_documents, dump
from hub.core.errors import UsageError


def add_parser(commands: argparse._SubParsersAction[Any]) -> None:
    """Register ``crds [--group G] [--kind KIND ...]``."""
    crds = commands.add_parser("crds", help="print CRD YAML (Federated types, synchub.io)")
    crds.add_argument(
        "--group",
        choices=ALL_GROUPS,
        help=f"one API group (default {' and '.join(DEFAULT_GROUPS)})",
    )
    crds.add_argument(
        "--kind",
        action="append",
        help=f"kind, repeatable (default {', '.join(DEFAULT_KINDS)} and the synchub.io kinds)",
    )


def run_crds(group: str | None, kinds: Sequence[str]) -> int:
    """Print the CRDs; a kind no selected group has is a usage error (exit 2)."""
    groups = (group,) if group else DEFAULT_GROUPS
    documents = crd_documents(groups, kinds)
    if not documents:
        raise UsageError(f"--kind {', '.join(kinds)}: no such kind in {', '.join(groups)}")
    print(dump(documents), end="")
    return 0
