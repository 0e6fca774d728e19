"""Logging set-up: readable text for people, one JSON object per line for collectors."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured keys a log call gave with ``extra=``.

    They are ``cluster``, ``object``, ``member_object``, ...: names of objects, never their
    values.
    """
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}


class TextFormatter(logging.Formatter):
    """One readable line; the structured keys follow as ``key=value``."""

    def format(self, record: logging.LogRecord) -> str:
        """The standard line, then `` key=value`` for each structured key."""
        line = super().format(record)
        fields = extra_fields(record)
        if not fields:
            return line
        return line + "".join(f" {k}={v}" for k, v in fields.items())


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the structured keys are top-level keys."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one JSON line."""
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(extra_fields(record))
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    """Log to stderr at ``level``, as ``text`` or ``json``."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # kubernetes_asyncio and aiohttp are chatty below warning.
    for noisy in ("kubernetes_asyncio", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
