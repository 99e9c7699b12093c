"""Fixtures: render the template (each variant once per session); the generated projects' venv."""

from __future__ import annotations

import importlib.util
import tempfile
from collections.abc import Iterator, Mapping
from types import ModuleType
from typing import Any

import pytest

from .baking import (
    PIP_INSTALL,
    REPO,
    Bake,
    BakedProject,
    BakeVariant,
    Venv,
    dev_dependencies,
    prepare_venv,
    run,
)
from .variants import COMBINATIONS, DEFAULT, Variant


@pytest.fixture(scope="session", autouse=True)
def _hook_scripts_in_pytest_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Cookiecutter writes each rendered hook to a temp file it never deletes: keep them here."""
    scripts = tmp_path_factory.mktemp("hook-scripts")  # after pytest has chosen its own base
    saved, tempfile.tempdir = tempfile.tempdir, str(scripts)
    yield
    tempfile.tempdir = saved


def _bake(cookies: Any, answers: Mapping[str, object]) -> BakedProject:
    result = cookies.bake(extra_context=dict(answers))
    assert result.exception is None, f"rendering {answers} failed: {result.exception!r}"
    assert result.exit_code == 0
    return BakedProject.snapshot(result.project_path, result.context)


@pytest.fixture
def bake(cookies: Any) -> Bake:
    """Render the template with these answers (the rest default) into this test's tmp dir."""
    return lambda answers: _bake(cookies, answers)


@pytest.fixture(scope="session")
def baked(cookies_session: Any) -> BakeVariant:
    """Render each variant once per session; tests share it and must not change it."""
    projects: dict[str, BakedProject] = {}

    def baked_variant(variant: Variant) -> BakedProject:
        if variant.name not in projects:
            projects[variant.name] = _bake(cookies_session, variant.answers)
        return projects[variant.name]

    return baked_variant


@pytest.fixture(scope="session")
def installed_project(cookies_session: Any, baked: BakeVariant) -> Iterator[BakedProject]:
    """The default project installed as a user does: ``pip install -e '.[dev]'`` into its .venv.

    Its ``.venv`` is a link to the cached venv that every generated project's tools run in,
    which holds what every combination depends on (scale_out=redis adds redis).
    """
    project = _bake(cookies_session, DEFAULT.answers)
    venv = prepare_venv(r for variant in COMBINATIONS for r in dev_dependencies(baked(variant)))
    (project.path / ".venv").symlink_to(venv.path, target_is_directory=True)
    installed = run([".venv/bin/python", *PIP_INSTALL, "-e", ".[dev]"], cwd=project.path)
    assert installed.returncode == 0, installed.stdout
    yield project
    (project.path / ".venv").unlink()  # so the session's clean-up leaves the cached venv alone


@pytest.fixture(scope="session")
def generated_venv(installed_project: BakedProject) -> Venv:
    return Venv((installed_project.path / ".venv").resolve())


@pytest.fixture(scope="session")
def pre_gen() -> ModuleType:
    return _import_hook("pre_gen_project")


@pytest.fixture(scope="session")
def post_gen() -> ModuleType:
    return _import_hook("post_gen_project")


def _import_hook(name: str) -> ModuleType:
    """Import a hook as a module: its Jinja sits in a string inside main(), which is not called."""
    spec = importlib.util.spec_from_file_location(name, REPO / "hooks" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
