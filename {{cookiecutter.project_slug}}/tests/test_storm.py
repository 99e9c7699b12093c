"""A reconnect storm: thousands of connected clients lose their connections at once and come back.

{%- if cookiecutter.multi_session %}

Every client speaks the page's protocol and reconnects with ``?last_seq=``.
When only the connections are cut and the server keeps running, each client
must get exactly what it missed: nothing lost, nothing twice, no gap. When the
server restarts, its sessions are gone with it: each client gets one ``reset``
(session expired), then the new stream, with nothing twice.
{%- if cookiecutter.scale_out == "redis" %} With Redis, one of
two processes is killed and started again: its clients resume on either one,
from the shared log, with nothing lost, nothing twice and no false gap.
{%- endif %}
{%- else %}

Plain clients cannot resume: each must come back and see the stream go on,
with nothing twice.
{%- endif %}

A client reconnects at once, and after a failed attempt again after a random
wait (full jitter, from ``RETRY_FIRST`` doubling up to ``RETRY_CAP``). Every
failed attempt is counted by its cause. None may fail once the server listens
again; before that, an attempt finds nobody listening, is reset with the
connects left in the old listener's queue, or gets HTTP 503 from the server
that drains (as documented): no other refusal is allowed.

``pytest tests/test_storm.py -s`` prints the figures: how long until every
client is back, the median and p99 of the time from a client's loss to its
return, the attempts, the failures by cause, and the kernel's count of
connects that found the listen backlog full (each waits a second for its SYN
to be sent again: ``--backlog`` sets the size of that queue).
"""

from __future__ import annotations

import asyncio
import contextlib
{%- if not cookiecutter.multi_session %}
import itertools
{%- endif %}
{%- if cookiecutter.multi_session %}
import json
{%- endif %}
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from {{ cookiecutter.package_name }} import Settings
{%- if cookiecutter.multi_session %}
from {{ cookiecutter.package_name }}.core.sessions import SESSION_COOKIE
{%- endif %}

{% if cookiecutter.multi_session -%}
from .cookies import cookie_header, given_cookies
{% endif -%}
{% if cookiecutter.scale_out == "redis" -%}
from .redis_server import running_redis
{% endif -%}
from .running_server import ServerProcess, running_server
{%- if cookiecutter.multi_session %}
from .support import PAGE
{%- endif %}

CLIENTS = 2_000
# 10 messages a second: 20,000 deliveries a second to 2,000 clients, which one Python process
# can read along with the storm. Each client misses some while it is away.
STREAM_INTERVAL = "0.1"
MESSAGES_AFTER_RETURN = 3  # each client must see the stream go on once it is back
OPEN_TIMEOUT = 20.0  # a SYN dropped by a full backlog is sent again after 1, 3, 7 s, ...
RETRY_FIRST, RETRY_CAP = 0.1, 1.0  # seconds: the ceiling of the random wait after a failure
PHASE_TIMEOUT = 60.0
POLL_INTERVAL = 0.01
JITTER = 20_240_611  # random.Random(JITTER) draws every retry wait; a failure prints it
DESCRIPTORS = 2 * CLIENTS + 1_000  # for the sockets of one side, old and new, and some to spare
DRAINING = "HTTP 503"


