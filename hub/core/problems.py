"""The one value type for a problem found in user input by pure code.

Pure code (``hub.core``) does not raise on user input: it returns a :class:`Problem` (or a
subclass naming its domain, such as ``copy_rules.RuleError`` or ``placement.PlacementError``)
beside or instead of its result. I/O code turns problems into Events, status conditions or
one-line errors (hub.core.errors). A problem's text names keys, paths and objects, never
values: a Secret's data must not reach a log, an Event or a status.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with some input, and where.

    ``str(problem)`` is ``"<where>: <message>"``, or just the message when ``where`` is "".
    """

    reason: str
    """A CamelCase word for Events and conditions, e.g. ``InvalidAnnotation``."""
    message: str
    """One line saying what is wrong; it does not repeat ``where``."""
    where: str = ""
    """What the problem is in: an annotation key, ``line 3``, a field path."""

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message
