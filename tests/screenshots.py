"""Photograph the default project's page for the README: ``scripts/screenshots``.

It renders the default project, starts its server and, in a Chromium, clicks
Connect, SendMessage (``ping``), types ``hello world`` + Enter and clicks
Disconnect, then saves the page as ``docs/page.png`` (a 560 x 470 window) and
``docs/page-360.png`` (a 360 x 740 phone screen). The server runs on a Python
with the project's dependencies: ``--python``, else a venv made for them in
``.cache/screenshots-venv``. The Chromium is ``$CHROMIUM``, else a system one on
``PATH``, else Playwright's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, ViewportSize, expect, sync_playwright

from .baking import REPO, BakedProject, prepare_venv, run

DOCS = REPO / "docs"
SHOTS = {
    "page.png": ViewportSize(width=560, height=470),
    "page-360.png": ViewportSize(width=360, height=740),
}
SYSTEM_CHROMIUMS = ("chromium", "chromium-browser", "google-chrome")
STARTUP_TIMEOUT = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", help="a Python with the project's dependencies installed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        rendered = run([sys.executable, "-m", "cookiecutter", REPO, "--no-input", "-o", out], REPO)
        if rendered.returncode != 0:
            sys.exit(rendered.stdout)
        (path,) = Path(out).iterdir()
        answers = json.loads((path / ".cookiecutter.json").read_text())["cookiecutter"]
        project = BakedProject.snapshot(path, answers)
        python = args.python or str(server_venv(project))
        port = int(answers["port"])
        with serving(project, python, port if is_free(port) else free_port()) as url:
            photograph(url)
    for name in SHOTS:
        print(DOCS / name)


def server_venv(project: BakedProject) -> Path:
    dependencies = project.toml("pyproject.toml")["project"]["dependencies"]
    return prepare_venv(dependencies, REPO / ".cache" / "screenshots-venv").python


def is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serving(project: BakedProject, python: str, port: int) -> Iterator[str]:
    """Run the project's server on 127.0.0.1:``port``; yield the page's URL."""
    env = {**os.environ, "PYTHONPATH": str(project.path / "src")}
    command = [python, "-m", project.package, "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://localhost:{port}"
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(command, cwd=project.path, env=env, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while not is_up(url + "/healthz"):
                if server.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    sys.exit(f"the server did not start on port {port}:\n{log.read().decode()}")
                time.sleep(0.1)
            yield url + "/"
        finally:
            server.terminate()
            server.wait(timeout=STARTUP_TIMEOUT)


def is_up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):  # noqa: S310  # a URL of our own
            return True
    except OSError:
        return False


def photograph(url: str) -> None:
    with sync_playwright() as playwright:
        executable = os.environ.get("CHROMIUM") or next(
            filter(None, map(shutil.which, SYSTEM_CHROMIUMS)), None
        )
        browser = playwright.chromium.launch(executable_path=executable)
        try:
            for name, viewport in SHOTS.items():
                photograph_one(browser, url, viewport, DOCS / name)
        finally:
            browser.close()


def photograph_one(browser: Browser, url: str, viewport: ViewportSize, path: Path) -> None:
    context = browser.new_context(viewport=viewport)
    try:
        page = context.new_page()
        page.goto(url)
        output = page.locator("#output")
        page.click("#connect")
        page.click("#sendMessage")
        expect(output).to_contain_text("<== pong")
        page.fill("#message", "hello world")
        page.press("#message", "Enter")
        expect(output).to_contain_text("<== ok")
        page.click("#disconnect")
        expect(page.locator("#state")).to_have_text("disconnected")
        page.screenshot(path=path)
    finally:
        context.close()


if __name__ == "__main__":
    main()
