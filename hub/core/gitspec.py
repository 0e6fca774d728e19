"""The GitSync resource: its spec read into a value, its CRD, its words (docs/gitsync.md). Pure.

:func:`parse_spec` never raises on user input; a problem comes back as :class:`SpecError`
naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.core import gitrev
from hub.core.crd_schema import crd_document, object_schema, synchub_names
from hub.core.durations import parse_duration
from hub.core.federation import RECONCILE_AT_ANNOTATION
from hub.core.objects import Obj

GROUP = "synchub.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "GitSync"
PLURAL = "gitsyncs"
DEFAULT_INTERVAL = 300.0  # seconds (KubeSync's INTERVAL default)
RECONCILE_ANNOTATION = RECONCILE_AT_ANNOTATION  # one spelling, in core.federation
SUSPEND_ANNOTATION = "synchub.io/suspend"
#: Set before the first apply, cleared once what the GitSync applied is pruned everywhere.
FINALIZER = "synchub.io/gitsync"

# Condition reasons on GitSync status.
APPLIED = "Applied"
SUSPENDED = "Suspended"
SERVICE_ACCOUNT_REQUIRED = "ServiceAccountRequired"
INVALID_SPEC = "InvalidSpec"
FETCH_FAILED = "FetchFailed"
BUILD_FAILED = "BuildFailed"
MANIFEST_INVALID = "ManifestInvalid"
REFUSED = "Refused"
VALIDATION_FAILED = "ValidationFailed"
APPLY_FAILED = "ApplyFailed"
DRY_RUN = "DryRun"
WAITING_FOR_REMOVAL = "WaitingForRemoval"
DELETION_TIMED_OUT = "DeletionTimedOut"


@dataclass(frozen=True)
class GitSyncSpec:
    """A GitSync's spec, checked."""

    url: str
    ref: gitrev.RefSpec
    path: str = ""
    interval: float = DEFAULT_INTERVAL
    secret_name: str = ""
    transform: tuple[str, ...] = ()
    kustomize: bool = False
    placement: Obj | None = None
    namespaces: tuple[str, ...] = ()
    service_account: str = ""
    prune: bool = True
    suspend: bool = False
    dry_run: bool = False


@dataclass(frozen=True)
class SpecError:
    """A spec field that cannot be used."""

    message: str


def parse_spec(obj: Obj) -> GitSyncSpec | SpecError:
    """Read ``obj['spec']``; suspend also follows the ``synchub.io/suspend`` annotation."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return SpecError("spec must be a mapping")
    url = spec.get("url")
    if not isinstance(url, str) or not url.startswith(("https://", "http://", "ssh://", "file://")):
        return SpecError("spec.url must be an https://, http://, ssh:// or file:// URL")
    ref = gitrev.parse_ref(str(spec.get("ref") or ""))
    if isinstance(ref, gitrev.RefError):
        return SpecError(f"spec.ref: {ref.message}")
    interval = parse_duration(spec.get("interval", DEFAULT_INTERVAL))
    if interval is None or interval < 1:
        return SpecError("spec.interval must be a duration of at least 1s, like 30s or 5m")
    transform = _transform(spec.get("transform"))
    if isinstance(transform, SpecError):
        return transform
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    secret = spec.get("secretRef") or {}
    return GitSyncSpec(
        url=url,
        ref=ref,
        path=str(spec.get("path") or ""),
        interval=interval,
        secret_name=str(secret.get("name") or "") if isinstance(secret, dict) else "",
        transform=transform,
        kustomize=spec.get("kustomize") is True,
        placement=spec.get("placement") if isinstance(spec.get("placement"), dict) else None,
        namespaces=tuple(str(n) for n in spec.get("namespaces") or ()),
        service_account=str(spec.get("serviceAccountName") or ""),
        prune=spec.get("prune") is not False,
        suspend=spec.get("suspend") is True or annotations.get(SUSPEND_ANNOTATION) == "true",
        dry_run=spec.get("dryRun") is True,
    )


def _transform(raw: Any) -> tuple[str, ...] | SpecError:
    if raw is None:
        return ()
    command = raw.get("command") if isinstance(raw, dict) else None
    if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
        return SpecError("spec.transform.command must be a non-empty list of strings")
    return tuple(command)


def placement_object(placement: Obj | None) -> Obj | None:
    """A KubeFed-shaped object for ``placement.select_clusters``; None means the master only.

    A placement naming neither ``clusters`` nor ``clusterSelector`` selects the master only.
    """
    if not placement or ("clusters" not in placement and "clusterSelector" not in placement):
        return None
    return {"apiVersion": "types.kubefed.io/v1beta1", "spec": {"placement": placement}}


def origin(master: str, namespace: str, name: str) -> str:
    """The ``synchub.io/origin`` of what a GitSync applies."""
    return f"{master}/{GROUP}/{KIND}/{namespace}/{name}"


def impersonation(namespace: str, service_account: str) -> tuple[str, tuple[str, ...]]:
    """The user and groups a ServiceAccount's requests carry."""
    user = f"system:serviceaccount:{namespace}:{service_account}"
    groups = ("system:serviceaccounts", f"system:serviceaccounts:{namespace}",
              "system:authenticated")  # fmt: skip
    return user, groups


