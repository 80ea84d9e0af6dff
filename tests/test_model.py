"""The model: conservation, rates in range, determinism, Mesa integration."""

from __future__ import annotations

import io

import mesa
import numpy as np
import pandas as pd
import pytest

from sim.consumers import Consumer, lognormal_sigma_for_top20
from sim.metrics import ALL, column_docs
from sim.model import RetailMarket
from sim.retailers import Retailer
from sim.stores import Store

from .conftest import small_scenario

RATE_COLUMNS = [
    "gross_margin", "attrition_rate", "revenue_share", "customer_share", "online_share", "vacancy_rate",
    "vacancy_rate_floor", "vacancy_rate_centre", "vacancy_rate_neighbourhood", "vacancy_rate_retail_park",
    "share_adopted_online", "main_switching_rate", "hhi", "share_of_wallet", "attrition_rate_new",
    "attrition_rate_tenure_13_52", "attrition_rate_tenure_52_156", "attrition_rate_tenure_156_plus",
    "attrition_rate_top", "attrition_rate_middle", "attrition_rate_bottom", "share_no_store_nearby",
]


def test_model_is_a_mesa_model_with_agents(small_run):
    assert isinstance(small_run, mesa.Model)
    assert len(small_run.agents_by_type[Retailer]) == len(small_run.config.retailers)
    assert len(small_run.agents_by_type[Store]) == sum(r.n_stores for r in small_run.config.retailers)
    assert small_run.week == small_run.config.steps == small_run.steps


def test_consumers_are_conserved_every_week(small_frame, small_run):
    market = small_frame[small_frame["retailer"] == ALL]
    n = small_run.population.n
    shoppers = market["n_shoppers"].to_numpy()
    assert ((shoppers > 0) & (shoppers <= n)).all()
    bought = market["n_transactions"].to_numpy() + market["n_stranded"].to_numpy()
    np.testing.assert_array_equal(bought, shoppers)  # every shopper buys once or is stranded
    per_retailer = small_frame[small_frame["retailer"] != ALL].groupby("week")["n_transactions"].sum()
    np.testing.assert_array_equal(per_retailer.to_numpy(), market["n_transactions"].to_numpy())


def test_money_is_conserved(small_run, small_frame):
    spent = small_run.population.total_spent_eur.sum()
    booked = small_frame.loc[small_frame["retailer"] == ALL, "revenue_eur"].sum()
    assert spent == pytest.approx(booked, rel=1e-9)
    retailers = small_frame[small_frame["retailer"] != ALL].groupby("week")["revenue_eur"].sum()
    np.testing.assert_allclose(retailers.to_numpy(),
                               small_frame.loc[small_frame["retailer"] == ALL, "revenue_eur"].to_numpy())
    stores = sum(s.revenue for s in small_run.stores if s.is_open)
    last = small_frame[(small_frame["week"] == small_run.week) & (small_frame["retailer"] != ALL)]
    assert stores == pytest.approx((last["revenue_eur"] - last["revenue_online_eur"]).sum())


def test_accounts_add_up(small_frame):
    f = small_frame
    np.testing.assert_allclose(f["gross_profit_eur"], f["revenue_eur"] - f["cogs_eur"] - f["rewards_eur"])
    np.testing.assert_allclose(f["operating_profit_eur"], f["gross_profit_eur"] - f["operating_costs_eur"])


@pytest.mark.parametrize("column", RATE_COLUMNS)
def test_rates_stay_in_unit_interval(small_frame, column):
    values = small_frame[column].dropna()
    assert ((values >= 0) & (values <= 1)).all(), column


def test_shares_sum_to_one(small_frame):
    rows = small_frame[small_frame["retailer"] != ALL]
    np.testing.assert_allclose(rows.groupby("week")["revenue_share"].sum(), 1.0)
    np.testing.assert_allclose(rows.groupby("week")["customer_share"].sum(), 1.0)


