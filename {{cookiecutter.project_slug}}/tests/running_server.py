"""The server as a real process on a free 127.0.0.1 port, started as a user starts it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .support import free_port as free_port  # re-exported: where the tests used to find it

STARTUP_TIMEOUT = 10.0
STARTUP_POLL = 0.02
LISTENING = "started websocket server at"
PROJECT = Path(__file__).parent.parent  # where ``python -m tests.serve`` finds the tests


class ServerLog:
    """A file the server logs to and tests read whole, neither moving the other's position.

    The server appends (``O_APPEND``: each write lands at the end, wherever a
    reader is); each read opens the file anew.
    """

    def __init__(self) -> None:
        descriptor, name = tempfile.mkstemp(prefix="server-", suffix=".log")
        os.close(descriptor)
        self.path = Path(name)
        self.writer: IO[bytes] = self.path.open("ab")

    def read(self) -> str:
        return self.path.read_bytes().decode(errors="replace")

    def close(self) -> None:
        self.writer.close()
        self.path.unlink(missing_ok=True)


@dataclass
class ServerProcess:
    """The server running as ``python -m {{ cookiecutter.package_name }}``, as a user starts it."""

    process: subprocess.Popen[bytes]
    port: int
    server_log: ServerLog
    args: tuple[str, ...] = ()
    logic: str | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def log(self) -> str:
        """Everything the server has logged so far."""
        return self.server_log.read()

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Signal the server (unless it has exited), wait for it to exit; return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.wait()

    def restart(self, signum: int = signal.SIGTERM) -> None:
        """Stop the server with ``signum``, then start it again (see :meth:`start_again`)."""
        self.stop(signum)
        self.start_again()

    def start_again(self) -> None:
        """Start the stopped server again, on the same port, with the same arguments and log."""
        started_before = self.log().count(LISTENING)
        self.process = _spawn(self.port, self.args, self.server_log, self.logic)
        self._wait_until_listening(started_before)

    def _wait_until_listening(self, started_before: int = 0) -> None:
        """Wait until the process logs that it listens; kill it and raise if it does not."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline and self.process.poll() is None:
            if self.log().count(LISTENING) > started_before:
                return
            time.sleep(STARTUP_POLL)
        self.stop(signal.SIGKILL)
        raise RuntimeError(f"server did not start on port {self.port}:\n{self.log()}")

    def wait(self) -> int:
        """Wait for the server to exit (killing it after a timeout); return its exit code."""
        try:
            return self.process.wait(timeout=STARTUP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


@contextlib.contextmanager
def running_server(
    *args: str, port: int | None = None, logic: str | None = None
) -> Iterator[ServerProcess]:
    """Run the server (with extra command-line ``args``) for the ``with`` block, then stop it.

    It listens on ``port``, or on a free port when none is given, and serves the
    project's logic, or with ``logic`` the one of that name in ``tests/apps.py``.
    """
    server = _start(port or free_port(), args, logic)
    try:
        yield server
    finally:
        server.stop()
        server.server_log.close()


def _start(port: int, args: tuple[str, ...], logic: str | None) -> ServerProcess:
    """Start the server on 127.0.0.1:``port`` and wait until it logs that it listens."""
    server_log = ServerLog()  # closed by running_server()
    server = ServerProcess(_spawn(port, args, server_log, logic), port, server_log, args, logic)
    server._wait_until_listening()
    return server


def _spawn(
    port: int, args: tuple[str, ...], server_log: ServerLog, logic: str | None
) -> subprocess.Popen[bytes]:
    """``python -m {{ cookiecutter.package_name }}``, or with ``logic``: the tests' logic of that name."""
    command = [sys.executable, "-m", "{{ cookiecutter.package_name }}"]
    if logic is not None:
        command = [sys.executable, "-m", "tests.serve", logic]
    return subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port), *args],
        cwd=PROJECT,
        stdout=server_log.writer,
        stderr=server_log.writer,
    )
