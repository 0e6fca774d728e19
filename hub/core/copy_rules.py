"""Copy annotations: parse them into rules, resolve rules against sources, apply values.

Pure code: no I/O and no Kubernetes client. Nothing here raises on user input; problems come
back as :class:`RuleError` / :class:`ResolveError` values. Messages name annotation keys,
paths, resources and object names, but never a resolved value (it may be Secret data).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import yaml

from hub.core import names, objects, yamlfile
from hub.core.describe import quoted, type_of
from hub.core.paths import (
    FieldPath,
    Index,
    Key,
    PathError,
    PathNotFound,
    Segment,
    delete_path,
    format_path,
    get_path,
    parse_path,
    parse_plain_path,
    set_path,
)
from hub.core.problems import Problem

__all__ = [
    "CROSS_NS_ANNOTATION",
    "RULES_ANNOTATION",
    "SEED_PREFIX",
    "ParsedRules",
    "ResolveError",
    "Resolved",
    "Rule",
    "RuleError",
    "SourceRef",
    "apply_values",
    "needs_write",
    "parse_rules",
    "resolve",
    "values_equal",
]

SEED_PREFIX = "k8s-copier.fig.org/replace-"
RULES_ANNOTATION = "synchub.io/copy"
CROSS_NS_ANNOTATION = "synchub.io/copy-allowed-namespaces"

RuleErrorReason: TypeAlias = Literal["InvalidAnnotation", "ConflictingRules"]
INVALID: RuleErrorReason = "InvalidAnnotation"
CONFLICT: RuleErrorReason = "ConflictingRules"

# Nesting deeper than this in a literal is refused: it keeps deepcopy, comparison and the
# API server's own limits out of reach of a hostile annotation.
_MAX_LITERAL_DEPTH = 64

_ITEM_FIELDS = frozenset({"to", "from", "value", "keys"})
_FROM_FIELDS = frozenset({"resource", "name", "namespace", "path"})


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a rule reads from.

    ``resource`` is the raw user string (resolved elsewhere); ``namespace`` None means the
    target's namespace (or a cluster-scoped source).
    """

    resource: str
    name: str
    namespace: str | None

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.resource} {where}"


@dataclass(frozen=True, slots=True)
class Rule:
    """One copy rule. ``source`` None means a literal: ``literal`` is the value to write.

    ``origin`` is the annotation key (with ``[i]`` for a rule-list item), for messages.
    ``keys`` (source rules only) keeps just these (source key, destination key) pairs of a
    map value.
    """

    dest: FieldPath
    origin: str
    source: SourceRef | None
    src_path: FieldPath
    literal: Any
    keys: tuple[tuple[str, str], ...] | None


class RuleError(Problem):
    """A rule that cannot be used: ``RuleError(reason, message, origin)``.

    ``reason`` is ``InvalidAnnotation`` or ``ConflictingRules``; ``origin`` (the problem's
    ``where``) is the annotation key, and ``message`` does not repeat it.
    """

    __slots__ = ()

    @property
    def origin(self) -> str:
        """The annotation key (with ``[i]`` for a rule-list item) the rule came from."""
        return self.where


@dataclass(frozen=True, slots=True)
class ParsedRules:
    """The usable rules of one object and the errors of the unusable ones."""

    rules: tuple[Rule, ...]
    errors: tuple[RuleError, ...]


@dataclass(frozen=True, slots=True)
class Resolved:
    """The value a rule resolved to (a private copy, safe to embed in a new object)."""

    value: Any


class ResolveError(Problem):
    """A rule that could not be resolved against its source object (reason ``PathNotFound``).

    ``ResolveError(reason, message, origin)``; ``origin`` is the rule's annotation key.
    """

    __slots__ = ()

    @property
    def origin(self) -> str:
        """The annotation key of the rule that failed."""
        return self.where


class _Invalid(Exception):
    """Internal: carries an InvalidAnnotation message out of nested validation."""


# --------------------------------------------------------------------------- parsing


def parse_rules(annotations: Mapping[str, str]) -> ParsedRules:
    """Parse every copy annotation of one object into rules and error values.

    A malformed annotation or rule-list item only drops itself; rules whose destinations
    overlap are all dropped with a ``ConflictingRules`` error per overlapping pair.
    """
    candidates: list[Rule] = []
    errors: list[RuleError] = []
    # Sorted so that rules and errors come out in the same order on every pass.
    for key in sorted(annotations):
        if key.startswith(SEED_PREFIX):
            results: list[Rule | RuleError] = [_parse_seed(key, annotations[key])]
        elif key == RULES_ANNOTATION:
            results = _parse_rule_list(annotations[key])
        else:
            continue
        for result in results:
            if isinstance(result, Rule):
                candidates.append(result)
            else:
                errors.append(result)
    rules, conflicts = _drop_conflicts(candidates)
    return ParsedRules(rules=tuple(rules), errors=tuple(errors + conflicts))


