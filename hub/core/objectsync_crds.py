"""CustomResourceDefinitions of the three ObjectSync forms (docs/objectsync.md).

Structural schemas (a misspelt field is refused by the API server), a status subresource,
printer columns READY, DESTINATIONS and AGE, short names. The accepted forms' schemas keep
their tools' field names exactly, so their users' manifests apply unchanged.
"""

from __future__ import annotations

from typing import Any

from hub.core.crd_schema import (
    STRING,
    STRINGS,
    crd_document,
    label_selector,
    object_schema,
    synchub_names,
)
from hub.core.objectsync import (
    READY_CONDITION,
    REPLIKA_GROUP,
    RUSTRIAL_GROUP,
    SOURCE_SYNCED_CONDITION,
    SYNCHUB_GROUP,
)

_OPEN: dict[str, Any] = {"x-kubernetes-preserve-unknown-fields": True}

LABEL_SELECTOR: dict[str, Any] = label_selector(STRING)

_CONDITION: dict[str, Any] = {
    "type": "object",
    "required": ["type", "status"],
    "properties": {
        "type": STRING,
        "status": STRING,
        "reason": STRING,
        "message": STRING,
        "lastTransitionTime": STRING,
        "observedGeneration": {"type": "integer"},
    },
}

STATUS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "observedGeneration": {"type": "integer"},
        "conditions": {"type": "array", "items": _CONDITION},
        "destinationSummary": STRING,
        "destinations": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "cluster": STRING,
                    "namespace": STRING,
                    "name": STRING,
                    "status": STRING,
                    "message": STRING,
                    "syncedVersion": STRING,
                },
            },
        },
    },
}


def _source(required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "properties": {
            "group": STRING,
            "version": STRING,
            "kind": STRING,
            "name": STRING,
            "namespace": STRING,
        },
    }


_STRATEGY: dict[str, Any] = {"type": "string", "enum": ["apply", "replace"]}


def _columns(condition: str) -> list[dict[str, Any]]:
    return [
        {
            "name": "Ready",
            "type": "string",
            "jsonPath": f'.status.conditions[?(@.type=="{condition}")].status',
        },
        {"name": "Destinations", "type": "string", "jsonPath": ".status.destinationSummary"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]


def _crd(
    group: str,
    kind: str,
    versions: tuple[str, ...],
    spec: dict[str, Any],
    *,
    condition: str,
    short_names: list[str],
) -> dict[str, Any]:
    schema = object_schema(spec, STATUS, string=STRING)
    served = [
        {
            "name": version,
            "served": True,
            "storage": version == versions[-1],
            "subresources": {"status": {}},
            "additionalPrinterColumns": _columns(condition),
            "schema": {"openAPIV3Schema": schema},
        }
        for version in versions
    ]
    return crd_document(group, synchub_names(kind, kind.lower() + "s", short_names), served)


def _objectsync_crd(
    group: str, destination: dict[str, Any], short_name: str, **properties: dict[str, Any]
) -> dict[str, Any]:
    """An ObjectSync form: one source, a list of ``destination``, other ``properties``."""
    spec = {
        "type": "object",
        "required": ["source", "destinations"],
        "properties": {
            "source": _source(["kind", "name"]),
            "destinations": {"type": "array", "items": destination},
            **properties,
        },
    }
    one = ("v1alpha1",)
    return _crd(group, "ObjectSync", one, spec, condition=READY_CONDITION, short_names=[short_name])


def synchub_objectsync_crd() -> dict[str, Any]:
    """``objectsyncs.synchub.io``: SyncHub's own form, with clusters, selectors and keys."""
    destination = {
        "type": "object",
        "properties": {
            "namespace": STRING,
            "namespaceSelector": LABEL_SELECTOR,
            "exclude": STRINGS,
            "name": STRING,
            "clusters": {
                "type": "object",
                "properties": {"names": STRINGS, "selector": LABEL_SELECTOR},
            },
            # A list of keys to keep, or a map of keys to rename: two shapes, so left open.
            "keys": _OPEN,
            "strategy": _STRATEGY,
        },
    }
    return _objectsync_crd(
        SYNCHUB_GROUP,
        destination,
        "osync",
        strategy=_STRATEGY,
        updateMode={"type": "string", "enum": ["sync", "create-only"]},
    )


def rustrial_objectsync_crd() -> dict[str, Any]:
    """``objectsyncs.sync.rustrial.org``: k8s-object-syncer's form, field for field."""
    destination = {
        "type": "object",
        "required": ["namespace"],
        "properties": {"namespace": STRING, "name": STRING, "strategy": _STRATEGY},
    }
    return _objectsync_crd(RUSTRIAL_GROUP, destination, "objsync")


def replika_crd() -> dict[str, Any]:
    """``replikas.replika.prosimcorp.com``: Replika's form, v1alpha1 and v1beta1 (storage)."""
    spec = {
        "type": "object",
        "required": ["synchronization", "source", "target"],
        "properties": {
            "synchronization": {
                "type": "object",
                "required": ["time"],
                "properties": {"time": STRING},
            },
            "source": _source(["group", "version", "kind", "name"]),
            "target": {
                "type": "object",
                "properties": {
                    "namespaces": {
                        "type": "object",
                        "required": ["matchAll"],
                        "properties": {
                            "replicateIn": STRINGS,
                            "matchAll": {"type": "boolean"},
                            "excludeFrom": STRINGS,
                        },
                    }
                },
            },
        },
    }
    return _crd(
        REPLIKA_GROUP,
        "Replika",
        ("v1alpha1", "v1beta1"),
        spec,
        condition=SOURCE_SYNCED_CONDITION,
        short_names=["rpk"],
    )
