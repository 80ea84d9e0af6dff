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
from sim.scenario import ScenarioError, validate
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
    # stores that traded this week: open ones, and any closed at this week's review
    stores = sum(s.revenue for s in small_run.stores if s.closed_week in (None, small_run.week))
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


def test_a_customer_won_back_within_the_year_counts_as_lost():
    """Annual attrition counts the relationships that broke during the year (DESIGN §3: customers
    lost over the year), so a customer who lapsed and came back is lost, not kept."""
    def attrition_at_52(won_back: int):
        model = RetailMarket(small_scenario(steps=52), seed=5)
        for _ in range(51):
            model.step()
        pop = model.population
        _, who, retailer, _ = model.active_snapshots[0]
        then = who[retailer == 0]
        slot = pop.slot_of(then, 0)
        held = slot >= 0
        continuing = held & (model.week - pop.last_week[then, slot] < 4) & (pop.since_week[then, slot] <= 0)
        # choices never read the start of a relationship, so only the count can change
        pop.since_week[then[continuing][:won_back], slot[continuing][:won_back]] = 40
        model.step()
        return model.attrition_rate[0], len(then)

    kept, n_then = attrition_at_52(0)
    lost_more, _ = attrition_at_52(10)
    assert lost_more - kept == pytest.approx(10 / n_then, rel=1e-9)


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


def _km_from_homes(m, sites) -> np.ndarray:
    """Distances (km) from every consumer's home (rows) to each of ``sites`` (columns)."""
    pop = m.population
    return np.hypot(pop.home_x[:, None] - m.region.site_x[sites][None, :],
                    pop.home_y[:, None] - m.region.site_y[sites][None, :])


def _store_of(m, r: int) -> tuple[np.ndarray, np.ndarray]:
    """Each consumer's store of retailer ``r`` in her consideration set and its distance (−1, inf: none)."""
    sets = m.consider
    hit = sets.store_ret == r
    held = hit.any(axis=1)
    col = hit.argmax(axis=1)
    rows = np.arange(m.population.n)
    return (np.where(held, sets.store_slot[rows, col], -1), np.where(held, sets.store_km[rows, col], np.inf))


def _assert_each_consumer_uses_her_best_open_store(m):
    """Brute force: for every consumer and retailer, the store with the most footfall less travel."""
    pop = m.population
    for r in m.retailers:
        stores = r.open_stores
        used, _ = _store_of(m, r.index)
        if not stores:
            assert (used == -1).all()
            continue
        km = _km_from_homes(m, [s.site for s in stores])
        value = m.slot_pull[[s.slot for s in stores]][None, :] - pop.travel_sens[:, None] * km
        chosen = np.array([s.slot for s in stores])[value.argmax(axis=1)]
        agree = used == chosen
        assert agree.mean() > 0.999  # float32 ties aside
        assert np.isin(used, [s.slot for s in stores]).all()


def test_consumers_use_their_best_open_store_after_closures():
    scenario = small_scenario(**{"stores.staff_eur_m2_year": 3000.0, "stores.loss_reviews": 1,
                                 "stores.min_age_weeks": 13, "steps": 40})
    m = RetailMarket(scenario, seed=2)
    m.run()
    assert m.closures
    _assert_each_consumer_uses_her_best_open_store(m)


