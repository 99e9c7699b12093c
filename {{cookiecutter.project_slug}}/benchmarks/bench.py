"""Benchmark this project's server with a websockets client.

    python benchmarks/bench.py                  # starts the server itself
    python benchmarks/bench.py --url ws://127.0.0.1:{{ cookiecutter.port }}/ws --pid 1234

Run it with the project and its ``dev`` extra installed (``./scripts/test``
installs both; then ``scripts/python benchmarks/bench.py``). It prints round
trips per second with p50/p99 latency (closed loop, ``ping`` -> ``pong``; as
plain text, and as the page speaks it), fan-out deliveries per second (the streaming example at a 2 ms
interval, 100-byte messages, through the channel the page follows and as a
broadcast instead, with the server's CPU time per delivery), connects per second (open, one round trip,
close) and memory per idle connection (Linux: read from ``/proc``). A server it
starts runs with every feature on and the per-connection rate limit lifted
(``--rate-limit 0``): a closed loop sends thousands of messages a second on one
connection. The round trips need one reply per message: if your logic
answers otherwise, ``--logic Echo`` serves the tests' echo (``tests/apps.py``)
instead, which measures the server without your logic. The client is Python
too, so it may saturate before the server does: the figures are a floor.

``--channels 1000`` adds channels, served by the tests' ``Streams`` logic:
what idle followed channels cost in memory, then that many channels of
``--channel-followers`` (10) each, streamed at each of ``--channel-rates``
(messages delivered per second, in all), with the rate received, the
server's CPU time per delivery (Linux: ``/proc``) and whether every client
kept up. A client dropped as too slow (1013), or short of messages, makes
that rate a figure of overload.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
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
SETTLE = 0.5  # seconds the fan-out's clients read before counting: all are subscribed by then
MAX_CHANNELS_PER_CLIENT = 100  # --max-channels-per-client's default
CATCH_UP = 5.0  # seconds past a paced stream's end by which a client that is not behind has it all
LATE = 0.25  # seconds past a paced stream's end by which it has all arrived if the pace was kept
STREAM_TIMEOUT = 60.0  # seconds the publisher may take past that to say it is done


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


@dataclass
class FanOut:
    per_second: float
    cpu_us: float | None  # server CPU per delivery, in microseconds (None: no pid to read)


async def fan_out(url: str, connections: int, duration: float, pid: int | None) -> FanOut:
    """Messages per second that ``connections`` clients following the streaming example's
    channel receive from a streaming server (they subscribe as the page does), and
    what each cost the server's process ``pid`` in CPU time (``/proc``)."""
    clients = [
        await connect(url, max_queue=None, subprotocols=[Subprotocol(SUBPROTOCOL)])
        for _ in range(connections)
    ]
    for ws in clients:
        await ws.send(SUBSCRIBE)
    # Every client is subscribed before counting starts; what it gets meanwhile is not counted.
    await _count_for(clients, SETTLE)
    cpu_before = 0.0 if pid is None else cpu_seconds(pid)
    delivered = await _count_for(clients, duration)
    cpu_us = None if pid is None else (cpu_seconds(pid) - cpu_before) / max(delivered, 1) * 1e6
    for ws in clients:
        ws.transport.abort()  # a polite close would first wait out the backlog
    return FanOut(delivered / duration, cpu_us)


async def _count_for(clients: Sequence[ClientConnection], seconds: float) -> int:
    """How many messages ``clients`` receive in ``seconds``, in all (one timer for them all,
    not one per message: the client is Python, and its time is short)."""
    received = 0

    async def count(ws: ClientConnection) -> None:
        nonlocal received
        while True:
            await ws.recv()
            received += 1

    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(count(ws) for ws in clients)), seconds)
    return received


