"""Resource types as discovery reports them, and kubectl-style resolution of user names.

Pure: turning ``secret``, ``Secret``, ``deployments.apps`` or ``deployments.v1.apps`` into one
:class:`ResourceInfo` out of a discovered list.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hub.core.errors import ResourceNameError


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    """One resource type an API server serves, as discovery describes it."""

    group: str
    version: str
    resource: str  # plural, e.g. "deployments"
    kind: str
    namespaced: bool
    singular: str = ""
    verbs: frozenset[str] = frozenset()
    has_status: bool = False
    preferred: bool = True  # the group's preferred version

    @property
    def api_version(self) -> str:
        """``group/version``, or just ``version`` for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    def __str__(self) -> str:
        return f"{self.resource}.{self.version}.{self.group}" if self.group else self.resource

    def path(self, namespace: str = "", name: str = "", subresource: str = "") -> str:
        """The REST path of the collection or of one object (namespace "" = all/cluster)."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.resource}"
        if name:
            base += f"/{name}"
            if subresource:
                base += f"/{subresource}"
        return base


@dataclass(frozen=True, slots=True)
class ResourceQuery:
    """One reading of a user's resource string."""

    name: str
    group: str | None = None  # None: any group
    version: str | None = None  # None: the preferred version


def parse_resource_name(text: str) -> tuple[ResourceQuery, ...]:
    """Readings of ``RESOURCE[[.VERSION].GROUP]`` in the order kubectl tries them.

    ``a.b.c`` is first ``resource.version.group``, then ``resource.group`` with a dotted group
    (``helmreleases.helm.toolkit.fluxcd.io``).
    """
    value = text.strip()
    if not value or any(c in value for c in "/: \t") or value.startswith(".") or ".." in value:
        raise ResourceNameError(f"{text!r} is not a resource name")
    if value.endswith("."):
        raise ResourceNameError(f"{text!r} is not a resource name")
    name, _, rest = value.partition(".")
    if not rest:
        return (ResourceQuery(name.lower()),)
    readings = []
    version, _, group = rest.partition(".")
    if group:
        readings.append(ResourceQuery(name.lower(), group.lower(), version.lower()))
    readings.append(ResourceQuery(name.lower(), rest.lower()))
    return tuple(readings)


def _matches(query: ResourceQuery, info: ResourceInfo) -> bool:
    if "/" in info.resource:  # a subresource such as deployments/scale (kind Scale)
        return False
    if query.group is not None and info.group != query.group:
        return False
    if query.version is not None:
        if info.version != query.version:
            return False
    elif not info.preferred:
        return False
    return query.name in (info.resource, info.singular, info.kind.lower())


def resolve_resource(text: str, resources: Sequence[ResourceInfo]) -> ResourceInfo | None:
    """The resource a user's string names, or None. Subresources never match.

    When several groups serve the name (``events``), the first in discovery order wins, as in
    kubectl, where the core group comes first.
    """
    for query in parse_resource_name(text):
        for info in resources:
            if _matches(query, info):
                return info
    return None


def by_kind(
    resources: Iterable[ResourceInfo], group: str, kind: str, version: str | None = None
) -> list[ResourceInfo]:
    """Resources of a group serving a kind: the given version, else the preferred one."""
    found = []
    for info in resources:
        if info.group != group or info.kind != kind:
            continue
        if version is not None and info.version != version:
            continue
        if version is None and not info.preferred:
            continue
        found.append(info)
    return found
