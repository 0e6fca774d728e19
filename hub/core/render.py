"""Render a Federated object into the manifest for one member cluster (docs/federated.md).

Steps: copy ``spec.template``; drop server-owned metadata and ``status``; set apiVersion,
kind, name and namespace; apply the cluster's overrides; add the managed label, the origin
annotation and the desired-hash annotation. Pure: inputs are never mutated.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.core.federation import (
    FEDERATED_GROUPS,
    HASH_ANNOTATION,
    MANAGED_LABEL,
    ORIGIN_ANNOTATION,
    api_group,
    target_kind,
)
from hub.core.objects import Obj, Origin
from hub.core.overrides import OverrideError, apply_overrides_in_place
from hub.core.problems import Problem

#: Metadata the API server owns; copying it to a member would fail or lie.
SERVER_OWNED_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "ownerReferences",
    "selfLink",
    "finalizers",
    # Meaningless once the name is set; dropped so it cannot differ between renders.
    "generateName",
)

#: Hex digits of sha256 kept in the desired-hash annotation (128 bits).
HASH_LENGTH = 32


@dataclass(frozen=True, slots=True)
class Rendered:
    """The manifest for one member cluster and its desired hash (also in its annotations)."""

    obj: Obj
    desired_hash: str


class RenderError(Problem):
    """Why a Federated object cannot be rendered for a cluster (reason ``RenderFailed``).

    Safe to show: it names fields and clusters, never values.
    """

    __slots__ = ()

    def __init__(self, message: str) -> None:
        super().__init__("RenderFailed", message)


class _Invalid(Exception):
    """Internal: aborts rendering; turned into a ``RenderError``."""


def target_api_version(federated_obj: Obj) -> str | None:
    """The template's apiVersion, or ``None`` when unset (the caller then uses discovery)."""
    spec = federated_obj.get("spec")
    template = spec.get("template") if isinstance(spec, Mapping) else None
    api_version = template.get("apiVersion") if isinstance(template, Mapping) else None
    return api_version if isinstance(api_version, str) and api_version else None


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: equal objects give equal text.

    Raises ``TypeError``/``ValueError`` for values JSON cannot represent (including NaN).
    """
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def compute_hash(obj: Any) -> str:
    """The desired hash of ``obj``: a prefix of the sha256 of its canonical JSON."""
    digest = hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()
    return digest[:HASH_LENGTH]


def _identity(federated_obj: Obj) -> tuple[str, str, str, str]:
    """Group, Federated kind, namespace ("" if cluster-scoped) and name of the object."""
    api_version = federated_obj.get("apiVersion")
    group = api_group(api_version) if isinstance(api_version, str) else ""
    if group not in FEDERATED_GROUPS:
        raise _Invalid(f"apiVersion {api_version!r} is not a Federated type group")
    kind = federated_obj.get("kind")
    if not isinstance(kind, str):
        raise _Invalid("kind must be a string")
    metadata = federated_obj.get("metadata")
    if not isinstance(metadata, Mapping):
        raise _Invalid("metadata must be a map")
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise _Invalid("metadata.name must be a non-empty string")
    namespace = metadata.get("namespace") or ""
    if not isinstance(namespace, str):
        raise _Invalid("metadata.namespace must be a string")
    return group, kind, namespace, name


def _template(federated_obj: Obj, kind: str) -> Obj:
    """A deep copy of ``spec.template``, checked against the target kind."""
    spec = federated_obj.get("spec")
    template = spec.get("template") if isinstance(spec, Mapping) else None
    if template is None:
        raise _Invalid("spec.template is missing")
    if not isinstance(template, Mapping):
        raise _Invalid("spec.template must be a map")
    template_kind = template.get("kind")
    if template_kind is not None and template_kind != kind:
        raise _Invalid(f"spec.template.kind {template_kind!r} does not match {kind!r}")
    return copy.deepcopy(dict(template))


def strip_server_owned(obj: Obj) -> None:
    """Drop ``status`` and the metadata the API server owns (in place, on a copy)."""
    obj.pop("status", None)
    metadata = obj.get("metadata")
    if isinstance(metadata, dict):
        for key in SERVER_OWNED_METADATA:
            metadata.pop(key, None)


def _string_map(metadata: Obj, key: str) -> dict[str, Any]:
    """``metadata[key]`` as a dict, created when missing or null."""
    value = metadata.get(key)
    if value is None:
        value = metadata[key] = {}
    if not isinstance(value, dict):
        raise _Invalid(f"metadata.{key} must be a map")
    return value


def _render(
    federated_obj: Obj, cluster_name: str, master_name: str, api_version: str
) -> Rendered | RenderError:
    group, federated, namespace, name = _identity(federated_obj)
    try:
        kind = target_kind(federated)
    except ValueError as err:
        raise _Invalid(str(err)) from None
    if not api_version:
        raise _Invalid("the target apiVersion is empty")

    obj = _template(federated_obj, kind)
    obj["apiVersion"] = api_version
    obj["kind"] = kind
    metadata = obj.get("metadata")
    if metadata is None:
        metadata = obj["metadata"] = {}
    if not isinstance(metadata, dict):
        raise _Invalid("spec.template.metadata must be a map")
    metadata["name"] = name
    if namespace:
        metadata["namespace"] = namespace
    else:
        metadata.pop("namespace", None)
    strip_server_owned(obj)

    overridden = apply_overrides_in_place(obj, federated_obj, cluster_name)
    if isinstance(overridden, OverrideError):
        return RenderError(overridden.message)  # already names the cluster
    # Overrides cannot touch /metadata itself, but may have added server-owned fields.
    obj = overridden
    strip_server_owned(obj)
    metadata = obj["metadata"]

    _string_map(metadata, "labels")[MANAGED_LABEL] = "true"
    annotations = _string_map(metadata, "annotations")
    annotations[ORIGIN_ANNOTATION] = str(Origin(master_name, group, federated, namespace, name))
    # A hash copied into the template must not feed into the new hash.
    annotations.pop(HASH_ANNOTATION, None)
    try:
        desired_hash = compute_hash(obj)
    except (TypeError, ValueError):
        raise _Invalid("the rendered object contains values JSON cannot represent") from None
    annotations[HASH_ANNOTATION] = desired_hash
    return Rendered(obj, desired_hash)


def render(
    federated_obj: Obj, cluster_name: str, *, master_name: str, target_api_version: str
) -> Rendered | RenderError:
    """Render ``federated_obj`` for ``cluster_name`` (docs/federated.md).

    ``target_api_version`` is the template's apiVersion when set (see
    :func:`target_api_version`), else the version the member prefers for the kind. The
    desired hash covers the whole rendered object except the hash annotation itself.
    """
    try:
        return _render(federated_obj, cluster_name, master_name, target_api_version)
    except _Invalid as err:
        return RenderError(f"cluster {cluster_name!r}: {err}")
