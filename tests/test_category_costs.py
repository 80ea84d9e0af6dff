"""Store running costs by category: a category's staff and fixed costs are what its stores pay, an unset
category falls back to the stores' defaults bit for bit, a dearer trade opens fewer independents and/or
closes more, and the schema refuses bad values with what is allowed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.model import RetailMarket
from sim.scenario import ScenarioError, load, validate
from sim.stores import running_costs

from .conftest import SCENARIOS
from .test_categories import three_categories

SERVICES = 2  # the index of services in three_categories and in highstreet_categories.toml


def _priced(staff: float | None = 400.0, fixed: float | None = 55_000.0, **overrides) -> dict:
    """Three trades where services set their own staff cost and convenience its own fixed cost."""
    raw = three_categories(**overrides)
    raw["categories"][SERVICES]["staff_eur_m2_year"] = staff
    raw["categories"][0]["fixed_eur_year"] = fixed
    return raw


def test_a_categorys_costs_are_what_its_stores_pay():
    # the stores' defaults differ from the categories' own, so a store paying the wrong ones would show
    model = RetailMarket(validate(_priced(**{"steps": 30, "stores.staff_eur_m2_year": 90.0}), "test"), seed=4)
    stores = model.config.stores
    assert running_costs(model, SERVICES) == (400.0, stores.fixed_eur_year)
    assert running_costs(model, 0) == (90.0, 55_000.0)
    assert running_costs(model, 1) == (90.0, stores.fixed_eur_year)
    checked = set()
    for _ in range(30):
        # stores pay before the review, so the ones that pay this week are the ones open now
        paying = {r.index: list(r.open_stores) for r in model.retailers}
        model.step()
        for r in model.retailers:
            staff_m2, fixed_year = running_costs(model, int(model.retailer_category[r.index]))
            shops = paying[r.index]
            assert r.accounts.staff == pytest.approx(sum(s.floor_area_m2 * staff_m2 / 52.0 for s in shops), rel=1e-12)
            assert r.accounts.store_fixed == pytest.approx(len(shops) * fixed_year / 52.0, rel=1e-12)
            if shops:
                checked.add(int(model.retailer_category[r.index]))
    assert checked == {0, 1, SERVICES}
    # and the books still add up: what consumers paid is what retailers booked, profit is what is left
    frame = model.metrics.to_frame()
    shops = frame[frame["retailer"] != "all"]
    assert np.isclose(model.population.total_spent_eur.sum(), shops["revenue_eur"].sum(), rtol=1e-9)
    np.testing.assert_allclose(frame["operating_profit_eur"], frame["revenue_eur"] - frame["cogs_eur"]
                               - frame["rewards_eur"] - frame["operating_costs_eur"])


@pytest.mark.parametrize("explicit", ["none", "the_defaults"])
def test_an_unset_category_cost_is_the_stores_default_bit_for_bit(explicit):
    plain = three_categories(steps=40)
    stores = validate(plain, "test").stores
    staff, fixed = (None, None) if explicit == "none" else (stores.staff_eur_m2_year, stores.fixed_eur_year)
    raw = three_categories(steps=40)
    for category in raw["categories"]:
        category.update(staff_eur_m2_year=staff, fixed_eur_year=fixed)
    a = RetailMarket(validate(plain, "test"), seed=6)
    b = RetailMarket(validate(raw, "test"), seed=6)
    a.run()
    b.run()
    pd.testing.assert_frame_equal(a.metrics.to_frame(), b.metrics.to_frame())


SMALL_TRADES = {"consumers.n": 3000, "consumers.households_per_agent": 2.0, "steps": 104, "region.n_towns": 3,
                "region.n_sites": 150, "region.width_km": 25.0, "region.height_km": 25.0,
                "independents.pool_size": 120, "retailers.ValueMart.n_stores": 4, "retailers.CardCo.n_stores": 5,
                "retailers.KnowYou.n_stores": 4, "retailers.QuickStop.n_stores": 5, "retailers.BigBox.n_stores": 2,
                "retailers.BeanCo.n_stores": 4}


def _services_independents(staff_eur_m2_year: float) -> tuple[int, int]:
    """Openings and closures of services independents' shops in two years of the three-trade high street."""
    scenario = load(SCENARIOS / "highstreet_categories.toml",
                    {**SMALL_TRADES, "categories.services.staff_eur_m2_year": staff_eur_m2_year})
    model = RetailMarket(scenario, seed=3)
    model.run()
    shops = [s for s in model.stores if s.retailer.independent
             and model.retailer_category[s.retailer.index] == SERVICES]
    return sum(s.opened_week > 0 for s in shops), sum(s.closed_week is not None for s in shops)


