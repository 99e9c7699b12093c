"""Several server processes on one port (SO_REUSEPORT), sharing their sessions through Redis."""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable

from aiohttp import web

from .runner import STOP_SIGNALS, AppCreator, configure_logging, run
from .settings import ServerSettings

__all__ = ["run_workers"]

# Builds the application a worker serves, given its number (0: the first).
WorkerAppCreator = Callable[[int], web.Application]


def _worker(settings: ServerSettings, create: AppCreator) -> None:
    configure_logging(settings.log_level)
    sys.exit(run(settings, create))


def run_workers(settings: ServerSettings, create: WorkerAppCreator) -> int:
    """Run ``--workers`` server processes until SIGINT or SIGTERM; return the worst exit code.

    Worker ``n`` serves ``create(n)``; ``create`` must pickle (a module-level
    function, or a ``functools.partial`` of one), since each worker is a fresh
    interpreter.
    """
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_worker, args=(settings, functools.partial(create, index)))
        for index in range(settings.workers)
    ]
    for worker in workers:
        worker.start()

    def forward(signum: int, frame: object) -> None:
        for worker in workers:
            if worker.pid is not None and worker.is_alive():
                os.kill(worker.pid, signal.SIGTERM)

    for signum in STOP_SIGNALS:
        signal.signal(signum, forward)
    for worker in workers:
        worker.join()
    return max(abs(worker.exitcode or 0) for worker in workers)
