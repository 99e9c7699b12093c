"""The cookiecutter command line, as the README and the issue write it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .baking import REPO

COOKIECUTTER = Path(sys.executable).parent / "cookiecutter"


@pytest.fixture
def user_config(tmp_path: Path) -> dict[str, str]:
    """An environment that keeps cookiecutter's replay files and hook scripts in ``tmp_path``."""
    config = tmp_path / "cookiecutter.yaml"
    config.write_text(
        f"cookiecutters_dir: {tmp_path / 'templates'}\nreplay_dir: {tmp_path / 'replay'}\n"
    )
    return os.environ | {"COOKIECUTTER_CONFIG": str(config), "TMPDIR": str(tmp_path)}


def cookiecutter(
    *args: str, cwd: Path, env: dict[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COOKIECUTTER), *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_no_input_with_answers_on_the_command_line(
    tmp_path: Path, user_config: dict[str, str]
) -> None:
    result = cookiecutter(
        str(REPO), "--no-input", "multi_session=no", "port=8080", cwd=tmp_path, env=user_config
    )
    assert result.returncode == 0, result.stderr
    project = tmp_path / "streaming-app"
    settings = (project / "src/streaming_app/settings.py").read_text()
    assert 'port: int = _setting(8080, "TCP port to listen on")' in settings
    assert not (project / "src/streaming_app/sessions.py").exists()
    assert "cd streaming-app" in result.stdout


def test_prompts_ask_readable_questions(tmp_path: Path, user_config: dict[str, str]) -> None:
    # The name, four defaults, the port, no multi-session, the default scale-out (none).
    answers = "Ticker Tape\n\n\n\n\n8081\nn\n\n"
    result = cookiecutter(str(REPO), cwd=tmp_path, env=user_config, stdin=answers)
    assert result.returncode == 0, result.stderr
    assert "Project name (shown in the page title and README)" in result.stdout
    assert "Multi-session support" in result.stdout
    assert "Scale out to many server processes" in result.stdout
    assert "redis: processes share sessions" in result.stdout
    project = tmp_path / "ticker-tape"
    assert (project / "src/ticker_tape/__main__.py").exists()
    assert not (project / "src/ticker_tape/sessions.py").exists()
    assert "_setting(8081," in (project / "src/ticker_tape/settings.py").read_text()


@pytest.mark.parametrize(
    ("answers", "error"),
    [
        (["port=abc"], "ERROR: port 'abc': an integer from 1 to 65535\n"),
        (
            ["multi_session=no", "scale_out=redis"],
            "ERROR: scale_out 'redis': needs multi_session=yes",
        ),
    ],
    ids=["bad-port", "redis-without-multi-session"],
)
def test_bad_answer_exits_non_zero_with_one_line_and_no_folder(
    tmp_path: Path, user_config: dict[str, str], answers: list[str], error: str
) -> None:
    result = cookiecutter(str(REPO), "--no-input", *answers, cwd=tmp_path, env=user_config)
    assert result.returncode != 0
    assert error in result.stderr
    assert not (tmp_path / "streaming-app").exists()


def test_every_bad_answer_is_a_line_of_its_own(tmp_path: Path, user_config: dict[str, str]) -> None:
    answers = ["port=abc", "project_slug=Bad_Slug", "package_name=json"]
    result = cookiecutter(str(REPO), "--no-input", *answers, cwd=tmp_path, env=user_config)
    assert result.returncode != 0
    # Cookiecutter adds its own "ERROR: Stopping generation because ..." line.
    assert [line for line in result.stderr.splitlines() if "': " in line] == [
        "ERROR: project_slug 'Bad_Slug': a lowercase distribution name: letters a-z, digits"
        " and single dashes, e.g. 'streaming-app'",
        "ERROR: package_name 'json': a name that is not a standard-library or dependency module",
        "ERROR: port 'abc': an integer from 1 to 65535",
    ]
    assert not (tmp_path / "streaming-app").exists()
    assert not (tmp_path / "bad_slug").exists()