def test_footfall_draws_consumers_past_a_retailers_nearest_store():
    m = RetailMarket(small_scenario(steps=1), seed=1)
    nearest = np.zeros(m.population.n, dtype=bool)
    for r in m.retailers:
        if len(r.open_stores) < 2:
            continue
        km = _km_from_homes(m, [s.site for s in r.open_stores])
        used, used_km = _store_of(m, r.index)
        passed = used_km > km.min(axis=1) + 1e-4
        nearest |= passed
        # whoever passes her nearest store does so for a busier one
        foot = dict(zip([s.slot for s in r.open_stores], m.slot_pull[[s.slot for s in r.open_stores]], strict=True))
        nearest_slot = np.array([s.slot for s in r.open_stores])[km.argmin(axis=1)]
        assert all(foot[u] > foot[n] for u, n in zip(used[passed], nearest_slot[passed], strict=True))
    assert nearest.any()
    m = RetailMarket(small_scenario(steps=1, **{"choice.footfall_weight": 0.0}), seed=1)
    for r in m.retailers:  # without footfall everyone uses the nearest store
        sites = [s.site for s in r.open_stores]
        if sites:
            km = _km_from_homes(m, sites)
            np.testing.assert_allclose(_store_of(m, r.index)[1], km.min(axis=1), rtol=1e-5)


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
    m._update_store_geography()
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
    _assert_each_consumer_uses_her_best_open_store(m)
    no_entry = RetailMarket(small_scenario(**{"region.n_sites": 24, "steps": 78}), seed=1)
    no_entry.run()
    assert len(no_entry.stores) == n_before


def _with_waiting_independent(**overrides):
    raw = small_scenario(**{"region.n_sites": 24, "steps": 104, **overrides}).model_dump()
    raw["retailers"].append({"name": "Newcomer", "strategy": "mass", "taste": 0.5, "markup": 0.3,
                             "n_stores": 0, "online": False, "independent": True})
    return validate(raw)


def test_an_independent_waiting_to_open_opens_on_a_vacant_site_when_it_pays():
    # every store scanned, so that each consumer's set holds each retailer's best store for her
    scenario = _with_waiting_independent(**{"stores.entry": True, "stores.entry_hurdle": 0.0,
                                            "municipal.shared_platform": True, "choice.stores_scanned": 100})
    m = RetailMarket(scenario, seed=1)
    newcomer = m.retailers[m.retailer_index("Newcomer")]
    assert not newcomer.stores and not newcomer.sells_online  # no unit, so nothing to collect from
    m.run()
    assert newcomer.stores, "with no hurdle and vacant sites, the independent opens"
    assert newcomer.via_platform and newcomer.sells_online  # with its first unit it joins the town's platform
    first = newcomer.stores[0]
    assert newcomer.accounts.revenue_store >= 0 and first.rent_eur_m2_year <= m.region.site_rent_eur_m2_year[first.site]
    _assert_each_consumer_uses_her_best_open_store(m)
    # with every unit let and closures off, there is nowhere to open: it keeps waiting and never sells
    shut = RetailMarket(_with_waiting_independent(**{"stores.entry": True, "region.n_sites": 10,
                                                     "stores.closure": "never"}), seed=1)
    shut.run()
    waiting = shut.retailers[shut.retailer_index("Newcomer")]
    assert not waiting.stores and shut.population.total_spent_eur.sum() > 0
    assert not (shut.population.slot_retailer == waiting.index).any()


def test_an_independent_with_no_shop_needs_entry_to_be_on():
    with pytest.raises(ScenarioError, match=r"Newcomer.*stores\.entry = true"):
        _with_waiting_independent()
    raw = small_scenario().model_dump()
    raw["retailers"].append({"name": "Ghost", "n_stores": 0, "online": False})
    with pytest.raises(ScenarioError, match="only an independent"):
        validate(raw)


def test_a_new_store_expects_less_where_more_stores_already_trade():
    m = RetailMarket(small_scenario(steps=1), seed=1)
    free = np.flatnonzero(m.site_store < 0)
    before = m._local_demand(free, 0)
    m._open_store(m.retailers[0], int(free[0]))  # a rival opens on one of the free units
    after = m._local_demand(free[1:], 0)
    near = m.region.site_km(free[1:], free[:1])[:, 0] <= m.config.stores.access_km
    assert near.any()
    assert (after[near] < before[1:][near]).all() and (after[~near] == before[1:][~near]).all()


