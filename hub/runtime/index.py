"""Two-way index from source keys to the target keys that depend on them.

A target (a ``Federated*`` object with copy rules) depends on a set of sources (the objects
its rules copy from). When a source changes, :meth:`DependencyIndex.dependents` says which
targets to re-queue; when a target's rules change, :meth:`DependencyIndex.set_sources`
replaces its whole dependency set at once.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, KeysView
from typing import Generic, TypeVar

__all__ = ["DependencyIndex"]

S = TypeVar("S", bound=Hashable)
T = TypeVar("T", bound=Hashable)


class DependencyIndex(Generic[S, T]):
    """Maps each source to its dependent targets and each target to its sources.

    Both directions always agree, and no key maps to an empty set: a source without
    dependents and a target without sources are absent. Several rules naming the same
    (source, target) pair collapse into one edge.
    """

    def __init__(self) -> None:
        # Most sources have one dependent and most targets one source, and a set of one
        # costs 216 bytes: a lone dependent is kept bare, a target's sources as a tuple
        # (docs/configuration.md, "Memory").
        self._targets_by_source: dict[S, T | set[T]] = {}
        self._sources_by_target: dict[T, tuple[S, ...]] = {}

    def __len__(self) -> int:
        """Number of targets that depend on at least one source."""
        return len(self._sources_by_target)

    def set_sources(self, target: T, sources: Iterable[S]) -> frozenset[S]:
        """Replace ``target``'s dependencies with ``sources`` (empty removes the target).

        Returns the sources that had no dependents before this call, so the caller can
        start watching a source kind the first time anything references it.
        """
        new = frozenset(sources)
        old = frozenset(self._sources_by_target.get(target, ()))
        for source in old - new:
            self._unlink(source, target)
        first_seen = [source for source in new - old if self._link(source, target)]
        if new:
            self._sources_by_target[target] = tuple(new)
        else:
            self._sources_by_target.pop(target, None)
        return frozenset(first_seen)

    def remove_target(self, target: T) -> None:
        """Forget ``target`` and all its dependencies (the object was deleted)."""
        self.set_sources(target, ())

    def dependents(self, source: S) -> frozenset[T]:
        """Targets that depend on ``source``."""
        if source not in self._targets_by_source:
            return frozenset()
        dependents = self._targets_by_source[source]
        return frozenset(dependents) if isinstance(dependents, set) else frozenset((dependents,))

    def sources(self) -> KeysView[S]:
        """Live read-only view of every source some target depends on."""
        return self._targets_by_source.keys()

    def _link(self, source: S, target: T) -> bool:
        """Add the edge; True when ``source`` had no dependents before."""
        if source not in self._targets_by_source:
            self._targets_by_source[source] = target
            return True
        dependents = self._targets_by_source[source]
        if isinstance(dependents, set):
            dependents.add(target)
        elif dependents != target:
            self._targets_by_source[source] = {dependents, target}
        return False

    def _unlink(self, source: S, target: T) -> None:
        dependents = self._targets_by_source[source]
        if not isinstance(dependents, set):
            del self._targets_by_source[source]
            return
        dependents.discard(target)
        if len(dependents) == 1:
            self._targets_by_source[source] = next(iter(dependents))
