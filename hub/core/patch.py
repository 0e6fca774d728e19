"""JSON merge patches (RFC 7386) computed from two versions of an object, and containment."""

from __future__ import annotations

from typing import Any

from hub.core.objects import Obj


def merge_patch(old: Obj, new: Obj) -> Obj:
    """The smallest merge patch turning ``old`` into ``new``.

    Removed keys become null; lists and scalars are replaced whole (merge patches cannot
    address list items).
    """
    patch: Obj = {}
    for key in old.keys() - new.keys():
        patch[key] = None
    for key, value in new.items():
        before = old.get(key, _MISSING)
        if isinstance(value, dict) and isinstance(before, dict):
            nested = merge_patch(before, value)
            if nested:
                patch[key] = nested
        elif before is _MISSING or not _same(before, value):
            patch[key] = value
    return patch


_MISSING: Any = object()


def _same(a: Any, b: Any) -> bool:
    # type() check keeps 1 vs 1.0 vs True distinct: the server would store them differently.
    return type(a) is type(b) and a == b


def contains(live: Any, desired: Any) -> bool:
    """True when every field of ``desired`` has the same value in ``live``.

    Server defaults may add fields; lists must match item by item.
    """
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(
            k in live and contains(live[k], v) for k, v in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(live) == len(desired)
            and all(contains(a, b) for a, b in zip(live, desired, strict=True))
        )
    return bool(live == desired)
