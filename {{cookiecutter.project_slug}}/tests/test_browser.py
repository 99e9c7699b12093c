"""The page in a real Chromium: its exchange, layout, controls, reconnecting, token, refusal, channels.

The browser is the one named by ``$CHROMIUM``, else a system one on ``PATH``,
else Playwright's own Chromium (``python -m playwright install chromium``, which
``scripts/test`` runs when there is no other). With no browser at all the test
is skipped, unless ``REQUIRE_BROWSER=1`` (as in CI) makes that a failure.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Response,
    ViewportSize,
    expect,
    sync_playwright,
)

from {{ cookiecutter.package_name }}.app.auth import make_token

from .running_server import ServerProcess, running_server
from .support import free_port
from .test_reload import prefixing_logic, reloading_server

RECONNECT_TIMEOUT_MS = 20_000  # the backoff reaches 8 s after five failed attempts
BUTTONS = ("#connect", "#disconnect", "#sendMessage")
PHONE = ViewportSize(width=360, height=740)  # a small phone's screen, in CSS pixels
# An access-log line for a request the server answered with an error: '"GET /x HTTP/1.1" 404'.
ERROR_RESPONSE = re.compile(r'"[A-Z]+ (\S+) HTTP/[\d.]+" [45]\d\d ')
SYSTEM_CHROMIUMS = ("chromium", "chromium-browser", "google-chrome")
ACCEPT_POLL = 0.05  # seconds: how often the relay's accept loop looks whether it should stop
HEADLESS_ARGS = ["--disable-gpu", "--no-first-run", "--disable-background-networking"]
SECRET = "test-secret"
REFUSED_ATTEMPT = '"GET /ws HTTP/1.1" 401 '  # its access-log line
# The streaming example, publishing on the channel the page follows once a page is connected.
STREAMING = ("--notify-interval", "0.1", "--notify-after-clients", "1")
NOTIFICATIONS = "notifications"
NOTIFIED = re.compile(r"^\[notifications\] <== notify (\d+)$", re.MULTILINE)


def ending_with(text: str) -> re.Pattern[str]:
    return re.compile(re.escape(text) + "$")  # evaluated as a JavaScript RegExp


def exactly(text: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(text) + "$")  # a pattern: compared as is, spaces and all


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
def server() -> Iterator[ServerProcess]:
    """The server with the tests' Echo logic: the page's tests do not depend on logic.py."""
    with running_server(logic="Echo") as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


def test_page_exchanges_messages_with_the_server(server: ServerProcess, page: Page) -> None:
    output = page.locator("#output")
    page.goto(server.http_url + "/")

    expect(page.locator("#sendMessage")).to_be_disabled()  # nothing to send it on
    page.press("#message", "Enter")
    expect(output).to_have_text(exactly("Not Connected!\n\n"))

    page.click("#connect")
    connected = f"Not Connected!\n\nConnecting to: {server.ws_url}\n\nConnected!\n\n"
    expect(output).to_have_text(exactly(connected))
{%- if cookiecutter.multi_session %}
    expect(page.locator("#session")).to_have_text("new")
{%- endif %}

    page.click("#sendMessage")  # empty input sends "ping"
    expect(output).to_have_text(ending_with("==> ping\n\n<== ping\n\n"))

    page.fill("#message", "hello world")
    page.press("#message", "Enter")
    expect(output).to_have_text(ending_with("==> hello world\n\n<== hello world\n\n"))

    page.click("#disconnect")
    expect(output).to_have_text(ending_with("<== hello world\n\nDisconnected!\n\n"))
    expect(page.locator("#disconnect")).to_be_disabled()  # already disconnected


def expect_enabled(page: Page, *, connect: bool, disconnect: bool, send: bool) -> None:
    for button, enabled in zip(BUTTONS, (connect, disconnect, send), strict=True):
        if enabled:
            expect(page.locator(button)).to_be_enabled()
        else:
            expect(page.locator(button)).to_be_disabled()


def test_buttons_are_enabled_only_when_they_can_act(page: Page) -> None:
    port = free_port()
    state = page.locator("#state")
    with running_server(port=port, logic="Echo") as server:
        page.goto(server.http_url + "/")
        expect_enabled(page, connect=True, disconnect=False, send=False)
        page.click("#connect")
        expect(state).to_have_text("connected")
        expect_enabled(page, connect=False, disconnect=True, send=True)
    expect(state).to_have_text(re.compile("^reconnecting"))
    expect_enabled(page, connect=False, disconnect=True, send=False)
    page.click("#disconnect")
    expect(state).to_have_text("disconnected")
    expect_enabled(page, connect=True, disconnect=False, send=False)


def test_the_input_is_cleared_after_sending(server: ServerProcess, page: Page) -> None:
    connect_page(page, server)
    page.fill("#message", "hello world")
    page.click("#sendMessage")
    expect(page.locator("#output")).to_have_text(
        ending_with("==> hello world\n\n<== hello world\n\n")
    )
    expect(page.locator("#message")).to_have_value("")


def test_the_input_and_the_log_are_named_for_screen_readers(
    server: ServerProcess, page: Page
) -> None:
    page.goto(server.http_url + "/")
    expect(page.get_by_label("Message")).to_have_id("message")
    log = page.get_by_role("log", name="Log")
    expect(log).to_have_id("output")
    expect(log).to_have_attribute("aria-live", "polite")  # read out as lines arrive
    page.click("#connect")
    expect(log).to_have_text(ending_with("Connected!\n\n"))


def test_page_fits_a_360_px_wide_screen(server: ServerProcess, browser: Browser) -> None:
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        connect_page(page, server)
        page.click("#sendMessage")
        long_word = "a-long-word-that-does-not-fit-on-one-line-of-a-small-screen" * 2
        page.fill("#message", long_word)
        page.press("#message", "Enter")
        expect(page.locator("#output")).to_have_text(ending_with(f"<== {long_word}\n\n"))
        page.click("#disconnect")
        expect(page.locator("#state")).to_have_text("disconnected")

        assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
        output = page.locator("#output")
        assert output.evaluate("log => log.scrollWidth <= log.clientWidth")  # lines wrap
        for selector in (*BUTTONS, "#state", "#channels", "#message", "#to", "#output"):
            box = page.locator(selector).bounding_box()
            assert box is not None, selector
            assert box["x"] >= 0, (selector, box)
            assert box["x"] + box["width"] <= PHONE["width"], (selector, box)
            assert box["y"] + box["height"] <= PHONE["height"], (selector, box)
    finally:
        context.close()


def record_problems(page: Page) -> list[str]:
    """Console errors, uncaught exceptions, failed requests and error responses, from now on."""
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console error: {message.text}")

    def on_response(response: Response) -> None:
        if response.status >= 400:
            problems.append(f"{response.status}: {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
    page.on("response", on_response)
    return problems


def test_page_loads_and_talks_without_errors(server: ServerProcess, page: Page) -> None:
    problems = record_problems(page)
    connect_page(page, server)
    page.click("#sendMessage")
    expect(page.locator("#output")).to_have_text(ending_with("<== ping\n\n"))
    page.click("#disconnect")
    expect(page.locator("#output")).to_have_text(ending_with("Disconnected!\n\n"))
    page.reload()  # and once more, as a returning visitor
    expect(page.locator("#state")).to_have_text("disconnected")
    assert problems == []
    # The browser's own requests (such as /favicon.ico) are not the page's: the access log has them.
    assert ERROR_RESPONSE.findall(server.log()) == []


def connect_page(page: Page, server: ServerProcess) -> None:
    page.goto(server.http_url + "/")
    page.click("#connect")
    expect(page.locator("#state")).to_have_text("connected")


def test_page_reconnects_by_itself_when_the_server_restarts(page: Page) -> None:
    port = free_port()
    state = page.locator("#state")
    output = page.locator("#output")
    with running_server(port=port, logic="Echo") as first:
        connect_page(page, first)
    expect(output).to_have_text(re.compile(r"Disconnected! \(1001 server shutdown\)"))
    expect(state).to_have_text(re.compile(r"^reconnecting in \d+\.\d s$"))

    with running_server(port=port, logic="Echo"):
        expect(state).to_have_text("connected", timeout=RECONNECT_TIMEOUT_MS)
{%- if cookiecutter.multi_session %}
        # The new process never knew the old session: the page is told, then carries on.
        expect(output).to_have_text(re.compile(r"Could not resume \(session expired\)"))
        expect(page.locator("#session")).to_have_text("new")
{%- endif %}
        page.click("#sendMessage")
        expect(output).to_have_text(ending_with("==> ping\n\n<== ping\n\n"))


def test_page_reconnects_by_itself_after_an_edit_reloads_the_server(
    page: Page, tmp_path: Path
) -> None:
    state = page.locator("#state")
    output = page.locator("#output")
    with reloading_server(tmp_path) as (server, logic):
        connect_page(page, server)
        logic.write_text(prefixing_logic("two: "))
        expect(output).to_have_text(re.compile(r"Disconnected! \(1001 server shutdown\)"))
        expect(state).to_have_text("connected", timeout=RECONNECT_TIMEOUT_MS)
{%- if cookiecutter.multi_session %}
        expect(output).to_have_text(re.compile(r"Could not resume \(session expired\)"))
{%- endif %}
        page.fill("#message", "hello")
        page.press("#message", "Enter")
        expect(output).to_have_text(ending_with("==> hello\n\n<== two: hello\n\n"))


def seconds_left(state: str) -> float:
    countdown = re.fullmatch(r"reconnecting in (\d+\.\d) s", state)
    assert countdown is not None, state
    return float(countdown.group(1))


def test_the_reconnect_countdown_counts_down(page: Page) -> None:
    page.add_init_script("Math.random = () => 0.999;")  # each wait is its step's longest
    port = free_port()
    state = page.locator("#state")
    with running_server(port=port, logic="Echo") as server:
        connect_page(page, server)
    # The waits are 0.5 s, 1 s, 2 s, 4 s, ...: catch one with at least a second to go.
    expect(state).to_have_text(re.compile(r"^reconnecting in [1-9]\d*\.\d s$"), timeout=10_000)
    first = seconds_left(state.inner_text())
    page.wait_for_timeout(300)
    second = seconds_left(state.inner_text())
    assert 0 < second < first
    page.click("#disconnect")


def test_disconnect_stops_reconnecting(page: Page) -> None:
    port = free_port()
    output = page.locator("#output")
    with running_server(port=port, logic="Echo") as server:
        connect_page(page, server)
    expect(page.locator("#state")).to_have_text(re.compile("^reconnecting"))
    page.click("#disconnect")
    expect(page.locator("#state")).to_have_text("disconnected")
    # Waiting out the backoff, or in the middle of an attempt that then fails.
    expect(output).to_have_text(re.compile(r"(Stopped reconnecting\.|Disconnected!)\n\n$"))
    log_when_stopped = output.inner_text()
    with running_server(port=port, logic="Echo"):
        page.wait_for_timeout(1_500)  # longer than the first backoff steps
    assert output.inner_text() == log_when_stopped


def test_a_page_without_a_token_shows_the_refusal_and_stops(page: Page) -> None:
    with running_server("--auth-secret", SECRET, logic="Echo") as server:
        page.goto(server.http_url + "/")
        page.click("#connect")
        output = page.locator("#output")
        expect(output).to_have_text(re.compile(r"Refused: 401 a token is required\n\n"))
        expect(output).to_have_text(ending_with("the server refused this client.\n\n"))
        expect(page.locator("#state")).to_have_text("disconnected")
        expect_enabled(page, connect=True, disconnect=False, send=False)
        page.wait_for_timeout(2_000)  # the first backoff steps, several times over
        # The handshake, then the plain GET that asked why: nothing since.
        assert server.log().count(REFUSED_ATTEMPT) == 2, server.log()


def test_a_page_opened_with_a_token_connects(page: Page) -> None:
    with running_server("--auth-secret", SECRET, logic="Echo") as server:
        token = make_token("alice", SECRET, 60)
        page.goto(f"{server.http_url}/?token={token}")
        page.click("#connect")
        expect(page.locator("#state")).to_have_text("connected")
        page.click("#sendMessage")
        expect(page.locator("#output")).to_have_text(ending_with("==> ping\n\n<== ping\n\n"))


def test_policy_violation_is_not_retried(page: Page) -> None:
    # The burst allows two frames: the page's subscribe to its channel, and one message.
    with running_server("--rate-limit", "0.001", "--rate-burst", "2", logic="Echo") as server:
        connect_page(page, server)
        page.click("#sendMessage")
        page.click("#sendMessage")  # over the rate limit: closed with 1008
        output = page.locator("#output")
        expect(output).to_have_text(re.compile(r"Disconnected! \(1008 rate limit exceeded\)"))
        expect(output).to_have_text(ending_with("the server refused this client.\n\n"))
        expect(page.locator("#state")).to_have_text("disconnected")


def test_page_detects_a_silent_server_and_resumes(page: Page) -> None:
    output = page.locator("#output")
    with running_server("--heartbeat", "0.5", logic="Echo") as server:
        connect_page(page, server)
        page.click("#sendMessage")
        expect(output).to_have_text(ending_with("<== ping\n\n"))
        server.process.send_signal(signal.SIGSTOP)  # alive for TCP, silent for the page
        try:
            expect(output).to_have_text(re.compile("Connection lost: the server stopped"))
        finally:
            server.process.send_signal(signal.SIGCONT)
        expect(page.locator("#state")).to_have_text("connected", timeout=RECONNECT_TIMEOUT_MS)
        page.fill("#message", "still there?")
        page.press("#message", "Enter")
        expect(output).to_have_text(ending_with("==> still there?\n\n<== still there?\n\n"))
        assert "Could not resume" not in output.inner_text()
        assert "Missed messages" not in output.inner_text()
{%- if cookiecutter.multi_session %}


def test_a_reply_reaches_only_its_tab_and_a_session_message_every_tab(
    server: ServerProcess, browser: Browser
) -> None:
    """``client.send`` answers one tab (``<==``); ``out.to_session`` reaches all (``<<=``)."""
    context = browser.new_context()  # one browser: one cookie, one session
    try:
        sender, other = context.new_page(), context.new_page()
        connect_page(sender, server)
        connect_page(other, server)
        sender.click("#sendMessage")
        expect(sender.locator("#output")).to_have_text(ending_with("==> ping\n\n<== ping\n\n"))
        with running_server(logic="SessionEcho") as session_server:
            for page in (sender, other):
                page.click("#disconnect")
                connect_page(page, session_server)
            sender.fill("#message", "to every tab")
            sender.press("#message", "Enter")
            for page in (sender, other):
                expect(page.locator("#output")).to_have_text(ending_with("<<= to every tab\n\n"))
        expect(other.locator("#output")).not_to_have_text(re.compile("<== ping"))
    finally:
        context.close()
{%- endif %}


def test_the_walkthroughs_chat_works_in_two_browsers(browser: Browser) -> None:
    """Join lines, messages to all but the sender, a receipt to the sender, a prompt leave."""
    others = "{% if cookiecutter.multi_session %}<<={% else %}<=={% endif %}"  # how a message to all shows
    with running_server(logic="Chat") as server:
        contexts = [browser.new_context(), browser.new_context()]
        try:
            alice, bob = (context.new_page() for context in contexts)
            alice_log, bob_log = alice.locator("#output"), bob.locator("#output")
            connect_page(alice, server)
            expect(alice_log).to_have_text(ending_with("<== welcome, guest1\n\n"))
            connect_page(bob, server)
            expect(bob_log).to_have_text(ending_with("<== welcome, guest2\n\n"))
            expect(alice_log).to_have_text(ending_with(f"{others} guest2 joined\n\n"))
            bob.fill("#message", "hi all")
            bob.press("#message", "Enter")
            expect(alice_log).to_have_text(ending_with(f"{others} guest2: hi all\n\n"))
            expect(bob_log).to_have_text(ending_with("==> hi all\n\n<== sent: hi all\n\n"))
            contexts.pop().close()  # bob closes his browser
            expect(alice_log).to_have_text(ending_with(f"{others} guest2 left\n\n"), timeout=2_000)
        finally:
            for context in contexts:
                context.close()


def notified(log: str) -> list[int]:
    """The numbers of the ``notify`` messages the page showed from its channel, in order."""
    return [int(number) for number in NOTIFIED.findall(log)]


def assert_each_once_in_order(numbers: list[int], last: int) -> None:
    """The stream up to ``last``, none twice, none missing: from its first message, or a later one.

    The stream starts as the page connects, and may send a message or two before
    the page's subscribe reaches the server; from then on nothing may be missed.
    """
    assert numbers, "no notify message shown"
    assert numbers == list(range(numbers[0], last + 1)), numbers


def test_the_page_follows_notifications_and_shows_them(page: Page) -> None:
    output = page.locator("#output")
    with running_server(*STREAMING, "--notify-count", "5", logic="Echo") as server:
        connect_page(page, server)
        expect(page.locator("#channels")).to_have_text(NOTIFICATIONS)
        expect(output).to_have_text(ending_with("[notifications] <== notify 5\n\n"))
        assert_each_once_in_order(notified(output.inner_text()), 5)
        page.click("#disconnect")
        expect(page.locator("#channels")).to_have_text("none")  # followed by no connection


class Relay:
    """A TCP relay between the page and the server, whose :meth:`cut` drops every connection.

    As a network fault would: the page and the server each see the connection end
    without a close frame.
    """

    def __init__(self, server_port: int) -> None:
        self.server_port = server_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(ACCEPT_POLL)
        self.port: int = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.connections: list[socket.socket] = []
        self.refusing_until = 0.0
        self.stopping = threading.Event()
        self.acceptor = threading.Thread(target=self._accept, daemon=True)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Relay:
        self.acceptor.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        self.acceptor.join()
        self.listener.close()
        self.cut()

    def cut(self, pause: float = 0.0) -> None:
        """Drop every connection, and for ``pause`` seconds each new one as it comes."""
        with self.lock:
            self.refusing_until = time.monotonic() + pause
            connections, self.connections = self.connections, []
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)  # wakes the pump reading it
            connection.close()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                downstream, _ = self.listener.accept()
            except TimeoutError:
                continue
            with self.lock:
                refusing = time.monotonic() < self.refusing_until
            if refusing:
                downstream.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.server_port))
            with self.lock:
                self.connections += [downstream, upstream]
            for source, sink in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=pump, args=(source, sink), daemon=True).start()


def pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy what ``source`` reads to ``sink`` until either ends (a cut closes both)."""
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)  # pass the end of the stream on


