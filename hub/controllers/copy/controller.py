"""The copy controller: resolve copy annotations on target objects from live sources.

For each target (a Federated object on the master, or any configured target resource) it
parses the rules, reads the sources from watch caches started on first reference, writes the
resolved values only when they differ (merge patch under the object's resourceVersion), and
reports ``CopyReady`` plus Warning Events. A source change re-queues just its dependents.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from hub.core import copy_rules, objects
from hub.core.conditions import Condition, differs, find, merged, now_rfc3339
from hub.core.copy_resolve import (
    NOT_FOUND,
    PENDING,
    Resolution,
    Unreadable,
    forbidden,
    resolve_copies,
    source_resources,
)
from hub.core.errors import Conflict, Forbidden, NotFound, ResourceNameError, UnknownResource
from hub.core.federation import (
    FEDERATED_GROUPS,
    FINALIZER,
    LAST_HANDLED_FIELD,
    SUSPEND_ANNOTATION,
    annotation_is_true,
)
from hub.core.objects import GroupResource, Obj, ObjectRef
from hub.core.patch import merge_patch
from hub.core.paths import PathSetError
from hub.core.problems import Problem
from hub.core.sync_state import reconcile_requested
from hub.kube.resources import ResourceInfo
from hub.kube.watch import EventType
from hub.runtime.caches import CacheSet
from hub.runtime.controller import Controller
from hub.runtime.index import DependencyIndex
from hub.runtime.snapshots import Health
from hub.runtime.wiring import Collaborators, Declaration, Resources, Topic

log = logging.getLogger(__name__)

_NONE: frozenset[Problem] = frozenset()

DECLARATION = Declaration(
    for_=Resources("master", "copy targets (Federated* objects or configured targets)"),
    owns=(
        Resources("master", "copied fields and the CopyReady condition of targets"),
        Resources("master", "Warning Events"),
    ),
    watches=("copy sources (any readable object named by a rule)",),
)

CONDITION = "CopyReady"
CONFLICT_RETRIES = 3


class CopyController(Controller[ObjectRef]):
    """Resolves copy annotations on target objects on the master (see the module docstring).

    ``targets`` is the manager's shared cache set of target objects on the master; this
    controller adds its handler to it and starts the caches of the resources it targets.
    """

    name = "copy"
    declaration = DECLARATION

    def __init__(self, deps: Collaborators, targets: CacheSet) -> None:
        super().__init__(deps.metrics)
        self.config = deps.config
        self.snapshots = deps.snapshots
        client = deps.master
        self.cluster = client.name
        self.client = client
        self.discovery = deps.discovery
        self.writer = deps.writers.for_client(client)
        self.index: DependencyIndex[ObjectRef, ObjectRef] = DependencyIndex()
        self.targets = targets
        targets.add_handler(self._on_target)
        self.sources = CacheSet(
            client,
            deps.supervisor,
            deps.metrics,
            self._on_source,
            on_synced=self._on_source_synced,
            # A refused source never syncs: its dependents report it instead of waiting.
            on_refused=self._on_source_synced,
            packed=True,  # read by key (hub.kube.watch): whole Secrets, Deployments, releases
        )
        self.reported: dict[ObjectRef, frozenset[Problem]] = {}
        self._unknown_targets: set[str] = set()
        self._target_kinds: set[GroupResource] = set()
        self._source_seen: dict[ObjectRef, float] = {}
        #: Targets naming a source resource the master does not serve; looked at again after
        #: every discovery refresh, so a CRD installed later is picked up.
        self._unknown_resource: set[ObjectRef] = set()
        #: Publishes (target, monotonic time the source change was seen) when a template was
        #: rewritten because of a source change.
        self.template_written: Topic[tuple[ObjectRef, float]] = Topic("copy.template-written")
        #: Publishes a target the first time its copy rules have been judged.
        self.judged: Topic[ObjectRef] = Topic("copy.judged")
        #: Set while direct propagation runs: it writes CopyReady with its own status and
        #: this controller's template write carries its finalizer, so a Federated object
        #: costs two master writes, not four (docs/propagation.md, "Requests and writes").
        self._taker: Callable[[ObjectRef], None] | None = None
        self._conditions: dict[ObjectRef, Condition] = {}
        #: The content version (generation, annotations) of each target as last judged: an
        #: event that changes neither (a status write, an echo that beat our write's answer)
        #: needs no new look.
        self._judged: dict[ObjectRef, str] = {}
        self.recent = self.writer.recent

    def hand_over(self, taker: Callable[[ObjectRef], None] | None) -> None:
        """Let ``taker`` (direct propagation's queue) write CopyReady and the finalizer.

        It does so for Federated objects from now on; None takes them back.
        """
        self._taker = taker

    def condition(self, key: ObjectRef) -> Condition | None:
        """The CopyReady condition the taker writes for ``key``, if any."""
        return self._conditions.get(key) if self._handed_over(key) else None

    def _handed_over(self, key: ObjectRef) -> bool:
        return self._taker is not None and key.group in FEDERATED_GROUPS

    # --- targets ---------------------------------------------------------------------------

    async def refresh(self) -> None:
        """Start the target caches (again after each discovery refresh)."""
        await self.start_targets()

    async def start_targets(self) -> None:
        """Start a cache for every target resource (call again to pick up new CRDs)."""
        for info in await self._target_resources():
            self._target_kinds.add(GroupResource(info.group, info.resource))
            for namespace in self.config.namespaces or ("",):
                self.targets.ensure(info, namespace)
        for key in list(self._unknown_resource):
            self.queue.add(key)

    async def _target_resources(self) -> list[ResourceInfo]:
        await self.discovery.ensure()
        if not self.config.targets:
            return [
                info
                for info in self.discovery.resources
                if info.group in FEDERATED_GROUPS and info.preferred and _watchable(info)
            ]
        found = []
        for name in self.config.targets:
            try:
                found.append(await self.discovery.resolve(name))
                self._unknown_targets.discard(name)
            except (UnknownResource, ResourceNameError) as exc:
                if name not in self._unknown_targets:
                    log.error("target %r: %s; will look again", name, exc)
                    self._unknown_targets.add(name)
        return found

    def _ref(self, info: ResourceInfo, obj: Obj) -> ObjectRef:
        metadata = obj.get("metadata") or {}
        return ObjectRef(
            self.cluster,
            info.group,
            info.resource,
            metadata.get("namespace", "") if info.namespaced else "",
            metadata.get("name", ""),
        )

    def _on_target(self, info: ResourceInfo, kind: EventType, obj: Obj) -> None:
        if GroupResource(info.group, info.resource) not in self._target_kinds:
            return
        ref = self._ref(info, obj)
        if kind != "DELETED" and self.recent.hold(
            self.cluster, info, obj, "patch", lambda: self._on_target(info, kind, obj)
        ):
            return  # maybe the echo of our write, here before its answer: look once it is in
        if kind != "DELETED" and (
            self.recent.produced(self.cluster, info, obj)
            or self._judged.get(ref) == objects.content_version(obj)
        ):
            return  # the echo of the hub's own write, or nothing this controller reads changed
        self.queue.add(ref)

    def _on_source(self, info: ResourceInfo, _kind: EventType, obj: Obj) -> None:
        if not self.sources.synced_for(info, objects.namespace(obj)):
            return  # the initial listing: _on_source_synced queues every dependent once
        now = time.monotonic()
        for target in self.index.dependents(self._ref(info, obj)):
            self._source_seen.setdefault(target, now)
            self.queue.add(target)

    def _on_source_synced(self, info: ResourceInfo) -> None:
        gr = GroupResource(info.group, info.resource)
        for source in list(self.index.sources()):
            if source.group_resource == gr:
                for target in self.index.dependents(source):
                    self.queue.add(target)

    def pending(self, key: ObjectRef, obj: Obj) -> bool:
        """``obj`` carries copy rules this controller has not judged yet."""
        if GroupResource(key.group, key.resource) not in self._target_kinds:
            return False
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        return copy_rules.has_copy_rules(annotations) and (
            key not in self.reported or self._request_unjudged(key, obj)
        )

    def _request_unjudged(self, key: ObjectRef, obj: Obj) -> bool:
        """A `synchub reconcile` request on ``obj`` this controller has not re-read sources for.

        Propagation stamps the request handled only after the copy pass, so
        ``reconcile --wait`` never returns on a template the request would still change.
        """
        return (
            self._handed_over(key)
            and reconcile_requested(obj) is not None
            and self._judged.get(key) != objects.content_version(obj)
        )

    def is_source(self, ref: ObjectRef) -> bool:
        """Some target copies from ``ref`` (the hub never writes over a copy source)."""
        return ref in self.index.sources()

    def _source_synced(self, ref: ObjectRef) -> bool:
        info = self.sources.infos.get(ref.group_resource)
        return info is not None and self.sources.synced_for(info, ref.namespace)

    def synced(self) -> bool:
        """Target caches synced and source caches synced or refused (``/readyz``)."""
        return self.targets.all_synced() and self.sources.settled()

    def in_sync(self) -> bool:
        """True when no target reports a problem (used by ``run --once``)."""
        return not any(self.reported.values())

    def out_of_sync(self) -> list[str]:
        """One line per problem a target reports (used by ``run --once``)."""
        return [
            f"{key}: {problem.reason}: {problem.message}"
            for key, problems in self.reported.items()
            for problem in sorted(problems, key=lambda p: p.message)
        ]

    # --- reconcile -------------------------------------------------------------------------

    async def reconcile(self, key: ObjectRef) -> None:
        """Resolve one target's rules, write the values that differ, report the problems."""
        seen = self._source_seen.pop(key, None)
        info = self.targets.infos.get(key.group_resource)
        target = self.targets.get(info, key.namespace, key.name) if info else None
        if info is None or target is None:
            self._forget(key, info)
            return
        target = self.recent.fresh(self.cluster, info, target)  # the cache may lag our write
        if annotation_is_true(target, SUSPEND_ANNOTATION):
            log.info("copy %s: suspended (%s); writing nothing", key, SUSPEND_ANNOTATION)
            # Judged as suspended: resuming changes the annotations, so it is looked at again
            # (the version judged before the suspension would match and hide the resume).
            self._judged[key] = objects.content_version(target)
            return
        parsed = copy_rules.parse_rules(objects.annotations_of(target))
        if not parsed.rules and not parsed.errors:
            self._forget(key, info)  # annotation removed: its rules stop at once
            return
        outcome = await self._resolve(key, parsed)
        self.index.set_sources(key, outcome.sources)
        if outcome.unknown_resource:
            self._unknown_resource.add(key)
        else:
            self._unknown_resource.discard(key)
        if outcome.waiting:
            # Re-queued when the source cache syncs; if it synced while we looked, now.
            if all(self._source_synced(s) for s in outcome.sources):
                self.queue.add(key)
            return
        problems = outcome.problems
        if outcome.pairs:
            try:
                target = await self._write(info, key, target, outcome.pairs, seen)
            except PathSetError as exc:
                problems.append(Problem("InvalidAnnotation", f"cannot write: {exc}"))
            except Forbidden as exc:
                # Said on the object too (its status may still be writable), then retried.
                problems.append(Problem("Forbidden", f"cannot update the object: {exc.message}"))
                await self._report(info, key, target, problems, has_rules=True)
                raise
        # Judged before reporting: the report may hand the object to propagation, which
        # asks `pending` at once.
        self._judged[key] = objects.content_version(target)
        await self._report(info, key, target, problems, has_rules=bool(parsed.rules))

    def _forget(self, key: ObjectRef, info: ResourceInfo | None) -> None:
        """The target is gone or asks for no copy any more: drop all that is known of it."""
        self.index.remove_target(key)
        self._conditions.pop(key, None)
        self._judged.pop(key, None)
        if self.reported.pop(key, None) is not None and info is not None:
            self.snapshots.forget(self.name, info.kind, key.namespace, key.name)
        self._unknown_resource.discard(key)

    async def _resolve(self, key: ObjectRef, parsed: copy_rules.ParsedRules) -> Resolution:
        """Resolve the rules against the source caches (started on first reference)."""
        scopes = await self.discovery.resolve_all(source_resources(parsed))
        infos = {
            GroupResource(i.group, i.resource): i
            for i in scopes.values()
            if isinstance(i, ResourceInfo)
        }

        def cached(ref: ObjectRef) -> Obj | Unreadable:
            info = infos[ref.group_resource]
            # With `namespaces:` configured, sources are watched per namespace, so the hub
            # needs no cluster-wide read access (to Secrets, say).
            self.sources.ensure(info, ref.namespace if self.config.namespaces else "")
            if not self.sources.synced_for(info, ref.namespace):
                refused = self.sources.forbidden(info, ref.namespace)
                return PENDING if refused is None else forbidden(refused.message)
            return self.sources.get(info, ref.namespace, ref.name) or NOT_FOUND

        return resolve_copies(
            self.cluster,
            key.namespace,
            parsed,
            scopes,
            cached,
            cross_namespace=self.config.copy.cross_namespace,
        )

    async def _write(
        self,
        info: ResourceInfo,
        key: ObjectRef,
        target: Obj,
        pairs: list[tuple[Any, Any]],
        seen: float | None,
    ) -> Obj:
        """Write the values if they differ, under optimistic concurrency; return the object."""
        for attempt in range(CONFLICT_RETRIES + 1):
            if not copy_rules.needs_write(target, pairs):
                return target
            desired = copy_rules.apply_values(target, pairs)
            patch = merge_patch(target, desired)
            patch.setdefault("metadata", {})["resourceVersion"] = _rv(target)
            finalizers = objects.metadata(target).get("finalizers") or []
            if self._handed_over(key) and FINALIZER not in finalizers:
                patch["metadata"]["finalizers"] = [*finalizers, FINALIZER]
            try:
                written = await self.writer.merge_patch(info, key.namespace, key.name, patch)
                if written is not None:  # None: dry-run, nothing was written
                    log.info("copy: updated %s", key, extra=key.log_keys)
                if seen is not None:
                    self.template_written.publish((key, seen))
                return written or target
            except Conflict:
                if attempt == CONFLICT_RETRIES:
                    raise
                target = await self.client.get(info.path(key.namespace, key.name))
        return target

    async def _report(
        self,
        info: ResourceInfo,
        key: ObjectRef,
        target: Obj,
        problems: list[Problem],
        *,
        has_rules: bool,
    ) -> None:
        current = frozenset(problems) if problems else _NONE  # one empty set, not one each
        previous = self.reported.get(key)
        self.reported[key] = current
        self.snapshots.publish(
            self.name, info.kind, key.namespace, key.name,
            state=problems[0].reason if problems else "Copied",
            health=Health.FAILING if problems else Health.OK,
            message="; ".join(p.message for p in problems),
        )  # fmt: skip
        if has_rules or problems:
            await self._set_condition(info, key, target, problems)
        if previous is None:
            self.judged.publish(key)  # propagation held this object until now
        for problem in sorted(current - (previous or frozenset()), key=lambda p: p.message):
            log.warning("copy %s: %s: %s", key, problem.reason, problem.message, extra=key.log_keys)
            await self.writer.event(
                target, type_="Warning", reason=problem.reason, message=problem.message
            )
        if previous and not current:
            log.info("copy %s: all rules resolve again", key, extra=key.log_keys)

    async def _set_condition(
        self, info: ResourceInfo, key: ObjectRef, target: Obj, problems: list[Problem]
    ) -> None:
        if not info.has_status:
            return
        if problems:
            wanted = Condition(
                CONDITION, "False", problems[0].reason, "; ".join(p.message for p in problems)
            )
        else:
            wanted = Condition(CONDITION, "True", "Copied", "all copy rules resolved")
        conditions = (target.get("status") or {}).get("conditions")
        generation = (target.get("metadata") or {}).get("generation")
        requested = reconcile_requested(target)  # `synchub reconcile --wait` waits for this
        changed = differs(find(conditions, CONDITION), wanted, generation)
        refused = any(p.reason == "Forbidden" for p in problems)
        if self._taker is not None and self._handed_over(key) and not refused:
            self._conditions[key] = wanted
            if changed or requested is not None:
                self._taker(key)  # its next status write carries the condition (and the stamp)
            return
        # Written here when the object refuses our patches: propagation, which cannot add
        # its finalizer either, would never write it.
        self._conditions.pop(key, None)
        if not changed and requested is None:
            return
        status: Obj = {}
        if changed:
            status["conditions"] = merged(
                conditions, wanted, now=now_rfc3339(), observed_generation=generation
            )
        if requested is not None:
            status[LAST_HANDLED_FIELD] = requested
        patch = {"metadata": {"resourceVersion": _rv(target)}, "status": status}
        try:
            await self.writer.merge_patch(
                info, key.namespace, key.name, patch, subresource="status"
            )
        except NotFound:
            return  # deleted meanwhile
        except Conflict:
            # Our cache had not caught up with our own last write yet; the watch event that
            # brings the newer version queues the object again.
            log.debug("copy %s: status write raced a newer version; will look again", key)
            self.queue.add(key)


def _rv(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))


def _watchable(info: ResourceInfo) -> bool:
    return {"list", "watch", "patch"} <= info.verbs
