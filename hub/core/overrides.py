"""Apply a Federated object's per-cluster overrides to a rendered object (docs/federated.md).

``types.kubefed.io`` overrides are JSON Patch operations (RFC 6902) limited to add, remove
and replace (default replace), as KubeFed v0.10 applies them: remove needs its target to
exist, replace of a missing map key adds it (KubeFed's behaviour, kept for drop-in parity),
and neither add nor replace creates missing parents. ``types.federation.k8s.io`` overrides set a
value at a dotted path (``spec.replicas``), creating missing maps; a path starting with ``/``
is read as a JSON pointer for tolerance.

Error messages name the cluster, the override index and the path, never values: overrides
of a FederatedSecret carry Secret data.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hub.core.federation import ApiGeneration, api_generation
from hub.core.objects import Obj
from hub.core.problems import Problem

#: An override path as unescaped tokens (JSON pointer or dotted), not a copy-rule FieldPath.
TokenPath = tuple[str, ...]

# Name and namespace tie a member object to its Federated object; kind and apiVersion come
# from the type, not the cluster. The root and /metadata are refused because replacing them
# would rewrite the fields below.
_FORBIDDEN: frozenset[TokenPath] = frozenset(
    {
        ("metadata", "name"),
        ("metadata", "namespace"),
        ("metadata", "generateName"),
        ("kind",),
        ("apiVersion",),
        ("metadata",),
        (),
    }
)


class Op(StrEnum):
    """The JSON Patch operations an override may use."""

    ADD = "add"
    REMOVE = "remove"
    REPLACE = "replace"


_OPS = {op.value: op for op in Op}


class OverrideError(Problem):
    """An override that cannot be applied (reason ``InvalidOverride``); safe to show (no values)."""

    __slots__ = ()

    def __init__(self, message: str) -> None:
        super().__init__("InvalidOverride", message)


@dataclass(frozen=True, slots=True)
class _Override:
    """One validated override: where it came from, what to do, and the parsed path."""

    where: str  # e.g. "spec.overrides[1].clusterOverrides[0] (path '/spec/replicas')"
    op: Op
    path: TokenPath
    value: Any


class _Failure(Exception):
    """Internal: aborts applying the overrides; turned into an ``OverrideError``."""


# --- path parsing


def parse_json_pointer(pointer: str) -> TokenPath:
    """Split an RFC 6901 JSON pointer into unescaped tokens (``""`` is the root).

    Raises ``ValueError`` for a pointer without a leading ``/`` or with a bad ``~`` escape.
    """
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise ValueError("a JSON pointer must start with '/'")
    tokens = []
    for raw in pointer[1:].split("/"):
        # Only ~0 and ~1 are escapes; any other ~ is malformed.
        if "~" in raw.replace("~0", "").replace("~1", ""):
            raise ValueError("a JSON pointer may use '~' only as ~0 or ~1")
        tokens.append(raw.replace("~1", "/").replace("~0", "~"))
    return tuple(tokens)


def parse_dotted_path(path: str) -> TokenPath:
    """Split a seed-era dotted path (``spec.replicas``); a leading ``/`` means JSON pointer.

    Raises ``ValueError`` for an empty path or an empty segment.
    """
    if path.startswith("/"):
        return parse_json_pointer(path)
    tokens = tuple(path.split("."))
    if any(not t for t in tokens):
        raise ValueError("a dotted path must not be empty or contain empty segments")
    return tokens


# --- selection and validation


def _cluster_entry(
    overrides: object, cluster_name: str
) -> tuple[int, Mapping[str, Any]] | OverrideError | None:
    """Find the single ``spec.overrides`` entry for ``cluster_name`` (``None`` if absent)."""
    if overrides is None:
        return None
    if not isinstance(overrides, list):
        return OverrideError("spec.overrides must be a list")
    found: list[tuple[int, Mapping[str, Any]]] = []
    for index, entry in enumerate(overrides):
        # A malformed entry might be meant for any cluster, so it fails every cluster.
        if not isinstance(entry, Mapping) or not isinstance(entry.get("clusterName"), str):
            return OverrideError(f"spec.overrides[{index}] must be a map with a clusterName")
        if entry["clusterName"] == cluster_name:
            found.append((index, entry))
    if len(found) > 1:
        indices = ", ".join(str(i) for i, _ in found)
        return OverrideError(f"spec.overrides has more than one entry for it (entries {indices})")
    return found[0] if found else None


def _parse_op(generation: ApiGeneration, raw: object) -> Op | None:
    """The operation of an override; ``None`` when unsupported."""
    if generation is ApiGeneration.FEDERATION:
        return Op.REPLACE  # seed era: set the value, creating missing maps
    if raw is None or raw == "":
        return Op.REPLACE  # KubeFed's default
    return _OPS.get(raw) if isinstance(raw, str) else None


def _parse_item(
    generation: ApiGeneration, where: str, item: Mapping[str, Any]
) -> _Override | OverrideError:
    raw_path = item.get("path")
    if not isinstance(raw_path, str):
        return OverrideError(f"{where}: path must be a string")
    where = f"{where} (path {raw_path!r})"
    parse = parse_json_pointer if generation is ApiGeneration.KUBEFED else parse_dotted_path
    try:
        path = parse(raw_path)
    except ValueError as err:
        return OverrideError(f"{where}: {err}")
    op = _parse_op(generation, item.get("op"))
    if op is None:
        return OverrideError(f"{where}: op must be one of add, remove, replace")
    if path in _FORBIDDEN:
        return OverrideError(f"{where}: this path may not be overridden")
    if op is not Op.REMOVE and "value" not in item:
        return OverrideError(f"{where}: {op} needs a value")
    return _Override(where, op, path, item.get("value"))


def _parse_cluster_overrides(
    generation: ApiGeneration, index: int, entry: Mapping[str, Any]
) -> list[_Override] | OverrideError:
    items = entry.get("clusterOverrides")
    prefix = f"spec.overrides[{index}]"
    if items is None:
        return []
    if not isinstance(items, list):
        return OverrideError(f"{prefix}.clusterOverrides must be a list")
    parsed: list[_Override] = []
    seen: dict[TokenPath, str] = {}
    for item_index, item in enumerate(items):
        where = f"{prefix}.clusterOverrides[{item_index}]"
        if not isinstance(item, Mapping):
            return OverrideError(f"{where} must be a map")
        override = _parse_item(generation, where, item)
        if isinstance(override, OverrideError):
            return override
        if override.path in seen:
            return OverrideError(
                f"{override.where}: path already overridden by {seen[override.path]}"
            )
        seen[override.path] = f"clusterOverrides[{item_index}]"
        parsed.append(override)
    return parsed


# --- application


def _list_index(token: str, length: int, *, allow_end: bool) -> int:
    """Parse an RFC 6901 array index; ``-`` (and ``length``) only when ``allow_end``."""
    if token == "-" and allow_end:
        return length
    # RFC 6901: decimal digits, no leading zeros, no sign.
    if not token.isdecimal() or not token.isascii() or (token != "0" and token.startswith("0")):
        raise _Failure(f"{token!r} is not a list index")
    index = int(token)
    if index > length or (index == length and not allow_end):
        raise _Failure(f"list index {index} is out of range")
    return index


def _parent(doc: Obj, path: TokenPath, *, create: bool) -> dict[str, Any] | list[Any]:
    """Walk to the container holding ``path[-1]``; with ``create``, make missing maps.

    Without ``create`` the walk goes through maps and lists; with it (seed era) only maps.
    """
    node: Any = doc
    for depth, token in enumerate(path[:-1]):
        _check_container(node, path[:depth], create=create)
        if isinstance(node, dict):
            if token not in node or (create and node[token] is None):
                if not create:
                    raise _Failure(f"parent {_pointer(path[: depth + 1])} does not exist")
                node[token] = {}
            node = node[token]
        else:
            node = node[_list_index(token, len(node), allow_end=False)]
    _check_container(node, path[:-1], create=create)
    return node  # type: ignore[no-any-return]


def _check_container(node: Any, path: TokenPath, *, create: bool) -> None:
    if isinstance(node, dict) or (isinstance(node, list) and not create):
        return
    kind = "a map" if create else "a map or a list"
    raise _Failure(f"{_pointer(path) or 'the root'} is not {kind}")


def _pointer(path: TokenPath) -> str:
    return "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in path)


def _apply_patch(doc: Obj, override: _Override) -> None:
    """Apply one JSON Patch add/remove/replace to ``doc`` in place."""
    parent = _parent(doc, override.path, create=False)
    key = override.path[-1]
    value = copy.deepcopy(override.value)
    if isinstance(parent, dict):
        if override.op is Op.REMOVE and key not in parent:
            raise _Failure(f"{override.op} target does not exist")
        if override.op is Op.REMOVE:
            del parent[key]
        else:
            parent[key] = value
    else:
        index = _list_index(key, len(parent), allow_end=override.op is Op.ADD)
        if override.op is Op.ADD:
            parent.insert(index, value)
        elif override.op is Op.REMOVE:
            del parent[index]
        else:
            parent[index] = value


def _apply_set(doc: Obj, override: _Override) -> None:
    """Set ``value`` at ``path`` in ``doc`` in place, creating missing maps (seed era)."""
    parent = _parent(doc, override.path, create=True)
    assert isinstance(parent, dict)  # _parent(create=True) only returns maps
    parent[override.path[-1]] = copy.deepcopy(override.value)


def overrides_none(federated_obj: Obj) -> bool:
    """No cluster has an override entry: the object renders the same on every cluster."""
    spec = federated_obj.get("spec")
    return not (isinstance(spec, Mapping) and spec.get("overrides"))


def apply_overrides(obj: Obj, federated_obj: Obj, cluster_name: str) -> Obj | OverrideError:
    """Return a copy of ``obj`` with ``federated_obj``'s overrides for ``cluster_name`` applied.

    The override dialect follows the apiVersion group of ``federated_obj``. All overrides of
    the cluster are validated before any is applied; the inputs are never mutated. Error
    messages start with ``cluster '<name>': ``.
    """
    return apply_overrides_in_place(copy.deepcopy(obj), federated_obj, cluster_name)


def apply_overrides_in_place(
    obj: Obj, federated_obj: Obj, cluster_name: str
) -> Obj | OverrideError:
    """:func:`apply_overrides` on ``obj`` itself, a private copy the caller owns (render's).

    On an error ``obj`` may be half changed: the caller drops it.
    """
    result = _apply_overrides(obj, federated_obj, cluster_name)
    if isinstance(result, OverrideError):
        return OverrideError(f"cluster {cluster_name!r}: {result.message}")
    return result


def _apply_overrides(result: Obj, federated_obj: Obj, cluster_name: str) -> Obj | OverrideError:
    try:
        generation = api_generation(str(federated_obj.get("apiVersion", "")))
    except ValueError as err:
        return OverrideError(str(err))
    spec = federated_obj.get("spec")
    if spec is not None and not isinstance(spec, Mapping):
        return OverrideError("spec must be a map")
    entry = _cluster_entry(spec.get("overrides") if spec else None, cluster_name)
    if isinstance(entry, OverrideError):
        return entry
    if entry is None:
        return result
    overrides = _parse_cluster_overrides(generation, *entry)
    if isinstance(overrides, OverrideError):
        return overrides
    apply = _apply_patch if generation is ApiGeneration.KUBEFED else _apply_set
    for override in overrides:
        try:
            apply(result, override)
        except _Failure as err:
            return OverrideError(f"{override.where}: {err}")
    return result
