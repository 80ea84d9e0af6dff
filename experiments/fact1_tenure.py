"""Fact 1: attrition falls with tenure at a learning-relationship retailer, stays flat at a mass retailer."""

from __future__ import annotations

import numpy as np

from experiments._common import bar_figure, window_mean
from sim.experiment import Arm, Experiment, Finding, mean_ci, paired_difference

START = 208  # long tenures (over a year, a year before) are measured from here on


def measure(model):
    new = window_mean(model, "Learn", "attrition_rate_new", START)
    long = window_mean(model, "Learn", "attrition_rate_tenure_52_156", START)
    mass_new = window_mean(model, "Mass", "attrition_rate_new", START)
    mass_long = window_mean(model, "Mass", "attrition_rate_tenure_52_156", START)
    return {"seat_new": new, "seat_long": long, "seat_fall": new - long,
            "seat_relative_fall": (new - long) / new if new > 0 else float("nan"),
            "seat_log_odds_fall": _logit(new) - _logit(long),
            "mass_new": mass_new, "mass_long": mass_long, "mass_fall": mass_new - mass_long}


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
        "seat_new": "retailer in seat: new customers", "seat_long": "retailer in seat: tenure 1–3 y",
        "seat_fall": "its fall with tenure", "seat_relative_fall": "its relative fall",
        "seat_log_odds_fall": "its fall in log odds (× 100)",
        "mass_new": "mass rival: new customers", "mass_long": "mass rival: tenure 1–3 y",
    },
)


def findings(frame):
    learns = frame[frame["arm"] == "seat learns"]
    # New customers leave at several times the rate of long-standing ones in either seat, and
    # learning lowers both, so the fall in points is bounded by where it starts; what learning
    # adds is compared as a proportion of the rate and in log odds, as survival analysis
    # compares hazards.
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
    bar_figure(frame, {"seat_new": "new customers", "seat_long": "tenure 1–3 years",
                       "seat_relative_fall": "relative fall with tenure"},
               path, "Annual attrition by tenure band at the retailer in the learning seat")
