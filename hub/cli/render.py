"""``synchub render``: show what the hub would write for Federated objects in files.

Copy rules are resolved against the live master, placement uses the configured clusters,
overrides are applied per cluster. Nothing is written anywhere.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from hub.config.loader import ClusterConfig, Config
from hub.core import copy_rules
from hub.core.errors import (
    KubeError,
    NotFound,
    ResourceNameError,
    UnknownResource,
    UsageError,
    UserError,
)
from hub.core.federation import FEDERATED_GROUPS, api_group, target_kind
from hub.core.objects import Obj
from hub.core.placement import Cluster, PlacementError, select_clusters
from hub.core.render import RenderError, render, target_api_version
from hub.kube.client import ClusterClient
from hub.kube.discovery import Discovery


def load_documents(files: Sequence[str]) -> list[Obj]:
    documents: list[Obj] = []
    for name in files:
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text()
            loaded = list(yaml.safe_load_all(text))
        except OSError as exc:
            raise UserError(f"{name}: cannot read: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise UserError(f"{name}:{where}: invalid YAML") from None
        documents += [d for d in loaded if isinstance(d, dict)]
    return documents


class Renderer:
    def __init__(self, config: Config, master: ClusterClient, discovery: Discovery) -> None:
        self.config = config
        self.master = master
        self.discovery = discovery
        self.members: dict[str, Discovery | None] = {config.master.name: discovery}

    async def resolve_copies(self, obj: Obj) -> tuple[Obj, list[str]]:
        """The object with its copy rules applied from live sources, and the problems."""
        metadata = obj.get("metadata") or {}
        namespace = str(metadata.get("namespace") or "default")
        parsed = copy_rules.parse_rules(metadata.get("annotations") or {})
        problems = [str(e) for e in parsed.errors]
        pairs: list[tuple[Any, Any]] = []
        for rule in parsed.rules:
            if rule.source is None:
                pairs.append((rule.dest, rule.literal))
                continue
            try:
                info = await self.discovery.resolve(rule.source.resource)
                source_ns = (rule.source.namespace or namespace) if info.namespaced else ""
                source = await self.master.get(info.path(source_ns, rule.source.name))
            except (UnknownResource, ResourceNameError) as exc:
                problems.append(f"{rule.origin}: InvalidAnnotation: {exc}")
                continue
            except NotFound:
                problems.append(f"{rule.origin}: SourceNotFound: {rule.source}")
                continue
            denied = copy_rules.cross_namespace_denied(
                self.config.copy.cross_namespace, namespace, source_ns, source
            )
            if denied:
                problems.append(f"{rule.origin}: CrossNamespaceDenied: {denied}")
                continue
            resolved = copy_rules.resolve(rule, source)
            if isinstance(resolved, copy_rules.ResolveError):
                problems.append(f"{rule.origin}: {resolved.reason}: {resolved.message}")
            else:
                pairs.append((rule.dest, resolved.value))
        return copy_rules.apply_values(obj, pairs), problems

    async def api_version(self, cluster: ClusterConfig, fed: Obj, kind: str) -> str:
        explicit = target_api_version(fed)
        if explicit:
            return explicit
        discovery = await self._discovery(cluster)
        info = await discovery.for_kind_any_group(kind)
        return info.api_version

    async def _discovery(self, cluster: ClusterConfig) -> Discovery:
        if cluster.name not in self.members:
            client = await ClusterClient.connect(cluster, timeout=10)
            self.members[cluster.name] = Discovery(client)
        found = self.members[cluster.name]
        assert found is not None
        return found

    async def close(self) -> None:
        for name, discovery in self.members.items():
            if name != self.config.master.name and discovery is not None:
                await discovery.client.close()


async def render_files(config: Config, files: Sequence[str], only: str | None, output: str) -> int:
    documents = load_documents(files)
    names = [c.name for c in config.clusters]
    if only is not None and only not in names:
        raise UsageError(f"--cluster: no cluster named {only!r} (clusters: {', '.join(names)})")
    async with await ClusterClient.connect(config.master) as master:
        discovery = Discovery(master)
        renderer = Renderer(config, master, discovery)
        try:
            ok = True
            for obj in documents:
                ok = await _render_one(renderer, config, obj, only, output) and ok
        finally:
            await renderer.close()
    return 0 if ok else 1


async def _render_one(
    renderer: Renderer, config: Config, obj: Obj, only: str | None, output: str
) -> bool:
    kind = str(obj.get("kind", ""))
    name = (obj.get("metadata") or {}).get("name", "?")
    if api_group(str(obj.get("apiVersion", ""))) not in FEDERATED_GROUPS:
        print(f"# skipped {kind} {name}: not a Federated type", file=sys.stderr)
        return True
    fed, problems = await renderer.resolve_copies(obj)
    for problem in problems:
        print(f"{kind} {name}: {problem}", file=sys.stderr)
    clusters = [Cluster(c.name, c.labels, c.is_master) for c in config.clusters]
    placement = select_clusters(fed, clusters)
    if isinstance(placement, PlacementError):
        print(f"{kind} {name}: invalid placement: {placement.message}", file=sys.stderr)
        return False
    ok = not problems
    for cluster in config.clusters:
        if cluster.name not in placement.selected or (only and cluster.name != only):
            continue
        try:
            version = await renderer.api_version(cluster, fed, target_kind(kind))
        except (KubeError, UnknownResource, ValueError) as exc:
            print(f"{kind} {name}: cluster {cluster.name}: {exc}", file=sys.stderr)
            ok = False
            continue
        rendered = render(
            fed, cluster.name, master_name=config.master.name, target_api_version=version
        )
        if isinstance(rendered, RenderError):
            print(f"{kind} {name}: {rendered.message}", file=sys.stderr)
            ok = False
            continue
        _print(rendered.obj, cluster.name, output)
    return ok


def _print(obj: Obj, cluster: str, output: str) -> None:
    if output == "json":
        print(json.dumps({"cluster": cluster, "object": obj}, indent=2))
    else:
        first = ("apiVersion", "kind", "metadata")
        ordered: Obj = {k: obj[k] for k in first if k in obj}
        ordered.update((k, v) for k, v in obj.items() if k not in first)
        print(f"---\n# cluster: {cluster}")
        print(yaml.safe_dump(ordered, sort_keys=False), end="")


def run_render(config: Config, files: Sequence[str], only: str | None, output: str) -> int:
    try:
        return asyncio.run(render_files(config, files, only, output))
    except KubeError as exc:
        raise UserError(str(exc)) from None
