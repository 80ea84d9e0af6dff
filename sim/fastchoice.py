"""The numba engine: the weekly choice, settlement and learning updates, compiled.

The arithmetic is that of ``sim.choice``, ``sim.settle`` and the learning strategy,
in the same order. The kernels read the full (consumer, retailer) arrays directly
instead of gathering the shoppers' columns, and work through consumers in a fixed
number of chunks spread over the cores, so results depend only on the inputs and the
uniforms, never on the number of threads. Used from 20,000 consumers (see
``Scenario.engine``); importing this module compiles nothing until the first call,
and compiled code is cached on disk (``python -m sim.fastchoice`` warms the cache).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from sim import detmath
from sim.choice import MarketArrays

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


@njit(parallel=True, cache=True)
def _choose(idx, uniforms, taste_fit, extra, discount, rel_posted, store_static,
            sells_online, adopted, price_sens, online_friction, habit,
            inertia, online_inertia_factor, online_price_sens_factor, out_ret, out_chan, out_util):
    n_shop = idx.shape[0]
    n_ret = taste_fit.shape[1]
    n_opt = 2 * n_ret
    n_chunks = min(N_CHUNKS, max(n_shop, 1))
    for c in prange(n_chunks):
        util = np.empty(n_opt)
        weight = np.empty(n_opt)
        for j in range(c * n_shop // n_chunks, (c + 1) * n_shop // n_chunks):
            i = idx[j]
            ps = np.float64(price_sens[i])
            fr = np.float64(online_friction[i])
            top = -np.inf
            for r in range(n_ret):
                ex = np.float64(extra[i, r])
                base = np.float64(taste_fit[i, r]) + ex
                price = ps * (rel_posted[r] * (1.0 - np.float64(discount[i, r])) - 1.0)
                same = np.float64(inertia[i]) * np.float64(habit[i, r])
                store = ((store_static[i, r] + ex) - price) + same  # −inf stays −inf: no store
                if sells_online[r] and adopted[i]:
                    online = (base - online_price_sens_factor * price) - fr
                    online = online + same * online_inertia_factor
                else:
                    online = -np.inf
                util[r] = store
                util[n_ret + r] = online
                top = max(top, store, online)
            if not np.isfinite(top):
                out_ret[j] = -1
                out_chan[j] = -1
                out_util[j] = 0.0
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
            out_ret[j] = option % n_ret
            out_chan[j] = option // n_ret
            out_util[j] = util[option]


def choose_numba(a: MarketArrays, idx: np.ndarray, uniforms: np.ndarray):
    """The numba engine: same signature and same picks as ``sim.choice.choose_numpy``."""
    n_shop = len(idx)
    out_ret = np.empty(n_shop, dtype=np.int16)
    out_chan = np.empty(n_shop, dtype=np.int8)
    out_util = np.empty(n_shop, dtype=np.float32)
    _choose(np.asarray(idx, dtype=np.int64), uniforms, a.taste_fit, a.extra_utility, a.discount,
            a.rel_posted.astype(np.float64), a.store_static,
            a.sells_online, a.adopted, a.price_sens, a.online_friction, a.habit,
            a.inertia, float(a.online_inertia_factor), float(a.online_price_sens_factor),
            out_ret, out_chan, out_util)
    return out_ret, out_chan, out_util


# ---- settling the week ------------------------------------------------------------------

@njit(parallel=True, cache=True)
def _pay_and_update(idx, ret, chan, util, basket, households_per_agent, price_factor, week, window, last_week,
                    since_week, spend_year, total_spent, last_retailer, last_channel, last_utility,
                    habit, habit_build, cost, paid, lapsed, previous):
    n = idx.shape[0]
    n_chunks = min(N_CHUNKS, max(n, 1))
    for c in prange(n_chunks):
        for j in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            r = ret[j]
            if r < 0:
                continue
            i = idx[j]
            cost[j] = np.float64(basket[i]) * households_per_agent
            paid[j] = cost[j] * price_factor[r]
            lapsed[j] = (week - last_week[r, i]) >= window
            if lapsed[j]:
                since_week[r, i] = week
            last_week[r, i] = week
            spend_year[r, i] += np.float32(paid[j])
            total_spent[i] += paid[j]
            previous[j] = last_retailer[i]
            last_retailer[i] = r
            keep = np.float32(1.0) - habit_build
            for q in range(habit.shape[1]):
                habit[i, q] = habit[i, q] * keep
            habit[i, r] = habit[i, r] + habit_build
            last_channel[i] = chan[j]
            last_utility[i] = util[j]


@njit(parallel=True, cache=True)
def _book(idx, ret, chan, util, cost, paid, lapsed, previous, store_km, store_slot, n_ret, n_slots):
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
    p_flows = np.zeros((n_chunks, n_ret + 1, n_ret), dtype=np.int64)
    for c in prange(n_chunks):
        for j in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            r = ret[j]
            if r < 0:
                continue
            i = idx[j]
            p_tx[c, r] += 1
            p_cogs[c, r] += cost[j]
            p_util[c] += np.float64(util[j])
            p_flows[c, previous[j] + 1, r] += 1
            if lapsed[j]:
                p_acquired[c, r] += 1
            if chan[j] == 1:
                p_rev_online[c, r] += paid[j]
                p_orders[c, r] += 1
            else:
                p_rev_store[c, r] += paid[j]
                slot = store_slot[i, r]
                p_store_rev[c, slot] += paid[j]
                p_store_cogs[c, slot] += cost[j]
                p_dist[c] += np.float64(store_km[i, r])
                p_store[c] += 1
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
    n_tx = p_tx.sum(axis=0)
    starts = np.zeros(n_ret + 1, dtype=np.int64)
    for q in range(n_ret):
        starts[q + 1] = starts[q] + n_tx[q]
    fill = np.empty((n_chunks, n_ret), dtype=np.int64)  # where each chunk's group of a retailer begins
    for q in range(n_ret):
        at = starts[q]
        for b in range(n_chunks):
            fill[b, q] = at
            at += p_tx[b, q]
    n_buy = starts[n_ret]
    buyers = np.empty(n_buy, dtype=np.int64)
    group_chan = np.empty(n_buy, dtype=np.int8)
    group_paid = np.empty(n_buy)
    for cc in range(n_chunks):  # counting sort (serial: under prange it gave wrong groups)
        at = fill[cc].copy()
        for jj in range(cc * n // n_chunks, (cc + 1) * n // n_chunks):
            rr = ret[jj]
            if rr >= 0:
                kk = at[rr]
                buyers[kk] = idx[jj]
                group_chan[kk] = chan[jj]
                group_paid[kk] = paid[jj]
                at[rr] = kk + 1
    return (rev_store, rev_online, cogs, p_orders.sum(axis=0), p_acquired.sum(axis=0), n_tx, store_rev, store_cogs,
            sum_dist, p_store.sum(), sum_util, buyers, group_chan, group_paid, starts, p_flows.sum(axis=0))


@njit(cache=True)
def _sum_chunks(partial):
    total = np.zeros(partial.shape[1])
    for c in range(partial.shape[0]):
        for k in range(partial.shape[1]):
            total[k] += partial[c, k]
    return total


def settle_numba(pop, idx, ret, chan, util, price_factor, households_per_agent, store_km, store_slot,
                 n_slots, week, window):
    """The numba engine's settlement: same figures as ``sim.settle.settle_numpy``."""
    from sim.settle import Settlement

    idx = np.asarray(idx, dtype=np.int64)
    n = len(idx)
    cost = np.empty(n)
    paid = np.empty(n)
    lapsed = np.zeros(n, dtype=np.bool_)
    previous = np.empty(n, dtype=np.int16)
    price_factor = np.asarray(price_factor, dtype=np.float64)
    _pay_and_update(idx, ret, chan, util, pop.basket_eur, float(households_per_agent), price_factor, week, window,
                    pop.last_week, pop.since_week, pop.spend_year, pop.total_spent_eur, pop.last_retailer,
                    pop.last_channel, pop.last_utility, pop.habit, pop.habit_build, cost, paid, lapsed, previous)
    (rev_store, rev_online, cogs, orders, acquired, n_tx, store_rev, store_cogs, sum_dist, n_store, sum_util,
     buyers, group_chan, group_paid, starts, flows) = _book(idx, ret, chan, util, cost, paid, lapsed, previous,
                                                            store_km, store_slot, len(price_factor), n_slots)
    return Settlement(
        buyers=buyers, channel=group_chan, paid_eur=group_paid, starts=starts,
        revenue_store=rev_store, revenue_online=rev_online, cogs=cogs, n_orders_online=orders,
        n_acquired=acquired, n_transactions=n_tx, store_revenue=store_rev, store_cogs=store_cogs,
        n_stranded=int(n - starts[-1]), sum_distance_km=float(sum_dist), n_store_purchases=int(n_store),
        sum_utility=float(sum_util), flows=flows,
    )