def test_the_page_resumes_its_channel_after_a_cut_without_loss_or_duplicates(page: Page) -> None:
    output = page.locator("#output")
    with (
        running_server(*STREAMING, "--notify-count", "30", logic="Echo") as server,
        Relay(server.port) as relay,
    ):
        page.goto(relay.http_url + "/")
        page.click("#connect")
        expect(output).to_have_text(re.compile(r"\[notifications\] <== notify 5\n"))
        relay.cut(pause=0.5)  # the stream goes on meanwhile: five messages or so to catch up
        expect(output).to_have_text(re.compile("Disconnected!"))
        expect(page.locator("#state")).to_have_text("connected", timeout=RECONNECT_TIMEOUT_MS)
        expect(page.locator("#channels")).to_have_text(NOTIFICATIONS)
        expect(output).to_have_text(ending_with("[notifications] <== notify 30\n\n"))
        log = output.inner_text()
        assert_each_once_in_order(notified(log), 30)  # across the cut too
        # since=notifications:<number>@<epoch>, the number of the numbering the page followed
        assert re.search(r"Connecting to: \S+[?&]since=notifications%3A\d+%40[\w-]+", log), log
        assert "Missed messages" not in log
        assert "Could not resume" not in log


def test_the_page_carries_on_with_its_channel_after_the_server_restarts(page: Page) -> None:
    """The new process has lost the channel's history: the page is told, and follows it anew."""
    port = free_port()
    output = page.locator("#output")
    streaming = (*STREAMING, "--notify-count", "3")
    with running_server(*streaming, port=port, logic="Echo") as first:
        connect_page(page, first)
        expect(output).to_have_text(ending_with("[notifications] <== notify 3\n\n"))
    with running_server(*streaming, port=port, logic="Echo"):
        told = re.compile(
            r"\[notifications\] Could not resume \([^)]+\); continuing from here\.\n\n"
            r"[\s\S]*\[notifications\] <== notify 3\n\n$"
        )
        expect(output).to_have_text(told, timeout=RECONNECT_TIMEOUT_MS)
        before, after = output.inner_text().split("[notifications] Could not resume")
        assert_each_once_in_order(notified(before), 3)
        assert notified(after) == [1, 2, 3]  # the new stream, all of it: resumed before it began


