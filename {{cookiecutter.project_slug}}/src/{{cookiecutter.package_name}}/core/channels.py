"""Channels: named streams that clients follow, each numbered and kept for an exact resume.

A channel exists once someone subscribes to it. Each message published on it
gets the channel's next number and is kept in its history (``--channel-history``
messages, none older than ``--channel-history-age`` seconds), so a client that
comes back with the last number it saw gets exactly what it missed, or a
``gap`` naming what the history no longer holds. Publishing on a channel that
nobody follows costs a dictionary lookup. A channel outlives its last
subscriber by the history's age, so a reconnect finds what was published
meanwhile; then it is dropped. Protocol clients get each message as a
``message`` frame naming the channel; plain clients get its text.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Iterator

from ..api import Client
from .connection import Connection
from .protocol import (
    encode_gap,
    encode_message,
    encode_reset,
    encode_subscribed,
    encode_unsubscribed,
)
from .replay import ReplayBuffer
from .settings import ServerSettings

__all__ = [
    "CHANNEL_NAME_RULE",
    "Channel",
    "ChannelError",
    "ChannelOut",
    "ChannelRegistry",
    "check_channel_name",
    "follow",
    "new_epoch",
]

CHANNEL_NAME = re.compile(r"[A-Za-z0-9_\-.:@/]{1,64}")
CHANNEL_NAME_RULE = "a channel name is 1 to 64 of A-Z a-z 0-9 _ - . : @ /"


class ChannelError(ValueError):
    """A channel request that is refused; the text says why (the connection stays open)."""


def new_epoch() -> str:
    """A fresh name for a channel's numbering (see ``protocol.encode_subscribed``)."""
    return secrets.token_urlsafe(6)


def check_channel_name(name: str) -> str:
    """Return ``name`` if it is a valid channel name, else raise :class:`ChannelError`."""
    if not CHANNEL_NAME.fullmatch(name):
        raise ChannelError(CHANNEL_NAME_RULE)
    return name


class Channel:
    """One named stream: its numbering, its history and who follows it in this process."""

    __slots__ = ("epoch", "expiry", "history", "last_seq", "name", "subscribers")

    def __init__(self, name: str, history: ReplayBuffer) -> None:
        self.name = name
        self.epoch = new_epoch()  # this numbering's name: a channel made again numbers anew
        self.last_seq = 0  # the number of the latest message published on it
        self.history = history
        self.subscribers: set[Connection] = set()
        self.expiry: asyncio.TimerHandle | None = None  # the pending drop, while nobody follows

    def publish(self, text: str) -> int:
        """Number ``text``, keep it, and deliver it to every subscriber; return its number."""
        self.last_seq += 1
        self.history.append(self.last_seq, text)
        self.deliver(self.last_seq, text)
        return self.last_seq

    def deliver(self, seq: int | None, text: str) -> None:
        """Send message ``seq`` to the subscribers: its frame is encoded once, if anyone needs it."""
        frame = None
        for connection in self.subscribers:
            if not connection.speaks_protocol:
                connection.write(text)
                continue
            if frame is None:
                frame = encode_message(seq, text, self.name)
            connection.deliver(seq, frame, self.name)

    def replay(self, connection: Connection, since: int | None, epoch: str | None = None) -> None:
        """Confirm the subscription, then send what the history holds after ``since``.

        With no ``since``, the connection follows from now on. A ``since`` of
        another numbering (``epoch``: the channel was made again, the server
        restarted) or ahead of this one gets a ``reset``. A plain client is told
        nothing: it gets the texts from now on.
        """
        if not connection.speaks_protocol:
            return
        connection.write(encode_subscribed(self.name, self.last_seq, self.epoch))
        if since is None:
            return
        if since > self.last_seq or (since > 0 and epoch not in (None, self.epoch)):
            connection.write(encode_reset("unknown position", self.last_seq, self.name))
            return
        if since == self.last_seq:
            return
        missed = self.history.since(since)
        first_held = missed[0][0] if missed else self.last_seq + 1
        if first_held > since + 1:
            connection.write(encode_gap(since + 1, first_held - 1, self.name))
        for seq, text in missed:
            connection.write(encode_message(seq, text, self.name))


