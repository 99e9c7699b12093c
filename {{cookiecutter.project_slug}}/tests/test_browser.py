"""The page in a real Chromium: Connect, ping -> pong, hello world + Enter -> ok, Disconnect.

The browser is Playwright's own Chromium when installed (``python -m playwright
install chromium``), else the one named by ``$CHROMIUM`` or found on ``PATH``.
With no browser at all the test is skipped, unless ``REQUIRE_BROWSER=1`` (as in
CI) makes that a failure.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from .running_server import ServerProcess

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
        if Path(chromium.executable_path).exists():
            launched = chromium.launch(args=HEADLESS_ARGS)
        elif executable := find_system_chromium():
            launched = chromium.launch(executable_path=executable, args=HEADLESS_ARGS)
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
    expect(page.locator("#session")).to_have_text(re.compile(r"^[A-Za-z0-9_-]{22}$"))
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
