"""Adding and clearing one controller's finalizer on a master object.

One optimistic merge patch each, carrying the object's resourceVersion (docs/propagation.md,
"Removal").
"""

from __future__ import annotations

import contextlib

from hub.core import objects
from hub.core.errors import NotFound
from hub.core.objects import Obj
from hub.kube.resources import ResourceInfo
from hub.runtime.writer import Writer


def has_finalizer(obj: Obj, finalizer: str) -> bool:
    """Whether ``obj`` carries ``finalizer``."""
    return finalizer in ((obj.get("metadata") or {}).get("finalizers") or [])


async def add_finalizer(writer: Writer, info: ResourceInfo, obj: Obj, finalizer: str) -> Obj | None:
    """``obj`` with ``finalizer`` set; None when the object is gone.

    One patch when it is missing; none under ``--dry-run``.
    """
    if has_finalizer(obj, finalizer) or writer.dry_run:
        return obj
    metadata = obj.get("metadata") or {}
    finalizers = [*(metadata.get("finalizers") or []), finalizer]
    patch = {
        "metadata": {"finalizers": finalizers, "resourceVersion": objects.resource_version(obj)}
    }
    try:
        return await writer.merge_patch(
            info, str(metadata.get("namespace", "")), str(metadata.get("name", "")), patch
        )
    except NotFound:
        return None


async def remove_finalizer(writer: Writer, info: ResourceInfo, obj: Obj, finalizer: str) -> None:
    """Clear ``finalizer`` so the API server can delete ``obj`` (gone already is fine)."""
    if not has_finalizer(obj, finalizer):
        return
    metadata = obj.get("metadata") or {}
    kept = [f for f in metadata.get("finalizers") or [] if f != finalizer]
    patch = {"metadata": {"finalizers": kept, "resourceVersion": objects.resource_version(obj)}}
    with contextlib.suppress(NotFound):
        await writer.merge_patch(
            info, str(metadata.get("namespace", "")), str(metadata.get("name", "")), patch
        )