def test_a_message_published_from_one_page_reaches_another_following_the_channel(
    server: ServerProcess, browser: Browser
) -> None:
    contexts = [browser.new_context(), browser.new_context()]  # two people, two browsers
    try:
        alice, bob = (context.new_page() for context in contexts)
        for page in (alice, bob):
            connect_page(page, server)
            expect(page.locator("#channels")).to_have_text(NOTIFICATIONS)
        alice.select_option("#to", NOTIFICATIONS)
        alice.fill("#message", "hello, followers")
        alice.press("#message", "Enter")
        alice_log = alice.locator("#output")
        expect(alice_log).to_have_text(re.compile(r"\[notifications\] ==> hello, followers\n"))
        for page in (alice, bob):  # the publisher follows the channel too
            expect(page.locator("#output")).to_have_text(
                ending_with("[notifications] <== hello, followers\n\n")
            )
        assert not re.search("^<== hello", alice_log.inner_text(), re.MULTILINE)  # not the logic's
    finally:
        for context in contexts:
            context.close()


def test_a_stream_client_of_ones_own_follows_and_leaves_a_channel(
    server: ServerProcess, page: Page
) -> None:
    """The script's StreamClient used directly, as an app of its own would use it."""
    page.goto(server.http_url + "/")
    page.evaluate(
        """() => {
            window.received = [];
            window.logged = [];
            window.record = (data, {channel, seq}) => received.push([channel, seq, data]);
            window.client = new StreamClient("/ws", {onLog: (line) => logged.push(line)});
            client.subscribe("room:1", record);
            client.subscribe("no spaces", record);  // not a channel name: refused
            client.connect();
        }"""
    )
    page.wait_for_function("client.channels.includes('room:1')")
    assert page.evaluate("client.state") == "connected"
    page.wait_for_function("logged.some(line => line.startsWith('[no spaces] Error from server'))")
    assert page.evaluate("client.channels") == ["room:1"]
    assert page.evaluate("client.publish('room:1', 'one')") is True
    page.wait_for_function("received.length === 1")
    page.evaluate("client.unsubscribe('room:1')")
    assert page.evaluate("client.channels") == []
    page.evaluate("client.publish('room:1', 'two')")  # sent after the unsubscribe: not received
    page.evaluate("client.subscribe('room:1', record)")
    page.wait_for_function("client.channels.includes('room:1')")
    page.evaluate("client.publish('room:1', 'three')")
    page.wait_for_function("received.length === 2")
    assert page.evaluate("received") == [["room:1", 1, "one"], ["room:1", 3, "three"]]
    page.evaluate("client.disconnect()")
    page.wait_for_function("client.state === 'disconnected'")
    assert page.evaluate("client.publish('room:1', 'four')") is False
