"""The session cookie, as the tests read it from a handshake and present it again."""

from __future__ import annotations

from http.cookies import SimpleCookie

from websockets.asyncio.client import ClientConnection

from {{ cookiecutter.package_name }}.core.sessions import SESSION_COOKIE

__all__ = ["cookie_header", "given_cookies", "session_id_of"]


def given_cookies(ws: ClientConnection) -> SimpleCookie:
    """Every cookie the handshake's response set (none when the session was rejoined)."""
    assert ws.response is not None
    cookies = SimpleCookie()
    for header in ws.response.headers.get_all("Set-Cookie"):
        cookies.load(header)
    return cookies


def session_id_of(ws: ClientConnection) -> str:
    """The id of the session the handshake minted."""
    return given_cookies(ws)[SESSION_COOKIE].value


def cookie_header(session_id: str | None) -> dict[str, str]:
    """The header that presents ``session_id`` (none for None: a browser with no cookie)."""
    return {"Cookie": f"{SESSION_COOKIE}={session_id}"} if session_id else {}
