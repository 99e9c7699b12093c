"""The default project's core tests on the newest CPython this machine has, 3.12 or later.

The whole suite runs on the Python that runs this one (3.11 in CI). From 3.12
on, the generated server starts each message handler as an eager task
(``core/websocket.py``), a path 3.11 never takes; so the tests that serve
real connections, in-process and in a server process on uvloop, run again on
the newest Python found: ``$PYTHON_NEWEST``, pyenv's versions, or
``python3.13``/``python3.12`` on ``PATH``. Without one the test is skipped, and
fails under CI (``CI`` set).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from .baking import GENERATED_VENV, BakedProject, dev_dependencies, prepare_venv, run

pytestmark = pytest.mark.slow

OLDEST_NEWER = (3, 12)  # the first release whose path differs (eager tasks)
# The generated tests that serve real connections: handlers, closes, backpressure, parsers.
CORE_TESTS = (
    "tests/test_takeover.py",
    "tests/test_end_to_end.py",
    "tests/test_closing.py",
    "tests/test_backpressure.py",
    "tests/test_liveness.py",
    "tests/test_frame_parsers.py",
)


def _candidates() -> list[Path]:
    found = [Path(os.environ["PYTHON_NEWEST"])] if os.environ.get("PYTHON_NEWEST") else []
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found += sorted(pyenv.glob("3.*/bin/python3"))
    found += [Path(path) for name in ("python3.13", "python3.12") if (path := shutil.which(name))]
    return found


def _version(python: Path) -> tuple[int, ...] | None:
    probe = run([python, "-c", "import sys; print(*sys.version_info[:3])"], cwd=Path.cwd())
    if probe.returncode != 0 or not re.fullmatch(r"\d+ \d+ \d+\n", probe.stdout):
        return None
    return tuple(int(part) for part in probe.stdout.split())


def newest_python() -> tuple[Path, tuple[int, ...]] | None:
    """The newest CPython of 3.12 and later among the candidates, and its version."""
    versions = [(version, python) for python in _candidates() if (version := _version(python))]
    newer = [(version, python) for version, python in versions if version >= OLDEST_NEWER]
    if not newer:
        return None
    version, python = max(newer)
    return python, version


def test_core_tests_pass_on_the_newest_python(installed_project: BakedProject) -> None:
    found = newest_python()
    if found is None:
        reason = "no CPython 3.12 or later found (set $PYTHON_NEWEST, or install one with pyenv)"
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(reason)
        pytest.skip(reason)
    python, version = found
    venv = prepare_venv(
        dev_dependencies(installed_project),
        GENERATED_VENV.with_name("generated-venv-newest"),
        python=python,
    )
    env = venv.environ(PYTHONPATH=str(installed_project.path / "src"))
    command: list[str | Path] = [venv.python, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += CORE_TESTS
    result = run(command, cwd=installed_project.path, env=env, timeout=600)
    shown = ".".join(map(str, version))
    assert result.returncode == 0, f"Python {shown} ({python}):\n{result.stdout}"
    assert re.search(r"\d+ passed", result.stdout), result.stdout
