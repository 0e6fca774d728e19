"""``synchub render``: show what the hub would write for the objects in files.

Federated objects here; ObjectSyncs in :mod:`hub.cli.render_objectsync`.

Copy rules are resolved against the live master, placement uses the configured clusters,
overrides are applied per cluster. Nothing is written anywhere.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from hub.cli.render_objectsync import render_sync
from hub.config.settings import ClusterConfig, Config
from hub.core import copy_rules, objects, yamlfile
from hub.core.copy_resolve import (
    NOT_FOUND,
    Unreadable,
    forbidden,
    placed_namespace,
    problem_lines,
    resolve_copies,
    source_refs,
    source_resources,
)
from hub.core.errors import (
    Forbidden,
    KubeError,
    NotFound,
    UnknownResource,
    UsageError,
    UserError,
    one_line,
)
from hub.core.federation import FEDERATED_GROUPS, api_group, target_kind
from hub.core.objects import GroupResource, Obj, ObjectRef
from hub.core.objectsync import form_of
from hub.core.placement import Cluster, PlacementError, select_clusters
from hub.core.problems import Problem
from hub.core.render import RenderError, render, target_api_version
from hub.kube.client import ClusterClient
from hub.kube.discovery import Discovery
from hub.kube.resources import ResourceInfo

#: On ``-o json`` List items without ``--cluster``: the cluster the object is rendered for
#: (the hub never writes it).
CLUSTER_ANNOTATION = "synchub.io/cluster"


def load_documents(files: Sequence[str]) -> list[Obj]:
    """The mapping documents of the YAML files (``-`` is stdin).

    A file that cannot be read or parsed is a usage error (exit 2) that keeps the parser's
    reason.
    """
    documents: list[Obj] = []
    for name in files:
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text()
        except OSError as exc:
            raise UsageError(f"{name}: cannot read: {exc.strerror}") from None
        loaded = yamlfile.load_all_data(text)
        if isinstance(loaded, yamlfile.YamlFault):
            where = f" {loaded.where}:" if loaded.where else ""
            raise UsageError(one_line(f"{name}:{where} {loaded.problem}"))
        documents += [d for d in loaded if isinstance(d, dict)]
    return documents


class Renderer:
    """Reads what the hub would read, live: copy sources on the master, member discovery."""

    def __init__(self, config: Config, master: ClusterClient, discovery: Discovery) -> None:
        self.config = config
        self.master = master
        self.discovery = discovery
        self.members: dict[str, Discovery | None] = {config.master.name: discovery}

    async def resolve_copies(self, obj: Obj) -> tuple[Obj, list[Problem]]:
        """The object as the hub would see and write it, and the problems it would report.

        Resolution is the hub's own (hub.core.copy_resolve); the sources are read live.
        A namespaced object without a namespace gets ``default``, as ``kubectl apply`` does.
        """
        obj = await self._placed(obj)
        metadata = obj.get("metadata") or {}
        namespace = str(metadata.get("namespace") or "")
        parsed = copy_rules.parse_rules(metadata.get("annotations") or {})
        scopes = await self.discovery.resolve_all(source_resources(parsed))
        refs = source_refs(self.master.name, namespace, parsed, scopes)
        infos = {
            GroupResource(i.group, i.resource): i
            for i in scopes.values()
            if isinstance(i, ResourceInfo)
        }
        fetched = {ref: await self._read(infos[ref.group_resource], ref) for ref in refs}
        resolution = resolve_copies(
            self.master.name,
            namespace,
            parsed,
            scopes,
            fetched.__getitem__,
            cross_namespace=self.config.copy.cross_namespace,
        )
        return copy_rules.apply_values(obj, resolution.pairs), resolution.problems

    async def _placed(self, obj: Obj) -> Obj:
        """``obj`` with the namespace the API server would give it (see placed_namespace)."""
        try:
            info = await self.discovery.for_kind(
                api_group(str(obj.get("apiVersion", ""))), str(obj.get("kind", ""))
            )
        except UnknownResource:
            return obj  # the master does not serve the type: the hub would never see it
        metadata = dict(obj.get("metadata") or {})
        namespace = placed_namespace(obj, info.namespaced)
        if metadata.get("namespace", "") == namespace:
            return obj
        if namespace:
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)
        return {**obj, "metadata": metadata}

    async def _read(self, info: ResourceInfo, ref: ObjectRef) -> Obj | Unreadable:
        """The source as the hub's watch cache would hold it, or why it would not.

        The hub lists (watches) the source resource cluster-wide, or per namespace when
        ``namespaces:`` is set; a refused list is "forbidden" even where a read of the one
        object would be allowed, so the list is tried first.
        """
        scope = ref.namespace if self.config.namespaces else ""
        try:
            await self.master.get(info.path(scope), params={"limit": "1"})
            found: Obj = await self.master.get(info.path(ref.namespace, ref.name))
            return found
        except NotFound:
            return NOT_FOUND
        except Forbidden as exc:
            return forbidden(exc.message)

    async def target_info(self, cluster: ClusterConfig, fed: Obj, kind: str) -> ResourceInfo:
        """The resource the copy is written as on ``cluster`` (the hub's own choice)."""
        discovery = await self._discovery(cluster)
        return await discovery.for_target(target_api_version(fed), kind)

    async def cluster_discovery(self, cluster: ClusterConfig) -> Discovery:
        """Discovery (and the client) of ``cluster``, connected on first use."""
        return await self._discovery(cluster)

    async def _discovery(self, cluster: ClusterConfig) -> Discovery:
        if cluster.name not in self.members:
            client = await ClusterClient.connect(cluster, timeout=10)
            self.members[cluster.name] = Discovery(client)
        found = self.members[cluster.name]
        assert found is not None
        return found

    async def close(self) -> None:
        """Close the member clients (the master's belongs to the caller)."""
        for name, discovery in self.members.items():
            if name != self.config.master.name and discovery is not None:
                await discovery.client.close()


async def render_files(config: Config, files: Sequence[str], only: str | None, output: str) -> int:
    """Print what the hub would write for each Federated object; 1 if any has a problem."""
    documents = load_documents(files)
    names = [c.name for c in config.clusters]
    if only is not None and only not in names:
        raise UsageError(f"--cluster: no cluster named {only!r} (clusters: {', '.join(names)})")
    async with await ClusterClient.connect(config.master) as master:
        discovery = Discovery(master)
        renderer = Renderer(config, master, discovery)
        rendered: list[Obj] = []
        try:
            ok = True
            for obj in documents:
                ok = await _render_one(renderer, config, obj, only, output, rendered) and ok
        finally:
            await renderer.close()
    if output == "json":  # one List, so the output is one JSON document
        print(json.dumps({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": rendered},
                         indent=2))  # fmt: skip
    return 0 if ok else 1


async def _render_one(
    renderer: Renderer, config: Config, obj: Obj, only: str | None, output: str, out: list[Obj]
) -> bool:
    kind = str(obj.get("kind", ""))
    name = (obj.get("metadata") or {}).get("name", "?")

    def show(item: Obj, cluster: str, fmt: str) -> None:
        if fmt == "json":
            # With --cluster every item is for that cluster: exactly what the hub writes.
            out.append(item if only else _for_list(item, cluster))
        else:
            _print(item, cluster)

    if form_of(str(obj.get("apiVersion", ""))) is not None:
        return await render_sync(renderer, obj, only=only, output=output, show=show)
    if api_group(str(obj.get("apiVersion", ""))) not in FEDERATED_GROUPS:
        print(f"# skipped {kind} {name}: not a Federated type", file=sys.stderr)
        return True
    fed, problems = await renderer.resolve_copies(obj)
    for line in problem_lines(problems):
        print(f"{kind} {name}: {line}", file=sys.stderr)
    clusters = [Cluster(c.name, c.labels, c.is_master) for c in config.clusters]
    placement = select_clusters(fed, clusters)
    if isinstance(placement, PlacementError):
        print(f"{kind} {name}: invalid placement: {placement.message}", file=sys.stderr)
        return False
    placed = await _render_placed(renderer, config, fed, placement.selected, only, output, show)
    return placed and not problems


async def _render_placed(
    renderer: Renderer,
    config: Config,
    fed: Obj,
    selected: tuple[str, ...],
    only: str | None,
    output: str,
    show: Callable[[Obj, str, str], None],
) -> bool:
    """Render ``fed`` for each selected cluster (only ``only``, when given) and show it."""
    kind = str(fed.get("kind", ""))
    name = objects.name(fed) or "?"
    ok = True
    for cluster in config.clusters:
        if cluster.name not in selected or (only and cluster.name != only):
            continue
        try:
            version = (await renderer.target_info(cluster, fed, target_kind(kind))).api_version
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
        show(rendered.obj, cluster.name, output)
    return ok


def _for_list(obj: Obj, cluster: str) -> Obj:
    """The object as a ``-o json`` List item, its cluster named by an annotation."""
    metadata = dict(obj.get("metadata") or {})
    metadata["annotations"] = {**(metadata.get("annotations") or {}), CLUSTER_ANNOTATION: cluster}
    return {**obj, "metadata": metadata}


def _print(obj: Obj, cluster: str) -> None:
    first = ("apiVersion", "kind", "metadata")
    ordered: Obj = {k: obj[k] for k in first if k in obj}
    ordered.update((k, v) for k, v in obj.items() if k not in first)
    print(f"---\n# cluster: {cluster}")
    print(yaml.safe_dump(ordered, sort_keys=False), end="")


def run_render(config: Config, files: Sequence[str], only: str | None, output: str) -> int:
    """``synchub render``: the exit code; a cluster that cannot be reached is a UserError."""
    try:
        return asyncio.run(render_files(config, files, only, output))
    except KubeError as exc:
        raise UserError(str(exc)) from None
