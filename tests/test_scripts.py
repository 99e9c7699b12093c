"""What the shell scripts install and pass on: the template's scripts/demo, the project's scripts.

Each script runs for real, with a ``.venv/bin/python`` that only records how it
was called, so nothing is installed and no server starts.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from .baking import REPO, Bake, run

# Stands in for a virtualenv's python: appends its arguments, one call a line, to .venv/calls.
FAKE_PYTHON = '#!/bin/sh\necho "$*" >> "$(dirname "$0")/../calls"\n'
PIP = "-m pip install --quiet --disable-pip-version-check"
# What scripts/demo needs from the template repository.
TEMPLATE_PARTS = (
    "cookiecutter.json",
    "hooks",
    "local_extensions.py",
    "scripts/demo",
    "{{cookiecutter.project_slug}}",
)


def fake_venv(project: Path) -> Path:
    """Give ``project`` a .venv whose python records its calls; return the record's path."""
    python = project / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return project / ".venv" / "calls"


def calls(record: Path) -> list[str]:
    return record.read_text().splitlines()


@pytest.mark.parametrize(
    ("args", "extras"),
    [(["--port", "8080"], "fast"), (["--reload", "--port", "8080"], "fast,dev")],
    ids=["serve", "reload"],
)
def test_scripts_run_installs_the_test_tools_only_for_reload(
    bake: Bake, args: list[str], extras: str
) -> None:
    project = bake({})
    record = fake_venv(project.path)
    result = run(["./scripts/run", *args], cwd=project.path)
    assert result.returncode == 0, result.stdout
    assert calls(record) == [
        f"{PIP} -e .[{extras}]",
        f"-m {project.package} {' '.join(args)}",
    ]


def test_scripts_test_installs_the_dev_extra(bake: Bake) -> None:
    project = bake({})
    record = fake_venv(project.path)
    result = run(["./scripts/test", "-x"], cwd=project.path)
    assert result.returncode == 0, result.stdout
    assert calls(record)[0] == f"{PIP} -e .[dev]"
    assert calls(record)[-1] == "-m pytest -x"


@pytest.mark.parametrize("active", [False, True], ids=["not-activated", "activated"])
def test_scripts_python_finds_the_venv_without_activation(
    bake: Bake, tmp_path: Path, active: bool
) -> None:
    project = bake({})
    record = fake_venv(project.path)
    elsewhere = tmp_path / "elsewhere"
    other_record = fake_venv(elsewhere)
    env = {"PATH": os.defpath} | ({"VIRTUAL_ENV": str(elsewhere / ".venv")} if active else {})
    # Run as pre-commit runs a hook: from the project, with PATH holding no virtualenv.
    result = run(["scripts/python", "-m", "ruff", "check", "."], cwd=project.path, env=env)
    assert result.returncode == 0, result.stdout
    used, unused = (other_record, record) if active else (record, other_record)
    assert calls(used) == ["-m ruff check ."]
    assert not unused.exists()


@pytest.fixture
def template(tmp_path: Path) -> Path:
    """A copy of the template repository, its .venv the one running these tests (cookiecutter)."""
    copy = tmp_path / "template"
    for part in TEMPLATE_PARTS:
        source, target = REPO / part, copy / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    (copy / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    return copy


def demo(template: Path, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TMPDIR"] = str(template.parent)  # cookiecutter's hook scripts land here
    result = run(["./scripts/demo", *args], cwd=template, env=env, timeout=120)
    return result.returncode, result.stdout


def test_demo_with_a_bad_answer_leaves_the_previous_demo_alone(template: Path) -> None:
    previous = template / "demo" / "streaming-app"
    previous.mkdir(parents=True)
    (previous / "kept").write_text("the previous demo")
    code, output = demo(template, "port=abc")
    assert code != 0
    assert "ERROR: port 'abc': an integer from 1 to 65535" in output
    assert (previous / "kept").read_text() == "the previous demo"
    assert sorted(p.name for p in (template / "demo").iterdir()) == ["streaming-app"]
    assert not (template / "demo.new").exists()


def test_demo_passes_flags_after_the_dashes_to_the_server_and_keeps_the_venv(
    template: Path,
) -> None:
    previous = template / "demo" / "streaming-app"
    previous.mkdir(parents=True)
    (previous / "stale").write_text("from the previous demo")
    fake_venv(previous)
    code, output = demo(template, "multi_session=no", "--", "--host", "127.0.0.1", "--port", "8080")
    assert code == 0, output
    project = template / "demo" / "streaming-app"
    assert not (project / "stale").exists()  # a fresh rendering ...
    assert not (project / "src/streaming_app/core/sessions.py").exists()  # ... of these answers
    assert calls(project / ".venv" / "calls") == [  # with the previous venv, moved along
        f"{PIP} -e .[fast]",
        "-m streaming_app --host 127.0.0.1 --port 8080",
    ]
    assert not (template / "demo.new").exists()
