"""Git access through the git command line (docs/gitsync.md, "Git access").

Why the command line: it is the one implementation that does everything a GitSync needs
(shallow fetches, ``ls-remote`` of tags with their peeled commits, short-SHA resolution,
smart HTTP with basic auth, SSH with a key and known_hosts) and it is in every image.

Rules:

- A credential is never in a process argument, a URL that is stored or logged, or an error
  message. HTTPS username and password reach git through ``GIT_ASKPASS``: a tiny script in a
  private directory that echoes two environment variables. SSH gets its key and known_hosts
  as files (mode 0600) in that directory through ``GIT_SSH_COMMAND``. Every message is
  scrubbed of the credential values and of any ``user:pass@`` in URLs.
- One working copy per GitSync. A fetch happens before any checkout, so a failed fetch
  leaves the last good checkout in place.
- Blocking: callers run these methods in a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hub.core import gitrev
from hub.core.errors import GitError, one_line

GIT_TIMEOUT = 120.0  # seconds per git command
DEEP_FETCH = "--depth=100000"  # history for tag:latest and short SHAs (effectively full)

_ASKPASS = """#!/bin/sh
case "$1" in
  Username*|username*) printf '%s\\n' "$SYNCHUB_GIT_ASKPASS_USERNAME" ;;
  *) printf '%s\\n' "$SYNCHUB_GIT_ASKPASS_PASSWORD" ;;
