"""Channels kept in Redis: one stream per channel, numbered by its own counter, read where followed.

A publish runs :data:`CHANNEL_APPEND`, which takes the channel's next number
(``INCR`` of ``<prefix>channel-seq:<name>``) and appends the message under it
to the channel's stream (``<prefix>channel:<name>``, trimmed to about
``--channel-history`` entries), atomically: every process sees one order. A
channel's keys exist while some process has followers of it (each such
process refreshes them) and for ``--channel-history-age`` seconds after; a
publish on a channel without them is dropped at once, as nobody follows it.

Each process reads the streams of the channels it has followers for, from
the number it delivered last (:class:`ChannelReads`), and delivers each entry
to its own followers: a channel nobody follows here costs this process
nothing. A subscribe reads the counter and the stream in one transaction, so
what it replays and what the reader delivers meet exactly (see
``RedisConnection``).

A Redis that lost its data has lost the channels' numbering too. A process
whose followers ride through it sets the counter back to the number it
delivered last (:data:`CHANNEL_FOLLOW`), so numbering goes on above it, and
marks that number as lost (``<prefix>channel-lost:<name>``): its history is
gone. A channel nobody was following starts again from 1, under a new epoch
(``<prefix>channel-epoch:<name>``, the numbering's name that ``subscribed``
frames carry). Either way, a resume from a position of the lost numbering (at
or below the mark, ahead of the counter, or of another epoch) gets a
``reset`` (:class:`Numbering`).

Backends publish without a server of their own by appending to the publish
stream, ``XADD <prefix>publish * channel <name> data <text>``. One server at
a time takes its entries (it holds a lease, :data:`TAKE_LEASE`), in order, as
a consumer of one group; :data:`CHANNEL_APPEND` acknowledges and deletes each
entry in the same script that publishes it, so an entry is published once
even if the process that read it dies and the next lease holder claims it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

from .connection import Connection
from .protocol import encode_gap, encode_message, encode_reset, encode_subscribed

__all__ = [
    "CHANNEL_APPEND",
    "CHANNEL_FOLLOW",
    "PUBLISH_GROUP",
    "RETURN_LEASE",
    "TAKE_LEASE",
    "ChannelReads",
    "Numbering",
    "replay_channel",
]

PUBLISH_GROUP = "servers"  # the consumer group of the publish stream

# Publish on a channel: number the message and append it to the channel's stream, atomically.
# KEYS: the channel's counter, its stream[, the publish stream]; ARGV: the history size, the
# text, the time in ms[, the group, the publish stream's entry]. Returns the number; 0 when
# nobody follows the channel (it has no counter); -1 for a publish stream's entry already done.
CHANNEL_APPEND = """
if KEYS[3] then
  if redis.call('XACK', KEYS[3], ARGV[4], ARGV[5]) == 0 then return -1 end
  redis.call('XDEL', KEYS[3], ARGV[5])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then return 0 end
local seq = redis.call('INCR', KEYS[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], seq .. '-0', 't', ARGV[2], 'ms', ARGV[3])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return seq
"""
# Keep a followed channel: its counter at least the number given (what this process delivered,
# which a Redis that lost its data must not hand out again), its keys alive for ARGV[2] ms. A
# counter below that number was lost: the number is marked as the last of a lost history. A
# channel without a counter that nobody here read is numbered anew: its epoch becomes ARGV[3].
# KEYS: the channel's counter, its stream, its lost mark, its epoch. Returns the counter (the
# channel's latest number), the mark (0: nothing lost) and the epoch.
CHANNEL_FOLLOW = """
local counter = redis.call('GET', KEYS[1])
local latest = tonumber(counter or '0')
local delivered = tonumber(ARGV[1])
if latest < delivered then
  latest = delivered
  redis.call('SET', KEYS[3], delivered)
end
if counter == false and delivered == 0 then
  redis.call('SET', KEYS[4], ARGV[3])
else
  redis.call('SET', KEYS[4], ARGV[3], 'NX')
