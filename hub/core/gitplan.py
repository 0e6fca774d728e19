"""The apply plan of one GitSync revision (docs/gitsync.md, "All or nothing"). Pure.

In order:

1. :func:`parse_manifests` reads every file's text as a multi-document YAML (or JSON)
   stream; the first problem names the file and line and ends the revision.
2. :func:`plan` turns the parsed objects, the previous inventory and the tenancy rules into
   a :class:`Plan`: the objects to apply, Namespaces and CRDs first, each stamped with the
   managed label and the origin annotation, and the inventory entries to prune. Any refused
   object (outside ``namespaces``, cluster-scoped while ``namespaces`` is set, a duplicate, an
   unknown kind) makes the whole revision a :class:`Refusal`: nothing applied, nothing pruned.
3. :func:`prunable` says whether a live object found for a prune candidate may be deleted:
   never one SyncHub does not manage, another origin's, or one annotated
   ``synchub.io/prune: disabled``.

Inputs are never mutated; nothing here raises on user input.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from hub.core import yamlfile
from hub.core.federation import (
    FIELD_MANAGER,
    HASH_ANNOTATION,
    MANAGED_LABEL,
    ORIGIN_ANNOTATION,
    api_group,
)
from hub.core.objects import Obj
from hub.core.patch import contains
from hub.core.render import SERVER_OWNED_METADATA, compute_hash

#: libyaml's safe loader when PyYAML has it (several times faster), else the pure one.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
PRUNE_ANNOTATION = "synchub.io/prune"
PRUNE_DISABLED = "disabled"
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
CRD_GROUP = "apiextensions.k8s.io"

__all__ = ["FIELD_MANAGER", "Entry", "Manifest", "ManifestError", "Plan", "Refusal", "Rules"]


@dataclass(frozen=True, slots=True, order=True)
class Entry:
    """One object of an inventory: ``group``/``kind``, namespace ("" if cluster-scoped), name."""

    group: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        what = f"{self.kind}.{self.group}" if self.group else self.kind
        return f"{what} {self.namespace}/{self.name}" if self.namespace else f"{what} {self.name}"

    def key(self) -> str:
        """The inventory string kept in status: ``<group>_<Kind>_<namespace>_<name>``."""
        return f"{self.group}_{self.kind}_{self.namespace}_{self.name}"

    @classmethod
    def from_key(cls, key: str) -> Entry | None:
        """Read back :meth:`key`; None when the string is not one."""
        parts = key.split("_")
        if len(parts) != 4 or not parts[1] or not parts[3]:
            return None
        return cls(*parts)


@dataclass(frozen=True, slots=True)
class Manifest:
    """One document of one file: ``source`` is ``path`` or ``path#N`` for the N-th document."""

    source: str
    obj: Obj