def test_annual_metrics_are_measured(small_frame):
    market = small_frame[small_frame["retailer"] == ALL]
    assert market["attrition_rate"].notna().sum() >= 5  # weeks 52, 65, 78, 91, 104
    assert market.loc[market["week"] == 104, "main_switching_rate"].notna().all()


def test_every_column_is_documented(small_frame):
    docs = column_docs()
    assert set(small_frame.columns) == set(docs)
    assert all(docs.values())


def _parquet_bytes(model) -> bytes:
    buf = io.BytesIO()
    model.metrics.to_frame().to_parquet(buf, index=False)
    return buf.getvalue()


def test_same_seed_same_bytes_other_seed_differs():
    def run(seed):
        m = RetailMarket(small_scenario(steps=30), seed=seed)
        m.run()
        return _parquet_bytes(m)

    first, again, other = run(3), run(3), run(4)
    assert first == again
    assert first != other


def test_flat_keywords_and_batch_run():
    results = mesa.batch_run(RetailMarket, parameters={"consumers_n": 300, "steps": 6, "choice_inertia": [0.0, 6.0]},
                             rng=[11], max_steps=6, display_progress=False, number_processes=1)
    frame = pd.DataFrame(results)
    assert len(frame) == 2
    assert {"vacancy_rate", "online_share_all", "choice_inertia"} <= set(frame.columns)


def test_consumer_view_reads_the_arrays(small_run):
    pop = small_run.population
    shopper = int(np.flatnonzero(pop.last_retailer >= 0)[0])
    view = Consumer(small_run, shopper)
    assert view.last_retailer == small_run.retailer_names[pop.last_retailer[shopper]]
    rel = view.relationship(view.last_retailer)
    assert rel["weeks_since_purchase"] >= 0
    assert view.total_spent_eur == pytest.approx(pop.total_spent_eur[shopper])
    assert "Consumer(index=" in repr(view)
    view.remove()
    with pytest.raises(IndexError):
        Consumer(small_run, pop.n)