end
redis.call('SET', KEYS[1], latest, 'PX', ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
redis.call('PEXPIRE', KEYS[4], ARGV[2])
return {latest, tonumber(redis.call('GET', KEYS[3]) or '0'), redis.call('GET', KEYS[4])}
"""

# Take (or keep) the lease on the publish stream: one process takes its entries at a time, so
# they are published in the stream's order. KEYS: the lease; ARGV: this process, the lease in ms.
TAKE_LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

# Give the lease up, if this process holds it: the next one takes over at once.
RETURN_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
"""

ChannelEntry = tuple[int, dict[str, str]]  # message number, and the fields CHANNEL_APPEND gave it


class Numbering(NamedTuple):
    """Where a channel's numbering stands in Redis: what :data:`CHANNEL_FOLLOW` returns."""

    latest: int  # the number of the channel's latest message
    lost: int  # the last number of a history Redis lost (0: none)
    epoch: str  # the name of this numbering (see ``protocol.encode_subscribed``)

    @classmethod
    def from_reply(cls, reply: Any) -> Numbering:
        latest, lost, epoch = reply
        return cls(int(latest), int(lost), epoch.decode() if isinstance(epoch, bytes) else epoch)

    def holds(self, since: int, epoch: str | None) -> bool:
        """Whether ``since`` (of numbering ``epoch``, if given) is a position of this numbering,
        so that a resume from it is exact.

        It is not if it belongs to another numbering (the channel was numbered
        anew), is ahead of the counter (the numbering started again below it)
        or at or below the lost mark (what came after it may have been lost
        with Redis, unknown to anyone). 0 asks for all of the history.
        """
        if since > 0 and epoch not in (None, self.epoch):
            return False
        return since <= self.latest and not 0 < since <= self.lost


class ChannelReads:
    """Where this process reads each followed channel's stream: after the number it delivered last.

    A channel is read from the moment its first follower here has learned the
    channel's latest number (:meth:`started`) until it has no follower here
    (:meth:`positions` then drops it). A second subscribe that arrives while the
    first is still asking Redis waits for it (:meth:`starting`), so that what it
    replays ends no lower than where reading begins.
    """

    def __init__(self) -> None:
        self._read_after: dict[str, int] = {}
        self._epochs: dict[str, str] = {}  # the numbering each channel is read in
        self._starting: dict[str, asyncio.Future[None]] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._read_after

    def __iter__(self) -> Iterator[tuple[str, int]]:
        return iter(list(self._read_after.items()))

    def position(self, name: str) -> int | None:
        """The number delivered last on ``name`` here; None if it is not read."""
        return self._read_after.get(name)

    def epoch(self, name: str) -> str | None:
        """The numbering ``name`` is read in here; None if it is not read."""
        return self._epochs.get(name)

    def starting(self, name: str) -> asyncio.Future[None] | None:
        """The start under way for ``name``, if another subscribe began it."""
        return self._starting.get(name)

    def start(self, name: str) -> None:
        """A first follower here asks Redis where ``name`` stands (see :meth:`started`)."""
        self._starting[name] = asyncio.get_running_loop().create_future()

    def started(self, name: str, numbering: Numbering | None) -> None:
        """Read ``name`` after ``numbering``'s latest number from now on (None: its start
        failed); wake any waiter."""
        if numbering is not None:
            self._read_after.setdefault(name, numbering.latest)
            self._epochs.setdefault(name, numbering.epoch)
        waiter = self._starting.pop(name, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def place(self, name: str, position: int, epoch: str) -> None:
        """Read ``name`` after ``position`` (of numbering ``epoch``) from now on."""
        self._read_after[name] = position
        self._epochs[name] = epoch

    def learn(self, name: str, epoch: str) -> None:
        """Redis numbers ``name`` in ``epoch`` now (another process numbered it anew)."""
        if name in self._read_after:
            self._epochs[name] = epoch

    def forget(self, name: str) -> None:
        """``name`` has no follower here: the number read last is nobody's position any more.

        The next follower starts the reading again from Redis (:meth:`start`),
        so it never lends a channel that Redis numbered anew the number this
        process read of the old one.
        """
        self._read_after.pop(name, None)
        self._epochs.pop(name, None)

    def positions(self, followed: set[str]) -> dict[str, int]:
        """Where to read each channel of ``followed``; channels no longer followed are dropped."""
        for name in [name for name in self._read_after if name not in followed]:
            del self._read_after[name]
            self._epochs.pop(name, None)
        return dict(self._read_after)

    def take(self, name: str, entries: list[ChannelEntry]) -> list[ChannelEntry]:
        """The entries of ``name`` not delivered yet, in order; the position moves past them.

        A read may return what an earlier one already covered (the channel was
        dropped and started again meanwhile): only numbers above the position go.
        """
        position = self._read_after.get(name)
        if position is None:
            return []
        fresh = [(seq, fields) for seq, fields in entries if seq > position]
        if fresh:
            self._read_after[name] = fresh[-1][0]
        return fresh


def replay_channel(
    connection: Connection,
    name: str,
    since: int | None,
    epoch: str | None,
    numbering: Numbering,
    entries: list[ChannelEntry],
    history: tuple[int, float],
) -> None:
    """Confirm the subscription at the latest number, then replay what the stream holds after
    ``since`` (of numbering ``epoch``, if given).

    ``history`` is ``--channel-history`` and ``--channel-history-age``: older
    entries, and those beyond the size that ``MAXLEN ~`` left in the stream,
    are not replayed. Every number after ``since`` up to the latest is replayed
    or announced in a ``gap`` (numbers are handed out without holes); a
    ``since`` that is not a position of the numbering (Redis lost it) gets a
    ``reset`` instead, and the channel goes on after the latest number.
    """
    latest = numbering.latest
    connection.write(encode_subscribed(name, latest, numbering.epoch))
    if since is None:
        return
    if not numbering.holds(since, epoch):
        connection.write(encode_reset("unknown position", latest, name))
        return
    if since == latest:
        return
    size, age = history
    horizon_ms = (time.time() - age) * 1000
    expected = since + 1
    for seq, fields in entries:
        if seq <= latest - size or float(fields["ms"]) < horizon_ms:
            continue
        if seq > expected:
            connection.write(encode_gap(expected, seq - 1, name))
        connection.write(encode_message(seq, fields["t"], name))
        expected = seq + 1
    if expected <= latest:
        connection.write(encode_gap(expected, latest, name))
