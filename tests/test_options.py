"""Each option shapes the tree: the files every project holds, and those only some hold."""

from __future__ import annotations

import os
import re

import pytest

from .baking import Bake, BakeVariant, requirement_name
from .variants import COMBINATIONS, DEFAULT, VARIANTS, Variant

# The layout the README promises; {package} is the package_name answer.
ALWAYS = (
    ".cookiecutter.json",
    ".github/workflows/ci.yml",
    ".gitignore",
    ".pre-commit-config.yaml",
    "README.md",
    "pyproject.toml",
    "scripts/run",
    "scripts/test",
    "src/{package}/__init__.py",
    "src/{package}/__main__.py",
    "src/{package}/bench.py",
    "src/{package}/connection.py",
    "src/{package}/frames.py",
    "src/{package}/limits.py",
    "src/{package}/logic.py",
    "src/{package}/origin.py",
    "src/{package}/producer.py",
    "src/{package}/proxy_in.py",
    "src/{package}/proxy_out.py",
    "src/{package}/py.typed",
    "src/{package}/runner.py",
    "src/{package}/server.py",
    "src/{package}/settings.py",
    "src/{package}/state.py",
    "src/{package}/static/index.html",
    "src/{package}/static/scripts/ws-script.js",
    "tests/__init__.py",
    "tests/conftest.py",
    "tests/running_server.py",
    "tests/test_bench.py",
    "tests/test_browser.py",
    "tests/test_end_to_end.py",
    "tests/test_frames.py",
    "tests/test_limits.py",
    "tests/test_producer.py",
    "tests/test_server.py",
    "tests/test_settings.py",
    "tests/test_storm.py",
)
MULTI_SESSION_ONLY = (
    "src/{package}/protocol.py",
    "src/{package}/replay.py",
    "src/{package}/sessions.py",
    "tests/test_protocol.py",
    "tests/test_resume.py",
    "tests/test_sessions.py",
)
REDIS_ONLY = (
    "src/{package}/proxy_out_redis.py",
    "tests/redis_server.py",
    "tests/test_scale_out.py",
)
# Where a person reads about the project or sees it.
USER_FACING = (
    "README.md",
    "src/{package}/static/index.html",
    "src/{package}/static/scripts/ws-script.js",
)
SESSION = re.compile("session", re.IGNORECASE)
# Session wording, leaving out aiohttp's ClientSession (an HTTP client, not this feature).
SESSION_WORDING = re.compile("(?<!client)session", re.IGNORECASE)
REDIS = re.compile("redis", re.IGNORECASE)


@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_every_project_has_the_promised_layout(baked: BakeVariant, variant: Variant) -> None:
    project = baked(variant)
    missing = [name for name in ALWAYS if not project.has_file(name)]
    assert missing == []


@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_scripts_are_executable(baked: BakeVariant, variant: Variant) -> None:
    project = baked(variant)
    for script in ("scripts/run", "scripts/test"):
        assert os.access(project.path / script, os.X_OK), script
        assert project.read(script).startswith("#!/bin/sh\n")


@pytest.mark.parametrize("variant", COMBINATIONS, ids=str)
def test_multi_session_files_exist_only_with_multi_session(
    baked: BakeVariant, variant: Variant
) -> None:
    project = baked(variant)
    present = [name for name in MULTI_SESSION_ONLY if project.has_file(name)]
    expected = list(MULTI_SESSION_ONLY) if variant.answers["multi_session"] else []
    assert present == expected


@pytest.mark.parametrize("variant", COMBINATIONS, ids=str)
def test_sessions_are_shown_only_with_multi_session(baked: BakeVariant, variant: Variant) -> None:
    project = baked(variant)
    mentions = {name: SESSION.findall(project.read(name)) for name in USER_FACING}
    if variant.answers["multi_session"]:
        assert mentions["README.md"]
        assert mentions["src/{package}/static/index.html"]
    else:
        assert mentions == {name: [] for name in USER_FACING}


@pytest.mark.parametrize(
    "variant", [v for v in COMBINATIONS if not v.answers["multi_session"]], ids=str
)
def test_without_multi_session_nothing_mentions_sessions(
    baked: BakeVariant, variant: Variant
) -> None:
    project = baked(variant)
    mentioning = sorted(
        name
        for name in project.files - {".cookiecutter.json"}  # it records multi_session=false
        if SESSION_WORDING.search((project.path / name).read_text(encoding="utf-8"))
    )
    assert mentioning == []


@pytest.mark.parametrize("variant", COMBINATIONS, ids=str)
def test_redis_files_exist_only_with_scale_out_redis(baked: BakeVariant, variant: Variant) -> None:
    project = baked(variant)
    present = [name for name in REDIS_ONLY if project.has_file(name)]
    expected = list(REDIS_ONLY) if variant.answers["scale_out"] == "redis" else []
    assert present == expected


@pytest.mark.parametrize(
    "variant", [v for v in VARIANTS if v.answers.get("scale_out", "none") == "none"], ids=str
)
def test_without_scale_out_nothing_mentions_redis(baked: BakeVariant, variant: Variant) -> None:
    project = baked(variant)
    mentioning = sorted(
        name
        for name in project.files - {".cookiecutter.json"}  # it records the scale_out answer
        if REDIS.search(name) or REDIS.search((project.path / name).read_text(encoding="utf-8"))
    )
    assert mentioning == []


@pytest.mark.parametrize("variant", COMBINATIONS, ids=str)
def test_redis_is_a_dependency_only_with_scale_out_redis(
    baked: BakeVariant, variant: Variant
) -> None:
    dependencies = baked(variant).toml("pyproject.toml")["project"]["dependencies"]
    expected = ["aiohttp", "redis"] if variant.answers["scale_out"] == "redis" else ["aiohttp"]
    assert sorted(requirement_name(requirement) for requirement in dependencies) == expected


@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_answers_reach_the_project(baked: BakeVariant, variant: Variant) -> None:
    project = baked(variant)
    answers = project.context
    assert project.path.name == answers["project_slug"]
    assert project.read("README.md").startswith(f"# {answers['project_name']}\n")
    assert str(answers["description"]) in project.read("README.md")
    assert f"http://localhost:{answers['port']}" in project.read("README.md")
    assert f"port: int = _setting({answers['port']}," in project.read("src/{package}/settings.py")
    scripts = project.toml("pyproject.toml")["project"]["scripts"]
    assert scripts == {answers["project_slug"]: f"{answers['package_name']}.__main__:main"}


def test_defaults(baked: BakeVariant) -> None:
    answers = baked(DEFAULT).context
    assert answers["project_name"] == "Streaming App"
    assert answers["project_slug"] == "streaming-app"
    assert answers["package_name"] == "streaming_app"
    assert answers["port"] == "9998"
    assert answers["multi_session"] is True
    assert answers["scale_out"] == "none"


def test_derived_names_can_be_overridden(bake: Bake) -> None:
    project = bake({"project_slug": "my-stream", "package_name": "mystream"})
    assert project.path.name == "my-stream"
    assert project.has_file("src/mystream/server.py")
    assert project.toml("pyproject.toml")["project"]["name"] == "my-stream"
