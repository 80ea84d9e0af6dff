"""Settling the week's purchases: money booked and relationships updated (numpy engine).

After the choice, each buyer pays her basket at the chosen retailer's price; revenue,
cost of goods and online orders are summed per retailer and per store, and her
relationship state (last purchase, start of the relationship, spend this year) is
updated. ``sim.fastchoice.settle_numba`` does the same with numba for large
populations, summing money in the same order so both engines book the same figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.consumers import ONLINE, ConsumerPopulation


@dataclass
class Settlement:
    """The week's purchases, booked. Purchases are grouped by retailer (stable within a group);
    per-retailer arrays have length R, per-store arrays length n_slots."""

    buyers: np.ndarray  # consumer index of each purchase
    channel: np.ndarray  # 0 store, 1 online
    paid_eur: np.ndarray  # what each buyer paid
    starts: np.ndarray  # (R + 1,) group boundaries: retailer r's purchases are starts[r]:starts[r+1]
    revenue_store: np.ndarray
    revenue_online: np.ndarray
    cogs: np.ndarray
    n_orders_online: np.ndarray
    n_acquired: np.ndarray  # purchases that started a new relationship
    n_transactions: np.ndarray
    store_revenue: np.ndarray
    store_cogs: np.ndarray
    n_stranded: int
    sum_distance_km: float  # over store purchases
    n_store_purchases: int
    sum_utility: float
    flows: np.ndarray  # (R + 1, R): purchases by previous retailer (row 0: none yet) × this week's

    def of_retailer(self, r: int) -> slice:
        """Retailer ``r``'s purchases in ``buyers``, ``channel`` and ``paid_eur``."""
        return slice(int(self.starts[r]), int(self.starts[r + 1]))


def settle_numpy(pop: ConsumerPopulation, idx, ret, chan, util, price_factor, households_per_agent: float,
                 nearest_km, nearest_slot, n_slots: int, week: int, window: int) -> Settlement:
    n_r = len(price_factor)
    ok = ret >= 0
    buyers, r, c = idx[ok], ret[ok].astype(np.intp), chan[ok]
    cost = pop.basket_eur[buyers].astype(np.float64) * households_per_agent
    paid = cost * np.asarray(price_factor, dtype=np.float64)[r]
    online = c == ONLINE
    in_store = ~online
    slot = nearest_slot[buyers[in_store], r[in_store]]
    dist = nearest_km[buyers[in_store], r[in_store]]

    previous = pop.last_retailer[buyers].astype(np.intp)
    lapsed = (week - pop.last_week[r, buyers]) >= window
    pop.since_week[r[lapsed], buyers[lapsed]] = week
    pop.last_week[r, buyers] = week
    pop.spend_year[r, buyers] += paid.astype(np.float32)  # each buyer appears once
    pop.total_spent_eur[buyers] += paid
    pop.last_retailer[buyers] = r
    pop.last_channel[buyers] = c
    pop.last_utility[buyers] = util[ok]

    order = np.argsort(r, kind="stable")
    n_tx = np.bincount(r, minlength=n_r)
    return Settlement(
        buyers=buyers[order], channel=c[order], paid_eur=paid[order],
        starts=np.concatenate([[0], np.cumsum(n_tx)]),
        revenue_store=np.bincount(r[in_store], weights=paid[in_store], minlength=n_r),
        revenue_online=np.bincount(r[online], weights=paid[online], minlength=n_r),
        cogs=np.bincount(r, weights=cost, minlength=n_r),
        n_orders_online=np.bincount(r[online], minlength=n_r),
        n_acquired=np.bincount(r[lapsed], minlength=n_r),
        n_transactions=n_tx,
        store_revenue=np.bincount(slot, weights=paid[in_store], minlength=n_slots),
        store_cogs=np.bincount(slot, weights=cost[in_store], minlength=n_slots),
        n_stranded=int((~ok).sum()),
        sum_distance_km=_sequential_sum(dist),
        n_store_purchases=int(in_store.sum()),
        sum_utility=_sequential_sum(util[ok]),
        flows=np.bincount((previous + 1) * n_r + r, minlength=(n_r + 1) * n_r).reshape(n_r + 1, n_r),
    )


def _sequential_sum(values: np.ndarray) -> float:
    """Sum in index order (as the compiled engine does), not numpy's pairwise order."""
    return float(np.cumsum(values, dtype=np.float64)[-1]) if len(values) else 0.0


def relationship_counts_numpy(last_week: np.ndarray, week: int, window: int):
    """Per retailer: active customers and customers lost this week; and consumers active anywhere."""
    gap = week - last_week
    active = gap < window
    return active.sum(axis=1), (gap == window).sum(axis=1), int(active.any(axis=0).sum())
