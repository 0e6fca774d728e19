"""Start, probe and stop the sandbox's long-lived processes (they outlive the CLI)."""

from __future__ import annotations

import os
import random
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import ExitStack, suppress
from pathlib import Path

#: Ports are drawn below the kernel's ephemeral range (32768+ by default), so an outgoing
#: connection cannot take one between our choosing it and the server binding it.
PORT_RANGE = (20000, 32000)


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (held open together so none is handed out twice)."""
    with ExitStack() as stack:
        ports: list[int] = []
        while len(ports) < count:
            port = random.randint(*PORT_RANGE)
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use: draw again
            ports.append(port)
        return ports


#: Processes this process started: their liveness is known exactly, without /proc.
_children: dict[int, subprocess.Popen[bytes]] = {}


def spawn(args: list[str], log_file: Path) -> int:
    """Start a process in its own session, output appended to ``log_file``; return its PID."""
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _children[process.pid] = process
    return process.pid


def alive(pid: int, marker: str) -> bool:
    """True while ``pid`` runs and is ours.

    For a process started by another invocation, its command line must hold ``marker``, so a
    reused PID of some other process is never mistaken for it. (Our own children are asked
    directly: right after exec, /proc may still show an empty command line.)
    """
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and marker.encode() in cmdline


def stop(pid: int, marker: str, timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout``; waits until the process is gone."""
    if not alive(pid, marker):
        return
    _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid, marker):
        if time.monotonic() > deadline:
            _signal(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5.0
        time.sleep(0.05)


def kill(pid: int, marker: str, timeout: float = 10.0) -> None:
    """SIGKILL (a crash: no graceful shutdown); waits until the process is gone."""
    if not alive(pid, marker):
        return
    _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while alive(pid, marker) and time.monotonic() < deadline:
        time.sleep(0.05)


def pause(pid: int, marker: str, paused: bool) -> None:
    """SIGSTOP (``paused``) or SIGCONT the process.

    Stopped, it holds its connections open and answers nothing (a hung server).
    """
    if alive(pid, marker):
        _signal(pid, signal.SIGSTOP if paused else signal.SIGCONT)


def _signal(pid: int, sig: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, sig)


def tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` lines of a log file, "" when it cannot be read."""
    try:
        content = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(content[-lines:])


def probe(url: str, context: ssl.SSLContext | None = None, timeout: float = 2.0) -> bool:
    """True when ``url`` answers 200 (``/readyz`` of the API server, ``/health`` of etcd)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ssl.SSLError):
        return False