@pytest.fixture(autouse=True)
def enough_file_descriptors() -> Iterator[None]:
    """Raise this process's soft limit on open files; the servers it starts inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < DESCRIPTORS:
        pytest.skip(f"{CLIENTS} clients need {DESCRIPTORS} open files; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, DESCRIPTORS), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class StormClient:
    """A client that reads the stream and reconnects, at once, whenever it loses its connection."""

    def __init__(self, index: int, url: str, jitter: random.Random) -> None:
        self.index = index
        self.url = url  # where it connects; a test may point it elsewhere before a storm
        self.jitter = jitter
        self.ws: ClientConnection | None = None
        self.returns = 0  # connections made, the first one included
        self.lost_at: float | None = None
        self.back_at = 0.0
        self.away: list[float] = []  # seconds from each loss until it was back
        self.received_since_return = 0
        self.attempted: list[float] = []  # when each connection attempt began
        # (cause, when the attempt began) of every attempt that failed
        self.failures: list[tuple[str, float]] = []
{%- if cookiecutter.multi_session %}
        self.cookie: dict[str, str] = {}
        self.last_seq: int | None = None
        # (seq, notify number) of every message, a new run after each reset
        self.runs: list[list[tuple[int, int]]] = [[]]
        self.duplicates: list[int] = []
        self.unnumbered = 0  # messages without a seq: the server could not number them
        self.holes: list[tuple[int, int]] = []  # (the last seq seen, the next one received)
        self.gaps: list[tuple[int, int]] = []
        self.resets: list[str] = []
{%- else %}
        self.runs: list[list[int]] = [[]]  # the notify numbers, a run per connection
{%- endif %}

    async def run(self) -> None:
        """Connect, read until the connection is lost, and again, until cancelled."""
        while True:
            self.ws = ws = await self._connect()
{%- if not cookiecutter.multi_session %}
            self._returned()
{%- endif %}
            with contextlib.suppress(ConnectionClosed):
                async for raw in ws:
                    self._receive(str(raw))
            self.lost_at = time.monotonic()
{%- if not cookiecutter.multi_session %}
            self.runs.append([])
{%- endif %}

    async def _connect(self) -> ClientConnection:
        failed = 0
        while True:
            began = time.monotonic()
            self.attempted.append(began)
            try:
                ws = await connect(
{%- if cookiecutter.multi_session %}
                    self._resume_url(),
                    subprotocols=PAGE,
                    additional_headers=self.cookie,
{%- else %}
                    self.url,
{%- endif %}
                    open_timeout=OPEN_TIMEOUT,
                    ping_interval=None,
                    close_timeout=1,
                    compression=None,
                    proxy=None,
                )
            except InvalidStatus as error:
                self.failures.append((f"HTTP {error.response.status_code}", began))
            except (OSError, asyncio.TimeoutError, InvalidHandshake) as error:
                self.failures.append((type(error).__name__, began))
            else:
{%- if cookiecutter.multi_session %}
                self._keep_cookie(ws)
{%- endif %}
                return ws
            await asyncio.sleep(self.jitter.uniform(0, min(RETRY_CAP, RETRY_FIRST * 2**failed)))
            failed += 1

    def _returned(self) -> None:
        self.returns += 1
        self.back_at = time.monotonic()
        self.received_since_return = 0
        if self.lost_at is not None:
            self.away.append(self.back_at - self.lost_at)
{%- if cookiecutter.multi_session %}

    def _resume_url(self) -> str:
        return self.url if self.last_seq is None else f"{self.url}?last_seq={self.last_seq}"

    def _keep_cookie(self, ws: ClientConnection) -> None:
        """Present the session the server gave (a new one when the old one expired) from now on."""
        given = given_cookies(ws)
        if SESSION_COOKIE in given:
            self.cookie = cookie_header(given[SESSION_COOKIE].value)

    def _receive(self, raw: str) -> None:
        frame = json.loads(raw)
        if frame["type"] == "welcome":
            self._returned()
        elif frame["type"] == "message":
            seq: int | None = frame["seq"]
            if seq is None:
                self.unnumbered += 1
                return
            if self.last_seq is not None and seq <= self.last_seq:
                self.duplicates.append(seq)
                return
            if self.last_seq is not None and seq != self.last_seq + 1:
                self.holes.append((self.last_seq, seq))
            self.last_seq = seq
            self.runs[-1].append((seq, int(frame["data"].removeprefix("notify "))))
            self.received_since_return += 1
        elif frame["type"] == "gap":
            self.gaps.append((frame["from"], frame["to"]))
            self.last_seq = frame["to"]
        elif frame["type"] == "reset":
            self.resets.append(frame["reason"])
            self.last_seq = frame["seq"]
            self.runs.append([])
        else:
            raise AssertionError(f"client {self.index}: unexpected frame {frame}")
{%- else %}

    def _receive(self, raw: str) -> None:
        self.runs[-1].append(int(raw.removeprefix("notify ")))
        self.received_since_return += 1
{%- endif %}

    def failures_since(self, moment: float) -> list[str]:
        """The causes of the failed attempts that began at or after ``moment``."""
        return [cause for cause, began in self.failures if began >= moment]


def listen_overflows() -> int:
    """Connects this machine's kernel dropped because a listen backlog was full (Linux), or 0."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return 0
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            fields = dict(zip(names.split()[1:], values.split()[1:], strict=True))
            return int(fields.get("ListenOverflows", 0))
    return 0


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user and system) process ``pid`` has used, this one by default; 0 without /proc."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Storm:
    """Clients, their tasks, and what one storm did to them."""

    def __init__(self, urls: Sequence[str], servers: dict[str, ServerProcess]) -> None:
        self.jitter = random.Random(JITTER)
        self.clients = [
            StormClient(index, urls[index % len(urls)], self.jitter) for index in range(CLIENTS)
        ]
        self.servers = servers  # by name, for the CPU time they use in the storm
        self.tasks: list[asyncio.Task[None]] = []
        self.lost_at = 0.0
        self.milestones: dict[str, float] = {}
        self._overflows = 0
        self._cpu: dict[str, tuple[int, float]] = {}

    async def start(self) -> None:
        """Connect every client at once, and wait until each has received a message."""
        began = time.monotonic()
        self.tasks = [asyncio.create_task(client.run()) for client in self.clients]
        await self.wait_until(lambda client: client.received_since_return > 0, "streaming")
        print(f"\n{CLIENTS} clients connected and streaming in {time.monotonic() - began:.2f} s")

    def losing(self) -> None:
        """Mark the moment the storm begins: figures count from here."""
        self._overflows = listen_overflows()
        self._cpu = {
            name: (server.process.pid, cpu_seconds(server.process.pid))
            for name, server in self.servers.items()
        }
        self._cpu["clients (this process)"] = (0, cpu_seconds())
        self.lost_at = time.monotonic()

    def milestone(self, name: str) -> None:
        self.milestones[name] = time.monotonic()

    async def wait_until(self, done: Callable[[StormClient], bool], what: str) -> None:
        deadline = time.monotonic() + PHASE_TIMEOUT
        while True:
            for task in self.tasks:
                if task.done():
                    task.result()  # a client that failed its own checks says why
            waiting = [client.index for client in self.clients if not done(client)]
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(waiting)} clients not {what} after {PHASE_TIMEOUT} s, e.g."
                    f" {waiting[:10]}; jitter from random.Random({JITTER})"
                )
            await asyncio.sleep(POLL_INTERVAL)

    async def wait_for_return(self, clients: Sequence[StormClient]) -> None:
        """Wait until each of ``clients`` is back since the loss, and streaming again."""
        chosen = {client.index for client in clients}

        def back_and_streaming(client: StormClient) -> bool:
            if client.index not in chosen:
                return True
            return (
                client.back_at > self.lost_at
                and client.received_since_return >= MESSAGES_AFTER_RETURN
            )

        await self.wait_until(back_and_streaming, "back and streaming")

    def report(self, title: str, clients: Sequence[StormClient]) -> None:
        """Print how long the storm took, what failed on the way, and who spent the CPU."""
        since = self.lost_at
        away = sorted(client.away[-1] for client in clients)  # the latest loss of each
        all_back = max(client.back_at for client in clients) - since
        attempts = sum(1 for client in clients for began in client.attempted if began >= since)
        failures = Counter(cause for client in clients for cause in client.failures_since(since))
        lines = [f"{title}: {len(clients)} clients, all back {all_back:.2f} s after the loss"]
        lines += [f"  {name} after {at - since:.2f} s" for name, at in self.milestones.items()]
        lines += [
            f"  away per client: median {statistics.median(away):.3f} s,"
            f" p99 {statistics.quantiles(away, n=100)[98]:.3f} s, max {away[-1]:.3f} s",
            f"  connection attempts: {attempts}; failed: {dict(failures) or 'none'}",
            f"  connects dropped by a full listen backlog (kernel-wide): "
            f"{listen_overflows() - self._overflows}",
            "  CPU seconds used meanwhile: "
            + ", ".join(f"{name} {used:.2f}" for name, used in self._cpu_used().items()),
        ]
        print("\n".join(lines))

    def _cpu_used(self) -> dict[str, float]:
        used = {}
        for name, (pid, before) in self._cpu.items():
            server = self.servers.get(name)
            if server is None:
                used[name] = cpu_seconds() - before
            elif server.process.pid == pid:
                used[name] = cpu_seconds(pid) - before
            else:  # restarted: all the new process has used, its start-up included
                used[name + " (new process)"] = cpu_seconds(server.process.pid)
        return used

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for client in self.clients:
            if client.ws is not None:
                client.ws.transport.abort()


