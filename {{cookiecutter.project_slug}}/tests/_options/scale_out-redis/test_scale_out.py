"""Many server processes acting as one through a real Redis: delivery, resume, faults, workers."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import redis.asyncio as redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from {{ cookiecutter.package_name }}.core.protocol import SUBPROTOCOL

from .cookies import cookie_header, session_id_of
from .redis_server import RedisServer, running_redis
from .resuming_client import CutPlan, ResumingClient
from .running_server import ServerProcess, free_port, running_server

TIMEOUT = 10
PAGE = [Subprotocol(SUBPROTOCOL)]
STREAM_LENGTH = 1_500
STREAM_INTERVAL = "0.003"  # seconds: a few hundred messages a second
CUTS = 40
MAX_PAUSE = 0.3  # seconds a client may wait before it reconnects
BURST_CLIENTS, BURST_ROUNDS = 100, 20
SERVER_COMMAND = (sys.executable, "-m", "{{ cookiecutter.package_name }}")


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


async def next_message(ws: ClientConnection) -> dict[str, Any]:
    """The next ``message`` frame (skipping the welcome)."""
    while True:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if frame["type"] != "welcome":
            assert frame["type"] == "message", frame
            return frame


def readiness(server: ServerProcess) -> int:
    try:
        with urllib.request.urlopen(server.http_url + "/readyz", timeout=TIMEOUT) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code


async def wait_for_readiness(server: ServerProcess, status: int) -> None:
    for _ in range(200):
        if await asyncio.to_thread(readiness, server) == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"/readyz never answered {status}")


def test_unreachable_redis_at_start_is_a_one_line_error() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    command = [*SERVER_COMMAND, "--port", str(free_port()), "--redis-url", url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1
    assert f"cannot reach Redis at {url}" in errors[0]
    assert "Traceback" not in result.stderr


def test_workers_without_redis_are_refused() -> None:
    command = [*SERVER_COMMAND, "--workers", "2"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode != 0
    assert "--workers needs --redis-url" in result.stderr


async def test_a_send_on_one_process_reaches_the_session_on_another(
    redis_server: RedisServer,
) -> None:
    shared = ("--redis-url", redis_server.url)
    # SessionEcho: what a tab sends goes back to every tab of its session.
    with (
        running_server(*shared, logic="SessionEcho") as first,
        running_server(*shared, logic="SessionEcho") as second,
    ):
        async with connect(first.ws_url) as tab_on_first:
            cookie = cookie_header(session_id_of(tab_on_first))
            async with connect(second.ws_url, additional_headers=cookie) as tab_on_second:
                assert tab_on_second.response is not None
                assert "Set-Cookie" not in tab_on_second.response.headers  # same session
                await tab_on_first.send("hello")
                assert await asyncio.wait_for(tab_on_first.recv(), TIMEOUT) == "hello"
                assert await asyncio.wait_for(tab_on_second.recv(), TIMEOUT) == "hello"


async def test_concurrent_sends_share_round_trips_and_keep_one_order(
    redis_server: RedisServer,
) -> None:
    # SessionEcho: each message goes back to the sender's session, through Redis.
    shared = ("--redis-url", redis_server.url, "--rate-limit", "0")
    with running_server(*shared, logic="SessionEcho") as server:
        clients = [await connect(server.ws_url, subprotocols=PAGE) for _ in range(BURST_CLIENTS)]
        await clients[0].send(json.dumps({"type": "message", "data": "hello"}))
        await next_message(clients[0])  # the server has its connection for appends by now

        async def exchange(ws: ClientConnection) -> list[dict[str, Any]]:
            for _ in range(BURST_ROUNDS):
                await ws.send(json.dumps({"type": "message", "data": "hello"}))
            return [await next_message(ws) for _ in range(BURST_ROUNDS)]

        observer = redis.Redis.from_url(redis_server.url)
        accepted_before = (await observer.info("stats"))["total_connections_received"]
        replies = await asyncio.gather(*(exchange(ws) for ws in clients))
        accepted = (await observer.info("stats"))["total_connections_received"] - accepted_before
        await observer.aclose()
        # Sent one round trip each, a hundred replies at once would need about a hundred
        # connections to Redis; sent together, they need the one the server already has.
        assert accepted <= 1
        numbers = []
        for frames in replies:
            assert [frame["data"] for frame in frames] == ["hello"] * BURST_ROUNDS
            seqs = [frame["seq"] for frame in frames]
            assert seqs == sorted(seqs)
            numbers += seqs
        assert len(set(numbers)) == BURST_CLIENTS * BURST_ROUNDS  # one numbering, none twice
        for ws in clients:
            await ws.close()


async def test_a_broadcast_reaches_clients_on_every_process_once(
    redis_server: RedisServer,
) -> None:
    shared = ("--redis-url", redis_server.url)
    with (
        running_server(*shared, logic="Echo") as first,
        running_server(*shared, logic="Echo") as second,
    ):
        clients = [await connect(server.ws_url) for server in (first, second, first, second)]
        producer = ("--notify-channel=", "--notify-interval", "0.05", "--notify-count", "5")
        with running_server(*shared, *producer, logic="Echo"):
            for client in clients:
                received = [await asyncio.wait_for(client.recv(), TIMEOUT) for _ in range(5)]
                assert received == [f"notify {number}" for number in range(1, 6)]
            for client in clients:
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(client.recv(), 0.3)  # no duplicate
                await client.close()


async def test_a_stream_moves_to_another_process_without_loss(redis_server: RedisServer) -> None:
    shared = ("--redis-url", redis_server.url)
    received: list[tuple[int, str]] = []
    with (
        running_server(*shared, logic="Echo") as doomed,
        running_server(*shared, logic="Echo") as survivor,
    ):
        ws = await connect(doomed.ws_url, subprotocols=PAGE)
        cookie = cookie_header(session_id_of(ws))
        producer = (
            "--notify-channel=",
            "--notify-interval",
            "0.003",
            "--notify-count",
            str(STREAM_LENGTH),
        )
        with running_server(*shared, *producer, logic="Echo"):
            while len(received) < STREAM_LENGTH // 3:
                frame = await next_message(ws)
                received.append((frame["seq"], frame["data"]))
            doomed.process.kill()  # SIGKILL: no goodbye, no flush
            resume = f"?last_seq={received[-1][0]}"
            resumed_url = survivor.ws_url + resume
            ws = await connect(resumed_url, subprotocols=PAGE, additional_headers=cookie)
            while received[-1][1] != f"notify {STREAM_LENGTH}":
                frame = await next_message(ws)
                received.append((frame["seq"], frame["data"]))
            await ws.close()

    numbers = [seq for seq, _ in received]
    assert numbers == sorted(set(numbers))  # in order, no duplicate
    assert [data for _, data in received] == [f"notify {n}" for n in range(1, STREAM_LENGTH + 1)]


async def test_resumes_on_either_process_while_the_stream_flows_exactly_once(
    redis_server: RedisServer,
) -> None:
    """Cut at random points, resume at once or after a pause, on one process then the other,
    and once after the client's process was SIGKILLed: each message once, in order, no gap."""
    plan = CutPlan.draw(STREAM_LENGTH, CUTS, MAX_PAUSE)
    kill_at = len(plan.cuts) // 2
    client = ResumingClient()
    last_text = f"notify {STREAM_LENGTH}"
    shared = ("--redis-url", redis_server.url)
    with contextlib.ExitStack() as servers:
        processes = [servers.enter_context(running_server(*shared, logic="Echo")) for _ in range(2)]
        await client.connect(processes[0].ws_url)
        producer = (
            "--notify-channel=",
            "--notify-interval",
            STREAM_INTERVAL,
            "--notify-count",
            str(STREAM_LENGTH),
        )
        with running_server(*shared, *producer, logic="Echo"):
            for index, (received, pause) in enumerate(plan.cuts):
                await client.read_until(count=received, last_text=last_text)
                on = processes[index % 2]
                if index == kill_at:
                    on.process.kill()  # SIGKILL: no goodbye, no flush
                    await client.read_until_closed()
                    restarted = running_server(*shared, port=on.port, logic="Echo")
                    processes[index % 2] = await asyncio.to_thread(servers.enter_context, restarted)
                else:
                    client.cut()
                await asyncio.sleep(pause)
                await client.connect(processes[(index + 1) % 2].ws_url)
            await client.read_until(last_text=last_text)
            assert client.ws is not None
            await client.ws.close()

    expected = [f"notify {number}" for number in range(1, STREAM_LENGTH + 1)]
    client.assert_exactly_once(expected, plan)


