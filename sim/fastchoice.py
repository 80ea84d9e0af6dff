"""The numba engine: the weekly choice, settlement and learning updates, compiled.

The arithmetic is that of ``sim.choice``, ``sim.settle`` and the learning strategy,
in the same order. The kernels read each shopper's consideration set and repertoire
in place instead of gathering the shoppers' columns, and work through consumers in a fixed
number of chunks spread over the cores, so results depend only on the inputs and the
uniforms, never on the number of threads. Used from 1,000 consumers (see
``Scenario.engine``); importing this module compiles nothing until the first call,
and compiled code is cached on disk (``python -m sim.fastchoice`` warms the cache).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from sim import detmath
from sim.choice import Choices, MarketArrays
from sim.consumers import NEVER

N_CHUNKS = 256
BOOK_CHUNKS = 16  # settlement sums: partial sums per chunk, added in chunk order (as the numpy engine)
_EXP_MIN, _EXP_MAX = detmath.EXP_MIN, detmath.EXP_MAX
_POW2, _POW2_OFFSET = detmath.POW2, detmath.POW2_OFFSET
# the very functions numpy evaluates in sim.detmath, compiled: the same operations, the same bits
_reduce = njit(cache=True, inline="always")(detmath._reduce)
_poly = njit(cache=True, inline="always")(detmath._poly)


@njit(cache=True, inline="always")
def det_exp(x):
    """Scalar twin of ``sim.detmath.exp``."""
    if x < _EXP_MIN:
        return 0.0
    k, r = _reduce(min(x, _EXP_MAX))
    return _poly(r) * _POW2[int(k) + _POW2_OFFSET]


@njit(cache=True)
def _det_exp_array(x, out):
    for i in range(x.shape[0]):
        out[i] = det_exp(x[i])


@njit(cache=True, inline="always")
def gift_utility_scalar(basket, price_sens, inertia, price_factor, scale, welcome_eur, vesting, inertia_mean):
    """Scalar twin of ``sim.choice.gift_utility``: each float32 operation rounded as numpy rounds it."""
    paid = np.float32(np.float32(basket * scale) * price_factor)
    if paid < np.float32(1e-6):
        paid = np.float32(1e-6)
    ratio = np.float32(welcome_eur / paid)
    if ratio > np.float32(1.0):
        ratio = np.float32(1.0)
    gift = np.float32(price_sens * ratio)
    if vesting:
        c = np.float32(inertia / inertia_mean)
        if c < np.float32(0.0):
            c = np.float32(0.0)
        elif c > np.float32(2.0):
            c = np.float32(2.0)
        gift = np.float32(gift * c)
    return gift


@njit(parallel=True, cache=True)
def _choose(idx, uniforms, store_ret, store_slot, store_static, store_km, online_ret, online_taste,
            store_rep, online_rep, extra, discount, habit, stranger_extra, stranger_discount,
            gift_pf, basket, gift_scale, gift_welcome, gift_vesting, gift_inertia_mean,
            rel_posted, sells_online, adopted, price_sens, online_friction, inertia,
            online_inertia_factor, online_price_sens_factor, ks, ko, any_gift,
            out_ret, out_chan, out_util, out_store_slot, out_km, out_rep):
    n_shop = idx.shape[0]
    n_opt = ks + ko  # the columns in use: options are packed to the left
    n_chunks = min(N_CHUNKS, max(n_shop, 1))
    for c in prange(n_chunks):
        util = np.empty(n_opt)
        weight = np.empty(n_opt)
        rep = np.empty(n_opt, dtype=np.int32)
        for j in range(c * n_shop // n_chunks, (c + 1) * n_shop // n_chunks):
            i = idx[j]
            ps = np.float64(price_sens[i])
            fr = np.float64(online_friction[i])
            same_i = np.float64(inertia[i])
            top = -np.inf
            # her store options, then (if she shops online) her web shops; the same arithmetic for both
            n_here = n_opt if adopted[i] else ks
            for o in range(n_opt):
                rep[o] = -1
                util[o] = -np.inf
            for o in range(n_here):
                if o < ks:
                    r = store_ret[i, o]
                    if r < 0:
                        continue
                    q = np.int32(store_rep[i, o])
                else:
                    r = online_ret[i, o - ks]
                    if r < 0 or not sells_online[r]:
                        continue
                    q = np.int32(online_rep[i, o - ks])
                rep[o] = q
                if q >= 0:
                    ex32 = extra[i, q]
                    disc = np.float64(discount[i, q])
                    hb = np.float64(habit[i, q])
                else:
                    ex32 = stranger_extra[r]
                    if any_gift and gift_pf[r] > 0:
                        ex32 = np.float32(ex32 + gift_utility_scalar(
                            basket[i], price_sens[i], inertia[i], gift_pf[r], gift_scale, gift_welcome,
                            gift_vesting, gift_inertia_mean))
                    disc = np.float64(stranger_discount[r])
                    hb = 0.0
                ex = np.float64(ex32)
                price = ps * (rel_posted[r] * (1.0 - disc) - 1.0)
                same = same_i * hb
                if o < ks:
                    u = ((store_static[i, o] + ex) - price) + same
                else:
                    u = ((np.float64(online_taste[i, o - ks]) + ex) - online_price_sens_factor * price) - fr
                    u = u + same * online_inertia_factor
                util[o] = u
                if u > top:
                    top = u
            if not np.isfinite(top):
                out_ret[j] = -1
                out_chan[j] = -1
                out_util[j] = 0.0
                out_store_slot[j] = -1
                out_km[j] = 0.0
                out_rep[j] = -1
                continue
            total = 0.0
            last_ok = 0
            for o in range(n_opt):
                u = util[o]
                if u == top:
                    w = 1.0  # exp(0), exactly as numpy gives it; exp is the costly part
                elif u > -np.inf:
                    w = det_exp(u - top)
                else:
                    w = 0.0
                weight[o] = w
                total += w
                if w > 0.0:
                    last_ok = o
            target = np.float64(uniforms[j]) * total
            option = last_ok
            cum = 0.0
            for o in range(n_opt):
                cum += weight[o]
                if cum > target:
                    option = o
                    break
            option = min(option, last_ok)
            if option < ks:
                out_ret[j] = store_ret[i, option]
                out_chan[j] = 0
                out_store_slot[j] = store_slot[i, option]
                out_km[j] = store_km[i, option]
            else:
                out_ret[j] = online_ret[i, option - ks]
                out_chan[j] = 1
                out_store_slot[j] = -1
                out_km[j] = 0.0
            out_util[j] = util[option]
            out_rep[j] = rep[option]


def choose_numba(a: MarketArrays, idx: np.ndarray, uniforms: np.ndarray) -> Choices:
    """The numba engine: same signature and same picks as ``sim.choice.choose_numpy``."""
    n_shop = len(idx)
    out_ret = np.empty(n_shop, dtype=np.int32)
    out_chan = np.empty(n_shop, dtype=np.int8)
    out_util = np.empty(n_shop, dtype=np.float32)
    out_store_slot = np.empty(n_shop, dtype=np.int32)
    out_km = np.empty(n_shop, dtype=np.float32)
    out_rep = np.empty(n_shop, dtype=np.int32)
    g = a.gift
    ks, ko = a.widths()
    _choose(np.asarray(idx, dtype=np.int64), uniforms, a.store_ret, a.store_slot, a.store_static, a.store_km,
            a.online_ret, a.online_taste, a.store_rep, a.online_rep, a.extra_utility, a.discount, a.habit,
            a.stranger_extra, a.stranger_discount, g.price_factor, g.basket_eur, g.scale, g.welcome_eur,
            bool(g.vesting), g.inertia_mean, np.asarray(a.rel_posted, dtype=np.float64), a.sells_online,
            a.adopted, a.price_sens, a.online_friction, a.inertia, float(a.online_inertia_factor),
            float(a.online_price_sens_factor), ks, ko, bool((g.price_factor > 0).any()), out_ret, out_chan, out_util,
            out_store_slot, out_km, out_rep)
    return Choices(out_ret, out_chan, out_util, out_store_slot, out_km, out_rep)


# ---- settling the week ------------------------------------------------------------------

@njit(cache=True, inline="always")
def take_slot(slot_retailer, habit, last_week, i, lo, hi):
    """The slot a purchase from a retailer outside her repertoire takes, among her slots [lo, hi) for
    its category: an empty one, else the weakest (least habit, then the longest since a purchase,
    then the first)."""
    best = lo
    for q in range(lo, hi):
        if slot_retailer[i, q] < 0:
            return q
        if habit[i, q] < habit[i, best] or (habit[i, q] == habit[i, best] and last_week[i, q] < last_week[i, best]):
            best = q
    return best


@njit(parallel=True, cache=True)
def _pay_and_update(idx, ret, chan, util, rep, basket, households_per_agent, price_factor, week, window,
                    slot_retailer, last_week, since_week, spend_year, spend_last_year, habit, points, knowledge,
                    extra, discount, tier, card, gift, gift_due, stranger_extra, stranger_discount, stranger_gift,
                    gift_pf, price_sens, inertia, gift_scale, gift_welcome, gift_vesting, gift_inertia_mean,
                    total_spent, last_retailer, last_channel, last_utility, habit_build, slot_lo, slot_hi,
                    cost, paid, lapsed, previous, lost_card, prior_ret, prior_week):
    n = idx.shape[0]
    n_chunks = min(N_CHUNKS, max(n, 1))
    for c in prange(n_chunks):
        for j in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            r = ret[j]
            if r < 0:
                continue
            i = idx[j]
            q = rep[j]
            if q < 0:  # a stranger's first purchase: she takes a slot for the retailer
                q = take_slot(slot_retailer, habit, last_week, i, slot_lo, slot_hi)
            prior_ret[j] = slot_retailer[i, q]
            prior_week[j] = last_week[i, q]
            if rep[j] < 0:
                lost_card[j] = card[i, q]
                slot_retailer[i, q] = r
                habit[i, q] = 0.0
                last_week[i, q] = NEVER
                since_week[i, q] = NEVER
                spend_year[i, q] = 0.0
                spend_last_year[i, q] = 0.0
                points[i, q] = 0.0
                knowledge[i, q] = 0.0
                tier[i, q] = 0
                card[i, q] = False
                gift_due[i, q] = 0
                gift[i, q] = stranger_gift[r]
                ex = stranger_extra[r]
                if gift_pf[r] > 0:
                    ex = np.float32(ex + gift_utility_scalar(basket[i], price_sens[i], inertia[i], gift_pf[r],
                                                             gift_scale, gift_welcome, gift_vesting,
                                                             gift_inertia_mean))
                extra[i, q] = ex
                discount[i, q] = stranger_discount[r]
                rep[j] = q
            cost[j] = np.float64(basket[i]) * households_per_agent
            paid[j] = cost[j] * price_factor[r]
            lapsed[j] = (week - last_week[i, q]) >= window
            if lapsed[j]:
                since_week[i, q] = week
            last_week[i, q] = week
            spend_year[i, q] += np.float32(paid[j])
            total_spent[i] += paid[j]
            previous[j] = last_retailer[i]
            last_retailer[i] = r
            keep = np.float32(1.0) - habit_build
            for s in range(slot_lo, slot_hi):  # her habits in other categories are not worn by this one
                habit[i, s] = habit[i, s] * keep
            habit[i, q] = habit[i, q] + habit_build
            last_channel[i] = chan[j]
            last_utility[i] = util[j]


@njit(parallel=True, cache=True)
def _book(idx, ret, chan, util, cost, paid, lapsed, store_slot, store_km, n_ret, n_slots):
    n = idx.shape[0]
    n_chunks = BOOK_CHUNKS
    # per-chunk partial sums, added in chunk order afterwards: the same order as the numpy engine
    p_rev_store = np.zeros((n_chunks, n_ret))
    p_rev_online = np.zeros((n_chunks, n_ret))
    p_cogs = np.zeros((n_chunks, n_ret))
    p_orders = np.zeros((n_chunks, n_ret), dtype=np.int64)
    p_acquired = np.zeros((n_chunks, n_ret), dtype=np.int64)
    p_tx = np.zeros((n_chunks, n_ret), dtype=np.int64)
    p_store_rev = np.zeros((n_chunks, n_slots))
    p_store_cogs = np.zeros((n_chunks, n_slots))
    p_dist = np.zeros(n_chunks)
    p_util = np.zeros(n_chunks)
    p_store = np.zeros(n_chunks, dtype=np.int64)
    for c in prange(n_chunks):
        # sums kept in this chunk's own arrays and copied once: rows of a shared array written by
        # two threads would share cache lines
        rev_store, rev_online, cogs = np.zeros(n_ret), np.zeros(n_ret), np.zeros(n_ret)
        orders, acquired, tx = (np.zeros(n_ret, dtype=np.int64), np.zeros(n_ret, dtype=np.int64),
                                np.zeros(n_ret, dtype=np.int64))
        store_rev, store_cogs = np.zeros(n_slots), np.zeros(n_slots)
        dist = 0.0
        utility = 0.0
        n_store = 0
        for j in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            r = ret[j]
            if r < 0:
                continue
            tx[r] += 1
            cogs[r] += cost[j]
            utility += np.float64(util[j])
            if lapsed[j]:
                acquired[r] += 1
            if chan[j] == 1:
                rev_online[r] += paid[j]
                orders[r] += 1
            else:
                rev_store[r] += paid[j]
                slot = store_slot[j]
                store_rev[slot] += paid[j]
                store_cogs[slot] += cost[j]
                dist += np.float64(store_km[j])
                n_store += 1
        p_rev_store[c] = rev_store
        p_rev_online[c] = rev_online
        p_cogs[c] = cogs
        p_orders[c] = orders
        p_acquired[c] = acquired
        p_tx[c] = tx
        p_store_rev[c] = store_rev
        p_store_cogs[c] = store_cogs
        p_dist[c] = dist
        p_util[c] = utility
        p_store[c] = n_store
    rev_store = _sum_chunks(p_rev_store)
    rev_online = _sum_chunks(p_rev_online)
    cogs = _sum_chunks(p_cogs)
    store_rev = _sum_chunks(p_store_rev)
    store_cogs = _sum_chunks(p_store_cogs)
    sum_dist = 0.0
    sum_util = 0.0
    for b in range(n_chunks):
        sum_dist += p_dist[b]
        sum_util += p_util[b]
    return (rev_store, rev_online, cogs, p_orders.sum(axis=0), p_acquired.sum(axis=0), p_tx.sum(axis=0),
            store_rev, store_cogs, sum_dist, p_store.sum(), sum_util)


@njit(cache=True)
def _sum_chunks(partial):
    total = np.zeros(partial.shape[1])
    for c in range(partial.shape[0]):
        for k in range(partial.shape[1]):
            total[k] += partial[c, k]
    return total


def settle_numba(pop, model, choices, idx, price_factor, households_per_agent, n_slots, week, window, spend=None):
    """The numba engine's settlement: same figures as ``sim.settle.settle_numpy``."""
    from sim.settle import group_purchases

    spend = spend or pop.categories[0]
    idx = np.asarray(idx, dtype=np.int64)
    n = len(idx)
    cost = np.empty(n)
    paid = np.empty(n)
    lapsed = np.zeros(n, dtype=np.bool_)
    previous = np.full(n, -1, dtype=np.int16)
    lost_card = np.zeros(n, dtype=np.bool_)
    prior_ret = np.full(n, -1, dtype=np.int32)
    prior_week = np.full(n, NEVER, dtype=np.int32)
    price_factor = np.asarray(price_factor, dtype=np.float64)
    ret, chan, util, rep = choices.retailer, choices.channel, choices.utility, choices.rep_slot
    st = model.stranger
    g = st.gift
    _pay_and_update(idx, ret, chan, util, rep, spend.basket_eur, float(households_per_agent), price_factor, week,
                    window, pop.slot_retailer, pop.last_week, pop.since_week, pop.spend_year, pop.spend_last_year,
                    pop.habit, pop.points, pop.knowledge, pop.extra_utility, pop.discount, pop.tier, pop.card,
                    pop.gift, pop.gift_due_week, st.extra, st.discount, st.gift_state, g.price_factor,
                    pop.price_sens, pop.inertia, g.scale, g.welcome_eur, bool(g.vesting), g.inertia_mean,
                    pop.total_spent_eur, spend.last_retailer, pop.last_channel, pop.last_utility, pop.habit_build,
                    spend.slot_lo, spend.slot_hi, cost, paid, lapsed, previous, lost_card, prior_ret, prior_week)
    if spend.last_retailer is not pop.last_retailer:
        bought = ret >= 0
        pop.last_retailer[idx[bought]] = ret[bought]  # her last purchase in any category
    n_ret = len(price_factor)
    (rev_store, rev_online, cogs, orders, acquired, n_tx, store_rev, store_cogs, sum_dist, n_store,
     sum_util) = _book(idx, ret, chan, util, cost, paid, lapsed, choices.store_slot, choices.store_km, n_ret,
                       n_slots)
    return group_purchases(
        idx, ret, chan, paid, rep, previous, lost_card, prior_ret, prior_week, week, window, n_ret,
        revenue_store=rev_store, revenue_online=rev_online, cogs=cogs, n_orders_online=orders,
        n_acquired=acquired, n_transactions=n_tx, store_revenue=store_rev, store_cogs=store_cogs,
        sum_distance_km=float(sum_dist), n_store_purchases=int(n_store), sum_utility=float(sum_util))


