"""Fact 1: attrition falls with tenure at a learning-relationship retailer, stays flat at a mass retailer."""

from __future__ import annotations

import numpy as np

from experiments._common import window_mean
from sim.experiment import Arm, Experiment, Finding, mean_ci, paired_difference

START = 208  # long tenures (over a year, a year before) are measured from here on


BANDS = {"attrition_rate_new": "under 13 w", "attrition_rate_tenure_13_52": "13–52 w",
         "attrition_rate_tenure_52_156": "1–3 y", "attrition_rate_tenure_156_plus": "3 y +"}


def measure(model):
    new = window_mean(model, "Learn", "attrition_rate_new", START)
    long = window_mean(model, "Learn", "attrition_rate_tenure_52_156", START)
    mass_new = window_mean(model, "Mass", "attrition_rate_new", START)
    mass_long = window_mean(model, "Mass", "attrition_rate_tenure_52_156", START)
    profile = {f"seat_band_{i}": window_mean(model, "Learn", column, START) for i, column in enumerate(BANDS)}
    return {"seat_new": new, "seat_long": long, "seat_fall": new - long,
            "seat_relative_fall": (new - long) / new if new > 0 else float("nan"),
            "seat_log_odds_fall": _logit(new) - _logit(long),
            "mass_new": mass_new, "mass_long": mass_long, "mass_fall": mass_new - mass_long, **profile}


def _logit(rate: float) -> float:
    """Log odds of a rate; NaN at 0 or 1 (no customer lost, or every one)."""
    return float(np.log(rate / (1 - rate))) if 0 < rate < 1 else float("nan")


EXPERIMENT = Experiment(
    name="fact1_tenure",
    title="Fact 1 — attrition by tenure: learning relationship against mass marketing",
    claim="Attrition falls with tenure at a learning-relationship retailer and stays (nearly) flat at a mass "
          "retailer, because what the learning retailer knows of a customer grows with every purchase.",
    scenario="scenarios/lab.toml",
    base_overrides={"retailers.Loyal.strategy": "mass", "strategies.mass.markup_step": 0.0,
                    "strategies.mass.promo_utility": 0.0},
    arms=[Arm("seat learns", {"retailers.Learn.strategy": "learning"}),
          Arm("seat is mass", {"retailers.Learn.strategy": "mass"})],
    measure=measure,
    outcomes={
        "seat_new": "retailer in seat: new customers", "seat_band_1": "retailer in seat: tenure 13–52 w",
        "seat_long": "retailer in seat: tenure 1–3 y", "seat_band_3": "retailer in seat: tenure 3 y +",
        "seat_fall": "its fall with tenure", "seat_relative_fall": "its relative fall",
        "seat_log_odds_fall": "its fall in log odds (× 100)",
        "mass_new": "mass rival: new customers", "mass_long": "mass rival: tenure 1–3 y",
    },
)


def findings(frame):
    learns = frame[frame["arm"] == "seat learns"]
    # New customers leave at several times the rate of long-standing ones in either seat, and
    # learning lowers both, so what learning adds is compared three ways: in points, as a
    # proportion of the rate, and in log odds, as survival analysis compares hazards.
    return [
        Finding("attrition falls with tenure at the learning retailer (new − 1–3 y)",
                *mean_ci(learns["seat_fall"].to_numpy()), expected_sign=+1),
        Finding("learning steepens the relative fall: same seat, learning − mass",
                *paired_difference(frame, "seat_relative_fall", "seat learns", "seat is mass"), expected_sign=+1),
        Finding("learning steepens the fall in log odds: same seat, learning − mass",
                *paired_difference(frame, "seat_log_odds_fall", "seat learns", "seat is mass"), expected_sign=+1,
                scale=1.0, unit=" (log odds)"),
        Finding("learning steepens the fall in points: same seat, learning − mass",
                *paired_difference(frame, "seat_fall", "seat learns", "seat is mass"), expected_sign=+1),
        Finding("attrition stays flat with tenure at the mass rival (new − 1–3 y)",
                *mean_ci(learns["mass_fall"].to_numpy()), expected_sign=0),
    ]


def figure(frame, path):
    """Left: the seat's attrition by tenure band in each arm; right: its relative fall."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    arms = list(dict.fromkeys(frame["arm"]))
    for colour, arm in zip(("tab:green", "tab:grey"), arms, strict=False):
        rows = frame[frame["arm"] == arm]
        stats = np.array([mean_ci(rows[f"seat_band_{i}"].to_numpy()) for i in range(len(BANDS))]) * 100
        x = np.arange(len(BANDS))
        left.plot(x, stats[:, 0], marker="o", color=colour, label=arm)
        left.fill_between(x, stats[:, 1], stats[:, 2], color=colour, alpha=0.25)
    left.set_xticks(range(len(BANDS)), [f"tenure {b}" for b in BANDS.values()], fontsize=9)
    left.set_ylabel("annual attrition, % (95 % CI)")
    left.set_ylim(0, 100)
    left.set_title("Retailer in the seat: attrition by tenure a year before", fontsize=10)
    left.legend(fontsize=9)
    left.grid(alpha=0.3)
    stats = [mean_ci(frame.loc[frame["arm"] == arm, "seat_relative_fall"].to_numpy()) for arm in arms]
    means = np.array([m for m, _, _ in stats]) * 100
    err = np.array([[m - lo, hi - m] for m, lo, hi in stats]).T * 100
    right.bar(range(len(arms)), means, yerr=err, capsize=5, color=["tab:green", "tab:grey"][:len(arms)], alpha=0.8)
    right.set_xticks(range(len(arms)), arms, fontsize=9)
    right.set_ylabel("%")
    right.set_title("Relative fall, new → 1–3 y", fontsize=10)
    right.grid(axis="y", alpha=0.3)
    fig.suptitle("Fact 1 — attrition by tenure, learning against mass", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
