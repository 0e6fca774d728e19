"""API errors as values the hub can reason about; messages never carry object data."""

from __future__ import annotations

from typing import Any


class KubeError(Exception):
    """Any failure talking to a cluster."""


class ClusterUnreachable(KubeError):
    """Connection refused, timed out, TLS failure: the cluster could not be asked."""

    def __init__(self, cluster: str, detail: str) -> None:
        self.cluster = cluster
        super().__init__(f"cluster {cluster} unreachable: {detail}")


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
        reason, message = "", ""
        if isinstance(body, dict) and body.get("kind") == "Status":
            reason = str(body.get("reason") or "")
            message = str(body.get("message") or "")
        error_class = _BY_STATUS.get(status, ApiError)
        return error_class(cluster, status, reason or _REASONS.get(status, "Error"), message)


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
