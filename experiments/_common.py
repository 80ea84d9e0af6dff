"""Helpers shared by the experiment declarations: measures over time windows, figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.experiment import _is_rate, mean_ci


def frame_of(model) -> pd.DataFrame:
    if getattr(model, "_frame_cache", None) is None:
        model._frame_cache = model.metrics.to_frame()
    return model._frame_cache


def window_mean(model, retailer: str, column: str, start: int, end: int | None = None) -> float:
    """Mean of a column for one retailer (or 'all') over weeks start..end, ignoring NaN."""
    f = frame_of(model)
    end = model.week if end is None else end
    rows = f[(f["retailer"] == retailer) & (f["week"] >= start) & (f["week"] <= end)]
    values = rows[column].dropna()
    return float(values.mean()) if len(values) else float("nan")


def window_ratio(model, retailer: str, num: str, den: str, start: int, end: int | None = None) -> float:
    """Sum of one column over sum of another for one retailer over weeks start..end."""
    f = frame_of(model)
    end = model.week if end is None else end
    rows = f[(f["retailer"] == retailer) & (f["week"] >= start) & (f["week"] <= end)]
    total = rows[den].sum()
    return float(rows[num].sum() / total) if total else float("nan")


def bar_figure(frame: pd.DataFrame, outcomes: dict[str, str], path: Path, title: str) -> None:
    """One panel per outcome: each arm's mean with its 95 % confidence interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = list(dict.fromkeys(frame["arm"]))
    fig, axes = plt.subplots(1, len(outcomes), figsize=(4.2 * len(outcomes), 4.2), squeeze=False)
    for ax, (outcome, label) in zip(axes[0], outcomes.items(), strict=True):
        stats = [mean_ci(frame.loc[frame["arm"] == arm, outcome].to_numpy()) for arm in arms]
        scale, unit = (100.0, "%") if _is_rate(outcome) else (1.0, "")
        means = np.array([s[0] for s in stats]) * scale
        err = np.array([[s[0] - s[1], s[2] - s[0]] for s in stats]).T * scale
        ax.bar(range(len(arms)), means, yerr=err, capsize=5, color="tab:blue", alpha=0.8)
        ax.set_xticks(range(len(arms)), arms, rotation=20, ha="right", fontsize=9)
        ax.set_title(label, fontsize=10)
        ax.set_ylabel(unit)
        ax.axhline(0, color="black", lw=0.5)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(title + " (means with 95 % CI)", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
