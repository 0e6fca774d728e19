"""Which git revision a GitSync wants (docs/gitsync.md, "Revisions"). Pure.

``spec.ref`` (KubeSync's ``VERSION_MODE``) is one of ``branch:<b>``, ``commit:<sha>`` (full
or short), ``tag:<t>``, ``tag:latest`` (the newest tag on a commit of the default branch), or
empty (the remote's default branch). A revision is reported as ``<ref>@sha1:<sha>``.
Nothing here raises on user input: problems come back as :class:`RefError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

RefMode = Literal["default", "branch", "commit", "tag", "latest"]

_SHA = re.compile(r"^[0-9a-f]{4,40}$")
_BAD_REF = re.compile(r"(^[-/.]|\.\.|[\s~^:?*\[\\]|@\{|/$|\.lock$|\.$)")


@dataclass(frozen=True, slots=True)
class RefSpec:
    """A parsed ``spec.ref``: ``mode`` and its argument (branch, tag name or sha prefix)."""

    mode: RefMode
    value: str = ""

    def __str__(self) -> str:
        if self.mode == "default":
            return ""
        if self.mode == "latest":
            return "tag:latest"
        return f"{self.mode}:{self.value}"


@dataclass(frozen=True, slots=True)
class RefError:
    """``spec.ref`` cannot be used; ``message`` says why in one line."""

    message: str


def parse_ref(text: str) -> RefSpec | RefError:
    """Parse ``branch:<b>``, ``commit:<sha>``, ``tag:<t>``, ``tag:latest`` or ""."""
    text = text.strip()
    if not text:
        return RefSpec("default")
    mode, sep, value = text.partition(":")
    if not sep or not value:
        return RefError(f"ref {text!r}: expected branch:<b>, commit:<sha>, tag:<t> or tag:latest")
    if mode == "commit":
        if not _SHA.match(value.lower()):
            return RefError(f"ref {text!r}: a commit is 4 to 40 hexadecimal digits")
        return RefSpec("commit", value.lower())
    if mode not in ("branch", "tag"):
        return RefError(f"ref {text!r}: unknown mode {mode!r} (branch, commit or tag)")
    if _BAD_REF.search(value):
        return RefError(f"ref {text!r}: {value!r} is not a valid git {mode} name")
    if mode == "tag":
        return RefSpec("latest") if value == "latest" else RefSpec("tag", value)
    return RefSpec("branch", value)


def revision(name: str, sha: str) -> str:
    """``<name>@sha1:<sha>``, the form status reports (``main@sha1:0123…``)."""
    return f"{name}@sha1:{sha}"


def latest_tag(tags: Mapping[str, str], history: Sequence[str]) -> str | None:
    """The newest tag on a commit of ``history`` (newest commit first); None when none is.

    ``tags`` maps tag name to the commit it points at (peeled). Among tags on the same
    commit the highest version-like name wins (``v1.10`` over ``v1.9``).
    """
    by_commit: dict[str, list[str]] = {}
    for name, sha in tags.items():
        by_commit.setdefault(sha, []).append(name)
    for sha in history:
        names = by_commit.get(sha)
        if names:
            return max(names, key=version_key)
    return None


def version_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key comparing digit runs as numbers: ``v1.10`` sorts after ``v1.9``."""
    parts = re.findall(r"\d+|\D+", name)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


def match_prefix(prefix: str, shas: Sequence[str]) -> str | RefError | None:
    """The one sha in ``shas`` starting with ``prefix``; None if none, an error if several."""
    found = sorted({s for s in shas if s.startswith(prefix.lower())})
    if len(found) > 1:
        return RefError(f"commit {prefix} is ambiguous ({len(found)} commits start with it)")
    return found[0] if found else None


@dataclass(frozen=True)
class RemoteRefs:
    """What ``git ls-remote --symref`` says: the default branch, branch tips and tags."""

    head: str
    """The default branch (HEAD's target), "" when the remote does not say."""
    branches: Mapping[str, str]
    """Branch name -> commit."""
    tags: Mapping[str, str]
    """Tag name -> the commit it points at (annotated tags peeled)."""


def parse_ls_remote(text: str) -> RemoteRefs:
    """Read ``git ls-remote --symref`` output; lines that are none of the above are skipped."""
    head, branches, tags, peeled = "", {}, {}, {}
    for line in text.splitlines():
        first, _, ref = line.partition("\t")
        if first.startswith("ref: ") and ref == "HEAD":
            head = first[5:].removeprefix("refs/heads/")
        elif ref.startswith("refs/heads/"):
            branches[ref[11:]] = first
        elif ref.startswith("refs/tags/") and ref.endswith("^{}"):
            peeled[ref[10:-3]] = first
        elif ref.startswith("refs/tags/"):
            tags[ref[10:]] = first
    return RemoteRefs(head, branches, {**tags, **peeled})
