"""The outgoing proxy over Redis: many server processes acting as one.

Every message, to one session or to all, is appended to one Redis stream (the
log) under the next number of a shared counter, by a Lua script, so all
processes agree on the order; what is sent while one batch of appends is on
its way goes in the next, in one round trip. Each process reads the log and
delivers every entry to its own connections: a send reaches the session's tabs
wherever they are, a broadcast reaches every connection once. The log is also the replay
history: a client resuming on any process is caught up from it. A session
exists while its key lives; processes holding its connections keep the key
alive, and it expires ``--session-grace`` seconds after the last one lets go.

Channels live in Redis too, a stream per channel (see ``channels_redis.py``):
a publish on any process reaches every follower on every process once, in
order, and a subscribe with ``since`` replays from Redis wherever the client
lands.

If Redis goes away, local delivery carries on: messages are delivered to this
process's connections, unnumbered (``seq: null``), not kept for replay and not
seen by other processes. The bus reconnects with backoff, ``/readyz`` says
not ready meanwhile, and numbering, replay and cross-process delivery resume
when Redis is back. A Redis restarted without persistence has lost its log;
a resume that needed it gets a ``gap`` frame. It has lost the channels'
numbering too: a resume of a channel from a position of the lost numbering
gets a ``reset`` (see ``channels_redis.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import re
import secrets
import socket
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import redis.asyncio as redis
from aiohttp import web
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError
from redis.typing import KeyT, StreamIdT

from ..api import Client
from .channels import ChannelError, ChannelRegistry, check_channel_name, new_epoch
from .channels_redis import (
    CHANNEL_APPEND,
    CHANNEL_FOLLOW,
    PUBLISH_GROUP,
    RETURN_LEASE,
    TAKE_LEASE,
    ChannelEntry,
    ChannelReads,
    Numbering,
    replay_channel,
)
from .errors import StartupError
from .protocol import encode_gap, encode_message, encode_reset, encode_subscribed
from .proxy_out import LocalProxyOut
from .sessions import Session, SessionConnection, SessionRegistry, new_session_id
from .settings import ServerSettings
from .websocket import WebSocket

__all__ = ["RedisConnection", "RedisProxyOut", "RedisUnavailableError"]

logger = logging.getLogger(__name__)

KEY_PREFIX = "{{ cookiecutter.package_name }}:"
READ_BLOCK_MS = 1_000
POOL_SIZE = 64  # connections to Redis for claims, resumes and the log reader
POOL_WAIT = 5.0  # seconds a request may wait for one of them
RETRY_FIRST, RETRY_CAP = 0.1, 5.0  # seconds between reconnect attempts, doubling, with jitter
PUBLISHED_BATCH = 100  # entries of the publish stream taken at a time
CLAIM_IDLE_MS = 5_000  # a publish stream entry read this long ago and not done: its reader died
LEASE_MS = 5_000  # how long the publish stream's taker may go silent before another takes over
MAX_SEQ = 2**63 - 1  # the highest number a counter can reach
WAKE_TRIES, WAKE_PAUSE = 20, 0.005  # a wake that comes before the read blocks is sent again

# Number the message and append it to the log, atomically: the order is the same for everyone.
# Fields: s the session (empty: everyone), t the text, ms the time, x a session left out.
APPEND = """
local seq = redis.call('INCR', KEYS[1])
local fields = {'s', ARGV[2], 't', ARGV[3], 'ms', ARGV[4]}
if ARGV[5] ~= '' then
  table.insert(fields, 'x')
  table.insert(fields, ARGV[5])
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], seq .. '-0', unpack(fields))
return seq
"""
# After Redis lost its data, start numbering above every number a client may hold.
RAISE_COUNTER = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
"""


class RedisUnavailableError(StartupError):
    """Redis could not be reached at start-up."""


def _redacted(url: str) -> str:
    return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", url)


LogEntry = tuple[int, dict[str, str]]  # message number, and the fields APPEND gave it


