"""Travel by car or on foot: who has a car, what a km costs each, and who pays the centre's parking charge."""

import numpy as np

from sim.model import RetailMarket
from sim.town import ZONE_CODE

from .conftest import small_scenario

CARS = {"consumers.share_by_car": 0.744, "consumers.travel_sens_mean": 0.75, "consumers.travel_sens_car_mean": 0.15}


def _model(**overrides):
    return RetailMarket(small_scenario(**{"consumers.n": 20_000, "steps": 4, **overrides}), seed=5)


def test_car_users_are_drawn_in_their_share_and_pay_their_own_cost_a_km():
    with_cars, without = _model(**CARS), _model()
    pop = with_cars.population
    assert abs(pop.by_car.mean() - 0.744) < 3 * np.sqrt(0.744 * 0.256 / pop.n)
    # the same spread about each group's mean (the draws' mean is e^-0.08 · e^0.08 = 1)
    for group, mean in ((pop.by_car, 0.15), (~pop.by_car, 0.75)):
        assert abs(pop.travel_sens[group].mean() / mean - 1) < 0.02
    # whether she has a car comes from a stream of its own: every other draw is as without cars
    for name in ("home_x", "home_y", "budget_eur", "price_sens", "taste", "online_friction", "adopted"):
        np.testing.assert_array_equal(getattr(pop, name), getattr(without.population, name), err_msg=name)
    assert without.population.by_car is None


def test_a_car_that_costs_what_walking_costs_changes_nothing_without_a_parking_charge():
    same = {"consumers.share_by_car": 0.744, "consumers.travel_sens_car_mean": 0.35}
    a, b = _model(**{**same, "steps": 8}), _model(steps=8)
    a.run()
    b.run()
    assert a.population.by_car.any()
    np.testing.assert_array_equal(a.population.travel_sens, b.population.travel_sens)
    assert a.metrics.to_frame().equals(b.metrics.to_frame())


def test_only_car_users_pay_the_centres_parking_charge():
    parking = {"municipal.centre_parking_eur": 3.0}
    with_cars, without = _model(**CARS, **parking), _model(**parking)
    by_car = with_cars.population.by_car
    assert (with_cars._parking[~by_car] == 0).all() and (with_cars._parking[by_car] > 0).all()
    assert (without._parking > 0).all()  # with no one told apart, everyone pays


def test_car_users_weigh_farther_stores_than_those_on_foot():
    model = _model(**CARS, **{"choice.consideration_stores": 1})  # one option each: the one worth most to her
    pop, sets = model.population, model.consider
    assert pop.travel_sens[pop.by_car].mean() < pop.travel_sens[~pop.by_car].mean() / 4
    km = np.where(sets.store_ret >= 0, sets.store_km, np.nan)
    far_car = np.nanmean(km[pop.by_car])
    far_foot = np.nanmean(km[~pop.by_car])
    assert far_car > far_foot + 0.1  # her option stands farther from home (2.31 km against 2.06 at seed 5)
    # and the retail parks, out of town, are likelier among a car user's options
    open_sites = np.array([s.site for s in model.stores])
    at_park = model.region.site_zone[open_sites] == ZONE_CODE["retail_park"]
    slot = np.where(sets.store_slot >= 0, sets.store_slot, 0)
    holds_park = (at_park[slot] & (sets.store_slot >= 0)).any(axis=1)
    assert at_park.any()
    assert holds_park[pop.by_car].mean() > holds_park[~pop.by_car].mean() + 0.015  # 17.4 % against 13.8 %
