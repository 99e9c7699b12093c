"""Publishing from outside: ``POST /channels/{name}`` puts its body on a channel.

A backend service that has no websocket (a job, a webhook, a cron script)
publishes with one HTTP request::

    curl -X POST -H "Authorization: Bearer $PUBLISH_SECRET" --data-binary 'price 42' \\
        http://127.0.0.1:PORT/channels/prices

The route exists only while ``--publish-secret`` is set; a request without
that secret as its bearer token gets 401, a channel name that breaks the rule
400, a body that is not UTF-8 text 400, one over ``--max-message-size`` 413.
A published message is numbered and kept like any other: 204 No Content.
"""

from __future__ import annotations

import hmac

from aiohttp import hdrs, web

from .channels import ChannelError, check_channel_name
from .state import PROXY_OUT, SETTINGS

__all__ = ["PUBLISH_ROUTE", "publish"]

PUBLISH_ROUTE = "/channels/{channel}"
CHALLENGE = {hdrs.WWW_AUTHENTICATE: "Bearer"}  # RFC 6750: the scheme that would be accepted


async def publish(request: web.Request) -> web.Response:
    """Publish the request's body on the channel its path names, if it bears the secret."""
    settings = request.app[SETTINGS]
    if not _bears(request, settings.publish_secret):
        raise web.HTTPUnauthorized(text="the publish secret is required", headers=CHALLENGE)
    try:
        channel = check_channel_name(request.match_info["channel"])
    except ChannelError as refused:
        raise web.HTTPBadRequest(text=str(refused)) from None
    if (request.content_length or 0) > settings.max_message_size:
        raise web.HTTPRequestEntityTooLarge(settings.max_message_size, request.content_length or 0)
    body = await request.content.read(settings.max_message_size + 1)
    if len(body) > settings.max_message_size:
        raise web.HTTPRequestEntityTooLarge(settings.max_message_size, len(body))
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise web.HTTPBadRequest(text="the body must be UTF-8 text") from None
    await request.app[PROXY_OUT].publish(channel, text)
    return web.Response(status=204)


def _bears(request: web.Request, secret: str) -> bool:
    """Whether the request's ``Authorization: Bearer`` token is ``secret`` (in constant time)."""
    scheme, _, token = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    presented = token.strip().encode("utf-8", "surrogatepass")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented, secret.encode())
