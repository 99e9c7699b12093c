"""Running the server: serve until SIGINT or SIGTERM, then drain."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import ExitStack, contextmanager
from http import HTTPStatus
from types import FrameType
from typing import Any

from aiohttp import hdrs, web
from aiohttp.web_log import AccessLogger

from .errors import StartupError
from .routes import drain
from .settings import ServerSettings

__all__ = [
    "STOP_SIGNALS",
    "AppCreator",
    "LineFormatter",
    "StartupError",
    "configure_logging",
    "run",
    "run_event_loop",
    "serve",
]

LOG_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

# The value of a `token` query parameter (auth.py's credential), which the access log hides.
TOKEN_VALUE = re.compile(r"(?<=[?&]token=)[^&#]+")
# Turns of the event loop from a connection's accept to its handler waiting for a request.
ACCEPTED_CONNECTION_TURNS = 3

logger = logging.getLogger("{{ cookiecutter.package_name }}")
AppCreator = Callable[[], web.Application]  # builds the application a process serves


def configure_logging(level: str) -> None:
    """Log to stderr at ``level`` (a name from ``settings.LOG_LEVELS``), one line per record.

    A busy server logs a line per connection, so a record costs only what
    ``LOG_FORMAT`` shows: the caller's frame, the thread, and the
    multiprocessing and asyncio task names are not looked up (the logging
    HOWTO's "Optimization"; add them back if the format asks for them), and
    each second's timestamp is formatted once (see :class:`LineFormatter`).
    """
    logging.logThreads = False
    logging.logMultiprocessing = False
    if sys.version_info >= (3, 12):
        logging.logAsyncioTasks = False
    logging._srcfile = None  # no sys._getframe() walk per record for its file and line
    handler = logging.StreamHandler()
    handler.setFormatter(LineFormatter(LOG_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler])


class LineFormatter(logging.Formatter):
    """``logging.Formatter``, with the date and time of each second formatted once.

    The lines are the same; those logged within one second share one ``strftime``.
    """

    _second: tuple[int, str] = (-1, "")  # the last second formatted, and its text

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        cached = self._second
        if cached[0] != second:  # one tuple, swapped whole: safe for loggers in other threads
            stamp = time.strftime(self.default_time_format, self.converter(second))
            cached = self._second = (second, stamp)
        return f"{cached[1]},{int(record.msecs):03d}"  # as default_msec_format has it


async def serve(settings: ServerSettings, create: AppCreator) -> None:
    """Serve the application ``create`` builds until SIGINT or SIGTERM, then drain it and return."""
    app = create()
    runner = web.AppRunner(
        app,
        shutdown_timeout=settings.shutdown_timeout,
        access_log_class=HttpAccessLogger,
        # No TCP keep-alive probes (a setsockopt per connection, and hours before the first):
        # the heartbeat finds a dead websocket peer, aiohttp's keep-alive timeout an idle page.
        tcp_keepalive=False,
    )
    await runner.setup()
    with _stop_signals() as stop:
        try:
            site = web.TCPSite(
                runner,
                settings.host,
                settings.port,
                backlog=settings.backlog,
{%- if cookiecutter.scale_out == "redis" %}
                reuse_port=settings.workers > 1,  # the workers share the port
{%- endif %}
            )
            try:
                await site.start()
            except OSError as error:  # in use, not an address of this machine, unknown host
                reason = os.strerror(error.errno) if error.errno else str(error)
                message = f"cannot listen on {settings.host}:{settings.port}: {reason}"
                raise StartupError(message) from None
            host, port = runner.addresses[0][:2]
            shown_host = f"[{host}]" if ":" in host else host
            logger.info("started websocket server at ws://%s:%d/ws", shown_host, port)
            logger.info("event loop: %s", type(asyncio.get_running_loop()).__module__)
            await stop.wait()
            logger.info("draining: closing every connection with 1001")
            await drain(app)
            await site.stop()
            await _let_accepted_connections_start()
        finally:
            await runner.cleanup()
    logger.info("stopped")


def run(settings: ServerSettings, create: AppCreator) -> int:
    """Serve in this process; return the exit code: 1 if it could not start."""
    try:
        run_event_loop(serve(settings, create))
    except StartupError as error:
        logger.error("%s", error)
        return 1
    return 0


async def _let_accepted_connections_start() -> None:
    """Give the connections accepted just before the listener closed time to start their handler.

    At cleanup aiohttp closes every connection that waits for a request, but one
    whose handler has not run yet (before Python 3.12 it starts on the next turn
    of the loop, not at once) misses that, then ignores its request, and holds
    the exit for ``--shutdown-timeout`` seconds: under a reconnect storm during
    the drain, that is a few of them. A few turns of the loop start them all.
    """
    for _ in range(ACCEPTED_CONNECTION_TURNS):
        await asyncio.sleep(0)


class HttpAccessLogger(AccessLogger):
    """aiohttp's access log, less websockets: the incoming proxy logs each one as it closes.

    Tokens stay out of it: a ``token`` query parameter, in the request's URL or
    in the page's address its ``Referer`` carries, is logged as ``token=-``.
    """

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if response.status != HTTPStatus.SWITCHING_PROTOCOLS:
            super().log(_without_tokens(request), response, time)


def _without_tokens(request: web.BaseRequest) -> web.BaseRequest:
    referer = request.headers.get(hdrs.REFERER, "")
    if "token=" not in request.query_string and "token=" not in referer:
        return request
    headers = request.headers.copy()
    if referer:
        headers[hdrs.REFERER] = TOKEN_VALUE.sub("-", referer)
    return request.clone(rel_url=TOKEN_VALUE.sub("-", request.rel_url.raw_path_qs), headers=headers)


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on uvloop when the ``fast`` extra is installed, else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        _warm_allocator()
        asyncio.run(main)
    else:
        uvloop.run(main)


def _warm_allocator() -> None:
    """Let glibc serve asyncio's 256 KiB socket reads from its heap from the first read on.

    glibc maps any allocation of 128 KiB or more with mmap until a mapped block
    is freed, which raises that threshold to the block's size; until then each
    read asyncio makes costs an mmap, an mremap and an munmap. Whether start-up
    happens to free such a block depends on what it imports; freeing one 1 MiB
    block here makes it certain. Elsewhere it is just one allocation. (uvloop
    reads into a buffer of its own.)
    """
    bytes(1 << 20)


@contextmanager
def _stop_signals() -> Iterator[asyncio.Event]:
    """An event set by SIGINT or SIGTERM; a second signal while stopping changes nothing.

    The loop's own signal handlers are used where it has them (Linux, macOS).
    Windows' event loops have none: there a plain handler, which runs between
    bytecodes of the main thread, asks the loop to set the event.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    with ExitStack() as handlers:
        try:
            for signum in STOP_SIGNALS:
                loop.add_signal_handler(signum, stop.set)
                handlers.callback(loop.remove_signal_handler, signum)
        except NotImplementedError:
            handlers.close()
            handlers.enter_context(_plain_signal_handlers(loop, stop))
        yield stop


@contextmanager
def _plain_signal_handlers(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> Iterator[None]:
    """Set ``stop`` on SIGINT or SIGTERM through ``signal.signal``; restore the handlers after."""

    def handler(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(stop.set)

    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, before in previous.items():
            if before is not None:
                signal.signal(signum, before)
