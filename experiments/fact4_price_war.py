"""Fact 4: price cutting by mass retailers raises market-wide switching and lowers margins."""

from __future__ import annotations

from experiments._common import bar_figure, window_mean, window_ratio
from sim.experiment import Arm, Experiment, Finding, paired_difference

START = 104


def measure(model):
    return {
        "switching": window_mean(model, "all", "main_switching_rate", START),
        "gross_margin": window_ratio(model, "all", "gross_profit_eur", "revenue_eur", START),
        "markup_end": window_mean(model, "all", "markup", model.week),
    }


EXPERIMENT = Experiment(
    name="fact4_price_war",
    title="Fact 4 — price cutting by mass retailers: switching and margins",
    claim="Price cutting by mass retailers raises market-wide switching and lowers margins.",
    scenario="scenarios/lab.toml",
    base_overrides={"retailers.Loyal.strategy": "mass", "retailers.Learn.strategy": "mass",
                    "strategies.mass.share_tolerance": 0.002, "strategies.mass.markup_floor": 0.08},
    arms=[
        Arm("no cuts", {"strategies.mass.markup_step": 0.0}),
        Arm("cuts of 2 points", {"strategies.mass.markup_step": 0.02}),
        Arm("cuts of 4 points", {"strategies.mass.markup_step": 0.04}),
    ],
    measure=measure,
    outcomes={"switching": "main-retailer switching a year", "gross_margin": "market gross margin",
              "markup_end": "mean markup at the end"},
)


def findings(frame):
    return [
        Finding("switching: cuts of 4 points − no cuts",
                *paired_difference(frame, "switching", "cuts of 4 points", "no cuts"), expected_sign=+1),
        Finding("gross margin: cuts of 4 points − no cuts",
                *paired_difference(frame, "gross_margin", "cuts of 4 points", "no cuts"), expected_sign=-1),
    ]


def figure(frame, path):
    bar_figure(frame, {"switching": "main-retailer switching a year", "gross_margin": "market gross margin",
                       "markup_end": "mean markup at the end"}, path, "Price cutting")