{%- if cookiecutter.multi_session %}


def assert_nothing_lost_or_twice(clients: Sequence[StormClient], resets: int = 0) -> None:
    """Each client saw every message once, in order, across its reconnects: no hole, no gap."""
    for client in clients:
        where = f"client {client.index}; jitter from random.Random({JITTER})"
        assert client.duplicates == [], where
        assert client.unnumbered == 0, where
        assert client.holes == [], where
        assert client.gaps == [], where
        assert client.resets == ["session expired"] * resets, where
        for run in client.runs:
            seqs = [seq for seq, _ in run]
            numbers = [number for _, number in run]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), where
            assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), where


def count_faults(clients: Sequence[StormClient]) -> dict[str, int]:
    """Duplicates, holes, gap and reset frames, over all clients."""
    return {
        "duplicates": sum(len(client.duplicates) for client in clients),
        "clients with duplicates": sum(bool(client.duplicates) for client in clients),
        "unnumbered": sum(client.unnumbered for client in clients),
        "holes": sum(len(client.holes) for client in clients),
        "gap frames": sum(len(client.gaps) for client in clients),
        "reset frames": sum(len(client.resets) for client in clients),
    }
{%- else %}


def assert_nothing_twice(clients: Sequence[StormClient], restarted: bool) -> None:
    """Each connection saw the stream run on by one; after a cut (not a restart) it went on."""
    for client in clients:
        where = f"client {client.index}; jitter from random.Random({JITTER})"
        runs = [run for run in client.runs if run]
        for run in runs:
            assert run == list(range(run[0], run[0] + len(run))), where
        if not restarted:
            for before, after in itertools.pairwise(runs):
                assert after[0] > before[-1], where
{%- endif %}


