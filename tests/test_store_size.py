"""A store's own floor space in the shopper's choice (choice.store_size_weight) and in a chain's view of a unit."""

import numpy as np
import pytest

from sim.model import RetailMarket
from sim.town import ZONE_CODE

from .conftest import small_scenario


def _run(weight, steps=8):
    model = RetailMarket(small_scenario(**{"consumers.n": 5000, "steps": steps,
                                           "choice.store_size_weight": weight}), seed=2)
    model.run()
    return model


def test_a_stores_pull_is_its_footfall_plus_the_weight_times_the_log_of_its_floor_over_the_mean_units():
    for weight in (0.0, 0.5, 1.0):
        model = RetailMarket(small_scenario(**{"steps": 1, "choice.store_size_weight": weight}), seed=2)
        sites = np.array([s.site for s in model.stores])
        footfall = model.config.choice.footfall_weight * model.site_footfall[sites]
        size = np.log(model.region.site_area_m2[sites] / model.region.site_area_m2.mean())
        np.testing.assert_allclose(model.slot_pull, footfall + weight * size, rtol=1e-6, atol=1e-6)


def test_with_floor_space_weighed_bigger_stores_sell_more_and_the_retail_parks_take_more():
    def sales(model):
        area = np.array([s.floor_area_m2 for s in model.stores])
        revenue = np.array([sum(s.weekly_revenue) for s in model.stores])
        at_park = model.region.site_zone[[s.site for s in model.stores]] == ZONE_CODE["retail_park"]
        return np.corrcoef(np.log(area), np.log(revenue + 1))[0, 1], revenue[at_park].sum() / revenue.sum()

    corr_off, park_off = sales(_run(0.0))
    corr_on, park_on = sales(_run(1.0))
    assert abs(corr_off) < 0.3  # without the weight a store's size hardly matters (-0.10 at seed 2)
    assert corr_on > 0.6  # with it, sales follow floor space (0.77)
    assert park_on > park_off + 0.2  # the retail parks' big units take a larger share (51 % against 15 %)


def test_a_chain_expects_a_unit_to_sell_in_proportion_to_its_floor_over_its_stores_when_size_is_weighed():
    model = _run(1.0, steps=30)
    chain = next(r for r in model.retailers if r.open_stores and not r.independent)
    estimate = model._sales_estimate(chain)
    assert estimate is not None
    per_demand, foot, own_m2 = estimate
    # one of its own units no bigger than its mean store, judged as if its stores were 1, 1/2 and 1/4 their size:
    # (floor / theirs) stays within the clip (at most 4), and the costs are those of the same unit each time
    site = next(s.site for s in chain.open_stores if s.floor_area_m2 <= own_m2)
    sites, rents = np.array([site]), np.zeros(1)
    gain = [model._expected_gain(chain, sites, rents, per_demand, foot, own_m2 / k)[0] for k in (1, 2, 4)]
    margin = gain[1] - gain[0]  # twice the sales less once: the margin at its own stores' size
    assert margin > 0
    assert gain[2] - gain[0] == pytest.approx(3 * margin, rel=1e-9)  # four times the sales
    # and with the weight at 0 the size does not count
    model.config.choice.store_size_weight = 0.0
    flat = [model._expected_gain(chain, sites, rents, per_demand, foot, own_m2 / k)[0] for k in (1, 4)]
    assert flat[0] == flat[1]