@dataclass(frozen=True, slots=True)
class ManifestError:
    """A file (and line) that cannot be read as manifests."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Rules:
    """Tenancy of one GitSync: where it may write and what it calls itself."""

    origin: str
    """The ``synchub.io/origin`` value: ``<master>/synchub.io/GitSync/<namespace>/<name>``."""
    namespaces: tuple[str, ...] = ()
    """Allowed target namespaces; empty allows any namespace and cluster-scoped objects."""
    default_namespace: str = "default"
    """The namespace of a namespaced object that names none."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """The revision is refused as a whole; ``message`` names the file or object."""

    message: str


@dataclass(frozen=True)
class Plan:
    """What one revision does on every selected cluster."""

    applies: tuple[tuple[Entry, Obj], ...]
    """Desired objects in apply order: Namespaces, then CRDs, then the rest in file order."""
    prunes: tuple[Entry, ...]
    """Previous inventory entries absent from this revision, in delete order (Namespaces last)."""
    inventory: tuple[Entry, ...] = field(default=())
    """The inventory after this revision (sorted)."""


# --- parsing ----------------------------------------------------------------------------------


def is_manifest_file(name: str) -> bool:
    """A ``.yaml``, ``.yml`` or ``.json`` file (hidden files excluded)."""
    base = name.rsplit("/", 1)[-1]
    return not base.startswith(".") and base.lower().endswith(MANIFEST_SUFFIXES)


def parse_manifests(files: Iterable[tuple[str, str]]) -> list[Manifest] | ManifestError:
    """Every object of every ``(path, text)``; a ``List`` is flattened; empty documents skipped."""
    manifests: list[Manifest] = []
    for path, text in files:
        parsed = _parse_file(path, text)
        if isinstance(parsed, ManifestError):
            return parsed
        manifests += parsed
    return manifests


def _parse_file(path: str, text: str) -> list[Manifest] | ManifestError:
    try:
        documents = list(yaml.load_all(text, Loader=_LOADER))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        return ManifestError(path, line, str(exc.problem or exc.context or "invalid YAML"))
    except yaml.YAMLError as exc:
        return ManifestError(path, 0, f"invalid YAML: {type(exc).__name__}")
    except RecursionError:
        return ManifestError(path, 0, yamlfile.TOO_DEEP)
    if any(yamlfile.too_deep(document) for document in documents):
        return ManifestError(path, 0, yamlfile.TOO_DEEP)
    found: list[Manifest] = []
    for index, document in enumerate(documents):
        source = path if len(documents) == 1 else f"{path}#{index + 1}"
        if document is None:
            continue
        for item in _items(document):
            problem = _shape_problem(item)
            if problem:
                return ManifestError(source, 0, problem)
            found.append(Manifest(source, item))
    return found


def _items(document: Any) -> list[Any]:
    if isinstance(document, dict) and str(document.get("kind", "")).endswith("List"):
        items = document.get("items")
        if isinstance(items, list):
            return items
    return [document]


def _shape_problem(item: Any) -> str:
    if not isinstance(item, dict):
        return "a manifest must be a mapping with apiVersion, kind and metadata.name"
    for key in ("apiVersion", "kind"):
        if not isinstance(item.get(key), str) or not item.get(key):
            return f"{key} is missing or not a string"
    metadata = item.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
        return f"{item['kind']}: metadata.name is missing or not a string"
    if "namespace" in metadata and not isinstance(metadata["namespace"], str):
        return f"{item['kind']} {metadata['name']}: metadata.namespace is not a string"
    return ""


# --- planning ---------------------------------------------------------------------------------

#: ``(group, kind) -> namespaced``; None when the kind is unknown.
Scope = Callable[[str, str], bool | None]


def crd_scopes(manifests: Sequence[Manifest]) -> dict[tuple[str, str], bool]:
    """Kinds the revision itself defines through CRDs, with their scope."""
    scopes: dict[tuple[str, str], bool] = {}
    for manifest in manifests:
        obj = manifest.obj
        if api_group(str(obj["apiVersion"])) != CRD_GROUP:
            continue
        spec = _mapping(obj.get("spec"))
        names = _mapping(spec.get("names"))
        if obj["kind"] == "CustomResourceDefinition" and names.get("kind"):
            scopes[(str(spec.get("group", "")), str(names["kind"]))] = (
                spec.get("scope") != "Cluster"
            )
    return scopes


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def plan(
    manifests: Sequence[Manifest], scope: Scope, previous: Iterable[Entry], rules: Rules
) -> Plan | Refusal:
    """The ordered applies and prunes of one revision, or why it is refused as a whole."""
    defined = crd_scopes(manifests)
    desired: dict[Entry, tuple[str, Obj]] = {}
    for manifest in manifests:
        obj = manifest.obj
        group, kind = api_group(str(obj["apiVersion"])), str(obj["kind"])
        namespaced = defined.get((group, kind), scope(group, kind))
        if namespaced is None:
            return Refusal(f"{manifest.source}: {kind} ({obj['apiVersion']}) is not served")
        entry = _entry(obj, group, namespaced, rules.default_namespace)
        refused = _tenancy_problem(entry, namespaced, rules)
        if refused:
            return Refusal(f"{manifest.source}: {entry}: {refused}")
        if entry in desired:
            return Refusal(f"{manifest.source}: {entry} is also in {desired[entry][0]}")
        desired[entry] = (manifest.source, stamped(obj, entry, rules.origin))
    applies = sorted(desired.items(), key=lambda item: _order(item[0]))
    return Plan(
        tuple((entry, obj) for entry, (_source, obj) in applies),
        removal_order(set(previous) - set(desired)),
        tuple(sorted(desired)),
    )


def _entry(obj: Obj, group: str, namespaced: bool, default_namespace: str) -> Entry:
    metadata = obj["metadata"]
    namespace = (metadata.get("namespace") or default_namespace) if namespaced else ""
    return Entry(group, str(obj["kind"]), namespace, str(metadata["name"]))


def _tenancy_problem(entry: Entry, namespaced: bool, rules: Rules) -> str:
    if not rules.namespaces:
        return ""
    if not namespaced:
        if entry.group == "" and entry.kind == "Namespace" and entry.name in rules.namespaces:
            return ""
        return f"cluster-scoped, while only namespaces {', '.join(rules.namespaces)} are allowed"
    if entry.namespace not in rules.namespaces:
        return f"namespace {entry.namespace} is not in namespaces ({', '.join(rules.namespaces)})"
    return ""


def removal_order(entries: Iterable[Entry]) -> tuple[Entry, ...]:
    """``entries`` in delete order: Namespaces and CRDs last, so their contents go first."""
    return tuple(sorted(set(entries), key=lambda e: (-_order(e), e)))


def _order(entry: Entry) -> int:
    if entry.group == "" and entry.kind == "Namespace":
        return 0
    if entry.group == CRD_GROUP and entry.kind == "CustomResourceDefinition":
        return 1
    return 2


def stamped(obj: Obj, entry: Entry, origin: str) -> Obj:
    """A copy of ``obj`` ready to apply.

    The namespace is set, server-owned metadata and status are dropped, and the managed label,
    the origin and the desired-hash annotations are added.
    """
    desired = copy.deepcopy(obj)
    desired.pop("status", None)
    metadata = desired["metadata"]
    for key in SERVER_OWNED_METADATA:
        metadata.pop(key, None)
    if entry.namespace:
        metadata["namespace"] = entry.namespace
    labels = _mapping(metadata.get("labels"))
    metadata["labels"] = {**labels, MANAGED_LABEL: "true"}
    annotations = metadata.get("annotations")
    annotations = dict(annotations) if isinstance(annotations, dict) else {}
    annotations[ORIGIN_ANNOTATION] = origin
    annotations.pop(HASH_ANNOTATION, None)
    metadata["annotations"] = annotations
    annotations[HASH_ANNOTATION] = compute_hash(desired)
    return desired


# --- prune ------------------------------------------------------------------------------------


def prunable(live: Obj | None, origin: str) -> bool:
    """True only for a live object this GitSync manages and nobody protected from prune."""
    if not live:
        return False
    metadata = live.get("metadata") or {}
    labels = metadata.get("labels") or {}
    annotations = metadata.get("annotations") or {}
    return (
        labels.get(MANAGED_LABEL) == "true"
        and annotations.get(ORIGIN_ANNOTATION) == origin
        and annotations.get(PRUNE_ANNOTATION) != PRUNE_DISABLED
        and not metadata.get("deletionTimestamp")
    )


def in_sync(live: Obj | None, desired: Obj) -> bool:
    """True when ``live`` holds every field of ``desired`` (fields others own may be extra)."""
    return live is not None and contains(live, desired)


def inventory_keys(entries: Iterable[Entry]) -> list[str]:
    """Inventory entries as the strings status keeps."""
    return [entry.key() for entry in sorted(entries)]


def read_inventory(status: Mapping[str, Any] | None) -> list[Entry]:
    """The inventory a GitSync's status records (unreadable entries are ignored)."""
    inventory = (status or {}).get("inventory") or {}
    raw = inventory.get("entries") if isinstance(inventory, dict) else None
    entries = (Entry.from_key(str(k)) for k in (raw if isinstance(raw, list) else []))
    return [e for e in entries if e is not None]
