"""Development: serve in a child process, and start a fresh one when a Python file changes.

``--reload`` runs the server this way. watchfiles (from the ``dev`` extra)
watches the Python files of this package. On a change the server is stopped as
SIGTERM stops it (each websocket is closed with 1001, and the page reconnects
by itself), and a new process, which imports the edited code, serves on the
same port. The static files need no restart: they are read from disk on every
request, so reloading the page shows an edit.

SIGINT or SIGTERM stops the watcher and the server, and the watcher exits 0.
A server that fails to start (a syntax error, say) is started again at the
next change.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import sys
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

from .connection import CLOSE_TIMEOUT
from .runner import STOP_SIGNALS, AppCreator, configure_logging, run
from .settings import ServerSettings

__all__ = ["INSTALL_HINT", "WATCHED", "run_reloading", "serve_child"]

WATCHED = Path(__file__).resolve().parent.parent  # the whole package
INSTALL_HINT = (
    "--reload needs watchfiles, from the dev extra:"
    " pip install -e '.[dev]' (./scripts/run --reload installs it)"
)
EXIT_SLACK = 2.0  # seconds for the stopped server's interpreter to exit after its drain

logger = logging.getLogger(__name__)


def run_reloading(settings: ServerSettings, create: AppCreator) -> int:
    """Serve ``create``'s application in a child process, restarted on every change.

    Return 0 after SIGINT or SIGTERM. ``create`` must pickle: the child imports it afresh.
    """
    try:
        import watchfiles
    except ImportError:
        sys.exit(f"error: {INSTALL_HINT}")

    # A spawned interpreter imports everything afresh, so it runs the edited code.
    context = multiprocessing.get_context("spawn")
    stop_timeout = settings.shutdown_timeout + CLOSE_TIMEOUT + EXIT_SLACK

    def start() -> BaseProcess:
        process = context.Process(target=serve_child, args=(settings, create), name="server")
        process.start()
        return process

    def stop(process: BaseProcess) -> None:
        process.terminate()  # SIGTERM: the server drains its connections, then exits
        process.join(stop_timeout)
        if process.exitcode is None:
            logger.warning("reload: the server did not stop in %.0f s; killed", stop_timeout)
            process.kill()
            process.join()

    logging.getLogger("watchfiles").setLevel(logging.ERROR)  # its lines repeat the ones below
    # watch() returns on SIGINT (Ctrl-C); make SIGTERM stop it the same way.
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    signal.signal(signal.SIGTERM, _interrupt)
    logger.info("reload: watching the Python files in %s", WATCHED)
    server = start()
    try:
        with contextlib.suppress(KeyboardInterrupt):  # a signal during a restart
            for changes in watchfiles.watch(
                WATCHED, watch_filter=watchfiles.PythonFilter(), raise_interrupt=False
            ):
                changed = sorted({_shown(path) for _, path in changes})
                logger.info("reload: %s changed; restarting the server", ", ".join(changed))
                stop(server)
                server = start()
    finally:
        for signum in STOP_SIGNALS:  # a second signal while stopping changes nothing
            signal.signal(signum, signal.SIG_IGN)
        stop(server)
        for signum, handler in previous.items():
            if handler is not None:
                signal.signal(signum, handler)
    logger.info("reload: stopped")
    return 0


def serve_child(settings: ServerSettings, create: AppCreator) -> None:
    """Serve in this (spawned) process until SIGINT or SIGTERM."""
    configure_logging(settings.log_level)
    sys.exit(run(settings, create))


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _shown(path: str) -> str:
    """A changed file, relative to the watched package when it is inside it."""
    try:
        return Path(path).relative_to(WATCHED).as_posix()
    except ValueError:
        return path
