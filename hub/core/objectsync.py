"""ObjectSync specs: three API forms read into one :class:`SyncSpec` (docs/objectsync.md).

Forms, all namespaced:

* ``synchub.io/v1alpha1 ObjectSync`` — SyncHub's own: destinations with a namespace, a
  namespace selector, excludes, a rename, clusters (names and/or a cluster label selector)
  and key selection; ``strategy`` and ``updateMode`` for the whole object.
* ``sync.rustrial.org/v1alpha1 ObjectSync`` (k8s-object-syncer): ``destinations
  [{namespace, name?, strategy?}]``; the master only.
* ``replika.prosimcorp.com`` ``Replika`` (v1alpha1, v1beta1): ``target.namespaces
  {replicateIn, matchAll, excludeFrom}`` and ``synchronization.time``; the master only.

Pure: nothing here raises on user input; :func:`parse_sync` returns a :class:`SpecError`
naming the field. Inputs are never mutated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from hub.core.describe import quoted, type_of
from hub.core.federation import SYNCHUB_GROUP as SYNCHUB_GROUP  # re-exported
from hub.core.placement import LabelSelector, SelectorError, parse_label_selector

RUSTRIAL_GROUP = "sync.rustrial.org"
REPLIKA_GROUP = "replika.prosimcorp.com"
#: (group, kind) of every ObjectSync form.
SYNC_KINDS = (
    (SYNCHUB_GROUP, "ObjectSync"),
    (RUSTRIAL_GROUP, "ObjectSync"),
    (REPLIKA_GROUP, "Replika"),
)

FINALIZER = "synchub.io/objectsync"
SOURCE_ANNOTATION = "synchub.io/source"
SUSPEND_ANNOTATION = "synchub.io/suspend"
#: Condition types per form: Replika reports ``SourceSynced``, the others Ready and InSync.
READY_CONDITION = "Ready"
IN_SYNC_CONDITION = "InSync"
SOURCE_SYNCED_CONDITION = "SourceSynced"
ALL_NAMESPACES = ("*", "")

Form = Literal["synchub", "rustrial", "replika"]
Strategy = Literal["apply", "replace"]
UpdateMode = Literal["sync", "create-only"]

_FORMS: dict[str, Form] = {
    SYNCHUB_GROUP: "synchub",
    RUSTRIAL_GROUP: "rustrial",
    REPLIKA_GROUP: "replika",
}
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_DURATION_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """The object a sync copies, on the master. ``version`` None: the preferred version."""

    group: str
    version: str | None
    kind: str
    name: str
    namespace: str


@dataclass(frozen=True, slots=True)
class ClusterChoice:
    """Which clusters a destination covers: listed names and/or a cluster label selector.

    ``None`` for both means the master only (the default of every form).
    """

    names: tuple[str, ...] | None = None
    selector: LabelSelector | None = None


@dataclass(frozen=True, slots=True)
class Destination:
    """One destination entry: namespaces on some clusters, an optional rename and keys."""

    namespace: str = "*"  # "*" or "" = every namespace; otherwise one name
    selector: LabelSelector | None = None  # instead of ``namespace``
    exclude: frozenset[str] = frozenset()
    name: str | None = None
    clusters: ClusterChoice = ClusterChoice()
    keys: tuple[tuple[str, str], ...] | None = None  # (source key, copy key)
    strategy: Strategy | None = None  # k8s-object-syncer sets it per destination

    @property
    def all_namespaces(self) -> bool:
        """Whether the destination means every namespace (a selector narrows it)."""
        return self.selector is not None or self.namespace in ALL_NAMESPACES


@dataclass(frozen=True, slots=True)
class SyncSpec:
    """One sync of any form, as the planner and the controller read it."""

    form: Form
    source: SourceSpec
    destinations: tuple[Destination, ...]
    strategy: Strategy = "apply"
    update_mode: UpdateMode = "sync"
    resync: float | None = None  # seconds (Replika's synchronization.time)

    @property
    def conditions(self) -> tuple[str, ...]:
        """The condition types this form reports."""
        if self.form == "replika":
            return (SOURCE_SYNCED_CONDITION,)
        return (READY_CONDITION, IN_SYNC_CONDITION)


@dataclass(frozen=True, slots=True)
class SpecError:
    """Why a sync's spec cannot be used; names the field, never a value of the source."""

    message: str