def listen_backlog(port: int) -> int:
    """The backlog of the socket listening on ``port``, as ``ss`` (Linux) shows it."""
    listing = subprocess.run(
        ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True
    )
    return int(listing.stdout.split()[2])  # State Recv-Q Send-Q: Send-Q is the backlog


def assert_no_failure_once_listening(clients: Sequence[StormClient], listening_at: float) -> None:
    failed = {client.index: client.failures_since(listening_at) for client in clients}
    assert {index: causes for index, causes in failed.items() if causes} == {}, (
        f"attempts failed while the server listened; jitter from random.Random({JITTER})"
    )


def assert_clean_logs(*servers: ServerProcess) -> None:
    for server in servers:
        assert "Traceback" not in server.log(), server.log()[-3000:]


def test_the_listen_backlog_is_the_setting() -> None:
    if shutil.which("ss") is None:
        pytest.skip("no ss (iproute2) to read a listening socket's backlog")
    somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
    with running_server(logic="Echo") as server:
        assert listen_backlog(server.port) == min(Settings().backlog, somaxconn)
    with running_server("--backlog", "77", logic="Echo") as server:
        assert listen_backlog(server.port) == 77


{%- if cookiecutter.multi_session %}


async def test_cut_connections_all_resume_with_nothing_lost_or_twice() -> None:
{%- else %}