def _parse_seed(key: str, value: str) -> Rule | RuleError:
    """``replace-<DST>: <RESOURCE>:<SOURCE>:<SRC-PATH>`` or ``replace-<DST>: json:<JSON>``."""
    try:
        dest = _dest_path(key[len(SEED_PREFIX) :], plain=True)
        if value.startswith("json:"):
            literal = _parse_json_literal(value[len("json:") :])
            return Rule(dest, key, None, (), literal, None)
        parts = value.split(":", 2)
        if len(parts) < 3:
            raise _Invalid(
                "value must be '<RESOURCE>:<NAME|NAMESPACE/NAME>:<SRC-PATH>' or 'json:<JSON>'"
                f" (found {len(parts)} part{'s' if len(parts) != 1 else ''})"
            )
        resource, source_text, path_text = parts
        resource = _check_resource(resource)
        namespace, name = _parse_source(source_text)
        source = SourceRef(resource, name, namespace)
        return Rule(dest, key, source, _src_path(path_text), None, None)
    except _Invalid as exc:
        return RuleError(INVALID, str(exc), key)


def _parse_json_literal(text: str) -> Any:
    if not text.strip():
        raise _Invalid("empty JSON literal after 'json:' (use json:null for no value)")
    try:
        literal = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise _Invalid(f"invalid JSON literal: {exc.msg} (character {exc.pos + 1})") from None
    except (ValueError, RecursionError):
        # Non-finite constants, integers over Python's digit limit, absurd nesting.
        raise _Invalid("invalid JSON literal") from None
    _check_literal(literal, "JSON literal")
    return literal


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse_source(text: str) -> tuple[str | None, str]:
    """``NAME`` or ``NAMESPACE/NAME`` -> (namespace or None, name)."""
    if not text:
        raise _Invalid("source name is empty")
    parts = text.split("/")
    if len(parts) > 2:
        raise _Invalid(f"source {quoted(text)} must be NAME or NAMESPACE/NAME (one '/' at most)")
    if len(parts) == 2:
        namespace, name = parts
        if not namespace or not name:
            raise _Invalid(f"source {quoted(text)} has an empty namespace or name")
        return _check_source("namespace", namespace), _check_source("name", name)
    return None, _check_source("name", text)


# What a source's name and namespace must be: the check and the rule, for the message.
_SOURCE_PARTS: dict[str, tuple[Callable[[str], bool], str]] = {
    "name": (
        names.is_dns_subdomain,
        "a valid object name (lowercase letters, digits, '-' and '.', at most 253 characters)",
    ),
    "namespace": (
        names.is_dns_label,
        "a valid namespace name (lowercase letters, digits and '-', at most 63 characters)",
    ),
}


def _check_source(part: str, text: str) -> str:
    """``text`` when it is a valid source ``name`` or ``namespace``; else InvalidAnnotation."""
    valid, rule = _SOURCE_PARTS[part]
    if not valid(text):
        raise _Invalid(f"source {part} {quoted(text)} is not {rule}")
    return text


def _check_resource(resource: str) -> str:
    if not resource:
        raise _Invalid("resource is empty")
    if "/" in resource:
        raise _Invalid(f"resource {quoted(resource)}: subresources are not supported")
    if not names.is_resource_name(resource):
        raise _Invalid(
            f"resource {quoted(resource)} is not a resource name "
            "(e.g. 'secrets', 'Secret', 'deployments.apps')"
        )
    return resource


def _src_path(text: str) -> FieldPath:
    if not text:
        raise _Invalid("source path is empty (e.g. 'data' or 'spec')")
    try:
        return parse_path(text)
    except PathError as exc:
        raise _Invalid(f"source path: {exc}") from None


# Destinations that identify the object or belong to the API server: writing them would
# break the target or be silently dropped. A destination overlapping one is refused.
_PROTECTED: tuple[FieldPath, ...] = tuple(
    tuple(Key(part) for part in dotted.split("."))
    for dotted in (
        "apiVersion",
        "kind",
        "status",
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
        "metadata.resourceVersion",
        "metadata.generation",
        "metadata.creationTimestamp",
        "metadata.deletionTimestamp",
        "metadata.deletionGracePeriodSeconds",
        "metadata.managedFields",
        "metadata.selfLink",
    )
)
_ANNOTATIONS: FieldPath = (Key("metadata"), Key("annotations"))
_SPEC: FieldPath = (Key("spec"),)