@njit(parallel=True, cache=True)
def _relationship_counts(last_week, week, window):
    n_ret, n = last_week.shape
    n_chunks = min(N_CHUNKS, max(n, 1))
    active = np.zeros((n_chunks, n_ret), dtype=np.int64)
    lost = np.zeros((n_chunks, n_ret), dtype=np.int64)
    anyone = np.zeros(n_chunks, dtype=np.int64)
    for c in prange(n_chunks):
        start, stop = c * n // n_chunks, (c + 1) * n // n_chunks
        seen = np.zeros(stop - start, dtype=np.int64)
        for r in range(n_ret):  # row by row: contiguous reads, counts kept in registers
            n_active = 0
            n_lost = 0
            for i in range(start, stop):
                gap = week - last_week[r, i]
                hit = gap < window
                n_active += hit
                n_lost += gap == window
                seen[i - start] |= hit
            active[c, r] = n_active
            lost[c, r] = n_lost
        anyone[c] = seen.sum()
    return active.sum(axis=0), lost.sum(axis=0), anyone.sum()


def relationship_counts_numba(last_week, week, window):
    """Per retailer: active customers and customers lost this week; and consumers active anywhere."""
    active, lost, anyone = _relationship_counts(last_week, week, window)
    return active, lost, int(anyone)


