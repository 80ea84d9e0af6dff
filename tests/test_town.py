"""Bringing your own town: sites and population from CSV, with clear errors."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from sim.model import RetailMarket
from sim.scenario import ScenarioError, load

from .conftest import SCENARIOS


def test_example_town_loads_and_runs():
    scenario = load(SCENARIOS / "exampleton.toml").with_overrides({"steps": 20, "consumers.n": 1500})
    model = RetailMarket(scenario, seed=2)
    model.run()
    region = model.region
    assert region.n_sites == 320 and set(region.town_names) == {"Exampleton", "Littlebury"}
    zones = [(region.town_names[t], region.zone_name(s)) for s, t in enumerate(region.site_town)]
    assert {key: zones.count(key) for key in set(zones)} == {  # scripts/make_exampleton.py's mix
        ("Exampleton", "centre"): 232, ("Exampleton", "shopping_centre"): 30, ("Exampleton", "neighbourhood"): 42,
        ("Exampleton", "retail_park"): 8, ("Littlebury", "centre"): 8}
    occupied = {model.stores[slot].retailer.name for slot in model.site_store[model.site_store >= 0]}
    assert {"Grocer", "Discounter", "Deli"} <= occupied
    for site, occupant in enumerate(region.site_occupant):  # named occupants got their sites
        if occupant:
            assert model.stores[model.site_store[site]].retailer.name == occupant
    # homes follow the population grid: most live within 3 km of the town centre
    homes = np.hypot(model.population.home_x - 5.0, model.population.home_y - 5.0)
    assert (homes < 3.0).mean() > 0.7


def _town_with(tmp_path, sites_text=None, population_text=None):
    for name in ("exampleton_sites.csv", "exampleton_population.csv"):
        shutil.copy(SCENARIOS / "towns" / name, tmp_path / name)
    if sites_text is not None:
        (tmp_path / "exampleton_sites.csv").write_text(sites_text)
    if population_text is not None:
        (tmp_path / "exampleton_population.csv").write_text(population_text)
    text = (SCENARIOS / "exampleton.toml").read_text().replace("towns/", "")
    path = tmp_path / "town.toml"
    path.write_text(text)
    return path


HEADER = "x,y,floor_area_m2,rent_eur_m2_year,zone,town\n"


@pytest.mark.parametrize(
    ("sites", "expected"),
    [
        ("x,y,floor_area_m2,zone,town\n1,1,100,centre,A\n", "missing column rent_eur_m2_year"),
        (HEADER + "1,1,100,200,centre,A\n2,2,-50,200,centre,A\n", "line 3, column floor_area_m2: must be > 0"),
        (HEADER + "1,1,100,200,centre,A\n12,2,50,200,centre,A\n", "line 3, column x: must be between 0 and 10"),
        (HEADER + "1,1,abc,200,centre,A\n", "line 2, column floor_area_m2: not a number"),
        (HEADER + "1,1,100,200,downtown,A\n", "line 2, column zone: must be one of centre"),
    ],
)
def test_bad_sites_csv_names_file_line_and_column(tmp_path, sites, expected):
    path = _town_with(tmp_path, sites_text=sites)
    with pytest.raises(ScenarioError) as err:
        load(path)
    assert expected in str(err.value)
    assert "exampleton_sites.csv" in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_population_csv(tmp_path):
    path = _town_with(tmp_path, population_text="x,y,count\n1,1,-3\n")
    with pytest.raises(ScenarioError, match=r"exampleton_population.csv: line 2, column count: must be ≥ 0"):
        load(path)


def test_unknown_occupant_is_an_error(tmp_path):
    text = (SCENARIOS / "towns" / "exampleton_sites.csv").read_text().replace("Grocer", "Grocerz", 1)
    path = _town_with(tmp_path, sites_text=text)
    with pytest.raises(ScenarioError, match="'Grocerz' is not a retailer of the scenario"):
        load(path)


def test_a_data_file_set_on_the_command_line_is_relative_to_the_scenario_file():
    scenario = load(SCENARIOS / "exampleton.toml", {"region.sites_csv": "towns/exampleton_sites.csv"})
    assert scenario.region.sites_csv == str((SCENARIOS / "towns" / "exampleton_sites.csv").resolve())


def test_a_town_file_sets_how_many_stores_fit_not_the_generators_site_count():
    others = sum(r.n_stores for r in load(SCENARIOS / "exampleton.toml").retailers if r.name != "Discounter")
    anywhere = {"retailers.Discounter.zones": ["centre", "neighbourhood", "retail_park", "shopping_centre"]}
    scenario = load(SCENARIOS / "exampleton.toml", {"retailers.Discounter.n_stores": 320 - others, **anywhere})
    assert scenario.region.n_sites == 28  # the generator's setting, unused for a town from a file
    model = RetailMarket(scenario.with_overrides({"steps": 1, "consumers.n": 500}), seed=1)
    assert (model.site_store >= 0).all()  # 320 stores on 320 sites
    with pytest.raises(ScenarioError, match="320 sites but the retailers open 321 stores"):
        load(SCENARIOS / "exampleton.toml", {"retailers.Discounter.n_stores": 321 - others, **anywhere})


def test_the_example_sites_file_is_what_its_script_writes():
    from scripts.make_exampleton import SEED, build, render

    shipped = (SCENARIOS / "towns" / "exampleton_sites.csv").read_text(encoding="utf-8")
    assert render(build(np.random.default_rng(SEED))) == shipped  # run scripts/make_exampleton.py after editing it