@njit(parallel=True, cache=True)
def _decay_and_refit(slot_retailer, is_kind, knowledge, fit, keep, neg_c, scale):
    n, n_slot = knowledge.shape
    n_chunks = min(N_CHUNKS, max(n, 1))
    for c in prange(n_chunks):
        for i in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            for q in range(n_slot):
                k = knowledge[i, q]
                if k == 0:
                    continue  # nothing known: nothing decays, and the fit stays 0
                r = slot_retailer[i, q]
                if r < 0 or not is_kind[r]:
                    continue
                k = k * keep  # float32 × float32, as numpy's in-place multiply
                knowledge[i, q] = k
                fit[i, q] = np.float32((1.0 - det_exp(np.float64(k) * neg_c)) * scale)


def decay_and_refit_numba(slot_retailer, is_kind, knowledge, fit, keep, neg_c, scale):
    """Learning's weekly decay and personal-fit refresh over its retailers' slots (same bits as numpy)."""
    _decay_and_refit(slot_retailer, is_kind, knowledge, fit, np.float32(keep), float(neg_c), float(scale))


@njit(parallel=True, cache=True)
def _learn(knowledge, fit, buyers, slots, channel, value_tier, rate_store, rate_online, boost, neg_c, scale):
    n = buyers.shape[0]
    n_chunks = min(N_CHUNKS, max(n, 1))
    for c in prange(n_chunks):
        for j in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            i = buyers[j]
            q = slots[j]
            rate = rate_online if channel[j] == 1 else rate_store
            if value_tier[i] == 2:
                rate = rate * boost
            rate = min(rate, np.float32(1.0))
            k = knowledge[i, q]
            k = k + rate * (np.float32(1.0) - k)  # float32 throughout, as the numpy path
            knowledge[i, q] = k
            fit[i, q] = np.float32((1.0 - det_exp(np.float64(k) * neg_c)) * scale)


