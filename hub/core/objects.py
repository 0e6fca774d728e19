"""Small value types shared across the hub, and the one way to read an object's metadata.

Objects are raw JSON dicts (:data:`Obj`) as the API server returns them. The readers below
never raise on a malformed object and never mutate it: a missing or mistyped ``metadata``,
``labels`` or ``annotations`` reads as empty. Use them instead of chained ``.get(...) or {}``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

#: A Kubernetes object as the API returns it: a plain JSON dict.
Obj = dict[str, Any]

_EMPTY: Mapping[str, Any] = {}


@dataclass(frozen=True, slots=True, order=True)
class GroupResource:
    """A resource type without its version, e.g. ``apps/deployments`` (group "" = core)."""

    group: str
    resource: str

    def __str__(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource


@dataclass(frozen=True, slots=True, order=True)
class ObjectRef:
    """Identifies one object in one cluster. ``namespace`` is "" for cluster-scoped objects."""

    cluster: str
    group: str
    resource: str
    namespace: str
    name: str

    @property
    def group_resource(self) -> GroupResource:
        """The object's resource type without its version."""
        return GroupResource(self.group, self.resource)

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.cluster}:{self.group_resource}:{where}"

    @property
    def object_name(self) -> str:
        """``resource.group/namespace/name``: the ``object`` key of log lines about it."""
        return "/".join(p for p in (str(self.group_resource), self.namespace, self.name) if p)

    @property
    def log_keys(self) -> dict[str, str]:
        """The structured log keys naming this object (``cluster``, ``object``), never values."""
        return {"cluster": self.cluster, "object": self.object_name}


# --- reading metadata ---------------------------------------------------------------------


def metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """``obj["metadata"]``, or an empty mapping when it is missing or not a map."""
    value = obj.get("metadata")
    return value if isinstance(value, Mapping) else _EMPTY


def name(obj: Mapping[str, Any]) -> str:
    """``metadata.name``, "" when unset."""
    return str(metadata(obj).get("name") or "")


def namespace(obj: Mapping[str, Any]) -> str:
    """``metadata.namespace``, "" when unset (cluster-scoped objects)."""
    return str(metadata(obj).get("namespace") or "")


def resource_version(obj: Mapping[str, Any]) -> str:
    """``metadata.resourceVersion``, "" when unset."""
    return str(metadata(obj).get("resourceVersion") or "")


def generation(obj: Mapping[str, Any]) -> int | None:
    """``metadata.generation``, None when unset."""
    value = metadata(obj).get("generation")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def labels_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    """``metadata.labels``, an empty mapping when missing or not a map."""
    value = metadata(obj).get("labels")
    return value if isinstance(value, Mapping) else _EMPTY


def annotations_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    """``metadata.annotations``, an empty mapping when missing or not a map."""
    value = metadata(obj).get("annotations")
    return value if isinstance(value, Mapping) else _EMPTY


def annotation(obj: Mapping[str, Any], key: str) -> str:
    """The annotation ``key`` as a string, "" when absent."""
    return str(annotations_of(obj).get(key, ""))


# --- the origin annotation ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Origin:
    """The Federated object a member copy came from (annotation ``synchub.io/origin``).

    Written as ``<master>/<group>/<Kind>/<namespace>/<name>``; the namespace is "" for a
    cluster-scoped object. See docs/federated.md.
    """

    master: str
    group: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.master}/{self.group}/{self.kind}/{self.namespace}/{self.name}"

    @classmethod
    def parse(cls, text: str) -> Origin | None:
        """The origin written in ``text``, or None when it does not have five parts.

        Its parts are interned: keys made of them are held per object by several controllers.
        """
        parts = text.split("/")
        if len(parts) != 5:
            return None
        return cls(*map(sys.intern, parts))


def content_version(obj: Mapping[str, Any]) -> str:
    """What the hub's work on ``obj`` depends on, as one string.

    That is its generation (the spec) and its annotations, not its status or
    resourceVersion: work done for one content version stays done across status writes
    (docs/propagation.md, "Requests and writes"). Interned: the controllers remember it per
    object and per cluster, and equal versions are then one string in memory.
    """
    annotations = metadata(obj).get("annotations") or {}
    text = orjson.dumps(annotations, option=orjson.OPT_SORT_KEYS).decode()  # 10x json's speed
    return sys.intern(f"{generation(obj)}:{text}")
