"""The choice kernel: logit probabilities, sampling, availability, repertoires, and both engines."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp

from sim.choice import (
    GiftTerms,
    MarketArrays,
    choice_probabilities,
    choose_numpy,
    dense_inputs,
    dense_probabilities,
    gather,
)
from sim.consideration import point_options, retailer_access, retailer_access_rows
from sim.fastchoice import choose_numba
from sim.model import RetailMarket
from sim.scenario import validate

from .conftest import small_scenario


def _distinct_sorted(rng, n, k, n_ret, p_empty):
    """(n, k) retailer ids, distinct and ascending within a row, −1 padding at the end."""
    keys = rng.random((n, n_ret)).argsort(axis=1)[:, :k]
    keys = np.sort(keys, axis=1).astype(np.int32)
    empty = rng.random((n, k)) < p_empty
    keys = np.where(empty, np.iinfo(np.int32).max, keys)
    keys = np.sort(keys, axis=1)
    return np.where(keys == np.iinfo(np.int32).max, -1, keys).astype(np.int32)


def random_market(n=30_000, n_ret=7, ks=4, ko=3, slots=4, seed=0) -> MarketArrays:
    """A market of random sets, repertoires and terms (strangers too), with a welcome gift on offer."""
    rng = np.random.default_rng(seed)
    f4 = np.float32
    store_ret = _distinct_sorted(rng, n, ks, n_ret, 0.1)
    online_ret = _distinct_sorted(rng, n, ko, n_ret, 0.1)
    slot_retailer = rng.random((n, n_ret)).argsort(axis=1)[:, :slots].astype(np.int32)
    slot_retailer[rng.random((n, slots)) < 0.3] = -1
    gift_pf = np.zeros(n_ret, dtype=f4)
    gift_pf[2] = 1.3
    store_rep, online_rep = (np.full(ret.shape, -1, dtype=np.int8) for ret in (store_ret, online_ret))
    for ret, rep in ((store_ret, store_rep), (online_ret, online_rep)):
        point_options(np.arange(n, dtype=np.int64), ret, slot_retailer, rep)
    return MarketArrays(
        store_ret=store_ret, store_slot=np.where(store_ret >= 0, rng.integers(0, 50, (n, ks)), -1).astype(np.int32),
        store_static=np.where(store_ret >= 0, -0.4 * rng.uniform(0.1, 8.0, (n, ks)) + rng.random((n, ks)), -np.inf),
        store_km=rng.uniform(0.1, 8.0, (n, ks)).astype(f4),
        online_ret=online_ret, online_taste=(-3 * rng.random((n, ko))).astype(f4),
        store_rep=store_rep, online_rep=online_rep,
        slot_retailer=slot_retailer, extra_utility=rng.random((n, slots)).astype(f4),
        discount=(0.02 * rng.random((n, slots))).astype(f4), habit=rng.random((n, slots)).astype(f4),
        stranger_extra=(0.5 * rng.random(n_ret)).astype(f4), stranger_discount=(0.01 * rng.random(n_ret)).astype(f4),
        gift=GiftTerms(price_factor=gift_pf, basket_eur=rng.lognormal(4, 0.8, n).astype(f4), scale=f4(2.0),
                       welcome_eur=f4(10.0), vesting=True, inertia_mean=f4(2.0)),
        rel_posted=rng.uniform(0.9, 1.1, n_ret),
        sells_online=np.array([True, True, False, True, True, True, True][:n_ret]),
        adopted=rng.random(n) < 0.4,
        price_sens=rng.lognormal(2, 0.4, n).astype(f4),
        online_friction=rng.normal(0.3, 0.8, n).astype(f4),
        inertia=rng.lognormal(1.3, 0.4, n).astype(f4), online_inertia_factor=0.8, online_price_sens_factor=1.5,
    )


def test_probabilities_sum_to_one_and_respect_availability():
    market = random_market(n=5000)
    x = gather(market, np.arange(5000))
    p = choice_probabilities(x)
    ok = np.isfinite(p).all(axis=0)
    np.testing.assert_allclose(p[:, ok].sum(axis=0), 1.0)
    assert (p[x.retailer < 0] == 0).all()  # empty options
    online = np.zeros_like(x.retailer, dtype=bool)
    online[x.n_store:] = True
    assert (p[online & (x.retailer == 2)] == 0).all()  # retailer 2 does not sell online
    assert (p[x.n_store:][:, ~market.adopted[:5000] & ok] == 0).all()  # non-adopters never buy online


def test_sampled_choices_match_logit_probabilities():
    market = random_market(n=200_000)
    idx = np.arange(200_000)
    x = gather(market, idx)
    picks = choose_numpy(market, idx, np.random.default_rng(1).random(200_000))
    option = picks.retailer.astype(int) + 7 * picks.channel.astype(int)
    observed = np.bincount(option[picks.retailer >= 0], minlength=14) / len(option)
    p = np.nan_to_num(choice_probabilities(x))
    expected = np.zeros(14)
    for k in range(x.retailer.shape[0]):
        held = x.retailer[k] >= 0
        np.add.at(expected, x.retailer[k][held] + 7 * (k >= x.n_store), p[k][held])
    # binomial standard error at n = 200,000 is below 0.0012; allow 4 of them
    np.testing.assert_allclose(observed, expected / len(option), atol=0.005)


def test_higher_price_lower_share():
    cheap = random_market(n=20_000)
    dear = random_market(n=20_000)
    dear.rel_posted = cheap.rel_posted.copy()
    dear.rel_posted[1] *= 1.2
    share = [(choose_numpy(m, np.arange(20_000), np.random.default_rng(3).random(20_000)).retailer == 1).mean()
             for m in (cheap, dear)]
    assert share[1] < share[0]


def test_a_stranger_sees_the_retailers_stranger_terms_and_no_habit():
    market = random_market(n=1000)
    market.slot_retailer[:] = -1  # everyone a stranger to every retailer
    x = gather(market, np.arange(1000))
    assert (x.habit == 0).all()
    held = x.retailer >= 0
    no_gift = held & (x.retailer != 2)
    taste = np.zeros_like(x.shared_utility)
    taste[x.n_store:] = market.online_taste[:1000].T
    extra = x.shared_utility - taste
    np.testing.assert_array_equal(extra[no_gift], market.stranger_extra[x.retailer[no_gift]].astype(np.float64))
    gift = held & (x.retailer == 2)
    assert (extra[gift] > market.stranger_extra[2]).all()  # the welcome gift adds to what strangers see


def test_stranded_shopper_gets_no_retailer():
    market = random_market(n=10)
    market.store_ret[:] = -1
    market.adopted[:] = False
    for choose in (choose_numpy, choose_numba):
        picks = choose(market, np.arange(10), np.random.default_rng(0).random(10))
        assert (picks.retailer == -1).all() and (picks.channel == -1).all() and (picks.utility == 0).all()


def test_numba_engine_makes_the_same_picks_as_numpy():
    market = random_market()
    idx = np.flatnonzero(np.random.default_rng(1).random(30_000) < 0.8)
    uniforms = np.random.default_rng(2).random(len(idx))
    a = choose_numpy(market, idx, uniforms)
    b = choose_numba(market, idx, uniforms)
    for name in ("retailer", "channel", "utility", "store_slot", "store_km", "rep_slot"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize("seed", [0, 1])
def test_choice_is_deterministic_for_a_seed(seed):
    market = random_market(n=2000)
    idx = np.arange(2000)
    a = choose_numba(market, idx, np.random.default_rng(seed).random(2000)).retailer
    b = choose_numba(market, idx, np.random.default_rng(seed).random(2000)).retailer
    np.testing.assert_array_equal(a, b)


def _sparse_as_dense(model, ids):
    """The sparse choice's probabilities laid out as the full logit's 2R options."""
    x = gather(model.market_arrays(), ids)
    p = np.nan_to_num(choice_probabilities(x))
    n_r = len(model.retailers)
    dense = np.zeros((2 * n_r, len(ids)))
    cols = np.arange(len(ids))
    for k in range(x.retailer.shape[0]):
        held = x.retailer[k] >= 0
        dense[x.retailer[k][held] + n_r * (k >= x.n_store), cols[held]] = p[k][held]
    return dense


def _model_with_history(**overrides):
    model = RetailMarket(small_scenario(**{"consumers.n": 800, "steps": 30, **overrides}), seed=3)
    for _ in range(26):  # habits, points, knowledge, tiers, closures
        model.step()
    return model


@pytest.mark.parametrize("draw_scale", [0.0, 1.0])
def test_with_sets_that_hold_everything_the_choice_is_the_full_dense_logit(draw_scale):
    model = _model_with_history(**{"choice.consideration_draw_scale": draw_scale})
    ids = np.arange(model.population.n)
    np.testing.assert_array_equal(_sparse_as_dense(model, ids), np.nan_to_num(dense_probabilities(
        dense_inputs(model, ids))))


def test_a_small_consideration_set_is_the_full_logit_within_the_set():
    model = _model_with_history(**{"choice.consideration_stores": 1, "choice.consideration_online": 1})
    ids = np.arange(model.population.n)
    sparse = _sparse_as_dense(model, ids)
    dense = np.nan_to_num(dense_probabilities(dense_inputs(model, ids)))
    considered = sparse > 0
    assert (considered.sum(axis=0) <= 2).all() and considered.any()
    within = np.where(considered, dense, 0.0)
    total = within.sum(axis=0)
    np.testing.assert_allclose(sparse[:, total > 0], (within / np.where(total > 0, total, 1))[:, total > 0],
                               rtol=1e-9, atol=1e-12)
    # and the store she considers is the retailer worth most to her before prices and habits
    sets = model.consider
    x = dense_inputs(model, ids)
    static = (x.taste + x.access).T
    has = sets.store_ret[:, 0] >= 0
    np.testing.assert_array_equal(sets.store_ret[has, 0], static[has].argmax(axis=1))


def _one_option_each(draw_scale, **overrides):
    """Each consumer's one store option, and what every retailer is worth to her before prices and habits."""
    model = RetailMarket(small_scenario(**{"consumers.n": 20_000, "steps": 2, "choice.consideration_stores": 1,
                                           "choice.consideration_draw_scale": draw_scale, **overrides}), seed=3)
    x = dense_inputs(model, np.arange(model.population.n))
    return model, model.consider.store_ret[:, 0].copy(), (x.taste + x.access).T


