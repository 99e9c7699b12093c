"""Stopping on SIGINT or SIGTERM on an event loop without signal handlers, as on Windows.

Windows' event loops raise ``NotImplementedError`` from ``add_signal_handler``;
the server then stops through ``signal.signal`` instead, and drains the same way.
The test makes this loop behave like that, in-process.
"""

from __future__ import annotations

import asyncio
import functools
import signal

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from {{ cookiecutter.package_name }} import Settings, create_app
from {{ cookiecutter.package_name }}.core.runner import serve

from .apps import Echo
from .running_server import STARTUP_TIMEOUT
from .support import REPLY_TIMEOUT, free_port

SHUTDOWN_TIMEOUT = 2.0


def unsupported(*args: object) -> None:
    raise NotImplementedError


async def wait_until_listening(port: int, serving: asyncio.Task[None]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_TIMEOUT
    while True:
        assert not serving.done(), serving.exception()
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            assert loop.time() < deadline, "the server did not start"
            await asyncio.sleep(0.05)
        else:
            writer.close()
            await writer.wait_closed()
            return


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_without_loop_signal_handlers_a_signal_still_drains(
    monkeypatch: pytest.MonkeyPatch, signum: int
) -> None:
    loop = asyncio.get_running_loop()
    monkeypatch.setattr(type(loop), "add_signal_handler", unsupported)
    before = signal.getsignal(signum)
    port = free_port()
    settings = Settings(host="127.0.0.1", port=port, shutdown_timeout=SHUTDOWN_TIMEOUT)
    serving = asyncio.create_task(serve(settings, functools.partial(create_app, settings, Echo)))
    await wait_until_listening(port, serving)

    async with connect(f"ws://127.0.0.1:{port}/ws") as client:
        await client.send("hello")
        assert await asyncio.wait_for(client.recv(), REPLY_TIMEOUT) == "hello"
        # The server's own handler is in place (else the signal would stop pytest).
        assert signal.getsignal(signum) is not before
        signal.raise_signal(signum)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(client.recv(), REPLY_TIMEOUT)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1001  # going away: drained, as with the loop's handlers
    await asyncio.wait_for(serving, SHUTDOWN_TIMEOUT + REPLY_TIMEOUT)
    assert signal.getsignal(signum) is before  # and put back once stopped
