"""The vectorised kernel chooses like the plain per-agent Mesa reference."""

from __future__ import annotations

import numpy as np
from scipy.stats import chi2_contingency, chisquare

from sim.choice import choose_numpy, dense_inputs, dense_probabilities
from sim.model import RetailMarket
from sim.reference import AgentConsumer, ReferenceMarket

from .conftest import small_scenario

REPEATS = 6


def test_kernel_and_per_agent_reference_choose_with_the_same_frequencies():
    market = RetailMarket(small_scenario(**{"consumers.n": 3000, "steps": 20}), seed=4)
    for _ in range(20):  # a market with history: inertia, points, knowledge, adoption
        market.step()
    arrays = market.market_arrays()
    everyone = np.arange(market.population.n)
    n_opt = 2 * len(market.retailers)
    expected = np.nan_to_num(dense_probabilities(dense_inputs(market, everyone))).sum(axis=1) * REPEATS

    kernel = np.zeros(n_opt, dtype=np.int64)
    reference = np.zeros(n_opt, dtype=np.int64)
    for rep in range(REPEATS):
        uniforms = np.random.default_rng(100 + rep).random(len(everyone))
        picks = choose_numpy(arrays, everyone, uniforms)
        kernel += np.bincount(picks.retailer.astype(int) + n_opt // 2 * picks.channel.astype(int), minlength=n_opt)
        ref = ReferenceMarket(market, seed=rep, always_shop=True)
        ref.step()
        agents = ref.agents_by_type[AgentConsumer]
        options = [a.last_retailer + n_opt // 2 * a.last_channel for a in agents]
        reference += np.bincount(options, minlength=n_opt)

    used = expected > 5
    assert kernel.sum() == reference.sum() == round(expected.sum())
    assert chisquare(kernel[used], expected[used] * kernel.sum() / expected[used].sum()).pvalue > 1e-3
    assert chisquare(reference[used], expected[used] * reference.sum() / expected[used].sum()).pvalue > 1e-3
    assert chi2_contingency(np.vstack([kernel[used], reference[used]])).pvalue > 1e-3


def test_reference_leaves_the_market_untouched():
    market = RetailMarket(small_scenario(**{"consumers.n": 500, "steps": 5}), seed=1)
    market.step()
    before = market.population.last_retailer.copy()
    ReferenceMarket(market, seed=3).step()
    np.testing.assert_array_equal(before, market.population.last_retailer)