def test_drawn_options_are_held_in_proportion_to_each_retailers_logit_weight():
    model, held, static = _one_option_each(1.0)
    has = held >= 0
    n_r = len(model.retailers)
    weight = np.exp(static[has] - static[has].max(axis=1, keepdims=True))
    expected = (weight / weight.sum(axis=1, keepdims=True)).mean(axis=0)
    share = np.bincount(held[has], minlength=n_r) / has.sum()
    # a draw of one in proportion to the logit weights (the Gumbel-max rule), within sampling error: each
    # retailer's share of the options, and the share of shoppers who hold their best retailer (which a draw of
    # another scale misses: 0.8 or 1.2 miss it by over eight standard errors)
    tolerance = 3 * 0.5 / np.sqrt(has.sum())
    np.testing.assert_allclose(share, expected, atol=tolerance)
    p_best = (weight / weight.sum(axis=1, keepdims=True)).max(axis=1)
    holds_best = held[has] == static[has].argmax(axis=1)
    assert abs(holds_best.mean() - p_best.mean()) < tolerance
    assert holds_best.mean() < 0.8  # not the best retailer for everyone, as taking the best one gives
    _, best_held, best_static = _one_option_each(0.0)
    assert (best_held[has] == best_static[has].argmax(axis=1)).all()


