"""The hooks: pre-gen rejects bad answers before anything is written; post-gen trims and guides."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cookiecutter.exceptions import FailedHookException

from .baking import Bake, BakeVariant, dev_dependencies
from .variants import DEFAULT

BAD_ANSWERS = [
    ("port", "abc"),
    ("port", "0"),
    ("port", "65536"),
    ("port", "-1"),
    ("port", "080"),
    ("port", "80.5"),
    ("port", ""),
    ("project_slug", "Bad_Slug"),
    ("project_slug", "-x"),
    ("project_slug", "x-"),
    ("project_slug", "a--b"),
    ("project_slug", "a b"),
    ("package_name", "json"),
    ("package_name", "asyncio"),
    ("package_name", "aiohttp"),
    ("package_name", "websockets"),
    ("package_name", "test"),
    ("package_name", "tests"),
    ("package_name", "class"),
    ("package_name", "1abc"),
    ("package_name", "Bad"),
    ("package_name", "with-dash"),
]
# Modules that aiohttp (the one runtime dependency) imports: a package of that name breaks it.
AIOHTTP_DEPENDENCIES = ("aiohappyeyeballs", "aiosignal", "attr", "attrs", "frozenlist", "multidict")


def import_name(requirement: str) -> str:
    """The module a requirement installs by convention: ``pytest-aiohttp`` -> ``pytest_aiohttp``."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert name is not None
    return name.group().lower().replace("-", "_").replace(".", "_")


# Unit tests of the validators.


@pytest.mark.parametrize("value", ["1", "80", "1024", "9998", "65535"])
def test_valid_ports(pre_gen: ModuleType, value: str) -> None:
    assert pre_gen.validate_port(value) == int(value)


@pytest.mark.parametrize("value", [v for k, v in BAD_ANSWERS if k == "port"] + ["1e3", " 80", "٨٠"])
def test_invalid_ports(pre_gen: ModuleType, value: str) -> None:
    with pytest.raises(pre_gen.ValidationError, match=rf"^ERROR: port '{re.escape(value)}': "):
        pre_gen.validate_port(value)


@pytest.mark.parametrize("value", ["streaming-app", "a", "app2", "my-ws-2-app"])
def test_valid_slugs(pre_gen: ModuleType, value: str) -> None:
    assert pre_gen.validate_project_slug(value) == value


@pytest.mark.parametrize("value", [v for k, v in BAD_ANSWERS if k == "project_slug"] + ["", "ü"])
def test_invalid_slugs(pre_gen: ModuleType, value: str) -> None:
    with pytest.raises(
        pre_gen.ValidationError, match=rf"^ERROR: project_slug '{re.escape(value)}': "
    ):
        pre_gen.validate_project_slug(value)


@pytest.mark.parametrize("value", ["streaming_app", "_private", "app2", "o_brien_quotes_unicode"])
def test_valid_package_names(pre_gen: ModuleType, value: str) -> None:
    assert pre_gen.validate_package_name(value) == value


@pytest.mark.parametrize(
    "value", [v for k, v in BAD_ANSWERS if k == "package_name"] + ["", "None", "sys"]
)
def test_invalid_package_names(pre_gen: ModuleType, value: str) -> None:
    with pytest.raises(
        pre_gen.ValidationError, match=rf"^ERROR: package_name '{re.escape(value)}': "
    ):
        pre_gen.validate_package_name(value)


def test_every_dependency_is_a_reserved_package_name(
    pre_gen: ModuleType, baked: BakeVariant
) -> None:
    names = [import_name(r) for r in dev_dependencies(baked(DEFAULT))] + list(AIOHTTP_DEPENDENCIES)
    accepted = []
    for name in names:
        try:
            pre_gen.validate_package_name(name)
        except pre_gen.ValidationError:
            continue
        accepted.append(name)
    assert accepted == []


def test_privileged_port_is_a_warning(pre_gen: ModuleType) -> None:
    answers = {"port": "80", "project_slug": "streaming-app", "package_name": "streaming_app"}
    assert pre_gen.validate(answers) == [
        "WARNING: port 80 is below 1024: the server needs root (or CAP_NET_BIND_SERVICE) to bind it"
    ]
    assert pre_gen.validate(answers | {"port": "1024"}) == []


def test_remove_unused_deletes_multi_session_files(post_gen: ModuleType, tmp_path: Path) -> None:
    for name in (
        "src/app/sessions.py",
        "src/app/protocol.py",
        "src/app/logic.py",
        "tests/test_sessions.py",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    removed = post_gen.remove_unused(tmp_path, {"multi_session": False, "package_name": "app"})
    assert sorted(p.relative_to(tmp_path).as_posix() for p in removed) == [
        "src/app/protocol.py",
        "src/app/sessions.py",
        "tests/test_sessions.py",
    ]
    assert sorted(p.name for p in tmp_path.rglob("*.py")) == ["logic.py"]
    assert post_gen.remove_unused(tmp_path, {"multi_session": True, "package_name": "app"}) == []


# The hooks as cookiecutter runs them.


@pytest.mark.parametrize(
    ("variable", "value"), BAD_ANSWERS, ids=[f"{k}={v!r}" for k, v in BAD_ANSWERS]
)
def test_bad_answer_is_rejected_before_anything_is_written(
    cookies: Any, capfd: pytest.CaptureFixture[str], tmp_path: Path, variable: str, value: str
) -> None:
    result = cookies.bake(extra_context={variable: value})
    assert isinstance(result.exception, FailedHookException)
    assert result.exit_code != 0
    errors = capfd.readouterr().err.splitlines()
    assert len(errors) == 1
    assert errors[0].startswith(f"ERROR: {variable} '{value}': ")
    assert list((tmp_path / "cookies").glob("*/*")) == []  # no output folder left behind


def test_privileged_port_renders_with_a_warning(
    bake: Bake, capfd: pytest.CaptureFixture[str]
) -> None:
    project = bake({"port": "80"})
    assert "WARNING: port 80 is below 1024" in capfd.readouterr().err
    assert project.has_file("README.md")


def test_unprivileged_port_renders_without_a_warning(
    bake: Bake, capfd: pytest.CaptureFixture[str]
) -> None:
    bake({"port": "1024"})
    assert capfd.readouterr().err == ""


def test_post_gen_prints_the_next_steps(bake: Bake, capfd: pytest.CaptureFixture[str]) -> None:
    project = bake({"project_name": "Ticker"})
    out = capfd.readouterr().out
    assert f"cd {project.path.name}\n" in out
    assert "./scripts/run" in out
    assert "./scripts/test" in out
