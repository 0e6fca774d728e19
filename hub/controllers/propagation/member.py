"""Per-member work of direct propagation: place, correct, remove or orphan one copy.

Member caches hold only objects labelled ``synchub.io/managed=true``, so the hub knows what
it owns without listing everything. Writes happen only when the desired hash changed or the
live object drifted (see :mod:`.drift`). Nothing is ever deleted because a list failed:
deletions come from one Federated object's placement against a synced cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from hub.controllers.propagation.drift import (
    Clock,
    DriftTracker,
    FightDetector,
    resource_version,
)
from hub.controllers.propagation.report import ClusterResult
from hub.core import objects
from hub.core.errors import (
    Conflict,
    Invalid,
    KubeError,
    NotFound,
    UnknownResource,
    brief,
)
from hub.core.federation import (
    ADOPT_ANNOTATION,
    FIELD_MANAGER,
    HASH_ANNOTATION,
    MANAGED_LABEL,
    ON_IMMUTABLE_ANNOTATION,
    ON_IMMUTABLE_RECREATE,
    ORIGIN_ANNOTATION,
    STRATEGY_ANNOTATION,
    STRATEGY_REPLACE,
    UPDATE_MODE_ANNOTATION,
    UPDATE_MODE_CREATE_ONLY,
    ClusterStatus,
    annotation_is_true,
)
from hub.core.objects import Obj, ObjectRef
from hub.core.overrides import overrides_none
from hub.core.render import Rendered, RenderError, render, target_api_version
from hub.kube.resources import ResourceInfo
from hub.kube.slim import slim
from hub.kube.watch import EventType
from hub.runtime.caches import CacheSet, Handler
from hub.runtime.inventory import Inventory, MemberState
from hub.runtime.wiring import Collaborators
from hub.runtime.writer import MemberWriters, Writer, WrittenVersions

log = logging.getLogger(__name__)

FIGHT_RECHECK = 0.1  # seconds after a fight's quiet period before looking again
CACHE_SYNC_WAIT = 1.0  # seconds a lane waits for a member cache it just started


@dataclass(frozen=True)
class Hooks:
    """How member work reaches back into its controller (given at construction)."""

    on_event: Handler
    """A managed copy changed on a member."""
    on_synced: Callable[[], None]
    """A member cache synced: look at every Federated object again."""
    requeue_after: Callable[[ObjectRef, float], None]
    """Look at a Federated object again after a delay."""
    is_copy_source: Callable[[ObjectRef], bool]
    """Some copy rule reads this object (it is never written)."""
    adopts: Callable[[], bool] = lambda: False
    """Adopt unmanaged objects by default (a KubeFedConfig with adoptResources: Enabled)."""


class Members:
    """Caches, writers and drift records per member; the work on one member for one object."""

    def __init__(
        self, deps: Collaborators, inventory: Inventory, hooks: Hooks, clock: Clock
    ) -> None:
        self.config = deps.config
        self.inventory = inventory
        self.writers = deps.writers
        self.supervisor = deps.supervisor
        self.metrics = deps.metrics
        self.hooks = hooks
        self.master = inventory.master_name
        self.caches: dict[str, CacheSet] = {}
        self._writers = MemberWriters(deps.writers)
        self.drift: DriftTracker[tuple[str, ObjectRef]] = DriftTracker()
        self.fights: FightDetector[tuple[str, ObjectRef]] = FightDetector(clock)
        #: (cluster, namespace) known to exist: written into once already.
        self._namespaces: set[tuple[str, str]] = set()
        #: One first write per unknown (cluster, namespace) at a time, so a missing namespace
        #: is created once, not by every worker that meets it (docs/propagation.md).
        self._namespace_locks: dict[tuple[str, str], asyncio.Lock] = {}
        self.echoes = Echoes(hooks.on_event, deps.writers.recent)
        self._last_rendered: tuple[tuple[ObjectRef, str, str], Rendered] | None = None

    def forget(self, key: ObjectRef) -> None:
        """The Federated object is gone: drop what was recorded about its copies."""
        for cluster in self.inventory.states:  # by key, not a scan of every object's records
            self.drift.forget((cluster, key))
            self.fights.forget((cluster, key))

    # --- placing ---------------------------------------------------------------------------

    async def sync(
        self,
        key: ObjectRef,
        fed: Obj,
        kind: str,
        state: MemberState,
        selected: bool,
        *,
        force: bool = False,
    ) -> ClusterResult | None:
        """Bring one cluster in line for one Federated object; None when it holds nothing.

        ``force`` (a new ``synchub.io/reconcile-at``) applies even when the hash matches.
        """
        name = state.name
        if not state.ready or state.discovery is None:
            return ClusterResult(name, state.problem, state.message) if selected else None
        try:
            info = await self.member_info(state, fed, kind)
        except (UnknownResource, ValueError) as exc:
            return ClusterResult(name, ClusterStatus.APPLY_FAILED, str(exc)) if selected else None
        cache = self.cache(state).ensure(info)
        if not cache.synced.is_set():
            # A fresh cache syncs in moments: wait a little rather than report "syncing"
            # (a status write of its own); else queued again when it has synced (cache()).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(cache.synced.wait(), CACHE_SYNC_WAIT)
        if not cache.synced.is_set():
            return (
                ClusterResult(name, ClusterStatus.CLUSTER_NOT_READY, "syncing", transient=True)
                if selected
                else None
            )
        live = self._just_written(name, info, key) or cache.get(key.namespace, key.name)
        ours = live is not None and origin(live) == self.origin(key, fed)
        try:
            if selected:
                foreign = live is not None and not ours
                return await self._place(
                    key, fed, state, info, live if ours else None, force, foreign=foreign
                )
            if ours and await self.writer(state).delete(info, key.namespace, key.name):
                self.drift.forget((name, key))
                log.info(
                    "propagation: removed %s from %s (no longer placed there)",
                    key,
                    name,
                    extra=fields(name, key, info.kind),
                )
            return None
        except NotFound:
            return None
        except KubeError as exc:
            if self.inventory.mark_failed(name, exc):  # a cluster-level cause, classed once
                return ClusterResult(name, state.problem, state.message) if selected else None
            status = ClusterStatus.APPLY_FAILED if selected else ClusterStatus.DELETION_FAILED
            return ClusterResult(name, status, brief(exc))

    async def _place(
        self,
        key: ObjectRef,
        fed: Obj,
        state: MemberState,
        info: ResourceInfo,
        live: Obj | None,
        force: bool,
        *,
        foreign: bool = False,
    ) -> ClusterResult:
        """Write the rendered copy unless it is already there.

        ``foreign``: the member cache holds a managed object of another origin under this name.
        """
        name = state.name
        copy_source = ObjectRef(name, info.group, info.resource, key.namespace, key.name)
        if name == self.master and self.hooks.is_copy_source(copy_source):
            return ClusterResult(
                name, ClusterStatus.ALREADY_EXISTS, "the object is a copy source; never written"
            )
        rendered = self._render(key, fed, name, info.api_version)
        if isinstance(rendered, RenderError):
            return ClusterResult(name, ClusterStatus.APPLY_FAILED, rendered.message)
        drifted = False
        if live is not None:
            if annotation(fed, UPDATE_MODE_ANNOTATION) == UPDATE_MODE_CREATE_ONLY:
                return ClusterResult(name, ClusterStatus.PROPAGATED)
            same_hash = annotation(live, HASH_ANNOTATION) == rendered.desired_hash
            exact = annotation(fed, STRATEGY_ANNOTATION) == STRATEGY_REPLACE
            drift = self.drift.drifted((name, key), rendered.obj, live, exact=exact)
            if same_hash and not drift and not force:
                return ClusterResult(name, ClusterStatus.PROPAGATED)
            drifted = same_hash and drift
        elif foreign and not self._may_adopt(fed):
            return ClusterResult(name, ClusterStatus.ALREADY_EXISTS, _not_ours(info.kind))
        hold = self.fights.hold((name, key), resource_version(live or {})) if drifted else 0.0
        if hold:
            self.metrics.ownership_conflicts.labels(cluster=name).inc()
            self.hooks.requeue_after(key, hold + FIGHT_RECHECK)
            return ClusterResult(
                name,
                ClusterStatus.APPLY_FAILED,
                "another writer keeps changing this object; backing off",
                retry_after=hold + FIGHT_RECHECK,
            )
        echo = (name, info.resource, key.namespace, key.name)
        write = self._write(fed, state, info, key, rendered.obj, live)
        written = await self.echoes.write(echo, info, write)
        if isinstance(written, ClusterResult):
            return written
        if written is None:  # dry-run: the writer logged what it would do
            return ClusterResult(name, ClusterStatus.PROPAGATED)
        self.drift.wrote((name, key), written)
        verb = "corrected drift of" if drifted else ("updated" if live else "created")
        log.info("propagation: %s %s on %s", verb, key, name, extra=fields(name, key, info.kind))
        return ClusterResult(name, ClusterStatus.PROPAGATED, wrote=True)

    def _render(
        self, key: ObjectRef, fed: Obj, cluster: str, api_version: str
    ) -> Rendered | RenderError:
        """``fed`` rendered for ``cluster``; the same rendering for every cluster it is alike on.

        Without overrides the copy is the same on every cluster of an API version: the
        lanes, which run one object's clusters one after the other, render it once (one
        rendering is kept, so this costs no memory per object).
        """
        if not overrides_none(fed):
            return render(fed, cluster, master_name=self.master, target_api_version=api_version)
        version = (key, objects.resource_version(fed), api_version)
        if self._last_rendered is not None and self._last_rendered[0] == version:
            return self._last_rendered[1]
        rendered = render(fed, cluster, master_name=self.master, target_api_version=api_version)
        if isinstance(rendered, Rendered):
            self._last_rendered = (version, rendered)
        return rendered

    async def _write(
        self,
        fed: Obj,
        state: MemberState,
        info: ResourceInfo,
        key: ObjectRef,
        obj: Obj,
        live: Obj | None,
    ) -> Obj | ClusterResult | None:
        """Apply ``obj`` (or replace ``live`` exactly, strategy replace).

        A change refused as immutable is ApplyFailed naming the field, or recreates the copy
        when ``fed`` says ``synchub.io/on-immutable: recreate``.
        """
        try:
            if live is None and not self._may_adopt(fed):
                return await self._create(state, info, key, obj)
            return await self._apply(state, info, key, obj, _replacing(fed, live))
        except Invalid as exc:
            refused = immutable_fields(exc.message)
            if not refused:
                raise
            if annotation(fed, ON_IMMUTABLE_ANNOTATION) != ON_IMMUTABLE_RECREATE:
                message = _immutable_message(refused)
                return ClusterResult(state.name, ClusterStatus.APPLY_FAILED, message)
            return await self._recreate(state, info, key, obj, refused)

    async def _recreate(
        self, state: MemberState, info: ResourceInfo, key: ObjectRef, obj: Obj, refused: list[str]
    ) -> Obj | None:
        """Delete the member copy and create it anew (``synchub.io/on-immutable: recreate``)."""
        log.warning(
            "propagation: recreating %s on %s: the member refuses a change of immutable %s",
            key,
            state.name,
            ", ".join(refused),
            extra=fields(state.name, key, info.kind),
        )
        with contextlib.suppress(NotFound):
            await self.writer(state).delete(info, key.namespace, key.name)
        return await self._apply(state, info, key, obj)

    def _may_adopt(self, fed: Obj) -> bool:
        return (
            self.config.propagation.adopt
            or self.hooks.adopts()
            or annotation_is_true(fed, ADOPT_ANNOTATION)
        )

    async def _create(
        self, state: MemberState, info: ResourceInfo, key: ObjectRef, obj: Obj
    ) -> Obj | ClusterResult | None:
        """Write a copy the member cache does not hold: apply first, look only on conflict.

        The apply is not forced, so a field another manager set differently is a Conflict;
        an apply that met an object others wrote (their managers in its managedFields) is
        taken back at once. Either way the object is not ours: ``AlreadyExists``.
        """
        try:
            written = await self._apply(state, info, key, obj, force=False)
        except Conflict:
            written = None
            if not await self._exists(state, info, key):
                return await self._apply(state, info, key, obj)  # gone meanwhile
        else:
            if written is None or not _foreign_managers(written):
                return written
            await self._release(state, info, key, obj)
        return ClusterResult(state.name, ClusterStatus.ALREADY_EXISTS, _not_ours(info.kind))

    async def _exists(self, state: MemberState, info: ResourceInfo, key: ObjectRef) -> bool:
        assert state.client is not None
        try:
            await state.client.get(info.path(key.namespace, key.name))
            return True
        except NotFound:
            return False

    async def _release(
        self, state: MemberState, info: ResourceInfo, key: ObjectRef, obj: Obj
    ) -> None:
        """Give up every field the hub's apply just set on an object that is not its own.

        An apply of nothing: the fields others own too stay as they were.
        """
        metadata = (
            {"name": key.name, "namespace": key.namespace} if key.namespace else {"name": key.name}
        )
        empty = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": metadata}
        await self.writer(state).apply(
            info, key.namespace, key.name, empty, field_manager=FIELD_MANAGER, force=False
        )

    async def _apply(
        self,
        state: MemberState,
        info: ResourceInfo,
        key: ObjectRef,
        obj: Obj,
        replacing: Obj | None = None,
        *,
        force: bool = True,
    ) -> Obj | None:
        """Server-side apply ``obj``, or with ``replacing`` (strategy replace) update it.

        The update is at that object's resourceVersion, so fields others added are removed.
        """
        writer = self.writer(state)
        if replacing is not None:
            metadata = {**obj.get("metadata", {}), "resourceVersion": resource_version(replacing)}
            return await writer.replace(
                info, key.namespace, key.name, {**obj, "metadata": metadata},
                field_manager=FIELD_MANAGER,
            )  # fmt: skip
        creates = info.namespaced and key.namespace and self.config.propagation.create_namespaces
        gate = (state.name, key.namespace)
        if not creates or gate in self._namespaces:
            return await self._apply_once(state, info, key, obj, force)
        async with self._namespace_locks.setdefault(gate, asyncio.Lock()):
            if gate not in self._namespaces:
                written = await self._apply_once(state, info, key, obj, force)
                self._namespaces.add(gate)
                return written
        return await self._apply_once(state, info, key, obj, force)

    async def _apply_once(
        self, state: MemberState, info: ResourceInfo, key: ObjectRef, obj: Obj, force: bool
    ) -> Obj | None:
        """Apply; a missing namespace is created (when configured) and the apply repeated."""
        writer = self.writer(state)
        try:
            return await writer.apply(
                info, key.namespace, key.name, obj, field_manager=FIELD_MANAGER, force=force
            )
        except NotFound:
            if not (
                info.namespaced and key.namespace and self.config.propagation.create_namespaces
            ):
                raise
        await self._create_namespace(state, key.namespace)
        return await writer.apply(
            info, key.namespace, key.name, obj, field_manager=FIELD_MANAGER, force=force
        )

    async def _create_namespace(self, state: MemberState, namespace: str) -> None:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        namespaces = ResourceInfo("", "v1", "namespaces", "Namespace", namespaced=False)
        try:
            await self.writer(state).create(namespaces, "", body)
            log.info(
                "propagation: created namespace %s on %s",
                namespace,
                state.name,
                extra={
                    "cluster": state.name,
                    "member_object": f"{state.name}/Namespace/{namespace}",
                },
            )
        except Conflict:
            pass  # created meanwhile

    # --- removing --------------------------------------------------------------------------

    async def remove(
        self, key: ObjectRef, fed: Obj, kind: str, state: MemberState, orphan: bool
    ) -> ClusterResult | None:
        """Delete (or orphan) the copy on one cluster; None when nothing is left there."""
        name = state.name
        if not state.ready or state.discovery is None:
            known = self.caches.get(name)
            if known is None or not known.all_synced() or self._cached_copy(known, key, fed):
                return ClusterResult(name, ClusterStatus.WAITING_FOR_REMOVAL, state.message)
            return None
        try:
            info = await self.member_info(state, fed, kind)
        except (UnknownResource, ValueError):
            return None
        cache = self.cache(state).ensure(info)
        if not cache.synced.is_set():
            return ClusterResult(name, ClusterStatus.WAITING_FOR_REMOVAL, "cache syncing")
        live = cache.get(key.namespace, key.name)
        if live is None or origin(live) != self.origin(key, fed):
            return None
        try:
            if orphan:
                return await self._orphan(key, state, info)
            if await self.writer(state).delete(info, key.namespace, key.name):
                log.info(
                    "propagation: deleted %s from %s", key, name, extra=fields(name, key, info.kind)
                )
            return None
        except NotFound:
            return None
        except KubeError as exc:
            self.inventory.mark_failed(name, exc)
            return ClusterResult(name, ClusterStatus.DELETION_FAILED, brief(exc))

    async def _orphan(
        self, key: ObjectRef, state: MemberState, info: ResourceInfo
    ) -> ClusterResult:
        patch = {
            "metadata": {"labels": {MANAGED_LABEL: None}, "annotations": {HASH_ANNOTATION: None}}
        }
        if await self.writer(state).merge_patch(info, key.namespace, key.name, patch):
            log.info(
                "propagation: orphaned %s on %s",
                key,
                state.name,
                extra=fields(state.name, key, info.kind),
            )
        return ClusterResult(state.name, ClusterStatus.ORPHANED)

    def _cached_copy(self, cache: CacheSet, key: ObjectRef, fed: Obj) -> bool:
        wanted = self.origin(key, fed)  # a copy has its Federated object's namespace and name
        copies = (c.get(key.namespace, key.name) for c in cache)
        return any(obj is not None and origin(obj) == wanted for obj in copies)

    # --- per-member plumbing ---------------------------------------------------------------

    async def member_info(self, state: MemberState, fed: Obj, kind: str) -> ResourceInfo:
        """The resource the copy of ``fed`` is written as on this member."""
        assert state.discovery is not None
        return await state.discovery.for_target(target_api_version(fed), kind)

    def _just_written(self, cluster: str, info: ResourceInfo, key: ObjectRef) -> Obj | None:
        """The copy the hub wrote on ``cluster`` whose watch event has not arrived yet."""
        return self.echoes.written((cluster, info.resource, key.namespace, key.name))

    def cache(self, state: MemberState) -> CacheSet:
        """The member's cache set of managed copies (started on first use)."""
        cache = self.caches.get(state.name)
        if cache is None:
            assert state.client is not None
            name = state.name

            def on_event(info: ResourceInfo, kind: EventType, obj: Obj) -> None:
                echo = (name, info.resource, objects.namespace(obj), objects.name(obj))
                self.echoes.event(echo, info, kind, obj)

            cache = CacheSet(
                state.client,
                self.supervisor,
                self.metrics,
                on_event,
                on_synced=lambda _info: self.hooks.on_synced(),
                label_selector=f"{MANAGED_LABEL}=true",
                packed=True,  # read by key: a third of the memory (hub.kube.watch)
            )
            self.caches[state.name] = cache
        return cache

    def writer(self, state: MemberState) -> Writer:
        """The fenced writer to the member (made again when its client was replaced)."""
        return self._writers.get(state.name, state.client)

    def origin(self, key: ObjectRef, fed: Obj) -> str:
        """The origin annotation value the copies of ``fed`` carry."""
        group = str(fed.get("apiVersion", "")).rpartition("/")[0]
        return f"{self.master}/{group}/{fed.get('kind')}/{key.namespace}/{key.name}"


