"""The fence between your files (``app/``) and the machinery (``core/``), as the README draws it."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import {{ cookiecutter.package_name }}

PACKAGE = "{{ cookiecutter.package_name }}"
SOURCE = Path({{ cookiecutter.package_name }}.__file__).resolve().parent
TIMEOUT = 60.0  # seconds for a fresh interpreter to import everything and build the app


def imported_modules(path: Path, package: str) -> set[str]:
    """The absolute names of the modules ``path`` (a module of ``package``) imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(filter(None, [base, node.module]))
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def module_names() -> list[str]:
    """Every module of the package, by its import name."""
    names = []
    for path in sorted(SOURCE.rglob("*.py")):
        parts = path.relative_to(SOURCE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join((PACKAGE, *parts)))
    return names


def test_the_core_imports_nothing_of_your_files() -> None:
    offending = {
        path.name: sorted(name for name in imported if name.startswith(f"{PACKAGE}.app"))
        for path in sorted((SOURCE / "core").glob("*.py"))
        if (imported := imported_modules(path, f"{PACKAGE}.core"))
    }
    assert {name: found for name, found in offending.items() if found} == {}


def test_your_files_are_only_imported_where_the_app_is_created() -> None:
    importers = sorted(
        path.relative_to(SOURCE).as_posix()
        for path in SOURCE.rglob("*.py")
        if path.parent.name != "app"
        and any(
            name.startswith(f"{PACKAGE}.app") for name in imported_modules(path, _package_of(path))
        )
    )
    assert importers == ["server.py", "settings.py"]  # create_app, and your settings' fields


def test_a_logic_that_imports_every_module_of_the_package_still_starts(tmp_path: Path) -> None:
    # A copy of the package whose app/logic.py first imports every module there is: any import
    # cycle through the user's file would fail here, whichever module is imported first.
    copy = tmp_path / PACKAGE
    shutil.copytree(SOURCE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    logic = copy / "app" / "logic.py"
    imports = "".join(f"import {name}  # noqa\n" for name in module_names())
    text = logic.read_text(encoding="utf-8").replace(
        "from __future__ import annotations\n",
        f"from __future__ import annotations\n\n{imports}",
        1,
    )
    logic.write_text(text, encoding="utf-8")
    script = (
        f"import {PACKAGE}.app.logic\n"
        f"from {PACKAGE} import Settings, create_app\n"
        "app = create_app(Settings(port=0))\n"
        "print(type(app).__name__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Application"


def _package_of(path: Path) -> str:
    """The package a module's relative imports start from: its folder's."""
    return ".".join((PACKAGE, *path.relative_to(SOURCE).parent.parts))
