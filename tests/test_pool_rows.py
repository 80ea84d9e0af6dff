"""The pool's independents reported as one row per category: sums, ratios of sums, rates weighted by their base."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.metrics import ALL, FOLD_RULES, POOL_ROW, RETAILER_METRICS
from sim.model import RetailMarket
from sim.outputs import build_summary
from sim.scenario import load

from .conftest import SCENARIOS

SMALL = {"consumers.n": 3000, "consumers.households_per_agent": 2.5, "steps": 130, "region.n_towns": 3,
         "region.n_sites": 150, "region.width_km": 25.0, "region.height_km": 25.0,
         "independents.pool_size": 120, "retailers.ValueMart.n_stores": 5, "retailers.CardCo.n_stores": 8,
         "retailers.KnowYou.n_stores": 5, "retailers.QuickStop.n_stores": 8, "retailers.BigBox.n_stores": 4,
         "retailers.BeanCo.n_stores": 5}


class Counted(RetailMarket):
    """The model, counting each quarter's moved purchases before they are folded into report rows."""

    def _record_flows(self) -> None:
        flows = self.flows_quarter
        moved = flows.source - 1 != flows.target
        self.n_moved = getattr(self, "n_moved", {}) | {self.week: int(flows.n[moved].sum())}
        super()._record_flows()


@pytest.fixture(scope="module")
def trades() -> RetailMarket:
    """The three-trade high street cut down to 150 units and 3,000 consumers, two and a half years."""
    model = Counted(load(SCENARIOS / "highstreet_categories.toml", SMALL), seed=2)
    model.run()
    return model


def test_every_retailer_metric_says_how_it_folds():
    assert set(RETAILER_METRICS) <= set(FOLD_RULES), set(RETAILER_METRICS) - set(FOLD_RULES)


def test_the_pool_folds_into_one_row_per_category(trades):
    folded, each = trades.metrics.to_frame(), trades.metrics.to_frame(each_independent=True)
    listed = trades.retailer_names[:trades.n_listed]
    rows = [f"{POOL_ROW} ({c.config.name})" for c in trades.categories]
    assert list(folded["retailer"].cat.categories) == [*listed, *rows, ALL]
    pd.testing.assert_frame_equal(folded[folded["retailer"].isin([*listed, ALL])].reset_index(drop=True),
                                  each[each["retailer"].isin([*listed, ALL])].reset_index(drop=True),
                                  check_categorical=False)
    pool = each[~each["retailer"].isin([*listed, ALL])]
    for name, category in zip(rows, (c.config.name for c in trades.categories), strict=True):
        mine = pool[pool["category"] == category]
        row = folded[folded["retailer"] == name].set_index("week")
        sums = mine.groupby("week")[["revenue_eur", "revenue_online_eur", "operating_profit_eur", "n_stores_open",
                                     "n_active_customers", "revenue_share"]].sum()
        for column in sums:
            np.testing.assert_allclose(row[column], sums[column], rtol=1e-12, atol=1e-9, err_msg=column)
        assert (row["strategy"] == "mass").all()  # every kind of independent in this world is a mass retailer
        margin = sums["operating_profit_eur"] / sums["revenue_eur"]
        np.testing.assert_allclose(row["operating_margin"], margin.where(sums["revenue_eur"] > 0), rtol=1e-12)
        # attrition: each business's, weighted by its active customers of a year before
        base = mine.pivot(index="week", columns="retailer", values="n_active_customers").shift(52)
        rate = mine.pivot(index="week", columns="retailer", values="attrition_rate")
        known = rate.notna() & base.notna()
        weighted = (rate.where(known, 0) * base.where(known, 0)).sum(axis=1) / base.where(known, 0).sum(axis=1)
        measured = row["attrition_rate"].dropna()
        assert len(measured) >= 6
        np.testing.assert_allclose(measured, weighted[measured.index], rtol=1e-12)
        assert ((measured >= 0) & (measured <= 1)).all()


def test_the_outputs_hold_the_pool_as_its_rows(trades):
    summary = build_summary(trades, trades.metrics.to_frame(), runtime_s=0.0)
    listed = trades.retailer_names[:trades.n_listed]
    pooled = [f"{POOL_ROW} ({c.config.name})" for c in trades.categories]
    assert list(summary["retailers"]) == [*listed, *pooled]
    shares = [v["revenue_share"] for v in summary["retailers"].values()]
    assert sum(shares) == pytest.approx(1.0, abs=len(shares) * 5e-7)  # each share is rounded to 6 decimals
    assert summary["retailers"][pooled[2]]["stores_open"] == sum(
        len(r.open_stores) for r in trades.retailers[trades.n_listed:] if trades.retailer_category[r.index] == 2)
    names = {*listed, *pooled, "(none)"}
    flows = pd.DataFrame(trades.flow_records)
    assert set(flows["from"]) <= names and set(flows["to"]) <= names
    # every purchase that moved is still counted: moves between two independents of a trade are a row's own
    assert not flows.duplicated(["week", "from", "to"]).any()
    assert flows.groupby("week")["n_purchases"].sum().to_dict() == {w: n for w, n in trades.n_moved.items() if n}
    switching = pd.DataFrame(trades.switching_records)
    assert set(switching["from"]) <= names and set(switching["to"]) <= names
