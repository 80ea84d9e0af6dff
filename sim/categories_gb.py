"""Britain's household spending split into the model's retail categories, from the files in ``data/``.

``data/retail_categories_gb.csv`` maps ONS Family Spending categories to convenience, comparison and
services; the spending itself is read from ONS's table (``uk_household_spending_by_income_decile_fye2018.csv``,
all households), so a category's share of the budget is traceable to the published figure.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parent.parent / "data"


def category_spending(data: Path = DATA) -> pd.Series:
    """Weekly spending per household (£, FYE2018, all households) in each of the model's categories."""
    mapping = pd.read_csv(data / "retail_categories_gb.csv", comment="#", dtype={"code": str})
    survey = pd.read_csv(data / "uk_household_spending_by_income_decile_fye2018.csv", comment="#",
                         dtype={"code": str})
    spend = survey[survey["group"] == "all_households"].set_index("code")["weekly_gbp"]
    missing = sorted(set(mapping["code"]) - set(spend.index))
    if missing:
        raise KeyError(f"codes {', '.join(missing)} of retail_categories_gb.csv are not in the spending table")
    return mapping.assign(weekly_gbp=spend[mapping["code"]].to_numpy()).groupby("category", sort=False)[
        "weekly_gbp"].sum()


def category_shares(data: Path = DATA) -> dict[str, float]:
    """Each category's share of the spending of all three, at the prices paid (rounded to 4 places)."""
    spend = category_spending(data)
    return {c: round(float(v / spend.sum()), 4) for c, v in spend.items()}


def category_cost_shares(markup: dict[str, float], data: Path = DATA) -> dict[str, float]:
    """Each category's share of the budget at cost prices (``share_budget``; the model's budgets are at cost,
    prices add the retailer's markup): spending share / (1 + the category's typical markup on cost),
    renormalised, so that at those markups households spend in each category its share of the survey's
    spending. Rounded to 4 places; the last category takes the rounding, so the shares sum to 1."""
    spend = category_spending(data)
    at_cost = {c: float(v) / (1.0 + markup[c]) for c, v in spend.items()}
    total = sum(at_cost.values())
    shares = {c: round(v / total, 4) for c, v in at_cost.items()}
    last = list(shares)[-1]
    shares[last] = round(1.0 - sum(v for c, v in shares.items() if c != last), 4)
    return shares
