"""One small async HTTP client per cluster, speaking JSON dicts to the API server.

Built on aiohttp with credentials from :mod:`hub.kube.credentials`; every request has a
timeout, a 401 reloads the credentials once, and errors surface as :mod:`hub.core.errors`.
JSON is encoded and decoded with orjson: several times faster than the standard library on
the hub's objects, and it shares short keys between decoded objects (bench/memory.py).
"""

from __future__ import annotations

import asyncio
import asyncio.sslproto
import copy
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from types import TracebackType
from typing import Any

import aiohttp
import orjson
from multidict import CIMultiDict

from hub.core.errors import ApiError, ClusterUnreachable, CredentialsError, Unauthorized
from hub.kube.credentials import Credentials, Endpoint
from hub.kube.kubeconfig import ClientConfig

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
Params = Mapping[str, str | int | bool]
#: Told of every response: (verb as Kubernetes names it, HTTP status; 0 when unreachable).
Observer = Callable[[str, int], None]

TLS_READ_BUFFER = 64 * 1024
"""Bytes asyncio reads TLS into, per connection (its default, 256 KiB, is allocated and zeroed
up front: with a connection per watch, megabytes that hold nothing). A TLS record is at most
16 KiB, so reads lose nothing (bench/memory.py)."""


def _smaller_tls_buffers() -> None:
    protocol = getattr(asyncio.sslproto, "SSLProtocol", None)
    if protocol is not None and getattr(protocol, "max_size", 0) > TLS_READ_BUFFER:
        protocol.max_size = TLS_READ_BUFFER


