"""API discovery for one cluster: which resources it serves, refreshed when a name is missing.

Uses aggregated discovery (two requests) where the server offers it, else the classic
per-group-version walk. A group version that fails to answer (a broken aggregated API) is
left out and logged; the rest stays usable.

Lookups answer from a :class:`ResourceIndex` (kind → resources, per group and across groups,
and every name already resolved), rebuilt only when a refresh finds the served resources
changed: a reconcile asking which resource serves a kind costs a dictionary lookup, not a
scan of every resource the server serves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

from hub.core import objects
from hub.core.errors import KubeError, ResourceNameError, UnknownResource
from hub.kube.client import ClusterClient
from hub.kube.resources import ResourceInfo, by_kind, resolve_resource

log = logging.getLogger(__name__)

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
REFRESH_MIN_INTERVAL = 1.0  # seconds: a burst of unknown names causes one re-discovery


class ResourceIndex:
    """The resources of one discovery, indexed by kind; names resolved once, then remembered."""

    def __init__(self, resources: tuple[ResourceInfo, ...] = ()) -> None:
        self.resources = resources
        self._by_group_kind: dict[tuple[str, str], list[ResourceInfo]] = {}
        self._preferred_by_kind: dict[str, list[ResourceInfo]] = {}
        for info in resources:
            self._by_group_kind.setdefault((info.group, info.kind), []).append(info)
            if info.preferred:
                self._preferred_by_kind.setdefault(info.kind, []).append(info)
        self._resolved: dict[str, ResourceInfo | None] = {}

    def by_kind(self, group: str, kind: str, version: str | None = None) -> list[ResourceInfo]:
        """Like :func:`hub.kube.resources.by_kind` over :attr:`resources`, in O(1)."""
        return by_kind(self._by_group_kind.get((group, kind), ()), group, kind, version)

    def preferred(self, kind: str) -> list[ResourceInfo]:
        """The preferred version of every group serving ``kind``, in discovery order."""
        return list(self._preferred_by_kind.get(kind, ()))

    def resolve(self, name: str) -> ResourceInfo | None:
        """:func:`hub.kube.resources.resolve_resource`, remembered per name."""
        if name not in self._resolved:
            self._resolved[name] = resolve_resource(name, self.resources)
        return self._resolved[name]


class Discovery:
    """Cached discovery of one cluster."""

    def __init__(self, client: ClusterClient) -> None:
        self.client = client
        self._index = ResourceIndex()
        self._groups: frozenset[str] = frozenset()
        self._refreshed_at = -1e9
        self._lock = asyncio.Lock()
        self.failed: tuple[str, ...] = ()  # group versions that did not answer last time

    @property
    def resources(self) -> tuple[ResourceInfo, ...]:
        """Every resource type found by the last refresh."""
        return self._index.resources

    def serves_group(self, group: str) -> bool:
        """Whether the server serves any version of API group ``group``."""
        return group in self._groups

    async def refresh(self) -> None:
        """Read the server's API groups and resources again (one refresh at a time)."""
        async with self._lock:
            started = time.monotonic()
            resources, groups, failed = await self._discover()
            if resources != self._index.resources:
                self._index = ResourceIndex(resources)
            self._groups, self.failed = groups, failed
            self._refreshed_at = started
            for gv in failed:
                log.warning("cluster %s: discovery of %s failed; skipping it", self.client.name, gv)

    async def ensure(self) -> None:
        """Refresh once if nothing has been discovered yet."""
        if not self._index.resources:
            await self.refresh()

    async def resolve(self, name: str) -> ResourceInfo:
        """kubectl-style name resolution; an unknown name triggers one re-discovery."""
        await self.ensure()
        info = self._index.resolve(name)
        if info is None and await self._maybe_refresh():
            info = self._index.resolve(name)
        if info is None:
            raise UnknownResource(self.client.name, name)
        return info

    async def resolve_all(
        self, names: Iterable[str]
    ) -> dict[str, ResourceInfo | UnknownResource | ResourceNameError]:
        """:meth:`resolve` each name; a name that resolves to nothing maps to its error."""
        found: dict[str, ResourceInfo | UnknownResource | ResourceNameError] = {}
        for name in names:
            try:
                found[name] = await self.resolve(name)
            except (UnknownResource, ResourceNameError) as exc:
                found[name] = exc
        return found

    async def for_target(self, api_version: str | None, kind: str) -> ResourceInfo:
        """The resource a rendered copy of ``kind`` is written as on this cluster.

        The one choice of the target apiVersion: the template's explicit ``apiVersion``
        (group/version) when it has one, else the kind's preferred version in whichever
        group serves it.
        """
        if api_version:
            group, _, version = api_version.rpartition("/")
            return await self.for_kind(group, kind, version)
        return await self.for_kind_any_group(kind)

    async def for_kind(self, group: str, kind: str, version: str | None = None) -> ResourceInfo:
        """The resource for ``kind`` in ``group`` (preferred version unless ``version``)."""
        await self.ensure()
        found = self._index.by_kind(group, kind, version)
        if not found and await self._maybe_refresh():
            found = self._index.by_kind(group, kind, version)
        if not found:
            where = f"{group}/{version}" if version else group or "core"
            raise UnknownResource(self.client.name, f"{kind} ({where})")
        return found[0]

    async def for_kind_any_group(self, kind: str) -> ResourceInfo:
        """The one resource serving ``kind`` in its preferred version, whatever its group.

        Several groups serving it is an error, since the hub cannot guess which one is meant.
        """
        await self.ensure()
        found = self._index.preferred(kind)
        if not found and await self._maybe_refresh():
            found = self._index.preferred(kind)
        if not found:
            raise UnknownResource(self.client.name, kind)
        if len(found) > 1:
            groups = ", ".join(sorted(i.group or "core" for i in found))
            raise ValueError(
                f"kind {kind} is served by several groups ({groups}); "
                "set apiVersion in spec.template"
            )
        return found[0]

    async def _maybe_refresh(self) -> bool:
        if time.monotonic() - self._refreshed_at < REFRESH_MIN_INTERVAL:
            return False
        await self.refresh()
        return True

    async def _discover(
        self,
    ) -> tuple[tuple[ResourceInfo, ...], frozenset[str], tuple[str, ...]]:
        core = await self.client.request("GET", "/api", accept=AGGREGATED)
        apis = await self.client.request("GET", "/apis", accept=AGGREGATED)
        if _is_aggregated(core) and _is_aggregated(apis):
            resources, failed = _from_aggregated(core, ""), []
            more, stale = _from_aggregated_groups(apis)
            resources += more
            failed += stale
        else:
            resources, failed = await self._discover_legacy(apis)
        groups = frozenset(info.group for info in resources)
        return tuple(resources), groups, tuple(failed)

    async def _discover_legacy(self, apis: Any) -> tuple[list[ResourceInfo], list[str]]:
        group_versions = [("", "v1", True)]
        for group in (apis or {}).get("groups") or []:
            preferred = (group.get("preferredVersion") or {}).get("version")
            for version in group.get("versions") or []:
                group_versions.append(
                    (group["name"], version["version"], version["version"] == preferred)
                )

        async def fetch(group: str, version: str) -> Any:
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            return await self.client.request("GET", path)

        answers = await asyncio.gather(
            *(fetch(g, v) for g, v, _ in group_versions), return_exceptions=True
        )
        resources: list[ResourceInfo] = []
        failed: list[str] = []
        for (group, version, preferred), answer in zip(group_versions, answers, strict=True):
            if isinstance(answer, BaseException):
                if not isinstance(answer, KubeError):
                    raise answer
                failed.append(f"{group}/{version}" if group else version)
                continue
            resources += _from_resource_list(answer, group, version, preferred)
        return resources, failed


