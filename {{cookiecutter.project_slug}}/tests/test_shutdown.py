"""Graceful shutdown: refuse newcomers, flush and close every websocket with 1001, exit 0 in time.

While it drains, the server answers ``/readyz`` and new websockets with 503 but
``/healthz`` with 200. SIGTERM and SIGINT both drain; what was queued for a
client reaches it before the close, and the process exits 0 within
``--shutdown-timeout`` even if a client never reads.
"""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import time

import pytest
from aiohttp import WSCloseCode, WSMsgType, WSServerHandshakeError, web
from pytest_aiohttp import AiohttpClient
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from {{ cookiecutter.package_name }} import Settings
from {{ cookiecutter.package_name }}.core.connection import CLOSE_TIMEOUT
from {{ cookiecutter.package_name }}.core.routes import drain
from {{ cookiecutter.package_name }}.core.state import PROXY_OUT

from .running_server import ServerProcess, running_server
from .support import REPLY_TIMEOUT

SHUTDOWN_TIMEOUT = 2.0
BIG_FRAME = "x" * 1024 * 1024
BACKLOG_FRAMES = 8
EXIT_SLACK = 2.0  # for the interpreter's teardown on a loaded CI machine
STREAM_INTERVAL = "0.001"
SLOW_READ_PAUSE = 0.003  # the slow reader takes a message every 3 ms, so it falls behind
STREAM_BEFORE_SIGNAL = 1.0
MIN_BACKLOG = 50  # messages the slow reader must lag behind by at the signal
{%- if cookiecutter.multi_session %}
CLOSE_LINE = re.compile(
    r"close session=\S+ conn=(?P<conn>\d+) peer=127\.0\.0\.1 protocol=plain"
    r" code=(?P<code>\d+) reason=(?P<reason>.*)"
)
{%- else %}
CLOSE_LINE = re.compile(
    r"close conn=(?P<conn>\d+) peer=127\.0\.0\.1 code=(?P<code>\d+) reason=(?P<reason>.*)"
)
{%- endif %}


@pytest.fixture
def settings() -> Settings:
    # The drain waits up to shutdown_timeout for a client that never reads, which leaves time
    # to look at the server while it drains; the queue holds that client's whole backlog.
    return Settings(
        host="127.0.0.1",
        port=0,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
        send_queue_bytes=2 * BACKLOG_FRAMES * len(BIG_FRAME),
    )


