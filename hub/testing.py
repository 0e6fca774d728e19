"""Test kit shared by tests, bench and demo: a git working repository for the sandbox server.

The repository pushes to the sandbox git server (docs/gitsync.md). Credentials reach git
through environment-held config (``http.extraHeader``), never through a URL or an argument.
"""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path


class WorkRepo:
    """A clone-less working repository: write files, commit, tag, push to ``remote``."""

    def __init__(self, directory: Path, remote: str, username: str, password: str) -> None:
        self.dir = directory
        self.remote = remote
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._env = {
            **os.environ,
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {token}",
            "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.com",
            "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.com",
            "GIT_TERMINAL_PROMPT": "0",
        }  # fmt: skip
        directory.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        """Run git in the repository; raise with git's message when it fails."""
        done = subprocess.run(
            ["git", *args], cwd=self.dir, env=self._env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"git {args[0]} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def write(self, files: dict[str, str | None]) -> None:
        """Create, replace (text) or delete (None) files, paths relative to the repository."""
        for name, text in files.items():
            path = self.dir / name
            if text is None:
                path.unlink(missing_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)

    def commit(self, message: str, files: dict[str, str | None] | None = None) -> str:
        """Write ``files``, commit everything, push ``main``; the new commit's sha."""
        if files:
            self.write(files)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        self.push("main")
        return self.git("rev-parse", "HEAD")

    def tag(self, name: str, *, annotated: bool = False) -> None:
        """Tag HEAD and push the tag."""
        self.git("tag", *(["-a", "-m", name] if annotated else []), name)
        self.push(f"refs/tags/{name}")

    def push(self, *refs: str) -> None:
        """Push ``refs`` to the remote, forced."""
        self.git("push", "-q", "--force", self.remote, *refs)