async def test_cut_connections_all_come_back_with_nothing_twice() -> None:
{%- endif %}
    with running_server(
        "--notify-channel=", "--notify-interval", STREAM_INTERVAL, logic="Echo"
    ) as server:
        storm = Storm([server.ws_url], {"server": server})
        try:
            await storm.start()
            storm.losing()
            for client in storm.clients:
                assert client.ws is not None
                client.ws.transport.abort()  # every cable cut at once; the server keeps running
            await storm.wait_for_return(storm.clients)
            storm.report("cut connections", storm.clients)
        finally:
            await storm.stop()
        assert_no_failure_once_listening(storm.clients, storm.lost_at)
{%- if cookiecutter.multi_session %}
        assert_nothing_lost_or_twice(storm.clients)
{%- else %}
        assert_nothing_twice(storm.clients, restarted=False)
{%- endif %}
        assert_clean_logs(server)


async def test_a_restarted_server_gets_every_client_back() -> None:
    with running_server(
        "--notify-channel=", "--notify-interval", STREAM_INTERVAL, logic="Echo"
    ) as server:
        storm = Storm([server.ws_url], {"server": server})
        try:
            await storm.start()
            storm.losing()
            exit_code = await asyncio.to_thread(server.stop, signal.SIGTERM)  # drains: 1001
            storm.milestone("the server had drained and exited")
            await asyncio.to_thread(server.start_again)
            storm.milestone("it listened again")
            await storm.wait_for_return(storm.clients)
            storm.report("server restart", storm.clients)
        finally:
            await storm.stop()
        assert exit_code == 0  # on time: connects that came in as it drained did not hold it up
        assert_no_failure_once_listening(storm.clients, storm.milestones["it listened again"])
        # Before that, attempts found the server draining (503) or away: refused, or reset with
        # the connects still in the old listener's backlog when it closed.
        refusals = {cause for client in storm.clients for cause, _ in client.failures}
        assert {cause for cause in refusals if cause.startswith("HTTP")} <= {DRAINING}
{%- if cookiecutter.multi_session %}
        # A restart loses the sessions kept in memory: each client is told so, then streams anew.
        assert_nothing_lost_or_twice(storm.clients, resets=1)
{%- else %}
        assert_nothing_twice(storm.clients, restarted=True)
{%- endif %}
        assert_clean_logs(server)
{%- if cookiecutter.scale_out == "redis" %}


async def test_a_restarted_process_clients_resume_on_either_with_nothing_lost_or_twice() -> None:
    with running_redis() as redis_server:
        shared = ("--redis-url", redis_server.url)
        producer = ("--notify-channel=", "--notify-interval", STREAM_INTERVAL)
        with (
            running_server(*shared, logic="Echo") as doomed,
            running_server(*shared, logic="Echo") as survivor,
            running_server(*shared, *producer, logic="Echo") as streaming,
        ):
            servers = {"restarted": doomed, "other": survivor, "producer": streaming}
            storm = Storm([doomed.ws_url, survivor.ws_url], servers)
            try:
                await storm.start()
                orphans = [client for client in storm.clients if client.url == doomed.ws_url]
                for number, client in enumerate(orphans):
                    # Half of them come back to the restarted process, half go to the other.
                    client.url = (doomed, survivor)[number % 2].ws_url
                storm.losing()
                await asyncio.to_thread(doomed.stop, signal.SIGKILL)  # no goodbye, no flush
                await asyncio.to_thread(doomed.start_again)
                storm.milestone("the killed process listened again")
                await storm.wait_for_return(orphans)
                storm.report("process restart, Redis", orphans)
            finally:
                await storm.stop()
            faults = count_faults(storm.clients)
            print(f"  resume faults over all {CLIENTS} clients: {faults}")
            stayed = [client for client in storm.clients if client.returns == 1]
            assert len(stayed) == CLIENTS - len(orphans)
            assert {cause for client in stayed for cause, _ in client.failures} == set()
            listening_at = storm.milestones["the killed process listened again"]
            assert_no_failure_once_listening(orphans, listening_at)
            assert_nothing_lost_or_twice(storm.clients)
            assert_clean_logs(doomed, survivor, streaming)
{%- endif %}
