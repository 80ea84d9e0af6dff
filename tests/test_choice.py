"""The choice kernel: logit probabilities, sampling, availability."""

from __future__ import annotations

import numpy as np
import pytest

from sim.choice import ChoiceInputs, choice_probabilities, choose


def inputs(n=20_000, price=(0.0, 0.1, -0.1), dist=(1.0, 2.0, np.inf), online=(True, False, True), seed=0):
    rng = np.random.default_rng(seed)
    r = len(price)
    return ChoiceInputs(
        shared_utility=np.zeros((r, n), dtype=np.float32),
        rel_price=np.repeat(np.array(price, dtype=np.float32)[:, None], n, axis=1),
        store_distance_km=np.repeat(np.array(dist, dtype=np.float32)[:, None], n, axis=1),
        store_footfall=np.zeros((r, n), dtype=np.float32),
        sells_online=np.array(online),
        adopted=rng.random(n) < 0.5,
        price_sens=np.full(n, 8.0, dtype=np.float32),
        travel_sens=np.full(n, 0.4, dtype=np.float32),
        online_friction=np.full(n, 0.5, dtype=np.float32),
        last_retailer=rng.integers(-1, r, n).astype(np.int16),
        inertia=1.0, online_inertia_factor=0.5, online_price_sens_factor=1.5,
    )


def test_probabilities_sum_to_one_and_respect_availability():
    x = inputs()
    p = choice_probabilities(x)
    np.testing.assert_allclose(p.sum(axis=0), 1.0)
    assert (p[2] == 0).all()  # retailer 2 has no open store
    assert (p[3 + 1] == 0).all()  # retailer 1 does not sell online
    assert (p[3:, ~x.adopted] == 0).all()  # non-adopters never buy online


def test_sampled_choices_match_logit_probabilities():
    x = inputs(n=200_000)
    retailer, channel, _ = choose(x, np.random.default_rng(1))
    option = retailer.astype(int) + 3 * channel.astype(int)
    observed = np.bincount(option, minlength=6) / len(option)
    expected = choice_probabilities(x).mean(axis=1)
    # binomial standard error at n = 200,000 is below 0.0012; allow 4 of them
    np.testing.assert_allclose(observed, expected, atol=0.005)


def test_higher_price_lower_share():
    cheap = choice_probabilities(inputs(price=(0.0, 0.0, 0.0)))[1].mean()
    dear = choice_probabilities(inputs(price=(0.0, 0.2, 0.0)))[1].mean()
    assert dear < cheap


def test_stranded_shopper_gets_no_retailer():
    x = inputs(n=10, dist=(np.inf, np.inf, np.inf), online=(False, False, False))
    retailer, channel, utility = choose(x, np.random.default_rng(0))
    assert (retailer == -1).all() and (channel == -1).all()
    assert np.isfinite(utility).all()


@pytest.mark.parametrize("seed", [0, 1])
def test_choice_is_deterministic_for_a_seed(seed):
    x = inputs(n=1000)
    a = choose(x, np.random.default_rng(seed))[0]
    b = choose(x, np.random.default_rng(seed))[0]
    np.testing.assert_array_equal(a, b)
