"""``python benchmarks/bench.py`` runs end to end and prints every figure (a smoke run).

It serves the tests' Echo (``--logic Echo``): the round trips need one reply per
message, whatever ``logic.py`` answers.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parent.parent / "benchmarks" / "bench.py"
FIGURE = r"\s+[0-9.]+"
RUN_TIMEOUT = 120.0


def test_benchmark_prints_every_figure() -> None:
    arguments = [
        *("--duration", "0.3", "--connections", "1,5", "--connect-workers", "2"),
        *("--idle-connections", "20", "--fanout-connections", "5", "--logic", "Echo"),
        *("--channels", "20", "--channel-followers", "2"),
    ]
    finished = subprocess.run(
        [sys.executable, str(BENCH), *arguments],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    printed = finished.stdout
    figures = [
        rf"round trips,    1 connections:{FIGURE}/s",
        rf"round trips,    5 connections:{FIGURE}/s",
        rf"as the page,    1 connections:{FIGURE}/s",
        rf"as the page,    5 connections:{FIGURE}/s",
        rf"connects, 2 loops:{FIGURE}/s",
        rf"fan-out, 5 connections:{FIGURE} messages/s delivered",
        rf"memory, 20 idle connections:{FIGURE} KiB each",
        rf"channels, 20 x 2 followers:{FIGURE} messages/s delivered",
        rf"publish on a channel nobody follows:{FIGURE} ns",
    ]
    for figure in figures:
        assert re.search(figure, printed), (figure, printed)
    rates = [float(rate) for rate in re.findall(r":\s+([0-9.]+)(?:/s| messages/s)", printed)]
    assert len(rates) == len(figures) - 2, printed  # but memory and a publish's cost
    assert all(rate > 0 for rate in rates), printed
