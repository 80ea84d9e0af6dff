"""Each stylised fact's direction at a small size (the experiments show them with 20 replications)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sim.experiment import load_experiment, paired_difference, run

SMALL = {"consumers.n": 2500}


def small_run(name: str, replications: int = 3, overrides: dict | None = None):
    experiment, module = load_experiment(name)
    small = dataclasses.replace(experiment, base_overrides={**experiment.base_overrides, **SMALL, **(overrides or {})})
    return run(small, replications=replications, workers=2), module


def test_fact1_learning_steepens_the_fall_of_attrition_with_tenure():
    frame, _ = small_run("fact1_tenure")
    learns = frame[frame["arm"] == "seat learns"]
    assert (learns["seat_fall"] > 0).all()
    assert paired_difference(frame, "seat_relative_fall", "seat learns", "seat is mass")[0] > 0
    assert paired_difference(frame, "seat_fall", "seat learns", "seat is mass")[0] > 0
    # the trial: forgetting a customer raises her attrition at the learning retailer, and by more than
    # at the same seat as mass, where it changes nothing (tests/test_strategies.py pins that exactly)
    assert (learns["seat_forgetting"] > 0.1).all()
    assert paired_difference(frame, "seat_forgetting", "seat learns", "seat is mass")[0] > 0.1
    # the fall in log odds is not asserted: at this size its interval spans zero (+0.02 [−0.42,
    # 0.46] on these seeds); the experiment's 20 replications measure it


def test_fact3_unconditional_gifts_raise_new_customer_attrition_vesting_ones_lower_it():
    frame, _ = small_run("fact3_welcome", replications=4)
    assert paired_difference(frame, "new_attrition", "unconditional", "no offer")[0] > 0
    assert paired_difference(frame, "new_attrition", "vesting", "no offer")[0] < 0


def test_fact4_price_cuts_raise_switching_and_lower_margins():
    frame, _ = small_run("fact4_price_war")
    assert paired_difference(frame, "switching", "cuts of 4 points", "no cuts")[0] > 0
    assert paired_difference(frame, "gross_margin", "cuts of 4 points", "no cuts")[0] < 0


def test_fact7_the_learning_edge_shrinks_when_rivals_learn():
    frame, _ = small_run("fact7_learning_rivals")
    assert paired_difference(frame, "retention_edge", "rivals learn too", "rivals do not learn")[0] < 0


def test_fact2_programme_lifts_retention_then_parity_lowers_margins():
    frame, _ = small_run("fact2_loyalty_parity")
    assert paired_difference(frame, "advantage_early", "programme, not copied", "no programme")[0] > 0
    copied = frame[frame["arm"] == "programme, copied"]
    assert (copied["advantage_late"] - copied["advantage_early"]).mean() < 0
    assert paired_difference(frame, "gross_margin_late", "programme, copied", "no programme")[0] < 0


def test_fact6_top_fifth_brings_most_revenue():
    frame, _ = small_run("fact6_pareto")
    base = frame[frame["arm"] == "budgets 80/20"]["top20_share"]
    assert (base > 0.5).all()
    assert paired_difference(frame, "top20_share", "budgets 80/20", "budgets 60/20")[0] > 0


@pytest.mark.parametrize("name", ["fact1_tenure", "fact2_loyalty_parity", "fact3_welcome", "fact4_price_war",
                                  "fact5_online_vacancy", "fact6_pareto", "fact7_learning_rivals", "tournament"])
def test_every_experiment_declares_twenty_replications_and_valid_arms(name):
    experiment, module = load_experiment(name)
    assert experiment.replications >= 20
    for arm in experiment.arms:
        experiment.scenario_for(arm)  # raises on a bad override
    assert callable(module.figure) and callable(module.findings)


def test_fact5_online_growth_moves_store_sales_online():
    # the baseline region's 45,000 households as 2,500 agents (18 households each) over five years, eight
    # replications: fast − slow online, all stores' sales measured −1.96 % [−3.56, −0.37] (2026-12-08, after
    # the independents came to pay staff as a share of their sales; −1.09 % [−1.93, −0.24] before, with the
    # pool of 2,000; the arms end 4.8 points apart online). Sales per m² of the stores left open, −2.7 %
    # [−6.7, +1.4], and the vacancy rise, +1.6 points [−1.4, +4.5], span zero at this size, so they are not
    # asserted (the experiment reports them over 20 replications at 10,000 agents)
    # (without the baseline's four-year spin-up, as these figures were measured, and to keep the suite short)
    frame, _ = small_run("fact5_online_vacancy", replications=8,
                         overrides={"consumers.households_per_agent": 18.0, "steps": 260, "spinup_weeks": 0})
    assert paired_difference(frame, "online_share_end", "fast online", "slow online")[1] > 0
    assert paired_difference(frame, "store_sales_change", "fast online", "slow online")[2] < 0


def test_the_high_street_flows_are_measured_against_the_published_ranges():
    from experiments.highstreet_flows import published_range

    # Britain's flows per 100 of all units a year, derived from the published counts (the file's rule)
    assert published_range("independents", "openings") == pytest.approx((7.09, 9.18), abs=0.01)
    assert published_range("chains", "closures") == pytest.approx((3.24, 3.69), abs=0.01)
    frame, module = small_run("highstreet_flows", replications=1,
                              overrides={"consumers.households_per_agent": 18.0, "steps": 104})
    row = frame.iloc[0]
    for verb in ("openings", "closures"):
        for group in ("chain", "independent"):
            assert row[f"{verb}_{group}"] == pytest.approx((row[f"{verb}_{group}_y1"] + row[f"{verb}_{group}_y2"]) / 2)
    assert row["openings_independent"] > 0 and row["closures_independent"] > 0
    assert 0 <= row["persistent_vacancy_rate"] <= row["vacancy_rate"] <= 1
    assert 0 <= row["share_leases_renewed"] <= 1
    assert 0 <= row["survival_independent_1y"] <= 1 and np.isnan(row["survival_independent_3y"])  # two years
    for _, arm in frame.iterrows():  # a move is one of the chains' closures and one of their openings
        assert 0 <= arm["moves_chain"] <= min(arm["closures_chain"], arm["openings_chain"])
    found = module.findings(frame)
    # in each arm (after the baseline's spin-up, without it): four flows, each with its range and its count of
    # years outside it; then the renewals at a lease's end; then the independents' survival at one, two and three
    # years, each against ONS's range; then two trades' chains' sales densities and the
    # retail trades' gross margin and running costs per m², each against its published range
    # (and the same with the national accounts' running costs per m²); last, the two retail trades' online shares
    # less ONS's, a gap whose CI should hold 0 (fitted)
    arms = [module.SPUN_UP, module.NO_SPINUP, module.NATIONAL_COSTS]
    assert list(frame["arm"]) == arms
    assert [f.within is not None for f in found] == ([True, False] * 4 + [True] * 8 + [False] * 2) * 3
    assert [f.statement.split(":")[0] for f in found] == [arm for arm in arms for _ in range(18)]
    # two years read as 2009-2010: ONS's food stores sold 2.7 % online in 2010, non-food stores 6.2 %
    assert module.ons_online_share("convenience", 2010) == pytest.approx(0.027)
    assert module.ons_online_share("comparison", 2018) == pytest.approx(0.141)
    gaps = [f for f in found[:18] if "less ONS" in f.statement]
    assert [f.mean for f in gaps] == pytest.approx([row["share_online_convenience"] - 0.027,
                                                   row["share_online_comparison"] - 0.062])
    assert row["share_online_comparison"] == row["share_online_comparison_y2"]
    for trade in ("convenience", "comparison"):
        assert 0 < row[f"share_online_{trade}_y1"] < 1 and 0 < row[f"share_online_{trade}_y2"] < 1
    for trade in ("convenience", "comparison"):
        for group in ("chain", "independent"):
            assert row[f"sales_per_m2_{group}_{trade}"] > 0
    assert row["margin_per_m2_retail"] > 0 and row["costs_per_m2_retail"] > 0
    # the national accounts' arm charges its cost per m² to every store: no chain keeps its staff share of sales
    from sim.experiment import REPO_ROOT
    from sim.scenario import load

    national = next(arm for arm in module.EXPERIMENT.arms if arm.label == module.NATIONAL_COSTS)
    baseline = load(REPO_ROOT / module.EXPERIMENT.scenario)
    assert any(r.staff_share_of_sales is not None for r in baseline.retailers)
    assert any(t.staff_share_of_sales is not None for t in baseline.independents.templates)
    national_cfg = baseline.with_overrides(national.overrides, "t")
    assert all(r.staff_share_of_sales is None for r in national_cfg.retailers)
    assert all(t.staff_share_of_sales is None for t in national_cfg.independents.templates)


def test_floor_money_is_checked_against_published_figures_in_euros_of_2018():
    from experiments.highstreet_flows import national_per_m2, national_running_costs_eur_m2, published_density

    # Retail Week's grocers from the Co-op's £565 to Aldi's £1,170 a sq ft; comparison chains up to Office's £910;
    # £ per m² = £ per sq ft × 10.7639, at 0.8847 £ per €
    assert published_density("convenience") == pytest.approx((565 * 10.7639 / 0.8847, 1170 * 10.7639 / 0.8847))
    assert published_density("comparison") == pytest.approx((565 * 10.7639 / 0.8847, 910 * 10.7639 / 0.8847))
    # retail's trade margin of 2015 (£147,312m, ONS supply and use tables) over the UK's floor space of 2015: 114
    # million m² in England and Wales over their 56.6 of 63.7 million residents
    margin_2015 = 147_312e6 / (114e6 * 63.7 / 56.6) / 0.8847
    low, high = national_per_m2("margin")
    assert low <= margin_2015 <= high and high / low < 1.3
    costs_2015 = (56_307 + 53_835 + 6_931) * 1e6 / (114e6 * 63.7 / 56.6) / 0.8847
    assert national_per_m2("costs")[0] <= costs_2015 <= national_per_m2("costs")[1]
    # the arm that charges them: all but rents, which the model charges apart
    assert national_running_costs_eur_m2() == pytest.approx(costs_2015 - 8_991e6 / (114e6 * 63.7 / 56.6) / 0.8847)


def test_a_finding_against_a_published_range_holds_when_its_mean_is_in_it():
    from sim.experiment import Finding

    assert Finding("in", 0.08, 0.02, 0.2, expected_sign=-1, within=(0.07, 0.09)).holds
    assert not Finding("above", 0.10, 0.095, 0.105, expected_sign=+1, within=(0.07, 0.09)).holds
    assert not Finding("unmeasured", float("nan"), float("nan"), float("nan"), expected_sign=0, within=(0, 1)).holds


def test_the_report_table_shows_rates_in_percent_and_money_per_m2_as_it_is():
    from sim.experiment import _scale

    assert _scale("openings_independent") == 100.0
    assert _scale("share_leases_renewed") == 100.0
    for money in ("sales_per_m2_chain_convenience", "margin_per_m2_retail", "revenue_eur", "n_closures"):
        assert _scale(money) == 1.0
