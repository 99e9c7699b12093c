"""``python benchmarks/bench.py`` runs end to end and prints every figure (a smoke run).

It serves the tests' Echo (``--logic Echo``): the round trips need one reply per
message, whatever ``logic.py`` answers. The channels stream at a rate small
enough for every client to keep up, on any machine.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parent.parent / "benchmarks" / "bench.py"
FIGURE = r"\s+([0-9.]+)"
RUN_TIMEOUT = 120.0


def test_benchmark_prints_every_figure() -> None:
    arguments = [
        *("--duration", "0.3", "--connections", "1,5", "--connect-workers", "2"),
        *("--idle-connections", "20", "--fanout-connections", "5", "--logic", "Echo"),
        *("--channels", "200", "--channel-followers", "5", "--channel-rates", "5000"),
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
    unsure = [  # a few pages of memory, a few clock ticks of CPU time: maybe none
        rf"memory, 20 idle connections:{FIGURE} KiB each",
        rf"fan-out, 5 connections:.*,{FIGURE} µs server CPU each",
        rf"broadcast instead, 5 connections:.*,{FIGURE} µs server CPU each",
    ]
    for figure in unsure:
        assert re.search(figure, printed), (figure, printed)
    positive = [
        rf"round trips,    1 connections:{FIGURE}/s",
        rf"round trips,    5 connections:{FIGURE}/s",
        rf"as the page,    1 connections:{FIGURE}/s",
        rf"as the page,    5 connections:{FIGURE}/s",
        rf"connects, 2 loops:{FIGURE}/s",
        rf"fan-out, 5 connections:{FIGURE} messages/s delivered",
        rf"broadcast instead, 5 connections:{FIGURE} messages/s delivered",
        rf"memory, 200 idle channels x 5 followers:{FIGURE} KiB per followed channel,"
        rf"{FIGURE} KiB per further follower",
        rf"channels, 200 x 5 followers at 5000/s:{FIGURE}/s delivered,{FIGURE} µs server CPU"
        rf" each \(([0-9]+)% of a core\), all 10 clients kept up",
        rf"publish on a channel nobody follows:{FIGURE} ns",
    ]
    for figure in positive:
        found = re.search(figure, printed)
        assert found, (figure, printed)
        assert all(float(number) > 0 for number in found.groups()), (figure, printed)
