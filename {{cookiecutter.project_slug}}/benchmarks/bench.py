"""Benchmark this project's server with a websockets client.

    python benchmarks/bench.py                  # starts the server itself
    python benchmarks/bench.py --url ws://127.0.0.1:{{ cookiecutter.port }}/ws --pid 1234

Run it with the project and its ``dev`` extra installed (``./scripts/test``
installs both; then ``scripts/python benchmarks/bench.py``). It prints round
trips per second with p50/p99 latency (closed loop, ``ping`` -> ``pong``; as
plain text, and as the page speaks it), fan-out deliveries per second (the streaming example at a 2 ms
interval, 100-byte messages), connects per second (open, one round trip,
close) and memory per idle connection (Linux: read from ``/proc``). A server it
starts runs with every feature on and the per-connection rate limit lifted
(``--rate-limit 0``): a closed loop sends thousands of messages a second on one
connection. The round trips need one reply per message: if your logic
answers otherwise, ``--logic Echo`` serves the tests' echo (``tests/apps.py``)
instead, which measures the server without your logic. The client is Python
too, so it may saturate before the server does: the figures are a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from {{ cookiecutter.package_name }}.app.settings import NOTIFICATIONS
from {{ cookiecutter.package_name }}.core.channels import (
    ChannelOut,
    ChannelRegistry,
)
from {{ cookiecutter.package_name }}.core.protocol import SUBPROTOCOL

__all__ = ["main"]

PACKAGE = "{{ cookiecutter.package_name }}"
PROJECT = Path(__file__).parent.parent  # where ``python -m tests.serve`` finds the tests
STARTUP_TIMEOUT = 10.0
FANOUT_INTERVAL = 0.002  # seconds between broadcasts
FANOUT_SIZE = 100  # bytes per broadcast message
MAX_CHANNELS_PER_CLIENT = 100  # --max-channels-per-client's default
STREAM_ROUNDS = 1_000_000  # more than any measurement reads: the server is stopped after it


@dataclass
class RoundTrips:
    per_second: float
    p50_ms: float
    p99_ms: float


PAGE_PING = '{"type": "message", "data": "ping"}'
SUBSCRIBE = json.dumps({"type": "subscribe", "channel": NOTIFICATIONS})


async def round_trips(
    url: str, connections: int, duration: float, *, as_page: bool = False
) -> RoundTrips:
    """``connections`` clients each loop ``ping`` -> ``pong`` for ``duration`` seconds.

    ``as_page``: speak the page's protocol (JSON frames).
    """
    latencies: list[float] = []
    if as_page:
        clients = [
            await connect(url, max_queue=None, subprotocols=[Subprotocol(SUBPROTOCOL)])
            for _ in range(connections)
        ]
        await asyncio.gather(*(ws.recv() for ws in clients))  # the welcome frames
    else:
        clients = [await connect(url, max_queue=None) for _ in range(connections)]
    ping = PAGE_PING if as_page else "ping"
    deadline = time.perf_counter() + duration

    async def loop(ws: ClientConnection) -> None:
        while (start := time.perf_counter()) < deadline:
            await ws.send(ping)
            await ws.recv()
            latencies.append(time.perf_counter() - start)

    began = time.perf_counter()
    await asyncio.gather(*(loop(ws) for ws in clients))
    elapsed = time.perf_counter() - began
    await asyncio.gather(*(ws.close() for ws in clients))
    cuts = statistics.quantiles(latencies, n=100)
    return RoundTrips(len(latencies) / elapsed, cuts[49] * 1000, cuts[98] * 1000)


async def fan_out(url: str, connections: int, duration: float) -> float:
    """Messages per second that ``connections`` clients following the streaming example's
    channel receive from a streaming server (they subscribe as the page does)."""
    clients = [
        await connect(url, max_queue=None, subprotocols=[Subprotocol(SUBPROTOCOL)])
        for _ in range(connections)
    ]
    for ws in clients:
        await ws.send(SUBSCRIBE)
    await asyncio.sleep(0.5)  # every client is subscribed before counting starts
    deadline = time.perf_counter() + duration
    counts = await asyncio.gather(*(_count_until(ws, deadline) for ws in clients))
    for ws in clients:
        ws.transport.abort()  # a polite close would first wait out the backlog
    return sum(counts) / duration


async def _count_until(ws: ClientConnection, deadline: float) -> int:
    """How many messages ``ws`` receives before ``deadline`` (no cancellation: it just stops)."""
    received = 0
    while (left := deadline - time.perf_counter()) > 0:
        try:
            await asyncio.wait_for(ws.recv(), left)
        except asyncio.TimeoutError:
            break
        received += 1
    return received


async def channel_fan_out(url: str, channels: int, followers: int, duration: float) -> float:
    """Messages per second delivered when ``channels`` channels of ``followers`` each stream.

    Each client follows up to 100 of them (a client's limit), so there are
    ``channels * followers / 100`` clients; the tests' ``Streams`` logic
    publishes on every channel in turn, as fast as it can.
    """
    names = [f"c{index}" for index in range(channels)]
    per_client = min(MAX_CHANNELS_PER_CLIENT, channels)
    clients = []
    for index in range(channels * followers // per_client):
        ws = await connect(url, max_queue=None, subprotocols=[Subprotocol(SUBPROTOCOL)])
        await ws.recv()  # welcome
        for offset in range(per_client):
            channel = names[(index * per_client + offset) % channels]
            await ws.send(json.dumps({"type": "subscribe", "channel": channel}))
        for _ in range(per_client):
            await ws.recv()  # subscribed
        clients.append(ws)
    async with connect(url) as publisher:
        await publisher.send(f"stream {STREAM_ROUNDS} 0 {' '.join(names)}")
        deadline = time.perf_counter() + duration
        counts = await asyncio.gather(*(_count_until(ws, deadline) for ws in clients))
    for ws in clients:
        ws.transport.abort()
    return sum(counts) / duration


async def unfollowed_publish_ns(count: int = 200_000) -> float:
    """What a publish on a channel nobody follows costs, in nanoseconds (in this process)."""
    out = ChannelOut(
        ChannelRegistry(
            history_size=1000, history_age=60, max_channels=1, max_per_client=1, max_subscribers=1
        )
    )
    start = time.perf_counter()
    for _ in range(count):
        await out.publish("nobody", "lost")
    return (time.perf_counter() - start) / count * 1e9


async def connects(url: str, workers: int, duration: float) -> float:
    """Open, one round trip, close: how many per second ``workers`` loops manage."""
    done = 0
    deadline = time.perf_counter() + duration

    async def loop() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            async with connect(url) as ws:
                await ws.send("ping")
                await ws.recv()
            done += 1

    began = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(workers)))
    return done / (time.perf_counter() - began)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


async def memory_per_connection(url: str, pid: int, connections: int) -> float:
    """Server RSS growth per idle connection, in KiB, after ``connections`` are open."""
    async with connect(url):
        before = rss_kib(pid)
    clients = []
    for _ in range(connections):
        ws = await connect(url)
        await ws.send("ping")
        await ws.recv()
        clients.append(ws)
    after = rss_kib(pid)
    await asyncio.gather(*(ws.close() for ws in clients))
    return (after - before) / connections


@contextlib.contextmanager
def started_server(*flags: str, logic: str | None = None) -> Iterator[tuple[str, int]]:
    """Run this project's server on a free port; yield its websocket URL and process id.

    It serves the project's logic, or with ``logic`` the one of that name in ``tests/apps.py``.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    module = [PACKAGE] if logic is None else ["tests.serve", logic]
    command = [sys.executable, "-m", *module, "--port", str(port), "--rate-limit", "0"]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen([*command, *flags], cwd=PROJECT, stderr=log)
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while b"started websocket server" not in _read(log):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(_read(log).decode())
                time.sleep(0.05)
            yield f"ws://127.0.0.1:{port}/ws", process.pid
        finally:
            process.terminate()
            process.wait(STARTUP_TIMEOUT)


def _read(log: IO[bytes]) -> bytes:
    log.seek(0)
    return log.read()


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/bench.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", help="a running server's websocket URL (default: start one)")
    parser.add_argument("--pid", type=int, help="that server's process id, for the memory figure")
    parser.add_argument(
        "--logic",
        metavar="NAME",
        help="the server it starts serves this logic of tests/apps.py (e.g. Echo), not yours",
    )
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per measurement")
    parser.add_argument(
        "--connections", default="1,100", help="comma-separated client counts for round trips"
    )
    parser.add_argument(
        "--fan-out",
        action="store_true",
        help="with --url: also count what the server streams (run it with"
        " --notify-interval 0.002 --notify-size 100)",
    )
    parser.add_argument("--fanout-connections", type=int, default=100)
    parser.add_argument("--connect-workers", type=int, default=20)
    parser.add_argument("--idle-connections", type=int, default=1000)
    parser.add_argument(
        "--channels",
        type=int,
        default=0,
        help="also stream this many channels at once (e.g. 1000; 0: not measured), served by"
        " the tests' Streams logic, and time a publish on a channel nobody follows",
    )
    parser.add_argument("--channel-followers", type=int, default=10, help="followers per channel")
    return parser.parse_args(argv)


async def _measure(url: str, pid: int | None, args: argparse.Namespace) -> None:
    for count in (int(text) for text in args.connections.split(",")):
        result = await round_trips(url, count, args.duration)
        print(
            f"round trips, {count:>4} connections: {result.per_second:>9.0f}/s"
            f"  p50 {result.p50_ms:.2f} ms  p99 {result.p99_ms:.2f} ms"
        )
        result = await round_trips(url, count, args.duration, as_page=True)
        print(
            f"  as the page, {count:>4} connections: {result.per_second:>7.0f}/s"
            f"  p50 {result.p50_ms:.2f} ms  p99 {result.p99_ms:.2f} ms"
        )
    per_second = await connects(url, args.connect_workers, args.duration)
    print(f"connects, {args.connect_workers} loops: {per_second:>12.0f}/s")
    if pid is not None:
        per_connection = await memory_per_connection(url, pid, args.idle_connections)
        print(f"memory, {args.idle_connections} idle connections: {per_connection:>7.1f} KiB each")


async def _measure_fan_out(url: str, args: argparse.Namespace) -> None:
    rate = await fan_out(url, args.fanout_connections, args.duration)
    print(f"fan-out, {args.fanout_connections} connections: {rate:>10.0f} messages/s delivered")


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse_args(argv)
    if args.url:
        asyncio.run(_measure(args.url, args.pid, args))
        if args.fan_out:
            asyncio.run(_measure_fan_out(args.url, args))
        return
    print("server: every feature on, per-connection rate limit lifted (--rate-limit 0)")
    with started_server(logic=args.logic) as (url, pid):
        asyncio.run(_measure(url, pid, args))
    streaming = ("--notify-interval", str(FANOUT_INTERVAL), "--notify-size", str(FANOUT_SIZE))
    with started_server(*streaming, logic=args.logic) as (url, _):
        asyncio.run(_measure_fan_out(url, args))
    if args.channels:
        with started_server(logic="Streams") as (url, _):
            asyncio.run(_measure_channels(url, args))


async def _measure_channels(url: str, args: argparse.Namespace) -> None:
    channels, followers = args.channels, args.channel_followers
    rate = await channel_fan_out(url, channels, followers, args.duration)
    print(f"channels, {channels} x {followers} followers: {rate:>9.0f} messages/s delivered")
    print(f"publish on a channel nobody follows: {await unfollowed_publish_ns():>6.0f} ns")


if __name__ == "__main__":
    main()
