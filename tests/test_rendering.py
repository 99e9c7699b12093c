"""What cookiecutter renders is complete and well-formed, whatever text the answers hold."""

from __future__ import annotations

import json
import os
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from .baking import REPO, Bake, BakedProject, BakeVariant
from .variants import AWKWARD_TEXT, COMBINATIONS, DEFAULT, INJECTION, VARIANTS, Variant

# Jinja left behind: an expression (GitHub's own ${{ ... }} is fine), a statement, a comment,
# or any reference to the cookiecutter context.
UNRENDERED = re.compile(r"(?<!\$)\{\{|\{%|%\}|\{#|#\}|cookiecutter\.")
# .cookiecutter.json is named after cookiecutter on purpose.
UNRENDERED_EXEMPT = re.compile(r"(?<![\w/])\.cookiecutter\.json")
# The template's own development stays in this repository (docs/performance.md): a rendered
# project never says "seed" (our name for the project it was ported from), a date or
# "shared machine" (the notes of a measurement), in its code, tests or documentation.
LAB_NOTES = re.compile(r"\bseeds?\b|\b20[0-9]{2}-[0-9]{2}-[0-9]{2}\b|shared machine", re.IGNORECASE)


class _TitleParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.in_title = False
        self.title = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self.in_title = False

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title += data


def page_title(html: str) -> str:
    parser = _TitleParser()
    parser.feed(html)
    parser.close()
    return parser.title


def leftovers(project: BakedProject) -> list[str]:
    found = [
        f"path: {name}"
        for name in project.files
        if UNRENDERED.search(UNRENDERED_EXEMPT.sub("", name))
    ]
    for name in sorted(project.files):
        text = UNRENDERED_EXEMPT.sub("", project.read(name))
        found += [f"{name}: {match.group()!r}" for match in UNRENDERED.finditer(text)]
    return found


@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_no_jinja_is_left_unrendered(baked: BakeVariant, variant: Variant) -> None:
    assert leftovers(baked(variant)) == []


@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_toml_yaml_and_json_parse_with_the_answers(baked: BakeVariant, variant: Variant) -> None:
    project = baked(variant)
    answers = project.context
    metadata = project.toml("pyproject.toml")["project"]
    assert metadata["name"] == answers["project_slug"]
    assert metadata["description"] == answers["description"]
    assert metadata["authors"] == [{"name": answers["author_name"]}]
    assert metadata.get("license", "none") == answers["license"]

    workflow = yaml.safe_load(project.read(".github/workflows/ci.yml"))
    assert workflow["jobs"]
    hooks = yaml.safe_load(project.read(".pre-commit-config.yaml"))
    assert hooks["repos"]

    replay = json.loads(project.read(".cookiecutter.json"))
    assert list(replay) == ["cookiecutter"]  # what cookiecutter --replay-file requires
    questions = json.loads((REPO / "cookiecutter.json").read_text(encoding="utf-8"))
    # The answers, and the private rendered values such as the year, not the template's settings.
    recorded = [k for k in questions if not k.startswith("_") or k == "__year"]
    assert replay["cookiecutter"] == {key: answers[key] for key in recorded}


@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_no_path_of_the_rendering_machine_is_recorded(baked: BakeVariant, variant: Variant) -> None:
    project = baked(variant)
    template, output = REPO, project.path.parent
    paths = {str(template), str(output), os.path.realpath(template), os.path.realpath(output)}
    found = sorted(
        (name, path)
        for name in project.files
        for path in paths
        if path in (project.path / name).read_text(encoding="utf-8")
    )
    assert found == []


@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_no_notes_of_the_templates_development_are_rendered(
    baked: BakeVariant, variant: Variant
) -> None:
    project = baked(variant)
    found = [
        f"{name}: {match.group()!r}"
        for name in sorted(project.files)
        for match in LAB_NOTES.finditer((project.path / name).read_text(encoding="utf-8"))
    ]
    assert found == []


@pytest.mark.parametrize("variant", COMBINATIONS, ids=str)
def test_workflow_keeps_github_expressions_and_sets_up_the_options(
    baked: BakeVariant, variant: Variant
) -> None:
    # Jinja renders the workflow; {% raw %} keeps GitHub's own ${{ }} for GitHub.
    text = baked(variant).read(".github/workflows/ci.yml")
    assert "python-version: ${{ matrix.python-version }}" in text
    steps = yaml.safe_load(text)["jobs"]["test"]["steps"]
    installs_redis = any("apt-get install -y redis-server" in step.get("run", "") for step in steps)
    (tests,) = [step for step in steps if step.get("name") == "Tests"]
    assert tests["env"]["REQUIRE_BROWSER"] == "1"
    if variant.answers["scale_out"] == "redis":
        assert installs_redis
        assert tests["env"]["REQUIRE_REDIS"] == "1"
    else:
        assert not installs_redis
        assert "REQUIRE_REDIS" not in tests["env"]