def test_a_scan_of_fewer_stores_than_are_open_truncates_the_draw_and_a_scan_of_all_does_not():
    def miss(scanned):
        """The largest gap, in standard errors, between a retailer's share of the options and its mean logit
        probability over every open store of the region."""
        model, held, static = _one_option_each(1.0, **{"choice.stores_scanned": scanned})
        has = held >= 0
        weight = np.exp(static[has] - static[has].max(axis=1, keepdims=True))
        expected = (weight / weight.sum(axis=1, keepdims=True)).mean(axis=0)
        share = np.bincount(held[has], minlength=len(model.retailers)) / has.sum()
        return float(np.abs(share - expected).max() / (0.5 / np.sqrt(has.sum()))), len(model.open_stores)

    gap_all, n_open = miss(1000)
    gap_nearest, _ = miss(1)
    assert n_open > 1
    assert gap_all < 3  # within sampling error of the full logit's draw
    assert gap_nearest > 10  # her nearest store's retailer holds the option a draw over all would spread (16 SE)


def _town_of_independents(correction=True, n_options=4):
    """The classroom's three chains and 40 one-shop independents on 60 units, shoppers weighing a few of them:
    the market a small drawn set stands for."""
    raw = small_scenario(**{"consumers.n": 6000, "steps": 4, "region.n_sites": 60,
                            "choice.consideration_stores": n_options, "choice.consideration_draw_scale": 1.0,
                            "choice.consideration_draw_correction": correction, "choice.stores_scanned": 1000,
                            "choice.consideration_online": 64}).model_dump()
    rng = np.random.default_rng(5)
    raw["retailers"] += [{"name": f"Indie{i:02d}", "strategy": "mass", "taste": float(rng.random()), "markup": 0.35,
                          "n_stores": 1, "online": False, "independent": True} for i in range(40)]
    return RetailMarket(validate(raw), seed=3)


