"""The finalizer ``synchub.io/objectsync``: set on every sync, cleared once its copies are gone.

Gone means deleted, or orphaned when the sync says ``synchub.io/orphan: "true"``.
"""

from __future__ import annotations

from hub.core.errors import UnknownResource
from hub.core.federation import ORPHAN_ANNOTATIONS, annotation_is_true
from hub.core.objects import Obj, ObjectRef
from hub.core.objectsync import FINALIZER, SyncSpec
from hub.kube.discovery import Discovery
from hub.kube.resources import ResourceInfo
from hub.runtime.finalizers import add_finalizer, remove_finalizer
from hub.runtime.writer import Writer

from . import status as st
from .copies import ORPHANED, ClusterSync


class Finalizer:
    """Adds and removes the finalizer on sync objects on the master."""

    def __init__(self, writer: Writer, discovery: Discovery, clusters: ClusterSync) -> None:
        self.writer = writer
        self.discovery = discovery
        self.clusters = clusters

    async def ensure(self, key: ObjectRef, info: ResourceInfo, obj: Obj) -> Obj | None:
        """The object with the finalizer set (one patch if missing); None if it is gone."""
        del key  # the object names itself
        return await add_finalizer(self.writer, info, obj, FINALIZER)

    async def remove_copies(
        self, key: ObjectRef, origin: str, obj: Obj, spec: SyncSpec
    ) -> list[st.Result]:
        """Delete or orphan every copy; what still holds the deletion (empty: done)."""
        if FINALIZER not in ((obj.get("metadata") or {}).get("finalizers") or []):
            return []
        info = await self.source_info(spec)
        if info is None:
            return []  # the kind is gone from the master: nothing of it can be found
        orphan = annotation_is_true(obj, *ORPHAN_ANNOTATIONS)
        results = await self.clusters.remove_all(key, origin, info, orphan=orphan)
        return [r for r in results if r.status != ORPHANED]

    async def source_info(self, spec: SyncSpec) -> ResourceInfo | None:
        """The resource of the sync's source kind; None when the master no longer serves it."""
        try:
            return await self.discovery.for_kind(
                spec.source.group, spec.source.kind, spec.source.version
            )
        except UnknownResource:
            return None

    async def sweep(self, key: ObjectRef, origin: str, spec: SyncSpec) -> bool:
        """Delete the copies a deleted sync left behind; True once none is left anywhere.

        Only what the member caches of managed copies (synced) hold with ``origin``.
        """
        info = await self.source_info(spec)
        if info is None:
            return True
        return not await self.clusters.remove_all(key, origin, info, orphan=False)

    async def release(self, key: ObjectRef, info: ResourceInfo, obj: Obj) -> None:
        """Clear the finalizer, so the API server deletes the sync."""
        del key
        await remove_finalizer(self.writer, info, obj, FINALIZER)
