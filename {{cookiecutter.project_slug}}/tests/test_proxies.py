"""Behind a reverse proxy: its headers name the client and its scheme, if the proxy is trusted."""

from __future__ import annotations

import asyncio
import re

import pytest
from websockets.asyncio.client import connect

from .running_server import running_server
from .support import REPLY_TIMEOUT


async def peer_and_cookie(headers: dict[str, str], *args: str) -> tuple[str, str]:
    """Connect once with ``headers``; return the peer the close line logs, and the Set-Cookie."""
    with running_server(*args, logic="Echo") as server:
        async with connect(server.ws_url, additional_headers=headers) as ws:
            assert ws.response is not None
            cookie = ws.response.headers.get("Set-Cookie", "")
            await ws.send("hello")
            assert await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT) == "hello"
        for _ in range(int(REPLY_TIMEOUT / 0.02)):
            if match := re.search(r"close .*peer=(\S+)", server.log()):
                return match[1], cookie
            await asyncio.sleep(0.02)
    raise AssertionError("no close line")


@pytest.mark.parametrize(
    ("headers", "trusted", "peer", "secure"),
    [
        # A proxy on this machine, trusted: its word on the client and the scheme is taken.
        (
            {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"},
            "127.0.0.1",
            "203.0.113.7",
            True,
        ),
        ({"Forwarded": 'for="[2001:db8::1]:4711";proto=https'}, "127.0.0.0/8", "2001:db8::1", True),
        # A chain: the trusted hops are skipped back to the first one that is not.
        ({"X-Forwarded-For": "198.51.100.1, 127.0.0.5"}, "127.0.0.0/8", "198.51.100.1", False),
        # Anything before an untrusted hop may be forged by that hop: it is not believed.
        ({"X-Forwarded-For": "192.0.2.99, 198.51.100.1"}, "127.0.0.1", "198.51.100.1", False),
        # Not trusted (the default): the headers could come from anyone, and are ignored.
        ({"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}, "", "127.0.0.1", False),
        ({"X-Forwarded-For": "203.0.113.7"}, "10.0.0.0/8", "127.0.0.1", False),
        ({"X-Forwarded-For": "not-an-address"}, "127.0.0.1", "127.0.0.1", False),
    ],
)
async def test_forwarding_headers_are_believed_only_from_trusted_proxies(
    headers: dict[str, str], trusted: str, peer: str, secure: bool
) -> None:
    args = ("--trusted-proxies", trusted) if trusted else ()
    logged_peer, cookie = await peer_and_cookie(headers, *args)
    assert logged_peer == peer
{%- if cookiecutter.multi_session %}
    assert ("; Secure" in cookie) is secure  # the session cookie travels over TLS only
{%- else %}
    assert cookie == ""  # this variant sets no cookie, whatever the scheme
{%- endif %}