def test_the_footprint_validate_reports_is_the_state_the_model_holds():
    from sim.model import footprint

    scenario = small_scenario(**{"consumers.n": 700, "municipal.centre_parking_eur": 2.0,
                                 "consumers.repertoire_slots": 4, "choice.consideration_stores": 2})
    m = RetailMarket(scenario, seed=1)
    n = m.population.n
    held = [a for a in (*vars(m.population).values(), *vars(m.consider).values(), *vars(m.ledger).values(),
                        m._homes, m._parking)
            if isinstance(a, np.ndarray) and a.shape[:1] == (n,)]
    assert sum(a.nbytes for a in held) == footprint(scenario)["bytes_per_consumer"] * n


def test_after_closures_only_the_consumers_within_reach_get_new_options_and_they_equal_a_full_recompute():
    scenario = small_scenario(**{"consumers.n": 3000, "region.n_sites": 240, "region.n_towns": 4,
                                 "region.width_km": 60.0, "region.height_km": 60.0, "choice.stores_scanned": 6,
                                 "retailers.0.n_stores": 60, "retailers.1.n_stores": 60, "retailers.2.n_stores": 60,
                                 "steps": 2})
    m = RetailMarket(scenario, seed=4)
    closed = [s for s in m.open_stores if m.region.site_town[s.site] == m.region.site_town.max()][:3]
    assert closed
    for store in closed:
        m._close_store(store, reason="test")
    m._update_store_geography([s.site for s in closed])
    sets = m.consider
    assert 0 < m.n_refreshed < m.population.n  # a closure in the smallest town concerns its neighbours only
    local = {name: getattr(sets, name).copy() for name in ("store_ret", "store_slot", "store_static", "store_km")}
    sets._assign(np.arange(m.population.n))
    for name, values in local.items():
        np.testing.assert_array_equal(getattr(sets, name), values, err_msg=name)


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_options_point_at_the_slots_their_retailers_hold_after_evictions(engine):
    from sim.consideration import point_options

    scenario = small_scenario(**{"consumers.n": 1500, "consumers.repertoire_slots": 2, "steps": 60,
                                 "engine": engine})
    m = RetailMarket(scenario, seed=5)
    m.run()
    assert m.metrics.to_frame()["n_evicted_active"].sum() > 0  # full repertoires gave up active slots
    sets, everyone = m.consider, np.arange(m.population.n, dtype=np.int64)
    for ret, rep in ((sets.store_ret, sets.store_rep), (sets.online_ret, sets.online_rep)):
        fresh = np.full_like(rep, -1)
        point_options(everyone, ret, m.population.slot_retailer, fresh)
        assert (fresh == rep).all()


@pytest.mark.parametrize("layout", ["clustered", "on_a_line", "one_site"])
def test_the_grid_finds_the_same_nearest_stores_as_looking_at_every_one(layout):
    from sim.consideration import _grid, _k_nearest

    rng = np.random.default_rng(3)
    if layout == "clustered":  # towns of sites, homes also outside the sites' bounding box
        centres = rng.uniform(0, 60, (5, 2))
        sites = centres[rng.integers(0, 5, 400)] + rng.normal(0, 2, (400, 2))
    elif layout == "on_a_line":
        sites = np.column_stack([rng.uniform(0, 30, 50), np.full(50, 7.0)])
    else:
        sites = np.array([[10.0, 10.0]])
    homes = rng.uniform(-10, 70, (3000, 2))
    k = min(32, len(sites))
    near = np.empty((len(homes), k), dtype=np.int64)
    _k_nearest(homes[:, 0].copy(), homes[:, 1].copy(), np.arange(len(homes), dtype=np.int64), sites[:, 0].copy(),
               sites[:, 1].copy(), *_grid(sites[:, 0], sites[:, 1]), k, near)
    d2 = (homes[:, None, 0] - sites[None, :, 0]) ** 2 + (homes[:, None, 1] - sites[None, :, 1]) ** 2
    expected = np.argsort(d2, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(np.sort(near, axis=1), np.sort(expected, axis=1))
