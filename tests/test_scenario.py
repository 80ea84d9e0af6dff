"""The scenario schema: defaults, validation messages, overrides, flat keywords."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sim.scenario import (
    Scenario,
    ScenarioError,
    flat_keys,
    flat_to_dotted,
    from_flat,
    load,
    parameter_table,
    parse_assignment,
)

from .conftest import SCENARIOS


def test_defaults_are_valid_and_round_trip_through_toml(tmp_path):
    scenario = Scenario()
    path = tmp_path / "resolved.toml"
    path.write_text(scenario.to_toml())
    assert load(path) == scenario


@pytest.mark.parametrize("name", sorted(p.stem for p in SCENARIOS.glob("*.toml")))
def test_shipped_scenarios_validate(name):
    scenario = load(SCENARIOS / f"{name}.toml")
    # a scenario is named after its file, but for one a calibration writes (named after its calibration)
    assert scenario.name == name or name == "calibrated_uk"


def test_the_three_trades_budget_shares_are_the_surveys_at_the_typical_markups_the_file_names():
    from sim.categories_gb import category_cost_shares

    scenario = load(SCENARIOS / "highstreet_categories.toml")
    shares = {c.name: c.share_budget for c in scenario.categories}
    assert shares == category_cost_shares({"convenience": 0.35, "comparison": 0.98, "services": 2.2})


PERSONS_PER_HOUSEHOLD = 2.4  # ONS Family Spending FYE2018, as the scenario files say


def _outlets_per_1000_residents() -> dict[str, float]:
    import pandas as pd

    from sim.categories_gb import DATA

    rows = pd.read_csv(DATA / "uk_chain_outlets_reported.csv", comment="#")
    derived = rows[rows["item"].str.startswith("DERIVED:")].set_index("item")["value"].astype(float)
    return {key: float(derived[derived.index.str.contains(words, regex=False)].iloc[0]) for key, words in (
        ("large", "supermarkets over 3,000 sq ft"), ("convenience", "convenience stores (multiples"),
        ("coffee", "coffee-chain"), ("restaurants", "restaurants and fast food"), ("betting", "betting"),
        ("banks", "bank and building-society"), ("all", "chains' units per 1,000"))}


@pytest.mark.parametrize("name, groups", [
    ("baseline", {"large": ["ValueMart", "CardCo"], "convenience": ["QuickStop"], "services": ["BeanCo"],
                  "comparison": ["KnowYou", "StyleCo", "BigBox"]}),
    ("exampleton", {"large": ["Grocer", "Discounter"], "convenience": ["Express"], "services": ["CoffeeCo"],
                    "comparison": ["Outfitters", "StyleHouse", "BoxStore"]}),
])
def test_the_shipped_towns_chains_are_britains_outlets_per_resident(name, groups):
    """The chains' stores at the start are the data file's outlets per 1,000 residents times the town's
    residents, so the scenario and its source cannot drift apart."""
    scenario = load(SCENARIOS / f"{name}.toml")
    per_1000 = _outlets_per_1000_residents()
    thousands = scenario.consumers.n * scenario.consumers.households_per_agent * PERSONS_PER_HOUSEHOLD / 1000
    stores = {r.name: r.n_stores for r in scenario.retailers}
    expected = {"large": round(per_1000["large"] * thousands),
                "convenience": round(per_1000["convenience"] * thousands),
                "services": round(sum(per_1000[k] for k in ("coffee", "restaurants", "betting", "banks")) * thousands)}
    expected["comparison"] = round(per_1000["all"] * thousands) - sum(expected.values())  # what is left
    assert {group: sum(stores[n] for n in names) for group, names in groups.items()} == expected
    # and every chain with stores is in one of the groups
    assert {r.name for r in scenario.retailers if r.n_stores and not r.independent} == {
        n for names in groups.values() for n in names}


def test_unknown_key_names_file_field_and_valid_keys(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[consumers]\nn = 100\nbudgett = 5\n")
    with pytest.raises(ScenarioError) as err:
        load(path)
    message = str(err.value)
    assert str(path) in message
    assert "consumers.budgett" in message
    assert "budget_mean_eur" in message  # the valid keys are listed
    assert "\n" not in message


def test_unknown_top_level_key(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("stepz = 10\n")
    with pytest.raises(ScenarioError, match=r"unknown key 'stepz'.*steps"):
        load(path)


@pytest.mark.parametrize(
    ("text", "field", "allowed"),
    [
        ("[consumers]\nn = -5\n", "consumers.n", "greater than or equal to 1"),
        ("[consumers]\np_shop = 1.5\n", "consumers.p_shop", "less than or equal to 1"),
        ("steps = \"ten\"\n", "steps", "valid integer"),
        ("[[retailers]]\nname = \"A\"\nstrategy = \"magic\"\n", "retailers.0.strategy", "mass"),
    ],
)
def test_bad_values_name_field_and_what_is_allowed(tmp_path, text, field, allowed):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as err:
        load(path)
    assert field in str(err.value)
    assert allowed in str(err.value)


def test_malformed_toml_is_one_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[consumers\nn = 3\n")
    with pytest.raises(ScenarioError, match="not valid TOML") as err:
        load(path)
    assert "\n" not in str(err.value)


def test_whole_scenario_checks():
    with pytest.raises(ScenarioError, match="unique"):
        Scenario().with_overrides({"retailers.1.name": "ValueMart"})
    with pytest.raises(ScenarioError, match="n_sites"):
        Scenario().with_overrides({"region.n_sites": 3})


def test_dotted_overrides_by_index_and_by_name():
    s = Scenario().with_overrides({"retailers.CardCo.markup": 0.5, "retailers.0.taste": 0.1,
                                   "consumers.n": 99})
    assert s.retailers[1].markup == 0.5
    assert s.retailers[0].taste == pytest.approx(0.1)
    assert s.consumers.n == 99
    with pytest.raises(ScenarioError, match="no list item 'Nobody'"):
        Scenario().with_overrides({"retailers.Nobody.markup": 0.5})


def test_parse_assignment_reads_toml_values():
    assert parse_assignment("consumers.n=5000") == ("consumers.n", 5000)
    assert parse_assignment("stores.closure=never") == ("stores.closure", "never")
    assert parse_assignment("retailers.0.zones=[\"centre\"]") == ("retailers.0.zones", ["centre"])
    with pytest.raises(ScenarioError):
        parse_assignment("consumers.n")


def test_flat_keywords_map_to_the_schema():
    assert flat_to_dotted("consumers_n") == "consumers.n"
    assert flat_to_dotted("strategies_mass_markup_floor") == "strategies.mass.markup_floor"
    assert flat_to_dotted("region_floor_area_m2__centre") == "region.floor_area_m2.centre"
    assert flat_to_dotted("steps") == "steps"
    with pytest.raises(ScenarioError, match="not a scenario parameter"):
        flat_to_dotted("consumerz_n")
    s = from_flat(consumers_n=10, choice_inertia=1.0)
    assert (s.consumers.n, s.choice.inertia) == (10, 1.0)
    assert "consumers_n" in flat_keys()


def test_parameter_table_covers_every_flat_key():
    keys = {row["key"].replace(".", "_") for row in parameter_table()}
    assert set(flat_keys()) == keys
    assert all(row["description"] for row in parameter_table() if row["key"] not in ("retailers",))


def test_a_scenario_file_can_build_on_a_base(tmp_path):
    (tmp_path / "town.toml").write_text(
        'name = "town"\nsteps = 30\n[consumers]\nn = 500\nprice_sens_mean = 7.0\n'
        '[[retailers]]\nname = "A"\nn_stores = 2\n')
    (tmp_path / "policy.toml").write_text(
        'base = "town.toml"\n[consumers]\nn = 800\n[municipal]\ncentre_parking_eur = 2.0\n')
    scenario = load(tmp_path / "policy.toml")
    assert scenario.name == "policy"  # its own name, not the base's
    assert scenario.steps == 30 and scenario.consumers.price_sens_mean == 7.0  # from the base
    assert scenario.consumers.n == 800 and scenario.municipal.centre_parking_eur == 2.0  # its own
    assert [r.name for r in scenario.retailers] == ["A"]


def test_a_missing_or_looping_base_is_named(tmp_path):
    (tmp_path / "a.toml").write_text('base = "b.toml"\n')
    with pytest.raises(ScenarioError, match=r"b.toml: no such scenario file \(the base of .*a.toml\)"):
        load(tmp_path / "a.toml")
    (tmp_path / "b.toml").write_text('base = "a.toml"\n')
    with pytest.raises(ScenarioError, match="base files form a loop"):
        load(tmp_path / "a.toml")


def test_the_baselines_towns_have_the_density_of_britains_built_up_areas():
    """The baseline's town_radius_km follows from the data file's density by its header's rule (a median match)."""
    density = pd.read_csv(SCENARIOS.parent / "data" / "uk_built_up_areas_ons2011.csv", comment="#")
    residents = density.query("measure == 'usual_residents' and size_class == 'all'")["value"].item()
    hectares = density.query("measure == 'land_area' and size_class == 'all'")["value"].item()
    per_km2 = residents / (hectares / 100)
    cfg = load(SCENARIOS / "baseline.toml")
    persons_per_household = 2.4  # ONS Family Spending FYE2018, as the scenario's header says
    households = cfg.consumers.n * cfg.consumers.households_per_agent
    in_towns = households * persons_per_household * (1 - cfg.region.share_rural)
    weights = [cfg.region.town_size_ratio ** k for k in range(cfg.region.n_towns)]
    largest = in_towns * weights[0] / sum(weights)
    disk_radius = math.sqrt(largest / (math.pi * per_km2))
    median_matched_sd = disk_radius * math.sqrt(0.5) / math.sqrt(2 * math.log(2))
    assert 50_000 < largest < 54_000  # "about 52,000"
    assert cfg.region.town_radius_km == pytest.approx(median_matched_sd, abs=0.01)


