"""Every exception SyncHub raises, under one root.

Pure code (``hub.core``) returns problems as values (:class:`hub.core.problems.Problem`) and
raises only for programming errors; these exceptions cross I/O boundaries. Messages are one
line and name files, keys, paths or objects, never values (a Secret's data must not leak).

Catch the narrowest class that fits; never a bare ``ValueError`` around I/O::

    SyncHubError
    ├── UserError              a problem the user can fix; the CLI prints one line (exit_code)
    │   ├── ConfigError        clusters.yaml or another input file is wrong (exit 2)
    │   └── UsageError         bad command-line usage (exit 2)
    ├── KubeError              any failure talking to one cluster
    │   ├── ClusterUnreachable connection refused, timeout, TLS failure, unusable credentials
    │   │   └── CredentialsError    the kubeconfig entry cannot produce credentials
    │   ├── KubeconfigError    a kubeconfig file is missing or malformed (file, key, problem)
    │   ├── UnknownResource    discovery knows no such resource type
    │   ├── NotLeader          a write was attempted while this process holds no lease
    │   └── ApiError           the API server answered with an error status
    │       ├── Unauthorized   401
    │       ├── Forbidden      403
    │       ├── NotFound       404
    │       ├── Conflict       409
    │       ├── Gone           410
    │       └── Invalid        422
    ├── ResourceNameError      a user's RESOURCE[[.VERSION].GROUP] string names nothing
    ├── FieldPathError         a copy-rule path cannot be parsed, read or written
    │                          (PathError, PathNotFound, PathSetError beside the grammar in
    │                          core/paths.py)
    ├── LeadershipLost         the leader lease was lost; the process exits to restart clean
    ├── GitError               a git fetch, ls-remote or checkout failed (credentials scrubbed)
    ├── BuildError             a GitSync revision's manifests could not be built (transform,
    │                          kustomize, a path outside the checkout)
    ├── SandboxError           the local sandbox could not be started or used
    │   └── BinaryNotFound     kube-apiserver, etcd or another binary is not installed
    └── ControlFlow            signals between the queue and its workers, not failures
        ├── Requeue            reconcile again after a delay without counting a failure
        ├── Retry              the reconcile ran but some part failed: backoff, count a failure
        └── QueueShutDown      the work queue is shut down and empty
"""

from __future__ import annotations

from typing import Any

from hub.core import describe


class SyncHubError(Exception):
    """The root of every exception SyncHub raises on purpose."""


# --- user errors ------------------------------------------------------------------------------


class UserError(SyncHubError):
    """A problem the user can fix; printed as one line without a traceback."""

    exit_code = 1


def one_line(text: str) -> str:
    """``text`` with line breaks escaped, so a message stays one line whatever it quotes."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


class _InFile(SyncHubError):
    """Mixin: a problem at ``key`` of ``file``; the message is ``file: key: problem``."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        self.file = file
        self.key = key
        self.problem = problem
        where = f"{file}: {key}" if key else file
        # One line whatever the file, key or problem holds (a YAML key may contain "\n").
        super().__init__(one_line(f"{where}: {problem}"))


class ConfigError(_InFile, UserError):
    """Invalid configuration: names the file, the key and what is wrong (exit code 2)."""

    exit_code = 2


class UsageError(UserError):
    """Bad command-line usage (exit code 2)."""

    exit_code = 2


# --- cluster errors ---------------------------------------------------------------------------


class KubeError(SyncHubError):
    """Any failure talking to a cluster."""


class ClusterUnreachable(KubeError):
    """Connection refused, timed out, TLS failure: the cluster could not be asked."""

    def __init__(self, cluster: str, detail: str) -> None:
        self.cluster = cluster
        self.detail = detail
        super().__init__(f"cluster {cluster} unreachable: {detail}")


class CredentialsError(ClusterUnreachable):
    """The kubeconfig entry cannot produce credentials (bad exec plugin, missing file)."""