def test_a_dearer_trade_opens_fewer_independents_or_closes_more():
    assert load(SCENARIOS / "highstreet_categories.toml", SMALL_TRADES).categories[SERVICES].name == "services"
    base_open, base_closed = _services_independents(150.0)
    dear_open, dear_closed = _services_independents(600.0)
    assert dear_open <= base_open and dear_closed >= base_closed
    assert dear_open < base_open or dear_closed > base_closed


@pytest.mark.parametrize(("field", "value", "message"), [
    ("staff_eur_m2_year", -1.0, "greater than or equal to 0; allowed: ≥ 0, ≤ 20000"),
    ("staff_eur_m2_year", 1e9, "less than or equal to 20000; allowed: ≥ 0, ≤ 20000"),
    ("staff_eur_m2_year", "dear", "a valid number, not text; allowed: ≥ 0, ≤ 20000"),
    ("staff_eur_m2_year", float("nan"), "finite number; allowed: ≥ 0, ≤ 20000"),
    ("fixed_eur_year", -5.0, "greater than or equal to 0; allowed: ≥ 0, ≤ 1e\\+08"),
    ("fixed_eur_year", True, "a valid number, not true/false"),
])
def test_bad_category_costs_are_refused_with_what_is_allowed(field, value, message):
    raw = three_categories()
    raw["categories"][SERVICES][field] = value
    with pytest.raises(ScenarioError, match=f"categories.{SERVICES}.{field}: .*{message}"):
        validate(raw, "test")


def test_a_chain_with_a_staff_share_pays_that_share_of_each_stores_sales_and_the_rest_pay_per_m2():
    raw = three_categories(steps=30)
    raw["retailers"][3]["staff_share_of_sales"] = 0.2  # Wardrobe, a comparison chain
    model = RetailMarket(validate(raw, "test"), seed=4)
    wardrobe = model.retailers[3]
    paid = 0
    for _ in range(30):
        paying = {r.index: list(r.open_stores) for r in model.retailers}
        model.step()
        for r in model.retailers:
            shops = paying[r.index]
            if r is wardrobe:
                # this week's store sales, booked before the stores pay
                assert r.accounts.staff == pytest.approx(0.2 * sum(s.revenue for s in shops), rel=1e-12)
                paid += r.accounts.staff > 0
            else:
                staff_m2, _ = running_costs(model, int(model.retailer_category[r.index]))
                assert r.accounts.staff == pytest.approx(sum(s.floor_area_m2 * staff_m2 / 52.0 for s in shops),
                                                         rel=1e-12)
    assert paid >= 25  # it traded (and paid) nearly every week


def test_a_chain_whose_staff_cost_a_larger_share_of_sales_opens_fewer_stores():
    def opened(share: float | None) -> int:
        overrides = dict(SMALL_TRADES)
        scenario = load(SCENARIOS / "highstreet_categories.toml", overrides)
        raw = scenario.model_dump(mode="json")
        for r in raw["retailers"]:
            if not r["independent"]:
                r["staff_share_of_sales"] = share
        model = RetailMarket(validate(raw, "test"), seed=3)
        model.run()
        return sum(s.opened_week > 0 for s in model.stores if not s.retailer.independent)

    cheap, dear = opened(0.02), opened(0.25)
    assert cheap > 0
    assert dear < cheap


@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan")])
def test_a_bad_staff_share_is_refused_with_what_is_allowed(value):
    raw = three_categories()
    raw["retailers"][0]["staff_share_of_sales"] = value
    with pytest.raises(ScenarioError, match=r"retailers\.0\.staff_share_of_sales: .*allowed: ≥ 0, ≤ 1"):
        validate(raw, "test")
