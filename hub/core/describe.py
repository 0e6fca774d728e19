"""Words for user-facing messages that name a value's type or quote user text, never values."""

from __future__ import annotations

import re
from typing import Any


def type_of(value: Any) -> str:
    """``a string``, ``a mapping``, ``null``…: what kind of value was found, not the value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a value of type {type(value).__name__}"


def quoted(text: str, limit: int = 80) -> str:
    """User text quoted for a one-line message, cut short when long."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


# Field-error wording of the API server (apimachinery field.ErrorType): "<field>: Invalid value:
# <value>: <detail>". The value is whatever the client sent (a Secret's data, say); the field
# path and the detail are safe to show.
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_VALUE_ERROR = re.compile(
    rf"\b(Invalid|Unsupported|Duplicate|Not found) value: (?:{_QUOTED}|[^:]*?)(?=: |, |$|;)"
)


def without_values(message: str) -> str:
    """An API server message with the values it quotes removed; field paths and reasons stay.

    ``data[.dockerconfigjson]: Invalid value: "<the secret>": invalid character`` becomes
    ``data[.dockerconfigjson]: Invalid value: invalid character``.
    """
    return _VALUE_ERROR.sub(lambda m: f"{m.group(1)} value", message)
