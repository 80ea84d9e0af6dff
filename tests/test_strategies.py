"""Strategies: one contract every strategy passes, and each one's rule pinned against scripted moves."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sim.model import RetailMarket
from sim.settle import take_slots
from sim.strategies import STRATEGIES
from sim.strategies.loyalty import GIFT_NONE, GIFT_OFFERED, GIFT_PENDING

from .conftest import small_scenario


def market_with(strategy: str, steps: int = 30, **overrides) -> RetailMarket:
    """The small market with every retailer following ``strategy``."""
    sets = {f"retailers.{i}.strategy": strategy for i in range(3)}
    return RetailMarket(small_scenario(steps=steps, **sets, **overrides), seed=11)


def slots(model, r, who):
    """Her repertoire slot for retailer ``r`` (index), taken now for those new to it."""
    who = np.asarray(who, dtype=np.intp)
    pop = model.population
    slot = pop.slot_of(who, r)
    new = slot < 0
    if new.any():
        slot[new] = take_slots(pop, model.stranger, who[new], np.full(new.sum(), r))[0]
        model.consider.repoint(who[new])  # the slots changed outside the settlement
        model.ledger.rebuild(model.week)
    return slot


def sell(model, retailer, buyers, channel, paid):
    """Scripted purchases from ``retailer`` (a Retailer), handed to its strategy as the week would."""
    buyers = np.asarray(buyers, dtype=np.intp)
    week = SimpleNamespace(buyers=buyers, slot=slots(model, retailer.index, buyers),
                           retailer=np.full(len(buyers), retailer.index), channel=np.asarray(channel, dtype=np.int8),
                           paid_eur=np.asarray(paid, dtype=float))
    type(retailer.strategy).after_sales(model, [retailer], week, np.arange(len(buyers)))


def weekly(model, retailer, week):
    type(retailer.strategy).weekly(model, [retailer], week, np.zeros(len(model.retailers), dtype=np.int64))


def value(model, name, r, who):
    """Slot attribute ``name`` of retailer ``r`` for consumers ``who`` (they must hold a slot)."""
    who = np.atleast_1d(np.asarray(who, dtype=np.intp))
    slot = model.population.slot_of(who, r)
    assert (slot >= 0).all()
    return getattr(model.population, name)[who, slot]


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
    customers = model.active_customers(r.index)
    forgotten, others = customers[::2], customers[1::2]
    history = {a: getattr(pop, a).copy() for a in ("slot_retailer", "last_week", "since_week", "habit",
                                                   "spend_year")}
    before = {a: value(model, a, r.index, others).copy() for a in ("knowledge", "points", "extra_utility")}
    model.forget(r.name, forgotten)
    assert (value(model, "knowledge", r.index, forgotten) == 0).all()
    assert (value(model, "points", r.index, forgotten) == 0).all()
    for a, values in history.items():  # her history is hers
        np.testing.assert_array_equal(getattr(pop, a), values)
    for a, values in before.items():
        np.testing.assert_array_equal(value(model, a, r.index, others), values)


def _run_forgetting(strategy: str, forget: bool) -> pd.DataFrame:
    model = market_with(strategy, steps=40)
    while model.running:
        model.step()
        if forget and model.week == 12:
            for r in model.retailers:
                model.forget(r.name, model.active_customers(r.index)[::2])
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
    last = model.population.of_retailer("last_week", r.index, fill=-10**6)
    customers = (model.week + 1 - last) < window
    row = model.terms_of(r.index)[0]
    assert customers.any() and (row[customers] == 0).all()
    assert (row[~customers] > 0).all()


# ---- loyalty -------------------------------------------------------------------------------

def test_loyalty_pays_a_voucher_at_the_threshold_and_keeps_the_rest():
    model = market_with("loyalty")
    s, pop = model.retailers[0].strategy, model.population
    p = s.params
    q = slots(model, s.r, [0])[0]
    pop.points[0, q] = p.redeem_threshold_points - 10
    pop.tier[0, q] = 0
    before = model.retailers[0].accounts.rewards
    sell(model, model.retailers[0], [0], [0], [100.0])  # earns 100 points at the base rate
    assert pop.points[0, q] == pytest.approx(90.0)
    voucher = p.redeem_threshold_points * p.eur_per_point
    assert model.retailers[0].accounts.rewards - before == pytest.approx(voucher)


def test_loyalty_forgetting_forfeits_the_points_balance_and_its_pull():
    model = market_with("loyalty", steps=20)
    model.run()
    s, pop = model.retailers[0].strategy, model.population
    holders = np.flatnonzero(pop.of_retailer("points", s.r) > 0)[:5]
    assert len(holders) and (value(model, "extra_utility", s.r, holders) > 0).all()
    tiers = pop.tier.copy()
    model.forget(model.retailers[0].name, holders)
    assert (value(model, "points", s.r, holders) == 0).all()
    assert (value(model, "extra_utility", s.r, holders) == 0).all()
    np.testing.assert_array_equal(pop.tier, tiers)  # ranked from this year's spend at each review


def test_loyalty_tiers_give_the_top_customers_the_bigger_bonus():
    model = market_with("loyalty", steps=26)
    model.run()
    s, pop = model.retailers[0].strategy, model.population
    spend, tier = pop.of_retailer("spend_year", s.r), pop.of_retailer("tier", s.r)
    top, bottom = spend[tier == 2], spend[(tier == 0) & (spend > 0)]
    assert len(top) and len(bottom) and top.min() >= bottom.max()
    rate = model.terms_of(s.r)[1]
    assert rate[tier == 2].min() > rate[tier == 1].max() > rate[tier == 0].max()


def test_unconditional_gift_is_paid_to_a_newcomer_and_offered_again_after_a_year_away():
    model = market_with("loyalty", **{"strategies.loyalty.welcome": "unconditional"})
    model.step()  # week 1: the offer opens
    retailer = model.retailers[0]
    s, pop = retailer.strategy, model.population
    held = pop.slot_retailer == s.r
    assert held.any() and (pop.gift[held] == GIFT_NONE).all()  # this year's customers are not new
    newcomer = int(np.flatnonzero(~held.any(axis=1))[0])  # a stranger: offered the gift
    assert model.stranger.gift_state[s.r] == GIFT_OFFERED
    q = slots(model, s.r, [newcomer])[0]
    assert pop.gift[newcomer, q] == GIFT_OFFERED
    before = retailer.accounts.rewards
    pop.last_week[newcomer, q] = 2
    sell(model, retailer, [newcomer], [0], [50.0])
    assert pop.gift[newcomer, q] == GIFT_NONE
    paid = retailer.accounts.rewards - before
    gift = s.params.welcome_eur * model.config.consumers.households_per_agent
    assert paid == pytest.approx(gift, rel=1e-9)  # far from a voucher, so the gift is the only reward
    sell(model, retailer, [newcomer], [0], [50.0])
    assert retailer.accounts.rewards - before == pytest.approx(gift, rel=1e-9)  # one gift a stay
    away = 2 + s.params.welcome_after_weeks
    weekly(model, retailer, away - 1)
    assert pop.gift[newcomer, q] == GIFT_NONE
    pull_as_customer = float(pop.extra_utility[newcomer, q])
    weekly(model, retailer, away)  # a year without buying here: new again
    assert pop.gift[newcomer, q] == GIFT_OFFERED
    assert pop.extra_utility[newcomer, q] > pull_as_customer


def test_vesting_gift_is_paid_only_to_those_who_stay():
    model = market_with("loyalty", **{"strategies.loyalty.welcome": "vesting",
                                      "strategies.loyalty.welcome_vesting_weeks": 4})
    model.step()
    retailer = model.retailers[0]
    s, pop = retailer.strategy, model.population
    stay, leave = (int(i) for i in np.flatnonzero(~(pop.slot_retailer == s.r).any(axis=1))[:2])
    sell(model, retailer, [stay, leave], [0, 0], [1.0, 1.0])
    q = slots(model, s.r, [stay, leave])
    assert (pop.gift[[stay, leave], q] == GIFT_PENDING).all()
    pop.last_week[stay, q[0]] = 6  # still a customer when the gift falls due
    pop.last_week[leave, q[1]] = -100  # gone
    retailer.accounts.clear()
    weekly(model, retailer, 6)
    assert (pop.gift[[stay, leave], q] == GIFT_NONE).all()
    gift = s.params.welcome_eur * model.config.consumers.households_per_agent
    assert model.retailers[0].accounts.rewards == pytest.approx(gift)


# ---- learning ------------------------------------------------------------------------------

def test_learning_learns_faster_online_decays_without_contact_and_fit_is_concave():
    model = market_with("learning")
    retailer = model.retailers[0]
    s, pop = retailer.strategy, model.population
    low = np.flatnonzero(pop.value_tier == 0)[:2]
    q = slots(model, s.r, low)
    pop.knowledge[low, q] = 0.0
    sell(model, retailer, low, [0, 1], [1.0, 1.0])
    k_store, k_online = pop.knowledge[low, q]
    assert k_online > k_store > 0
    assert pop.extra_utility[low[1], q[1]] == pytest.approx(s.personal_fit(np.array([k_online]))[0])
    before = pop.knowledge[low, q].copy()
    weekly(model, retailer, 2)
    assert (pop.knowledge[low, q] < before).all()
    fit = s.personal_fit(np.array([0.0, 0.25, 0.5, 0.75, 1.0], dtype=np.float32))
    gains = np.diff(fit)
    assert fit[0] == 0 and fit[-1] == pytest.approx(s.params.fit_max, rel=1e-6)
    assert (gains > 0).all() and (np.diff(gains) < 0).all()


def test_learning_forgetting_takes_away_the_personal_fit_and_customers_leave():
    model = market_with("learning", steps=20)
    model.run()
    s = model.retailers[0].strategy
    customers = model.active_customers(s.r)
    assert (value(model, "extra_utility", s.r, customers) > 0).all()
    model.forget(model.retailers[0].name, customers)
    assert (value(model, "knowledge", s.r, customers) == 0).all()
    assert (value(model, "extra_utility", s.r, customers) == 0).all()
    assert not _run_forgetting("learning", True).equals(_run_forgetting("learning", False))
    lost = {forget: _run_forgetting("learning", forget).query("retailer != 'all' and week > 12")["n_lost"].sum()
            for forget in (True, False)}
    assert lost[True] > lost[False]


def test_learning_invests_more_in_high_value_customers():
    model = market_with("learning")
    s, pop = model.retailers[0].strategy, model.population
    top = int(np.flatnonzero(pop.value_tier == 2)[0])
    low = int(np.flatnonzero(pop.value_tier == 0)[0])
    q = slots(model, s.r, [top, low])
    pop.knowledge[[top, low], q] = 0.0
    sell(model, model.retailers[0], [top, low], [0, 0], [1.0, 1.0])
    assert pop.knowledge[top, q[0]] > pop.knowledge[low, q[1]]


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
