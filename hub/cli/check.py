"""``synchub check``: can the hub reach and use every configured cluster (docs/cli.md)?

Per cluster: reachable, version, labels, APIs. A setup that cannot work is a problem, not a
pass: no Federated or ``synchub.io`` CRDs on the master, a ``targets`` entry the master does
not serve, a member missing a kind that objects placed on it need. The propagation mode is
decided as ``run`` decides it: ``auto`` is ``federation`` only while a federation controller's
leader lock is fresh.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from hub.cli.table import table
from hub.config.settings import ClusterConfig, Config
from hub.core import crd_cluster
from hub.core.errors import ApiError, ClusterUnreachable, Forbidden, KubeError, Unauthorized
from hub.core.federation import (
    FEDERATED_GROUPS,
    SYNCHUB_GROUP,
    api_group,
    is_federated_kind,
    propagation_mode,
    target_kind,
)
from hub.core.objects import Obj
from hub.core.placement import Cluster, PlacementError, select_clusters
from hub.kube.client import ClusterClient
from hub.kube.discovery import Discovery
from hub.kube.locks import federation_controller_running
from hub.kube.resources import by_kind, resolve_resource

LIST_RETRIES = 10


@dataclass(frozen=True)
class ClusterReport:
    """What ``check`` found on one cluster."""

    cluster: ClusterConfig
    reachable: bool
    version: str = ""
    federated_groups: tuple[str, ...] = ()
    controller: bool = False  # a federation controller's lock is fresh (master only)
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    kinds: frozenset[tuple[str, str]] = field(default=frozenset(), repr=False)  # (group, kind)
    placed: tuple[Obj, ...] = field(default=(), repr=False)  # Federated objects (master only)
    #: Labels of the master's ``synchub.io`` Cluster objects, by name (master only).
    registry_labels: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        """Reachable and without problems (warnings do not count)."""
        return self.reachable and not self.problems


def detect_mode(config: Config, master: ClusterReport) -> str:
    """The mode ``run`` would choose now."""
    return propagation_mode(config.propagation.mode, master.controller)


async def _list(client: ClusterClient, path: str) -> list[Obj]:
    """List, riding out 429s a freshly installed CRD answers while its storage starts."""
    for attempt in range(LIST_RETRIES):
        try:
            listed = await client.get(path)
            return list(listed.get("items") or [])
        except ApiError as exc:
            if exc.status != 429 or attempt == LIST_RETRIES - 1:
                raise
            await asyncio.sleep(1.0)
    return []


async def _federated_objects(client: ClusterClient, discovery: Discovery) -> tuple[Obj, ...]:
    found: list[Obj] = []
    for info in discovery.resources:
        if info.group in FEDERATED_GROUPS and info.preferred and is_federated_kind(info.kind):
            items = await _list(client, info.path(""))
            found += [{**o, "kind": info.kind, "apiVersion": info.api_version} for o in items]
    return tuple(found)


async def _registry_labels(
    client: ClusterClient, discovery: Discovery
) -> dict[str, dict[str, str]]:
    """Labels set on ``Cluster`` objects: placement sees them as the hub does."""
    found = by_kind(discovery.resources, SYNCHUB_GROUP, crd_cluster.KIND)
    if not found:
        return {}
    labels: dict[str, dict[str, str]] = {}
    for obj in await _list(client, found[0].path("")):
        name = str((obj.get("metadata") or {}).get("name", ""))
        labels[name] = crd_cluster.placement_labels(obj)
    return labels


def _master_problems(config: Config, discovery: Discovery) -> tuple[list[str], list[str]]:
    problems, warnings = [], []
    if not any(discovery.serves_group(g) for g in (*FEDERATED_GROUPS, SYNCHUB_GROUP)):
        problems.append(
            "no Federated or synchub.io CRDs are installed: `synchub crds | kubectl apply -f -`"
        )
    elif not discovery.serves_group(SYNCHUB_GROUP):
        warnings.append("the synchub.io CRDs are not installed: no Cluster registry")
    for target in config.targets:
        if resolve_resource(target, discovery.resources) is None:
            problems.append(f"targets: {target!r} is not served by the master")
    return problems, warnings


async def inspect(cluster: ClusterConfig, config: Config, timeout: float = 10.0) -> ClusterReport:
    """Connect to one cluster and look at its version and APIs (the master: also its setup)."""
    try:
        client = await ClusterClient.connect(cluster, timeout=timeout)
    except ClusterUnreachable as exc:
        return ClusterReport(cluster, False, problems=(_why(exc),))
    async with client:
        try:
            version = await client.get("/version")
            discovery = Discovery(client)
            await discovery.refresh()
            problems, warnings = (
                _master_problems(config, discovery) if cluster.is_master else ([], [])
            )
            running = cluster.is_master and await federation_controller_running(client)
            placed = await _federated_objects(client, discovery) if cluster.is_master else ()
            registry = await _registry_labels(client, discovery) if cluster.is_master else {}
        except KubeError as exc:
            reachable = not isinstance(exc, ClusterUnreachable)
            return ClusterReport(cluster, reachable, problems=(_why(exc),))
    # A broken aggregated API does not stop the hub: shown, not failed on.
    warnings += [f"discovery of {gv} failed; it is skipped" for gv in discovery.failed]
    return ClusterReport(
        cluster,
        True,
        version=str((version or {}).get("gitVersion", "?")),
        federated_groups=tuple(g for g in FEDERATED_GROUPS if discovery.serves_group(g)),
        controller=running,
        problems=tuple(problems),
        warnings=tuple(warnings),
        kinds=frozenset((i.group, i.kind) for i in discovery.resources),
        placed=placed,
        registry_labels=registry,
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


def missing_kinds(
    report: ClusterReport, placed: Sequence[Obj], clusters: list[Cluster]
) -> list[str]:
    """Problems for the kinds objects placed on ``report``'s cluster need and it lacks."""
    problems: dict[str, None] = {}
    for obj in placed:
        placement = select_clusters(obj, clusters)
        if isinstance(placement, PlacementError) or report.cluster.name not in placement.selected:
            continue
        kind = target_kind(str(obj["kind"]))
        template = (obj.get("spec") or {}).get("template") or {}
        group = (
            api_group(str(template.get("apiVersion", ""))) if template.get("apiVersion") else None
        )
        if any(k == kind and (group is None or g == group) for g, k in report.kinds):
            continue
        metadata = obj.get("metadata") or {}
        where = f"{obj['kind']} {metadata.get('namespace')}/{metadata.get('name')}"
        problems[f"does not serve {kind}{f' ({group})' if group else ''}, needed by {where}"] = None
    return list(problems)


