"""The server's log lines: the same text ``logging.Formatter`` writes, made for less."""

from __future__ import annotations

import logging
import os
import random

from {{ cookiecutter.package_name }}.core.runner import LOG_FORMAT, LineFormatter

# The instants logged are drawn from this number; LOG_PLAN=<n> replays a failed run's.
PLAN = int(os.environ.get("LOG_PLAN") or random.randrange(1 << 32))


def record(created: float) -> logging.LogRecord:
    made = logging.LogRecord("app.core", logging.INFO, "f.py", 1, "close %s", ("conn=1",), None)
    made.created = created
    made.msecs = (created - int(created)) * 1000
    return made


def test_lines_read_as_logging_formatter_writes_them_across_seconds() -> None:
    rng = random.Random(PLAN)
    start = 1_800_000_000.0 + rng.random() * 1e8
    moments = sorted(start + rng.random() * 5 for _ in range(200))  # many per second, in order
    moments += [start - 3600.5, start + 0.999]  # back in time, and back into a second seen
    ours, stdlib = LineFormatter(LOG_FORMAT), logging.Formatter(LOG_FORMAT)
    for created in moments:
        line = ours.format(record(created))
        assert line == stdlib.format(record(created)), f"LOG_PLAN={PLAN} created={created!r}"


def test_an_explicit_date_format_is_honoured() -> None:
    created = 1_800_000_000.25
    ours = LineFormatter("%(asctime)s %(message)s", datefmt="%H:%M")
    stdlib = logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M")
    assert ours.format(record(created)) == stdlib.format(record(created))
