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

If Redis goes away, local delivery carries on: messages are delivered to this
process's connections, unnumbered (``seq: null``), not kept for replay and not
seen by other processes. The bus reconnects with backoff, ``/readyz`` says
not ready meanwhile, and numbering, replay and cross-process delivery resume
when Redis is back. A Redis restarted without persistence has lost its log;
a resume that needed it gets a ``gap`` frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import redis.asyncio as redis
from aiohttp import web
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from ..api import Client
from .channels import ChannelRegistry
from .errors import StartupError
from .protocol import encode_gap, encode_message, encode_reset
from .proxy_out import LocalProxyOut
from .sessions import Session, SessionConnection, SessionRegistry, new_session_id
from .settings import ServerSettings

__all__ = ["RedisConnection", "RedisProxyOut", "RedisUnavailableError"]

logger = logging.getLogger(__name__)

KEY_PREFIX = "{{ cookiecutter.package_name }}:"
READ_BLOCK_MS = 1_000
POOL_SIZE = 64  # connections to Redis for claims, resumes and the log reader
POOL_WAIT = 5.0  # seconds a request may wait for one of them
RETRY_FIRST, RETRY_CAP = 0.1, 5.0  # seconds between reconnect attempts, doubling, with jitter

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

    __slots__ = ("_held", "_sent_up_to")

    def __init__(
        self,
        request: web.Request,
        ws: web.WebSocketResponse,
        queue_limit: int,
        max_bad_frames: int,
    ) -> None:
        super().__init__(request, ws, queue_limit, max_bad_frames)
        self._held: list[tuple[int | None, str]] | None = None
        self._sent_up_to = 0  # the highest message number sent (or skipped as a gap)

    def deliver(self, seq: int | None, frame: str, channel: str | None = None) -> None:
        """Write session message number ``seq`` once: held while a replay is fetched, dropped if
        covered.

        Numbers only grow, so one that is not above the last one sent was
        replayed, or announced as a gap, already. (``None``: sent while Redis
        was away, unnumbered.) A channel's message goes as it is.
        """
        if channel is not None:
            self.write(frame)
            return
        if self._held is not None:
            self._held.append((seq, frame))
            return
        if seq is not None:
            if seq <= self._sent_up_to:
                return
            self._sent_up_to = seq
        self.write(frame)

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
        self._raise_counter = self._redis.register_script(RAISE_COUNTER)
        self._counter_key = KEY_PREFIX + "seq"
        self._log_key = KEY_PREFIX + "log"
        self._position = 0  # number of the latest log entry delivered here
        # Appends not yet sent, in the order they were made, with the futures their senders
        # await: what is sent while one pipeline is under way goes in the next (_send_appends).
        self._appends: list[tuple[list[Any], asyncio.Future[None]]] = []
        self._appending: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.redis_up = False

    def _session_key(self, session_id: str) -> str:
        return f"{KEY_PREFIX}session:{session_id}"

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
            await self._redis.aclose()
            await self._appender.aclose()
            raise RedisUnavailableError(f"cannot reach Redis at {self._url}: {error}") from None
        self.redis_up = True
        logger.info("connected to Redis at %s", self._url)
        self._tasks = [
            asyncio.create_task(self._follow_log()),
            asyncio.create_task(self._keep_sessions_alive()),
        ]

    async def stop(self) -> None:
        if self._appending is not None:
            self._tasks.append(self._appending)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._redis.aclose()
        await self._appender.aclose()

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
            appended = asyncio.get_running_loop().create_future()
            now_ms = int(time.time() * 1000)
            args = [self._settings.redis_log_size, session_id, text, now_ms, excluded]
            self._appends.append((args, appended))
            if self._appending is None:
                self._appending = asyncio.create_task(self._send_appends())
            try:
                await appended
                return
            except (RedisError, OSError) as error:
                self._lost(error)
        self._deliver(None, session_id, text, excluded)  # Redis is away: this process's only

    async def _send_appends(self) -> None:
        """Send the waiting appends to Redis, one pipeline (one round trip) at a time.

        Everything sent during one pass of the event loop (the replies to a
        hundred clients, say) travels together, in order, instead of one round
        trip each. A failed pipeline fails each of its appends: their senders
        deliver locally, as they would after any error.
        """
        batch: list[tuple[list[Any], asyncio.Future[None]]] = []
        try:
            while self._appends:
                batch, self._appends = self._appends, []
                outcome: BaseException | None = None
                try:
                    async with self._appender.pipeline(transaction=False) as pipe:
                        for args, _ in batch:
                            # EVAL, not EVALSHA: a pipeline of registered scripts first asks
                            # Redis whether they exist, one more round trip per batch.
                            pipe.eval(APPEND, 2, self._counter_key, self._log_key, *args)
                        await pipe.execute()
                except (RedisError, OSError) as error:
                    outcome = error
                for _, appended in batch:
                    if appended.done():
                        continue  # its sender was cancelled
                    if outcome is None:
                        appended.set_result(None)
                    else:
                        appended.set_exception(outcome)
        except asyncio.CancelledError:
            for _, appended in batch + self._appends:
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
                    await self._appender.connection_pool.disconnect()  # from before the outage
                    self.redis_up = True
                    logger.warning("reconnected to Redis at %s", self._url)
                    delay = RETRY_FIRST
                await self._read_once()
            except (RedisError, OSError) as error:
                self._lost(error)
                await asyncio.sleep(random.uniform(0, delay))  # full jitter
                delay = min(RETRY_CAP, delay * 2)

    async def _read_once(self) -> None:
        streams: Any = await self._redis.xread(
            {self._log_key: f"{self._position}-0"}, block=READ_BLOCK_MS, count=1000
        )
        for _, raw in streams or ():
            for seq, fields in _entries(raw):
                self._position = seq
                self._deliver(seq, fields["s"], fields["t"], fields.get("x", ""))

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