class _Invalid(Exception):
    """Internal: aborts parsing; turned into a :class:`SpecError`."""


def form_of(api_version: str) -> Form | None:
    """The form of an object's apiVersion, or None when it is not an ObjectSync group."""
    return _FORMS.get(api_version.rpartition("/")[0])


def parse_sync(obj: Mapping[str, Any]) -> SyncSpec | SpecError:
    """Read an ObjectSync or Replika object into a :class:`SyncSpec`."""
    form = form_of(str(obj.get("apiVersion", "")))
    if form is None:
        return SpecError(f"apiVersion {quoted(str(obj.get('apiVersion')))} is not an ObjectSync")
    metadata = obj.get("metadata") or {}
    namespace = str(metadata.get("namespace") or "")
    spec = obj.get("spec")
    try:
        if not isinstance(spec, Mapping):
            raise _Invalid(f"spec must be a mapping, got {type_of(spec)}")
        source = _source(spec.get("source"), namespace)
        if form == "replika":
            return _replika(spec, source)
        if form == "rustrial":
            return SyncSpec(form, source, _destinations(spec.get("destinations"), rustrial=True))
        return _synchub(spec, source)
    except _Invalid as err:
        return SpecError(str(err))


def _source(raw: Any, default_namespace: str) -> SourceSpec:
    body = _mapping(raw, "spec.source")
    group = body.get("group") or ""
    version = body.get("version") or None
    if not isinstance(group, str) or not (version is None or isinstance(version, str)):
        raise _Invalid("spec.source.group and spec.source.version must be strings")
    kind = _text(body.get("kind"), "spec.source.kind")
    name = _text(body.get("name"), "spec.source.name")
    namespace = body.get("namespace") or default_namespace
    _namespace_name(namespace, "spec.source.namespace")
    return SourceSpec(group, version, kind, name, namespace)


def _synchub(spec: Mapping[str, Any], source: SourceSpec) -> SyncSpec:
    strategy = _choice(spec.get("strategy"), "spec.strategy", ("apply", "replace"))
    update_mode = _choice(spec.get("updateMode"), "spec.updateMode", ("sync", "create-only"))
    destinations = _destinations(spec.get("destinations"), rustrial=False)
    return SyncSpec(
        "synchub",
        source,
        destinations,
        strategy=strategy,  # type: ignore[arg-type]
        update_mode=update_mode,  # type: ignore[arg-type]
    )


def _replika(spec: Mapping[str, Any], source: SourceSpec) -> SyncSpec:
    sync = spec.get("synchronization") or {}
    resync = None
    if isinstance(sync, Mapping) and sync.get("time") is not None:
        resync = _duration(sync.get("time"), "spec.synchronization.time")
    target = _mapping(spec.get("target"), "spec.target")
    namespaces = _mapping(target.get("namespaces"), "spec.target.namespaces")
    exclude = frozenset(_names(namespaces.get("excludeFrom"), "spec.target.namespaces.excludeFrom"))
    match_all = namespaces.get("matchAll", False)
    if not isinstance(match_all, bool):
        raise _Invalid("spec.target.namespaces.matchAll must be true or false")
    if match_all:
        destinations: tuple[Destination, ...] = (Destination("*", exclude=exclude),)
    else:
        listed = _names(namespaces.get("replicateIn"), "spec.target.namespaces.replicateIn")
        destinations = tuple(Destination(n, exclude=exclude) for n in listed)
    return SyncSpec("replika", source, destinations, resync=resync)


