"""Command line: ``python -m {{ cookiecutter.package_name }} [--host H] [--port P] ...`` starts the server."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence

from aiohttp import web

from .server import create_app, drain
from .settings import Settings, parse_settings

__all__ = ["main", "serve"]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

logger = logging.getLogger("{{ cookiecutter.package_name }}")


async def serve(settings: Settings) -> None:
    """Serve until SIGINT or SIGTERM, then drain every connection and return."""
    app = create_app(settings)
    runner = web.AppRunner(app, shutdown_timeout=settings.shutdown_timeout)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        shown_host = f"[{host}]" if ":" in host else host
        logger.info("started websocket server at ws://%s:%d/ws", shown_host, port)
        await _until_signalled(signal.SIGINT, signal.SIGTERM)
        logger.info("draining: closing every connection with 1001")
        await drain(app)
    finally:
        await runner.cleanup()
    logger.info("stopped")


async def _until_signalled(*signals: signal.Signals) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


def main(argv: Sequence[str] | None = None) -> None:
    settings = parse_settings(argv)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
