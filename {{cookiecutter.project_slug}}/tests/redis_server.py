"""A real ``redis-server`` on a free 127.0.0.1 port, without persistence, for the scale-out tests.

It is the one from ``$REDIS_SERVER`` or ``PATH``. Without one the tests that
need it are skipped, unless ``REQUIRE_REDIS=1`` (as in CI) makes that a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from .running_server import free_port

STARTUP_TIMEOUT = 10.0


def find_redis_server() -> str:
    executable = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
    if executable is None:
        message = "no redis-server: install it (Debian: apt-get install redis-server)"
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return executable


@dataclass
class RedisServer:
    """One redis-server process; :meth:`restart` brings it back empty on the same port."""

    executable: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *(self.executable, "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--protected-mode", "yes"),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.answers_ping():
                return
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=STARTUP_TIMEOUT)

    def restart(self) -> None:
        self.stop()
        self.start()

    def answers_ping(self) -> bool:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection,
        ):
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
        return False


@contextlib.contextmanager
def running_redis() -> Iterator[RedisServer]:
    server = RedisServer(find_redis_server())
    server.start()
    try:
        yield server
    finally:
        server.stop()
