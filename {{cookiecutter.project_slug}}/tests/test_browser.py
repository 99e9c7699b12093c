"""The page in a real Chromium: the ping/pong exchange, and reconnecting by itself.

The browser is the one named by ``$CHROMIUM``, else a system one on ``PATH``,
else Playwright's own Chromium (``python -m playwright install chromium``, which
``scripts/test`` runs when there is no other). With no browser at all the test
is skipped, unless ``REQUIRE_BROWSER=1`` (as in CI) makes that a failure.
"""

from __future__ import annotations

import os
import re
import shutil
{%- if cookiecutter.multi_session %}
import signal
{%- endif %}
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from .running_server import ServerProcess, free_port, running_server
from .test_reload import reloading_server

RECONNECT_TIMEOUT_MS = 20_000  # the backoff reaches 8 s after five failed attempts
SYSTEM_CHROMIUMS = ("chromium", "chromium-browser", "google-chrome")
HEADLESS_ARGS = ["--disable-gpu", "--no-first-run", "--disable-background-networking"]


def ending_with(text: str) -> re.Pattern[str]:
    return re.compile(re.escape(text) + "$")  # evaluated as a JavaScript RegExp


def find_system_chromium() -> str | None:
    named = os.environ.get("CHROMIUM")
    if named:
        return named
    return next(filter(None, map(shutil.which, SYSTEM_CHROMIUMS)), None)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium
        if executable := find_system_chromium():
            launched = chromium.launch(executable_path=executable, args=HEADLESS_ARGS)
        elif Path(chromium.executable_path).exists():
            launched = chromium.launch(args=HEADLESS_ARGS)
        else:
            message = "no Chromium: run `python -m playwright install chromium` or set $CHROMIUM"
            if os.environ.get("REQUIRE_BROWSER") == "1":
                pytest.fail(message)
            pytest.skip(message)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


def test_page_exchanges_messages_with_the_server(server: ServerProcess, page: Page) -> None:
    output = page.locator("#output")
    page.goto(server.http_url + "/")

    page.click("#sendMessage")
    expect(output).to_have_value("Not Connected!\n\n")

    page.click("#connect")
    connected = f"Not Connected!\n\nConnecting to: {server.ws_url}\n\nConnected!\n\n"
    expect(output).to_have_value(connected)
{%- if cookiecutter.multi_session %}
    expect(page.locator("#session")).to_have_text("new")
{%- endif %}

    page.click("#sendMessage")  # empty input sends "ping"
    expect(output).to_have_value(ending_with("==> ping\n\n<== pong\n\n"))

    page.fill("#message", "hello world")
    page.press("#message", "Enter")
    expect(output).to_have_value(ending_with("==> hello world\n\n<== ok\n\n"))

    page.click("#disconnect")
    expect(output).to_have_value(ending_with("<== ok\n\nDisconnected!\n\n"))
    page.click("#disconnect")
    expect(output).to_have_value(ending_with("Disconnected!\n\nNot Connected!\n\n"))


def connect_page(page: Page, server: ServerProcess) -> None:
    page.goto(server.http_url + "/")
    page.click("#connect")
    expect(page.locator("#state")).to_have_text("connected")


def test_page_reconnects_by_itself_when_the_server_restarts(page: Page) -> None:
    port = free_port()
    state = page.locator("#state")
    output = page.locator("#output")
    with running_server(port=port) as first:
        connect_page(page, first)
    expect(output).to_have_value(re.compile(r"Disconnected! \(1001 server shutdown\)"))
    expect(state).to_have_text(re.compile(r"^reconnecting in \d+\.\d s$"))

    with running_server(port=port):
        expect(state).to_have_text("connected", timeout=RECONNECT_TIMEOUT_MS)
{%- if cookiecutter.multi_session %}
        # The new process never knew the old session: the page is told, then carries on.
        expect(output).to_have_value(re.compile(r"Could not resume \(session expired\)"))
        expect(page.locator("#session")).to_have_text("new")
{%- endif %}
        page.click("#sendMessage")
        expect(output).to_have_value(ending_with("==> ping\n\n<== pong\n\n"))


def test_page_reconnects_by_itself_after_an_edit_reloads_the_server(
    page: Page, tmp_path: Path
) -> None:
    state = page.locator("#state")
    output = page.locator("#output")
    with reloading_server(tmp_path) as (server, logic):
        connect_page(page, server)
        logic.write_text(logic.read_text().replace('else "ok"', 'else "edited"'))
        expect(output).to_have_value(re.compile(r"Disconnected! \(1001 server shutdown\)"))
        expect(state).to_have_text("connected", timeout=RECONNECT_TIMEOUT_MS)
{%- if cookiecutter.multi_session %}
        expect(output).to_have_value(re.compile(r"Could not resume \(session expired\)"))
{%- endif %}
        page.fill("#message", "hello")
        page.press("#message", "Enter")
        expect(output).to_have_value(ending_with("==> hello\n\n<== edited\n\n"))


def test_disconnect_stops_reconnecting(page: Page) -> None:
    port = free_port()
    output = page.locator("#output")
    with running_server(port=port) as server:
        connect_page(page, server)
    expect(page.locator("#state")).to_have_text(re.compile("^reconnecting"))
    page.click("#disconnect")
    expect(page.locator("#state")).to_have_text("disconnected")
    # Waiting out the backoff, or in the middle of an attempt that then fails.
    expect(output).to_have_value(re.compile(r"(Stopped reconnecting\.|Disconnected!)\n\n$"))
    log_when_stopped = output.input_value()
    with running_server(port=port):
        page.wait_for_timeout(1_500)  # longer than the first backoff steps
    assert output.input_value() == log_when_stopped


def test_policy_violation_is_not_retried(page: Page) -> None:
    with running_server("--rate-limit", "0.001", "--rate-burst", "1") as server:
        connect_page(page, server)
        page.click("#sendMessage")
        page.click("#sendMessage")  # over the rate limit: closed with 1008
        output = page.locator("#output")
        expect(output).to_have_value(re.compile(r"Disconnected! \(1008 rate limit exceeded\)"))
        expect(output).to_have_value(ending_with("the server refused this client.\n\n"))
        expect(page.locator("#state")).to_have_text("disconnected")
{%- if cookiecutter.multi_session %}


def test_page_detects_a_silent_server_and_resumes(page: Page) -> None:
    output = page.locator("#output")
    with running_server("--heartbeat", "0.5") as server:
        connect_page(page, server)
        page.click("#sendMessage")
        expect(output).to_have_value(ending_with("<== pong\n\n"))
        server.process.send_signal(signal.SIGSTOP)  # alive for TCP, silent for the page
        try:
            expect(output).to_have_value(re.compile("Connection lost: the server stopped"))
        finally:
            server.process.send_signal(signal.SIGCONT)
        expect(page.locator("#state")).to_have_text("connected", timeout=RECONNECT_TIMEOUT_MS)
        page.fill("#message", "still there?")
        page.press("#message", "Enter")
        expect(output).to_have_value(ending_with("==> still there?\n\n<== ok\n\n"))
        assert "Could not resume" not in output.input_value()
        assert "Missed messages" not in output.input_value()
{%- endif %}