def _entries(raw: Any) -> list[LogEntry]:
    """Log entries from a decoded XRANGE reply; a stream id is ``<number>-0``."""
    return [(int(entry_id.partition("-")[0]), fields) for entry_id, fields in raw or ()]


class RedisConnection(SessionConnection):
    """A session's connection, sent each message number once, though replay and log overlap.

    A resume reads what was missed from Redis while this process's log reader
    keeps delivering: live messages are held meanwhile, then let through only
    above what the replay covered.
    """

    __slots__ = ("_channel_held", "_channel_sent", "_held", "_sent_up_to")

    def __init__(
        self,
        request: web.Request,
        socket: WebSocket,  # the websocket here; the module of that name elsewhere
        queue_limit: int,
        max_bad_frames: int,
    ) -> None:
        super().__init__(request, socket, queue_limit, max_bad_frames)
        self._held: list[tuple[int | None, str]] | None = None
        self._sent_up_to = 0  # the highest message number sent (or skipped as a gap)
        # The same, per channel: what is held while a channel's replay is fetched, and the
        # highest number of each channel sent; made on the first subscription.
        self._channel_held: dict[str, list[tuple[int | None, str]]] = {}
        self._channel_sent: dict[str, int] = {}

    def deliver(self, seq: int | None, frame: str, channel: str | None = None) -> None:
        """Write session message number ``seq`` once: held while a replay is fetched, dropped if
        covered.

        Numbers only grow, so one that is not above the last one sent was
        replayed, or announced as a gap, already. (``None``: sent while Redis
        was away, unnumbered.) A channel's message is held and dropped by the
        same rule, per channel.
        """
        if channel is not None:
            self._deliver_on_channel(seq, frame, channel)
            return
        if self._held is not None:
            self._held.append((seq, frame))
            return
        if seq is not None:
            if seq <= self._sent_up_to:
                return
            self._sent_up_to = seq
        self.write(frame)

    def _deliver_on_channel(self, seq: int | None, frame: str, channel: str) -> None:
        held = self._channel_held.get(channel)
        if held is not None:
            held.append((seq, frame))
            return
        if seq is not None:
            if seq <= self._channel_sent.get(channel, 0):
                return
            self._channel_sent[channel] = seq
        self.write(frame)

    def hold_channel(self, channel: str) -> None:
        """Hold ``channel``'s live messages while its replay is fetched (see :meth:`release_channel`)."""
        self._channel_held.setdefault(channel, [])

    def release_channel(self, channel: str, caught_up_to: int) -> None:
        """Go live on ``channel`` after a replay (or a reset) that ends at ``caught_up_to``."""
        held = self._channel_held.pop(channel, [])
        self._channel_sent[channel] = caught_up_to
        for seq, frame in held:
            self._deliver_on_channel(seq, frame, channel)

    def forget_channel(self, channel: str) -> None:
        """``channel`` is no longer followed: a later subscribe starts from its own position."""
        self._channel_sent.pop(channel, None)

    def hold(self) -> None:
        """Hold live messages back while what was missed is fetched (see :meth:`release`)."""
        self._held = []

    def release(self, caught_up_to: int) -> None:
        """Go live after a replay that covered every number up to ``caught_up_to``."""
        held, self._held = self._held or [], None
        self._sent_up_to = max(self._sent_up_to, caught_up_to)
        for seq, frame in held:
            self.deliver(seq, frame)


