"""What a watch cache keeps of an object: all a reader may read, in less memory.

Pure. :func:`slim` changes an object decoded from the API server in place:

- ``metadata.managedFields`` is dropped: no reader of the caches reads it (the hub's writes
  are server-side applies and merge patches, which never send it back), and it is often the
  largest part of an object;
- short strings (64 characters or fewer) are interned, so the same namespace, kind, label,
  annotation, timestamp or data value held by thousands of cached objects, or by the master's
  template and every member's copy, is one string in memory. ``uid`` and ``resourceVersion``
  are left alone: they are unique, so sharing them would only cost.

Nothing else changes: ``slim(obj) == obj`` minus managedFields (tests/unit/test_slim.py).
Dictionary keys need no interning: orjson, which decodes the API's JSON (hub.kube.client),
already shares short keys between the documents it decodes.
"""

from __future__ import annotations

import sys
from typing import Any

from hub.core.objects import Obj

SHARED_MAX = 64
"""Longest string interned: names, labels, timestamps and short data; not large blobs."""
UNIQUE = frozenset({"uid", "resourceVersion"})
"""Keys whose values differ in every object (interning them only costs)."""


def slim(obj: Obj) -> Obj:
    """Drop ``metadata.managedFields`` and intern short strings; returns ``obj`` itself."""
    metadata = obj.get("metadata")
    if isinstance(metadata, dict):
        metadata.pop("managedFields", None)
    _share_dict(obj)
    return obj


def _share_dict(node: dict[str, Any]) -> None:
    intern = sys.intern
    for key, value in node.items():
        kind = type(value)
        if kind is str:
            if len(value) <= SHARED_MAX and key not in UNIQUE:
                node[key] = intern(value)
        elif kind is dict:
            _share_dict(value)
        elif kind is list:
            _share_list(value)


def _share_list(node: list[Any]) -> None:
    intern = sys.intern
    for index, value in enumerate(node):
        kind = type(value)
        if kind is str:
            if len(value) <= SHARED_MAX:
                node[index] = intern(value)
        elif kind is dict:
            _share_dict(value)
        elif kind is list:
            _share_list(value)
