"""``synchub render`` for ObjectSync and Replika objects: the copies the hub would write.

The source is read from the live master and each selected cluster's namespaces are listed,
then the hub's own planner (:mod:`hub.core.fanout`) decides; nothing is written anywhere.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from hub.controllers.objectsync.controller import refused
from hub.controllers.objectsync.watches import namespace_state
from hub.core.copy_rules import cross_namespace_denied
from hub.core.errors import KubeError, NotFound, UnknownResource
from hub.core.fanout import NamespaceInfo, Origin, chosen_clusters, plan_copies
from hub.core.objects import Obj
from hub.core.objectsync import SpecError, SyncSpec, parse_sync
from hub.core.placement import Cluster

if TYPE_CHECKING:
    from hub.cli.render import Renderer

Printer = Callable[[Obj, str, str], None]


async def render_sync(
    renderer: Renderer, obj: Obj, *, only: str | None, output: str, show: Printer
) -> bool:
    """Print the copies ``obj`` asks for; problems go to stderr. False on any problem."""
    config, master, discovery = renderer.config, renderer.master, renderer.discovery
    # A namespaced object without a namespace gets ``default``, as ``kubectl apply`` does.
    metadata = {"namespace": "default", **(obj.get("metadata") or {})}
    obj = {**obj, "metadata": metadata}
    namespace = str(metadata["namespace"])
    label = f"{obj.get('kind')} {metadata.get('name', '?')}"
    spec = parse_sync(obj)
    if isinstance(spec, SpecError):
        return _problem(label, spec.message)
    try:
        info = await discovery.for_kind(spec.source.group, spec.source.kind, spec.source.version)
        refusal = refused(config, info)
        if refusal is not None:
            return _problem(label, f"{refusal.reason}: {refusal.message}")
        source: Obj = await master.get(info.path(spec.source.namespace, spec.source.name))
    except NotFound:
        where = f"{spec.source.namespace}/{spec.source.name}"
        return _problem(label, f"SourceNotFound: {spec.source.kind} {where}")
    except UnknownResource as exc:
        return _problem(label, f"SourceKindUnknown: {exc}")
    denied = cross_namespace_denied(
        config.copy.cross_namespace, namespace, spec.source.namespace, source
    )
    if denied:
        return _problem(label, f"CrossNamespaceDenied: {denied}")
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    sync = f"{group}/{obj.get('kind')}/{namespace}/{metadata.get('name')}"
    origin = Origin(f"{master.name}/{sync}", master.name)
    clusters = [Cluster(c.name, c.labels, c.is_master) for c in config.clusters]
    known = await _namespaces(renderer, spec, clusters)
    plan = plan_copies(
        spec, source, origin=origin, namespaced=info.namespaced, clusters=clusters, namespaces=known
    )
    if plan.refused:
        return _problem(label, f"KindRefused: {plan.refused}")
    for skipped in plan.skipped:
        where = f"{skipped.cluster}/{skipped.namespace}/{skipped.name}"
        print(f"{label}: {where}: {skipped.reason}: {skipped.message}", file=sys.stderr)
    for copy in plan.copies:
        if only is None or copy.cluster == only:
            show(copy.obj, copy.cluster, output)
    return all(s.reason == "SourceItself" for s in plan.skipped)


async def _namespaces(
    renderer: Renderer, spec: SyncSpec, clusters: list[Cluster]
) -> dict[str, list[NamespaceInfo]]:
    """The namespaces of every cluster a destination chooses, listed live."""
    master = renderer.master.name
    chosen = {
        n for d in spec.destinations for n in chosen_clusters(d.clusters, clusters, master)[0]
    }
    known: dict[str, list[NamespaceInfo]] = {}
    for cluster in renderer.config.clusters:
        if cluster.name not in chosen:
            continue
        try:
            discovery = await renderer.cluster_discovery(cluster)
            listed = await discovery.client.get("/api/v1/namespaces")
        except KubeError as exc:
            print(f"cluster {cluster.name}: {exc}", file=sys.stderr)
            continue
        known[cluster.name] = [
            NamespaceInfo(str(ns["metadata"]["name"]), dict(state.labels), state.terminating)
            for ns in listed.get("items") or []
            if (state := namespace_state(ns))
        ]
    return known


def _problem(label: str, message: str) -> bool:
    print(f"{label}: {message}", file=sys.stderr)
    return False
