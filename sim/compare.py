"""Compare scenarios on common random numbers: each metric's difference with a 95 % CI.

Every scenario runs with the same seeds (replication k uses the same seed in every
scenario), so differences come from the scenarios, not from luck, and are compared
replication by replication.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.experiment import mean_ci
from sim.scenario import Scenario
from sim.sweep import worker_pool

MASTER_SEED = 20_261_124


def replication_seed(replication: int) -> int:
    seq = np.random.SeedSequence(entropy=MASTER_SEED, spawn_key=(replication,))
    return int(seq.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def _run(task: tuple[int, str, dict[str, Any], int]) -> dict[str, Any]:
    from sim.model import RetailMarket
    from sim.outputs import final_figures

    index, label, raw, replication = task
    seed = replication_seed(replication)
    model = RetailMarket(Scenario.model_validate(raw), seed=seed)
    model.run()
    row: dict[str, Any] = {"scenario": label, "order": index, "replication": replication, "seed": seed}
    row.update(final_figures(model, model.metrics.to_frame()))
    return row


def run_comparison(scenarios: list[tuple[str, Scenario]], replications: int, workers: int | None = None,
                   progress=None) -> pd.DataFrame:
    """One row per scenario × replication with the final-year figures."""
    tasks = [(i, label, s.model_dump(mode="json"), rep)
             for rep in range(replications) for i, (label, s) in enumerate(scenarios)]
    rows = []
    workers = workers or min(len(tasks), multiprocessing.cpu_count())
    if workers == 1:
        for k, task in enumerate(tasks):
            rows.append(_run(task))
            if progress:
                progress(k + 1, len(tasks))
    else:
        with worker_pool(workers) as pool:
            for k, row in enumerate(pool.map(_run, tasks)):
                rows.append(row)
                if progress:
                    progress(k + 1, len(tasks))
    return pd.DataFrame(rows).sort_values(["order", "replication"], ignore_index=True).drop(columns="order")


def differences(frame: pd.DataFrame) -> pd.DataFrame:
    """Each metric in each scenario (mean, 95 % CI) and its paired difference from the first scenario."""
    labels = list(dict.fromkeys(frame["scenario"]))
    base = frame[frame["scenario"] == labels[0]].set_index("replication")
    metrics = [c for c in frame.columns if c not in ("scenario", "replication", "seed")]
    rows = []
    for metric in metrics:
        for label in labels:
            other = frame[frame["scenario"] == label].set_index("replication")
            values = pd.to_numeric(other[metric], errors="coerce")
            mean, low, high = mean_ci(values.to_numpy(dtype=float))
            diff = (values - pd.to_numeric(base[metric], errors="coerce")).to_numpy(dtype=float)
            d_mean, d_low, d_high = mean_ci(diff) if label != labels[0] else (np.nan, np.nan, np.nan)
            rows.append({"metric": metric, "scenario": label, "mean": mean, "ci_low": low, "ci_high": high,
                         "diff": d_mean, "diff_ci_low": d_low, "diff_ci_high": d_high})
    return pd.DataFrame(rows)


def report(table: pd.DataFrame, n_rep: int) -> str:
    labels = list(dict.fromkeys(table["scenario"]))
    lines = [f"# Comparison of {', '.join(labels)}", "",
             f"{n_rep} replications per scenario on common seeds; final-year figures; means with 95 % "
             f"confidence intervals; differences are paired, against `{labels[0]}`.", "",
             "| metric | " + " | ".join(labels) + " | "
             + " | ".join(f"{lab} − {labels[0]}" for lab in labels[1:]) + " |",
             "|---|" + "---|" * (2 * len(labels) - 1)]
    for metric, rows in table.groupby("metric", sort=False):
        cells = [_fmt(r["mean"], r["ci_low"], r["ci_high"], metric) for _, r in rows.iterrows()]
        diffs = [_fmt(r["diff"], r["diff_ci_low"], r["diff_ci_high"], metric, signed=True)
                 for _, r in rows.iloc[1:].iterrows()]
        lines.append(f"| {metric} | " + " | ".join(cells + diffs) + " |")
    return "\n".join(lines) + "\n"


def _fmt(mean, low, high, metric: str, signed: bool = False) -> str:
    if not np.isfinite(mean):
        return "–"
    scale = 1.0 if _in_units(metric) else 100.0
    sign = "+" if signed else ""
    if not np.isfinite(low):
        return f"{mean * scale:{sign}.2f}"
    return f"{mean * scale:{sign}.2f} [{low * scale:.2f}, {high * scale:.2f}]"


def _in_units(metric: str) -> bool:
    """Figures in km or store counts, shown as they are; the rest are rates, shown in %."""
    return metric.endswith(("_km", "stores_open", "stores_closed", "stores_opened"))


def figure(table: pd.DataFrame, path: Path) -> None:
    """Paired differences from the first scenario with 95 % CIs, market metrics."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    diffs = table[table["diff"].notna() & ~table["metric"].str.contains(r"\.") & ~table["metric"].map(_in_units)]
    labels = list(dict.fromkeys(diffs["scenario"]))
    metrics = list(dict.fromkeys(diffs["metric"]))
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(metrics) * max(len(labels), 1) + 1.5))
    for k, label in enumerate(labels):
        rows = diffs[diffs["scenario"] == label].set_index("metric").reindex(metrics)
        y = np.arange(len(metrics)) + k * 0.8 / max(len(labels), 1)
        err = np.vstack([rows["diff"] - rows["diff_ci_low"], rows["diff_ci_high"] - rows["diff"]]) * 100
        ax.errorbar(rows["diff"] * 100, y, xerr=err, fmt="o", capsize=4, label=label)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(np.arange(len(metrics)), metrics)
    ax.set_xlabel("difference from the first scenario (percentage points)")
    ax.legend(fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