def subscription_plan(channels: int, followers: int) -> list[tuple[int, str]]:
    """Who follows what: ``followers`` clients to a channel, up to 100 channels to a client
    (a client's limit). Each pair is a client's index and a channel; the first
    ``channels`` pairs are each channel's first follower."""
    per_client = min(MAX_CHANNELS_PER_CLIENT, channels)
    return [(index // per_client, f"c{index % channels}") for index in range(channels * followers)]


async def protocol_clients(url: str, count: int) -> list[ClientConnection]:
    """``count`` clients that speak the page's protocol, past their welcome."""
    clients = []
    for _ in range(count):
        ws = await connect(url, max_queue=None, subprotocols=[Subprotocol(SUBPROTOCOL)])
        await ws.recv()  # welcome
        clients.append(ws)
    return clients


async def subscribe(clients: Sequence[ClientConnection], plan: Sequence[tuple[int, str]]) -> None:
    """Send the subscriptions of ``plan``, then wait until the server has confirmed each."""
    for index, channel in plan:
        await clients[index].send(json.dumps({"type": "subscribe", "channel": channel}))
    for index, channel in plan:
        frame = json.loads(await clients[index].recv())
        if frame["type"] != "subscribed":
            raise RuntimeError(f"subscribing to {channel}: {frame}")


@dataclass
class ChannelMemory:
    per_channel_kib: float  # a channel with its first follower
    per_follower_kib: float | None  # each further follower (None: there were none)


async def idle_channel_memory(url: str, pid: int, channels: int, followers: int) -> ChannelMemory:
    """Server RSS growth as open clients follow ``channels`` channels, nothing published.

    Each channel first gets one follower (what a followed channel costs), then
    its ``followers - 1`` others (what one more subscription costs).
    """
    plan = subscription_plan(channels, followers)
    clients = await protocol_clients(url, plan[-1][0] + 1)
    before = rss_kib(pid)
    await subscribe(clients, plan[:channels])
    with_channels = rss_kib(pid)
    await subscribe(clients, plan[channels:])
    after = rss_kib(pid)
    for ws in clients:
        ws.transport.abort()
    further = len(plan) - channels
    return ChannelMemory(
        (with_channels - before) / channels, (after - with_channels) / further if further else None
    )


@dataclass
class Follower:
    """What one client received of a paced stream."""

    ws: ClientConnection
    expected: int
    received: int = 0
    close_code: int | None = None  # the server's, if it closed the connection

    async def read(self) -> None:
        """Count messages until all expected have come or the connection is closed."""
        try:
            while self.received < self.expected:
                await self.ws.recv()
                self.received += 1
        except ConnectionClosed:
            self.close_code = self.ws.close_code


@dataclass
class PacedStream:
    clients: int
    delivered_per_second: float
    behind: int  # clients that did not get all they were sent, or were closed
    dropped: int  # of those, closed with 1013 (too slow)
    late: float  # seconds from the stream's planned end to the last delivery
    cpu_us: float  # server CPU per delivery, in microseconds
    cpu_share: float  # of one core, while it streamed

    @classmethod
    def of(
        cls, readers: Sequence[Follower], planned: float, elapsed: float, cpu: float
    ) -> PacedStream:
        """The figures of a stream planned to last ``planned`` seconds, over in ``elapsed``,
        that cost the server ``cpu`` seconds."""
        received = sum(reader.received for reader in readers)
        behind = [reader for reader in readers if reader.received < reader.expected]
        return cls(
            clients=len(readers),
            delivered_per_second=received / elapsed,
            behind=len(behind),
            dropped=sum(reader.close_code == CloseCode.TRY_AGAIN_LATER for reader in behind),
            late=elapsed - planned,
            cpu_us=cpu / max(received, 1) * 1e6,
            cpu_share=cpu / elapsed,
        )


async def paced_channels(
    url: str, pid: int, channels: int, followers: int, rate: float, duration: float
) -> PacedStream:
    """``channels`` channels of ``followers`` each, streamed so that about ``rate`` messages a
    second reach the followers in all, for about ``duration`` seconds.

    The tests' ``Streams`` logic publishes on every channel in turn, its
    publishes spread evenly (``paced``).
    """
    plan = subscription_plan(channels, followers)
    clients = await protocol_clients(url, plan[-1][0] + 1)
    await subscribe(clients, plan)
    rounds = max(1, round(rate * duration / len(plan)))
    interval = len(plan) / rate  # seconds a round (one message on each channel) takes
    counts = Counter(index for index, _ in plan)
    readers = [Follower(ws, rounds * counts[index]) for index, ws in enumerate(clients)]
    names = " ".join(f"c{index}" for index in range(channels))
    command = f"paced {rounds} {interval} {names}"
    elapsed, cpu = await _stream_window(url, pid, command, readers, rounds * interval)
    for ws in clients:
        ws.transport.abort()
    return PacedStream.of(readers, rounds * interval, elapsed, cpu)


async def _stream_window(
    url: str, pid: int, command: str, readers: Sequence[Follower], planned: float
) -> tuple[float, float]:
    """Have the Streams logic run ``command``; the seconds until every reader has it all (or
    ``CATCH_UP`` seconds past the ``planned`` end: it fell behind), and the server CPU
    seconds they took (``/proc``)."""
    async with connect(url) as publisher:
        cpu_before = cpu_seconds(pid)
        began = time.perf_counter()
        await publisher.send(command)
        reading = asyncio.gather(*(reader.read() for reader in readers))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(reading, planned + CATCH_UP)
        elapsed = time.perf_counter() - began
        cpu = cpu_seconds(pid) - cpu_before
        await asyncio.wait_for(publisher.recv(), STREAM_TIMEOUT)  # streamed
    return elapsed, cpu


def cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) process ``pid`` has used, in seconds (Linux: ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


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
        help="also stream this many channels (e.g. 1000; 0: not measured), served by the tests'"
        " Streams logic: memory per idle followed channel, then each of --channel-rates, and a"
        " publish on a channel nobody follows",
    )
    parser.add_argument("--channel-followers", type=int, default=10, help="followers per channel")
    parser.add_argument(
        "--channel-rates",
        default="10000,40000,160000",
        help="comma-separated messages per second, delivered in all, to stream the channels at",
    )
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


async def _measure_fan_out(
    url: str, pid: int | None, args: argparse.Namespace, label: str = "fan-out"
) -> None:
    result = await fan_out(url, args.fanout_connections, args.duration, pid)
    cpu = "" if result.cpu_us is None else f", {result.cpu_us:.2f} µs server CPU each"
    print(
        f"{label}, {args.fanout_connections} connections:"
        f" {result.per_second:>10.0f} messages/s delivered{cpu}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse_args(argv)
    if args.url:
        asyncio.run(_measure(args.url, args.pid, args))
        if args.fan_out:
            asyncio.run(_measure_fan_out(args.url, args.pid, args))
        return
    print("server: every feature on, per-connection rate limit lifted (--rate-limit 0)")
    with started_server(logic=args.logic) as (url, pid):
        asyncio.run(_measure(url, pid, args))
    streaming = ("--notify-interval", str(FANOUT_INTERVAL), "--notify-size", str(FANOUT_SIZE))
    with started_server(*streaming, logic=args.logic) as (url, pid):
        asyncio.run(_measure_fan_out(url, pid, args))
    with started_server(*streaming, "--notify-channel=", logic=args.logic) as (url, pid):
        asyncio.run(_measure_fan_out(url, pid, args, label="broadcast instead"))
    if args.channels:
        with started_server(logic="Streams") as (url, pid):
            asyncio.run(_measure_channels(url, pid, args))


async def _measure_channels(url: str, pid: int, args: argparse.Namespace) -> None:
    channels, followers = args.channels, args.channel_followers
    memory = await idle_channel_memory(url, pid, channels, followers)
    print(f"memory, {channels} idle channels x {followers} followers: {_per_channel(memory)}")
    for rate in (float(text) for text in args.channel_rates.split(",")):
        stream = await paced_channels(url, pid, channels, followers, rate, args.duration)
        print(
            f"channels, {channels} x {followers} followers at {rate:.0f}/s:"
            f" {stream.delivered_per_second:>9.0f}/s delivered, {stream.cpu_us:.2f} µs server CPU"
            f" each ({stream.cpu_share * 100:.0f}% of a core), {_kept_up(stream)}"
        )
    print(f"publish on a channel nobody follows: {await unfollowed_publish_ns():>6.0f} ns")


def _per_channel(memory: ChannelMemory) -> str:
    followed = f"{memory.per_channel_kib:.3f} KiB per followed channel"
    if memory.per_follower_kib is None:
        return followed
    return f"{followed}, {memory.per_follower_kib:.3f} KiB per further follower"


def _kept_up(stream: PacedStream) -> str:
    if stream.behind:
        return (
            f"FELL BEHIND: {stream.behind} of {stream.clients} clients got less than their share"
            f" ({stream.dropped} closed with 1013): a figure of overload, not of cost"
        )
    if stream.late > LATE:
        return f"LATE: all arrived, the last {stream.late:.2f} s after the stream's end"
    return f"all {stream.clients} clients kept up"


if __name__ == "__main__":
    main()