class KubeconfigError(_InFile, KubeError):
    """A kubeconfig file cannot be used; ``config/`` turns it into a ConfigError at start-up."""


class UnknownResource(KubeError, LookupError):
    """Discovery of ``cluster`` knows no resource type called ``name``."""

    def __init__(self, cluster: str, name: str) -> None:
        self.cluster = cluster
        self.name = name
        super().__init__(f"the server for cluster {cluster} doesn't have a resource type {name!r}")


class NotLeader(KubeError):
    """A write was attempted while this process does not hold the lease."""


class ApiError(KubeError):
    """The API server answered with an error status."""

    def __init__(self, cluster: str, status: int, reason: str, message: str) -> None:
        self.cluster = cluster
        self.status = status
        self.reason = reason
        self.message = message
        super().__init__(f"cluster {cluster}: {status} {reason}: {message}")

    @classmethod
    def from_response(cls, cluster: str, status: int, body: Any) -> ApiError:
        """The error for a response: the subclass for ``status``, the server's reason."""
        reason, message = "", ""
        if isinstance(body, dict) and body.get("kind") == "Status":
            reason = str(body.get("reason") or "")
            # Validation messages quote the rejected value, which may be a Secret's data.
            message = describe.without_values(str(body.get("message") or ""))
        error_class = _BY_STATUS.get(status, ApiError)
        return error_class(cluster, status, reason or _REASONS.get(status, "Error"), message)


def brief(exc: KubeError) -> str:
    """A short message for status and Events: ``403 Forbidden: …`` for API errors."""
    if isinstance(exc, ApiError):
        return f"{exc.status} {exc.reason}: {exc.message}"[:300]
    return str(exc)[:300]


class Unauthorized(ApiError):
    """401: the credentials were refused (expired token, wrong certificate)."""


class Forbidden(ApiError):
    """403: authenticated but not allowed."""


class NotFound(ApiError):
    """404."""


class Conflict(ApiError):
    """409: stale resourceVersion or the object already exists."""


class Gone(ApiError):
    """410: the resourceVersion is too old to watch from."""


class Invalid(ApiError):
    """422: the object was rejected by validation."""


_BY_STATUS: dict[int, type[ApiError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Invalid,
}
_REASONS = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    410: "Gone",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
}


# --- input the hub parses -------------------------------------------------------------------


class ResourceNameError(SyncHubError, ValueError):
    """The user's resource string cannot name a resource."""


class FieldPathError(SyncHubError, ValueError):
    """A field path that cannot be parsed or used; the message is one line."""


# --- process-level ------------------------------------------------------------------------


class LeadershipLost(SyncHubError):
    """The leader lease was lost or could not be renewed in time."""


class GitError(SyncHubError):
    """A git operation failed; the message never holds a credential (it is scrubbed)."""


class BuildError(SyncHubError):
    """The manifests of a revision could not be built; the message names the step and file."""


class SandboxError(SyncHubError):
    """The sandbox could not be started or used; the message says why in one line or a tail."""


class BinaryNotFound(SandboxError):
    """A binary the sandbox needs is not installed."""


# --- control flow -----------------------------------------------------------------------------


class ControlFlow(SyncHubError):
    """A signal between the work queue and its workers, not a failure."""


class Requeue(ControlFlow):
    """Reconcile again after ``delay`` seconds without counting as a failure."""

    def __init__(self, delay: float) -> None:
        super().__init__(f"requeue after {delay}s")
        self.delay = delay


class Retry(ControlFlow):
    """The reconcile ran but part of it failed (one cluster, say).

    Count it as a ``failure`` and reconcile again with the key's capped backoff until it
    succeeds.
    """

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        #: Retry after this many seconds instead of the key's backoff (None: the backoff).
        self.delay = delay


class QueueShutDown(ControlFlow):
    """Raised by ``WorkQueue.get`` once the queue is shut down and holds no more items."""
