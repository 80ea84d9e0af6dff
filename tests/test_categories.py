"""Retail categories: a household's budget split across them, each shopped as its own market.

One declared category that repeats the consumers' settings is the model without categories, bit
for bit (the ablation). With several, money is conserved, each category's spending follows its
share of the budget, a category's purchases never touch another's repertoire block, a category
bought in person sells nothing online, and a category better suited to buying online sells more
online.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.categories_gb import category_cost_shares, category_shares, category_spending
from sim.choice import Choices
from sim.consumers import NEVER
from sim.fastchoice import settle_numba
from sim.model import RetailMarket
from sim.scenario import ScenarioError, validate
from sim.settle import settle_numpy

from .conftest import ROOT, small_scenario

CATEGORIES = [
    {"name": "convenience", "share_budget": 0.4, "p_trip": 0.9, "online_friction_shift": 1.0, "repertoire_slots": 2},
    {"name": "comparison", "share_budget": 0.35, "p_trip": 0.3, "online_friction_shift": 0.0, "repertoire_slots": 2},
    {"name": "services", "share_budget": 0.25, "p_trip": 0.5, "online": False, "repertoire_slots": 2},
]


def three_categories(**overrides) -> dict:
    """The classroom town with three categories: two convenience grocers, two comparison shops, a café chain."""
    raw = small_scenario(**{"consumers.n": 1500, "steps": 52, **overrides}).model_dump(mode="json")
    raw["categories"] = [dict(c) for c in CATEGORIES]
    raw["region"]["n_sites"] = 20
    retailers = raw["retailers"]  # Budget (mass), Points (loyalty), Knows (learning)
    retailers[0]["category"] = retailers[1]["category"] = "convenience"
    retailers[2]["category"] = "comparison"
    retailers.append({"name": "Wardrobe", "strategy": "mass", "taste": 0.4, "markup": 0.5, "n_stores": 3,
                      "category": "comparison"})
    retailers.append({"name": "Cafe", "strategy": "mass", "taste": 0.5, "markup": 0.6, "n_stores": 4, "online": False,
                      "category": "services"})
    return raw


def _run(raw: dict, seed: int = 3, engine: str = "auto") -> RetailMarket:
    model = RetailMarket(validate({**raw, "engine": engine}, "test"), seed=seed)
    model.run()
    return model


@pytest.fixture(scope="module")
def three() -> RetailMarket:
    return _run(three_categories())


def test_one_declared_category_is_the_model_without_categories():
    plain = small_scenario(**{"steps": 52})
    raw = plain.model_dump(mode="json")
    raw["categories"] = [{"name": "all_retail", "share_budget": 1.0, "p_trip": plain.consumers.p_shop,
                          "repertoire_slots": plain.consumers.repertoire_slots}]
    for engine in ("numpy", "numba"):
        a = RetailMarket(plain.model_copy(update={"engine": engine}), seed=5)
        b = RetailMarket(validate({**raw, "engine": engine}, "test"), seed=5)
        a.run()
        b.run()
        pd.testing.assert_frame_equal(a.metrics.to_frame(), b.metrics.to_frame())


def test_money_is_conserved_and_spending_follows_each_categorys_share(three):
    m = three
    frame = m.metrics.to_frame()
    shops = frame[frame["retailer"] != "all"]
    # what consumers paid is what retailers booked (the warm-up is not counted by either)
    assert np.isclose(m.population.total_spent_eur.sum(), shops["revenue_eur"].sum(), rtol=1e-9)
    # at cost prices, a category's spending is its share of the budget (trips are random: a few per cent)
    cogs = shops.groupby("category", observed=True)["cogs_eur"].sum()
    expected = pd.Series({c["name"]: c["share_budget"] for c in CATEGORIES})
    share = cogs / cogs.sum()
    assert (share - expected[share.index]).abs().max() < 0.03, share


def test_a_categorys_retailers_live_only_in_its_block_of_the_repertoire(three):
    pop = three.population
    for c, spend in enumerate(pop.categories):
        held = pop.slot_retailer[:, spend.slot_lo:spend.slot_hi]
        assert (three.retailer_category[held[held >= 0]] == c).all()
    assert [(s.slot_lo, s.slot_hi) for s in pop.categories] == [(0, 2), (2, 4), (4, 5)]  # services: one retailer


def test_a_category_bought_in_person_sells_nothing_online_and_others_do(three):
    frame = three.metrics.to_frame()
    by_category = frame[frame["retailer"] != "all"].groupby("category", observed=True)["revenue_online_eur"].sum()
    assert by_category["services"] == 0
    assert by_category["comparison"] > 0 and by_category["convenience"] > 0


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_purchases_in_one_category_leave_the_others_repertoires_alone(engine):
    model = RetailMarket(validate({**three_categories(), "engine": engine}, "test"), seed=2)
    model.step()
    pop = model.population
    before = {name: getattr(pop, name).copy() for name in ("habit", "slot_retailer", "last_week", "spend_year")}
    cat = model.categories[1]  # comparison
    model.shop_category(cat)
    outside = np.ones(pop.n_slots, dtype=bool)
    outside[cat.spend.slot_lo:cat.spend.slot_hi] = False
    for name, values in before.items():
        assert (getattr(pop, name)[:, outside] == values[:, outside]).all(), name
    assert (pop.habit[:, ~outside] != before["habit"][:, ~outside]).any()


def test_engines_agree_with_categories():
    raw = three_categories(**{"steps": 30})
    pd.testing.assert_frame_equal(_run(raw, engine="numpy").metrics.to_frame(),
                                  _run(raw, engine="numba").metrics.to_frame())


def test_a_category_better_suited_to_online_sells_more_online():
    def comparison_online_share(shift: float) -> float:
        raw = three_categories()
        raw["categories"][1]["online_friction_shift"] = shift
        shares = []
        for seed in (1, 2):
            frame = _run(raw, seed=seed).metrics.to_frame()
            rows = frame[frame["category"] == "comparison"]
            shares.append(rows["revenue_online_eur"].sum() / rows["revenue_eur"].sum())
        return float(np.mean(shares))

    assert comparison_online_share(-1.5) > comparison_online_share(1.5) + 0.05


def test_the_summary_reports_online_and_revenue_shares_by_category(three):
    from sim.metrics import final_year_summary

    summary = final_year_summary(three, three.metrics.to_frame())
    assert set(summary["online_share_by_category"]) == {"convenience", "comparison", "services"}
    assert summary["online_share_by_category"]["services"] == 0
    assert np.isclose(sum(summary["revenue_share_by_category"].values()), 1.0)
    assert summary["retailers"]["Cafe"]["category"] == "services"


@pytest.mark.parametrize(("change", "message"), [
    (lambda raw: raw["categories"][0].update(share_budget=0.5), "must sum to 1"),
    (lambda raw: raw["retailers"][0].update(category="groceries"), "category 'groceries' is not declared"),
    (lambda raw: raw["retailers"][4].update(category="comparison"), "no retailer trades in category services"),
    (lambda raw: raw["categories"][1].update(name="convenience"), "category names must be unique"),
])
def test_bad_categories_are_refused_with_what_is_allowed(change, message):
    raw = three_categories()
    change(raw)
    with pytest.raises(ScenarioError, match=message):
        validate(raw, "test")


def test_the_gb_shares_come_from_the_spending_survey():
    spend = category_spending()
    survey = pd.read_csv(ROOT / "data" / "uk_household_spending_by_income_decile_fye2018.csv", comment="#",
                         dtype={"code": str})
    mapping = pd.read_csv(ROOT / "data" / "retail_categories_gb.csv", comment="#", dtype={"code": str})
    published = survey[survey["group"] == "all_households"].set_index("code")["weekly_gbp"]
    assert np.allclose(mapping["weekly_gbp"], published[mapping["code"]].to_numpy())  # the file repeats ONS's
    assert np.isclose(spend.sum(), mapping["weekly_gbp"].sum())
    shares = category_shares()
    assert set(shares) == {"convenience", "comparison", "services"} and abs(sum(shares.values()) - 1) < 1e-3
    # at cost prices, a dearer category takes less of the budget; with equal markups, the spending shares
    assert category_cost_shares(dict.fromkeys(shares, 0.3)) == pytest.approx(shares, abs=2e-4)
    at_cost = category_cost_shares({"convenience": 0.3, "comparison": 0.3, "services": 2.0})
    assert at_cost["services"] < shares["services"] and sum(at_cost.values()) == pytest.approx(1.0, abs=1e-9)


# ---- the ledger and the repertoire blocks, against a plain yardstick -------------------------------
# retailers 0-2 in category a (slots 0-1: a third retailer takes the weakest); 3, 4 in category b (slots 2-3)
BLOCKS = ((0, 2), (2, 4))
N_CONSUMERS, WINDOW = 5, 13


def _two_category_market() -> RetailMarket:
    raw = small_scenario(**{"consumers.n": N_CONSUMERS, "warmup_weeks": 0, "steps": 5}).model_dump(mode="json")
    raw["categories"] = [{"name": "a", "share_budget": 0.5, "p_trip": 0.8, "repertoire_slots": 2},
                         {"name": "b", "share_budget": 0.5, "p_trip": 0.5, "repertoire_slots": 2}]
    knows = raw["retailers"][2]
    raw["retailers"] += [dict(knows, name="Other", category="b"), dict(knows, name="Another", category="b")]
    raw["region"]["n_sites"] = 20
    return RetailMarket(validate(raw, "test"), seed=1)


def _settle(model, engine, cat, buyers, retailers, week):
    pop = model.population
    idx = np.array(buyers, dtype=np.int64)
    ret = np.array(retailers, dtype=np.int32)
    rep = pop.slot_of(idx, ret).astype(np.int32)
    n = len(buyers)
    choices = Choices(retailer=ret, channel=np.ones(n, dtype=np.int8), utility=np.zeros(n, dtype=np.float32),
                      store_slot=np.full(n, -1, dtype=np.int32), store_km=np.zeros(n, dtype=np.float32),
                      rep_slot=rep)
    settle = settle_numpy if engine == "numpy" else settle_numba
    settled = settle(pop, model, choices, idx, np.full(len(model.retailers), 1.3), 1.0, len(model.stores), week,
                     WINDOW, pop.categories[cat])
    model.ledger.record(week, idx, ret, choices.rep_slot, settled.prior_retailer, settled.prior_week)


def _yardstick_buy(slots, lo, hi, retailer, week, build):
    """The rule of sim.settle within one block: her slot for the retailer, else an empty one, else the
    weakest (least habit, then the longest since a purchase, then the first); habits of the block decay."""
    held = [q for q in range(lo, hi) if slots[q] is not None and slots[q][0] == retailer]
    if held:
        q = held[0]
    else:
        empty = [q for q in range(lo, hi) if slots[q] is None]
        q = empty[0] if empty else min(range(lo, hi), key=lambda k: (slots[k][1], slots[k][2], k))
        slots[q] = [retailer, np.float32(0.0), int(NEVER)]
    slots[q][2] = week
    keep = np.float32(1.0) - build
    for k in range(lo, hi):
        if slots[k] is not None:
            slots[k][1] = np.float32(slots[k][1] * keep)
    slots[q][1] = np.float32(slots[q][1] + build)


week_of_purchases = st.dictionaries(st.integers(0, N_CONSUMERS - 1),
                                    st.tuples(st.sampled_from([None, 0, 1, 2]), st.sampled_from([None, 3, 4])),
                                    max_size=N_CONSUMERS)


@pytest.mark.parametrize("engine", ["numpy", "numba"])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(weeks=st.lists(week_of_purchases, min_size=1, max_size=25),
       gaps=st.lists(st.integers(1, 15), min_size=25, max_size=25))
def test_each_category_keeps_its_own_repertoire_and_the_ledger_counts_them_all(engine, weeks, gaps):
    model = _two_category_market()
    pop = model.population
    yardstick = [[None] * 4 for _ in range(N_CONSUMERS)]
    week = 0
    for purchases, gap in zip(weeks, gaps, strict=False):
        week += gap
        for cat, (lo, hi) in enumerate(BLOCKS):
            buyers = sorted(b for b, picks in purchases.items() if picks[cat] is not None)
            if not buyers:
                continue
            retailers = [purchases[b][cat] for b in buyers]
            _settle(model, engine, cat, buyers, retailers, week)
            for b, r in zip(buyers, retailers, strict=True):
                _yardstick_buy(yardstick[b], lo, hi, r, week, pop.habit_build)
        for i in range(N_CONSUMERS):
            for q in range(4):
                s = yardstick[i][q]
                assert pop.slot_retailer[i, q] == (-1 if s is None else s[0])
                if s is not None:
                    assert pop.habit[i, q] == s[1] and pop.last_week[i, q] == s[2]
        active, _, anyone = model.ledger.counts(week)
        plain = np.zeros(5, dtype=int)
        for slots in yardstick:
            for s in slots:
                if s is not None and week - s[2] < WINDOW:
                    plain[s[0]] += 1
        assert (active == plain).all()
        assert anyone == sum(any(s is not None and week - s[2] < WINDOW for s in slots) for slots in yardstick)


def test_the_footprint_validate_reports_is_the_state_the_model_holds_with_categories():
    from sim.model import footprint

    scenario = validate(three_categories(**{"consumers.n": 700, "municipal.centre_parking_eur": 2.0}), "test")
    m = RetailMarket(scenario, seed=1)
    n = m.population.n
    arrays = [*vars(m.population).values(), *vars(m.ledger).values(), m._homes, m._parking]
    for cat in m.categories:
        arrays += [*vars(cat.spend).values(), *vars(cat.consider).values(), cat.online_friction]
    held = {id(a): a for a in arrays if isinstance(a, np.ndarray) and a.shape[:1] == (n,)}
    assert sum(a.nbytes for a in held.values()) == footprint(scenario)["bytes_per_consumer"] * n


# ---- independents by trade ----------------------------------------------------------------------
def test_each_kind_of_independent_trades_in_its_category_and_churns_there():
    from .test_demography import _check_stock_and_flow, small_highstreet

    raw = small_highstreet(**{"steps": 104}).model_dump(mode="json")
    raw["categories"] = [dict(c) for c in CATEGORIES]
    for r in raw["retailers"]:  # the chains: groceries, and a web shop of goods
        r["category"] = "comparison" if r["name"] in ("BigBox", "Clicks") else "convenience"
    kinds = raw["independents"]["templates"]
    kinds[0]["category"] = "services"
    kinds[1]["category"] = "comparison"
    model = RetailMarket(validate(raw, "test"), seed=3)
    model.run()
    demography = model.demography
    # the pool is shared out as the kinds' shares: 0.7 of 120 identities serve, 0.3 sell goods
    counts = np.bincount(demography.category, minlength=3)
    assert list(counts) == [0, 36, 84]
    # every business trading is of its identity's category, and opened and closed there
    trading = np.flatnonzero(demography.trading())
    assert (demography.template_category[demography.template[trading]] == demography.category[trading]).all()
    for c in (1, 2):
        opened = [s for s in model.stores if s.retailer.index >= demography.first and s.opened_week > 0
                  and model.retailer_category[s.retailer.index] == c]
        assert opened, f"no independent opened in category {c}"
    _check_stock_and_flow(model)
    pop = model.population
    for c, spend in enumerate(pop.categories):  # reused identities never leave their category's block
        held = pop.slot_retailer[:, spend.slot_lo:spend.slot_hi]
        assert (model.retailer_category[held[held >= 0]] == c).all()


def test_a_new_store_expects_less_only_where_stores_of_its_own_trade_trade():
    """A rival of another trade on the next unit leaves a store's share of local demand as it was."""
    m = RetailMarket(validate(three_categories(), "test"), seed=3)
    free = np.flatnonzero(m.site_store < 0)
    cafe = next(r for r in m.retailers if r.name == "Cafe")
    convenience, services = int(m.retailer_category[0]), int(m.retailer_category[cafe.index])
    before = {c: m._local_demand(free[1:], c) for c in (convenience, services)}
    m._open_store(cafe, int(free[0]))
    near = m.region.site_km(free[1:], free[:1])[:, 0] <= m.config.stores.access_km
    assert near.any()
    np.testing.assert_array_equal(m._local_demand(free[1:], convenience), before[convenience])
    after = m._local_demand(free[1:], services)
    assert (after[near] < before[services][near]).all()
    np.testing.assert_array_equal(after[~near], before[services][~near])
