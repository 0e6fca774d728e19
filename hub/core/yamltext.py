"""YAML text to plain data, with every failure as one line (pure; no files).

PyYAML builds nested collections recursively, so a deeply nested document (5,000 ``[``, say)
raises ``RecursionError`` deep inside it; and code walking what it built would recurse too.
Both end here: a parse error, a too-deep document and any nesting over :data:`MAX_DEPTH` are
a :class:`YamlFault` naming the line when known. Callers turn it into their own user error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from hub.core.yamlfile import StrictLoader

MAX_DEPTH = 200  # nesting levels; configuration and manifests (CRD schemas too) need fewer
TOO_DEEP = f"nested too deeply (more than {MAX_DEPTH} levels)"


@dataclass(frozen=True)
class YamlFault:
    """Why a YAML text could not be read: ``where`` (``"line 3"`` or ``""``) and ``problem``."""

    where: str
    problem: str


def load_all(text: str) -> list[Any] | YamlFault:
    """Every document of ``text``, or why it cannot be read."""
    try:
        # Strict: a duplicate key is an error (hub.core.yamlfile.StrictLoader), as kubectl has it.
        documents = list(yaml.load_all(text, Loader=StrictLoader))  # a SafeLoader: safe
    except yaml.YAMLError as exc:
        return _fault(text, exc)
    except RecursionError:
        return YamlFault("", TOO_DEEP)
    if any(too_deep(document) for document in documents):
        return YamlFault("", TOO_DEEP)
    return documents


def load(text: str) -> Any:
    """The single document of ``text`` (None when empty), or a :class:`YamlFault`."""
    documents = load_all(text)
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


def _fault(text: str, exc: yaml.YAMLError) -> YamlFault:
    mark = getattr(exc, "problem_mark", None)
    position = getattr(exc, "position", None)  # a ReaderError (bad character) has no mark
    if mark is not None:
        where = f"line {mark.line + 1}"
    elif isinstance(position, int):
        where = f"line {text.count(chr(10), 0, position) + 1}"
    else:
        where = ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return YamlFault(where, f"invalid YAML: {problem}")
