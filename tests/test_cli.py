"""The cookiecutter command line, as the README and the issue write it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .baking import REPO
from .variants import AWKWARD_TEXT

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
    settings = (project / "src/streaming_app/core/settings.py").read_text()
    assert 'port: int = setting(8080, "TCP port to listen on", integer(1, 65535))' in settings
    assert not (project / "src/streaming_app/core/sessions.py").exists()
    assert "cd streaming-app" in result.stdout


def test_prompts_ask_readable_questions(tmp_path: Path, user_config: dict[str, str]) -> None:
    # The name, four defaults, Apache-2.0, the port, no multi-session, the default scale-out (none).
    answers = "Ticker Tape\n\n\n\n\n2\n8081\nn\n\n"
    result = cookiecutter(str(REPO), cwd=tmp_path, env=user_config, stdin=answers)
    assert result.returncode == 0, result.stderr
    assert "Project name (shown in the page title and README)" in result.stdout
    assert "Multi-session support" in result.stdout
    assert "License (the LICENSE file and the license field of pyproject.toml)" in result.stdout
    assert "Apache-2.0: permissive, with an express patent grant" in result.stdout
    assert "Scale out to many server processes" in result.stdout
    assert "redis: processes share sessions" in result.stdout
    project = tmp_path / "ticker-tape"
    assert (project / "src/ticker_tape/__main__.py").exists()
    assert not (project / "src/ticker_tape/core/sessions.py").exists()
    assert "setting(8081," in (project / "src/ticker_tape/core/settings.py").read_text()
    assert (project / "LICENSE").read_text().lstrip().startswith("Apache License\n")
    assert 'license = "Apache-2.0"' in (project / "pyproject.toml").read_text()


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


def tree(root: Path) -> dict[str, tuple[bytes, bool]]:
    """Every file under ``root``: its contents and whether it is executable."""
    return {
        path.relative_to(root).as_posix(): (path.read_bytes(), os.access(path, os.X_OK))
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize(
    "answers",
    [
        [],
        [
            f"project_name={AWKWARD_TEXT}",
            f"description={AWKWARD_TEXT} <&> `$(id)`",
            "multi_session=no",
            "port=8080",
        ],
    ],
    ids=["defaults", "awkward-no-multi-session"],
)
def test_replay_file_renders_the_same_tree(
    tmp_path: Path, user_config: dict[str, str], answers: list[str]
) -> None:
    first = cookiecutter(
        str(REPO), "--no-input", *answers, "-o", "first", cwd=tmp_path, env=user_config
    )
    assert first.returncode == 0, first.stderr
    (project,) = (tmp_path / "first").iterdir()
    replay_file = project / ".cookiecutter.json"
    again = cookiecutter(
        str(REPO), "--replay-file", str(replay_file), "-o", "again", cwd=tmp_path, env=user_config
    )
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again" / project.name).is_dir()
    assert tree(tmp_path / "again") == tree(tmp_path / "first")


def test_replay_file_holds_the_answers_and_no_path(
    tmp_path: Path, user_config: dict[str, str]
) -> None:
    output = tmp_path / "out"
    result = cookiecutter(
        str(REPO), "--no-input", "-o", str(output), "port=8080", cwd=tmp_path, env=user_config
    )
    assert result.returncode == 0, result.stderr
    replay = json.loads((output / "streaming-app/.cookiecutter.json").read_text(encoding="utf-8"))
    questions = json.loads((REPO / "cookiecutter.json").read_text(encoding="utf-8"))
    assert list(replay) == ["cookiecutter"]
    recorded = [k for k in questions if not k.startswith("_") or k == "__year"]
    assert sorted(replay["cookiecutter"]) == sorted(recorded)
    assert replay["cookiecutter"]["port"] == "8080"
    # Where the template, the output and cookiecutter's own folders are on this machine.
    machine_paths = [str(REPO), str(tmp_path), os.path.realpath(tmp_path)]
    found = {
        name: [path for path in machine_paths if path.encode() in contents]
        for name, (contents, _) in tree(output).items()
    }
    assert {name: paths for name, paths in found.items() if paths} == {}


def test_replay_file_with_bad_answers_is_rejected_line_by_line(
    tmp_path: Path, user_config: dict[str, str]
) -> None:
    first = cookiecutter(str(REPO), "--no-input", "-o", "first", cwd=tmp_path, env=user_config)
    assert first.returncode == 0, first.stderr
    replay_file = tmp_path / "first/streaming-app/.cookiecutter.json"
    replay = json.loads(replay_file.read_text(encoding="utf-8"))
    replay["cookiecutter"] |= {"multi_session": "yes", "scale_out": "kubernetes"}
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(replay), encoding="utf-8")
    result = cookiecutter(
        str(REPO), "--replay-file", str(edited), "-o", "again", cwd=tmp_path, env=user_config
    )
    assert result.returncode != 0
    assert [line for line in result.stderr.splitlines() if "': " in line] == [
        "ERROR: multi_session 'yes': yes or no (true or false in JSON)",
        "ERROR: scale_out 'kubernetes': one of none, redis",
    ]
    assert list((tmp_path / "again").glob("*")) == []


def test_replay_keeps_the_recorded_year(tmp_path: Path, user_config: dict[str, str]) -> None:
    first = cookiecutter(str(REPO), "--no-input", "-o", "first", cwd=tmp_path, env=user_config)
    assert first.returncode == 0, first.stderr
    replay = json.loads((tmp_path / "first/streaming-app/.cookiecutter.json").read_text())
    replay["cookiecutter"]["__year"] = "1999"
    (tmp_path / "old.json").write_text(json.dumps(replay))
    again = cookiecutter(
        str(REPO), "--replay-file", "old.json", "-o", "again", cwd=tmp_path, env=user_config
    )
    assert again.returncode == 0, again.stderr
    license_text = (tmp_path / "again/streaming-app/LICENSE").read_text()
    assert "Copyright (c) 1999 Your Name\n" in license_text
