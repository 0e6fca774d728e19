"""Faults of a member (and a big object), while a writer keeps changing 24 live source
Secrets that FederatedSecrets copy to both members (issue 15; the faults: hub/faults.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hub.faults import FAULTS, Verdict, run_fault
from hub.testing import Clusters

GROUP = [
    "member-killed-and-restarted",
    "member-hung-sigstop",
    "credentials-refused-then-fixed",
    "big-secret-1mib",
]


@pytest.mark.parametrize("fault", GROUP)
def test_converges_after_the_fault(
    fault: str,
    clusters: Clusters,
    federated_crds: None,
    tmp_path: Path,
    fault_table: Callable[[Verdict], None],
) -> None:
    verdict = run_fault(clusters, FAULTS[fault], tmp_path)
    fault_table(verdict)
    assert verdict.complaints() == [], verdict.as_json()