class ChannelRegistry:
    """The channels of this process, and the limits on following them."""

    def __init__(
        self,
        *,
        history_size: int,
        history_age: float,
        max_channels: int,
        max_per_client: int,
        max_subscribers: int,
    ) -> None:
        self._history_size = history_size
        self._history_age = history_age
        self._max_channels = max_channels
        self._max_per_client = max_per_client
        self._max_subscribers = max_subscribers
        self._channels: dict[str, Channel] = {}

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> ChannelRegistry:
        return cls(
            history_size=settings.channel_history,
            history_age=settings.channel_history_age,
            max_channels=settings.max_channels,
            max_per_client=settings.max_channels_per_client,
            max_subscribers=settings.max_channel_subscribers,
        )

    def __len__(self) -> int:
        return len(self._channels)

    def __iter__(self) -> Iterator[Channel]:
        return iter(self._channels.values())

    def get(self, name: str) -> Channel | None:
        return self._channels.get(name)

    def subscribe(
        self,
        connection: Connection,
        name: str,
        since: int | None = None,
        epoch: str | None = None,
    ) -> Channel:
        """Add ``connection`` to channel ``name`` (made if need be) and replay after ``since``
        (of numbering ``epoch``, if given).

        A connection already following the channel is only replayed to. Raises
        :class:`ChannelError` for a bad name or a limit reached.
        """
        channel = self.join(connection, name)
        channel.replay(connection, since, epoch)
        return channel

    def join(self, connection: Connection, name: str) -> Channel:
        """Add ``connection`` to channel ``name`` (made if need be), replaying nothing.

        A connection already following the channel stays as it is. Raises
        :class:`ChannelError` for a bad name or a limit reached.
        """
        channel = self._channels.get(check_channel_name(name))
        if channel is not None and connection in channel.subscribers:
            return channel
        if len(connection.channels) >= self._max_per_client:
            raise ChannelError(f"a client may follow at most {self._max_per_client} channels")
        if channel is None:
            if len(self._channels) >= self._max_channels:
                raise ChannelError("too many channels on this server")
            history = ReplayBuffer(self._history_size, self._history_age)
            channel = self._channels[name] = Channel(name, history)
        elif len(channel.subscribers) >= self._max_subscribers:
            raise ChannelError(f"a channel may have at most {self._max_subscribers} subscribers")
        if channel.expiry is not None:
            channel.expiry.cancel()
            channel.expiry = None
        channel.subscribers.add(connection)
        connection.channels.add(channel)
        return channel

    def unsubscribe(self, connection: Connection, channel: Channel) -> None:
        """Remove ``connection`` from ``channel``; an unfollowed channel expires after its age."""
        channel.subscribers.discard(connection)
        connection.channels.discard(channel)
        if not channel.subscribers and channel.expiry is None:
            loop = asyncio.get_running_loop()
            channel.expiry = loop.call_later(self._history_age, self._expire, channel)

    def leave(self, connection: Connection) -> None:
        """A connection closed: it follows nothing any more."""
        for channel in connection.followed():
            self.unsubscribe(connection, channel)

    def publish(self, name: str, text: str) -> int | None:
        """Publish ``text`` on channel ``name``; its number, or None if nobody follows it."""
        channel = self._channels.get(name)
        return None if channel is None else channel.publish(text)

    def _expire(self, channel: Channel) -> None:
        channel.expiry = None
        if not channel.subscribers and self._channels.get(channel.name) is channel:
            del self._channels[channel.name]


def follow(channels: ChannelRegistry, connection: Connection, channel: str) -> None:
    """Subscribe ``connection`` to ``channel`` from now on; a refusal is its error frame."""
    try:
        channels.subscribe(connection, channel)
    except ChannelError as refused:
        connection.report(str(refused), channel)


class ChannelOut:
    """What an outgoing proxy does with channels: publish on one, (un)subscribe a client to one."""

    def __init__(self, channels: ChannelRegistry) -> None:
        self.channels = channels

    async def publish(self, channel: str, text: str) -> None:
        self.channels.publish(check_channel_name(channel), text)

    async def subscribe(
        self, client: Client, channel: str, *, since: int | None = None, epoch: str | None = None
    ) -> None:
        self.channels.subscribe(self._connection(client), channel, since, epoch)

    async def unsubscribe(self, client: Client, channel: str) -> None:
        connection = self._connection(client)
        followed = self.channels.get(channel)
        if followed is not None and connection in followed.subscribers:
            self.channels.unsubscribe(connection, followed)
        if connection.speaks_protocol:
            connection.write(encode_unsubscribed(channel))

    @staticmethod
    def _connection(client: Client) -> Connection:
        if not isinstance(client, Connection):
            raise TypeError(f"not a client of this server: {client!r}")
        return client