esac
"""
_USERINFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


@dataclass(frozen=True)
class GitCredentials:
    """HTTPS basic auth (``username``/``password``) or SSH (``identity`` + ``known_hosts``)."""

    username: str = ""
    password: str = ""
    identity: str = ""
    known_hosts: str = ""

    def values(self) -> list[str]:
        """Every secret value, for scrubbing messages."""
        return [v for v in (self.username, self.password, self.identity) if len(v) >= 3]


@dataclass(frozen=True)
class Resolved:
    """A revision: the ref's display name (branch, tag, or HEAD for a commit) and its commit."""

    name: str
    sha: str

    def __str__(self) -> str:
        return gitrev.revision(self.name, self.sha)


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` without any of ``secrets`` and without ``user:pass@`` in URLs, one line."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return one_line(_USERINFO.sub(r"\1***@", text))


def public_url(url: str) -> str:
    """``url`` without user information, safe to log and show in status."""
    return _USERINFO.sub(r"\1", url)


class Repository:
    """One working copy of one remote. Create, use, then :meth:`close` to remove secrets."""

    def __init__(self, directory: Path, url: str, credentials: GitCredentials) -> None:
        self.directory = directory
        self.url = url
        self.credentials = credentials
        self._private = Path(tempfile.mkdtemp(prefix="synchub-git-"))  # mode 0700
        self._env = self._environment()
        if not (directory / ".git").is_dir():
            directory.mkdir(parents=True, exist_ok=True)
            self._git("init", "-q")
            self._git("remote", "add", "origin", url)
        else:
            self._git("remote", "set-url", "origin", url)

    def close(self) -> None:
        """Remove the private directory (askpass script, SSH key)."""
        shutil.rmtree(self._private, ignore_errors=True)

    def _environment(self) -> dict[str, str]:
        home = self._private / "home"
        home.mkdir()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "LC_ALL": "C",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_ASKPASS": str(self._write("askpass", _ASKPASS, 0o700)),
            "SYNCHUB_GIT_ASKPASS_USERNAME": self.credentials.username,
            "SYNCHUB_GIT_ASKPASS_PASSWORD": self.credentials.password,
        }
        if self.credentials.identity:
            key = self._write("identity", self.credentials.identity.rstrip("\n") + "\n", 0o600)
            known = self._write("known_hosts", self.credentials.known_hosts, 0o600)
            env["GIT_SSH_COMMAND"] = ssh_command(key, known)
        return env

    def _write(self, name: str, text: str, mode: int) -> Path:
        path = self._private / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as out:
            out.write(text)
        return path

    def _git(self, *args: str, check: bool = True) -> str:
        """Run one git command in the working copy; GitError (scrubbed) when it fails."""
        try:
            done = subprocess.run(
                ["git", *args],
                cwd=self.directory,
                env=self._env,
                capture_output=True,
                text=True,
                timeout=GIT_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise GitError(f"git {args[0]} timed out after {GIT_TIMEOUT:.0f}s") from None
        except OSError as exc:
            raise GitError(f"cannot run git: {exc.strerror or exc}") from None
        if check and done.returncode != 0:
            lines = [ln for ln in done.stderr.splitlines() if ln.strip()] or ["(no output)"]
            raise GitError(scrub(f"git {args[0]}: {lines[-1].strip()}", self._secrets()))
        return done.stdout

    def _secrets(self) -> list[str]:
        return self.credentials.values()

    # --- remote --------------------------------------------------------------------------------

    def ls_remote(self) -> gitrev.RemoteRefs:
        """The remote's default branch, branches and tags (one round trip)."""
        return gitrev.parse_ls_remote(self._git("ls-remote", "--symref", "origin"))

    def resolve(self, ref: gitrev.RefSpec) -> Resolved:
        """Fetch what ``ref`` needs and return the revision it names (nothing checked out)."""
        remote = self.ls_remote()
        if ref.mode in ("default", "branch"):
            branch = ref.value or remote.head
            if not branch or branch not in remote.branches:
                raise GitError(f"branch {branch or '(default)'} not found on the remote")
            return Resolved(branch, self._fetch_branch(branch, shallow=True))
        if ref.mode == "tag":
            if ref.value not in remote.tags:
                raise GitError(f"tag {ref.value} not found on the remote")
            self._fetch("--depth=1", f"+refs/tags/{ref.value}:refs/tags/{ref.value}")
            return Resolved(ref.value, self._rev_parse(f"refs/tags/{ref.value}^{{commit}}"))
        if ref.mode == "latest":
            return self._latest_tag(remote)
        return Resolved("HEAD", self._commit(ref.value, remote))

    def _fetch(self, *args: str) -> None:
        self._git("fetch", "-q", "--no-tags", "origin", *args)

    def _fetch_branch(self, branch: str, *, shallow: bool) -> str:
        target = f"refs/remotes/origin/{branch}"
        depth = "--depth=1" if shallow else DEEP_FETCH
        self._fetch(depth, f"+refs/heads/{branch}:{target}")
        return self._rev_parse(target)

    def _rev_parse(self, name: str) -> str:
        return self._git("rev-parse", "--verify", "-q", name).strip()

    def _latest_tag(self, remote: gitrev.RemoteRefs) -> Resolved:
        if not remote.head:
            raise GitError("tag:latest: the remote names no default branch")
        self._fetch_branch(remote.head, shallow=False)
        history = self._git("rev-list", f"refs/remotes/origin/{remote.head}").split()
        tag = gitrev.latest_tag(remote.tags, history)
        if tag is None:
            raise GitError(f"tag:latest: no tag points at a commit of {remote.head}")
        return Resolved(tag, remote.tags[tag])

    def _commit(self, prefix: str, remote: gitrev.RemoteRefs) -> str:
        tips = [*remote.branches.values(), *remote.tags.values()]
        found = gitrev.match_prefix(prefix, tips)
        if isinstance(found, gitrev.RefError):
            raise GitError(found.message)
        if found is not None:
            self._fetch("--depth=1", found)
            return found
        self._fetch(DEEP_FETCH, "+refs/heads/*:refs/remotes/origin/*")
        sha = self._git("rev-parse", "--verify", "-q", f"{prefix}^{{commit}}", check=False)
        if not sha.strip():
            raise GitError(f"commit {prefix} not found on any branch of the remote")
        return sha.strip()

    # --- working tree ------------------------------------------------------------------------

    def checkout(self, sha: str) -> Path:
        """Check ``sha`` out (already fetched), clean of untracked files; the tree's path."""
        self._git("-c", "advice.detachedHead=false", "checkout", "-q", "--force", "--detach", sha)
        self._git("clean", "-q", "-ffdx")
        return self.directory


def ssh_command(identity: Path, known_hosts: Path) -> str:
    """The ``GIT_SSH_COMMAND`` for a key and a known_hosts file (host keys checked strictly)."""
    return (
        f"ssh -i {identity} -o IdentitiesOnly=yes -o UserKnownHostsFile={known_hosts} "
        "-o StrictHostKeyChecking=yes -o BatchMode=yes"
    )