class RedisProxyOut(LocalProxyOut):
    """Sends through the shared Redis log; delivers what the log says to this process's sessions."""

    connection_class = RedisConnection

    def __init__(
        self, sessions: SessionRegistry, channels: ChannelRegistry, settings: ServerSettings
    ) -> None:
        super().__init__(sessions, channels)
        self._settings = settings
        self._url = _redacted(settings.redis_url)
        # Handshakes that arrive together (a reconnect storm) claim their sessions and read
        # their replays at once: they wait for a free connection rather than fail as if
        # Redis were gone.
        pool = redis.BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=POOL_SIZE,
            timeout=POOL_WAIT,
            socket_connect_timeout=2,
            socket_timeout=READ_BLOCK_MS / 1000 + 2,
            decode_responses=True,
            # One immediate retry replaces a pooled connection that Redis dropped; anything
            # longer would stall senders during an outage instead of falling back at once.
            retry=Retry(NoBackoff(), retries=1),
        )
        self._redis: redis.Redis = redis.Redis.from_pool(pool)
        # Appending is not idempotent: a retried script could log a message twice, so it goes
        # through a client that never retries (its pool is emptied after an outage instead).
        self._appender = redis.Redis.from_url(
            settings.redis_url, socket_connect_timeout=2, decode_responses=True, retry=None
        )
        # The log reader blocks on its own connection, which a subscribe to a channel new here
        # wakes (CLIENT UNBLOCK) so that the next read includes its stream.
        self._reader = redis.Redis.from_url(
            settings.redis_url,
            socket_connect_timeout=2,
            socket_timeout=READ_BLOCK_MS / 1000 + 2,
            decode_responses=True,
            retry=Retry(NoBackoff(), retries=1),
            single_connection_client=True,
        )
        self._reader_id: int | None = None
        self._channel_starts = 0  # how many channels began to be read here (see _wake_reader)
        self._read_built_after = 0  # of those, how many the current read includes
        self._raise_counter = self._redis.register_script(RAISE_COUNTER)
        self._counter_key = KEY_PREFIX + "seq"
        self._log_key = KEY_PREFIX + "log"
        self._publish_key = KEY_PREFIX + "publish"
        self._lease_key = KEY_PREFIX + "publish-taker"
        self._consumer = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._position = 0  # number of the latest log entry delivered here
        self._reads = ChannelReads()  # where this process reads each channel it has followers of
        self._channel_ttl_ms = max(int(settings.channel_history_age * 1000), 1)
        # Appends (script, keys, arguments) not yet sent, in the order they were made, with the
        # futures their senders await: what is sent while one pipeline is under way goes in
        # the next (_send_appends).
        self._appends: list[tuple[str, list[str], list[Any], asyncio.Future[Any]]] = []
        self._appending: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._wakes: set[asyncio.Task[None]] = set()
        self.redis_up = False

    def _session_key(self, session_id: str) -> str:
        return f"{KEY_PREFIX}session:{session_id}"

    @staticmethod
    def _channel_keys(name: str) -> list[str]:
        """The keys of channel ``name``: its counter and its stream (names may hold colons)."""
        return [f"{KEY_PREFIX}channel-seq:{name}", f"{KEY_PREFIX}channel:{name}"]

    @classmethod
    def _follow_keys(cls, name: str) -> list[str]:
        """The keys :data:`CHANNEL_FOLLOW` keeps: the channel's counter, stream, lost mark and
        epoch."""
        lost, epoch = f"{KEY_PREFIX}channel-lost:{name}", f"{KEY_PREFIX}channel-epoch:{name}"
        return [*cls._channel_keys(name), lost, epoch]

    async def lifespan(self, app: web.Application) -> AsyncIterator[None]:
        """Follow the log for the application's lifetime (an aiohttp cleanup context)."""
        await self.start()
        yield
        await self.stop()

    async def start(self) -> None:
        """Connect, or raise :class:`RedisUnavailableError`; then follow the log."""
        try:
            await self._sync_position()
        except (RedisError, OSError) as error:
            await self._close_clients()
            raise RedisUnavailableError(f"cannot reach Redis at {self._url}: {error}") from None
        self.redis_up = True
        logger.info("connected to Redis at %s", self._url)
        self._tasks = [
            asyncio.create_task(self._follow_log()),
            asyncio.create_task(self._keep_sessions_alive()),
            asyncio.create_task(self._keep_channels_alive()),
            asyncio.create_task(self._take_published()),
        ]

    async def stop(self) -> None:
        if self._appending is not None:
            self._tasks.append(self._appending)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._leave_publish_group()
        await self._close_clients()

    async def _close_clients(self) -> None:
        for task in self._wakes:
            task.cancel()
        await self._redis.aclose()
        await self._appender.aclose()
        await self._reader.aclose()

    async def _sync_position(self) -> None:
        """Start reading after the log's latest entry, numbering above anything handed out."""
        latest = _entries(await self._redis.xrevrange(self._log_key, count=1))
        if latest:
            self._position = max(self._position, latest[0][0])
        await self._raise_counter(keys=[self._counter_key], args=[self._position])

    # Sending

    async def to_session(self, session_id: str, text: str) -> None:
        await self._publish(session_id, text)

    async def broadcast(self, text: str, *, exclude: Client | None = None) -> None:
        await self._publish("", text, "" if exclude is None else exclude.session.id)

    async def _publish(self, session_id: str, text: str, excluded: str = "") -> None:
        """Append ``text`` for ``session_id`` (empty: everyone but the ``excluded`` session)."""
        if self.redis_up:
            now_ms = int(time.time() * 1000)
            args = [self._settings.redis_log_size, session_id, text, now_ms, excluded]
            try:
                await self._append(APPEND, [self._counter_key, self._log_key], args)
                return
            except (RedisError, OSError) as error:
                self._lost(error)
        self._deliver(None, session_id, text, excluded)  # Redis is away: this process's only

    async def _append(self, script: str, keys: list[str], args: list[Any]) -> Any:
        """Run ``script`` in the next pipeline of appends (see :meth:`_send_appends`); its reply."""
        appended = asyncio.get_running_loop().create_future()
        self._appends.append((script, keys, args, appended))
        if self._appending is None:
            self._appending = asyncio.create_task(self._send_appends())
        return await appended

    async def _send_appends(self) -> None:
        """Send the waiting appends to Redis, one pipeline (one round trip) at a time.

        Everything sent during one pass of the event loop (the replies to a
        hundred clients, say) travels together, in order, instead of one round
        trip each. A failed pipeline fails each of its appends: their senders
        deliver locally, as they would after any error.
        """
        batch: list[tuple[str, list[str], list[Any], asyncio.Future[Any]]] = []
        try:
            while self._appends:
                batch, self._appends = self._appends, []
                outcome: BaseException | None = None
                replies: list[Any] = []
                try:
                    async with self._appender.pipeline(transaction=False) as pipe:
                        for script, keys, args, _ in batch:
                            # EVAL, not EVALSHA: a pipeline of registered scripts first asks
                            # Redis whether they exist, one more round trip per batch.
                            pipe.eval(script, len(keys), *keys, *args)
                        replies = await pipe.execute()
                except (RedisError, OSError) as error:
                    outcome = error
                for index, (_, _, _, appended) in enumerate(batch):
                    if appended.done():
                        continue  # its sender was cancelled
                    if outcome is None:
                        appended.set_result(replies[index])
                    else:
                        appended.set_exception(outcome)
        except asyncio.CancelledError:
            for *_, appended in batch + self._appends:
                appended.cancel()
            raise
        finally:
            self._appending = None

    def _deliver(self, seq: int | None, session_id: str, text: str, excluded: str) -> None:
        if not session_id:
            for session in self.sessions:
                if session.id != excluded:
                    session.deliver(seq, text)
        else:
            addressed = self.sessions.get(session_id)
            if addressed is not None:
                addressed.deliver(seq, text)

    # Following the log

    async def _follow_log(self) -> None:
        delay = RETRY_FIRST
        while True:
            try:
                if not self.redis_up:
                    await self._sync_position()
                    await self._follow_channels()
                    await self._appender.connection_pool.disconnect()  # from before the outage
                    self.redis_up = True
                    logger.warning("reconnected to Redis at %s", self._url)
                    delay = RETRY_FIRST
                if self._reader_id is None:
                    self._reader_id = await self._reader.client_id()
                await self._read_once()
            except (RedisError, OSError) as error:
                self._reader_id = None
                self._lost(error)
                await asyncio.sleep(random.uniform(0, delay))  # full jitter
                delay = min(RETRY_CAP, delay * 2)

    async def _read_once(self) -> None:
        """Read the log and the streams of the channels followed here, once; deliver what came."""
        followed = {channel.name for channel in self.channels if channel.subscribers}
        self._read_built_after = self._channel_starts
        channel_keys = {}
        positions: dict[KeyT, StreamIdT] = {self._log_key: f"{self._position}-0"}
        for name, position in self._reads.positions(followed).items():
            key = self._channel_keys(name)[1]
            channel_keys[key] = name
            positions[key] = f"{position}-0"
        streams: Any = await self._reader.xread(positions, block=READ_BLOCK_MS, count=1000)
        for key, raw in streams or ():
            if key != self._log_key:
                self._deliver_on_channel(channel_keys[key], _entries(raw))
                continue
            for seq, fields in _entries(raw):
                self._position = seq
                self._deliver(seq, fields["s"], fields["t"], fields.get("x", ""))

    def _deliver_on_channel(self, name: str, entries: list[ChannelEntry]) -> None:
        """Deliver what a read of channel ``name``'s stream brought to its followers here.

        A burst longer than ``--channel-history`` between two reads is trimmed
        before it is read: the followers get a ``gap`` for what they cannot have.
        """
        followed = self.channels.get(name)
        position = self._reads.position(name)
        fresh = self._reads.take(name, entries)
        if followed is None:
            return
        if fresh and position is not None and fresh[0][0] > position + 1:
            gap = encode_gap(position + 1, fresh[0][0] - 1, name)
            for connection in followed.subscribers:
                if connection.speaks_protocol:
                    connection.deliver(None, gap, name)
        for seq, fields in fresh:
            followed.deliver(seq, fields["t"])

    def _wake_reader(self) -> None:
        """Have the log reader read again now, with the channels as they are now."""
        self._channel_starts += 1
        if self._reader_id is None:
            return
        wake = asyncio.create_task(self._unblock(self._reader_id, self._channel_starts))
        self._wakes.add(wake)
        wake.add_done_callback(self._wakes.discard)

    async def _unblock(self, reader_id: int, starts: int) -> None:
        """Unblock the reader's read, unless one that includes ``starts`` channels has begun.

        A read that is on its way to Redis, not blocked yet, misses the first
        try: it is tried again, briefly, until it takes or a new read begins.
        """
        with contextlib.suppress(RedisError, OSError):
            for _ in range(WAKE_TRIES):
                if self._read_built_after >= starts or await self._redis.client_unblock(reader_id):
                    return
                await asyncio.sleep(WAKE_PAUSE)

    def _lost(self, error: Exception) -> None:
        if self.redis_up:
            self.redis_up = False
            logger.warning("lost Redis at %s (%s); delivering locally meanwhile", self._url, error)

    # Sessions

    async def _keep_sessions_alive(self) -> None:
        """Refresh the keys of the sessions that have connections here."""
        grace_ms = max(int(self._settings.session_grace * 1000), 1)
        while True:
            await asyncio.sleep(max(self._settings.session_grace / 3, 0.05))
            live = [session.id for session in self.sessions if session.connections]
            if not live or not self.redis_up:
                continue
            with contextlib.suppress(RedisError, OSError):
                async with self._redis.pipeline(transaction=False) as pipe:
                    for session_id in live:
                        pipe.set(self._session_key(session_id), 1, px=grace_ms)
                    await pipe.execute()

    async def claim(self, presented: str | None) -> str:
        """The presented id if its session lives (here or on another process), else a new one."""
        grace_ms = max(int(self._settings.session_grace * 1000), 1)
        if presented is not None and self.sessions.get(presented) is not None:
            return presented
        try:
            if presented is not None and await self._redis.set(
                self._session_key(presented), 1, px=grace_ms, xx=True
            ):
                return presented
            session_id = new_session_id()
            await self._redis.set(self._session_key(session_id), 1, px=grace_ms)
        except (RedisError, OSError) as error:
            self._lost(error)
            session_id = new_session_id()
        return session_id

    @property
    def readiness(self) -> str:
        return "ready" if self.redis_up else "redis unreachable"

    def position(self, session: Session) -> int:
        return self._position

    async def resume(self, session: Session, connection: SessionConnection, last_seen: int) -> None:
        """Replay from the log what ``session`` was sent after ``last_seen``, then go live.

        Live messages are held back meanwhile. The log and the counter are read
        together, atomically, so the replay covers exactly the numbers up to the
        counter's value: each one is replayed or announced as a gap, and the
        connection goes live above it, however far this process's own delivery
        lags behind (it may not have read those entries yet) or runs ahead.
        """
        numbered = cast(RedisConnection, connection)  # made by connection_class
        numbered.hold()
        caught_up_to = last_seen
        try:
            latest, entries = await self._log_since(last_seen)
            if last_seen > latest:
                connection.write(encode_reset("unknown position", latest))
            else:
                self._replay(session, connection, last_seen, entries, latest)
            caught_up_to = latest
        except (RedisError, OSError) as error:
            self._lost(error)
            connection.write(encode_reset("replay unavailable", self._position))
            caught_up_to = self._position
        finally:
            numbered.release(caught_up_to)

    async def _log_since(self, last_seen: int) -> tuple[int, list[LogEntry]]:
        """The latest number handed out, and the log's entries after ``last_seen``, at one instant."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(self._counter_key)
            pipe.xrange(self._log_key, min=f"({last_seen}-0")
            counter, raw = await pipe.execute()
        return int(counter or 0), _entries(raw)

    def _replay(
        self,
        session: Session,
        connection: SessionConnection,
        last_seen: int,
        entries: list[LogEntry],
        latest: int,
    ) -> None:
        """Send ``session``'s entries after ``last_seen``, and a gap for each run of numbers up
        to ``latest`` that the log no longer holds (trimmed by ``--redis-log-size``, older than
        ``--replay-age``, or lost with a Redis restart): numbers are handed out without holes."""
        horizon_ms = (time.time() - self._settings.replay_age) * 1000
        expected = last_seen + 1
        for seq, fields in entries:
            if float(fields["ms"]) < horizon_ms:
                continue
            if seq > expected:
                connection.write(encode_gap(expected, seq - 1))
            if fields["s"] in ("", session.id) and fields.get("x") != session.id:
                connection.write(encode_message(seq, fields["t"]))
            expected = seq + 1
        if expected <= latest:
            connection.write(encode_gap(expected, latest))

    # Channels

    async def publish(self, channel: str, text: str) -> None:
        """Publish ``text`` on ``channel`` for its followers on every process (one script call).

        While Redis is away, this process's followers get it, unnumbered.
        """
        name = check_channel_name(channel)
        if self.redis_up:
            now_ms = int(time.time() * 1000)
            args = [self._settings.channel_history, text, now_ms]
            try:
                await self._append(CHANNEL_APPEND, self._channel_keys(name), args)
                return
            except (RedisError, OSError) as error:
                self._lost(error)
        followed = self.channels.get(name)
        if followed is not None:
            followed.deliver(None, text)

    async def subscribe(
        self, client: Client, channel: str, *, since: int | None = None, epoch: str | None = None
    ) -> None:
        """Make ``client`` follow ``channel``, replaying from Redis what it holds after ``since``.

        The channel's live messages are held meanwhile and let through above
        the number the replay ends at, however far this process's reader is.
        A channel nobody follows here is read afresh: what this process read of
        it before may belong to a numbering that Redis has lost since.
        """
        connection = self._connection(client)
        idle = not self._followed_here(channel)
        name = self.channels.join(connection, channel).name
        if idle:
            self._reads.forget(name)
        if not isinstance(connection, RedisConnection) or not connection.speaks_protocol:
            with contextlib.suppress(RedisError, OSError):  # a plain client: from now on
                await self._channel_since(name, None)
            return
        connection.hold_channel(name)
        caught_up_to = since or 0
        try:
            numbering, entries = await self._channel_since(name, since)
            history = (self._settings.channel_history, self._settings.channel_history_age)
            replay_channel(connection, name, since, epoch, numbering, entries, history)
            caught_up_to = numbering.latest
        except (RedisError, OSError) as error:
            self._lost(error)
            position = self._reads.position(name)  # where this process's followers are, if any
            caught_up_to = position or 0
            connection.write(encode_subscribed(name, caught_up_to, None))  # no epoch known
            if since is not None and since != position:
                connection.write(encode_reset("replay unavailable", caught_up_to, name))
        finally:
            connection.release_channel(name, caught_up_to)

    async def unsubscribe(self, client: Client, channel: str) -> None:
        await super().unsubscribe(client, channel)
        connection = self._connection(client)
        if isinstance(connection, RedisConnection):
            connection.forget_channel(channel)

    def _followed_here(self, name: str) -> bool:
        """Whether channel ``name`` has followers on this process."""
        channel = self.channels.get(name)
        return channel is not None and bool(channel.subscribers)

    async def _channel_since(
        self, name: str, since: int | None
    ) -> tuple[Numbering, list[ChannelEntry]]:
        """Channel ``name``'s numbering and its entries after ``since``, at one instant.

        The first follower here starts the reading of the channel's stream, after
        that number; a subscribe that comes while it asks waits for it, so that
        its own number is never below where the reading starts.
        """
        while (starting := self._reads.starting(name)) is not None:
            await asyncio.shield(starting)
        first = name not in self._reads
        if first:
            self._reads.start(name)
        numbering = None
        try:
            numbering, entries = await self._read_channel(name, since)
        finally:
            if first:
                self._reads.started(name, numbering)
                self._wake_reader()
        return numbering, entries

    async def _read_channel(
        self, name: str, since: int | None
    ) -> tuple[Numbering, list[ChannelEntry]]:
        """One transaction: keep the channel alive, read its numbering, and its stream after
        ``since``."""
        async with self._redis.pipeline(transaction=True) as pipe:
            self._follow(pipe, name)
            if since is not None:
                stream = self._channel_keys(name)[1]
                pipe.xrange(stream, min=f"({min(since, MAX_SEQ)}-0")
            replies = await pipe.execute()
        entries = _entries(replies[1]) if since is not None else []
        return Numbering.from_reply(replies[0]), entries

    async def _keep_channels_alive(self) -> None:
        """Refresh the keys of the channels that have followers here."""
        while True:
            await asyncio.sleep(max(self._settings.channel_history_age / 3, 0.05))
            if self.redis_up:
                with contextlib.suppress(RedisError, OSError):
                    await self._follow_channels()

    async def _follow_channels(self) -> None:
        """Keep every channel followed here alive in Redis, each counter at least where it is
        read here (a Redis that lost its data then numbers above it), and read those that are
        not read yet (a subscribe while Redis was away) from their latest number."""
        followed = [channel.name for channel in self.channels if channel.subscribers]
        if not followed:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in followed:
                self._follow(pipe, name)
            replies = await pipe.execute()
        for name, reply in zip(followed, replies, strict=True):
            numbering = Numbering.from_reply(reply)
            if name not in self._reads and self._reads.starting(name) is None:
                self._reads.place(name, numbering.latest, numbering.epoch)
            else:
                self._reads.learn(name, numbering.epoch)

    def _follow(self, pipe: redis.client.Pipeline, name: str) -> None:
        """Queue :data:`CHANNEL_FOLLOW` for channel ``name``: its counter kept at least where it
        is read here, in the numbering known here (so that a Redis that lost its data goes on
        with it), or a new one's name if none is."""
        keys = self._follow_keys(name)
        position = self._reads.position(name) or 0
        epoch = self._reads.epoch(name) or new_epoch()
        pipe.eval(CHANNEL_FOLLOW, len(keys), *keys, position, self._channel_ttl_ms, epoch)

    # The publish stream: what backends publish with XADD

    async def _take_published(self) -> None:
        """Publish what backends append to the publish stream, each entry once across processes.

        The process that holds the lease takes the entries; the others wait to
        take over, should it go silent.
        """
        delay = RETRY_FIRST
        grouped = False
        claim_due = 0.0
        while True:
            try:
                if not await self._redis.eval(
                    TAKE_LEASE, 1, self._lease_key, self._consumer, LEASE_MS
                ):
                    await asyncio.sleep(LEASE_MS / 3000)
                    continue
                if not grouped:
                    await self._join_publish_group()
                    grouped = True
                if time.monotonic() >= claim_due:
                    claim_due = time.monotonic() + CLAIM_IDLE_MS / 1000
                    await self._publish_entries(await self._claim_published())
                await self._publish_entries(await self._read_published())
                delay = RETRY_FIRST
            except (RedisError, OSError):
                grouped = False  # a Redis that lost its data lost the group too
                await asyncio.sleep(random.uniform(0, delay))
                delay = min(RETRY_CAP, delay * 2)

    async def _join_publish_group(self) -> None:
        try:
            await self._redis.xgroup_create(self._publish_key, PUBLISH_GROUP, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def _read_published(self) -> list[tuple[str, dict[str, str]]]:
        streams: Any = await self._redis.xreadgroup(
            PUBLISH_GROUP,
            self._consumer,
            {self._publish_key: ">"},
            count=PUBLISHED_BATCH,
            block=READ_BLOCK_MS,
        )
        return [entry for _, raw in streams or () for entry in raw]

    async def _claim_published(self) -> list[tuple[str, dict[str, str]]]:
        """Entries another process read and did not finish (it died): this one publishes them."""
        claimed: Any = await self._redis.xautoclaim(
            self._publish_key,
            PUBLISH_GROUP,
            self._consumer,
            min_idle_time=CLAIM_IDLE_MS,
            start_id="0-0",
            count=PUBLISHED_BATCH,
        )
        return [(entry_id, fields) for entry_id, fields in claimed[1] if fields]

    async def _publish_entries(self, entries: list[tuple[str, dict[str, str]]]) -> None:
        """Publish the entries in order, in one pipeline; each script call also acknowledges
        and deletes its entry, so one that another process did first is skipped."""
        calls = []
        for entry_id, fields in entries:
            name, text = fields.get("channel", ""), fields.get("data", "")
            try:
                check_channel_name(name)
            except ChannelError as refused:
                logger.warning("publish stream entry %s skipped: %s", entry_id, refused)
                name = ""  # no channel has this name: only the acknowledgement happens
            keys = [*self._channel_keys(name), self._publish_key]
            args = [self._settings.channel_history, text, int(time.time() * 1000)]
            calls.append(self._append(CHANNEL_APPEND, keys, [*args, PUBLISH_GROUP, entry_id]))
        await asyncio.gather(*calls)

    async def _leave_publish_group(self) -> None:
        """Give the lease up, and leave the publish stream's group unless this process holds
        entries of it."""
        with contextlib.suppress(RedisError, OSError):
            await self._redis.eval(RETURN_LEASE, 1, self._lease_key, self._consumer)
            pending: Any = await self._redis.xpending_range(
                self._publish_key, PUBLISH_GROUP, "-", "+", 1, consumername=self._consumer
            )
            if not pending:
                await self._redis.xgroup_delconsumer(
                    self._publish_key, PUBLISH_GROUP, self._consumer
                )