def test_the_baselines_travel_costs_by_mode_follow_from_the_data_file_by_its_headers_rule():
    """Share by car from NTS0409a; a km by car and on foot from Finland's LEM coefficients at DfT's speed, weighted
    by the baseline's trips in each trade (convenience against the rest)."""
    travel = pd.read_csv(SCENARIOS.parent / "data" / "uk_travel_by_mode_reported.csv", comment="#")
    trips = travel.query("measure == 'trips_per_person' and year == 2019").set_index("mode")["value"]
    coefficient = travel.query("measure == 'destination_coefficient'").set_index(["mode", "purpose"])["value"]
    km_per_hour = travel.query("measure == 'average_speed'")["value"].item() * 1.609344
    cfg = load(SCENARIOS / "baseline.toml")
    p_trip = {c.name: c.p_trip for c in cfg.category_list()}
    grocery = p_trip["convenience"] / sum(p_trip.values())

    def per_km(mode, per_unit):
        return -(grocery * coefficient[mode, "grocery"]
                 + (1 - grocery) * coefficient[mode, "other_shopping"]) * per_unit

    assert cfg.consumers.share_by_car == pytest.approx((trips["car_driver"] + trips["car_passenger"]) / trips["all"],
                                                       abs=5e-4)
    assert cfg.consumers.travel_sens_car_mean == pytest.approx(per_km("car_driver", 60 / km_per_hour), abs=5e-4)
    assert cfg.consumers.travel_sens_mean == pytest.approx(per_km("walk", 1.0), abs=5e-4)
