"""The town's levers: each moves money or choices the way it says, and nothing when it is off."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.metrics import ALL
from sim.model import RetailMarket
from sim.scenario import load
from sim.town import ZONE_CODE

CLASSROOM = Path(__file__).resolve().parent.parent / "scenarios" / "classroom.toml"
WEEKS = 52


def town_scenario(**municipal):
    """The classroom market plus two independents in the town centres, on 16 sites (some vacant)."""
    base = load(CLASSROOM)
    raw = base.model_dump(mode="json")
    raw["retailers"] += [
        {"name": "Corner", "strategy": "mass", "taste": 0.35, "markup": 0.35, "n_stores": 1, "zones": ["centre"],
         "online": False, "independent": True},
        {"name": "Deli", "strategy": "learning", "taste": 0.65, "markup": 0.4, "n_stores": 1, "zones": ["centre"],
         "online": False, "independent": True},
    ]
    raw["region"]["n_sites"] = 16
    raw["steps"] = WEEKS
    raw["municipal"] = municipal
    return type(base).model_validate(raw)


def run(**municipal) -> RetailMarket:
    model = RetailMarket(town_scenario(**municipal), seed=3)
    model.run()
    return model


def market(model, column):
    frame = model.metrics.to_frame()
    return frame[frame["retailer"] == ALL][column].to_numpy()


def per_retailer(model, name, column):
    frame = model.metrics.to_frame()
    return frame[frame["retailer"] == name][column].to_numpy()


@pytest.fixture(scope="module")
def plain():
    return run()


def test_with_every_lever_off_the_town_neither_earns_nor_pays(plain):
    assert (market(plain, "municipal_net_eur") == 0).all()
    assert not any(r.via_platform for r in plain.retailers)


def test_rent_relief_moves_part_of_an_independents_rent_to_the_town(plain):
    relieved = run(rent_relief_independents=0.5)
    independents = [r for r in relieved.retailers if r.independent]
    full_rent = sum(s.floor_area_m2 * s.rent_eur_m2_year / 52 for r in independents for s in r.open_stores
                    if relieved.region.site_zone[s.site] != ZONE_CODE["retail_park"])
    assert full_rent > 0
    # the last week: independents pay half, the town pays the other half, chains pay in full
    assert sum(r.accounts.rent for r in independents) == pytest.approx(0.5 * full_rent)
    assert relieved.municipality.accounts.rent_relief == pytest.approx(0.5 * full_rent)
    assert market(relieved, "municipal_net_eur")[-1] == pytest.approx(-0.5 * full_rent)
    chains = [r for r in relieved.retailers if not r.independent]
    assert sum(r.accounts.rent for r in chains) == pytest.approx(
        sum(s.floor_area_m2 * s.rent_eur_m2_year / 52 for r in chains for s in r.open_stores))


def test_the_shared_platform_lets_independents_sell_online_for_a_commission(plain):
    for name in ("Corner", "Deli"):
        assert per_retailer(plain, name, "revenue_online_eur").sum() == 0
    shared = run(shared_platform=True, platform_fee_share=0.08)
    fees = 0.0
    for name in ("Corner", "Deli"):
        retailer = shared.retailers[shared.retailer_index(name)]
        assert retailer.via_platform and retailer.sells_online and not retailer.own_web_shop
        assert per_retailer(shared, name, "revenue_online_eur").sum() > 0
        assert retailer.accounts.online_fixed == 0  # no web shop of its own to run
        assert retailer.accounts.platform_fee == pytest.approx(0.08 * retailer.accounts.revenue_online)
        fees += retailer.accounts.platform_fee
    assert market(shared, "municipal_net_eur")[-1] == pytest.approx(fees)


def test_a_delivery_levy_is_paid_per_household_order_and_lowers_the_online_share(plain):
    levied = run(delivery_levy_eur_order=3.0, levy_pass_through=0.25)
    town = levied.municipality.accounts
    # the town collects the whole levy; retailers pay three quarters, consumers the rest
    assert town.levy_from_retailers == pytest.approx(3 * town.levy_from_consumers)
    assert sum(r.accounts.levy for r in levied.retailers) == pytest.approx(town.levy_from_retailers)
    assert market(levied, "municipal_net_eur")[-1] == pytest.approx(town.levy_from_retailers
                                                                    + town.levy_from_consumers)
    # each simulated consumer stands for households_per_agent households, and so does her order:
    # count the week's online orders where the purchases are settled, and scale them
    model = RetailMarket(town_scenario(delivery_levy_eur_order=3.0, levy_pass_through=0.25), seed=3)
    settle, orders = model._settle, []

    def counting_settle(*args, **kwargs):
        week = settle(*args, **kwargs)
        orders.append(int(week.n_orders_online.sum()))
        return week

    model._settle = counting_settle
    model.step()
    households = model.config.consumers.households_per_agent
    assert orders[-1] > 0 and households != 1
    assert model.municipality.accounts.net == pytest.approx(3.0 * orders[-1] * households)
    assert sum(r.accounts.delivery for r in model.retailers) == pytest.approx(
        model.config.online.delivery_eur_order * orders[-1] * households)
    assert market(levied, "online_share")[-13:].mean() < market(plain, "online_share")[-13:].mean()
    # the more of it consumers pay, the more it keeps them in the stores
    felt = run(delivery_levy_eur_order=3.0, levy_pass_through=1.0)
    assert market(felt, "online_share")[-13:].mean() < market(levied, "online_share")[-13:].mean()


def test_a_centre_parking_charge_moves_shoppers_out_of_the_centres(plain):
    charged = run(centre_parking_eur=4.0)

    def centre_share(model):
        centre = [s.slot for s in model.stores if model.region.site_zone[s.site] == ZONE_CODE["centre"]]
        revenue = np.array([sum(s.weekly_revenue) for s in model.stores])
        return revenue[centre].sum() / revenue.sum()

    assert centre_share(charged) < centre_share(plain)


def test_a_vacancy_tax_makes_landlords_cut_rents_faster_and_is_collected(plain):
    taxed = run(vacancy_tax_eur_m2_year=60.0)
    vacant = taxed.site_store < 0
    assert vacant.any()
    # same sites vacant in both runs (no entry): the taxed landlords ask less
    assert (plain.site_store < 0)[vacant].all()
    assert (taxed.asking_rent[vacant] < plain.asking_rent[vacant]).all()
    floor_vacant = taxed.region.site_area_m2[vacant].sum()
    assert market(taxed, "municipal_net_eur")[-1] == pytest.approx(60.0 * floor_vacant / 52)


def test_the_out_of_town_cap_blocks_new_retail_park_floor():
    model = RetailMarket(town_scenario(out_of_town_cap_m2=0.0), seed=3)
    region = model.region
    sites = np.arange(region.n_sites)
    allowed = model.municipality.may_open(sites)
    park = region.site_zone == ZONE_CODE["retail_park"]
    assert park.any() and not allowed[park].any() and allowed[~park].all()
    uncapped = RetailMarket(town_scenario(), seed=3).municipality.may_open(sites)
    assert uncapped.all()