async def test_redis_restart_mid_stream_loses_only_what_was_sent_meanwhile(
    redis_server: RedisServer,
) -> None:
    shared = ("--redis-url", redis_server.url)
    numbers: list[int] = []
    # SessionEcho: a message is sent back through the outgoing proxy, Redis or not.
    with running_server(*shared, logic="SessionEcho") as server:
        ws = await connect(server.ws_url, subprotocols=PAGE)
        with running_server(
            *shared, "--notify-channel=", "--notify-interval", "0.01", logic="Echo"
        ) as producer:
            while len(numbers) < 20:
                numbers.append(int((await next_message(ws))["data"].removeprefix("notify ")))

            redis_server.stop()
            await wait_for_readiness(server, 503)
            plain = await connect(server.ws_url)  # local delivery keeps working
            await plain.send("hello")
            assert await asyncio.wait_for(plain.recv(), TIMEOUT) == "hello"
            await plain.close()

            redis_server.start()
            await wait_for_readiness(server, 200)
            recovered = len(numbers)
            while len(numbers) < recovered + 20:
                frame = await next_message(ws)
                assert frame["seq"] is not None  # numbered again: back on the shared log
                numbers.append(int(frame["data"].removeprefix("notify ")))
            await ws.close()
            assert producer.process.poll() is None
            assert server.process.poll() is None
            logs = [server.log(), producer.log()]

    # Nothing is lost but what the producer sent while Redis was down: one hole at most.
    holes = [(a, b) for a, b in itertools.pairwise(numbers) if b != a + 1]
    assert len(holes) <= 1
    assert all(b > a for a, b in holes)
    for log in logs:
        assert "Traceback" not in log
        assert len(re.findall("lost Redis", log)) <= 1  # said once per outage, no storm


