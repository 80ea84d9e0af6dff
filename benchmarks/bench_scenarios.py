"""Time whole `retailsim run` commands for the shipped scenarios and print a table.

    .venv/bin/python benchmarks/bench_scenarios.py [--repeat 3]

Each figure is the wall time of a fresh process (imports, simulation, outputs and
dashboard included), as a user waits for it: minimum, median and maximum over the
repeats.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ["classroom", "baseline"]


def time_run(scenario: str, out: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sim.cli", "run", str(ROOT / "scenarios" / f"{scenario}.toml"),
                    "--out", str(out), "--quiet"], check=True, cwd=ROOT)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'scenario':<12}{'min s':>8}{'median s':>10}{'max s':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in SCENARIOS:
            times = [time_run(name, Path(tmp) / f"{name}-{i}") for i in range(args.repeat)]
            print(f"{name:<12}{min(times):>8.2f}{statistics.median(times):>10.2f}{max(times):>8.2f}")


if __name__ == "__main__":
    main()
