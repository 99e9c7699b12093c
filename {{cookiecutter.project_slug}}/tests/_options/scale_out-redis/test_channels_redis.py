"""Channels over a real Redis: every follower on every process gets each message once, in order.

The stress test cuts a follower at random points (a failure prints
``CHANNEL_PLAN=<n>``, which replays the same cuts), resumes it on one process
then the other, and SIGKILLs one of them on the way. The restart tests lose
Redis's data under a channel: a resume from before the loss gets a reset,
also when it comes at a random moment around the restart (a failure prints
``RESTART_PLAN=<n>``, which replays the same moments). The cost test prints
what a publish costs in Redis commands and time (``pytest -s`` shows it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import time
from collections.abc import Iterator
from typing import Any
from unittest.mock import ANY

import pytest
import redis.asyncio as redis
from pytest_aiohttp import AiohttpClient
from websockets.asyncio.client import connect

from {{ cookiecutter.package_name }} import Settings, create_app
from {{ cookiecutter.package_name }}.core.proxy_out_redis import KEY_PREFIX
from {{ cookiecutter.package_name }}.core.state import PROXY_OUT

from .apps import Echo
from .redis_server import RedisServer, running_redis
from .running_server import ServerProcess, running_server
from .support import PAGE
from .test_channels import (
    TIMEOUT,
    Follower,
    assert_reset_into_the_new_numbering,
    expected,
    resume_into_a_numbering_anew,
    send_and_wait,
)
from .test_scale_out import wait_for_readiness

STREAM_LENGTH = 600  # messages per channel
STREAM_INTERVAL = "0.004"  # seconds between rounds (one message on each channel)
CUTS = 8
PUBLISHES = 2_000  # of the cost test
RESTARTS = 5  # of the random restart test
RESTART_SPREAD = 0.4  # seconds: Redis comes back, and the follower resumes, within this


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


async def follow(server: ServerProcess, *channels: str) -> Follower:
    """A follower of ``channels`` on ``server``, its subscriptions confirmed."""
    follower = Follower(server.ws_url, channels)
    await follower.connect()
    while len(follower.positions) < len(channels):
        follower._record(await follower._frame())
    return follower


async def close(*followers: Follower) -> None:
    for follower in followers:
        await follower.close()


async def until_logged(server: ServerProcess, text: str, times: int = 1) -> None:
    """Wait until ``server`` has logged ``text`` ``times`` times: it has got that far."""
    deadline = time.monotonic() + TIMEOUT
    while server.log().count(text) < times:
        assert time.monotonic() < deadline, f"not logged {times} times: {text}\n{server.log()}"
        await asyncio.sleep(0.02)


async def cut_off(follower: Follower, server: ServerProcess, times: int = 1) -> None:
    """Cut ``follower`` off and wait until ``server`` has let it go (its ``times``-th cut there)."""
    follower.cut()
    await until_logged(server, "code=1006", times)


async def ready(*servers: ServerProcess) -> None:
    """Wait until every server answers ``/readyz`` with 200: each is back on Redis."""
    for server in servers:
        await wait_for_readiness(server, 200)


async def start_later(redis_server: RedisServer, delay: float) -> None:
    await asyncio.sleep(delay)
    await asyncio.to_thread(redis_server.start)


async def resumed(follower: Follower) -> dict[str, Any]:
    """Reconnect ``follower`` where it left off; the subscription that confirms the resume."""
    await follower.connect()
    confirmed = await follower._frame()  # written once Redis has the channel back
    follower._record(confirmed)
    return confirmed


async def no_more_frames(follower: Follower) -> None:
    """Nothing else arrives (a duplicate would) within a short while."""
    assert follower.ws is not None
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(follower.ws.recv(), 0.3)


async def test_a_publish_on_one_process_reaches_followers_on_every_process_once(
    redis_server: RedisServer,
) -> None:
    shared = ("--redis-url", redis_server.url, "--rate-limit", "0")
    with (
        running_server(*shared, logic="Streams") as first,
        running_server(*shared, logic="Streams") as second,
    ):
        followers = [await follow(server, "alpha") for server in (first, second, first, second)]
        await send_and_wait(first.ws_url, "stream 100 0 alpha")
        await send_and_wait(second.ws_url, "stream 100 0 alpha")
        for follower in followers:
            await follower.read(200)
            await no_more_frames(follower)
        await close(*followers)
    for follower in followers:
        numbers = [seq for seq, _ in follower.received["alpha"]]
        assert numbers == list(range(1, 201))
        texts = [text for _, text in follower.received["alpha"]]
        assert texts == [f"alpha {n}" for n in (*range(1, 101), *range(1, 101))]
        assert follower.refused == []


async def test_a_channel_nobody_follows_anywhere_keeps_nothing_in_redis(
    redis_server: RedisServer,
) -> None:
    with running_server("--redis-url", redis_server.url, logic="Streams") as server:
        await send_and_wait(server.ws_url, "stream 5 0 nobody")
    observer = redis.Redis.from_url(redis_server.url)
    assert await observer.keys(f"{KEY_PREFIX}channel*") == []
    await observer.aclose()


async def test_followers_resume_on_either_process_exactly_once_across_cuts_and_a_kill(
    redis_server: RedisServer,
) -> None:
    plan = int(os.environ.get("CHANNEL_PLAN") or random.randrange(1 << 32))
    rng = random.Random(plan)
    total = 2 * STREAM_LENGTH  # of the two channels followed
    cuts = sorted(rng.sample(range(1, total), CUTS))
    kill_at = rng.randrange(CUTS)
    context = f"CHANNEL_PLAN={plan}, cuts after {cuts}, kill at cut {kill_at}"
    shared = ("--redis-url", redis_server.url, "--rate-limit", "0")
    with contextlib.ExitStack() as servers:
        processes = [servers.enter_context(running_server(*shared, logic="Echo")) for _ in "ab"]
        publisher = servers.enter_context(running_server(*shared, logic="Streams"))
        follower = await follow(processes[0], "alpha", "beta")
        async with connect(publisher.ws_url) as command:
            await command.send(f"stream {STREAM_LENGTH} {STREAM_INTERVAL} alpha beta gamma")
            for index, point in enumerate(cuts):
                await asyncio.wait_for(follower.read(point), 3 * TIMEOUT)
                on = processes[index % 2]
                if index == kill_at:
                    on.stop(signal.SIGKILL)  # no goodbye, no flush
                    await asyncio.to_thread(on.start_again)
                else:
                    follower.cut()
                if index % 2:
                    await asyncio.sleep(rng.uniform(0.01, 0.2))
                follower.url = processes[(index + 1) % 2].ws_url
                await follower.connect()
            await asyncio.wait_for(follower.read(total), 3 * TIMEOUT)
            assert await asyncio.wait_for(command.recv(), 3 * TIMEOUT) == "streamed", context
        await no_more_frames(follower)
        await close(follower)
    assert follower.received["alpha"] == expected("alpha", range(1, STREAM_LENGTH + 1)), context
    assert follower.received["beta"] == expected("beta", range(1, STREAM_LENGTH + 1)), context
    assert "gamma" not in follower.received, context
    assert follower.refused == [], context


async def test_a_history_that_ran_out_gives_a_gap_on_the_other_process(
    redis_server: RedisServer,
) -> None:
    shared = ("--redis-url", redis_server.url, "--channel-history", "10")
    with (
        running_server(*shared, logic="Streams") as first,
        running_server(*shared, logic="Streams") as second,
    ):
        follower = await follow(first, "alpha", "beta")
        await send_and_wait(first.ws_url, "stream 1 0 alpha beta")
        await follower.read(2)
        follower.cut()
        await send_and_wait(first.ws_url, "stream 50 0 alpha")  # 2..51: more than it holds
        await send_and_wait(first.ws_url, "stream 5 0 beta")  # 2..6
        follower.url = second.ws_url
        await follower.connect()
        await follower.read(2 + 10 + 5)
        await close(follower)
    assert follower.refused == [{"type": "gap", "channel": "alpha", "from": 2, "to": 41}]
    assert [seq for seq, _ in follower.received["alpha"]] == [1, *range(42, 52)]
    assert [seq for seq, _ in follower.received["beta"]] == list(range(1, 7))


async def test_a_resume_that_needed_what_redis_lost_gets_a_reset(
    redis_server: RedisServer,
) -> None:
    with running_server("--redis-url", redis_server.url, logic="Streams") as server:
        follower = await follow(server, "alpha")
        await send_and_wait(server.ws_url, "stream 5 0 alpha")
        await follower.read(5)
        await cut_off(follower, server)
        redis_server.stop()  # without persistence: the channel is gone
        await wait_for_readiness(server, 503)
        redis_server.start()
        await ready(server)
        assert await resumed(follower) == {
            "type": "subscribed",
            "channel": "alpha",
            "seq": 0,
            "epoch": ANY,
        }
        await send_and_wait(server.ws_url, "stream 2 0 alpha")
        await follower.read(7)
        await close(follower)
    assert follower.refused == [
        {"type": "reset", "channel": "alpha", "reason": "unknown position", "seq": 0}
    ]
    numbered_again = expected("alpha", range(1, 3))  # the channel starts again from 1
    assert follower.received["alpha"] == [*expected("alpha", range(1, 6)), *numbered_again]


async def test_a_resume_into_a_channel_numbered_anew_gets_a_reset_not_its_numbers(
    redis_server: RedisServer,
) -> None:
    # The channel's keys expire once no process refreshes them; its new numbering has a new epoch.
    with running_server(
        "--redis-url", redis_server.url, "--channel-history-age", "0.3", logic="Streams"
    ) as server:
        follower = await resume_into_a_numbering_anew(server)
    assert_reset_into_the_new_numbering(follower)


async def test_a_resume_from_before_the_loss_gets_a_reset_where_the_numbering_went_on(
    redis_server: RedisServer,
) -> None:
    shared = ("--redis-url", redis_server.url)
    with (
        running_server(*shared, logic="Streams") as publisher,
        running_server(*shared, logic="Echo") as server,
    ):
        rider = await follow(publisher, "alpha")  # follows on through the loss
        follower = await follow(server, "alpha")
        await send_and_wait(publisher.ws_url, "stream 5 0 alpha")
        await rider.read(5)
        await follower.read(5)
        await cut_off(follower, server)
        redis_server.stop()
        await wait_for_readiness(publisher, 503)
        redis_server.start()
        await ready(publisher, server)  # the rider's process has set alpha's counter back to 5
        assert await resumed(follower) == {
            "type": "subscribed",
            "channel": "alpha",
            "seq": 5,
            "epoch": ANY,
        }
        await send_and_wait(publisher.ws_url, "stream 2 0 alpha")
        await rider.read(7)
        await follower.read(7)
        await no_more_frames(follower)
        await close(rider, follower)
    # Its 5 is the rider's too, but what came after 5 before the loss is not known to anyone.
    assert follower.refused == [
        {"type": "reset", "channel": "alpha", "reason": "unknown position", "seq": 5}
    ]
    numbered_on = [(6, "alpha 1"), (7, "alpha 2")]
    assert follower.received["alpha"] == [*expected("alpha", range(1, 6)), *numbered_on]
    assert rider.received["alpha"] == follower.received["alpha"]
    assert rider.refused == []


async def test_a_resume_at_any_moment_around_a_redis_restart_gets_a_reset(
    redis_server: RedisServer,
) -> None:
    plan = int(os.environ.get("RESTART_PLAN") or random.randrange(1 << 32))
    rng = random.Random(plan)
    shared = ("--redis-url", redis_server.url)
    with (
        running_server(*shared, logic="Streams") as publisher,
        running_server(*shared, logic="Echo") as server,
    ):
        rider = await follow(publisher, "alpha")  # follows on through every loss
        follower = await follow(server, "alpha")
        await send_and_wait(publisher.ws_url, "stream 3 0 alpha")
        await follower.read(3)
        for restart in range(1, RESTARTS + 1):
            down_for, resume_after = (rng.uniform(0, RESTART_SPREAD) for _ in "ab")
            context = f"RESTART_PLAN={plan}, restart {restart}: Redis down for {down_for:.3f} s,"
            context += f" the follower resumes after {resume_after:.3f} s"
            await cut_off(follower, server, restart)
            redis_server.stop()
            started = asyncio.create_task(start_later(redis_server, down_for))
            await asyncio.sleep(resume_after)  # before Redis is back, or after, or as it comes
            refused, received = len(follower.refused), len(follower.received["alpha"])
            await resumed(follower)
            await started
            await ready(publisher, server)
            await send_and_wait(publisher.ws_url, "stream 3 0 alpha")
            await follower.read(received + 3)
            await no_more_frames(follower)
            # A gap may follow the reset: the numbers the rider's process went on above.
            kinds = [frame["type"] for frame in follower.refused[refused:]]
            assert kinds in (["reset"], ["reset", "gap"]), context
            after = follower.received["alpha"][received:]
            assert [text for _, text in after] == ["alpha 1", "alpha 2", "alpha 3"], context
            seqs = [seq for seq, _ in after]
            assert seqs == sorted(set(seqs)), context
            assert seqs[0] > follower.refused[refused]["seq"], context
        await rider.read(3 * (RESTARTS + 1))
        await no_more_frames(rider)
        await close(rider, follower)
    assert [seq for seq, _ in rider.received["alpha"]] == list(range(1, 3 * RESTARTS + 4))
    assert rider.refused == []


async def test_a_redis_restart_mid_stream_is_survived(redis_server: RedisServer) -> None:
    shared = ("--redis-url", redis_server.url, "--rate-limit", "0")
    with (
        running_server(*shared, logic="Echo") as server,
        running_server(*shared, logic="Streams") as publisher,
    ):
        remote = await follow(server, "alpha")  # what it gets comes through Redis
        local = await follow(publisher, "alpha")  # meanwhile, it gets the publisher's own
        async with connect(publisher.ws_url) as command:
            await command.send("stream 100000 0.01 alpha")
            await remote.read(20)
            redis_server.stop()
            await wait_for_readiness(server, 503)
            redis_server.start()
            await wait_for_readiness(server, 200)
            await wait_for_readiness(publisher, 200)
            recovered = len(remote.received["alpha"])
            await remote.read(recovered + 20)
            remote.cut()  # a resume after the restart is exact again
            await asyncio.sleep(0.2)
            await remote.connect()
            await remote.read(recovered + 60)
            await local.read(60)
        await close(remote, local)
        logs = [server.log(), publisher.log()]
    after = remote.received["alpha"][recovered:]
    assert all(seq is not None for seq, _ in after)  # numbered again
    seqs = [seq for seq, _ in after]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # once each, no hole
    for follower in (remote, local):
        texts = [int(text.removeprefix("alpha ")) for _, text in follower.received["alpha"]]
        assert texts == sorted(set(texts))  # in order, none twice: only the outage is missed
    assert remote.refused == []
    for log in logs:
        assert "Traceback" not in log


async def test_what_a_backend_appends_to_the_publish_stream_reaches_every_process_once(
    redis_server: RedisServer,
) -> None:
    shared = ("--redis-url", redis_server.url)
    with (
        running_server(*shared, logic="Echo") as first,
        running_server(*shared, logic="Echo") as second,
    ):
        followers = [await follow(server, "news") for server in (first, second)]
        backend = redis.Redis.from_url(redis_server.url, decode_responses=True)
        for number in range(1, 51):
            await backend.xadd(f"{KEY_PREFIX}publish", {"channel": "news", "data": f"n{number}"})
        await backend.xadd(f"{KEY_PREFIX}publish", {"channel": "bad name", "data": "dropped"})
        for follower in followers:
            await follower.read(50)
            await no_more_frames(follower)
        await close(*followers)
        assert await backend.xlen(f"{KEY_PREFIX}publish") == 0  # each entry done and deleted
        await backend.aclose()
        logs = first.log() + second.log()
    first_received, second_received = (follower.received["news"] for follower in followers)
    assert first_received == second_received  # one numbering, the same on both processes
    assert [seq for seq, _ in first_received] == list(range(1, 51))
    assert [text for _, text in first_received] == [f"n{n}" for n in range(1, 51)]  # in order
    assert "publish stream entry" in logs  # the bad one, logged


async def test_what_a_publish_costs(
    aiohttp_client: AiohttpClient, redis_server: RedisServer
) -> None:
    """Redis commands and time per publish, one at a time and many at once (shown by ``-s``)."""
    settings = Settings(port=0, redis_url=redis_server.url, rate_limit=0, channel_history=PUBLISHES)
    app = create_app(settings, Echo)
    client = await aiohttp_client(app)
    ws = await client.ws_connect("/ws", protocols=(PAGE[0],))
    await ws.receive_str(timeout=TIMEOUT)  # welcome
    await ws.send_str(json.dumps({"type": "subscribe", "channel": "bench"}))
    await ws.receive_str(timeout=TIMEOUT)  # subscribed
    out = app[PROXY_OUT]
    observer = redis.Redis.from_url(redis_server.url, decode_responses=True)

    async def measure(label: str, publishes: int, *, together: bool) -> None:
        await observer.config_resetstat()
        started = time.perf_counter()
        if together:
            await asyncio.gather(*(out.publish("bench", "x" * 32) for _ in range(publishes)))
        else:
            for _ in range(publishes):
                await out.publish("bench", "x" * 32)
        for _ in range(publishes):
            json.loads(await ws.receive_str(timeout=TIMEOUT))
        elapsed = time.perf_counter() - started
        stats = await observer.info("commandstats")
        calls = {name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()}
        per_publish = {name: count / publishes for name, count in sorted(calls.items())}
        print(
            f"\n{label}: {publishes} publishes delivered in {elapsed:.3f} s"
            f" ({publishes / elapsed:,.0f}/s, {elapsed / publishes * 1e6:.0f} us each);"
            f" Redis commands per publish: {per_publish}"
        )
        assert calls["xadd"] == calls["incr"] == publishes  # one numbered append each

    await measure("one at a time", PUBLISHES, together=False)
    await measure("all at once", PUBLISHES, together=True)
    await observer.aclose()
    await ws.close()
