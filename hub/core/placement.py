"""Select the clusters a Federated object is placed on (KubeFed semantics, docs/federated.md).

Rules, in order:

1. A present cluster list wins and the selector is ignored: ``spec.placement.clusters``
   (``[{name}]``, types.kubefed.io) or ``spec.placement.clusterNames`` (``[name]``,
   types.federation.k8s.io). An empty list selects nothing; names not in the inventory are
   ignored and reported as unknown.
2. Otherwise a missing or null ``clusterSelector`` selects nothing, ``{}`` selects every
   cluster, and anything else is a Kubernetes label selector over cluster labels.

The master is a candidate like any member; the caller gives it ``cluster-master: "true"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hub.core import names
from hub.core.federation import ApiGeneration, api_generation
from hub.core.objects import Obj
from hub.core.problems import Problem

# --- cluster inventory


class FrozenLabels(Mapping[str, str]):
    """An immutable, hashable ``str -> str`` mapping (cluster labels)."""

    __slots__ = ("_data", "_hash")

    def __init__(self, labels: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        self._data: dict[str, str] = dict(labels)
        self._hash: int | None = None

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"FrozenLabels({self._data!r})"


@dataclass(frozen=True, slots=True)
class Cluster:
    """One cluster of the inventory as placement sees it."""

    name: str
    labels: Mapping[str, str] = field(default_factory=FrozenLabels)
    is_master: bool = False

    def __post_init__(self) -> None:
        # Copy into an immutable mapping so the caller's dict can change without affecting us
        # and the dataclass stays hashable.
        if not isinstance(self.labels, FrozenLabels):
            object.__setattr__(self, "labels", FrozenLabels(self.labels))


# --- label selectors


class Operator(StrEnum):
    """Label selector operators, spelled as in Kubernetes."""

    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``key operator values`` term of a label selector."""

    key: str
    operator: Operator
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this term (NotIn matches an absent key, as in Kubernetes)."""
        match self.operator:
            case Operator.IN:
                return self.key in labels and labels[self.key] in self.values
            case Operator.NOT_IN:
                return self.key not in labels or labels[self.key] not in self.values
            case Operator.EXISTS:
                return self.key in labels
            case Operator.DOES_NOT_EXIST:
                return self.key not in labels


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A parsed label selector: the AND of its requirements.

    ``nothing`` is the null selector, which matches no object; a selector with no requirements
    matches every object.
    """

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy every requirement."""
        return not self.nothing and all(r.matches(labels) for r in self.requirements)


class SelectorError(Problem):
    """A malformed label selector (reason ``InvalidSelector``); ``message`` says what and where."""

    __slots__ = ()

    def __init__(self, message: str) -> None:
        super().__init__("InvalidSelector", message)


_OPERATORS = {op.value: op for op in Operator}
_SELECTOR_FIELDS = frozenset({"matchLabels", "matchExpressions"})
_EXPRESSION_FIELDS = frozenset({"key", "operator", "values"})


def _parse_match_labels(raw: object) -> list[Requirement] | SelectorError:
    if not isinstance(raw, Mapping | None):
        return SelectorError("matchLabels must be a map of strings")
    labels = dict(raw or {})
    problems = (
        names.label_key_problem(k) or names.label_value_problem(v) for k, v in labels.items()
    )
    problem = next((p for p in problems if p), None)
    if problem:
        return SelectorError(f"matchLabels: {problem}")
    return [Requirement(k, Operator.IN, frozenset([v])) for k, v in labels.items()]


def _parse_expression(index: int, raw: object) -> Requirement | SelectorError:
    where = f"matchExpressions[{index}]"
    if not isinstance(raw, Mapping):
        return SelectorError(f"{where} must be a map")
    unknown = sorted(str(k) for k in raw if k not in _EXPRESSION_FIELDS)
    if unknown:
        return SelectorError(f"{where} has unknown fields {unknown}")
    key = raw.get("key")
    problem = names.label_key_problem(key)
    if problem:
        return SelectorError(f"{where}: {problem}")
    raw_operator = raw.get("operator")
    operator = _OPERATORS.get(raw_operator) if isinstance(raw_operator, str) else None
    if operator is None:
        allowed = ", ".join(op.value for op in Operator)
        return SelectorError(f"{where}: operator must be one of {allowed}")
    values = _expression_values(operator, raw.get("values"))
    if isinstance(values, str):
        return SelectorError(f"{where}: {values}")
    assert isinstance(key, str)  # checked by names.label_key_problem
    return Requirement(key, operator, frozenset(values))


def _expression_values(operator: Operator, raw: object) -> list[str] | str:
    """The values of one expression, or what is wrong with them."""
    values = [] if raw is None else raw
    if not isinstance(values, list):
        return "values must be a list of strings"
    for value in values:
        problem = names.label_value_problem(value)
        if problem:
            return problem
    if operator in (Operator.IN, Operator.NOT_IN) and not values:
        return f"operator {operator} needs at least one value"
    if operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and values:
        return f"operator {operator} takes no values"
    return values


def _parse_match_expressions(raw: object) -> list[Requirement] | SelectorError:
    if raw is None:
        return []
    if not isinstance(raw, list):
        return SelectorError("matchExpressions must be a list")
    requirements = []
    for index, item in enumerate(raw):
        parsed = _parse_expression(index, item)
        if isinstance(parsed, SelectorError):
            return parsed
        requirements.append(parsed)
    return requirements


#: Parsed selectors by their text: placement parses the same few on every reconcile.
_PARSED: dict[str, LabelSelector | SelectorError] = {}
_PARSED_KEPT = 256


def parse_label_selector(raw: object) -> LabelSelector | SelectorError:
    """Parse a Kubernetes ``LabelSelector`` (``matchLabels`` AND ``matchExpressions``).

    ``None`` gives the selector that matches nothing and ``{}`` the one that matches
    everything (Kubernetes ``LabelSelectorAsSelector``). Unknown fields are rejected: a typo
    such as ``matchLabel`` would otherwise silently widen the selector to everything.
    """
    text = repr(raw)  # JSON data: equal text, equal selector
    parsed = _PARSED.get(text)
    if parsed is None:
        if len(_PARSED) >= _PARSED_KEPT:
            del _PARSED[next(iter(_PARSED))]
        parsed = _PARSED[text] = _parse_label_selector(raw)
    return parsed


def _parse_label_selector(raw: object) -> LabelSelector | SelectorError:
    if raw is None:
        return LabelSelector(nothing=True)
    if not isinstance(raw, Mapping):
        return SelectorError("selector must be a map")
    unknown = sorted(str(k) for k in raw if k not in _SELECTOR_FIELDS)
    if unknown:
        return SelectorError(f"selector has unknown fields {unknown}")
    by_labels = _parse_match_labels(raw.get("matchLabels"))
    if isinstance(by_labels, SelectorError):
        return by_labels
    by_expressions = _parse_match_expressions(raw.get("matchExpressions"))
    if isinstance(by_expressions, SelectorError):
        return by_expressions
    return LabelSelector(tuple(by_labels + by_expressions))


def matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    """Whether ``labels`` satisfy ``selector``."""
    return selector.matches(labels)


# --- placement


@dataclass(frozen=True, slots=True)
class PlacementResult:
    """Selected cluster names in inventory order, plus listed names the inventory lacks."""

    selected: tuple[str, ...]
    unknown: tuple[str, ...] = ()


class PlacementError(Problem):
    """Malformed placement on the Federated object (reason ``InvalidPlacement``)."""

    __slots__ = ()

    def __init__(self, message: str) -> None:
        super().__init__("InvalidPlacement", message)


def _listed_names(generation: ApiGeneration, placement: Mapping[str, Any]) -> list[str] | None:
    """The explicit cluster list, ``None`` when absent or null (then the selector decides).

    Raises ``ValueError`` with a user-facing message when the list is malformed.
    """
    if generation is ApiGeneration.KUBEFED:
        raw = placement.get("clusters")
        if raw is None:
            return None
        if not isinstance(raw, list):
            raise ValueError("spec.placement.clusters must be a list of {name: <cluster>}")
        names = []
        for index, item in enumerate(raw):
            name = item.get("name") if isinstance(item, Mapping) else None
            if not isinstance(name, str):
                raise ValueError(f"spec.placement.clusters[{index}] must be {{name: <cluster>}}")
            names.append(name)
        return names
    raw = placement.get("clusterNames")
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(n, str) for n in raw):
        raise ValueError("spec.placement.clusterNames must be a list of cluster names")
    return list(raw)


def _by_names(names: list[str], clusters: Sequence[Cluster]) -> PlacementResult:
    wanted = set(names)
    known = {c.name for c in clusters}
    selected = tuple(c.name for c in clusters if c.name in wanted)
    unknown = tuple(dict.fromkeys(n for n in names if n not in known))
    return PlacementResult(selected, unknown)


def select_clusters(
    federated_obj: Obj, clusters: Sequence[Cluster]
) -> PlacementResult | PlacementError:
    """Return the clusters a Federated object is placed on, in the order of ``clusters``.

    The placement field names depend on the object's API generation (its apiVersion group).
    A malformed placement is returned as a ``PlacementError`` rather than raised.
    """
    try:
        generation = api_generation(str(federated_obj.get("apiVersion", "")))
    except ValueError as err:
        return PlacementError(str(err))
    spec = federated_obj.get("spec")
    if spec is None:
        return PlacementResult(())
    if not isinstance(spec, Mapping):
        return PlacementError("spec must be a map")
    placement = spec.get("placement")
    if placement is None:
        return PlacementResult(())
    if not isinstance(placement, Mapping):
        return PlacementError("spec.placement must be a map")

    try:
        names = _listed_names(generation, placement)
    except ValueError as err:
        return PlacementError(str(err))
    if names is not None:
        return _by_names(names, clusters)

    selector = parse_label_selector(placement.get("clusterSelector"))
    if isinstance(selector, SelectorError):
        return PlacementError(f"spec.placement.clusterSelector: {selector.message}")
    return PlacementResult(tuple(c.name for c in clusters if selector.matches(c.labels)))
