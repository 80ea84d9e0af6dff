"""Strategy tournament: mass, loyalty and learning against each other, every seat in turn."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pandas as pd

from experiments._common import frame_of
from sim.experiment import Arm, Experiment, Finding, mean_ci

START = 104
STRATEGIES = ("mass", "loyalty", "learning")
SEATS = ("Mass", "Loyal", "Learn")  # the lab's three seats (taste 0.2, 0.5, 0.8)


def measure(model):
    f = frame_of(model)
    rows = f[f["week"] >= START]
    total = rows.loc[rows["retailer"] == "all", "revenue_eur"].sum()
    out = {}
    for r in model.retailers:
        own = rows[rows["retailer"] == r.name]
        key = r.strategy.name
        out[f"{key}_attrition"] = float(own["attrition_rate"].dropna().mean())
        out[f"{key}_revenue_share"] = float(own["revenue_eur"].sum() / total)
        out[f"{key}_operating_margin"] = float(own["operating_profit_eur"].sum() / own["revenue_eur"].sum())
    return out


ARMS = [Arm(" / ".join(order), {f"retailers.{seat}.strategy": s for seat, s in zip(SEATS, order, strict=True)})
        for order in permutations(STRATEGIES)]

EXPERIMENT = Experiment(
    name="tournament",
    title="Strategy tournament — mass against loyalty against learning",
    claim="Which strategy keeps customers, wins share and earns margin when all three meet, each taking "
          "every seat (taste position) in turn so that location does not decide.",
    scenario="scenarios/lab.toml",
    arms=ARMS,
    measure=measure,
    outcomes={f"{s}_{m}": f"{s}: {label}" for s in STRATEGIES
              for m, label in (("attrition", "attrition"), ("revenue_share", "revenue share"),
                               ("operating_margin", "operating margin"))},
)


def pooled(frame: pd.DataFrame) -> pd.DataFrame:
    """Each strategy's mean and 95 % CI over every seat arrangement and replication."""
    rows = []
    for s in STRATEGIES:
        for m in ("attrition", "revenue_share", "operating_margin"):
            mean, low, high = mean_ci(frame[f"{s}_{m}"].to_numpy())
            rows.append({"strategy": s, "measure": m, "mean": mean, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows)


def findings(frame):
    out = []
    for m, sign in (("attrition", -1), ("revenue_share", +1), ("operating_margin", +1)):
        diff = frame[f"learning_{m}"] - frame[f"mass_{m}"]
        out.append(Finding(f"{m.replace('_', ' ')}: learning − mass", *mean_ci(diff.to_numpy()), expected_sign=sign))
        diff = frame[f"learning_{m}"] - frame[f"loyalty_{m}"]
        out.append(Finding(f"{m.replace('_', ' ')}: learning − loyalty", *mean_ci(diff.to_numpy()),
                           expected_sign=sign))
    return out


def figure(frame, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = pooled(frame)
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    for ax, m in zip(axes, ("attrition", "revenue_share", "operating_margin"), strict=True):
        t = table[table["measure"] == m]
        err = np.vstack([t["mean"] - t["ci_low"], t["ci_high"] - t["mean"]]) * 100
        ax.bar(t["strategy"], t["mean"] * 100, yerr=err, capsize=5, color=["tab:blue", "tab:orange", "tab:green"])
        ax.set_title(m.replace("_", " "))
        ax.set_ylabel("%")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Strategy tournament: all seat arrangements pooled (means with 95 % CI)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
