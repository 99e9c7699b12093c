"""The answers the tests render: every combination of the choice options, plus edge cases.

To cover a new choice option, add one line to ``CHOICES``: every combination of
the values below is rendered and its generated test suite, linters and type
checker run, except those in ``REFUSED``, which the pre-gen hook rejects.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

__all__ = [
    "AWKWARD_TEXT",
    "CHOICES",
    "COMBINATIONS",
    "DEFAULT",
    "EDGE_CASES",
    "INJECTION",
    "REFUSED",
    "VARIANTS",
    "Variant",
]

# Each choice option of cookiecutter.json with every value it takes.
CHOICES: dict[str, tuple[object, ...]] = {
    "multi_session": (True, False),
    "scale_out": ("none", "redis"),
}

# Quotes, an apostrophe, a backslash and non-ASCII: each must survive Python, TOML, HTML and JSON.
AWKWARD_TEXT = 'O\'Brien "Quotes" \\ Ünïcødé'

# Code that would run if an answer were pasted into Python source instead of read as data.
INJECTION = '"""; import os; os.system("touch {marker}"); """'


@dataclass(frozen=True)
class Variant:
    """A named set of answers (the rest keep cookiecutter.json's defaults)."""

    name: str
    answers: dict[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.name


def _named(answers: dict[str, object]) -> Variant:
    def show(value: object) -> str:
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value)

    return Variant(",".join(f"{key}={show(value)}" for key, value in answers.items()), answers)


# Combinations the pre-gen hook refuses: Redis shares sessions between processes, so it needs them.
REFUSED = [_named({"multi_session": False, "scale_out": "redis"})]

COMBINATIONS = [
    variant
    for values in itertools.product(*CHOICES.values())
    if (variant := _named(dict(zip(CHOICES, values, strict=True)))) not in REFUSED
]
# The first value of each choice is cookiecutter's default answer.
DEFAULT = COMBINATIONS[0]

EDGE_CASES = [
    Variant(
        "awkward-text",
        {
            "project_name": AWKWARD_TEXT + " <&>",
            "description": AWKWARD_TEXT + " `$(id)` ${HOME}",
            "author_name": AWKWARD_TEXT,
            "port": "65535",
            "multi_session": True,
        },
    ),
    Variant(
        "long-names-port-1",
        {
            "project_name": "Realtime Market Data Dashboard Streaming Server",
            "port": "1",
            "multi_session": False,
        },
    ),
]

# Every variant whose generated project is linted, type-checked and tested.
VARIANTS = [*COMBINATIONS, *EDGE_CASES]
