"""YAML that users write: one safe loader, and one way to say where a problem is.

:func:`load` parses text with :class:`StrictLoader` (``yaml.SafeLoader`` that refuses a
duplicate mapping key, naming it and both lines) and returns either the document or a
:class:`~hub.core.problems.Problem` whose ``where`` is ``line N`` — never an exception, and
never a traceback for absurd input: nesting too deep for the parser and numbers too long to
convert become one-line problems too. :func:`problem_of` turns a PyYAML error into the same
problem. Messages carry PyYAML's description and the position, never the marked snippet
(it would echo file content, which may be a credential).

:func:`load_data` and :func:`load_all_data` return the plain data instead, or a
:class:`YamlFault` (``where`` and ``problem``), for callers that raise their own user error.
PyYAML builds nested collections recursively, so a deeply nested document (5,000 ``[``, say)
raises ``RecursionError`` deep inside it, and code walking what it built would recurse too:
for these two, a too-deep document and any nesting over :data:`MAX_DEPTH` are a fault too.

Reading files is the caller's: this module only parses text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from hub.core.describe import quoted
from hub.core.problems import Problem

#: The reason of every problem returned here.
INVALID_YAML = "InvalidYAML"

_MERGE_TAG = "tag:yaml.org,2002:merge"

MAX_DEPTH = 200  # nesting levels; configuration and manifests (CRD schemas too) need fewer
TOO_DEEP = f"nested too deeply (more than {MAX_DEPTH} levels)"


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping.

    PyYAML would keep the last value silently; in a configuration file that hides a mistake.
    Keys brought in by a merge (``<<: *defaults``) may still be overridden.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """Build a mapping after checking that no key is given twice."""
        if isinstance(node, yaml.MappingNode):
            _check_duplicates(self, node)
        return super().construct_mapping(node, deep=deep)


def _check_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> None:
    first_line: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == _MERGE_TAG:
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            seen = key in first_line
        except TypeError:
            continue  # an unhashable key: SafeLoader reports it itself
        if seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {quoted(str(key))} (first given at line {first_line[key]})",
                key_node.start_mark,
            )
        first_line[key] = key_node.start_mark.line + 1


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed YAML document: ``value`` is what ``yaml.safe_load`` would return."""

    value: Any


def load(
    text: str, *, loader: type[yaml.SafeLoader] = StrictLoader, columns: bool = False
) -> Document | Problem:
    """Parse one YAML document; a :class:`Problem` (``where`` = ``line N``) when it is invalid.

    ``loader`` must be :class:`StrictLoader` or another ``SafeLoader`` subclass. With
    ``columns`` the position also names the column (useful for one-line JSON).
    """
    value, problem = _parse(lambda: yaml.load(text, Loader=loader), text, columns)  # safe
    return problem or Document(value)


@dataclass(frozen=True, slots=True)
class Documents:
    """Every document of a YAML stream, in order (``---`` separates them)."""

    values: tuple[Any, ...]


def load_all(text: str, *, loader: type[yaml.SafeLoader] = StrictLoader) -> Documents | Problem:
    """Parse a stream of YAML documents, as :func:`load` parses one."""
    values, problem = _parse(lambda: tuple(yaml.load_all(text, Loader=loader)), text, False)
    return problem or Documents(values)


def _parse(parse: Callable[[], Any], text: str, columns: bool) -> tuple[Any, Problem | None]:
    try:
        return parse(), None
    except yaml.YAMLError as exc:
        return None, problem_of(exc, text, columns=columns)
    except RecursionError:
        return None, Problem(INVALID_YAML, "nested too deeply to read")
    except ValueError:
        # PyYAML's constructors call int(), float() and datetime() on user text.
        return None, Problem(
            INVALID_YAML, "a value cannot be read (a number too long or a bad date)"
        )


def problem_of(exc: yaml.YAMLError, text: str = "", *, columns: bool = False) -> Problem:
    """The one-line problem for a PyYAML error: ``str()`` of it reads ``line N: what``."""
    mark = getattr(exc, "problem_mark", None)
    position = getattr(exc, "position", None)  # a ReaderError (bad character) has no mark
    if mark is not None:
        where = f"line {mark.line + 1}"
        if columns:
            where += f", column {mark.column + 1}"
    elif isinstance(position, int) and text:
        where = f"line {text.count(chr(10), 0, position) + 1}"
    else:
        where = ""
    problem = getattr(exc, "problem", None) or (str(exc).splitlines() or ["syntax error"])[0]
    return Problem(INVALID_YAML, str(problem), where)


@dataclass(frozen=True)
class YamlFault:
    """Why a YAML text could not be read: ``where`` (``"line 3"`` or ``""``) and ``problem``."""

    where: str
    problem: str


def load_all_data(text: str) -> list[Any] | YamlFault:
    """Every document of ``text``, or why it cannot be read."""
    try:
        # Strict: a duplicate key is an error (StrictLoader), as kubectl has it.
        documents = list(yaml.load_all(text, Loader=StrictLoader))  # a SafeLoader: safe
    except yaml.YAMLError as exc:
        found = problem_of(exc, text)
        return YamlFault(found.where, f"invalid YAML: {found.message}")
    except RecursionError:
        return YamlFault("", TOO_DEEP)
    if any(too_deep(document) for document in documents):
        return YamlFault("", TOO_DEEP)
    return documents


def load_data(text: str) -> Any:
    """The single document of ``text`` (None when empty), or a :class:`YamlFault`."""
    documents = load_all_data(text)
    if isinstance(documents, YamlFault):
        return documents
    if len(documents) > 1:
        return YamlFault("", "expected one YAML document, found several")
    return documents[0] if documents else None


def too_deep(value: Any) -> bool:
    """Nesting deeper than :data:`MAX_DEPTH`, found without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack += [(child, depth + 1) for child in children]
    return False