def _is_aggregated(document: Any) -> bool:
    return isinstance(document, dict) and document.get("kind") == "APIGroupDiscoveryList"


def _from_aggregated_groups(document: Any) -> tuple[list[ResourceInfo], list[str]]:
    resources: list[ResourceInfo] = []
    stale: list[str] = []
    for group in document.get("items") or []:
        name = objects.name(group)
        resources += _from_aggregated({"items": [group]}, name)
        stale += [
            f"{name}/{v.get('version')}"
            for v in group.get("versions") or []
            if v.get("freshness") == "Stale"
        ]
    return resources, stale


def _from_aggregated(document: Any, group_name: str) -> list[ResourceInfo]:
    found: list[ResourceInfo] = []
    for group in document.get("items") or []:
        name = objects.name(group) or group_name
        for index, version in enumerate(group.get("versions") or []):
            if version.get("freshness") == "Stale":
                continue
            for res in version.get("resources") or []:
                kind = (res.get("responseKind") or {}).get("kind", "")
                subresources = {s.get("subresource") for s in res.get("subresources") or []}
                found.append(
                    ResourceInfo(
                        group=name,
                        version=version.get("version", ""),
                        resource=res.get("resource", ""),
                        kind=kind,
                        namespaced=res.get("scope") == "Namespaced",
                        singular=res.get("singularResource") or kind.lower(),
                        verbs=frozenset(res.get("verbs") or ()),
                        has_status="status" in subresources,
                        preferred=index == 0,  # versions are listed preferred first
                    )
                )
    return found


def _from_resource_list(
    document: Any, group: str, version: str, preferred: bool
) -> list[ResourceInfo]:
    items = (document or {}).get("resources") or []
    subresources = {r["name"] for r in items if "/" in r.get("name", "")}
    return [
        ResourceInfo(
            group=group,
            version=version,
            resource=r["name"],
            kind=r.get("kind", ""),
            namespaced=bool(r.get("namespaced")),
            singular=r.get("singularName") or r.get("kind", "").lower(),
            verbs=frozenset(r.get("verbs") or ()),
            has_status=f"{r['name']}/status" in subresources,
            preferred=preferred,
        )
        for r in items
        if "/" not in r.get("name", "")
    ]
