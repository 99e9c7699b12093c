"""A client that stops reading is dropped; healthy ones get every message; RSS stays flat.

A frame goes straight to the socket when it has room, else into the client's
queue; frames too big for the socket's buffers must come out whole and in order.

The real server broadcasts ``notify 1`` .. ``notify 50000`` as fast as it can to
healthy clients and to one that never reads. The slow one must really stop at
the TCP level: its socket gets a small receive buffer before it connects, or
the kernel on loopback would take in the whole stream for it. The stream waits
until all of them are connected (``--notify-after-clients``), so every healthy
client must get the whole of it: every number, once, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from pathlib import Path

import aiohttp
from aiohttp import web
from pytest_aiohttp import AiohttpClient
from websockets.asyncio.client import connect

from {{ cookiecutter.package_name }}.core.state import PROXY_OUT

from .running_server import ServerProcess, running_server

MESSAGES = 50_000
# Every message costs the server a writer wake-up and a send() per connection: with 100 healthy
# clients this is one of the slowest tests.
HEALTHY_CLIENTS = 100
SEND_QUEUE_BYTES = 64 * 1024  # the default 1 MiB would outlast the whole 0.7 MB stream
SLOW_RECEIVE_BUFFER = 4096
# The slow client connects first and counts too: the stream starts as the last healthy one joins.
AUDIENCE = HEALTHY_CLIENTS + 1
# How much the server's RSS may grow over its RSS once it listens. Measured with 100 healthy
# clients, the growth stays well below this (with resume, a replay buffer of up to 1,000 messages
# per client); one copy of the stream kept per client would be about 300 MiB. (The slow
# client's backlog alone, kept whole, would be only 2-4 MiB: the drop, not this bound, proves
# that its queue is limited.)
RSS_GROWTH_LIMIT_KIB = 64 * 1024
RUN_TIMEOUT = 240.0
DROP_LOG_TIMEOUT = 5.0
POLL_INTERVAL = 0.05
RSS_SAMPLE_INTERVAL = 0.02
SLOW_CLOSE = re.compile(r"close .*conn=1 .*code=1013 reason='send queue overflow")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


async def sample_peak_rss(pid: int, peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_kib(pid))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), RSS_SAMPLE_INTERVAL)


async def receive_numbers(http: aiohttp.ClientSession, url: str) -> list[int]:
    """Read ``notify <n>`` frames until the last one; return the numbers in order of arrival."""
    numbers: list[int] = []
    async with http.ws_connect(url) as ws:
        async for message in ws:
            assert message.type is aiohttp.WSMsgType.TEXT, message
            numbers.append(int(message.data.removeprefix("notify ")))
            if numbers[-1] == MESSAGES:
                break
    return numbers


def non_reading_socket(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_RECEIVE_BUFFER)
    sock.connect(("127.0.0.1", port))
    return sock


async def wait_for_log(server: ServerProcess, pattern: re.Pattern[str]) -> re.Match[str] | None:
    for _ in range(int(DROP_LOG_TIMEOUT / POLL_INTERVAL)):
        if match := pattern.search(server.log()):
            return match
        await asyncio.sleep(POLL_INTERVAL)
    return None


async def test_slow_reader_is_dropped_while_healthy_clients_get_every_message() -> None:
    args = ["--notify-channel=", "--notify-interval", "0.0001", "--notify-count", str(MESSAGES)]
    args += ["--notify-after-clients", str(AUDIENCE)]
    args += ["--send-queue-bytes", str(SEND_QUEUE_BYTES), "--rate-limit", "0"]
    args += ["--heartbeat", "0"]  # so that only the queue limit can drop the slow client
    with running_server(*args, logic="Echo") as server:
        pid = server.process.pid
        baseline = rss_kib(pid)
        peak = [baseline]
        stop_sampling = asyncio.Event()
        sampler = asyncio.create_task(sample_peak_rss(pid, peak, stop_sampling))
        sock = non_reading_socket(server.port)
        # Never read from: no recv() call, no keepalive pings, a one-frame queue.
        async with (
            connect(server.ws_url, sock=sock, max_queue=1, ping_interval=None, close_timeout=1),
            aiohttp.ClientSession() as http,
        ):
            healthy = [receive_numbers(http, server.ws_url) for _ in range(HEALTHY_CLIENTS)]
            received = await asyncio.wait_for(asyncio.gather(*healthy), RUN_TIMEOUT)
            dropped = await wait_for_log(server, SLOW_CLOSE)
        stop_sampling.set()
        await sampler
        log = server.log()

    whole_stream = list(range(1, MESSAGES + 1))
    incomplete = [index for index, numbers in enumerate(received) if numbers != whole_stream]
    assert incomplete == [], [(len(received[i]), received[i][:3]) for i in incomplete[:3]]
    # The server gave up on the slow client for its queue and cleaned up after it (the close line
    # is logged once the connection is forgotten, with the code the server chose: the 1013 close
    # frame cannot reach a client that reads nothing, so the server then aborts the socket).
    assert dropped is not None, log[-2000:]
    assert log.count("send queue overflow") == 1  # the slow client only
    assert "Traceback" not in log
    assert peak[0] - baseline <= RSS_GROWTH_LIMIT_KIB, (baseline, peak[0])


async def test_frames_bigger_than_the_socket_buffers_arrive_whole_and_in_order(
    aiohttp_client: AiohttpClient, app: web.Application
) -> None:
    client = await aiohttp_client(app)
    ws = await client.ws_connect("/ws")
    (connection,) = app[PROXY_OUT].connections()
    # The first big frame fills the kernel's and the transport's buffers, so the rest queue
    # behind the unfinished write (256 KiB against 64 KiB each, within the 1 MiB queue).
    frames = [
        f"{number}".ljust(256 * 1024, "x") if number % 2 else f"{number}" for number in range(6)
    ]
    for frame in frames:
        connection.write(frame)
    received = [(await ws.receive(timeout=5)).data for _ in frames]
    assert received == frames
    await ws.close()
