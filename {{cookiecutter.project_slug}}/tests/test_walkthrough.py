"""The README's chat walk-through works as written: its test passes against its logic."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from .walkthrough import chat_logic, chat_test_source


async def test_the_walkthroughs_own_test_passes_against_its_logic() -> None:
    namespace: dict[str, Any] = {"Logic": chat_logic()}
    exec(chat_test_source(), namespace)
    tests = [value for name, value in namespace.items() if name.startswith("test_")]
    assert tests, "the walk-through shows no test"
    for test in tests:
        assert inspect.iscoroutinefunction(test)
        run: Callable[[], Awaitable[None]] = test
        await run()
