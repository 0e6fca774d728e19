"""``synchub check``: can the hub reach and use every configured cluster?"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from hub.config.settings import ClusterConfig, Config
from hub.core.errors import ApiError, ClusterUnreachable, Forbidden, KubeError, Unauthorized
from hub.core.federation import CONTROL_GROUPS, FEDERATED_GROUPS, propagation_mode
from hub.kube.client import ClusterClient
from hub.kube.discovery import Discovery


@dataclass(frozen=True)
class ClusterReport:
    cluster: ClusterConfig
    reachable: bool
    version: str = ""
    federated_groups: tuple[str, ...] = ()
    controller: bool = False  # a federation control plane's API is served (master only)
    problem: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.reachable and not self.problem


def detect_mode(config: Config, master: ClusterReport) -> str:
    return propagation_mode(config.propagation.mode, master.controller)


async def inspect(cluster: ClusterConfig, timeout: float = 10.0) -> ClusterReport:
    try:
        client = await ClusterClient.connect(cluster, timeout=timeout)
    except ClusterUnreachable as exc:
        return ClusterReport(cluster, False, problem=_why(exc))
    async with client:
        try:
            version = await client.get("/version")
            discovery = Discovery(client)
            await discovery.refresh()
        except KubeError as exc:
            return ClusterReport(
                cluster, not isinstance(exc, ClusterUnreachable), problem=_why(exc)
            )
    served = tuple(g for g in FEDERATED_GROUPS if discovery.serves_group(g))
    return ClusterReport(
        cluster,
        True,
        version=str((version or {}).get("gitVersion", "?")),
        federated_groups=served,
        controller=any(discovery.serves_group(g) for g in CONTROL_GROUPS),
        # A broken aggregated API does not stop the hub: shown, not failed on.
        warnings=tuple(f"discovery of {gv} failed; it is skipped" for gv in discovery.failed),
    )


def _why(exc: KubeError) -> str:
    if isinstance(exc, Unauthorized):
        return "unauthorised: the API server rejected the credentials (401)"
    if isinstance(exc, Forbidden):
        return f"forbidden: {exc.message or 'the credentials may not read discovery'}"
    if isinstance(exc, ClusterUnreachable):
        return str(exc).split(": ", 1)[-1]
    if isinstance(exc, ApiError):
        return f"{exc.status} {exc.reason}: {exc.message}"
    return str(exc)


async def check_all(config: Config) -> list[ClusterReport]:
    return list(await asyncio.gather(*(inspect(c) for c in config.clusters)))


def render_table(config: Config, reports: Sequence[ClusterReport]) -> str:
    mode = detect_mode(config, reports[0]) if reports[0].ok else "unknown"
    header = ("CLUSTER", "CONTEXT", "REACHABLE", "VERSION", "LABELS", "FEDERATED APIS", "MODE")
    rows = [header]
    for report in reports:
        c = report.cluster
        labels = ",".join(f"{k}={v}" for k, v in sorted(c.labels.items())) or "-"
        rows.append(
            (
                c.name,
                c.context,
                "yes" if report.ok else ("no" if not report.reachable else "error"),
                report.version or "-",
                labels,
                ",".join(report.federated_groups) or "-",
                mode if c.is_master else "member",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    for report in reports:
        where = f"{report.cluster.name} (context {report.cluster.context})"
        if report.problem:
            lines.append(f"{where}: {report.problem}")
        lines += [f"{where}: warning: {w}" for w in report.warnings]
    return "\n".join(lines)
