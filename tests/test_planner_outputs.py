"""What a planner reads: the high street by category (summary.json), vacancy_by_category.csv, and the direction
"more online comparison spending, more comparison closures" in a small three-trade world."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.metrics import high_street_summary
from sim.model import NEVER_OCCUPIED, RetailMarket
from sim.outputs import CATEGORY_RECORD_COLUMNS, dashboard, map_figure
from sim.scenario import load

from .conftest import SCENARIOS

# scenarios/highstreet_categories.toml at a quarter of its units: its chains' stores and the pool cut alike,
# and as many households per unit (15,000 households for 300 units, as 60,000 for 1,200)
CHAIN_STORES = {"ValueMart": 10, "CardCo": 15, "KnowYou": 10, "QuickStop": 15, "BigBox": 8, "BeanCo": 10}


def three_trades(n_consumers: int = 1500, steps: int = 104, **overrides):
    over = {"consumers.n": n_consumers, "consumers.households_per_agent": 15_000 / n_consumers,
            "region.n_sites": 300, "independents.pool_size": 225, "steps": steps, **overrides}
    over |= {f"retailers.{name}.n_stores": n for name, n in CHAIN_STORES.items()}
    return load(SCENARIOS / "highstreet_categories.toml", over)


@pytest.fixture(scope="module")
def run() -> RetailMarket:
    model = RetailMarket(three_trades(), seed=3)
    model.run()
    return model


def test_flows_by_category_add_up_to_the_totals(run):
    hs = high_street_summary(run, run.week)
    for verb in ("openings", "closures"):
        total = sum(hs[f"{verb}_per_100_units_year"].values())
        by_category = hs[f"{verb}_per_100_units_year_by_category"]
        assert set(by_category) == {"convenience", "comparison", "services"}
        assert sum(by_category.values()) == pytest.approx(total, abs=1e-5)
        assert sum(hs[f"n_{verb}_by_category"].values()) > 0
    # the plain table is the category table summed; callers of the four-way table keep working
    assert (run.unit_flows_between(0, run.week)
            == run.unit_flows_between(0, run.week, by_category=True).sum(axis=-1)).all()
    closures = sum(1 for c in run.closures if c["week"] > run.week - 52)
    assert sum(hs["n_closures_by_category"].values()) == closures


def test_stock_by_category_and_vacancy_by_last_occupant(run):
    hs = high_street_summary(run, run.week)
    assert sum(hs["n_vacant_by_last_category"].values()) == hs["n_vacant"]
    assert sum(hs["share_vacant_by_last_category"].values()) == pytest.approx(1.0, abs=1e-5)
    assert sum(hs["share_occupied_by_category"].values()) == pytest.approx(1.0, abs=1e-5)
    assert sum(hs["n_persistent_vacant_by_last_category"].values()) == round(
        hs["persistent_vacancy_rate"] * hs["n_sites_in_use"])
    # a unit never occupied has no last category, and an occupied one's is its store's
    prop = run.property
    kind, _ = run.site_occupants()
    occupied = kind >= 0
    assert (prop.last_category[occupied] == kind[occupied]).all()
    assert hs["n_vacant_by_last_category"][NEVER_OCCUPIED] == int((prop.vacant() & (prop.last_category < 0)).sum())


def test_quarterly_records_are_stock_and_flow_consistent(run):
    records = pd.DataFrame.from_records(run.category_records, columns=CATEGORY_RECORD_COLUMNS)
    assert set(records["week"]) == set(range(13, run.week + 1, 13))
    n_sites = records.groupby("week")[["n_occupied", "n_vacant", "n_converted"]].sum().sum(axis=1)
    assert (n_sites == run.region.n_sites).all()  # every unit occupied, vacant or converted, once
    trades = records[records["category"] != NEVER_OCCUPIED].pivot(index="week", columns="category")
    # the stock at the start (week 0's openings are the initial stores) plus the flows is the stock
    start = run.unit_flows_between(-1, 0, by_category=True)[0].sum(axis=(0, 1, 2))
    names = [c.config.name for c in run.categories]
    net = (trades["n_openings"] - trades["n_closures"])[names].cumsum()
    assert (trades["n_occupied"][names] == net + start).all().all()
    assert (trades["n_occupied_independent"] <= trades["n_occupied"]).all().all()


def test_figures_with_categories_and_with_one(run, tmp_path):
    frame = run.metrics.to_frame()
    dashboard(run, frame, tmp_path / "dashboard.png")
    map_figure(run, tmp_path / "map.png")
    assert (tmp_path / "dashboard.png").stat().st_size > 0 and (tmp_path / "map.png").stat().st_size > 0
    plain = RetailMarket(load(SCENARIOS / "classroom.toml").with_overrides({"consumers.n": 500, "steps": 30}))
    plain.run()
    dashboard(plain, plain.metrics.to_frame(), tmp_path / "plain.png")
    assert (tmp_path / "plain.png").stat().st_size > 0


def comparison_outcome(shift: float, seed: int) -> tuple[int, float]:
    """Comparison closures over the run and the comparison trade's online share of its sales."""
    model = RetailMarket(three_trades(3000, STEPS, **{"categories.comparison.online_friction_shift": shift}),
                         seed=seed)
    model.run()
    comparison = [c.config.name for c in model.categories].index("comparison")
    closures = int(model.unit_flows_between(0, model.week, by_category=True)[1, ..., comparison].sum())
    frame = model.metrics.to_frame()
    rows = frame[(frame["retailer"] != "all") & (frame["category"] == "comparison")]
    return closures, float(rows["revenue_online_eur"].sum() / rows["revenue_eur"].sum())


STEPS = 260  # closures follow online spending with a lag: losses must run a year or more before a store goes
SEEDS = (1, 2)  # two pairs of runs keep the test under a minute; all of seeds 1-4 go the same way


def test_more_online_comparison_spending_more_comparison_closures():
    """Comparison goods far better suited to buying online (friction shift −6) against as the scenario has them
    (0): measured 2026-12-02 over seeds 1-4, comparison's online share 0.39, 0.43, 0.33, 0.32 against 0.06,
    0.08, 0.06, 0.08, and comparison closures over five years 77, 62, 50, 47 against 63, 53, 41, 46 (+16 %;
    over four years +11 %, each seed the same way). Year two's shake-out of the initial stores is alike in
    both; the difference builds from year three, as adoption spreads and losses run long enough."""
    online = [comparison_outcome(-6.0, seed) for seed in SEEDS]
    stores = [comparison_outcome(0.0, seed) for seed in SEEDS]
    assert np.mean([s for _, s in online]) > np.mean([s for _, s in stores]) + 0.15
    assert np.mean([c for c, _ in online]) > 1.08 * np.mean([c for c, _ in stores])


def test_closures_per_occupied_unit_read_the_stock_a_year_before_after_a_spin_up():
    """The stock a category's closures are read against is its stores open 52 weeks before the end, counted
    from every flow since the first stores opened, also when they opened in a spin-up before week 0."""
    model = RetailMarket(three_trades(steps=78, spinup_weeks=26), seed=3)
    while model.week < 78 - 52:
        model.step()
    names = [cat.config.name for cat in model.categories]
    open_then = np.bincount([model.retailer_category[s.retailer.index] for s in model.stores if s.is_open],
                            minlength=len(names))
    model.run()
    hs = high_street_summary(model, model.week)
    for c, name in enumerate(names):
        expected = 100.0 * hs["n_closures_by_category"][name] / open_then[c]
        assert hs["closures_per_100_occupied_year_by_category"][name] == pytest.approx(expected, rel=1e-5)