EchoKey = tuple[str, str, str, str]
"""A member copy: (cluster, resource, namespace, name)."""

#: What a write of a member copy is called among the hub's writes under way (WrittenVersions).
APPLIED = "apply"
_Answer = TypeVar("_Answer")


class Echoes:
    """The hub's own writes of member copies, told apart from others' changes by their events.

    Each copy the hub just wrote is kept until its watch event (the echo, which needs no
    reconcile) arrives; until then it stands in for the cache, so a look in between does not
    write it again. The echo often arrives before the write's response does: an event that
    comes while a write of the same copy is in flight is held (:meth:`WrittenVersions.hold`)
    until the response, then told only if it is not that write (docs/propagation.md,
    "Requests and writes").
    """

    def __init__(self, tell: Handler, flights: WrittenVersions) -> None:
        self._tell = tell
        self._flights = flights
        self._written: dict[EchoKey, Obj] = {}

    def written(self, key: EchoKey) -> Obj | None:
        """The copy the hub wrote whose echo has not arrived yet."""
        return self._written.get(key)

    async def write(self, key: EchoKey, info: ResourceInfo, send: Awaitable[_Answer]) -> _Answer:
        """Await ``send``, the write of ``key``; its answer, when an object, is the one to expect.

        Events of ``key`` that arrive meanwhile are looked at once the answer is known.
        """
        cluster, _, namespace, name = key
        with self._flights.writing(cluster, info, namespace, name, APPLIED):
            written = await send
            if isinstance(written, dict):
                # Held as a cache holds its objects (docs/configuration.md, "Memory").
                self._written[key] = slim(written)
        return written

    def event(self, key: EchoKey, info: ResourceInfo, kind: EventType, obj: Obj) -> None:
        """A watch event of ``key``: told to the controller unless it is an echo."""
        if self._flights.hold(key[0], info, obj, APPLIED, lambda: self.event(key, info, kind, obj)):
            return
        written = self._written.pop(key, None)
        if kind != "DELETED" and resource_version(written or {}) == resource_version(obj):
            return  # our own write coming back: nothing to do
        self._tell(info, kind, obj)