def learn_numba(knowledge, fit, buyers, slots, channel, value_tier, rate_store, rate_online, high_value_boost,
                neg_c, scale):
    """Learning's update after purchases: knowledge grows, personal fit refreshed (same bits as numpy)."""
    _learn(knowledge, fit, buyers, slots, channel, value_tier, np.float32(rate_store), np.float32(rate_online),
           np.float32(1.0 + high_value_boost), float(neg_c), float(scale))


def warm() -> None:
    """Compile every kernel once (cached on disk), so that the first real run does not wait: the
    schema's default market, and the baseline region's categories, churn and property market for
    a year (reviews, so that businesses open and close, and week 52, the first annual attrition
    figure, which looks up each year-old relationship's slot); and the full-logit yardstick the teaching
    app explains a choice by."""
    from sim.choice import dense_inputs
    from sim.cli import default_scenario_path
    from sim.model import YEAR_WEEKS, RetailMarket
    from sim.scenario import load

    market = RetailMarket(consumers_n=500, steps=14, engine="numba", seed=0)
    market.run()
    dense_inputs(market, np.arange(10))  # the teaching app explains a choice with it
    region = load(default_scenario_path(), {"consumers.n": 1000, "steps": YEAR_WEEKS, "engine": "numba"})
    RetailMarket(region, seed=0).run()


if __name__ == "__main__":
    warm()