@pytest.mark.parametrize("n_options", [2, 4])
def test_drawn_options_weighed_by_their_chance_to_be_drawn_add_up_to_the_whole_scan(n_options):
    # each shopper's options, each weighed by its logit weight over its chance to be drawn, estimate what every
    # retailer she scans weighs together, without bias: their mean ratio is 1 within sampling error (weighed by
    # their logit weights alone they add up to about a ninth of it at two options)
    model = _town_of_independents(n_options=n_options)
    ids = np.arange(model.population.n)
    x = dense_inputs(model, ids)
    static = x.taste + x.access  # (retailers, shoppers): taste fit and access, before prices and habits
    top = static.max(axis=0)
    whole = np.exp(static - top).sum(axis=0)
    sets = model.consider
    held = np.where(sets.store_ret >= 0, np.exp(sets.store_static - top[:, None]), 0.0).sum(axis=1)
    assert n_options < len(model.retailers) and (sets.store_ret >= 0).sum(axis=1).max() == n_options
    ratio = held / whole
    assert abs(ratio.mean() - 1) < 4 * ratio.std() / np.sqrt(len(ratio))
    assert np.median(ratio) < 0.95  # the estimate is of the whole, not the whole itself: drawn sets differ


def test_the_correction_keeps_a_small_drawn_set_near_the_full_logits_market():
    """The independents' share of the shoppers' store choices, with four options each, against the full logit's
    over all 43 retailers: weighed by their logit weights alone, the drawn options give the chains a sixth of the
    independents' share (0.47 against 0.57 when measured); weighed by their chance to be drawn as well, they come
    within 0.02 (a residual bias: the choice divides by an estimate of the whole)."""
    def independents_share(correction):
        model = _town_of_independents(correction)
        ids = np.arange(model.population.n)
        n_r = len(model.retailers)
        independent = np.array([r.independent for r in model.retailers])
        sparse = _sparse_as_dense(model, ids)[:n_r][independent].sum(axis=0).mean()
        full = np.nan_to_num(dense_probabilities(dense_inputs(model, ids)))[:n_r][independent].sum(axis=0).mean()
        return sparse, full

    corrected, full = independents_share(True)
    uncorrected, full_again = independents_share(False)
    assert min(full, full_again) > 0.3  # (the warm-up's weeks differ with the options, so each has its own)
    assert uncorrected < 0.9 * full_again
    assert abs(corrected - full) < 0.4 * abs(uncorrected - full_again)


def test_a_consumers_drawn_options_are_fixed_for_the_run_and_come_from_the_runs_own_draw():
    model, held, _ = _one_option_each(1.0)
    sets, everyone = model.consider, np.arange(model.population.n)
    sets._assign(everyone)  # rebuilt with no store opened or closed: the same draw, the same options
    np.testing.assert_array_equal(sets.store_ret[:, 0], held)
    _, again, _ = _one_option_each(1.0)
    np.testing.assert_array_equal(again, held)
    model.consideration_key ^= 1 << 40  # another run's draw for the same shoppers and stores
    sets._assign(everyone)
    assert (sets.store_ret[:, 0] != held).mean() > 0.1


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.floats(-20, 20), min_size=1, max_size=12), scale=st.floats(0.01, 1.0))
def test_a_retailers_access_is_the_logsum_of_its_stores(values, scale):
    value = np.array(values)
    best = float(value.max())
    access = retailer_access(value, best, scale)
    # at least her best store, at most as if all its stores were her best
    assert best <= access <= best + scale * np.log(len(value)) + 1e-12
    np.testing.assert_allclose(access, scale * logsumexp(value / scale), rtol=1e-12, atol=1e-9)
    assert retailer_access(value, best, 0.0) == best  # scale 0: only her best counts
    assert retailer_access(value[:1], float(value[0]), scale) == value[0]  # one store: its value
    if len(value) > 1:  # another store never makes the retailer worth less to her
        assert access >= retailer_access(value[:-1], float(value[:-1].max()), scale)
    np.testing.assert_array_equal(retailer_access_rows(value[None, :], scale), [access])  # the rows' form