def _dest_path(text: str, *, plain: bool) -> FieldPath:
    """Parse and vet a destination path."""
    if not text:
        raise _Invalid("destination path is empty")
    try:
        dest = parse_plain_path(text) if plain else parse_path(text)
    except PathError as exc:
        raise _Invalid(f"destination path: {exc}") from None
    ids = _ids(dest)
    for protected, protected_ids in _PROTECTED_IDS:
        if _ids_overlap(ids, protected_ids):
            raise _Invalid(
                f"destination {quoted(format_path(dest))} would overwrite "
                f"{format_path(protected)}, which must not be written"
            )
    if dest == _SPEC:
        raise _Invalid(
            "destination 'spec' would replace the whole spec (placement and overrides "
            "included); name a path inside it, e.g. spec.template.data"
        )
    if _is_prefix(dest, _ANNOTATIONS):
        raise _Invalid(
            f"destination {quoted(format_path(dest))} would replace all annotations, "
            "including the copy annotations themselves"
        )
    if len(dest) > len(_ANNOTATIONS) and _is_prefix(_ANNOTATIONS, dest):
        written = dest[len(_ANNOTATIONS)]
        if isinstance(written, Key) and _is_copy_annotation(written.name):
            raise _Invalid("a rule must not write the copy annotations themselves")
    return dest


def has_copy_rules(annotations: Mapping[str, Any]) -> bool:
    """Whether an object's annotations ask for any copy (seed keys or the rule list)."""
    return any(k.startswith(SEED_PREFIX) or k == RULES_ANNOTATION for k in annotations)


def _is_copy_annotation(key: str) -> bool:
    return key.startswith(SEED_PREFIX) or key in (RULES_ANNOTATION, CROSS_NS_ANNOTATION)


# --------------------------------------------------------------------------- rule list


def _parse_rule_list(text: str) -> list[Rule | RuleError]:
    """The ``synchub.io/copy`` annotation: a JSON or YAML list of rule items."""
    try:
        loaded = _load_yaml(text)
    except _Invalid as exc:
        return [RuleError(INVALID, str(exc), RULES_ANNOTATION)]
    if not isinstance(loaded, list):
        return [
            RuleError(
                INVALID,
                f"must be a JSON or YAML list of rules, found {type_of(loaded)}",
                RULES_ANNOTATION,
            )
        ]
    results: list[Rule | RuleError] = []
    for index, item in enumerate(loaded):
        origin = f"{RULES_ANNOTATION}[{index}]"
        try:
            results.append(_parse_item(item, origin))
        except _Invalid as exc:
            results.append(RuleError(INVALID, str(exc), origin))
    return results


class _RuleLoader(yamlfile.StrictLoader):
    """The shared strict loader, for rule lists: timestamps stay strings, aliases are refused.

    JSON has no dates; an alias bomb would expand into an enormous value when walked.
    Duplicate keys are refused, as everywhere (hub.core.yamlfile).
    """

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        """Compose a node, refusing an alias."""
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases are not supported", self.get_mark()
            )
        return super().compose_node(parent, index)


_RuleLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _load_yaml(text: str) -> Any:
    if not text.strip():
        raise _Invalid("empty; expected a JSON or YAML list of rules")
    try:
        document = yamlfile.load(text, loader=_RuleLoader, columns=True)
    except Exception:
        # The parser is third-party; whatever else it raises on user text is an invalid
        # annotation.
        raise _Invalid("not valid JSON or YAML") from None
    if isinstance(document, Problem):
        # Only the problem and position: yamlfile never echoes annotation content.
        where = f" ({document.where})" if document.where else ""
        raise _Invalid(f"not valid JSON or YAML: {document.message}{where}")
    return document.value


def _parse_item(item: Any, origin: str) -> Rule:
    if not isinstance(item, dict):
        raise _Invalid(
            f"rule must be a mapping with 'to' and 'from' or 'value', not {type_of(item)}"
        )
    _check_fields(item, _ITEM_FIELDS, "rule")
    if "to" not in item:
        raise _Invalid("'to' (the destination path) is required")
    dest = _dest_path(_string(item["to"], "'to'"), plain=False)
    if "from" in item and "value" in item:
        raise _Invalid("use either 'from' or 'value', not both")
    if "value" in item:
        if "keys" in item:
            raise _Invalid("'keys' applies only with 'from'")
        _check_literal(item["value"], "'value'")
        return Rule(dest, origin, None, (), item["value"], None)
    if "from" not in item:
        raise _Invalid("rule needs 'from' (a source) or 'value' (a literal)")
    source, src_path = _parse_from(item["from"])
    keys = _parse_keys(item["keys"]) if "keys" in item else None
    return Rule(dest, origin, source, src_path, None, keys)


