"""A real git server on loopback for the sandbox (docs/gitsync.md, "Sandbox git server").

Smart HTTP through ``git http-backend`` (the CGI program git ships), behind HTTP basic auth,
served by a small threaded ``http.server``. ``GitServer.up`` starts it as a background
process and writes ``DIR/git.env`` (``SYNCHUB_GIT_URL``, ``SYNCHUB_GIT_USERNAME``,
``SYNCHUB_GIT_PASSWORD``); repositories live in ``DIR/git/<name>.git`` (``git init --bare``).
The password is kept in a 0600 file, never in a process argument.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from hub.core.errors import SandboxError
from hub.sandbox.process import alive, free_ports, probe, spawn, stop, tail

USERNAME = "synchub"
START_TIMEOUT = 20.0


class GitServer:
    """The git server of a sandbox directory: ``up`` (idempotent), ``down``, ``create_repo``."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory.resolve()
        self.root = self.dir / "git"
        self.state_file = self.root / "server.json"
        self.env_file = self.dir / "git.env"

    def _state(self) -> dict[str, object] | None:
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) else None

    @property
    def url(self) -> str:
        """The base URL; a repository is ``<url><name>.git``."""
        state = self._state()
        if state is None:
            raise SandboxError(f"no git server in {self.dir} (run: synchub sandbox up --git)")
        return f"http://127.0.0.1:{state['port']}/"

    @property
    def password(self) -> str:
        """The basic-auth password of the git server."""
        return (self.root / "auth").read_text().split(":", 1)[1].strip()

    def up(self) -> str:
        """Start the server unless it runs; return its base URL."""
        state = self._state()
        if state is not None and alive(int(str(state["pid"])), str(self.root)):
            return self.url
        self.root.mkdir(parents=True, exist_ok=True)
        auth = self.root / "auth"
        if not auth.exists():
            fd = os.open(auth, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(f"{USERNAME}:{secrets.token_urlsafe(18)}\n")
        port = free_ports(1)[0]
        log = self.root / "server.log"
        args = [sys.executable, "-m", "hub.sandbox.gitserver", "--root", str(self.root),
                "--port", str(port)]  # fmt: skip
        pid = spawn(args, log)
        self.state_file.write_text(json.dumps({"pid": pid, "port": port}))
        deadline = time.monotonic() + START_TIMEOUT
        while not probe(f"http://127.0.0.1:{port}/healthz"):
            if not alive(pid, str(self.root)) or time.monotonic() > deadline:
                raise SandboxError(f"git server did not start; last lines of {log}:\n{tail(log)}")
            time.sleep(0.1)
        self.env_file.write_text(
            f"SYNCHUB_GIT_URL={self.url}\nSYNCHUB_GIT_USERNAME={USERNAME}\n"
            f"SYNCHUB_GIT_PASSWORD={self.password}\n"
        )
        self.env_file.chmod(0o600)
        return self.url

    def down(self) -> None:
        """Stop the server and remove the repositories."""
        state = self._state()
        if state is not None:
            stop(int(str(state["pid"])), str(self.root))
        shutil.rmtree(self.root, ignore_errors=True)
        self.env_file.unlink(missing_ok=True)

    def create_repo(self, name: str) -> str:
        """``git init --bare`` a repository (default branch main); its URL (no credentials)."""
        path = self.root / f"{name}.git"
        if not path.exists():
            subprocess.run(
                ["git", "init", "-q", "--bare", "-b", "main", str(path)],
                check=True,
                capture_output=True,
            )
        return f"{self.url}{name}.git"


# --- the server process --------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    root: Path
    credentials: bytes

    def log_message(self, format: str, *args: object) -> None:  # noqa: ARG002  (the base's signature)
        sys.stderr.write(f"{self.command} {self.path.split('?')[0]}\n")

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self._reply(200, b"ok")
        else:
            self._backend(b"")

    def do_POST(self) -> None:
        self._backend(self._body())

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _reply(self, status: int, body: bytes, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self) -> str:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return ""
        try:
            given = base64.b64decode(header[6:], validate=True)
        except ValueError:
            return ""
        return given.split(b":")[0].decode() if hmac.compare_digest(given, self.credentials) else ""

    def _backend(self, body: bytes) -> None:
        user = self._authorized()
        if not user:
            self._reply(401, b"authentication required\n",
                        {"WWW-Authenticate": 'Basic realm="synchub sandbox git"'})  # fmt: skip
            return
        path, _, query = self.path.partition("?")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": user,
            "REMOTE_ADDR": self.client_address[0],
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
        }
        done = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
        )
        self._relay(done.stdout)

    def _relay(self, output: bytes) -> None:
        head, _, body = output.partition(b"\r\n\r\n")
        if not _:
            head, _, body = output.partition(b"\n\n")
        status, headers = 200, {}
        for line in head.decode("latin-1").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.strip().split()[0])
            elif key:
                headers[key.strip()] = value.strip()
        headers.pop("Content-Length", None)
        self._reply(status, body, headers)


def serve(root: Path, port: int) -> None:
    """Serve ``root`` on ``127.0.0.1:port`` until killed."""
    credentials = (root / "auth").read_text().strip().encode()
    handler = type("Handler", (_Handler,), {"root": root, "credentials": credentials})
    ThreadingHTTPServer(("127.0.0.1", port), handler).serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="sandbox git server (git http-backend)")
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args()
    serve(options.root, options.port)