async def check_all(config: Config) -> list[ClusterReport]:
    """Inspect every cluster at once; then judge members against the master's objects."""
    reports = list(await asyncio.gather(*(inspect(c, config) for c in config.clusters)))
    registry = reports[0].registry_labels
    clusters = [
        Cluster(c.name, {**c.labels, **registry.get(c.name, {})}, c.is_master)
        for c in config.clusters
    ]
    placed = reports[0].placed
    for index, report in enumerate(reports):
        if report.reachable and not report.problems:
            extra = missing_kinds(report, placed, clusters)
            reports[index] = replace(report, problems=(*report.problems, *extra))
    return reports


def render_table(config: Config, reports: Sequence[ClusterReport]) -> str:
    """The table, then one line per problem or warning, naming cluster and context."""
    mode = detect_mode(config, reports[0]) if reports[0].reachable else "unknown"
    header = ("CLUSTER", "CONTEXT", "REACHABLE", "VERSION", "LABELS", "FEDERATED APIS", "MODE",
              "PROBLEMS")  # fmt: skip
    rows = []
    for report in reports:
        c = report.cluster
        labels = ",".join(f"{k}={v}" for k, v in sorted(c.labels.items())) or "-"
        rows.append((
            c.name,
            c.context,
            "yes" if report.reachable else "no",
            report.version or "-",
            labels,
            ",".join(report.federated_groups) or "-",
            mode if c.is_master else "member",
            str(len(report.problems)),
        ))  # fmt: skip
    lines = [table(header, rows)]
    for report in reports:
        where = f"{report.cluster.name} (context {report.cluster.context})"
        lines += [f"{where}: {p}" for p in report.problems]
        lines += [f"{where}: warning: {w}" for w in report.warnings]
    return "\n".join(lines)


def render_json(config: Config, reports: Sequence[ClusterReport]) -> str:
    """The same facts as the table, as one JSON document."""
    mode = detect_mode(config, reports[0]) if reports[0].reachable else "unknown"
    clusters = [
        {
            "name": r.cluster.name,
            "context": r.cluster.context,
            "master": r.cluster.is_master,
            "reachable": r.reachable,
            "version": r.version,
            "labels": dict(r.cluster.labels),
            "federatedGroups": list(r.federated_groups),
            "problems": list(r.problems),
            "warnings": list(r.warnings),
        }
        for r in reports
    ]
    ok = all(r.ok for r in reports)
    return json.dumps({"ok": ok, "mode": mode, "clusters": clusters}, indent=2)


def run_check(config: Config, output: str) -> int:
    """Print the report; exit 0 only when every cluster is good."""
    reports = asyncio.run(check_all(config))
    print(render_json(config, reports) if output == "json" else render_table(config, reports))
    return 0 if all(r.ok for r in reports) else 1
