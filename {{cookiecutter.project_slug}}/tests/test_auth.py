"""Authentication before the upgrade: the example's signed tokens, and what a refusal looks like.

Without ``--auth-secret`` everyone is let in anonymously. With one, a client
without a valid token gets HTTP 401 and nothing is upgraded; with one, the
connection carries its user, and the close line names it. A plain GET of
``/ws`` answers as the handshake would: 401, or 426 (Upgrade Required) for a
client that would be let in, which is how the page learns why it was refused.
"""

from __future__ import annotations

import asyncio
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping

import pytest
from aiohttp import hdrs, web
from aiohttp.test_utils import make_mocked_request
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from {{ cookiecutter.package_name }}.app.auth import authenticate, make_token
from {{ cookiecutter.package_name }}.settings import (
    ENV_PREFIX,
    Settings,
    parse_settings,
)

from .running_server import ServerProcess, running_server
from .support import REPLY_TIMEOUT

SECRET = "test-secret"


def with_secret(secret: str = SECRET) -> Settings:
    return Settings(auth_secret=secret)


def request_to(path: str, headers: Mapping[str, str] | None = None) -> web.Request:
    return make_mocked_request("GET", path, headers=headers or {})


def sign(user: str, lifetime: float = 60.0, secret: str = SECRET) -> str:
    return make_token(user, secret, lifetime)


async def assert_unauthorized(request: web.Request, settings: Settings) -> None:
    with pytest.raises(web.HTTPUnauthorized) as refused:
        await authenticate(request, settings)
    assert refused.value.headers[hdrs.WWW_AUTHENTICATE] == "Bearer"


async def test_without_a_secret_everyone_is_anonymous() -> None:
    assert await authenticate(request_to("/ws"), Settings()) is None
    assert await authenticate(request_to("/ws?token=whatever"), Settings()) is None


async def test_a_good_token_names_its_user() -> None:
    assert await authenticate(request_to(f"/ws?token={sign('alice')}"), with_secret()) == "alice"
    header = {"Authorization": f"Bearer {sign('bob')}"}
    assert await authenticate(request_to("/ws", header), with_secret()) == "bob"
    header = {"Authorization": f"bearer {sign('carol')}"}  # the scheme in any case
    assert await authenticate(request_to("/ws", header), with_secret()) == "carol"


async def test_a_user_may_hold_dots() -> None:
    token = sign("alice.smith")
    assert await authenticate(request_to(f"/ws?token={token}"), with_secret()) == "alice.smith"


async def test_no_token_is_unauthorized() -> None:
    await assert_unauthorized(request_to("/ws"), with_secret())
    await assert_unauthorized(request_to("/ws?token="), with_secret())
    await assert_unauthorized(request_to("/ws", {"Authorization": "Bearer "}), with_secret())


async def test_a_tampered_user_is_unauthorized() -> None:
    _, expiry, signature = sign("alice").split(".")
    forged = f"mallory.{expiry}.{signature}"
    await assert_unauthorized(request_to(f"/ws?token={forged}"), with_secret())


async def test_a_tampered_expiry_is_unauthorized() -> None:
    user, expiry, signature = sign("alice").split(".")
    forged = f"{user}.{int(expiry) + 3600}.{signature}"
    await assert_unauthorized(request_to(f"/ws?token={forged}"), with_secret())


async def test_an_expired_token_is_unauthorized() -> None:
    await assert_unauthorized(request_to(f"/ws?token={sign('alice', -1)}"), with_secret())


async def test_another_secret_signature_is_unauthorized() -> None:
    token = sign("alice", secret="another secret")
    await assert_unauthorized(request_to(f"/ws?token={token}"), with_secret())


MALFORMED = [".", "..", "alice", "alice.1", ".1.x", "alice..x", "alice.1e9.x", "alice.\u0661.x"]


@pytest.mark.parametrize("token", [*MALFORMED, "alice.1.\u00e9"])
async def test_a_malformed_token_is_unauthorized(token: str) -> None:
    header = {"Authorization": f"Bearer {token}"}
    await assert_unauthorized(request_to("/ws", header), with_secret())


def test_the_secret_comes_from_the_environment_and_may_be_empty() -> None:
    environ = {ENV_PREFIX + "AUTH_SECRET": " s3cret "}
    assert parse_settings([], environ=environ).auth_secret == " s3cret "
    assert parse_settings(["--auth-secret", ""], environ=environ).auth_secret == ""
    assert parse_settings([], environ={}).auth_secret == ""


@pytest.fixture(scope="module")
def guarded() -> Iterator[ServerProcess]:
    with running_server("--auth-secret", SECRET, logic="Echo") as running:
        yield running


