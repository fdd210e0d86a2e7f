"""Start-up cost of ``yoi --help`` against the bare interpreter, measured in the same run.

Goal: the median of ``yoi --help`` at most 80 ms above the median of ``python -c pass``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 15
GOAL_MS = 80.0


def median_ms(command: list[str]) -> float:
    subprocess.run(command, capture_output=True, check=True)  # warm the page cache and .pyc files
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    yoi = str(Path(sys.executable).with_name("yoi"))
    bare = median_ms([sys.executable, "-c", "pass"])
    help_ = median_ms([yoi, "--help"])
    difference = help_ - bare
    print(f"startup: python -c pass   median {bare:7.1f} ms (n={RUNS})")
    print(f"startup: yoi --help       median {help_:7.1f} ms (n={RUNS})")
    verdict = "within" if difference <= GOAL_MS else "OVER"
    print(f"startup: difference {difference:.1f} ms ({verdict} the {GOAL_MS:.0f} ms goal)")


if __name__ == "__main__":
    main()