def non_reading_socket(port: int) -> socket.socket:
    """A socket whose small receive buffer makes a client that stops reading stop the server."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    return sock


async def test_while_draining_readiness_and_new_websockets_get_503_but_liveness_200(
    aiohttp_client: AiohttpClient, app: web.Application
) -> None:
    client = await aiohttp_client(app)
    assert (await client.get("/readyz")).status == 200
    assert client.port is not None
    reader = await client.ws_connect("/ws")
    sock = non_reading_socket(client.port)
    stuck = await connect(f"ws://127.0.0.1:{client.port}/ws", sock=sock, max_queue=1)
    try:
        # More than the kernel and aiohttp buffer for the stuck client: its flush cannot finish.
        for _ in range(BACKLOG_FRAMES):
            await app[PROXY_OUT].broadcast(BIG_FRAME)
        draining = asyncio.create_task(drain(app))
        await asyncio.sleep(0)  # drain() marks the server as draining before it first waits

        readyz = await client.get("/readyz")
        assert readyz.status == 503
        assert await readyz.json() == {"status": "draining"}
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect("/ws")
        assert refused.value.status == 503
        assert (await client.get("/healthz")).status == 200
        assert not draining.done()

        # A client that reads gets what was queued for it, then the close.
        for _ in range(BACKLOG_FRAMES):
            assert await reader.receive_str(timeout=REPLY_TIMEOUT) == BIG_FRAME
        message = await reader.receive(timeout=REPLY_TIMEOUT)
        assert message.type is WSMsgType.CLOSE
        assert message.data == WSCloseCode.GOING_AWAY
        await asyncio.wait_for(draining, SHUTDOWN_TIMEOUT + CLOSE_TIMEOUT + EXIT_SLACK)
    finally:
        stuck.transport.abort()


async def read_until_closed(ws: ClientConnection, numbers: list[int], pause: float = 0) -> int:
    """Append each ``notify <n>`` to ``numbers`` until the server closes; return the close code."""
    deadline = time.monotonic() + STREAM_BEFORE_SIGNAL + SHUTDOWN_TIMEOUT + REPLY_TIMEOUT
    try:
        while time.monotonic() < deadline:
            numbers.append(int(str(await ws.recv()).removeprefix("notify ")))
            await asyncio.sleep(pause)
    except ConnectionClosed as closed:
        close = closed.rcvd
    else:
        raise AssertionError(f"still open after {len(numbers)} messages")
    assert close is not None, "closed without a close frame"
    return close.code


async def stop_and_time(server: ServerProcess, signum: int) -> tuple[int, float]:
    """Signal the server; return its exit code and how long it took to exit."""
    signalled = time.monotonic()
    server.process.send_signal(signum)
    code = await asyncio.to_thread(server.wait)
    return code, time.monotonic() - signalled


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_signal_flushes_a_slow_reader_then_closes_everyone_with_going_away(
    signum: int,
) -> None:
    args = ["--notify-channel=", "--notify-interval", STREAM_INTERVAL, "--rate-limit", "0"]
    timeout = ("--shutdown-timeout", str(SHUTDOWN_TIMEOUT))
    with running_server(*args, *timeout, logic="Echo") as server:
        async with connect(server.ws_url) as fast, connect(server.ws_url, max_queue=4) as slow:
            fast_numbers: list[int] = []
            slow_numbers: list[int] = []
            reading = asyncio.gather(
                read_until_closed(fast, fast_numbers),
                read_until_closed(slow, slow_numbers, SLOW_READ_PAUSE),
            )
            await asyncio.sleep(STREAM_BEFORE_SIGNAL)
            behind = fast_numbers[-1] - slow_numbers[-1]
            exit_code, took = await stop_and_time(server, signum)
            fast_code, slow_code = await reading
        log = server.log()

    assert exit_code == 0
    assert took < SHUTDOWN_TIMEOUT + CLOSE_TIMEOUT + EXIT_SLACK
    assert "Traceback" not in log
    assert fast_code == slow_code == WSCloseCode.GOING_AWAY
    assert behind >= MIN_BACKLOG  # the slow reader had a backlog when the signal came
    assert slow_numbers == list(range(slow_numbers[0], slow_numbers[-1] + 1))
    # Nothing queued for the slow reader was dropped: it got as far as the client that kept up.
    assert slow_numbers[-1] == fast_numbers[-1]


async def test_exits_in_time_when_a_client_never_reads() -> None:
    args = ["--notify-channel=", "--notify-interval", STREAM_INTERVAL, "--rate-limit", "0"]
    timeout = ("--shutdown-timeout", str(SHUTDOWN_TIMEOUT))
    with running_server(*args, *timeout, logic="Echo") as server:
        sock = non_reading_socket(server.port)
        async with connect(server.ws_url, sock=sock, max_queue=1, ping_interval=None) as stuck:
            await asyncio.sleep(STREAM_BEFORE_SIGNAL)
            exit_code, took = await stop_and_time(server, signal.SIGTERM)
            stuck.transport.abort()
        log = server.log()
    assert exit_code == 0
    assert took < SHUTDOWN_TIMEOUT + CLOSE_TIMEOUT + EXIT_SLACK
    assert "Traceback" not in log
    assert "reason='server shutdown'" in log


async def test_each_connection_is_logged_once_as_it_closes_with_code_and_reason(
    server: ServerProcess,
) -> None:
    async with connect(server.ws_url) as leaving:
        await leaving.send("hello")
        assert await asyncio.wait_for(leaving.recv(), REPLY_TIMEOUT) == "hello"
    async with connect(server.ws_url) as staying:
        await staying.send("hello")
        assert await asyncio.wait_for(staying.recv(), REPLY_TIMEOUT) == "hello"
        assert await asyncio.to_thread(server.stop) == 0
    log = server.log()
    closed = [match.groupdict() for match in CLOSE_LINE.finditer(log)]
    assert len(closed) == 2, log
    assert closed[0]["conn"] != closed[1]["conn"]
    assert (closed[0]["code"], closed[0]["reason"]) == ("1000", "''")
    # The client saw 1001 (see above); the code logged for a close that the server started is
    # what aiohttp recorded, so only its presence is checked here.
    assert (closed[1]["code"], closed[1]["reason"]) == ("1001", "'server shutdown'")
    assert "GET /ws" not in log  # no access log line as well: one line per connection