def _destinations(raw: Any, *, rustrial: bool) -> tuple[Destination, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _Invalid(f"spec.destinations must be a list, got {type_of(raw)}")
    return tuple(
        _destination(item, f"spec.destinations[{i}]", rustrial) for i, item in enumerate(raw)
    )


def _destination(raw: Any, where: str, rustrial: bool) -> Destination:
    body = _mapping(raw, where)
    namespace = body.get("namespace")
    namespace = "*" if namespace is None else namespace
    if not isinstance(namespace, str):
        raise _Invalid(f"{where}.namespace must be a string, got {type_of(namespace)}")
    if namespace not in ALL_NAMESPACES:
        _namespace_name(namespace, f"{where}.namespace")
    name = body.get("name") or None
    if name is not None:
        _text(name, f"{where}.name")
    strategy = body.get("strategy")
    if strategy is not None:
        strategy = _choice(strategy, f"{where}.strategy", ("apply", "replace"))
    if rustrial:
        return Destination(namespace, name=name, strategy=strategy)  # type: ignore[arg-type]
    selector = _selector(body.get("namespaceSelector"), f"{where}.namespaceSelector")
    return Destination(
        namespace,
        selector=selector,
        exclude=frozenset(_names(body.get("exclude"), f"{where}.exclude")),
        name=name,
        clusters=_clusters(body.get("clusters"), f"{where}.clusters"),
        keys=_keys(body.get("keys"), f"{where}.keys"),
        strategy=strategy,  # type: ignore[arg-type]
    )


def _clusters(raw: Any, where: str) -> ClusterChoice:
    if raw is None:
        return ClusterChoice()
    body = _mapping(raw, where)
    names = None
    if body.get("names") is not None:
        names = tuple(_names(body.get("names"), f"{where}.names"))
    selector = _selector(body.get("selector"), f"{where}.selector")
    if names is None and selector is None:
        raise _Invalid(f"{where} needs names or a selector")
    return ClusterChoice(names, selector)


def _selector(raw: Any, where: str) -> LabelSelector | None:
    if raw is None:
        return None
    parsed = parse_label_selector(raw)
    if isinstance(parsed, SelectorError):
        raise _Invalid(f"{where}: {parsed.message}")
    return parsed


def _keys(raw: Any, where: str) -> tuple[tuple[str, str], ...] | None:
    """``[K, ...]`` keeps keys as they are; ``{SRC: DST}`` keeps and renames."""
    if raw is None:
        return None
    if isinstance(raw, list):
        pairs = [(k, k) for k in raw]
    elif isinstance(raw, Mapping):
        pairs = list(raw.items())
    else:
        raise _Invalid(f"{where} must be a list of keys or a mapping, got {type_of(raw)}")
    if not pairs or not all(
        isinstance(k, str) and k and isinstance(v, str) and v for k, v in pairs
    ):
        raise _Invalid(f"{where} must list non-empty key names")
    written = [dst for _, dst in pairs]
    if len(set(written)) != len(written) or len({src for src, _ in pairs}) != len(pairs):
        raise _Invalid(f"{where} names a key twice")
    return tuple(pairs)


def _mapping(raw: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise _Invalid(f"{where} must be a mapping, got {type_of(raw)}")
    return raw


def _text(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not raw:
        raise _Invalid(f"{where} must be a non-empty string, got {type_of(raw)}")
    return raw


def _namespace_name(raw: Any, where: str) -> str:
    text = _text(raw, where)
    if len(text) > 63 or not _DNS_LABEL.match(text):
        raise _Invalid(f"{where}: {quoted(text)} is not a valid namespace name")
    return text


def _names(raw: Any, where: str) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _Invalid(f"{where} must be a list of names, got {type_of(raw)}")
    return [_text(item, f"{where}[{i}]") for i, item in enumerate(raw)]


def _choice(raw: Any, where: str, choices: tuple[str, ...]) -> str:
    if raw is None:
        return choices[0]
    if raw not in choices:
        raise _Invalid(f"{where} must be one of {', '.join(choices)}, got {quoted(str(raw))}")
    return str(raw)


def _duration(raw: Any, where: str) -> float:
    text = raw.strip() if isinstance(raw, str) else ""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise _Invalid(f"{where}: {quoted(str(raw))} is not a duration like 20s or 5m")
    return sum(float(n) * _DURATION_SCALE[u] for n, u in parts)