@njit(parallel=True, cache=True)
def _decay_and_refit(knowledge, fit, keep, neg_c, scale):
    n = knowledge.shape[0]
    n_chunks = min(N_CHUNKS, max(n, 1))
    for c in prange(n_chunks):
        for i in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            k = knowledge[i]
            if k == 0:
                continue  # nothing known: nothing decays, and the fit stays 0
            k = k * keep  # float32 × float32, as numpy's in-place multiply
            knowledge[i] = k
            fit[i] = np.float32((1.0 - det_exp(np.float64(k) * neg_c)) * scale)


def decay_and_refit_numba(knowledge, fit, keep, neg_c, scale):
    """Learning's weekly decay and personal-fit refresh in one pass (same bits as the numpy path)."""
    _decay_and_refit(knowledge, fit, np.float32(keep), float(neg_c), float(scale))


@njit(parallel=True, cache=True)
def _learn(knowledge, fit, buyers, channel, value_tier, rate_store, rate_online, boost, neg_c, scale):
    n = buyers.shape[0]
    n_chunks = min(N_CHUNKS, max(n, 1))
    for c in prange(n_chunks):
        for j in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            i = buyers[j]
            rate = rate_online if channel[j] == 1 else rate_store
            if value_tier[i] == 2:
                rate = rate * boost
            rate = min(rate, np.float32(1.0))
            k = knowledge[i]
            k = k + rate * (np.float32(1.0) - k)  # float32 throughout, as the numpy path
            knowledge[i] = k
            fit[i] = np.float32((1.0 - det_exp(np.float64(k) * neg_c)) * scale)


def learn_numba(knowledge, fit, buyers, channel, value_tier, rate_store, rate_online, high_value_boost, neg_c,
                scale):
    """Learning's update after purchases: knowledge grows, personal fit refreshed (same bits as numpy)."""
    _learn(knowledge, fit, buyers, channel, value_tier, np.float32(rate_store), np.float32(rate_online),
           np.float32(1.0 + high_value_boost), float(neg_c), float(scale))


def warm() -> None:
    """Compile every kernel once (cached on disk), so that the first real run does not wait."""
    from sim.model import RetailMarket

    model = RetailMarket(consumers_n=500, steps=14, engine="numba", seed=0)
    model.run()


if __name__ == "__main__":
    warm()
