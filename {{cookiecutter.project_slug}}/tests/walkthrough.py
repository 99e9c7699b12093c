"""The README's walk-through, as code: its ``app/logic.py`` and its test, read from the README itself."""

from __future__ import annotations

import re
import types
from pathlib import Path

import {{ cookiecutter.package_name }}.app

__all__ = ["SECTION", "chat_logic", "chat_test_source"]

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "## Build your app: a chat"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def _blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    section = section[: section.index("\n## ", len(SECTION))]
    return PYTHON_BLOCK.findall(section)


def chat_logic() -> type:
    """The walk-through's ``app/logic.py``, run as a module of ``app`` (its imports are relative)."""
    package = {{ cookiecutter.package_name }}.app.__name__
    module = types.ModuleType(f"{package}.walkthrough_chat")
    module.__package__ = package
    exec(compile(_blocks()[0], str(README), "exec"), module.__dict__)
    logic: type = module.Logic
    return logic


def chat_test_source() -> str:
    """The walk-through's test, as the README shows it."""
    return _blocks()[1]
