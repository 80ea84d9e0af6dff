"""Time the model at 10,000, 100,000 and 1,000,000 consumers, beside the per-agent reference.

    .venv/bin/python benchmarks/bench_scale.py                 # all three sizes, 520 weeks
    .venv/bin/python benchmarks/bench_scale.py --sizes 10000 --weeks 52

Each size runs in a fresh process on the baseline scenario with ``consumers.n`` set:
build time, run time for the whole horizon, time per week, consumer-steps per second
and peak memory (resident set) of the model. In the same process, the plain Mesa
per-agent reference (``sim.reference``: one Agent per consumer) then makes the same
weekly decision for a sample of the same consumers, and the table prints how many
times faster the real model's whole weekly step is per consumer-step.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_SAMPLE = 20_000
REFERENCE_WEEKS = 3
REFERENCE_REPEATS = 3


def measure(n: int, weeks: int, seed: int) -> dict:
    """Run in a child process: one model of ``n`` consumers, then the reference on a sample."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from sim.model import RetailMarket
    from sim.reference import ReferenceMarket
    from sim.scenario import load

    scenario = load(ROOT / "scenarios" / "baseline.toml").with_overrides({"consumers.n": n, "steps": weeks})
    if RetailMarket._pick_engine(scenario) == "numba":  # compile (or load the cache) before timing
        tiny = RetailMarket(scenario.with_overrides({"consumers.n": 1000, "engine": "numba"}), seed=seed)
        tiny.step()
        del tiny

    started = time.perf_counter()
    model = RetailMarket(scenario, seed=seed)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    model.run()
    run_s = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    sample = np.random.default_rng(seed).choice(n, size=min(n, REFERENCE_SAMPLE), replace=False)
    reference = ReferenceMarket(model, consumers=sample, seed=seed)
    timings = []
    for _ in range(REFERENCE_REPEATS):  # the median of a few, as the reference is short
        started = time.perf_counter()
        for _ in range(REFERENCE_WEEKS):
            reference.step()
        timings.append(time.perf_counter() - started)
    reference_s = statistics.median(timings)

    model_per_cs = run_s / (n * weeks)
    reference_per_cs = reference_s / (len(sample) * REFERENCE_WEEKS)
    return {
        "n_consumers": n, "weeks": weeks, "engine": model.engine, "build_s": build_s, "run_s": run_s,
        "ms_per_week": 1000 * run_s / weeks, "consumer_steps_per_s": n * weeks / run_s,
        "peak_mib": peak_mib, "reference_consumer_steps_per_s": 1 / reference_per_cs,
        "speedup": reference_per_cs / model_per_cs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--weeks", type=int, default=520)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.sizes[0], args.weeks, args.seed)))
        return

    header = (f"{'consumers':>10} {'engine':>6} {'build s':>8} {'run s':>8} {'ms/week':>8} "
              f"{'cons-steps/s':>13} {'peak MiB':>9} {'reference c-s/s':>16} {'speed-up':>9}")
    print(f"baseline scenario, {args.weeks} weeks, seed {args.seed}; reference: plain Mesa agents, "
          f"{REFERENCE_SAMPLE:,} consumers × {REFERENCE_WEEKS} weeks, median of {REFERENCE_REPEATS}")
    print(header)
    for n in args.sizes:
        out = subprocess.run([sys.executable, __file__, "--child", "--sizes", str(n), "--weeks", str(args.weeks),
                              "--seed", str(args.seed)], check=True, capture_output=True, text=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['n_consumers']:>10,} {r['engine']:>6} {r['build_s']:>8.2f} {r['run_s']:>8.2f} "
              f"{r['ms_per_week']:>8.1f} {r['consumer_steps_per_s']:>13,.0f} {r['peak_mib']:>9.0f} "
              f"{r['reference_consumer_steps_per_s']:>16,.0f} {r['speedup']:>8.0f}×", flush=True)


if __name__ == "__main__":
    main()
