"""Fan-out planning for ObjectSync (docs/objectsync.md): one source, many (cluster, namespace).

:func:`plan_copies` takes a :class:`~hub.core.objectsync.SyncSpec`, the live source, the
clusters with their labels, and the namespaces known on each cluster (labels, terminating or
not), and returns every copy that should exist plus what was skipped and why. Rules:

1. A source that is a ``Namespace`` or of any cluster-scoped kind is refused: no copies.
2. A destination's clusters: listed names and/or a cluster label selector; neither means the
   master only. Listed names the inventory lacks are reported.
3. ``*`` or ``""`` means every namespace; a ``namespaceSelector`` narrows that to matching
   labels; ``exclude`` names are skipped. Terminating namespaces are skipped (a named one is
   reported); a named namespace that does not exist is reported.
4. The source itself is never a copy: such a destination is skipped and reported.
5. Two destinations landing on one (cluster, namespace, name): the first wins.
6. A copy is the source without server-owned metadata, ``status``, the last-applied
   annotation and SyncHub's own labels and annotations; renamed when asked; ``keys`` keep
   (and rename) keys of ``data``/``stringData``/``binaryData``; then the managed label, the
   origin and source annotations and the desired hash are added.
7. Clusters whose namespaces are not known yet are ``pending``: nothing is planned there, so
   the caller deletes nothing there either.

Pure: inputs are never mutated; messages never contain a value of the source.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.core.describe import quoted
from hub.core.federation import HASH_ANNOTATION, MANAGED_LABEL, ORIGIN_ANNOTATION
from hub.core.objects import Obj
from hub.core.objectsync import (
    SOURCE_ANNOTATION,
    ClusterChoice,
    Destination,
    Strategy,
    SyncSpec,
)
from hub.core.placement import Cluster
from hub.core.render import compute_hash, strip_server_owned

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
OWN_PREFIX = "synchub.io/"
DATA_FIELDS = ("data", "stringData", "binaryData")


@dataclass(frozen=True, slots=True)
class NamespaceInfo:
    """One namespace of one cluster, as the planner needs it."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    terminating: bool = False


@dataclass(frozen=True, slots=True)
class DesiredCopy:
    """One copy that should exist, rendered; ``desired_hash`` is also in its annotations."""

    cluster: str
    namespace: str
    name: str
    obj: Obj
    desired_hash: str
    strategy: Strategy


