"""Copy-rule resolution against looked-up sources: the one path for the hub and ``render``.

The copy controller passes a lookup into its watch caches; ``synchub render`` passes the
objects it read live from the master. Both get the same values, problems (reason and text)
and source references, so ``render`` shows exactly what the hub would write.

Inputs are plain values: the target object, its parsed rules, the resolved scope of each
source resource name (:func:`source_resources` lists the names), and a lookup from a
source reference to the object or an :class:`Unreadable` marker (not found, forbidden, or
still loading).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from hub.core import copy_rules, objects
from hub.core.errors import UnknownResource
from hub.core.objects import Obj, ObjectRef
from hub.core.problems import Problem

DEFAULT_NAMESPACE = "default"


class Scope(Protocol):
    """What resolution needs to know of a resource type (``ResourceInfo`` fits)."""

    @property
    def group(self) -> str:
        """The API group ("" for the core group)."""

    @property
    def resource(self) -> str:
        """The plural resource name."""

    @property
    def namespaced(self) -> bool:
        """Objects of this type live in a namespace."""


@dataclass(frozen=True)
class Unreadable:
    """A lookup's answer when it has no object to give."""

    why: Literal["not-found", "forbidden", "pending"]
    detail: str = ""
    """For ``forbidden``: the API server's message."""


NOT_FOUND = Unreadable("not-found")
PENDING = Unreadable("pending")  # the hub's cache of the source has not synced yet


def forbidden(detail: str) -> Unreadable:
    """The source cannot be read: the API server answered 403 with ``detail``."""
    return Unreadable("forbidden", detail)


#: A source reference to the object, or why there is none.
Lookup = Callable[[ObjectRef], Obj | Unreadable]

#: A resource name as a rule writes it, resolved to its scope or to the error resolving it.
Scopes = Mapping[str, Scope | Exception]


@dataclass
class Resolution:
    """What resolving one target's rules found."""

    pairs: list[tuple[Any, Any]] = field(default_factory=list)
    """(destination path, value) to write, in rule order."""
    problems: list[Problem] = field(default_factory=list)
    """Rules that could not be used, parse errors first."""
    sources: set[ObjectRef] = field(default_factory=set)
    """Every source object the rules name (the hub re-queues the target when one changes)."""
    waiting: bool = False
    """Some source is still loading: judge again once it has."""
    unknown_resource: bool = False
    """Some source names a resource type the cluster does not serve (yet)."""


def placed_namespace(obj: Obj, namespaced: bool) -> str:
    """The namespace the API server gives ``obj``.

    Its own, ``default`` if it names none (kubectl's default for a namespaced object), ""
    for a cluster-scoped type.
    """
    if not namespaced:
        return ""
    return objects.namespace(obj) or DEFAULT_NAMESPACE


def source_resources(parsed: copy_rules.ParsedRules) -> set[str]:
    """The resource names the rules read from, to resolve into :data:`Scopes`."""
    return {rule.source.resource for rule in parsed.rules if rule.source is not None}


def source_ref(
    cluster: str, target_namespace: str, source: copy_rules.SourceRef, scope: Scope
) -> ObjectRef:
    """The object a rule reads: a namespaced source defaults to the target's namespace."""
    namespace = (source.namespace or target_namespace) if scope.namespaced else ""
    return ObjectRef(cluster, scope.group, scope.resource, namespace, source.name)


def source_refs(
    cluster: str, target_namespace: str, parsed: copy_rules.ParsedRules, scopes: Scopes
) -> set[ObjectRef]:
    """Every object the rules read whose resource resolved (what ``render`` fetches)."""
    refs = set()
    for rule in parsed.rules:
        if rule.source is not None:
            scope = scopes[rule.source.resource]
            if not isinstance(scope, Exception):
                refs.add(source_ref(cluster, target_namespace, rule.source, scope))
    return refs


def resolve_copies(
    cluster: str,
    target_namespace: str,
    parsed: copy_rules.ParsedRules,
    scopes: Scopes,
    lookup: Lookup,
    *,
    cross_namespace: str,
) -> Resolution:
    """Resolve every rule of one target; never raises for user input."""
    result = Resolution(problems=[Problem(e.reason, str(e)) for e in parsed.errors])
    for rule in parsed.rules:
        if rule.source is None:
            result.pairs.append((rule.dest, rule.literal))
            continue
        value = _source_value(
            cluster, target_namespace, rule, scopes, lookup, cross_namespace, result
        )
        if value is not None:
            result.pairs.append((rule.dest, value.value))
    return result


def _source_value(
    cluster: str,
    target_namespace: str,
    rule: copy_rules.Rule,
    scopes: Scopes,
    lookup: Lookup,
    policy: str,
    result: Resolution,
) -> copy_rules.Resolved | None:
    assert rule.source is not None
    scope = scopes[rule.source.resource]  # callers resolve every name of source_resources()
    if isinstance(scope, Exception):
        result.unknown_resource |= isinstance(scope, UnknownResource)
        result.problems.append(Problem("InvalidAnnotation", f"{rule.origin}: {scope}"))
        return None
    ref = source_ref(cluster, target_namespace, rule.source, scope)
    result.sources.add(ref)
    found = lookup(ref)
    if isinstance(found, Unreadable):
        problem = _unreadable(rule, ref, found)
        if problem is None:
            result.waiting = True
        else:
            result.problems.append(problem)
        return None
    denied = copy_rules.cross_namespace_denied(policy, target_namespace, ref.namespace, found)
    if denied:
        result.problems.append(Problem("CrossNamespaceDenied", f"{rule.origin}: {denied}"))
        return None
    resolved = copy_rules.resolve(rule, found)
    if isinstance(resolved, copy_rules.ResolveError):
        result.problems.append(Problem(resolved.reason, f"{rule.origin}: {resolved.message}"))
        return None
    return resolved


def _unreadable(rule: copy_rules.Rule, ref: ObjectRef, found: Unreadable) -> Problem | None:
    """The problem to report for a source the lookup could not give; None: wait for it."""
    if found.why == "pending":
        return None
    if found.why == "forbidden":
        message = f"cannot read {ref.resource}: forbidden ({found.detail})"
    else:
        where = f"{ref.namespace}/{ref.name}" if ref.namespace else ref.name
        message = f"{ref.resource} {where} not found"
    return Problem("SourceNotFound", f"{rule.origin}: {message}")


def problem_lines(problems: Iterable[Problem]) -> list[str]:
    """``Reason: message`` lines, as ``render`` prints them and the hub's Events carry them."""
    return [f"{p.reason}: {p.message}" for p in problems]
