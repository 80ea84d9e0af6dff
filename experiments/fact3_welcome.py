"""Fact 3: unconditional welcome offers raise new-customer attrition; vesting ones lower it."""

from __future__ import annotations

from experiments._common import bar_figure, window_mean
from sim.experiment import Arm, Experiment, Finding, paired_difference

START = 78


def measure(model):
    return {
        "new_attrition": window_mean(model, "Loyal", "attrition_rate_new", START),
        "attrition": window_mean(model, "Loyal", "attrition_rate", START),
        "n_acquired": window_mean(model, "Loyal", "n_acquired", START),
    }


EXPERIMENT = Experiment(
    name="fact3_welcome",
    title="Fact 3 — welcome offers: unconditional gifts against vesting rewards",
    claim="Unconditional welcome offers raise new-customer attrition (MCI); vesting ones lower it.",
    scenario="scenarios/lab.toml",
    base_overrides={"strategies.loyalty.welcome_eur": 20.0, "strategies.loyalty.welcome_vesting_weeks": 26},
    arms=[
        Arm("no offer", {"strategies.loyalty.welcome": "none"}),
        Arm("unconditional", {"strategies.loyalty.welcome": "unconditional"}),
        Arm("vesting", {"strategies.loyalty.welcome": "vesting"}),
    ],
    measure=measure,
    outcomes={
        "new_attrition": "new-customer attrition", "attrition": "all customers' attrition",
        "n_acquired": "customers won a week (count)",
    },
)


def findings(frame):
    return [
        Finding("new-customer attrition: unconditional − no offer",
                *paired_difference(frame, "new_attrition", "unconditional", "no offer"), expected_sign=+1),
        Finding("new-customer attrition: vesting − no offer",
                *paired_difference(frame, "new_attrition", "vesting", "no offer"), expected_sign=-1),
    ]


def figure(frame, path):
    bar_figure(frame, {"new_attrition": "new-customer attrition (loyalty retailer)",
                       "attrition": "all customers' attrition"}, path, "Welcome offers")
