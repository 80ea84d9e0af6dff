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
    """Each category's share of the spending of all three (rounded to 4 places, as scenario files give it)."""
    spend = category_spending(data)
    return {c: round(float(v / spend.sum()), 4) for c, v in spend.items()}