class ClusterClient:
    """HTTP access to one cluster. Create with :meth:`connect`, close with :meth:`close`."""

    def __init__(self, cluster: ClientConfig, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.cluster = cluster
        self.name = cluster.name
        self.timeout = timeout
        self._credentials = Credentials(cluster)
        self._endpoint: Endpoint | None = None
        self._session: aiohttp.ClientSession | None = None
        self._reload_lock = asyncio.Lock()
        self._generation = 0  # bumped by every credential reload
        # Sessions replaced by a reload: requests still in flight on them finish; closed at close().
        self._retired: list[aiohttp.ClientSession] = []
        #: Impersonate-User / Impersonate-Group headers of a derived client (see impersonating).
        self._impersonate: tuple[tuple[str, str], ...] = ()
        self._derived = False
        #: Told of every request's verb and status (the hub counts them: docs/metrics.md).
        self.observer: Observer | None = None
        self._bucket: TokenBucket | None = None

    def limit_rate(self, qps: float, burst: int) -> None:
        """At most ``qps`` requests a second on average, ``burst`` at once (0: no limit).

        Watches are not counted: they are long-lived streams, not requests per second.
        """
        self._bucket = TokenBucket(qps, burst) if qps > 0 else None

    def impersonating(self, user: str, groups: tuple[str, ...] = ()) -> ClusterClient:
        """A client sharing this one's connection that acts as ``user`` (RBAC applies to it).

        Closing the derived client does nothing; close the client it came from.
        """
        derived = copy.copy(self)
        derived._impersonate = (
            ("Impersonate-User", user),
            *(("Impersonate-Group", group) for group in groups),
        )
        derived._derived = True
        return derived

    @classmethod
    async def connect(cls, cluster: ClientConfig, **kwargs: Any) -> ClusterClient:
        """A client for ``cluster``, credentials loaded and session open."""
        client = cls(cluster, **kwargs)
        await client._open()
        return client

    async def _open(self) -> None:
        _smaller_tls_buffers()
        self._endpoint = await self._credentials.load()
        if self._session is not None:
            self._retired.append(self._session)
        connector = aiohttp.TCPConnector(limit=256, ssl=self._endpoint.ssl)
        self._session = aiohttp.ClientSession(connector=connector)
        self._generation += 1

    @property
    def server(self) -> str:
        """The API server URL, "" before the client is connected."""
        return self._endpoint.server if self._endpoint else ""

    async def close(self) -> None:
        """Close the HTTP sessions, those retired by a credential reload included."""
        if self._derived:
            return
        for retired in self._retired:
            await retired.close()
        self._retired.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> ClusterClient:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Any = None,
        content_type: str = JSON,
        timeout: float | None = None,
        accept: str = JSON,
        guard: Callable[[], None] | None = None,
    ) -> Any:
        """Send one request and return the decoded JSON body; raise ApiError on error status.

        ``guard`` runs right before the request leaves (after credentials are ready) and may
        raise to stop it: the leader's write fence uses it.
        """
        for attempt in range(2):
            if self._bucket is not None:
                await self._bucket.take()
            generation = self._generation
            try:
                status, payload = await self._send(
                    method, path, params, body, content_type, timeout, accept, guard
                )
            except ClusterUnreachable:
                self._observe(request_verb(method, path), 0)
                raise
            self._observe(request_verb(method, path), status)
            if status == 401 and attempt == 0:
                await self._reload_credentials(generation)
                continue
            if status >= 400:
                raise ApiError.from_response(self.name, status, payload)
            return payload
        raise AssertionError("unreachable")

    async def _send(
        self,
        method: str,
        path: str,
        params: Params | None,
        body: Any,
        content_type: str,
        timeout: float | None,
        accept: str,
        guard: Callable[[], None] | None,
    ) -> tuple[int, Any]:
        session, endpoint = self._ready()
        data = None if body is None else encode(body)
        headers = await self._headers(accept)
        if data is not None:
            headers["Content-Type"] = content_type
        if guard is not None:
            guard()
        try:
            async with session.request(
                method,
                endpoint.server + path,
                params=_query(params),
                data=data,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout or self.timeout),
                server_hostname=endpoint.server_hostname,
                proxy=endpoint.proxy,
            ) as response:
                return response.status, _decode(await response.read())
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise ClusterUnreachable(self.name, _describe(exc)) from None

    async def _headers(self, accept: str) -> CIMultiDict[str]:
        headers = CIMultiDict([("Accept", accept), ("User-Agent", "synchub"), *self._impersonate])
        try:
            token = await self._credentials.authorization()
        except CredentialsError:
            raise
        except Exception as exc:  # auth-providers fail in many ways; report as unreachable
            raise ClusterUnreachable(self.name, f"credential refresh failed: {exc}") from None
        if token:
            headers["Authorization"] = token
        return headers

    async def _reload_credentials(self, seen_generation: int) -> None:
        """Reload once per refusal wave: requests refused together share one reload."""
        async with self._reload_lock:
            if self._generation != seen_generation:
                return  # another request already reloaded since this one was sent
            log.info("cluster %s: credentials refused, reloading them", self.name)
            await self._open()

    def _observe(self, verb: str, status: int) -> None:
        if self.observer is not None:
            self.observer(verb, status)

    def _ready(self) -> tuple[aiohttp.ClientSession, Endpoint]:
        if self._session is None or self._endpoint is None:
            raise ClusterUnreachable(self.name, "client is closed")
        return self._session, self._endpoint

    async def get(self, path: str, params: Params | None = None) -> Any:
        """GET ``path`` and return the decoded JSON body."""
        return await self.request("GET", path, params=params)

    async def stream(
        self, path: str, params: Params, *, read_timeout: float
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield the JSON lines of a watch; ends when the server closes the stream.

        ``read_timeout`` bounds the silence between lines, so a dead connection is noticed.
        """
        session, endpoint = self._ready()
        generation = self._generation
        headers = await self._headers(JSON)
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.timeout, sock_read=read_timeout
        )
        try:
            async with session.get(
                endpoint.server + path,
                params=_query(params),
                headers=headers,
                timeout=timeout,
                server_hostname=endpoint.server_hostname,
                proxy=endpoint.proxy,
            ) as response:
                self._observe("watch", response.status)
                if response.status >= 400:
                    payload = _decode(await response.read())
                    if response.status == 401:
                        await self._reload_credentials(generation)
                        raise Unauthorized(self.name, 401, "Unauthorized", "credentials refused")
                    raise ApiError.from_response(self.name, response.status, payload)
                lines = LineBuffer(self.name)
                async for chunk in response.content.iter_any():
                    for line in lines.feed(chunk):
                        yield orjson.loads(line)
                for line in lines.close():
                    yield orjson.loads(line)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise ClusterUnreachable(self.name, _describe(exc)) from None


MAX_EVENT_BYTES = 64 * 1024 * 1024
"""Longest watch event accepted: far above etcd's ~1.5 MiB object limit, yet bounded."""


class LineBuffer:
    """Splits a watch stream into its JSON lines, however long each line is.

    aiohttp's own line reader refuses lines past its buffer limit (``LineTooLong``), and a
    legal Secret near etcd's size limit is one such line; this keeps reading until the newline.
    """

    def __init__(self, cluster: str, limit: int = MAX_EVENT_BYTES) -> None:
        self.cluster = cluster
        self.limit = limit
        self._pending = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        """The complete non-blank lines ``chunk`` finishes; the rest waits for more."""
        start = len(self._pending)
        self._pending += chunk
        lines: list[bytes] = []
        begin = 0
        while (end := self._pending.find(b"\n", start)) >= 0:
            line = bytes(self._pending[begin:end])
            if line.strip():
                lines.append(line)
            begin = start = end + 1
        del self._pending[:begin]
        if len(self._pending) > self.limit:
            self._pending.clear()
            raise ClusterUnreachable(
                self.cluster, f"watch event larger than {self.limit // (1024 * 1024)} MiB"
            )
        return lines

    def close(self) -> list[bytes]:
        """What is left when the stream ends: a last line without its newline, if any."""
        rest = bytes(self._pending)
        self._pending.clear()
        return [rest] if rest.strip() else []


class TokenBucket:
    """Client-side rate limit: ``qps`` tokens a second, at most ``burst`` saved up."""

    def __init__(self, qps: float, burst: int) -> None:
        self.qps = qps
        self.burst = float(burst)
        self._tokens = float(burst)
        self._last = time.monotonic()

    async def take(self) -> None:
        """Wait until a token is free, then spend it."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.qps) - 1.0
        self._last = now
        if self._tokens < 0:
            await asyncio.sleep(-self._tokens / self.qps)


_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def request_verb(method: str, path: str) -> str:
    """The Kubernetes verb of a request.

    ``get`` or ``list`` for a GET of objects (told apart by the path), ``discovery`` for a
    GET of ``/api``, ``/apis/...`` or ``/version``; else ``create``, ``update``, ``patch``,
    ``delete``.
    """
    if method != "GET":
        return _VERBS.get(method, method.lower())
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    rest = parts[2:] if parts[:1] == ["api"] else parts[3:]
    if not rest:
        return "discovery"
    if len(rest) >= 3 and rest[0] == "namespaces":
        rest = rest[2:]
    return "list" if len(rest) == 1 else "get"


def _query(params: Params | None) -> dict[str, str] | None:
    if not params:
        return None
    return {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in params.items()}


def encode(body: Any) -> bytes:
    """A request body as compact JSON (keys that are not strings become strings)."""
    return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {"kind": "Status", "message": raw[:200].decode(errors="replace")}


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "request timed out"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"TLS certificate not trusted: {exc.certificate_error}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_error = exc.os_error
        reason = (
            "connection refused"
            if isinstance(os_error, ConnectionRefusedError)
            else os_error.strerror or str(os_error)
        )
        return f"cannot connect to {exc.host}:{exc.port}: {reason}"
    return str(exc) or type(exc).__name__
