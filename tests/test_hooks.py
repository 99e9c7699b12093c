"""The hooks: pre-gen rejects bad answers before anything is written; post-gen trims and guides."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cookiecutter.exceptions import FailedHookException

from .baking import REPO, Bake, BakeVariant, dev_dependencies, requirement_name
from .variants import COMBINATIONS, REFUSED, Variant

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
    ("package_name", "a" * 51),
]
# Modules that aiohttp (the one runtime dependency) imports: a package of that name breaks it.
AIOHTTP_DEPENDENCIES = ("aiohappyeyeballs", "aiosignal", "attr", "attrs", "frozenlist", "multidict")


def import_name(requirement: str) -> str:
    """The module a requirement installs by convention: ``pytest-aiohttp`` -> ``pytest_aiohttp``."""
    return requirement_name(requirement).replace("-", "_")


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


@pytest.mark.parametrize(
    "value", ["streaming_app", "_private", "app2", "o_brien_quotes_unicode", "a" * 50]
)
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
    requirements = {r for variant in COMBINATIONS for r in dev_dependencies(baked(variant))}
    names = sorted({import_name(r) for r in requirements} | set(AIOHTTP_DEPENDENCIES))
    assert "redis" in names
    accepted = []
    for name in names:
        try:
            pre_gen.validate_package_name(name)
        except pre_gen.ValidationError:
            continue
        accepted.append(name)
    assert accepted == []


@pytest.mark.parametrize("variant", COMBINATIONS, ids=str)
def test_supported_combinations_are_accepted(pre_gen: ModuleType, variant: Variant) -> None:
    scale_out, multi_session = variant.answers["scale_out"], variant.answers["multi_session"]
    assert pre_gen.validate_scale_out(scale_out, multi_session=multi_session) == scale_out


@pytest.mark.parametrize("variant", REFUSED, ids=str)
def test_refused_combinations_are_errors(pre_gen: ModuleType, variant: Variant) -> None:
    answers = variant.answers
    with pytest.raises(
        pre_gen.ValidationError, match=r"^ERROR: scale_out 'redis': needs multi_session=yes"
    ):
        pre_gen.validate_scale_out(answers["scale_out"], multi_session=answers["multi_session"])


GOOD_ANSWERS: dict[str, object] = {
    "project_slug": "streaming-app",
    "package_name": "streaming_app",
    "license": "MIT",
    "port": "9998",
    "multi_session": True,
    "scale_out": "none",
}


def test_choices_match_cookiecutter_json(pre_gen: ModuleType) -> None:
    questions = json.loads((REPO / "cookiecutter.json").read_text(encoding="utf-8"))
    assert list(pre_gen.SCALE_OUT) == questions["scale_out"]
    assert list(pre_gen.LICENSES) == questions["license"]


@pytest.mark.parametrize("value", ["GPL-3.0", "mit", ""])
def test_unknown_license_is_an_error(pre_gen: ModuleType, value: str) -> None:
    with pytest.raises(pre_gen.InvalidAnswers, match=rf"^ERROR: license '{value}': one of MIT, "):
        pre_gen.validate(GOOD_ANSWERS | {"license": value})


@pytest.mark.parametrize("value", ["kubernetes", "", "Redis"])
def test_unknown_scale_out_is_an_error(pre_gen: ModuleType, value: str) -> None:
    # Cookiecutter checks a choice given on the command line, but not one from a replay file.
    with pytest.raises(
        pre_gen.ValidationError, match=rf"^ERROR: scale_out '{value}': one of none, redis$"
    ):
        pre_gen.validate_scale_out(value, multi_session=True)


@pytest.mark.parametrize("value", ["yes", "no", 1, None])
def test_multi_session_must_be_a_boolean(pre_gen: ModuleType, value: object) -> None:
    with pytest.raises(
        pre_gen.ValidationError, match=rf"^ERROR: multi_session '{value}': yes or no"
    ):
        pre_gen.validate_multi_session(value)


def test_validate_reports_every_bad_answer_in_question_order(pre_gen: ModuleType) -> None:
    answers = GOOD_ANSWERS | {
        "port": "0",
        "package_name": "json",
        "project_slug": "Bad_Slug",
        "license": "WTFPL",
        "multi_session": "maybe",
        "scale_out": "kubernetes",
    }
    with pytest.raises(pre_gen.InvalidAnswers) as raised:
        pre_gen.validate(answers)
    errors = [str(error) for error in raised.value.errors]
    assert [error.split(":")[1] for error in errors] == [
        " project_slug 'Bad_Slug'",
        " package_name 'json'",
        " license 'WTFPL'",
        " port '0'",
        " multi_session 'maybe'",
        " scale_out 'kubernetes'",
    ]
    assert str(raised.value).splitlines() == errors


@pytest.mark.parametrize(
    ("variable", "value"), BAD_ANSWERS, ids=[f"{k}={v!r}" for k, v in BAD_ANSWERS]
)
def test_validate_reports_one_bad_answer_once(
    pre_gen: ModuleType, variable: str, value: str
) -> None:
    with pytest.raises(pre_gen.InvalidAnswers) as raised:
        pre_gen.validate(GOOD_ANSWERS | {variable: value})
    (error,) = raised.value.errors
    assert str(error).startswith(f"ERROR: {variable} '{value}': ")


def test_a_bad_multi_session_is_not_reported_again_as_a_bad_combination(
    pre_gen: ModuleType,
) -> None:
    with pytest.raises(pre_gen.InvalidAnswers) as raised:
        pre_gen.validate(GOOD_ANSWERS | {"multi_session": "no", "scale_out": "redis"})
    assert [str(error) for error in raised.value.errors] == [
        "ERROR: multi_session 'no': yes or no (true or false in JSON)"
    ]


def test_good_answers_pass(pre_gen: ModuleType) -> None:
    assert pre_gen.validate(GOOD_ANSWERS) == []


def test_privileged_port_is_a_warning(pre_gen: ModuleType) -> None:
    answers = GOOD_ANSWERS | {"port": "80"}
    assert pre_gen.validate(answers) == [
        "WARNING: port 80 is below 1024: the server needs root (or CAP_NET_BIND_SERVICE) to bind it"
    ]
    assert pre_gen.validate(answers | {"port": "1024"}) == []


def touch(project: Path, *names: str) -> None:
    for name in names:
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text("")


def test_option_folders_of_chosen_answers_are_placed_the_rest_deleted(
    post_gen: ModuleType, tmp_path: Path
) -> None:
    touch(tmp_path, "src/app/core/_options/multi_session-true/sessions.py")
    touch(tmp_path, "src/app/core/_options/multi_session-false/members.py")
    touch(tmp_path, "src/app/core/_options/scale_out-redis/workers.py", "src/app/core/runner.py")
    touch(tmp_path, "tests/_options/scale_out-redis/sub/test_scale_out.py")
    answers = {"multi_session": True, "scale_out": "redis", "package_name": "app"}
    placed = post_gen.place_options(tmp_path, answers)
    assert sorted(path.relative_to(tmp_path).as_posix() for path in placed) == [
        "src/app/core/sessions.py",
        "src/app/core/workers.py",
        "tests/sub/test_scale_out.py",
    ]
    assert sorted(path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*.py")) == [
        "src/app/core/runner.py",
        "src/app/core/sessions.py",
        "src/app/core/workers.py",
        "tests/sub/test_scale_out.py",
    ]


def test_nested_option_folders_need_every_answer(post_gen: ModuleType, tmp_path: Path) -> None:
    touch(tmp_path, "core/_options/multi_session-true/_options/scale_out-redis/bus.py")
    touch(tmp_path, "core/_options/multi_session-true/_options/scale_out-none/bus.py")
    post_gen.place_options(tmp_path, {"multi_session": True, "scale_out": "none"})
    assert [path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*.py")] == [
        "core/bus.py"
    ]
    assert not (tmp_path / "core" / "_options").exists()


def test_option_folder_names_an_answer_as_json_does(post_gen: ModuleType) -> None:
    assert post_gen.option_folder("multi_session", False) == "multi_session-false"
    assert post_gen.option_folder("scale_out", "redis") == "scale_out-redis"


@pytest.mark.parametrize("license_id", ["MIT", "Apache-2.0", "BSD-3-Clause"])
def test_place_license_keeps_the_chosen_text(
    post_gen: ModuleType, tmp_path: Path, license_id: str
) -> None:
    for name in ("MIT", "Apache-2.0", "BSD-3-Clause"):
        touch(tmp_path, f"licenses/{name}.txt")
        (tmp_path / f"licenses/{name}.txt").write_text(name)
    assert post_gen.place_license(tmp_path, license_id) == tmp_path / "LICENSE"
    assert (tmp_path / "LICENSE").read_text() == license_id
    assert sorted(p.name for p in tmp_path.iterdir()) == ["LICENSE"]


def test_place_license_none_leaves_no_license(post_gen: ModuleType, tmp_path: Path) -> None:
    touch(tmp_path, "licenses/MIT.txt", "README.md")
    assert post_gen.place_license(tmp_path, "none") is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md"]


# The hooks as cookiecutter runs them.


@pytest.mark.parametrize(
    ("variable", "value"), BAD_ANSWERS, ids=[f"{k}={v!r}" for k, v in BAD_ANSWERS]
)
def test_bad_answer_is_rejected_before_anything_is_written(
    cookies: Any, capfd: pytest.CaptureFixture[str], tmp_path: Path, variable: str, value: str
) -> None:
    # A valid package name: derived from a bad slug, it would be a second bad answer (below).
    result = cookies.bake(extra_context={"package_name": "streaming_app", variable: value})
    assert rejection(result, capfd, tmp_path).startswith(f"ERROR: {variable} '{value}': ")


def test_a_package_name_derived_from_a_bad_slug_is_reported_too(
    cookies: Any, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    result = cookies.bake(extra_context={"project_slug": "a b"})
    errors = rejections(result, capfd, tmp_path)
    assert [error.split("': ")[0] for error in errors] == [
        "ERROR: project_slug 'a b",
        "ERROR: package_name 'a b",
    ]


@pytest.mark.parametrize("variant", REFUSED, ids=str)
def test_refused_combination_is_rejected_before_anything_is_written(
    cookies: Any, capfd: pytest.CaptureFixture[str], tmp_path: Path, variant: Variant
) -> None:
    result = cookies.bake(extra_context=variant.answers)
    assert rejection(result, capfd, tmp_path).startswith(
        "ERROR: scale_out 'redis': needs multi_session=yes"
    )


def test_every_bad_answer_is_reported_at_once(
    cookies: Any, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    answers = {"port": "080", "package_name": "json", "project_slug": "Bad_Slug"}
    result = cookies.bake(extra_context=answers)
    assert rejections(result, capfd, tmp_path) == [
        "ERROR: project_slug 'Bad_Slug': a lowercase distribution name: letters a-z, digits"
        " and single dashes, e.g. 'streaming-app'",
        "ERROR: package_name 'json': a name that is not a standard-library or dependency module",
        "ERROR: port '080': an integer from 1 to 65535",
    ]


def rejections(result: Any, capfd: pytest.CaptureFixture[str], tmp_path: Path) -> list[str]:
    """The lines a rejected bake printed; it must have failed and left no output folder."""
    assert isinstance(result.exception, FailedHookException)
    assert result.exit_code != 0
    assert list((tmp_path / "cookies").glob("*/*")) == []
    return capfd.readouterr().err.splitlines()


def rejection(result: Any, capfd: pytest.CaptureFixture[str], tmp_path: Path) -> str:
    """The one line a bake rejected for one bad answer printed."""
    errors = rejections(result, capfd, tmp_path)
    assert len(errors) == 1, errors
    return errors[0]


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