def test_budgets_follow_the_pareto_rule():
    m = RetailMarket(small_scenario(**{"consumers.n": 40_000, "steps": 1}), seed=1)
    budget = np.sort(m.population.budget_eur)[::-1]
    top = budget[: len(budget) // 5].sum() / budget.sum()
    assert top == pytest.approx(0.8, abs=0.03)
    assert lognormal_sigma_for_top20(0.8) == pytest.approx(1.683, abs=1e-3)


def test_losing_stores_close_and_leave_vacant_sites():
    # stores that cannot cover their costs: huge staff cost, closure after one bad review
    scenario = small_scenario(**{"stores.staff_eur_m2_year": 5000.0, "stores.loss_reviews": 1,
                                 "stores.min_age_weeks": 13, "steps": 40})
    m = RetailMarket(scenario, seed=2)
    vacant_before = (m.site_store < 0).sum()
    m.run()
    assert m.closures
    assert (m.site_store < 0).sum() == vacant_before + len(m.closures)
    assert all(not s.is_open for s in m.stores if s.closed_week is not None)


def test_never_policy_keeps_stores():
    scenario = small_scenario(**{"stores.staff_eur_m2_year": 5000.0, "stores.closure": "never", "steps": 40})
    m = RetailMarket(scenario, seed=2)
    m.run()
    assert not m.closures


def test_less_inertia_more_switching():
    def switching(inertia):
        m = RetailMarket(small_scenario(**{"choice.inertia": inertia, "steps": 104}), seed=5)
        m.run()
        return m.main_switching_rate

    assert switching(0.0) > switching(6.0) + 0.02


def test_online_friction_lowers_online_share():
    def online(friction):
        m = RetailMarket(small_scenario(**{"choice.online_friction_mean": friction, "steps": 26}), seed=5)
        m.run()
        f = m.metrics.to_frame()
        rows = f[f["retailer"] == ALL]
        return rows["revenue_online_eur"].sum() / rows["revenue_eur"].sum()

    assert online(-1.0) > online(2.0)


def test_strategy_reprs(small_run):
    for r in small_run.retailers:
        assert r.name in repr(r.strategy)
        assert r.strategy.name in repr(r)


def test_nearest_stores_after_closures_match_a_full_recomputation():
    scenario = small_scenario(**{"stores.staff_eur_m2_year": 3000.0, "stores.loss_reviews": 1,
                                 "stores.min_age_weeks": 13, "steps": 40})
    m = RetailMarket(scenario, seed=2)
    m.run()
    assert m.closures
    km, slot = m.nearest_km.copy(), m.nearest_slot.copy()
    m._update_store_geography()
    np.testing.assert_array_equal(slot, m.nearest_slot)
    np.testing.assert_array_equal(km, m.nearest_km)


def test_rationalise_closes_the_worst_loss_makers_at_year_ends_only():
    scenario = small_scenario(**{"stores.closure": "rationalise", "stores.rationalise_share": 0.5,
                                 "stores.staff_eur_m2_year": 3000.0, "stores.min_age_weeks": 13, "steps": 104})
    m = RetailMarket(scenario, seed=2)
    m.run()
    assert m.closures
    assert {c["week"] for c in m.closures} <= {52, 104}
    for r in m.retailers:  # at most half of a retailer's stores at each year end
        for week in (52, 104):
            n = sum(1 for c in m.closures if c["retailer"] == r.name and c["week"] == week)
            assert n <= len(r.stores) // 2


def test_online_shift_closes_a_store_per_step_of_online_share():
    scenario = small_scenario(**{"stores.closure": "online_shift", "stores.online_shift_step": 0.05,
                                 "stores.min_age_weeks": 0, "choice.online_friction_mean": -2.0, "steps": 52})
    m = RetailMarket(scenario, seed=2)
    m.run()
    for r in m.retailers:
        closed = sum(1 for c in m.closures if c["retailer"] == r.name)
        assert closed <= r.online_steps_acted
        assert r.online_steps_acted == int(r.trailing_online_share() / 0.05) or closed == len(r.stores)
    assert m.closures


def test_access_measures_follow_closures():
    m = RetailMarket(small_scenario(steps=2), seed=1)
    before = dict(m.access)
    for store in list(m.open_stores)[:-1]:  # close all but one store
        m._close_store(store, reason="test")
    m._update_store_geography([s for s in m.stores if not s.is_open])
    assert m.access["mean_nearest_store_km"] > before["mean_nearest_store_km"]
    assert m.access["share_no_store_nearby"] >= before["share_no_store_nearby"]


def test_landlords_cut_asking_rent_while_vacant_down_to_the_floor():
    m = RetailMarket(small_scenario(steps=104), seed=1)
    vacant = np.flatnonzero(m.site_store < 0)
    assert len(vacant)
    m.run()
    still = vacant[m.site_store[vacant] < 0]
    base = m.region.site_rent_eur_m2_year[still]
    cfg = m.config.stores
    expected = np.maximum(base * (1 - cfg.rent_cut_per_review) ** 8, cfg.rent_floor_share * base)
    np.testing.assert_allclose(m.asking_rent[still], expected)


def test_entry_opens_stores_on_vacant_sites_when_it_pays():
    scenario = small_scenario(**{"stores.entry": True, "stores.entry_hurdle": 0.0, "region.n_sites": 24,
                                 "steps": 78})
    m = RetailMarket(scenario, seed=1)
    n_before = len(m.stores)
    m.run()
    opened = [e for e in m.events if e["event"].startswith("opened a store")]
    assert opened and len(m.stores) == n_before + len(opened)
    km, slot = m.nearest_km.copy(), m.nearest_slot.copy()
    m._update_store_geography()
    np.testing.assert_array_equal(slot, m.nearest_slot)
    np.testing.assert_array_equal(km, m.nearest_km)
    no_entry = RetailMarket(small_scenario(**{"region.n_sites": 24, "steps": 78}), seed=1)
    no_entry.run()
    assert len(no_entry.stores) == n_before
