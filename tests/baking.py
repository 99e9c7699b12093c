"""Helpers: a rendered project, the virtualenv its tools run in, and running commands there."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .variants import Variant

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

__all__ = [
    "GENERATED_VENV",
    "PIP_INSTALL",
    "REPO",
    "Bake",
    "BakeVariant",
    "BakedProject",
    "Venv",
    "dev_dependencies",
    "prepare_venv",
    "requirement_name",
    "run",
]

REPO = Path(__file__).resolve().parent.parent
GENERATED_VENV = REPO / ".cache" / "generated-venv"
PIP_INSTALL = ("-m", "pip", "install", "--quiet", "--disable-pip-version-check")
# Outer settings that would leak into a generated project's own tools.
LEAKY_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTEST_ADDOPTS", "PYTEST_PLUGINS")


@dataclass(frozen=True)
class BakedProject:
    """A project rendered by cookiecutter, with the files it held right after rendering."""

    path: Path
    context: Mapping[str, Any]
    files: frozenset[str]  # POSIX paths relative to the project

    @classmethod
    def snapshot(cls, path: Path, context: Mapping[str, Any]) -> BakedProject:
        files = frozenset(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
        return cls(path, context, files)

    @property
    def package(self) -> str:
        return str(self.context["package_name"])

    def has_file(self, name: str) -> bool:
        return name.format(package=self.package) in self.files

    def read(self, name: str) -> str:
        return (self.path / name.format(package=self.package)).read_text(encoding="utf-8")

    def toml(self, name: str) -> dict[str, Any]:
        return tomllib.loads(self.read(name))


# The fixtures `bake` (answers -> a fresh project) and `baked` (a variant -> its shared project).
Bake = Callable[[Mapping[str, object]], BakedProject]
BakeVariant = Callable[[Variant], BakedProject]


@dataclass(frozen=True)
class Venv:
    """A virtualenv, and a clean environment to run its tools in."""

    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def environ(self, **extra: str) -> dict[str, str]:
        """The environment for a generated project's tools: this venv first on PATH, no leaks."""
        env = {k: v for k, v in os.environ.items() if k not in LEAKY_VARIABLES}
        env = {k: v for k, v in env.items() if not k.startswith("PYTEST_XDIST")}
        env["PATH"] = f"{self.path / 'bin'}{os.pathsep}{env.get('PATH', os.defpath)}"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        return env | extra


def run(
    command: Sequence[str | Path],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run ``command``; return it with stdout and stderr merged, whatever its exit code."""
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )


def requirement_name(requirement: str) -> str:
    """The distribution a requirement names, normalized: ``aiohttp>=3.11,<4`` -> ``aiohttp``."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert name is not None, requirement
    return re.sub(r"[-_.]+", "-", name.group()).lower()


def dev_dependencies(project: BakedProject) -> list[str]:
    """What ``pip install -e '.[dev]'`` installs besides the project itself."""
    metadata = project.toml("pyproject.toml")["project"]
    return [*metadata["dependencies"], *metadata["optional-dependencies"]["dev"]]


def prepare_venv(
    dependencies: Iterable[str], path: Path = GENERATED_VENV, python: Path | None = None
) -> Venv:
    """Create the venv for generated projects, unless one exists for the same dependencies.

    Its key is the Python (``python``, default: this one) and the dependency
    list, so it is rebuilt from scratch (no stale package left) whenever the
    template changes them.
    """
    dependencies = sorted(set(dependencies))
    interpreter = str(python or sys.executable)
    key = hashlib.sha256(json.dumps([interpreter, sys.version, dependencies]).encode()).hexdigest()
    venv = Venv(path)
    stamp = path / "ws-boilerplate.key"
    if venv.python.exists() and stamp.exists() and stamp.read_text() == key:
        return venv
    shutil.rmtree(path, ignore_errors=True)
    created = run([interpreter, "-m", "venv", path], cwd=REPO)
    assert created.returncode == 0, created.stdout
    installed = run([venv.python, *PIP_INSTALL, *dependencies], cwd=REPO)
    assert installed.returncode == 0, installed.stdout
    stamp.write_text(key)
    return venv
