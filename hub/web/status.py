"""The status page (``/status``) and its data (``/status.json``), rendered from snapshots.

What it does, in order: parse the query (``q`` text filter, ``state`` filter, ``object`` deep
link, ``page``, ``per``), filter the rows of one :class:`~hub.runtime.snapshots.StatusView`,
cut one page, and render it with a jinja2 template shipped in the package (autoescaped:
every name on the page is attacker-controlled text). The page is complete without
JavaScript; a small inline script re-fetches it every few seconds with the same query.

It never calls a cluster, never imports a controller, and shows names, states and messages,
never a value of a synced object (snapshots hold none). See docs/status-page.md.
"""

from __future__ import annotations

import datetime
import functools
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jinja2

from hub.runtime.snapshots import (
    SEVERITY,
    Cell,
    ClusterSnapshot,
    Health,
    ObjectRow,
    ObjectSummary,
    StatusView,
)

PER_PAGE = 200  # rows per page by default: a screenful or five, rendered in milliseconds
MAX_PER_PAGE = 5000
REFRESH_SECONDS = 5

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("hub.web", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


@dataclass(frozen=True, slots=True)
class Query:
    """What the reader asked for; every field comes from the URL and is untrusted text."""

    text: str = ""
    state: str = ""
    object: str = ""
    page: int = 1
    per: int = PER_PAGE

    @classmethod
    def parse(cls, params: Mapping[str, str], *, per: int = PER_PAGE) -> Query:
        """Read ``q``, ``state``, ``object``, ``page`` and ``per``; bad numbers fall back."""
        return cls(
            text=params.get("q", "").strip()[:200],
            state=params.get("state", "").strip()[:100],
            object=params.get("object", "").strip()[:800],
            page=max(1, _int(params.get("page"), 1)),
            per=min(MAX_PER_PAGE, max(1, _int(params["per"], per))) if "per" in params else per,
        )

    def link(self, **changes: Any) -> str:
        """``/status?…`` with this query's parameters, some changed (empty ones left out)."""
        values = {"q": self.text, "state": self.state, "object": self.object, "page": self.page}
        if self.per != PER_PAGE:
            values["per"] = self.per
        values.update(changes)
        kept = {k: v for k, v in values.items() if v not in ("", None) and (k, v) != ("page", 1)}
        return "/status" + ("?" + urlencode(kept) if kept else "")


@dataclass(frozen=True, slots=True)
class Page:
    """One page of filtered rows and the figures around it."""

    rows: tuple[ObjectRow, ...]
    matched: int
    total: int
    page: int
    pages: int
    counts: dict[str, int]  # rows per state, over every object (not just the filtered ones)
    health_counts: dict[str, int]


def matches(row: ObjectRow, query: Query) -> bool:
    """True when ``row`` passes the deep link, the state filter and the text filter."""
    if query.object and row.key != query.object:
        return False
    if not _state_matches(row, query.state):
        return False
    if not query.text:
        return True
    needle = query.text.casefold()
    haystack = [row.key, row.state, row.message]
    haystack += [f"{c.cluster} {c.state} {c.message}" for c in row.cells.values()]
    return any(needle in text.casefold() for text in haystack)


def _state_matches(row: ObjectRow, state: str) -> bool:
    if not state:
        return True
    if state == "not-ok":
        return row.health != Health.OK
    if state in (h.value for h in Health):
        return row.health == state
    return row.state == state or any(c.state == state for c in row.cells.values())


def paginate(view: StatusView, query: Query) -> Page:
    """Filter ``view``'s rows by ``query`` and cut the page it asks for."""
    rows = [r for r in view.objects if matches(r, query)]
    pages = max(1, math.ceil(len(rows) / query.per))
    page = min(query.page, pages)
    start = (page - 1) * query.per
    counts = Counter(r.state for r in view.objects)
    health = Counter(r.health.value for r in view.objects)
    return Page(
        tuple(rows[start : start + query.per]),
        len(rows),
        len(view.objects),
        page,
        pages,
        dict(sorted(counts.items())),
        {h.value: health.get(h.value, 0) for h in sorted(Health, key=SEVERITY.__getitem__)},
    )


def content_security_policy(nonce: str) -> str:
    """Only the page's own inline style and script (by nonce) run; it fetches only itself."""
    return (
        f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def render_page(
    view: StatusView, query: Query, *, nonce: str = "", now: float | None = None
) -> str:
    """The HTML page for ``query`` (a full document; the refresh script swaps one region).

    ``nonce`` marks the inline style and script for the Content-Security-Policy header;
    ``now`` (wall clock, default the view's time) is what ages are counted from.
    """
    page = paginate(view, query)
    detail = page.rows[0] if query.object and page.rows else None
    return _ENV.get_template("status.html.j2").render(
        view=view,
        hub=view.hub,
        clusters=view.clusters,
        columns=view.cluster_names,
        ready={c.name: c.ready for c in view.clusters},
        page=page,
        query=query,
        detail=detail,
        per_default=PER_PAGE,
        refresh_seconds=REFRESH_SECONDS,
        when=_when,
        now=view.taken if now is None else now,
        age=lambda stamp: _age(view.taken if now is None else now, stamp),
        link=query.link,
        nonce=nonce,
    )


def status_json(view: StatusView, query: Query) -> dict[str, Any]:
    """The same data as the page, as JSON: every matching object unless ``page`` is asked."""
    page = paginate(view, query)
    return {
        "hub": {
            "version": view.hub.version,
            "mode": view.hub.mode,
            "leader": view.hub.leader,
            "identity": view.hub.identity,
        },
        "generatedAt": _when(view.taken),
        "clusters": [_cluster_json(c) for c in view.clusters],
        "counts": {"states": page.counts, "health": page.health_counts, "total": page.total},
        "matched": page.matched,
        "page": page.page,
        "pages": page.pages,
        "objects": [_row_json(r) for r in page.rows],
    }


def _cluster_json(cluster: ClusterSnapshot) -> dict[str, Any]:
    return {
        **_same(cluster, "name", "ready", "role", "version", "mode"),
        "labels": dict(cluster.labels),
        "lastError": cluster.last_error,
        "lastProbe": _when(cluster.last_probe),
        "lastChange": _when(cluster.changed),
    }


def _row_json(row: ObjectRow) -> dict[str, Any]:
    return {
        **_same(row, "kind", "namespace", "name", "key"),
        **_verdict_json(row),
        "lastChange": _when(row.changed),
        "clusters": {
            c.cluster: {**_verdict_json(c), "lastChange": _when(c.changed)}
            for c in row.cells.values()
        },
        "sources": {p.source: _verdict_json(p) for p in row.parts},
    }


def _same(item: object, *names: str) -> dict[str, Any]:
    """The attributes ``names`` of ``item``, under the same names."""
    return {name: getattr(item, name) for name in names}


def _verdict_json(item: Cell | ObjectSummary) -> dict[str, Any]:
    """The state, health and message of an object, a cell or one controller's part."""
    return {"state": item.state, "health": item.health.value, "message": item.message}


def _when(stamp: float | None) -> str:
    """RFC 3339 UTC, second precision; "" for never."""
    return _second(int(stamp)) if stamp else ""


@functools.lru_cache(maxsize=4096)  # many cells share a second; formatting is the hot spot
def _second(stamp: int) -> str:
    moment = datetime.datetime.fromtimestamp(stamp, datetime.UTC)
    return moment.isoformat().replace("+00:00", "Z")


def _age(now: float, stamp: float | None) -> str:
    """``12s ago``, ``5m ago``, ``3h ago``, ``2d ago``; "never" without a stamp."""
    if not stamp:
        return "never"
    seconds = max(0, int(now - stamp))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default
