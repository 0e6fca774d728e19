"""Path grammar for copy rules: parse, format, read and write paths in JSON objects.

Grammar: segments joined by ``.``. A segment is

- a plain map key (``spec``, ``data``); a bare all-digit key (``containers.0``) stays a
  :class:`Key` but acts as a list index when the node it is applied to is a list;
- a list index ``[N]``, attached to the previous segment (``containers[0].image``) or
  standing alone (``containers.[0].image``, ``[0].name``);
- a quoted key ``['tls.crt']`` / ``["tls.crt"]`` (attached or standing alone) for keys with
  dots, brackets, quotes or whitespace; inside quotes a backslash escapes the next character.

Everything here is pure: objects are never mutated, only copied along the path written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeAlias

from hub.core.describe import quoted, type_of
from hub.core.errors import FieldPathError

__all__ = [
    "MAX_SEGMENTS",
    "FieldPath",
    "Index",
    "Key",
    "PathError",
    "PathNotFound",
    "PathSetError",
    "Segment",
    "delete_path",
    "format_path",
    "get_path",
    "parse_path",
    "parse_plain_path",
    "set_path",
]

#: Longest path accepted by the parsers; real objects are far shallower, and the limit keeps
#: recursion and object depth bounded for paths that come from user input.
MAX_SEGMENTS = 128

# An index needs no more digits than this; longer input is surely a mistake, and bounding it
# keeps int() away from Python's huge-integer conversion limit.
_MAX_INDEX_DIGITS = 18
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True, slots=True)
class Key:
    """A map key. An all-digit key also indexes a list when it meets one."""

    name: str

    def __str__(self) -> str:
        return format_path((self,))


@dataclass(frozen=True, slots=True)
class Index:
    """A list index written ``[N]``; only ever applies to lists."""

    index: int

    def __post_init__(self) -> None:
        if isinstance(self.index, bool) or not isinstance(self.index, int) or self.index < 0:
            raise ValueError(f"list index must be a non-negative integer, got {self.index!r}")

    def __str__(self) -> str:
        return f"[{self.index}]"


Segment: TypeAlias = Key | Index
#: A parsed copy-rule path (not pathlib's Path, nor an override's TokenPath).
FieldPath: TypeAlias = tuple[Segment, ...]


class PathError(FieldPathError):
    """A path that cannot be parsed (or used): the message is one line."""


class _AlongPath(FieldPathError):
    """Following ``path`` failed at segment ``depth``; ``detail`` says what was found there."""

    def __init__(self, path: FieldPath, depth: int, detail: str) -> None:
        self.path = path
        self.depth = depth
        self.detail = detail
        segment, where = _seg_text(path[depth]), _where(path, depth)
        super().__init__(self._message(quoted(format_path(path)), segment, where, detail))

    @staticmethod
    def _message(path: str, segment: str, where: str, detail: str) -> str:
        raise NotImplementedError


class PathNotFound(_AlongPath, LookupError):
    """Reading a path failed; names the first segment that could not be followed."""

    @staticmethod
    def _message(path: str, segment: str, where: str, detail: str) -> str:
        return f"path {path}: {segment} not found {where} ({detail})"


class PathSetError(_AlongPath):
    """Writing a path failed because the object has the wrong shape along it."""

    @staticmethod
    def _message(path: str, segment: str, where: str, detail: str) -> str:
        return f"cannot write path {path}: {segment} {where}: {detail}"


# --------------------------------------------------------------------------- parsing


def parse_path(text: str) -> FieldPath:
    """Parse the full path grammar (plain keys, ``[N]`` indices, quoted keys).

    Raises :class:`PathError` with a one-line message for malformed input.
    """
    if not text:
        raise PathError("empty path")
    segments: list[Segment] = []
    pos = 0
    while True:
        # One dot-separated element: a plain key or a bracket, then any attached brackets.
        if text.startswith("[", pos):
            pos = _parse_bracket(text, pos, segments)
        else:
            pos = _parse_plain(text, pos, segments)
        while text.startswith("[", pos):
            pos = _parse_bracket(text, pos, segments)
        if len(segments) > MAX_SEGMENTS:
            raise _error(text, f"more than {MAX_SEGMENTS} segments")
        if pos == len(text):
            return tuple(segments)
        if text[pos] != ".":
            raise _error(text, f"expected '.' or '[' at character {pos + 1}")
        pos += 1
        if pos == len(text):
            raise _error(text, "empty segment at the end (trailing '.')")


def parse_plain_path(text: str) -> FieldPath:
    """Parse the annotation-key form: plain keys joined by dots, nothing else.

    Annotation keys cannot contain brackets or quotes, so these are rejected.
    """
    if not text:
        raise PathError("empty path")
    parts = text.split(".")
    if len(parts) > MAX_SEGMENTS:
        raise _error(text, f"more than {MAX_SEGMENTS} segments")
    pos = 0
    for part in parts:
        if not part:
            raise _error(text, f"empty segment at character {pos + 1}")
        for offset, char in enumerate(part):
            if char in "[]'\"\\" or char.isspace():
                raise _error(
                    text,
                    f"{char!r} at character {pos + offset + 1}: only plain keys joined by '.' "
                    "are allowed here (no brackets or quotes)",
                )
        pos += len(part) + 1
    return tuple(Key(part) for part in parts)


def _parse_plain(text: str, pos: int, out: list[Segment]) -> int:
    """Read a plain key starting at ``pos``; return the position after it."""
    start = pos
    while pos < len(text) and text[pos] not in ".[":
        char = text[pos]
        if char == "]":
            raise _error(text, f"unexpected ']' at character {pos + 1}")
        if char in "'\"":
            raise _error(
                text, f"quote at character {pos + 1} outside brackets (write ['key'] instead)"
            )
        if char == "\\":
            raise _error(
                text, f"backslash at character {pos + 1} (quote keys with dots as ['a.b'])"
            )
        if char.isspace():
            raise _error(text, f"whitespace at character {pos + 1} (quote such keys as ['a b'])")
        pos += 1
    if pos == start:
        raise _error(text, f"empty segment at character {start + 1}")
    out.append(Key(text[start:pos]))
    return pos


def _parse_bracket(text: str, pos: int, out: list[Segment]) -> int:
    """Read ``[N]`` or a quoted ``['key']`` starting at ``pos`` (on the ``[``)."""
    if pos + 1 < len(text) and text[pos + 1] in "'\"":
        return _parse_quoted(text, pos, out)
    end = text.find("]", pos + 1)
    if end < 0:
        raise _error(text, f"unclosed '[' at character {pos + 1}")
    body = text[pos + 1 : end]
    if not body:
        raise _error(text, f"empty index '[]' at character {pos + 1}")
    if body.startswith("-") and _DIGITS.fullmatch(body[1:]):
        raise _error(text, f"negative index [{body}] at character {pos + 1}")
    if not _DIGITS.fullmatch(body):
        raise _error(
            text,
            f"index at character {pos + 1} must be a non-negative integer (quote keys as ['key'])",
        )
    if len(body) > _MAX_INDEX_DIGITS:
        raise _error(text, f"index at character {pos + 1} is too large")
    out.append(Index(int(body)))
    return end + 1


def _parse_quoted(text: str, pos: int, out: list[Segment]) -> int:
    """Read ``['key']`` or ``["key"]``; a backslash escapes the next character."""
    quote = text[pos + 1]
    chars: list[str] = []
    i = pos + 2
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            chars.append(text[i + 1])
            i += 2
            continue
        if char == quote:
            if i + 1 >= len(text):
                raise _error(text, f"unclosed '[' at character {pos + 1}")
            if text[i + 1] != "]":
                raise _error(text, f"expected ']' after the quoted key at character {i + 2}")
            out.append(Key("".join(chars)))
            return i + 2
        chars.append(char)
        i += 1
    raise _error(text, f"unclosed quote at character {pos + 2}")


def _error(text: str, problem: str) -> PathError:
    return PathError(f"invalid path {quoted(text)}: {problem}")


# --------------------------------------------------------------------------- formatting


def format_path(path: FieldPath) -> str:
    """Render a path so that ``parse_path(format_path(p)) == p`` for any non-empty path.

    Plain keys are joined with dots, indices attach as ``[N]``, and keys that need it are
    quoted. The empty path renders as ``""`` (which ``parse_path`` rejects).
    """
    out: list[str] = []
    for seg in path:
        if isinstance(seg, Index):
            out.append(f"[{seg.index}]")
        elif _is_plain(seg.name):
            out.append(f".{seg.name}" if out else seg.name)
        else:
            out.append(f"[{_quote(seg.name)}]")
    return "".join(out)


def _is_plain(name: str) -> bool:
    """True when a key can be written without quotes."""
    return bool(name) and not any(c in ".[]'\"\\" or c.isspace() for c in name)


def _quote(name: str) -> str:
    # Prefer single quotes; double quotes avoid escaping a key that contains only "'".
    quote = '"' if "'" in name and '"' not in name else "'"
    escaped = name.replace("\\", "\\\\").replace(quote, "\\" + quote)
    return f"{quote}{escaped}{quote}"


def _seg_text(seg: Segment) -> str:
    return f"index {seg}" if isinstance(seg, Index) else f"key {quoted(seg.name)}"


def _where(path: FieldPath, depth: int) -> str:
    return f"under {quoted(format_path(path[:depth]))}" if depth else "at the top level"


# --------------------------------------------------------------------------- reading

_MISSING: Any = object()


def get_path(obj: Any, path: FieldPath) -> Any:
    """Return the value at ``path`` in ``obj`` (the empty path returns ``obj`` itself).

    Raises :class:`PathNotFound` naming the first segment that could not be followed. Its
    message names only paths and types, never values (they may be Secret data).
    """
    node = obj
    for depth, seg in enumerate(path):
        node, detail = _step(node, seg)
        if node is _MISSING:
            raise PathNotFound(path, depth, detail)
    return node


def _step(node: Any, seg: Segment) -> tuple[Any, str]:
    """Follow one segment; return (child, "") or (_MISSING, why)."""
    if isinstance(node, dict):
        if isinstance(seg, Index):
            return _MISSING, "found a map, not a list"
        if seg.name in node:
            return node[seg.name], ""
        return _MISSING, "no such key"
    if isinstance(node, list):
        index = _list_index(seg)
        if index is None:
            return _MISSING, "found a list, not a map"
        if index >= len(node):
            return _MISSING, f"index out of range, the list has {len(node)} items"
        return node[index], ""
    return _MISSING, f"found {type_of(node)}, not a map or list"


def _list_index(seg: Segment) -> int | None:
    """The list index a segment stands for, or None if it is a non-numeric key."""
    if isinstance(seg, Index):
        return seg.index
    if _DIGITS.fullmatch(seg.name):
        # More digits than any list can have: treat as out of range without int() limits.
        return int(seg.name) if len(seg.name) <= _MAX_INDEX_DIGITS else 10**_MAX_INDEX_DIGITS
    return None


# --------------------------------------------------------------------------- writing


def set_path(obj: Any, path: FieldPath, value: Any) -> Any:
    """Return a copy of ``obj`` with the subtree at ``path`` replaced by ``value``.

    ``obj`` is never mutated: only the maps and lists along the path are copied, the rest is
    shared. Missing (or null) intermediate maps are created. Raises :class:`PathSetError`
    when the path runs into a scalar, a list index is out of range, or a missing node would
    have to be a list; :class:`PathError` for the empty path.
    """
    if not path:
        raise PathError("cannot set the empty path")
    return _set(obj, path, 0, value)


def _set(node: Any, path: FieldPath, depth: int, value: Any) -> Any:
    seg = path[depth]
    last = depth == len(path) - 1
    if isinstance(node, dict):
        if isinstance(seg, Index):
            raise PathSetError(path, depth, "found a map, not a list")
        child = node.get(seg.name)
        if not last and child is None:
            if isinstance(path[depth + 1], Index):
                raise PathSetError(path, depth + 1, "the list is missing and cannot be created")
            child = {}
        copied = dict(node)
        copied[seg.name] = value if last else _set(child, path, depth + 1, value)
        return copied
    if isinstance(node, list):
        index = _list_index(seg)
        if index is None:
            raise PathSetError(path, depth, "found a list, not a map")
        if index >= len(node):
            raise PathSetError(path, depth, f"index out of range, the list has {len(node)} items")
        items = list(node)
        items[index] = value if last else _set(node[index], path, depth + 1, value)
        return items
    raise PathSetError(path, depth, f"found {type_of(node)}, not a map or list")


def delete_path(obj: Any, path: FieldPath) -> Any:
    """Return a copy of ``obj`` without the map key at ``path``.

    When the path does not exist the input is returned unchanged. Removing a list element is
    refused with :class:`PathSetError`: it would shift the later elements, so repeating the
    removal would keep deleting.
    """
    if not path:
        raise PathError("cannot delete the empty path")
    return _delete(obj, path, 0)


def _delete(node: Any, path: FieldPath, depth: int) -> Any:
    seg = path[depth]
    last = depth == len(path) - 1
    if isinstance(node, dict):
        if isinstance(seg, Index) or seg.name not in node:
            return node
        copied = dict(node)
        if last:
            del copied[seg.name]
        else:
            child = node[seg.name]
            new_child = _delete(child, path, depth + 1)
            if new_child is child:
                return node
            copied[seg.name] = new_child
        return copied
    if isinstance(node, list):
        index = _list_index(seg)
        if index is None or index >= len(node):
            return node
        if last:
            raise PathSetError(path, depth, "list elements cannot be removed, only replaced")
        child = node[index]
        new_child = _delete(child, path, depth + 1)
        if new_child is child:
            return node
        items = list(node)
        items[index] = new_child
        return items
    return node
