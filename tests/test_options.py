"""Each option shapes the tree: the files every project holds, and those only some hold."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from types import ModuleType

import pytest

from .baking import REPO, Bake, BakeVariant, requirement_name
from .variants import CHOICES, COMBINATIONS, DEFAULT, VARIANTS, Variant

# The layout the README promises, in every project; {package} is the package_name answer.
ALWAYS = (
    ".cookiecutter.json",
    ".github/workflows/ci.yml",
    ".gitignore",
    ".pre-commit-config.yaml",
    "README.md",
    "benchmarks/bench.py",
    "pyproject.toml",
    "scripts/python",
    "scripts/run",
    "scripts/test",
    "src/{package}/__init__.py",
    "src/{package}/__main__.py",
    "src/{package}/api.py",
    "src/{package}/app/__init__.py",
    "src/{package}/app/auth.py",
    "src/{package}/app/logic.py",
    "src/{package}/app/producer.py",
    "src/{package}/app/settings.py",
    "src/{package}/core/__init__.py",
    "src/{package}/core/channels.py",
    "src/{package}/core/connection.py",
    "src/{package}/core/errors.py",
    "src/{package}/core/frames.py",
    "src/{package}/core/limits.py",
    "src/{package}/core/members.py",
    "src/{package}/core/origin.py",
    "src/{package}/core/protocol.py",
    "src/{package}/core/proxies.py",
    "src/{package}/core/proxy_in.py",
    "src/{package}/core/proxy_out.py",
    "src/{package}/core/publishing.py",
    "src/{package}/core/reload.py",
    "src/{package}/core/replay.py",
    "src/{package}/core/routes.py",
    "src/{package}/core/runner.py",
    "src/{package}/core/settings.py",
    "src/{package}/core/state.py",
    "src/{package}/core/takeover.py",
    "src/{package}/core/frame_parsers.py",
    "src/{package}/core/websocket.py",
    "src/{package}/py.typed",
    "src/{package}/server.py",
    "src/{package}/settings.py",
    "src/{package}/static/index.html",
    "src/{package}/static/scripts/ws-script.js",
    "src/{package}/testing.py",
    "tests/__init__.py",
    "tests/apps.py",
    "tests/conftest.py",
    "tests/running_server.py",
    "tests/serve.py",
    "tests/support.py",
    "tests/test_api.py",
    "tests/test_auth.py",
    "tests/test_bench.py",
    "tests/test_channels.py",
    "tests/test_browser.py",
    "tests/test_end_to_end.py",
    "tests/test_frames.py",
    "tests/test_layout.py",
    "tests/test_limits.py",
    "tests/test_logic.py",
    "tests/test_producer.py",
    "tests/test_reload.py",
    "tests/test_server.py",
    "tests/test_settings.py",
    "tests/test_signals.py",
    "tests/test_storm.py",
    "tests/test_takeover.py",
    "tests/test_frame_parsers.py",
)
TEMPLATE = REPO / "{{cookiecutter.project_slug}}"
PACKAGE_FOLDER = "{{cookiecutter.package_name}}"
CONDITIONAL = re.compile(r"{%-?\s*if\b")
MOST_CONDITIONALS_IN_SOURCE = 15  # across src/: options are files, not branches


def option_files(options: str) -> dict[str, list[frozenset[str]]]:
    """Each file of the option folders: where it lands in a project, and the folders that bring it.

    Read from the template itself, the same map the post-gen hook follows. A file
    that several answers bring in versions of its own (``members.py``) has one set
    of folders per version.
    """
    found: dict[str, list[frozenset[str]]] = {}
    for path in sorted(TEMPLATE.rglob("*")):
        parts = path.relative_to(TEMPLATE).parts
        if not path.is_file() or options not in parts:
            continue
        needs = {parts[i + 1] for i, part in enumerate(parts) if part == options}
        lands = [part for i, part in enumerate(parts) if options not in (part, parts[i - 1])]
        name = "/".join(lands).replace(PACKAGE_FOLDER, "{package}")
        found.setdefault(name, []).append(frozenset(needs))
    return found


# Where a person reads about the project or sees it.
USER_FACING = (
    "README.md",
    "src/{package}/static/index.html",
    "src/{package}/static/scripts/ws-script.js",
)
SESSION = re.compile("session", re.IGNORECASE)
# Session wording, leaving out aiohttp's ClientSession (an HTTP client, not this feature).
SESSION_WORDING = re.compile("(?<!client)session", re.IGNORECASE)
# Redis, leaving out the "Redistribution" of license texts.
REDIS = re.compile("redis(?!tribut)", re.IGNORECASE)
LICENSES = json.loads((REPO / "cookiecutter.json").read_text(encoding="utf-8"))["license"]
# The first line of each license text, and how it writes the copyright line.
LICENSE_TITLE = {
    "MIT": "MIT License",
    "Apache-2.0": "Apache License",
    "BSD-3-Clause": "BSD 3-Clause License",
}
COPYRIGHT = {
    "MIT": "Copyright (c) {year} {author}",
    "Apache-2.0": "Copyright {year} {author}",
    "BSD-3-Clause": "Copyright (c) {year}, {author}",
}
LICENSE_WORDING = re.compile("licen[cs]e", re.IGNORECASE)


@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_every_project_has_the_promised_layout(baked: BakeVariant, variant: Variant) -> None:
    project = baked(variant)
    missing = [name for name in ALWAYS if not project.has_file(name)]
    assert missing == []


@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_the_benchmark_is_outside_the_package_and_still_checked(
    baked: BakeVariant, variant: Variant
) -> None:
    project = baked(variant)
    assert [name for name in project.files if name.startswith("src/") and "bench" in name] == []
    tools = project.toml("pyproject.toml")["tool"]
    assert "benchmarks" in tools["mypy"]["files"]
    assert "benchmarks" in tools["ruff"]["src"]


@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_scripts_are_executable(baked: BakeVariant, variant: Variant) -> None:
    project = baked(variant)
    for script in ("scripts/python", "scripts/run", "scripts/test"):
        assert os.access(project.path / script, os.X_OK), script
        assert project.read(script).startswith("#!/bin/sh\n")


@pytest.mark.parametrize("variant", COMBINATIONS, ids=str)
def test_option_files_are_placed_exactly_when_their_options_are_chosen(
    baked: BakeVariant, variant: Variant, post_gen: ModuleType
) -> None:
    project = baked(variant)
    files = option_files(post_gen.OPTIONS)
    chosen = {post_gen.option_folder(option, answer) for option, answer in project.context.items()}
    expected = sorted(
        name for name, versions in files.items() if any(v <= chosen for v in versions)
    )
    assert sorted(name for name in files if project.has_file(name)) == expected
    assert [name for name in project.files if post_gen.OPTIONS in name.split("/")] == []


def test_every_option_folder_names_an_option_and_a_value(post_gen: ModuleType) -> None:
    folders = {
        folder
        for versions in option_files(post_gen.OPTIONS).values()
        for needs in versions
        for folder in needs
    }
    known = {
        post_gen.option_folder(option, value)
        for option, values in CHOICES.items()
        for value in values
    }
    assert folders
    assert folders <= known


def test_source_chooses_options_by_files_not_branches() -> None:
    sources = sorted((TEMPLATE / "src").rglob("*.py"))
    counts = {
        path.name: len(CONDITIONAL.findall(path.read_text(encoding="utf-8"))) for path in sources
    }
    assert sum(counts.values()) <= MOST_CONDITIONALS_IN_SOURCE, counts


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
    # websockets: the fallback frame parser (--frame-parser websockets)
    expected = ["aiohttp", "websockets"]
    if variant.answers["scale_out"] == "redis":
        expected = ["aiohttp", "redis", "websockets"]
    assert sorted(requirement_name(requirement) for requirement in dependencies) == expected


@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_answers_reach_the_project(baked: BakeVariant, variant: Variant) -> None:
    project = baked(variant)
    answers = project.context
    assert project.path.name == answers["project_slug"]
    assert project.read("README.md").startswith(f"# {answers['project_name']}\n")
    assert str(answers["description"]) in project.read("README.md")
    assert f"http://localhost:{answers['port']}" in project.read("README.md")
    settings = project.read("src/{package}/core/settings.py")
    assert f"port: int = setting({answers['port']}," in settings
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
    assert answers["license"] == "MIT"


def test_derived_names_can_be_overridden(bake: Bake) -> None:
    project = bake({"project_slug": "my-stream", "package_name": "mystream"})
    assert project.path.name == "my-stream"
    assert project.has_file("src/mystream/server.py")
    assert project.toml("pyproject.toml")["project"]["name"] == "my-stream"


def test_every_license_choice_is_covered() -> None:
    assert [*LICENSE_TITLE, "none"] == LICENSES


@pytest.mark.parametrize("license_id", list(LICENSE_TITLE))
def test_license_renders_its_text_and_field(bake: Bake, license_id: str) -> None:
    years = {str(datetime.now(timezone.utc).year)}
    project = bake({"license": license_id, "author_name": "Ann Author"})
    years.add(str(datetime.now(timezone.utc).year))  # a render across midnight of New Year
    assert project.toml("pyproject.toml")["project"]["license"] == license_id
    assert project.has_file("LICENSE")
    assert not any(name.startswith("licenses/") for name in project.files)
    lines = [line.strip() for line in project.read("LICENSE").splitlines() if line.strip()]
    assert lines[0] == LICENSE_TITLE[license_id]
    year = str(project.context["__year"])
    assert year in years
    assert COPYRIGHT[license_id].format(year=year, author="Ann Author") in lines
    assert not [line for line in lines if re.search(r"\[(yyyy|year|fullname|name of)", line)]
    assert project.read("README.md").endswith(
        f"## License\n\n{license_id}: see [LICENSE](LICENSE).\n"
    )


def test_license_none_renders_no_license_and_no_mention(bake: Bake) -> None:
    project = bake({"license": "none"})
    assert "license" not in project.toml("pyproject.toml")["project"]
    assert not any(name.startswith(("LICENSE", "licenses/")) for name in project.files)
    mentioning = sorted(
        name
        for name in project.files - {".cookiecutter.json"}  # it records license=none
        if LICENSE_WORDING.search(name)
        or LICENSE_WORDING.search((project.path / name).read_text(encoding="utf-8"))
    )
    assert mentioning == []


@pytest.mark.parametrize("license_id", LICENSES)
def test_license_texts_mention_neither_sessions_nor_redis(bake: Bake, license_id: str) -> None:
    project = bake({"license": license_id, "multi_session": False, "scale_out": "none"})
    mentioning = sorted(
        name
        for name in project.files - {".cookiecutter.json"}
        if SESSION_WORDING.search(text := (project.path / name).read_text(encoding="utf-8"))
        or REDIS.search(text)
    )
    assert mentioning == []