@dataclass(frozen=True, slots=True)
class Skipped:
    """A destination the planner did not fill, with the reason reported on the sync."""

    cluster: str
    namespace: str
    name: str
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Plan:
    """Every desired copy, the skipped destinations, clusters still loading, or a refusal."""

    copies: tuple[DesiredCopy, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    pending: frozenset[str] = frozenset()
    refused: str = ""


@dataclass(frozen=True, slots=True)
class Origin:
    """Who asks for the copies: the sync's origin annotation and where the source lives."""

    annotation: str
    cluster: str


#: Skip reasons (:attr:`Skipped.reason`: the destination status the controller reports).
SOURCE_ITSELF = "SourceItself"
NAMESPACE_NOT_FOUND = "NamespaceNotFound"
NAMESPACE_TERMINATING = "NamespaceTerminating"
KEY_NOT_FOUND = "KeyNotFound"
UNKNOWN_CLUSTER = "UnknownCluster"


def plan_copies(
    spec: SyncSpec,
    source: Obj,
    *,
    origin: Origin,
    namespaced: bool,
    clusters: Sequence[Cluster],
    namespaces: Mapping[str, Sequence[NamespaceInfo]],
) -> Plan:
    """The copies ``spec`` asks for, given the live ``source`` and what each cluster holds."""
    kind = str(source.get("kind") or spec.source.kind)
    if kind == "Namespace" or not namespaced:
        return Plan(refused=f"{kind} is cluster-scoped; only namespaced objects are synced")
    copies: dict[tuple[str, str, str], DesiredCopy] = {}
    skipped: dict[tuple[str, str, str], Skipped] = {}
    pending: set[str] = set()
    for destination in spec.destinations:
        chosen, unknown = chosen_clusters(destination.clusters, clusters, origin.cluster)
        for name in unknown:
            skipped.setdefault(
                (name, "", ""),
                Skipped(name, "", "", UNKNOWN_CLUSTER, f"no cluster named {quoted(name)}"),
            )
        for cluster in chosen:
            known = namespaces.get(cluster)
            if known is None:
                pending.add(cluster)
                continue
            for found in _fill(spec, destination, source, origin, cluster, known):
                where = (found.cluster, found.namespace, found.name)
                if where in copies or where in skipped:
                    continue
                if isinstance(found, DesiredCopy):
                    copies[where] = found
                else:
                    skipped[where] = found
    return Plan(tuple(copies.values()), tuple(skipped.values()), frozenset(pending))


def chosen_clusters(
    choice: ClusterChoice, clusters: Sequence[Cluster], source_cluster: str
) -> tuple[list[str], list[str]]:
    """Names of the chosen clusters in inventory order, and listed names that are unknown."""
    if choice.names is None and choice.selector is None:
        return [source_cluster], []
    names = set(choice.names or ())
    selector = choice.selector
    chosen = [
        c.name
        for c in clusters
        if c.name in names or (selector is not None and selector.matches(c.labels))
    ]
    known = {c.name for c in clusters}
    return chosen, sorted(names - known)


def _fill(
    spec: SyncSpec,
    destination: Destination,
    source: Obj,
    origin: Origin,
    cluster: str,
    known: Sequence[NamespaceInfo],
) -> list[DesiredCopy | Skipped]:
    name = destination.name or spec.source.name
    found: list[DesiredCopy | Skipped] = []
    for namespace in _namespaces(destination, known):
        if namespace.terminating:
            if not destination.all_namespaces:
                found.append(
                    Skipped(cluster, namespace.name, name, NAMESPACE_TERMINATING, "terminating")
                )
            continue
        itself = (cluster, namespace.name, name) == (
            origin.cluster,
            spec.source.namespace,
            spec.source.name,
        )
        if itself:
            found.append(
                Skipped(cluster, namespace.name, name, SOURCE_ITSELF, "the source; never written")
            )
            continue
        strategy = destination.strategy or spec.strategy
        found.append(_copy(source, destination, origin, cluster, namespace.name, name, strategy))
    wanted = destination.namespace
    named = not destination.all_namespaces and wanted not in destination.exclude
    if named and not any(n.name == wanted for n in known):
        message = f"namespace {wanted} does not exist on cluster {cluster}"
        found.append(Skipped(cluster, wanted, name, NAMESPACE_NOT_FOUND, message))
    return found


def _namespaces(destination: Destination, known: Sequence[NamespaceInfo]) -> list[NamespaceInfo]:
    if not destination.all_namespaces:
        return [
            n
            for n in known
            if n.name == destination.namespace and n.name not in destination.exclude
        ]
    selector = destination.selector
    return [
        n
        for n in known
        if n.name not in destination.exclude and (selector is None or selector.matches(n.labels))
    ]


def _copy(
    source: Obj,
    destination: Destination,
    origin: Origin,
    cluster: str,
    namespace: str,
    name: str,
    strategy: Strategy,
) -> DesiredCopy | Skipped:
    obj = make_copy(source, namespace=namespace, name=name, origin=origin)
    if destination.keys is not None:
        missing = select_keys(obj, destination.keys)
        if missing:
            listed = ", ".join(quoted(k) for k in missing)
            return Skipped(
                cluster, namespace, name, KEY_NOT_FOUND, f"the source has no key {listed}"
            )
    annotations = obj["metadata"]["annotations"]
    desired_hash = compute_hash(obj)
    annotations[HASH_ANNOTATION] = desired_hash
    return DesiredCopy(cluster, namespace, name, obj, desired_hash, strategy)


def make_copy(source: Obj, *, namespace: str, name: str, origin: Origin) -> Obj:
    """The source as a copy at ``namespace/name`` (rule 6, without keys and hash)."""
    obj = copy.deepcopy(source)
    strip_server_owned(obj)
    metadata = obj.setdefault("metadata", {})
    labels = {k: v for k, v in (metadata.get("labels") or {}).items() if not _own(k)}
    annotations = {
        k: v
        for k, v in (metadata.get("annotations") or {}).items()
        if not _own(k) and k != LAST_APPLIED
    }
    labels[MANAGED_LABEL] = "true"
    source_meta = source.get("metadata") or {}
    annotations[ORIGIN_ANNOTATION] = origin.annotation
    annotations[SOURCE_ANNOTATION] = (
        f"{origin.cluster}/{source_meta.get('namespace', '')}/{source_meta.get('name', '')}"
    )
    metadata.update(name=name, namespace=namespace, labels=labels, annotations=annotations)
    return obj


def select_keys(obj: Obj, keys: Sequence[tuple[str, str]]) -> list[str]:
    """Keep only the listed keys of the data fields, renamed; return the keys not found."""
    kept: dict[str, dict[str, Any]] = {}
    found: set[str] = set()
    for data_field in DATA_FIELDS:
        values = obj.get(data_field)
        if not isinstance(values, Mapping):
            continue
        kept[data_field] = {dst: values[src] for src, dst in keys if src in values}
        found.update(src for src, _ in keys if src in values)
    for data_field, values in kept.items():
        if values:
            obj[data_field] = values
        else:
            obj.pop(data_field, None)
    return [src for src, _ in keys if src not in found]


def _own(key: str) -> bool:
    return key.startswith(OWN_PREFIX)