async def assert_refused_with_401(server: ServerProcess, url: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(url, open_timeout=REPLY_TIMEOUT)
    assert refused.value.response.status_code == 401
    assert refused.value.response.headers["WWW-Authenticate"] == "Bearer"


async def test_no_token_is_refused_with_401_before_the_upgrade(guarded: ServerProcess) -> None:
    await assert_refused_with_401(guarded, guarded.ws_url)
    await wait_for_log(guarded, '"GET /ws HTTP/1.1" 401')  # an HTTP answer, not a websocket close


async def test_a_bad_signature_is_refused_with_401(guarded: ServerProcess) -> None:
    user, expiry, _ = sign("alice").split(".")
    await assert_refused_with_401(guarded, f"{guarded.ws_url}?token={user}.{expiry}.forged")


async def test_an_expired_token_is_refused_with_401(guarded: ServerProcess) -> None:
    await assert_refused_with_401(guarded, f"{guarded.ws_url}?token={sign('alice', -1)}")


async def test_a_header_that_is_not_utf8_is_refused_with_401(guarded: ServerProcess) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", guarded.port)
    token = sign("alice").encode()
    writer.write(b"GET /ws HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + b"\xff\r\n\r\n")
    status_line = await asyncio.wait_for(reader.readline(), REPLY_TIMEOUT)
    writer.close()
    await writer.wait_closed()
    assert status_line.startswith(b"HTTP/1.1 401 "), status_line


async def wait_for_close_line(server: ServerProcess, user: str) -> str:
    pattern = re.compile(rf"close .*conn=\d+ .*user={re.escape(user)} code=1000 .*")
    deadline = time.monotonic() + REPLY_TIMEOUT
    while time.monotonic() < deadline:
        if match := pattern.search(server.log()):
            return match.group()
        await asyncio.sleep(0.02)
    raise AssertionError(f"no close line for {user}:\n{server.log()}")


async def test_a_good_token_in_the_query_connects_and_logs_its_user(
    guarded: ServerProcess,
) -> None:
    async with connect(f"{guarded.ws_url}?token={sign('alice')}") as ws:
        await ws.send("hello")
        assert await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT) == "hello"
    await wait_for_close_line(guarded, "alice")


async def test_a_good_token_in_the_authorization_header_connects(guarded: ServerProcess) -> None:
    bearer = {"Authorization": f"Bearer {sign('bob')}"}
    async with connect(guarded.ws_url, additional_headers=bearer) as ws:
        await ws.send("hello")
        assert await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT) == "hello"
    await wait_for_close_line(guarded, "bob")


def plain_get(url: str, headers: Mapping[str, str] | None = None) -> tuple[int, str, str]:
    """A GET without an upgrade, which /ws answers with an error: its status, Upgrade and text."""
    request = urllib.request.Request(url, headers=dict(headers or {}))
    with pytest.raises(urllib.error.HTTPError) as answered:
        urllib.request.urlopen(request, timeout=REPLY_TIMEOUT).close()
    with answered.value as error:
        return error.code, error.headers.get("Upgrade", ""), error.read().decode()


def test_a_plain_get_answers_as_the_handshake_would(guarded: ServerProcess) -> None:
    assert plain_get(guarded.http_url + "/ws") == (401, "", "a token is required")
    let_in = plain_get(f"{guarded.http_url}/ws?token={sign('alice')}")
    assert let_in == (426, "websocket", "websocket upgrade required")


def test_a_plain_get_from_a_foreign_origin_is_forbidden(guarded: ServerProcess) -> None:
    url = f"{guarded.http_url}/ws?token={sign('alice')}"
    status, _, _ = plain_get(url, {"Origin": "https://evil.example"})
    assert status == 403


def get_page(url: str, headers: Mapping[str, str]) -> None:
    request = urllib.request.Request(url, headers=dict(headers))
    urllib.request.urlopen(request, timeout=REPLY_TIMEOUT).close()


async def wait_for_log(server: ServerProcess, text: str) -> str:
    """The server's log, once it holds ``text`` (the access log is written after the answer)."""
    deadline = time.monotonic() + REPLY_TIMEOUT
    while text not in server.log():
        assert time.monotonic() < deadline, f"not logged: {text}\n{server.log()}"
        await asyncio.sleep(0.02)
    return server.log()


async def test_the_access_log_hides_tokens(guarded: ServerProcess) -> None:
    token = sign("dave")
    with pytest.raises(InvalidStatus):
        await connect(f"{guarded.ws_url}?token={token}x", open_timeout=REPLY_TIMEOUT)
    page = f"{guarded.http_url}/?token={token}"
    await asyncio.to_thread(get_page, page, {"Referer": page})
    log = await wait_for_log(guarded, '"GET /?token=- HTTP/1.1" 200 ')
    assert '"GET /ws?token=- HTTP/1.1" 401' in log
    assert f'"{guarded.http_url}/?token=-"' in log  # the Referer
    assert token not in log


async def test_without_a_secret_a_client_without_a_token_connects(server: ServerProcess) -> None:
    async with connect(server.ws_url) as ws:
        await ws.send("hello")
        assert await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT) == "hello"
    status, _, _ = await asyncio.to_thread(plain_get, server.http_url + "/ws")
    assert status == 426
    log = await wait_for_log(server, "close ")
    assert "user=" not in log
