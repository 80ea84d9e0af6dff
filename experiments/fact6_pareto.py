"""Fact 6: the top 20 % of customers bring most of the revenue."""

from __future__ import annotations

import numpy as np

from experiments._common import bar_figure
from sim.experiment import Arm, Experiment, Finding, mean_ci


def measure(model):
    spent = np.sort(model.population.total_spent_eur)[::-1]
    top = spent[: len(spent) // 5].sum() / spent.sum()
    out = {"top20_share": float(top)}
    for r in model.retailers:  # within each retailer's own customers, over the last full year
        own = np.sort(model.population.of_retailer("spend_last_year", r.index))[::-1]
        own = own[own > 0]
        out[f"top20_share_{r.name}"] = float(own[: max(len(own) // 5, 1)].sum() / own.sum()) if len(own) else np.nan
    return out


EXPERIMENT = Experiment(
    name="fact6_pareto",
    title="Fact 6 — the top 20 % of customers bring most of the revenue",
    claim="The top 20 % of customers bring most of the revenue (the Pareto rule of the one-to-one literature).",
    scenario="scenarios/lab.toml",
    arms=[Arm("budgets 80/20", {"consumers.share_spend_top20": 0.8}),
          Arm("budgets 60/20", {"consumers.share_spend_top20": 0.6})],
    measure=measure,
    outcomes={"top20_share": "revenue from the top 20 % of consumers",
              "top20_share_Mass": "… of the mass retailer's customers (last year)",
              "top20_share_Loyal": "… of the loyalty retailer's customers (last year)",
              "top20_share_Learn": "… of the learning retailer's customers (last year)"},
)


def findings(frame):
    base = frame[frame["arm"] == "budgets 80/20"]["top20_share"].to_numpy()
    m, lo, hi = mean_ci(base)
    return [Finding("share of revenue from the top 20 % of consumers, minus one half (most = above 50 %)",
                    m - 0.5, lo - 0.5, hi - 0.5, expected_sign=+1)]


def figure(frame, path):
    bar_figure(frame, {"top20_share": "revenue from the top 20 % of consumers",
                       "top20_share_Learn": "… of the learning retailer's customers"}, path,
               "Spend concentration")