async def test_two_workers_on_one_port_both_serve(redis_server: RedisServer) -> None:
    workers = ("--workers", "2", "--redis-url", redis_server.url)
    with running_server(*workers, logic="Echo") as server:
        for _ in range(100):
            if server.log().count("started websocket server") == 2:
                break
            await asyncio.sleep(0.05)
        for _ in range(24):
            async with connect(server.ws_url) as ws:
                await ws.send("hello")
                assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "hello"
        assert server.stop() == 0
        serving = set(re.findall(r"\[(\d+)\] [\w.]+: close session=", server.log()))
        assert len(serving) == 2


async def test_workers_run_the_streaming_example_once(redis_server: RedisServer) -> None:
    streaming = (
        "--workers",
        "2",
        "--redis-url",
        redis_server.url,
        "--notify-channel=",
        "--notify-interval",
        "0.2",
    )
    with running_server(*streaming, logic="Echo") as server:
        async with connect(server.ws_url) as ws:
            received = [await asyncio.wait_for(ws.recv(), TIMEOUT) for _ in range(4)]
    numbers = [int(str(text).removeprefix("notify ")) for text in received]
    assert numbers == list(range(numbers[0], numbers[0] + 4))  # one producer: no repeats


async def test_the_stream_waits_for_clients_of_its_own_process(redis_server: RedisServer) -> None:
    shared = ("--redis-url", redis_server.url)
    producer = ("--notify-channel=", "--notify-interval", "0.05", "--notify-after-clients", "2")
    with (
        running_server(*shared, *producer, logic="Echo") as streaming,
        running_server(*shared, logic="Echo") as other,
    ):
        elsewhere = await connect(other.ws_url)  # counts on its own process, not the producer's
        first = await connect(streaming.ws_url)
        for ws in (elsewhere, first):
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.3)
        second = await connect(streaming.ws_url)
        for ws in (elsewhere, first, second):
            received = [await asyncio.wait_for(ws.recv(), TIMEOUT) for _ in range(2)]
            assert received == ["notify 1", "notify 2"]
            await ws.close()


async def test_with_workers_the_first_worker_waits_for_its_own_clients(
    redis_server: RedisServer,
) -> None:
    shared = ("--workers", "2", "--redis-url", redis_server.url)
    producer = ("--notify-channel=", "--notify-interval", "0.05", "--notify-after-clients", "1")
    with running_server(*shared, *producer, logic="Echo") as server:
        for _ in range(100):
            if server.log().count("started websocket server") == 2:
                break
            await asyncio.sleep(0.05)
        # The kernel spreads connections over the workers: those on the second worker do not
        # start the stream, the first on the first worker does, and all of them see it whole.
        clients: list[ClientConnection] = []
        first_messages: list[str] = []
        while not first_messages and len(clients) < 40:
            clients.append(await connect(server.ws_url))
            with contextlib.suppress(asyncio.TimeoutError):
                first_messages.append(str(await asyncio.wait_for(clients[-1].recv(), 0.3)))
        assert first_messages == ["notify 1"]
        for ws in clients[:-1]:
            assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "notify 1"
        for ws in clients:
            await ws.close()
        log = server.log()
    assert log.count("streaming example: waiting for clients") == 1  # the first worker only
