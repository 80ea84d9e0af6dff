"""Business demography and the property market: stock and flow, directions, ablations, identities."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.metrics import ALL, SURVIVAL_YEARS, high_street_summary, independents_survival
from sim.model import RetailMarket
from sim.scenario import ZONES, ScenarioError, load

from .conftest import SCENARIOS

SMALL = {"consumers.n": 3000, "consumers.households_per_agent": 2.5, "steps": 156, "region.n_towns": 3,
         "region.n_sites": 150, "region.width_km": 25.0, "region.height_km": 25.0,
         "independents.pool_size": 120, "retailers.ValueMart.n_stores": 5, "retailers.CardCo.n_stores": 8,
         "retailers.KnowYou.n_stores": 5, "retailers.QuickStop.n_stores": 8, "retailers.BigBox.n_stores": 4}


def small_highstreet(**overrides):
    """The high-street scenario cut down: 150 units in three towns, 3,000 consumers, three years."""
    return load(SCENARIOS / "highstreet.toml", {**SMALL, **overrides})


def run(seed: int = 3, **overrides) -> RetailMarket:
    model = RetailMarket(small_highstreet(**overrides), seed=seed)
    model.run()
    return model


@pytest.fixture(scope="module")
def churn() -> RetailMarket:
    return run()


def _market(model: RetailMarket) -> pd.DataFrame:
    frame = model.metrics.to_frame()
    return frame[frame["retailer"] == ALL].set_index("week")


def _open_at_start(model: RetailMarket) -> list:
    """The stores open when week 1 begins (after any spin-up)."""
    return [s for s in model.stores if s.opened_week <= 0 and (s.closed_week is None or s.closed_week > 0)]


def _check_stock_and_flow(model: RetailMarket) -> None:
    towns = pd.DataFrame(model.town_records)
    assert (towns["n_sites"] == towns["n_occupied"] + towns["n_vacant"] + towns["n_converted"]).all()
    for t, name in enumerate(model.region.town_names):
        rows = towns[towns["town"] == name].sort_values("week")
        start = sum(1 for s in _open_at_start(model) if model.region.site_town[s.site] == t)
        occupied = np.concatenate([[start], rows["n_occupied"].to_numpy()])
        np.testing.assert_array_equal(np.diff(occupied), (rows["n_openings"] - rows["n_closures"]).to_numpy())
        # and the units change only by those built on the town's plots
        prop, here = model.property, model.region.site_town == t
        units = np.concatenate([[int((prop.built & (prop.built_week <= 0) & here).sum())], rows["n_sites"]])
        np.testing.assert_array_equal(np.diff(units), rows["n_built"].to_numpy())
    # a converted unit never trades again, and no store stands on one, nor on a plot not built
    assert (model.site_store[~model.property.in_use] < 0).all()
    assert all(model.property.in_use[s.site] or not s.is_open for s in model.stores)
    assert all(model.property.built[s.site] for s in model.stores)


def test_the_high_street_churns_both_ways(churn):
    market = _market(churn)
    for column in ("n_openings_independent", "n_closures_independent", "n_closures_chain"):
        assert market[column].sum() > 0, column
    assert churn.demography.n_arrivals > 0


def test_stock_and_flow_are_consistent_every_quarter(churn):
    """Units = occupied + vacant + converted in every town and quarter, and the change in occupied units
    is the openings less the closures since the last quarter."""
    _check_stock_and_flow(churn)
    market = _market(churn)
    opened = market[["n_openings_independent", "n_openings_chain"]].to_numpy().sum()
    closed = market[["n_closures_independent", "n_closures_chain"]].to_numpy().sum()
    assert len(_open_at_start(churn)) + opened - closed == (churn.site_store >= 0).sum()


@settings(max_examples=6, deadline=None)
@given(arrivals=st.floats(0.0, 60.0), own=st.floats(0.0, 0.5), loss_reviews=st.integers(0, 4),
       years=st.sampled_from([0.25, 0.5, 1.0, None]), p_convert=st.floats(0.0, 1.0), seed=st.integers(0, 50),
       spinup=st.sampled_from([0, 39]), lease=st.sampled_from([0.25, 7.0, None]),
       permitted=st.sampled_from([0.0, 2000.0, 20_000.0]), p_fail=st.sampled_from([0.0, 0.012, 1.0]))
def test_stock_and_flow_hold_whatever_the_flows(arrivals, own, loss_reviews, years, p_convert, seed, spinup, lease,
                                                permitted, p_fail):
    model = run(seed=seed, **{"steps": 52, "spinup_weeks": spinup, "consumers.n": 1000,
                              "municipal.new_floor_space_m2": {"centre": permitted, "neighbourhood": permitted},
                              "consumers.households_per_agent": 7.5,
                              "independents.arrivals_per_100_units_year": arrivals,
                              "independents.rate_exit_own_year": own, "independents.exit_loss_reviews": loss_reviews,
                              "independents.grace_weeks": 13, "property.conversion_after_years": years,
                              "property.p_conversion_year": p_convert, "property.lease_years": lease,
                              "stores.p_administration_year": p_fail})
    _check_stock_and_flow(model)


def test_money_is_conserved_with_churn(churn):
    frame = churn.metrics.to_frame()
    spent = churn.population.total_spent_eur.sum()
    assert spent == pytest.approx(frame.loc[frame["retailer"] == ALL, "revenue_eur"].sum(), rel=1e-9)
    np.testing.assert_allclose(frame["operating_profit_eur"],
                               frame["revenue_eur"] - frame["cogs_eur"] - frame["rewards_eur"]
                               - frame["operating_costs_eur"])


def test_a_spin_up_trades_before_week_1_and_reports_from_week_1():
    model = run(**{"steps": 52, "spinup_weeks": 104})
    before = [s for s in model.stores if s.closed_week is not None and s.closed_week <= 0]
    assert before, "stores closed during the spin-up"
    assert any(-104 < s.opened_week <= 0 for s in model.stores if s.retailer.independent), "and opened"
    # nothing of it is reported: the records, the flows and the money start at week 1
    frame = model.metrics.to_frame()
    assert frame["week"].min() == 1
    assert all(c["week"] > 0 for c in model.closures)
    # the flows start from the stock the spin-up left: week 0 opens the stores open then, and closes none
    assert min(model.unit_flows) == 0
    open_at_0 = [s for s in model.stores if s.opened_week <= 0 and (s.closed_week is None or s.closed_week > 0)]
    assert model.unit_flows[0][0].sum() == len(open_at_0) and model.unit_flows[0][1].sum() == 0
    assert all(r["week"] > 0 for r in model.town_records + model.category_records + model.switching_records)
    spent = model.population.total_spent_eur.sum()
    assert spent == pytest.approx(frame.loc[frame["retailer"] == ALL, "revenue_eur"].sum(), rel=1e-9)
    _check_stock_and_flow(model)


def test_a_spin_up_leaves_online_adoption_where_the_scenario_starts_it():
    def adopted(spinup):
        return RetailMarket(small_highstreet(**{"steps": 4, "spinup_weeks": spinup}), seed=3).population.adopted

    still, spun = adopted(0), adopted(52)
    assert still.any() and not still.all()
    np.testing.assert_array_equal(spun, still)


def test_a_reused_identity_starts_with_no_customers(churn):
    """No consumer holds a relationship with a trading independent that began before its shop opened."""
    pop = churn.population
    reopened = 0
    for r in churn.demography.members:
        shops = r.open_stores
        if not shops:
            continue
        opened = shops[0].opened_week
        who, slot = np.nonzero(pop.slot_retailer == r.index)
        assert (pop.since_week[who, slot] >= opened).all(), r.name
        reopened += opened > 0
    assert reopened > 0  # some identities were taken up during the run


NO_EXITS = {"independents.rate_exit_own_year": 0.0, "independents.exit_loss_reviews": 0, "stores.closure": "never"}


def test_a_dearer_rent_means_fewer_openings():
    # with no one leaving and many units free, what the incumbents sell does not depend on rents and units are
    # not what is short: only the entrants' sums change
    def openings(scale: float) -> int:
        rents = {"centre": 220.0 * scale, "neighbourhood": 140.0 * scale, "retail_park": 110.0 * scale,
                 "shopping_centre": 260.0 * scale}
        market = _market(run(**NO_EXITS, **{"region.rent_eur_m2_year": rents, "stores.entry": False,
                                            "independents.initial_share_of_units": 0.3}))
        return int(market["n_openings_independent"].sum())

    base, dear = openings(1.0), openings(3.0)
    assert 0 <= dear < base



def _staff_shares(share: float | None) -> dict:
    return {f"independents.templates.{t}.staff_share_of_sales": share for t in range(2)}


def test_an_independent_paying_staff_by_sales_pays_that_share_of_its_shops_sales():
    model = RetailMarket(small_highstreet(**_staff_shares(0.2), steps=60), seed=3)
    model.run()
    model.step()  # one more week, read from the books before the next clears them
    staff = model.books.row("staff")
    trading = [r for r in model.demography.members if r.open_stores]
    assert trading
    for r in trading:
        assert r.staff_share_of_sales == 0.2
        np.testing.assert_allclose(staff[r.index], 0.2 * sum(s.revenue for s in r.open_stores), rtol=1e-12)


def test_a_dearer_staff_share_means_fewer_openings_and_more_closures():
    # the independents' own exits on, so that shops losing money leave; entries read the same share of sales
    def flows(share: float) -> tuple[int, int]:
        market = _market(run(**_staff_shares(share)))
        return int(market["n_openings_independent"].sum()), int(market["n_closures_independent"].sum())

    (open_cheap, close_cheap), (open_dear, close_dear) = flows(0.05), flows(0.35)
    assert open_dear < open_cheap
    assert close_dear > close_cheap

def test_a_longer_conversion_delay_means_more_persistent_vacancy():
    def persistent(years: float) -> float:
        m = run(**{"property.conversion_after_years": years, "property.p_conversion_year": 1.0})
        return float(_market(m)["persistent_vacancy_rate"].iloc[-1]), int((~m.property.in_use).sum())

    quick, n_quick = persistent(0.5)
    slow, n_slow = persistent(10.0)
    assert n_quick > n_slow == 0
    assert slow > quick


def test_the_first_leases_run_out_evenly_over_one_term():
    m = RetailMarket(small_highstreet(**{"steps": 4}), seed=3)
    term = round(52 * m.config.property.lease_years)
    chains = [s for s in m.stores if s.retailer.index < m.n_listed]
    left = np.array([s.lease_end_week - s.opened_week for s in chains])
    assert ((left >= 1) & (left <= term)).all()
    assert left.min() < term / 4 and left.max() > 3 * term / 4  # spread over the term, not all at once
    assert all(s.lease_end_week is None for s in m.stores if s.retailer.index >= m.n_listed)
    assert all(s.lease_end_week is None for s in RetailMarket(small_highstreet(**{"steps": 4,
               "property.lease_years": None}), seed=3).stores)


def test_a_lease_is_renewed_at_market_rent_where_the_store_pays_and_ends_where_it_does_not():
    m = RetailMarket(small_highstreet(**{"steps": 30}), seed=3)
    for _ in range(26):
        m.step()
    term = round(52 * m.config.property.lease_years)
    good, bad = [s for s in m.retailers[1].open_stores][:2]
    for s in m.stores:
        if s.lease_end_week is not None:
            s.lease_end_week = m.week + 1000
    good.lease_end_week = bad.lease_end_week = m.week
    for store, profit in ((good, 1e6), (bad, -1e3)):
        store.weekly_profit.clear()
        store.weekly_profit.extend([profit] * 26)
    n_ends = len(m.lease_ends)
    m.end_leases()
    ends = {e["site"]: e for e in m.lease_ends[n_ends:]}
    assert set(ends) == {good.site, bad.site}
    assert ends[good.site]["renewed"] and good.is_open and good.lease_end_week == m.week + term
    assert good.rent_eur_m2_year == ends[good.site]["rent_after"]
    assert not ends[bad.site]["renewed"] and not bad.is_open
    assert m.closures[-1]["site"] == bad.site and m.closures[-1]["reason"] == "lease end"


def test_the_market_rent_at_a_renewal_reads_the_vacant_units_around():
    m = RetailMarket(small_highstreet(**{"steps": 4}), seed=3)
    region, vacant = m.region, m.property.vacant()
    base = region.site_rent_eur_m2_year
    for site in np.flatnonzero(m.site_store >= 0):
        same = vacant & (region.site_zone == region.site_zone[site]) & (region.site_town == region.site_town[site])
        if same.any():
            m.asking_rent[same] = 0.6 * base[same]  # landlords there have cut their asking rents
            assert m.property.market_rent(int(site)) == pytest.approx(0.6 * base[site])
        else:
            assert m.property.market_rent(int(site)) == m.property.reference_rent[site]


def test_leases_that_end_close_chain_stores_and_a_higher_hurdle_renews_fewer():
    none = run(**{"property.lease_years": None})
    assert not none.lease_ends and all(c["reason"] != "lease end" for c in none.closures)

    def renewed(hurdle: float) -> tuple[float, int]:
        m = run(**{"property.lease_years": 1.0, "stores.entry_hurdle": hurdle})
        return float(np.mean([e["renewed"] for e in m.lease_ends])), len(m.lease_ends)

    (easy, n_easy), (hard, n_hard) = renewed(0.0), renewed(2.0)
    assert n_easy > 0 and n_hard > 0
    assert hard < easy


def test_a_chain_moves_at_a_lease_end_within_its_town_and_a_dearer_fit_out_means_fewer_moves():
    def moves(fit_out):
        m = run(**{"property.lease_years": 1.0, "property.fit_out_eur_m2": fit_out})
        return m, [e for e in m.lease_ends if e["moved_to"] is not None]

    cheap, moved = moves(0.0)
    assert moved, "some chains move when moving costs nothing"
    region = cheap.region
    term = round(52 * cheap.config.property.lease_years)
    for e in moved:
        new = next(s for s in cheap.stores if s.site == e["moved_to"] and s.opened_week == e["week"]
                   and s.retailer.name == e["retailer"])
        assert region.site_town[e["moved_to"]] == region.site_town[e["site"]]
        assert region.zone_name(e["moved_to"]) in new.retailer.zones
        # a full lease from the move, renewed since by whole terms
        assert new.lease_end_week > e["week"] and (new.lease_end_week - e["week"]) % term == 0
        closed = [c for c in cheap.closures if c["site"] == e["site"] and c["week"] == e["week"]]
        assert [c["reason"] for c in closed] == ["moved"]
    _check_stock_and_flow(cheap)
    assert len(moves(20_000.0)[1]) < len(moved)
    assert not moves(None)[1]


def test_an_administration_closes_the_chains_weakest_stores_and_the_chain_trades_on():
    m = RetailMarket(small_highstreet(**{"steps": 30, "stores.p_administration_year": 1.0}), seed=3)
    for _ in range(26):
        m.step()
    chains = [r for r in m.retailers[:m.n_listed] if not r.independent and r.open_stores]
    before = {r.name: sorted(r.open_stores, key=lambda s: s.trailing_profit) for r in chains}
    independents_before = {s.slot for s in m.stores if s.is_open and s.retailer.independent}
    n_closures, n_failed = len(m.closures), len(m.administrations)
    m.enter_administrations()
    failed = m.administrations[n_failed:]
    assert {a["retailer"] for a in failed} == set(before)  # a yearly probability of 1: every chain fails
    share = m.config.stores.share_closed_in_administration
    for a in failed:
        stores = before[a["retailer"]]
        n_closed = round(share * len(stores))
        assert (a["n_stores"], a["n_closed"]) == (len(stores), n_closed)
        assert all(not s.is_open for s in stores[:n_closed]) and all(s.is_open for s in stores[n_closed:])
    closed = m.closures[n_closures:]
    assert len(closed) == sum(a["n_closed"] for a in failed) > 0
    assert {c["reason"] for c in closed} == {"administration"}
    assert independents_before <= {s.slot for s in m.stores if s.is_open}  # independents leave by their own rules
    assert all(r.open_stores for r in chains)
    _check_stock_and_flow(m)


def test_more_administrations_close_more_chain_stores_and_none_without_a_property_market():
    def closed(**overrides) -> tuple[int, int]:
        m = run(**overrides)
        return (sum(c["reason"] == "administration" for c in m.closures),
                sum(1 for c in m.closures if not m.retailers[m.retailer_index(c["retailer"])].independent))

    (n_rare, chains_rare), (n_often, chains_often) = (closed(**{"stores.p_administration_year": p})
                                                      for p in (0.0, 0.5))
    assert n_rare == 0 and n_often > 0
    assert chains_often > chains_rare
    assert closed(**{"stores.p_administration_year": 1.0, "property.enabled": False})[0] == 0


def test_an_administration_that_closes_nothing_changes_nothing():
    """The failures draw from their own stream, so a run whose administrators close no store is the run
    without administrations, metric for metric."""
    never = run(**{"stores.p_administration_year": 0.0})
    idle = run(**{"stores.p_administration_year": 0.5, "stores.share_closed_in_administration": 0.0})
    assert idle.administrations and all(a["n_closed"] == 0 for a in idle.administrations)
    assert idle.closures == never.closures
    pd.testing.assert_frame_equal(idle.metrics.to_frame(), never.metrics.to_frame())
    assert high_street_summary(idle, idle.week)["n_administrations"] == len(idle.administrations)


PERMITTED = {"centre": 3000.0, "neighbourhood": 2000.0, "retail_park": 5000.0}


def _developed(model: RetailMarket) -> np.ndarray:
    prop = model.property
    return np.flatnonzero(prop.built & model.region.site_planned)


def test_new_floor_space_is_built_only_where_the_town_permits_it_and_every_unit_there_is_let(monkeypatch):
    """Plots lie beside the permitted types' units; one is built only where all units of its type in its town
    are let, within the space permitted; the new unit counts among the units and stands vacant when built."""
    from sim.property import PropertyMarket

    scenario = small_highstreet(**{"municipal.new_floor_space_m2": {"neighbourhood": 2000.0}})
    none_vacant_before, develop = [], PropertyMarket.develop

    def watched(self, week):
        region, vacant = self.model.region, self.vacant()
        full = {(t, z) for t in range(region.n_towns) for z in range(len(ZONES))
                if not (vacant & (region.site_town == t) & (region.site_zone == z)).any()}
        built = develop(self, week)
        none_vacant_before.extend((int(region.site_town[s]), int(region.site_zone[s])) in full for s in built)
        assert (self.model.site_store[built] < 0).all() and self.in_use[built].all()
        return built

    monkeypatch.setattr(PropertyMarket, "develop", watched)
    model = RetailMarket(scenario, seed=3)
    region, prop = model.region, model.property
    plots = np.flatnonzero(region.site_planned)
    assert len(plots) > 0 and (region.site_zone[plots] == ZONES.index("neighbourhood")).all()
    assert not prop.built[plots].any() and not prop.vacant()[plots].any()
    assert region.n_sites - len(plots) == 150  # the scenario's own units, and the plots beyond them
    model.run()
    built = _developed(model)
    assert len(built) > 0 and all(none_vacant_before)
    for t in range(region.n_towns):
        assert region.site_area_m2[built[region.site_town[built] == t]].sum() <= 2000.0
    assert high_street_summary(model, model.week)["n_units_built"] == len(built)
    _check_stock_and_flow(model)


def test_no_permission_no_plots_and_a_dearer_build_or_a_higher_yield_builds_less():
    plain = run()
    assert plain.region.n_sites == 150 and not plain.region.site_planned.any()
    counts, models = {}, {}
    for label, extra in (("permitted", {}), ("dear build", {"property.build_cost_eur_m2": 5000.0}),
                         ("high yield", {"property.development_yield": 0.9})):
        models[label] = run(**{"municipal.new_floor_space_m2": PERMITTED, **extra})
        counts[label] = len(_developed(models[label]))
    assert counts["permitted"] > counts["dear build"] >= 0 and counts["high yield"] == 0, counts
    # plots never built change nothing: the same run as without them, draw for draw
    assert models["high yield"].closures == plain.closures
    pd.testing.assert_frame_equal(models["high yield"].metrics.to_frame(), plain.metrics.to_frame())


def test_with_arrivals_and_exits_off_the_independents_are_a_fixed_list():
    """The ablation: no arrivals, no exits, chains neither closing nor opening, no property market: the
    stock of stores never changes, as before business demography (vacancy a ratchet that never moved)."""
    m = run(**{"independents.arrivals_per_100_units_year": 0.0, "independents.rate_exit_own_year": 0.0,
               "independents.exit_loss_reviews": 0, "stores.closure": "never", "stores.entry": False,
               "property.enabled": False})
    market = _market(m)
    flows = ["n_openings_independent", "n_openings_chain", "n_closures_independent", "n_closures_chain"]
    assert (market[flows].to_numpy() == 0).all()
    assert market["vacancy_rate"].nunique() == 1
    assert all(s.is_open for s in m.stores)


def test_contested_units_cost_more():
    calm = run(**{"independents.arrivals_per_100_units_year": 2.0})
    busy = run(**{"independents.arrivals_per_100_units_year": 40.0})
    assert busy.property.n_contested > calm.property.n_contested
    assert (busy.property.reference_rent >= busy.region.site_rent_eur_m2_year).all()
    flat = run(**{"independents.arrivals_per_100_units_year": 40.0, "property.rent_rise_contested": 0.0})
    np.testing.assert_array_equal(flat.property.reference_rent, flat.region.site_rent_eur_m2_year)


def test_same_seed_same_run_and_both_engines_agree():
    cut = {"steps": 60}
    a = run(engine="numpy", **cut).metrics.to_frame()
    b = run(engine="numpy", **cut).metrics.to_frame()
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    pd.testing.assert_frame_equal(a, run(engine="numba", **cut).metrics.to_frame(), check_exact=True)


def test_chains_open_units_of_their_format_only():
    ratio_max = 1.3
    m = run(**{"stores.format_ratio_max": ratio_max})
    n_checked = 0
    for r in m.retailers[:m.n_listed]:
        for new in (s for s in r.stores if s.opened_week > 0):
            w = new.opened_week
            before = [s.floor_area_m2 for s in r.stores
                      if s.opened_week < w and (s.closed_week is None or s.closed_week > w)]
            ratio = new.floor_area_m2 / float(np.median(before))
            assert 1 / ratio_max <= ratio <= ratio_max, (r.name, ratio)
            n_checked += 1
    assert n_checked > 0


def test_chains_trade_only_from_units_of_their_sizes():
    # a supermarket chain on units of 300 m² or more, a convenience chain on units of 250 m² or less: at the
    # start, at every opening and at every move
    m = run(**{"retailers.CardCo.unit_m2_min": 300.0, "retailers.QuickStop.unit_m2_max": 250.0})
    sizes = {name: [s.floor_area_m2 for s in m.retailers[m.retailer_index(name)].stores]
             for name in ("CardCo", "QuickStop")}
    assert sizes["CardCo"] and min(sizes["CardCo"]) >= 300.0
    assert sizes["QuickStop"] and max(sizes["QuickStop"]) <= 250.0
    opened_later = [s for name in ("CardCo", "QuickStop") for s in m.retailers[m.retailer_index(name)].stores
                    if s.opened_week > 0]
    assert opened_later, "the bounds are checked on openings during the run too"
    # without the bounds the same chains trade from units outside them
    free = run()
    assert min(s.floor_area_m2 for s in free.retailers[free.retailer_index("CardCo")].stores) < 300.0


def test_a_retailers_unit_sizes_must_be_in_order():
    with pytest.raises(ScenarioError, match=r"unit_m2_min .* is above unit_m2_max"):
        small_highstreet(**{"retailers.CardCo.unit_m2_min": 500.0, "retailers.CardCo.unit_m2_max": 200.0})


def test_the_summary_reports_the_high_street(churn):
    from sim.outputs import build_summary

    summary = build_summary(churn, churn.metrics.to_frame(), runtime_s=0.0)
    street = summary["high_street"]
    assert set(street["openings_per_100_units_year"]) == {"chain", "independent"}
    assert set(street["closures_per_100_units_year_by_zone"]) == set(summary["vacancy_rate_by_zone"])
    assert 0 <= street["share_occupied_independent"] <= 1
    assert street["n_sites"] == street["n_occupied"] + street["n_vacant"] + street["n_converted"]


def test_independents_survival_counts_the_shops_opened_in_the_run_and_falls_with_shorter_patience(churn):
    survival = independents_survival(churn)
    assert set(survival) == {f"survival_independent_{k}y" for k in SURVIVAL_YEARS}
    assert any(s.retailer.independent and 1 <= s.opened_week <= churn.week - 52 for s in churn.stores)
    assert all(0 <= v <= 1 for v in survival.values() if np.isfinite(v))
    assert np.isnan(survival["survival_independent_3y"])  # a three-year run has no shop opened three years before
    five_years = {"steps": 260}
    impatient = independents_survival(run(**five_years, **{"independents.exit_loss_reviews": 1}))
    patient = independents_survival(run(**five_years, **{"independents.exit_loss_reviews": 12}))
    assert impatient["survival_independent_2y"] < patient["survival_independent_2y"]
    assert impatient["survival_independent_3y"] < patient["survival_independent_3y"]


def test_a_run_says_when_the_pool_of_identities_capped_the_independents_openings(tmp_path, capsys):
    from sim.cli import main

    def note(pool_size):
        capsys.readouterr()
        overrides = {**SMALL, "steps": 104, "independents.pool_size": pool_size}
        code = main(["run", str(SCENARIOS / "highstreet.toml"), "--seed", "3", "--out", str(tmp_path / str(pool_size)),
                     *(f"--set={k}={v}" for k, v in overrides.items())])
        assert code == 0
        return "capped their openings" in capsys.readouterr().out

    assert note(40)  # fewer identities than the units independents would take
    assert not note(400)


def test_the_schema_refuses_a_pool_without_identities_and_a_markup_range_upside_down():
    with pytest.raises(ScenarioError, match="pool_size"):
        small_highstreet(**{"independents.pool_size": 0})
    with pytest.raises(ScenarioError, match="the pool's"):
        small_highstreet(**{"retailers.Clicks.name": "independent 007"})
    with pytest.raises(ScenarioError, match="markup_min"):
        small_highstreet(**{"independents.templates.shop.markup_min": 0.9})


def _openings_per_review(model: RetailMarket) -> Counter[tuple[str, int]]:
    """Chains' openings (moves at a lease's end apart) by retailer and week."""
    return Counter((e["retailer"], e["week"]) for e in model.events
                   if e["event"].startswith("opened a store on site") and e["week"] > 0)


def test_a_chain_opens_one_store_a_review_unless_a_share_of_its_estate_is_allowed():
    one = _openings_per_review(run())
    assert one and max(one.values()) == 1
    more = _openings_per_review(run(**{"stores.share_estate_opened_per_review": 0.5}))
    assert max(more.values()) > 1
    assert sum(more.values()) > sum(one.values())
