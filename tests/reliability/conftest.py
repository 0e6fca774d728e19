"""Fixtures of the reliability suite: each test module runs on a sandbox of its own
(``make reliability`` starts one pytest process per module, in parallel)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from hub.faults import Verdict


@pytest.fixture(scope="session")
def fault_table(request: pytest.FixtureRequest) -> Iterator[Callable[[Verdict], None]]:
    """Record a verdict; the measured times are printed as a table when the session ends."""
    verdicts: list[Verdict] = []
    yield verdicts.append
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        for verdict in verdicts:
            reporter.write_line(f"fault {verdict.fault:32} {json.dumps(verdict.as_json())}")
