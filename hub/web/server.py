"""HTTP endpoints (docs/metrics.md): health, readiness, metrics and the status page.

/healthz (alive), /readyz (caches synced), /metrics (Prometheus), /status (the status page)
and /status.json (its data), both rendered from snapshots.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub.core.errors import UsageError
from hub.runtime.metrics import Metrics
from hub.runtime.snapshots import Snapshots
from hub.web import status


def parse_addr(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` too) as a pair; a UsageError when malformed."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"--http-addr: {text!r} is not HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


class HttpServer:
    """Serves /healthz, /readyz, /metrics and the status page (docs/metrics.md)."""

    def __init__(
        self,
        metrics: Metrics,
        ready: Callable[[], tuple[bool, str]],
        snapshots: Snapshots | None = None,
    ) -> None:
        self.metrics = metrics
        self.ready = ready
        self.snapshots = snapshots or Snapshots()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def app(self) -> web.Application:
        """The aiohttp application with the three routes."""
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/status", self._status)
        app.router.add_get("/status.json", self._status_json)
        return app

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host:port``; :attr:`port` holds the port really bound."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, _: web.Request) -> web.Response:
        ok, why = self.ready()
        return web.Response(text=f"{why}\n", status=200 if ok else 503)

    async def _metrics(self, _: web.Request) -> web.Response:
        body = generate_latest(self.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    # Rendering runs in a thread: a page of thousands of rows must not stall the event loop
    # (leases, watches, workers). A view is frozen, so the thread reads it safely.

    async def _status(self, request: web.Request) -> web.Response:
        query = status.Query.parse(request.query)
        nonce = secrets.token_urlsafe(16)
        view = self.snapshots.view()
        page = await asyncio.to_thread(
            status.render_page, view, query, nonce=nonce, now=time.time()
        )
        headers = {**_NO_STORE, "Content-Security-Policy": status.content_security_policy(nonce)}
        return web.Response(text=page, content_type="text/html", headers=headers)

    async def _status_json(self, request: web.Request) -> web.Response:
        every = "page" not in request.query  # all matching objects unless a page is asked
        query = status.Query.parse(request.query, per=10**9 if every else status.PER_PAGE)
        view = self.snapshots.view()
        body = await asyncio.to_thread(lambda: json.dumps(status.status_json(view, query)))
        return web.Response(text=body, content_type="application/json", headers=_NO_STORE)


_NO_STORE = {"Cache-Control": "no-store"}