@pytest.mark.parametrize("variant", COMBINATIONS, ids=str)
def test_workflow_has_least_privilege_a_time_limit_a_cache_and_cancels_superseded_runs(
    baked: BakeVariant, variant: Variant
) -> None:
    workflow = yaml.safe_load(baked(variant).read(".github/workflows/ci.yml"))
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["concurrency"] == {
        "group": "${{ github.workflow }}-${{ github.ref }}",
        "cancel-in-progress": True,
    }
    job = workflow["jobs"]["test"]
    assert 0 < job["timeout-minutes"] <= 30
    (setup,) = [step for step in job["steps"] if step.get("uses", "").startswith("actions/setup-")]
    assert setup["uses"].startswith("actions/setup-python@")
    assert setup["with"]["cache"] == "pip"
    assert setup["with"]["cache-dependency-path"] == "pyproject.toml"


def chromium_step(project: BakedProject) -> str:
    """The workflow's shell script that provides a Chromium."""
    steps = yaml.safe_load(project.read(".github/workflows/ci.yml"))["jobs"]["test"]["steps"]
    (step,) = [step for step in steps if "playwright" in step.get("run", "")]
    script: str = step["run"]
    return script


def fake_command(folder: Path, name: str) -> Path:
    """An executable that appends its arguments to ``folder/calls``."""
    folder.mkdir(exist_ok=True)
    command = folder / name
    calls = folder / "calls"
    command.write_text(f'#!/bin/sh\necho "{name} $*" >> "{calls}"\n')
    command.chmod(0o755)
    return command


@pytest.mark.parametrize("has_chrome", [True, False], ids=["runner-chrome", "no-chrome"])
def test_workflow_uses_the_runners_chrome_and_downloads_one_only_without(
    baked: BakeVariant, tmp_path: Path, has_chrome: bool
) -> None:
    tools = tmp_path / "bin"
    python = fake_command(tools, "python")
    chrome = fake_command(tools, "google-chrome") if has_chrome else None
    github_env = tmp_path / "github-env"
    github_env.touch()
    result = subprocess.run(
        ["/bin/sh", "-e", "-c", chromium_step(baked(DEFAULT))],
        env={"PATH": f"{tools}{os.pathsep}{os.defpath}", "GITHUB_ENV": str(github_env)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    calls = (tools / "calls").read_text() if (tools / "calls").exists() else ""
    if chrome is not None:
        assert github_env.read_text() == f"CHROMIUM={chrome}\n"
        assert calls == ""  # no download
    else:
        assert github_env.read_text() == ""
        assert calls == f"{python.name} -m playwright install --with-deps chromium\n"


@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_python_compiles_and_html_shows_the_name(baked: BakeVariant, variant: Variant) -> None:
    project = baked(variant)
    for name in sorted(n for n in project.files if n.endswith(".py")):
        compile(project.read(name), name, "exec")
    page = project.read("src/{package}/static/index.html")
    assert page_title(page) == project.context["project_name"]


def test_awkward_text_is_kept_verbatim(bake: Bake) -> None:
    project = bake(dict.fromkeys(("project_name", "description", "author_name"), AWKWARD_TEXT))
    assert project.path.name == "o-brien-quotes-unicode"
    assert project.package == "o_brien_quotes_unicode"
    metadata = project.toml("pyproject.toml")["project"]
    assert (metadata["description"], metadata["authors"][0]["name"]) == (AWKWARD_TEXT, AWKWARD_TEXT)
    assert page_title(project.read("src/{package}/static/index.html")) == AWKWARD_TEXT
    replay = json.loads(project.read(".cookiecutter.json"))["cookiecutter"]
    assert replay["project_name"] == AWKWARD_TEXT


def test_text_beyond_the_basic_plane_renders_valid_toml(bake: Bake) -> None:
    # Jinja's tojson would write these as surrogate pairs (\ud83d\ude80), which TOML rejects.
    project = bake({"description": "Rockets 🚀", "author_name": "Ann 😀"})
    metadata = project.toml("pyproject.toml")["project"]
    assert (metadata["description"], metadata["authors"]) == ("Rockets 🚀", [{"name": "Ann 😀"}])


def test_injected_code_in_answers_stays_inert(bake: Bake, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = INJECTION.format(marker=marker)
    answers = dict.fromkeys(("project_name", "description", "author_name"), payload)
    project = bake(answers | {"project_slug": "inert"})  # a slug of the payload is too long a path
    assert not marker.exists()
    assert project.toml("pyproject.toml")["project"]["description"] == payload
    assert json.loads(project.read(".cookiecutter.json"))["cookiecutter"]["author_name"] == payload
    assert page_title(project.read("src/{package}/static/index.html")) == payload
    for name in sorted(n for n in project.files if n.endswith(".py")):
        compile(project.read(name), name, "exec")
    assert leftovers(project) == []