def test_a_chains_other_stores_near_her_make_it_likelier_to_be_chosen_and_scale_zero_undoes_it():
    def access(scale):
        model = RetailMarket(small_scenario(**{"consumers.n": 400, "steps": 2,
                                               "choice.chain_store_scale": scale}), seed=1)
        return model, dense_inputs(model, np.arange(model.population.n)).access

    model, nested = access(1.0)
    _, best_only = access(0.0)
    n_stores = np.array([len(r.open_stores) for r in model.retailers])
    assert (n_stores > 1).any()
    has_stores = n_stores > 0
    # every store counts: a retailer with several is worth more to everyone than its best store alone
    assert (nested[(n_stores > 1)] > best_only[(n_stores > 1)]).all()
    np.testing.assert_array_equal(nested[n_stores == 1], best_only[n_stores == 1])
    assert np.isfinite(best_only[has_stores]).all()


def _options_after_closures(raw: dict) -> tuple[np.ndarray, ...]:
    """Every consumer's options, their values and the purchases after a week, twelve closures, a refresh of the
    options and another week."""
    model = RetailMarket(validate(raw), seed=3)
    model.step()
    for store in model.open_stores[-12:]:
        model._close_store(store, "test")
    model._update_store_geography()
    model.step()
    sets = model.consider
    return (sets.store_ret.copy(), sets.store_slot.copy(), sets.store_static.copy(), sets.store_km.copy(),
            sets.nearest_km.copy(), sets.reach_km.copy(), model.population.slot_retailer.copy(),
            model.population.spend_year.copy())


@pytest.mark.parametrize("scanned", [1000, 8])
def test_options_built_from_the_kept_distances_and_draws_are_those_built_afresh(monkeypatch, scanned):
    # the cache of distances and draws is an engine setting: with it or without it (a bound of 0 bytes keeps
    # nothing), every consumer's options, their values and the run's purchases are the same bits, over a whole
    # scan and a scan of the nearest few, and after independents' stores close and the sets are refreshed
    import sim.consideration as consideration

    def options(bound):
        monkeypatch.setattr(consideration, "CACHE_BYTES", bound)
        raw = _town_of_independents().config.model_dump()
        raw["choice"]["stores_scanned"] = scanned
        cache = RetailMarket(validate(raw), seed=3).option_cache
        kept = cache.distances().size > 0, cache.draws.size > 0
        return kept, _options_after_closures(raw)

    kept, with_cache = options(256 * 2**20)
    nothing, afresh = options(0)
    assert kept == (True, True) and nothing == (False, False)
    for a, b in zip(with_cache, afresh, strict=True):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("draw_scale", [1.0, 0.0])
def test_a_scan_of_every_store_gives_the_same_options_by_the_grouped_pass_and_the_general_one(monkeypatch, draw_scale):
    # where every shopper scans every open store, the stores are grouped by retailer once for all of them instead of
    # for each: an engine choice, so her options, their values and the run's purchases are the same bits either way,
    # with chains' logsums, drawn or best options, and after stores close and the sets are refreshed
    import sim.consideration as consideration

    def options(grouped):
        monkeypatch.setattr(consideration, "WHOLE_NETWORK_PASS", grouped)
        raw = _town_of_independents().config.model_dump()
        raw["choice"]["consideration_draw_scale"] = draw_scale
        assert raw["choice"]["stores_scanned"] >= raw["region"]["n_sites"]  # every open store scanned
        return _options_after_closures(raw)

    for a, b in zip(options(True), options(False), strict=True):
        assert a.tobytes() == b.tobytes()


def test_the_kept_draws_are_each_consumers_own_draw_for_each_retailer():
    from sim.consideration import _gumbel

    model = _town_of_independents()
    cache = model.option_cache
    retailers = np.flatnonzero(cache.draw_row >= 0)
    assert len(retailers) == sum(1 for r in model.retailers if r.open_stores)
    for r in retailers[::7]:
        for i in (0, 17, model.population.n - 1):
            assert cache.draws[cache.draw_row[r], i] == _gumbel(model.consideration_key, i, r)


def test_validate_bounds_the_memory_the_kept_distances_and_draws_take():
    from sim.model import footprint

    model = _town_of_independents()
    model.step()
    cache = model.option_cache
    held = cache.distances().nbytes + cache.draws.nbytes
    assert 0 < held <= footprint(model.config)["cache_mib_max"] * 2**20