# --- the CRD --------------------------------------------------------------------------------

_OPEN: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
_STRING: dict[str, Any] = {"type": "string"}
_BOOL: dict[str, Any] = {"type": "boolean"}
_READY = '.status.conditions[?(@.type=="Ready")].status'


def _spec_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["url"],
        "properties": {
            "url": _STRING,
            "ref": _STRING,
            "path": _STRING,
            "interval": {"x-kubernetes-int-or-string": True},
            "secretRef": {"type": "object", "properties": {"name": _STRING}},
            "transform": {
                "type": "object",
                "properties": {"command": {"type": "array", "items": _STRING}},
            },
            "kustomize": _BOOL,
            "placement": _OPEN,
            "namespaces": {"type": "array", "items": _STRING},
            "serviceAccountName": _STRING,
            "prune": _BOOL,
            "suspend": _BOOL,
            "dryRun": _BOOL,
        },
    }


def gitsync_crd() -> dict[str, Any]:
    """The ``gitsyncs.synchub.io`` CRD: structural spec, open status, printer columns."""
    schema = object_schema(_spec_schema(), _OPEN, string=_STRING)
    columns = [
        {"name": "Ready", "type": "string", "jsonPath": _READY},
        {"name": "Revision", "type": "string", "jsonPath": ".status.lastAppliedRevision"},
        {"name": "Objects", "type": "integer", "jsonPath": ".status.inventory.count"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]  # fmt: skip
    version = {"name": VERSION, "served": True, "storage": True, "subresources": {"status": {}},
               "additionalPrinterColumns": columns,
               "schema": {"openAPIV3Schema": schema}}  # fmt: skip
    return crd_document(GROUP, synchub_names(KIND, PLURAL, ["gs"]), [version])


# --- the KubeSync drop-in -------------------------------------------------------------------

KUBESYNC_VARIABLES = ("REPO", "CMD", "YMLDIR", "INTERVAL", "VERSION_MODE", "REPOCREDS",
                      "DRYRUN", "ONCE", "KUBECTL_OPTIONS")  # fmt: skip


@dataclass(frozen=True)
class KubeSyncEnv:
    """KubeSync's environment, read: the spec it stands for and where to apply it."""

    spec: GitSyncSpec
    username: str = ""
    password: str = ""
    once: bool = False
    kubeconfig: str = ""
    context: str = ""


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def _kubectl_options(text: str) -> tuple[str, str] | SpecError:
    words, found = text.split(), {"--kubeconfig": "", "--context": ""}
    index = 0
    while index < len(words):
        word = words[index]
        name, eq, value = word.partition("=")
        if name not in found:
            return SpecError(f"KUBECTL_OPTIONS: {name} is not supported (--kubeconfig, --context)")
        if not eq:
            index += 1
            if index == len(words):
                return SpecError(f"KUBECTL_OPTIONS: {name} needs a value")
            value = words[index]
        found[name] = value
        index += 1
    return found["--kubeconfig"], found["--context"]


def parse_kubesync_env(environ: dict[str, str]) -> KubeSyncEnv | SpecError:
    """Read KubeSync's variables (docs/gitsync.md, "KubeSync drop-in"); never raises."""
    repo = environ.get("REPO", "").strip()
    if not repo:
        return SpecError("REPO is not set (the git URL to sync)")
    interval = environ.get("INTERVAL", "").strip() or str(int(DEFAULT_INTERVAL))
    if not interval.isdigit() or int(interval) < 1:
        return SpecError(f"INTERVAL: {interval!r} is not a number of seconds")
    username, sep, password = environ.get("REPOCREDS", "").partition(":")
    if environ.get("REPOCREDS") and not sep:
        return SpecError("REPOCREDS must be user:password")
    options = _kubectl_options(environ.get("KUBECTL_OPTIONS", ""))
    if isinstance(options, SpecError):
        return options
    command = environ.get("CMD", "").strip()
    spec = parse_spec({"spec": {
        "url": repo, "ref": environ.get("VERSION_MODE", "").strip() or "branch:master",
        "path": environ.get("YMLDIR", ""), "interval": int(interval),
        "transform": {"command": ["sh", "-c", command]} if command else None,
        "dryRun": _truthy(environ.get("DRYRUN", "")),
    }})  # fmt: skip
    if isinstance(spec, SpecError):
        return SpecError(
            spec.message.replace("spec.url", "REPO").replace("spec.ref", "VERSION_MODE")
        )
    return KubeSyncEnv(spec, username, password, _truthy(environ.get("ONCE", "")), *options)
