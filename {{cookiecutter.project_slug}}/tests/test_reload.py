"""``--reload``: editing a Python file of the package restarts the server with the new code.

The server runs from a copy of the package in a temporary folder (first on
``PYTHONPATH``), so the tests edit the copy's ``app/logic.py``, never yours. They
write a whole logic of their own there (an echo with a prefix), so that they
depend on nothing your logic says.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

import {{ cookiecutter.package_name }}
from {{ cookiecutter.package_name }}.__main__ import main
from {{ cookiecutter.package_name }}.core.reload import INSTALL_HINT
from {{ cookiecutter.package_name }}.settings import ENV_PREFIX, parse_settings

from .running_server import STARTUP_TIMEOUT, ServerLog, ServerProcess
from .support import REPLY_TIMEOUT, free_port

PACKAGE = "{{ cookiecutter.package_name }}"
RESTART_TIMEOUT = 5.0  # from the edit to the new server listening; well under a second when idle
STARTED = re.compile(r"\[(?P<pid>\d+)\] \S+: started websocket server at")
# The logic.py the tests write: each message is answered with PREFIX and the message.
LOGIC = '''"""The logic test_reload.py serves: it answers each message with a prefix."""

from __future__ import annotations

from ..api import Client, ProxyOut{% if cookiecutter.multi_session %}, Session{% endif %}

PREFIX = "<prefix>"


class Logic:
    def __init__(self, out: ProxyOut) -> None:
        self.out = out

    async def on_connect(self, client: Client) -> None:
        pass

    async def on_message(self, client: Client, text: str) -> None:
        await client.send(PREFIX + text)

    async def on_disconnect(self, client: Client) -> None:
        pass
{%- if cookiecutter.multi_session %}

    async def on_session_start(self, session: Session) -> None:
        pass

    async def on_session_end(self, session: Session) -> None:
        pass
{%- endif %}
'''


def prefixing_logic(prefix: str) -> str:
    """The text of a logic.py that answers each message with ``prefix`` and the message."""
    return LOGIC.replace("<prefix>", prefix)


def started_pids(server: ServerProcess) -> list[int]:
    """The process id of each server that has started so far, in order."""
    return [int(match["pid"]) for match in STARTED.finditer(server.log())]


async def wait_for_log(server: ServerProcess, done: Callable[[str], bool], timeout: float) -> None:
    """Wait until ``done(log)`` holds, while the watcher runs; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not done(server.log()):
        assert server.process.poll() is None, server.log()
        assert time.monotonic() < deadline, server.log()
        await asyncio.sleep(0.05)


def starts(count: int) -> Callable[[str], bool]:
    return lambda log: len(STARTED.findall(log)) >= count


@contextlib.contextmanager
def reloading_server(root: Path) -> Iterator[tuple[ServerProcess, Path]]:
    """Serve a copy of the package under ``root`` with ``--reload``; yield it and its logic.py.

    The copy's logic.py answers ``one: <message>``. It yields once the first
    server listens. The log stays readable after the server stopped, until the
    ``with`` block ends.
    """
    source = Path({{ cookiecutter.package_name }}.__file__).parent
    copy = root / PACKAGE
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "app" / "logic.py").write_text(prefixing_logic("one: "))
    python_path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    port = free_port()
    server_log = ServerLog()
    try:
        command = [sys.executable, "-m", PACKAGE, "--host", "127.0.0.1", "--port", str(port)]
        process = subprocess.Popen(
            [*command, "--reload"],
            cwd=root,
            env=os.environ | {"PYTHONPATH": python_path},
            stdout=server_log.writer,
            stderr=subprocess.STDOUT,
        )
        server = ServerProcess(process, port, server_log)
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while not started_pids(server):
                assert process.poll() is None, server.log()
                assert time.monotonic() < deadline, server.log()
                time.sleep(0.05)
            yield server, copy / "app" / "logic.py"
        finally:
            server.stop()
    finally:
        server_log.close()


async def exchange(url: str, text: str) -> str | bytes:
    async with connect(url) as websocket:
        await websocket.send(text)
        return await asyncio.wait_for(websocket.recv(), REPLY_TIMEOUT)


async def test_editing_logic_restarts_the_server_with_the_new_code(tmp_path: Path) -> None:
    with reloading_server(tmp_path) as (server, logic):
        assert f"watching the Python files in {logic.parent.parent.resolve()}" in server.log()
        async with connect(server.ws_url) as before:
            await before.send("hello")
            assert await asyncio.wait_for(before.recv(), REPLY_TIMEOUT) == "one: hello"

            logic.write_text(prefixing_logic("two: "))
            edited = time.monotonic()
            # The old server drains: the open connection is closed with 1001 (going away),
            # after which the page reconnects by itself.
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(before.recv(), RESTART_TIMEOUT)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1001
        await wait_for_log(server, starts(2), RESTART_TIMEOUT - (time.monotonic() - edited))

        assert await exchange(server.ws_url, "hello") == "two: hello"
        assert "reload: app/logic.py changed; restarting the server" in server.log()
        assert server.stop(signal.SIGTERM) == 0
        log = server.log()
        first, second = started_pids(server)
    assert first != second != server.process.pid
    for child in (first, second):  # both servers are gone with the watcher
        with pytest.raises(ProcessLookupError):
            os.kill(child, 0)
    assert "Traceback" not in log
    assert log.rstrip().endswith("reload: stopped")


async def test_a_file_that_does_not_import_is_served_again_once_fixed(tmp_path: Path) -> None:
    with reloading_server(tmp_path) as (server, logic):
        working = logic.read_text()
        logic.write_text(working + "\ndef broken(:\n")
        await wait_for_log(server, lambda log: "SyntaxError" in log, RESTART_TIMEOUT)
        logic.write_text(prefixing_logic("fixed: "))
        await wait_for_log(server, starts(2), RESTART_TIMEOUT)
        assert await exchange(server.ws_url, "hello") == "fixed: hello"
        assert server.stop(signal.SIGTERM) == 0


def test_reload_is_a_flag() -> None:
    assert parse_settings(["--reload"], environ={}).reload is True
    assert parse_settings(["--no-reload"], environ={ENV_PREFIX + "RELOAD": "1"}).reload is False
    assert parse_settings([], environ={}).reload is False


def test_reload_without_watchfiles_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "watchfiles", None)  # import watchfiles raises ImportError
    with pytest.raises(SystemExit) as exited:
        main(["--reload"])
    assert exited.value.code == f"error: {INSTALL_HINT}"
    assert "\n" not in INSTALL_HINT
    assert "pip install -e '.[dev]'" in INSTALL_HINT
{%- if cookiecutter.scale_out == "redis" %}


def test_reload_runs_one_process() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--reload", "--workers", "2", "--redis-url", "redis://127.0.0.1:1/0"])
    assert exited.value.code == "error: --reload runs one server process: leave out --workers"
{%- endif %}
