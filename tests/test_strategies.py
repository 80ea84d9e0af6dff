"""Strategies: one contract every strategy passes, and each one's rule pinned against scripted moves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.consumers import NEVER
from sim.model import RetailMarket
from sim.strategies import STRATEGIES
from sim.strategies.loyalty import GIFT_NONE, GIFT_OFFERED, GIFT_PENDING

from .conftest import small_scenario


def market_with(strategy: str, steps: int = 30, **overrides) -> RetailMarket:
    """The small market with every retailer following ``strategy``."""
    sets = {f"retailers.{i}.strategy": strategy for i in range(3)}
    return RetailMarket(small_scenario(steps=steps, **sets, **overrides), seed=11)


# ---- the contract ------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_contract_construction_and_repr(name):
    model = market_with(name)
    for r in model.retailers:
        assert r.strategy.name == name
        assert isinstance(r.strategy, STRATEGIES[name])
        assert name in repr(r) and r.name in repr(r.strategy)
        assert r.strategy.__doc__ and "Source" in r.strategy.__doc__


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_contract_determinism_under_a_seed(name):
    frames = []
    for _ in range(2):
        model = market_with(name)
        model.run()
        frames.append(model.metrics.to_frame())
    pd.testing.assert_frame_equal(*frames, check_exact=True)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_contract_accounts_add_up(name):
    model = market_with(name, steps=40)
    model.run()
    f = model.metrics.to_frame()
    rows = f[f["retailer"] != "all"]
    np.testing.assert_allclose(rows["gross_profit_eur"], rows["revenue_eur"] - rows["cogs_eur"] - rows["rewards_eur"])
    np.testing.assert_allclose(rows["operating_profit_eur"], rows["gross_profit_eur"] - rows["operating_costs_eur"])
    assert (rows["operating_costs_eur"] > 0).all()
    assert model.population.total_spent_eur.sum() == pytest.approx(rows["revenue_eur"].sum(), rel=1e-9)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_contract_forgetting_erases_what_the_relationship_built_and_nothing_else(name):
    model = market_with(name, steps=20)
    model.run()
    r, pop = model.retailers[0], model.population
    customers = np.flatnonzero(model.active_mask()[r.index])
    forgotten, others = customers[::2], customers[1::2]
    history = {a: getattr(pop, a).copy() for a in ("last_week", "since_week", "habit", "spend_year")}
    before = {a: getattr(pop, a)[r.index, others].copy() for a in ("knowledge", "points")}
    before["extra_utility"] = pop.extra_utility[others, r.index].copy()
    model.forget(r.name, forgotten)
    assert (pop.knowledge[r.index, forgotten] == 0).all() and (pop.points[r.index, forgotten] == 0).all()
    for a, values in history.items():  # her history is hers
        np.testing.assert_array_equal(getattr(pop, a), values)
    np.testing.assert_array_equal(pop.knowledge[r.index, others], before["knowledge"])
    np.testing.assert_array_equal(pop.points[r.index, others], before["points"])
    np.testing.assert_array_equal(pop.extra_utility[others, r.index], before["extra_utility"])


def _run_forgetting(strategy: str, forget: bool) -> pd.DataFrame:
    model = market_with(strategy, steps=40)
    while model.running:
        model.step()
        if forget and model.week == 12:
            for r in model.retailers:
                model.forget(r.name, np.flatnonzero(model.active_mask()[r.index])[::2])
    return model.metrics.to_frame()


# ---- mass ----------------------------------------------------------------------------------

def test_mass_holds_nothing_per_customer_forgetting_half_its_customers_changes_nothing():
    pd.testing.assert_frame_equal(_run_forgetting("mass", True), _run_forgetting("mass", False), check_exact=True)


def test_mass_cuts_markup_toward_the_floor_when_share_falls_and_wins_back_half():
    model = market_with("mass")
    r = model.retailers[0]
    p, start = r.strategy.params, r.markup
    r.strategy.review(share_now=0.20, share_before=0.30, pop=model.population, week=13)
    assert r.markup == pytest.approx(start - p.markup_step)
    for _ in range(100):
        r.strategy.review(share_now=0.10, share_before=0.30, pop=model.population, week=26)
    assert r.markup == pytest.approx(p.markup_floor)
    r.strategy.review(share_now=0.40, share_before=0.30, pop=model.population, week=39)
    assert r.markup == pytest.approx(p.markup_floor + p.markup_step / 2)
    r.strategy.review(share_now=0.30, share_before=0.30, pop=model.population, week=52)  # steady: hold
    assert r.markup == pytest.approx(p.markup_floor + p.markup_step / 2)


def test_mass_promotes_only_to_non_customers():
    model = market_with("mass")
    model.step()
    r = model.retailers[0]
    window = model.config.choice.active_window_weeks
    # the row is kept for the next week's shopping: who will still be a customer then
    customers = (model.week + 1 - model.population.last_week[r.index]) < window
    row = model.population.extra_utility[:, r.index]
    assert (row[customers] == 0).all()
    assert (row[~customers] > 0).all()


# ---- loyalty -------------------------------------------------------------------------------

def test_loyalty_pays_a_voucher_at_the_threshold_and_keeps_the_rest():
    model = market_with("loyalty")
    s, pop = model.retailers[0].strategy, model.population
    p = s.params
    buyer = np.array([0])
    pop.points[s.r, 0] = p.redeem_threshold_points - 10
    s.tier[0] = 0
    before = model.retailers[0].accounts.rewards
    spend = np.array([100.0])  # earns 100 points at the base rate
    s.after_sales(pop, buyer, np.array([0], dtype=np.int8), spend, week=5)
    assert pop.points[s.r, 0] == pytest.approx(90.0)
    voucher = p.redeem_threshold_points * p.eur_per_point
    assert model.retailers[0].accounts.rewards - before == pytest.approx(voucher)


def test_loyalty_forgetting_forfeits_the_points_balance_and_its_pull():
    model = market_with("loyalty", steps=20)
    model.run()
    s, pop = model.retailers[0].strategy, model.population
    holders = np.flatnonzero(pop.points[s.r] > 0)[:5]
    assert len(holders) and (s.utility_row[holders] > 0).all()
    tiers = s.tier.copy()
    model.forget(model.retailers[0].name, holders)
    assert (pop.points[s.r, holders] == 0).all() and (s.utility_row[holders] == 0).all()
    np.testing.assert_array_equal(s.tier, tiers)  # ranked from this year's spend at each review


def test_loyalty_tiers_give_the_top_customers_the_bigger_bonus():
    model = market_with("loyalty", steps=26)
    model.run()
    s = model.retailers[0].strategy
    spend = model.population.spend_year[s.r]
    top, bottom = spend[s.tier == 2], spend[(s.tier == 0) & (spend > 0)]
    assert len(top) and len(bottom) and top.min() >= bottom.max()
    rate = s.discount_row
    assert rate[s.tier == 2].min() > rate[s.tier == 1].max() > rate[s.tier == 0].max()


def test_unconditional_gift_is_paid_to_a_newcomer_and_offered_again_after_a_year_away():
    model = market_with("loyalty", **{"strategies.loyalty.welcome": "unconditional"})
    model.step()  # week 1: the offer opens
    s, pop = model.retailers[0].strategy, model.population
    assert (s.gift[pop.last_week[s.r] > NEVER] == GIFT_NONE).all()  # this year's customers are not new
    newcomer = int(np.flatnonzero(s.gift == GIFT_OFFERED)[0])
    pop.points[s.r, newcomer] = 0.0  # far from a voucher, so the gift is the only reward
    before = model.retailers[0].accounts.rewards
    pop.last_week[s.r, newcomer] = 2
    s.after_sales(pop, np.array([newcomer]), np.array([0], dtype=np.int8), np.array([50.0]), week=2)
    assert s.gift[newcomer] == GIFT_NONE
    paid = model.retailers[0].accounts.rewards - before
    gift = s.params.welcome_eur * model.config.consumers.households_per_agent
    assert paid == pytest.approx(gift, rel=1e-9)
    s.after_sales(pop, np.array([newcomer]), np.array([0], dtype=np.int8), np.array([50.0]), week=3)
    assert model.retailers[0].accounts.rewards - before == pytest.approx(gift, rel=1e-9)  # one gift a stay
    away = 2 + s.params.welcome_after_weeks
    s.weekly(pop, week=away - 1, n_active=0)
    assert s.gift[newcomer] == GIFT_NONE
    pull_as_customer = float(s.utility_row[newcomer])
    s.weekly(pop, week=away, n_active=0)  # a year without buying here: new again
    assert s.gift[newcomer] == GIFT_OFFERED
    assert s.utility_row[newcomer] > pull_as_customer


def test_vesting_gift_is_paid_only_to_those_who_stay():
    model = market_with("loyalty", **{"strategies.loyalty.welcome": "vesting",
                                      "strategies.loyalty.welcome_vesting_weeks": 4})
    model.step()
    s, pop = model.retailers[0].strategy, model.population
    stay, leave = (int(i) for i in np.flatnonzero(s.gift == GIFT_OFFERED)[:2])
    s.after_sales(pop, np.array([stay, leave]), np.array([0, 0], dtype=np.int8), np.array([1.0, 1.0]), week=2)
    assert s.gift[stay] == s.gift[leave] == GIFT_PENDING
    pop.last_week[s.r, stay] = 6  # still a customer when the gift falls due
    pop.last_week[s.r, leave] = -100  # gone
    model.retailers[0].accounts.clear()
    s.weekly(pop, week=6, n_active=0)
    assert s.gift[stay] == s.gift[leave] == GIFT_NONE
    gift = s.params.welcome_eur * model.config.consumers.households_per_agent
    assert model.retailers[0].accounts.rewards == pytest.approx(gift)


# ---- learning ------------------------------------------------------------------------------

def test_learning_learns_faster_online_decays_without_contact_and_fit_is_concave():
    model = market_with("learning")
    s, pop = model.retailers[0].strategy, model.population
    low = np.flatnonzero(pop.value_tier == 0)[:2]
    pop.knowledge[s.r, low] = 0.0
    s.after_sales(pop, low, np.array([0, 1], dtype=np.int8), np.array([1.0, 1.0]), week=1)
    k_store, k_online = pop.knowledge[s.r, low]
    assert k_online > k_store > 0
    assert pop.extra_utility[low[1], s.r] == pytest.approx(s.personal_fit(np.array([k_online]))[0])
    before = pop.knowledge[s.r, low].copy()
    s.weekly(pop, week=2, n_active=0)
    assert (pop.knowledge[s.r, low] < before).all()
    fit = s.personal_fit(np.array([0.0, 0.25, 0.5, 0.75, 1.0], dtype=np.float32))
    gains = np.diff(fit)
    assert fit[0] == 0 and fit[-1] == pytest.approx(s.params.fit_max, rel=1e-6)
    assert (gains > 0).all() and (np.diff(gains) < 0).all()


def test_learning_forgetting_takes_away_the_personal_fit_and_customers_leave():
    model = market_with("learning", steps=20)
    model.run()
    s, pop = model.retailers[0].strategy, model.population
    customers = np.flatnonzero(model.active_mask()[s.r])
    assert (s.utility_row[customers] > 0).all()
    model.forget(model.retailers[0].name, customers)
    assert (pop.knowledge[s.r, customers] == 0).all() and (s.utility_row[customers] == 0).all()
    assert not _run_forgetting("learning", True).equals(_run_forgetting("learning", False))
    lost = {forget: _run_forgetting("learning", forget).query("retailer != 'all' and week > 12")["n_lost"].sum()
            for forget in (True, False)}
    assert lost[True] > lost[False]


def test_learning_invests_more_in_high_value_customers():
    model = market_with("learning")
    s, pop = model.retailers[0].strategy, model.population
    top = int(np.flatnonzero(pop.value_tier == 2)[0])
    low = int(np.flatnonzero(pop.value_tier == 0)[0])
    pop.knowledge[s.r, [top, low]] = 0.0
    s.after_sales(pop, np.array([top, low]), np.array([0, 0], dtype=np.int8), np.array([1.0, 1.0]), week=1)
    assert pop.knowledge[s.r, top] > pop.knowledge[s.r, low]


def test_rivals_copy_a_programme_whose_share_gain_clears_the_threshold_and_only_then():
    def run(points_gain):
        scenario = small_scenario(steps=104, **{"strategies.loyalty.copy_probability": 1.0,
                                                "strategies.loyalty.copy_lag_weeks": 13,
                                                "strategies.loyalty.copy_share_gain": 0.01})
        model = RetailMarket(scenario, seed=3)
        owner = model.retailer_index("Points")
        # scripted market: the programme's owner gains this much share at every review, nobody else any
        gains = np.where(np.arange(len(model.retailers)) == owner, points_gain, 0.0)
        model.metrics.revenue_share_gain = lambda weeks: gains
        model.run()
        return model

    assert not any("cop" in e["event"] for e in run(0.005).events)  # below the threshold: nobody copies
    model = run(0.02)
    assert any("copied" in e["event"] for e in model.events)
    assert model.retailers[0].strategy.name == "loyalty"  # the mass retailer launched a programme
    frame = model.metrics.to_frame()
    assert set(frame.loc[frame["retailer"] == model.retailers[0].name, "strategy"]) == {"mass", "loyalty"}