def _parse_from(spec: Any) -> tuple[SourceRef, FieldPath]:
    if not isinstance(spec, dict):
        raise _Invalid(
            f"'from' must be a mapping with resource, name and path, not {type_of(spec)}"
        )
    _check_fields(spec, _FROM_FIELDS, "'from'")
    for required in ("resource", "name", "path"):
        if required not in spec:
            hint = " (e.g. 'data' or 'spec'; the whole object cannot be copied)"
            raise _Invalid(f"'from.{required}' is required{hint if required == 'path' else ''}")
    resource = _check_resource(_string(spec["resource"], "'from.resource'"))
    name = _check_source("name", _string(spec["name"], "'from.name'"))
    namespace = spec.get("namespace")
    if namespace is not None:
        namespace = _check_source("namespace", _string(namespace, "'from.namespace'"))
    src_path = _src_path(_string(spec["path"], "'from.path'"))
    return SourceRef(resource, name, namespace), src_path


def _parse_keys(spec: Any) -> tuple[tuple[str, str], ...]:
    """``[K, ...]`` keeps keys as they are; ``{SRC: DST}`` keeps and renames."""
    if isinstance(spec, list):
        pairs = [(_key_name(k), _key_name(k)) for k in spec]
    elif isinstance(spec, dict):
        pairs = [(_key_name(src), _key_name(dst)) for src, dst in spec.items()]
    else:
        raise _Invalid(f"'keys' must be a list of keys or a mapping, not {type_of(spec)}")
    if not pairs:
        raise _Invalid("'keys' is empty; leave it out to copy the whole value")
    for position in (0, 1):
        names = [pair[position] for pair in pairs]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            which = "listed" if position == 0 else "written"
            raise _Invalid(f"'keys': {', '.join(map(quoted, duplicates))} {which} twice")
    return tuple(pairs)


def _key_name(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _Invalid(f"'keys' entries must be non-empty strings, found {type_of(value)}")
    return value


def _check_fields(mapping: dict[Any, Any], allowed: frozenset[str], what: str) -> None:
    unknown = [k for k in mapping if k not in allowed]
    if unknown:
        names = ", ".join(quoted(str(k)) for k in unknown)
        raise _Invalid(
            f"{what} has unknown field(s) {names} (allowed: {', '.join(sorted(allowed))})"
        )


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"{what} must be a string, not {type_of(value)}")
    return value


def _check_literal(value: Any, what: str, depth: int = 0) -> None:
    """Refuse anything that JSON cannot carry (YAML can: dates, bytes, sets, NaN...)."""
    if depth > _MAX_LITERAL_DEPTH:
        raise _Invalid(f"{what} is nested more than {_MAX_LITERAL_DEPTH} levels deep")
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Invalid(f"{what} contains a non-finite number")
        return
    if isinstance(value, list):
        for element in value:
            _check_literal(element, what, depth + 1)
        return
    if isinstance(value, dict):
        for key, element in value.items():
            if not isinstance(key, str):
                raise _Invalid(f"{what} has a map key that is not a string")
            _check_literal(element, what, depth + 1)
        return
    raise _Invalid(f"{what} contains {type_of(value)}, which JSON cannot represent")


# --------------------------------------------------------------------------- conflicts


def _drop_conflicts(rules: list[Rule]) -> tuple[list[Rule], list[RuleError]]:
    """Drop every rule whose destination equals or contains another's."""
    dropped: set[int] = set()
    errors: list[RuleError] = []
    for i, first in enumerate(rules):
        for j in range(i + 1, len(rules)):
            second = rules[j]
            if _overlaps(first.dest, second.dest):
                dropped.update((i, j))
                errors.append(
                    RuleError(
                        CONFLICT,
                        f"destination {quoted(format_path(first.dest))} overlaps "
                        f"{quoted(format_path(second.dest))} of {second.origin}; "
                        "neither rule applies",
                        first.origin,
                    )
                )
    return [r for i, r in enumerate(rules) if i not in dropped], errors


def _overlaps(a: FieldPath, b: FieldPath) -> bool:
    return _ids_overlap(_ids(a), _ids(b))


def _ids_overlap(a: tuple[tuple[str, str], ...], b: tuple[tuple[str, str], ...]) -> bool:
    """One path (as segment ids) addresses the other or one of its ancestors."""
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def _is_prefix(prefix: FieldPath, path: FieldPath) -> bool:
    """True when ``prefix`` addresses ``path`` or one of its ancestors."""
    return len(prefix) <= len(path) and _ids(prefix) == _ids(path[: len(prefix)])


