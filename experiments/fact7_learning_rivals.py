"""Fact 7: the learning advantage shrinks when rivals also learn."""

from __future__ import annotations

import numpy as np

from experiments._common import bar_figure, window_mean, window_ratio
from sim.experiment import Arm, Experiment, Finding, paired_difference

START = 104


def measure(model):
    rivals = ("Mass", "Loyal")
    return {
        "retention_edge": np.mean([window_mean(model, r, "attrition_rate", START) for r in rivals])
        - window_mean(model, "Learn", "attrition_rate", START),
        "revenue_share": _share(model, "Learn"),
        "margin_edge": window_ratio(model, "Learn", "operating_profit_eur", "revenue_eur", START)
        - np.mean([window_ratio(model, r, "operating_profit_eur", "revenue_eur", START) for r in rivals]),
    }


def _share(model, name):
    from experiments._common import frame_of

    f = frame_of(model)
    rows = f[f["week"] >= START]
    total = rows.loc[rows["retailer"] == "all", "revenue_eur"].sum()
    return float(rows.loc[rows["retailer"] == name, "revenue_eur"].sum() / total)


EXPERIMENT = Experiment(
    name="fact7_learning_rivals",
    title="Fact 7 — the learning advantage when rivals learn too",
    claim="The learning retailer's advantage shrinks when rivals also learn.",
    scenario="scenarios/lab.toml",
    base_overrides={"strategies.mass.markup_step": 0.0},
    arms=[
        Arm("rivals do not learn", {"retailers.Mass.strategy": "mass", "retailers.Loyal.strategy": "mass"}),
        Arm("rivals learn too", {"retailers.Mass.strategy": "learning", "retailers.Loyal.strategy": "learning"}),
    ],
    measure=measure,
    outcomes={"retention_edge": "retention edge (rivals' − own attrition)", "revenue_share": "revenue share",
              "margin_edge": "operating-margin edge over rivals"},
)


def findings(frame):
    return [
        Finding("retention edge: rivals learn too − rivals do not",
                *paired_difference(frame, "retention_edge", "rivals learn too", "rivals do not learn"),
                expected_sign=-1),
        Finding("revenue share: rivals learn too − rivals do not",
                *paired_difference(frame, "revenue_share", "rivals learn too", "rivals do not learn"),
                expected_sign=-1),
    ]


def figure(frame, path):
    bar_figure(frame, EXPERIMENT.outcomes, path, "The learning retailer's edge")
