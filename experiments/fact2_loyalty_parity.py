"""Fact 2: a loyalty programme lifts retention first; copied by rivals, it ends in competitive parity."""

from __future__ import annotations

import numpy as np

from experiments._common import bar_figure, window_mean, window_ratio
from sim.experiment import Arm, Experiment, Finding, paired_difference

EARLY = (26, 117)  # before any copy can launch
LATE = (208, 312)  # after rivals have copied


def measure(model):
    def advantage(start, end):
        rivals = np.mean([window_mean(model, r, "attrition_rate", start, end) for r in ("Mass", "Learn")])
        return rivals - window_mean(model, "Loyal", "attrition_rate", start, end)

    return {
        "advantage_early": advantage(*EARLY),
        "advantage_late": advantage(*LATE),
        "gross_margin_late": window_ratio(model, "all", "gross_profit_eur", "revenue_eur", *LATE),
        "n_programmes_end": float(sum(r.strategy.name == "loyalty" for r in model.retailers)),
    }


EXPERIMENT = Experiment(
    name="fact2_loyalty_parity",
    title="Fact 2 — loyalty programmes: first-mover retention, then competitive parity",
    claim="A loyalty programme lifts its owner's retention first; once rivals copy it the advantage erodes "
          "and everyone's margin is lower than before (competitive parity).",
    scenario="scenarios/lab.toml",
    base_overrides={"retailers.Learn.strategy": "mass", "strategies.mass.markup_step": 0.0,
                    "strategies.loyalty.copy_lag_weeks": 26},
    arms=[
        Arm("no programme", {"retailers.Loyal.strategy": "mass"}),
        Arm("programme, not copied", {"strategies.loyalty.copy_probability": 0.0}),
        Arm("programme, copied", {"strategies.loyalty.copy_probability": 0.5}),
    ],
    measure=measure,
    outcomes={
        "advantage_early": "owner's retention edge, years 1–2",
        "advantage_late": "owner's retention edge, years 5–6",
        "gross_margin_late": "market gross margin, years 5–6",
        "n_programmes_end": "programmes at the end (count)",
    },
)


def findings(frame):
    copied = frame[frame["arm"] == "programme, copied"]
    from sim.experiment import mean_ci

    return [
        Finding("the programme lifts its owner's retention edge in years 1–2 (programme − no programme)",
                *paired_difference(frame, "advantage_early", "programme, not copied", "no programme"),
                expected_sign=+1),
        Finding("the owner's retention edge before rivals copy (rivals' attrition − owner's)",
                *mean_ci(frame.loc[frame["arm"] == "programme, not copied", "advantage_early"].to_numpy()),
                expected_sign=+1),
        Finding("the edge erodes once rivals copy (late − early edge, copied arm)",
                *mean_ci((copied["advantage_late"] - copied["advantage_early"]).to_numpy()), expected_sign=-1),
        Finding("market gross margin late: everyone with a programme − nobody with one",
                *paired_difference(frame, "gross_margin_late", "programme, copied", "no programme"),
                expected_sign=-1),
    ]


def figure(frame, path):
    bar_figure(frame, {"advantage_early": "owner's retention edge, years 1–2",
                       "advantage_late": "owner's retention edge, years 5–6",
                       "gross_margin_late": "market gross margin, years 5–6"}, path,
               "Loyalty programme, copied or not")