def _foreign_managers(written: Obj) -> bool:
    """``written`` (an apply's answer) shows a writer other than the hub's apply.

    Then it existed before (made by kubectl, another tool, or the hub before an orphaning).
    """
    entries = (written.get("metadata") or {}).get("managedFields") or []
    return any(e.get("manager") != FIELD_MANAGER or e.get("operation") != "Apply" for e in entries)


def _replacing(fed: Obj, live: Obj | None) -> Obj | None:
    """The live copy to replace exactly (``synchub.io/strategy: replace``), else None."""
    return live if annotation(fed, STRATEGY_ANNOTATION) == STRATEGY_REPLACE else None


def annotation(obj: Obj, name: str) -> str:
    """One annotation of ``obj``, or ``""``."""
    return str(((obj.get("metadata") or {}).get("annotations") or {}).get(name, ""))


def origin(obj: Obj) -> str:
    """The origin annotation of a copy, or ``""``."""
    return annotation(obj, ORIGIN_ANNOTATION)


def fields(cluster: str, key: ObjectRef, kind: str) -> dict[str, str]:
    """The structured log keys of a line about ``key``'s copy on ``cluster`` (names only)."""
    return {
        "cluster": cluster,
        "object": object_name(key),
        "member_object": member_object(cluster, kind, key),
    }


def object_name(key: ObjectRef) -> str:
    """``resource.group/namespace/name`` of a Federated object."""
    return key.object_name


def member_object(cluster: str, kind: str, key: ObjectRef) -> str:
    """``cluster/Kind/namespace/name`` of a member copy."""
    return "/".join(p for p in (cluster, kind, key.namespace, key.name) if p)


_IMMUTABLE = re.compile(r"([\w.\[\]-]+): (?:Invalid value|Forbidden)[^,;]*?field is immutable")


def immutable_fields(message: str) -> list[str]:
    """The fields an API server's 422 message says are immutable (empty: another error)."""
    return sorted(set(_IMMUTABLE.findall(message)))


def _not_ours(kind: str) -> str:
    return (
        f"a {kind} not managed by synchub exists; annotate the Federated object "
        f'with {ADOPT_ANNOTATION}: "true" to take it over'
    )


def _immutable_message(refused: list[str]) -> str:
    return (
        f"the member refuses a change of immutable field {', '.join(refused)}; annotate the "
        f'Federated object with {ON_IMMUTABLE_ANNOTATION}: "{ON_IMMUTABLE_RECREATE}" to '
        "delete and recreate the copy"
    )
