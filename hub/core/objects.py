"""Small value types shared across the hub."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: A Kubernetes object as the API returns it: a plain JSON dict.
Obj = dict[str, Any]


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
