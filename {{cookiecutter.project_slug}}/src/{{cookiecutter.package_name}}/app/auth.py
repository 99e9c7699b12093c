"""Authentication: who a client is, decided from its HTTP request before the upgrade.

This module is yours to edit, like ``logic.py``. The incoming proxy calls
:func:`authenticate` on every websocket handshake, after the origin check and
before anything else. It returns the user (a name or an id, which the
connection keeps as ``connection.user``) or None for an anonymous client, and
refuses by raising ``web.HTTPUnauthorized`` (no credentials, or bad ones) or
``web.HTTPForbidden`` (known, but not let in): the client gets that HTTP status
and nothing is upgraded. Read whatever the request carries: a cookie, a
header, a query parameter. Once connected, :func:`authorize_channel` decides
which channels a client may follow and publish on.

The example lets everyone in anonymously while ``--auth-secret`` is empty (the
default). With a secret, a client must present a token signed with it, as the
``token`` query parameter (the only way a browser's websocket can carry one; the
page passes its own ``?token=`` on) or as an ``Authorization: Bearer <token>``
header. A token reads ``<user>.<expiry>.<signature>``: the expiry in Unix
seconds, the signature the HMAC-SHA256 of ``<user>.<expiry>`` under the secret,
in URL-safe base64 without padding. :func:`make_token` mints one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from aiohttp import hdrs, web

from ..api import Client
from ..settings import Settings

__all__ = ["TOKEN_LIFETIME", "authenticate", "authorize_channel", "make_token", "verify_token"]

TOKEN_LIFETIME = 24 * 60 * 60.0  # seconds a token made by make_token is valid, unless told
# RFC 6750: a 401 names the scheme that would have been accepted.
CHALLENGE = {hdrs.WWW_AUTHENTICATE: "Bearer"}


async def authenticate(request: web.Request, settings: Settings) -> str | None:
    """The user the request's token names, or None (anonymous) when no secret is set.

    Raises ``web.HTTPUnauthorized`` when a secret is set and the token is
    missing, forged, tampered with or expired.
    """
    if not settings.auth_secret:
        return None
    token = _presented_token(request)
    if token is None:
        raise web.HTTPUnauthorized(text="a token is required", headers=CHALLENGE)
    user = verify_token(token, settings.auth_secret)
    if user is None:
        raise web.HTTPUnauthorized(text="invalid or expired token", headers=CHALLENGE)
    return user


async def authorize_channel(client: Client, channel: str, action: str) -> bool:
    """Whether ``client`` may ``action`` ("subscribe" or "publish") ``channel``: here, always.

    Called for each channel frame of a protocol client, and for each channel it
    resumes on a reconnect; a refusal is an ``error`` frame naming the channel,
    and the connection stays open. Decide from ``client.user`` (who
    :func:`authenticate` said it is), e.g. ``channel.startswith(f"user:{client.user}")``.
    """
    return True


def make_token(user: str, secret: str, lifetime: float = TOKEN_LIFETIME) -> str:
    """A token naming ``user``, valid for ``lifetime`` seconds from now, signed with ``secret``."""
    expiry = int(time.time() + lifetime)
    return f"{user}.{expiry}.{_signature(f'{user}.{expiry}', secret)}"


def verify_token(token: str, secret: str) -> str | None:
    """The user a token names, if ``secret`` signed it and it has not expired; else None."""
    signed, _, signature = token.rpartition(".")
    user, _, expiry = signed.rpartition(".")
    if not user or not (expiry.isascii() and expiry.isdigit()):
        return None
    # In constant time, so that how long it takes tells a forger nothing.
    if not hmac.compare_digest(_bytes(_signature(signed, secret)), _bytes(signature)):
        return None
    if int(expiry) <= time.time():
        return None
    return user


def _signature(signed: str, secret: str) -> str:
    digest = hmac.new(_bytes(secret), _bytes(signed), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _bytes(text: str) -> bytes:
    # A header's bytes that are not UTF-8 arrive as lone surrogates: still bytes to compare.
    return text.encode("utf-8", "surrogatepass")


def _presented_token(request: web.Request) -> str | None:
    """The token from the ``Authorization: Bearer`` header, else from the ``token`` parameter."""
    scheme, _, credentials = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.query.get("token") or None
