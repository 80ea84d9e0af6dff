"""Time the model on towns of growing size, beside the per-agent reference.

    .venv/bin/python benchmarks/bench_scale.py                     # every town × 100,000 and 1,000,000
    .venv/bin/python benchmarks/bench_scale.py --towns region300 --sizes 100000 --weeks 52
    .venv/bin/python benchmarks/bench_scale.py --towns region300 --sizes 1000000 --profile 5

Towns (``benchmarks/towns.py``): the chains world (scenarios/chains.toml: 4 retailers on 28
sites, the first stage's baseline), a town of 40 retailers on 400 sites and a region of 300
retailers (20 chains, 280 independents) on 1,500 sites. Each town and size runs in a fresh
process: build time, run time for the whole horizon, consumer-steps per second (whole weekly step: choice, settlement,
strategies, reviews, metrics) and peak memory (resident set) of the model. In the same
process, the plain Mesa per-agent reference (``sim.reference``: one Agent per consumer,
looking at every store) then makes the same weekly decision for a sample of the same
consumers, and the table prints how many times faster the model is per consumer-step.
``--profile N`` prints the N functions the run spent most time in.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_WORK = 3_000_000  # consumer × (store + retailer) looks per reference week: its sample shrinks as towns grow
REFERENCE_WEEKS = 2
REFERENCE_REPEATS = 3


def measure(town: str, n: int, weeks: int, seed: int, profile: int) -> dict:
    """Run in a child process: one model of ``n`` consumers, then the reference on a sample."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from benchmarks.towns import town_scenario
    from sim.model import RetailMarket
    from sim.reference import ReferenceMarket

    scenario = town_scenario(town, n, weeks, seed)
    if RetailMarket._pick_engine(scenario) == "numba":  # compile (or load the cache) before timing
        RetailMarket(scenario.with_overrides({"consumers.n": 1000, "engine": "numba", "steps": 2}), seed=seed).run()

    started = time.perf_counter()
    model = RetailMarket(scenario, seed=seed)
    build_s = time.perf_counter() - started
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    model.run()
    if profiler:
        profiler.disable()
    run_s = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    n_stores = len(model.open_stores)
    sample_n = int(min(n, 20_000, max(500, REFERENCE_WORK // (n_stores + len(model.retailers)))))
    sample = np.random.default_rng(seed).choice(n, size=sample_n, replace=False)
    reference = ReferenceMarket(model, consumers=sample, seed=seed)
    timings = []
    for _ in range(REFERENCE_REPEATS):  # the median of a few, as the reference is short
        started = time.perf_counter()
        for _ in range(REFERENCE_WEEKS):
            reference.step()
        timings.append(time.perf_counter() - started)
    reference_s = statistics.median(timings)

    model_per_cs = run_s / (n * weeks)
    reference_per_cs = reference_s / (sample_n * REFERENCE_WEEKS)
    top = ""
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(profile)
        top = out.getvalue()
    return {
        "town": town, "n_retailers": len(model.retailers), "n_sites": int(model.region.n_sites),
        "n_consumers": n, "weeks": weeks, "engine": model.engine, "build_s": build_s, "run_s": run_s,
        "consumer_steps_per_s": n * weeks / run_s, "peak_mib": peak_mib,
        "reference_consumer_steps_per_s": 1 / reference_per_cs, "reference_sample": sample_n,
        "speedup": reference_per_cs / model_per_cs, "profile": top,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--towns", nargs="+", default=["chains", "town40", "region300"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--weeks", type=int, default=520)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", type=int, default=0, help="print the top N functions of each run")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]), args.weeks, args.seed, args.profile)))
        return

    print(f"{args.weeks} weeks, seed {args.seed}; reference: plain Mesa agents looking at every store, "
          f"{REFERENCE_WEEKS} weeks, median of {REFERENCE_REPEATS}")
    print(f"{'town':>10} {'retailers':>9} {'sites':>6} {'consumers':>10} {'engine':>6} {'build s':>8} {'run s':>8} "
          f"{'cons-steps/s':>13} {'peak MiB':>9} {'reference c-s/s':>16} {'speed-up':>9}", flush=True)
    for town in args.towns:
        for n in args.sizes:
            out = subprocess.run([sys.executable, __file__, "--child", town, str(n), "--weeks", str(args.weeks),
                                  "--seed", str(args.seed), "--profile", str(args.profile)],
                                 check=True, capture_output=True, text=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{r['town']:>10} {r['n_retailers']:>9} {r['n_sites']:>6} {r['n_consumers']:>10,} {r['engine']:>6} "
                  f"{r['build_s']:>8.2f} {r['run_s']:>8.2f} {r['consumer_steps_per_s']:>13,.0f} "
                  f"{r['peak_mib']:>9.0f} {r['reference_consumer_steps_per_s']:>16,.0f} {r['speedup']:>8.0f}×",
                  flush=True)
            if r["profile"]:
                print(r["profile"], flush=True)


if __name__ == "__main__":
    main()
