"""Durations as users write them: ``30s``, ``5m``, ``1h30m``, ``250ms`` or a number of seconds."""

from __future__ import annotations

import re
from typing import Any

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(raw: Any) -> float | None:
    """Seconds, or None when ``raw`` is not a duration (negative numbers are not)."""
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw) if raw >= 0 else None
    text = raw.strip() if isinstance(raw, str) else ""
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _SCALE[u] for n, u in parts)