def _ids(path: FieldPath) -> tuple[tuple[str, str], ...]:
    return tuple(_segment_id(seg) for seg in path)


def _segment_id(seg: Segment) -> tuple[str, str]:
    # `items.0` and `items[0]` reach the same place when `items` is a list: treat as equal.
    if isinstance(seg, Index):
        return ("index", str(seg.index))
    if seg.name.isascii() and seg.name.isdigit():
        return ("index", seg.name.lstrip("0") or "0")
    return ("key", seg.name)


#: Each protected path with its segment ids, computed once (every parse checks them all).
_PROTECTED_IDS = tuple((path, _ids(path)) for path in _PROTECTED)


# --------------------------------------------------------------------------- resolve/apply


def resolve(rule: Rule, source_obj: Any) -> Resolved | ResolveError:
    """Compute the value a rule writes, from the live source object.

    Literal rules ignore ``source_obj``. The value is a deep copy, so the caller may embed
    it in a new object without aliasing a cached source.
    """
    if rule.source is None:
        return Resolved(copy.deepcopy(rule.literal))
    try:
        value = get_path(source_obj, rule.src_path)
    except PathNotFound as exc:
        return ResolveError("PathNotFound", f"source {rule.source}: {exc}", rule.origin)
    if rule.keys is not None:
        if not isinstance(value, dict):
            return ResolveError(
                "PathNotFound",
                f"source {rule.source}: {quoted(format_path(rule.src_path))} is {type_of(value)}, "
                "but 'keys' needs a map",
                rule.origin,
            )
        missing = [src for src, _ in rule.keys if src not in value]
        if missing:
            return ResolveError(
                "PathNotFound",
                f"source {rule.source}: key(s) {', '.join(map(quoted, missing))} not found "
                f"under {quoted(format_path(rule.src_path))}",
                rule.origin,
            )
        value = {dst: value[src] for src, dst in rule.keys}
    return Resolved(copy.deepcopy(value))


def apply_values(target: Any, pairs: Iterable[tuple[FieldPath, Any]]) -> Any:
    """Return a copy of ``target`` with each value written at its path (``None`` removes).

    ``target`` is not mutated. Raises :class:`hub.core.paths.PathSetError` when the target's
    shape does not allow a write (e.g. the path runs through a string).
    """
    result = target
    for path, value in pairs:
        result = delete_path(result, path) if value is None else set_path(result, path, value)
    return result


def needs_write(target: Any, pairs: Iterable[tuple[FieldPath, Any]]) -> bool:
    """True when applying ``pairs`` would change ``target`` (see :func:`values_equal`)."""
    return any(_differs(target, path, value) for path, value in pairs)


def _differs(target: Any, path: FieldPath, value: Any) -> bool:
    try:
        current = get_path(target, path)
    except PathNotFound:
        return value is not None
    if value is None:
        # A null field and a missing one are the same to the API server.
        return current is not None
    return not values_equal(current, value)


def values_equal(a: Any, b: Any) -> bool:
    """Deep equality as JSON means it: ``1 == 1.0``, but ``True`` never equals ``1``.

    Map key order does not matter; lists and tuples compare element by element.
    """
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        # NaN never comes from JSON, but equal NaNs must not cause a write on every pass.
        return a == b or (_is_nan(a) and _is_nan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float | dict | list | tuple) or isinstance(
        b, int | float | dict | list | tuple
    ):
        return False
    return bool(a == b)


def _is_nan(x: int | float) -> bool:
    return isinstance(x, float) and math.isnan(x)


def cross_namespace_denied(
    policy: str, target_namespace: str, source_namespace: str, source_obj: Mapping[str, Any]
) -> str:
    """Why copying from ``source_namespace`` into ``target_namespace`` is refused, or "".

    Policies (``copy.crossNamespace``): ``deny``, ``allow``, and ``source-opt-in`` where the
    source must list the target namespace (or ``*``) in :data:`CROSS_NS_ANNOTATION`.
    """
    if not source_namespace or source_namespace == target_namespace or policy == "allow":
        return ""
    if policy == "deny":
        return f"copying from namespace {source_namespace} is denied (copy.crossNamespace: deny)"
    allowed = {n.strip() for n in objects.annotation(source_obj, CROSS_NS_ANNOTATION).split(",")}
    if "*" in allowed or target_namespace in allowed:
        return ""
    return (
        f"the source in namespace {source_namespace} does not allow namespace "
        f"{target_namespace} (annotation {CROSS_NS_ANNOTATION})"
    )
