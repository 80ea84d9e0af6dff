"""Time a 200-run sweep with 1 and with 2 local workers, and check both give the same runs.parquet.

    .venv/bin/python benchmarks/bench_sweep.py [--repeat 1]

Each figure is the wall time of a fresh `retailsim sweep` process writing into an empty
folder (imports, worker start-up, runs, runs.parquet and figures included).
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
SPEC = ROOT / "benchmarks" / "sweep200.toml"


def time_sweep(workers: int, out: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sim.cli", "sweep", str(SPEC), "--workers", str(workers),
                    "--out", str(out), "--quiet"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        times: dict[int, list[float]] = {1: [], 2: []}
        for i in range(args.repeat):
            for workers in (1, 2):
                times[workers].append(time_sweep(workers, Path(tmp) / f"w{workers}-{i}"))
        same = all((Path(tmp) / f"w1-{i}" / "runs.parquet").read_bytes()
                   == (Path(tmp) / f"w2-{i}" / "runs.parquet").read_bytes() for i in range(args.repeat))
    print(f"{'workers':<9}{'min s':>8}{'median s':>10}{'max s':>8}")
    for workers, values in times.items():
        print(f"{workers:<9}{min(values):>8.1f}{statistics.median(values):>10.1f}{max(values):>8.1f}")
    speedup = statistics.median(times[1]) / statistics.median(times[2])
    print(f"speed-up with 2 workers: {speedup:.2f}×; runs.parquet identical: {same}")


if __name__ == "__main__":
    main()
