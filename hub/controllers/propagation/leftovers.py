"""Leftovers: copies whose Federated object no longer exists (docs/propagation.md).

They are removed when their member is back.

``propagation.deletionTimeout`` lets a Federated object go while a member is unreachable; its
copies there keep the managed label and an origin naming the deleted object. When that member
returns (or its cache of managed copies syncs) the controller sweeps it: every managed copy
whose origin is a Federated object the master no longer has is deleted. Only ever on synced
caches: the master's Federated cache for the origin's namespace and the member's cache of
managed copies; anything not yet synced is looked at again later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from hub.controllers.propagation.member import Members
from hub.core.errors import KubeError, NotFound, Requeue
from hub.core.objects import Obj, ObjectRef
from hub.kube.resources import ResourceInfo
from hub.runtime.caches import CacheSet
from hub.runtime.metrics import Metrics

log = logging.getLogger(__name__)

SWEEP_GROUP = "sweep.synchub.io"  # a work-queue key of this group sweeps its cluster
SWEEP_RETRY = 1.0  # seconds before sweeping again while a cache is still syncing


def sweep_key(cluster: str) -> ObjectRef:
    """The work-queue key that sweeps ``cluster`` for leftovers."""
    return ObjectRef(cluster, SWEEP_GROUP, "", "", "")


class Leftovers:
    """Finds and deletes the copies on one member whose Federated object is gone."""

    def __init__(
        self,
        members: Members,
        federated: CacheSet,
        origin_ref: Callable[[Obj], ObjectRef | None],
        metrics: Metrics,
    ) -> None:
        self.members = members
        self.federated = federated
        self.origin_ref = origin_ref
        self.metrics = metrics

    async def sweep(self, cluster: str) -> None:
        """Delete the leftovers on ``cluster``; Requeue while a cache it needs is syncing."""
        state = self.members.inventory.get(cluster)
        caches = self.members.caches.get(cluster)
        if not state.ready or caches is None:
            return  # swept when it is back (inventory.changed)
        waiting = False
        for cache in caches:
            if not cache.synced.is_set():
                waiting = True
                continue
            for obj in list(cache.values()):
                ref = self.origin_ref(obj)
                info = self.federated.infos.get(ref.group_resource) if ref else None
                if ref is None or info is None:
                    continue  # not a Federated object's copy, or a kind not watched
                if not self.federated.synced_for(info, ref.namespace):
                    waiting = True
                elif self.federated.get(info, ref.namespace, ref.name) is None:
                    await self._delete(cluster, cache.info, obj, ref)
        if waiting:
            raise Requeue(SWEEP_RETRY)

    async def _delete(self, cluster: str, info: ResourceInfo, obj: Obj, ref: ObjectRef) -> None:
        metadata = obj.get("metadata") or {}
        namespace, name = str(metadata.get("namespace", "")), str(metadata.get("name", ""))
        state = self.members.inventory.get(cluster)
        try:
            if await self.members.writer(state).delete(info, namespace, name):
                log.info(
                    "propagation: removed leftover %s %s/%s from %s (%s no longer exists)",
                    info.kind, namespace, name, cluster, ref,
                )  # fmt: skip
                self.metrics.deletion_leftovers.labels(cluster=cluster, outcome="removed").inc()
        except NotFound:
            pass
        except KubeError as exc:
            self.members.inventory.mark_failed(cluster, exc)
            log.warning("propagation: could not remove leftover %s from %s: %s", ref, cluster, exc)
            raise Requeue(SWEEP_RETRY) from exc
