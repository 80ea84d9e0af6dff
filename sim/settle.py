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
                 store_km, store_slot, n_slots: int, week: int, window: int) -> Settlement:
    n_r = len(price_factor)
    ok = ret >= 0
    chunk = _chunk_of(len(idx))[ok]
    buyers, r, c = idx[ok], ret[ok].astype(np.intp), chan[ok]
    cost = pop.basket_eur[buyers].astype(np.float64) * households_per_agent
    paid = cost * np.asarray(price_factor, dtype=np.float64)[r]
    online = c == ONLINE
    in_store = ~online
    slot = store_slot[buyers[in_store], r[in_store]]
    dist = store_km[buyers[in_store], r[in_store]]

    previous = pop.last_retailer[buyers].astype(np.intp)
    lapsed = (week - pop.last_week[r, buyers]) >= window
    pop.since_week[r[lapsed], buyers[lapsed]] = week
    pop.last_week[r, buyers] = week
    pop.spend_year[r, buyers] += paid.astype(np.float32)  # each buyer appears once
    pop.total_spent_eur[buyers] += paid
    pop.last_retailer[buyers] = r
    keep = np.float32(1.0) - pop.habit_build
    pop.habit[buyers] *= keep  # each buyer appears once
    pop.habit[buyers, r] += pop.habit_build
    pop.last_channel[buyers] = c
    pop.last_utility[buyers] = util[ok]

    order = np.argsort(r, kind="stable")
    n_tx = np.bincount(r, minlength=n_r)
    return Settlement(
        buyers=buyers[order], channel=c[order], paid_eur=paid[order],
        starts=np.concatenate([[0], np.cumsum(n_tx)]),
        revenue_store=_chunked_sum(chunk[in_store], r[in_store], paid[in_store], n_r),
        revenue_online=_chunked_sum(chunk[online], r[online], paid[online], n_r),
        cogs=_chunked_sum(chunk, r, cost, n_r),
        n_orders_online=np.bincount(r[online], minlength=n_r),
        n_acquired=np.bincount(r[lapsed], minlength=n_r),
        n_transactions=n_tx,
        store_revenue=_chunked_sum(chunk[in_store], slot, paid[in_store], n_slots),
        store_cogs=_chunked_sum(chunk[in_store], slot, cost[in_store], n_slots),
        n_stranded=int((~ok).sum()),
        sum_distance_km=float(_chunked_sum(chunk[in_store], np.zeros(len(dist), dtype=np.intp), dist, 1)[0]),
        n_store_purchases=int(in_store.sum()),
        sum_utility=float(_chunked_sum(chunk, np.zeros(len(chunk), dtype=np.intp), util[ok], 1)[0]),
        flows=np.bincount((previous + 1) * n_r + r, minlength=(n_r + 1) * n_r).reshape(n_r + 1, n_r),
    )


BOOK_CHUNKS = 16  # must match sim.fastchoice.BOOK_CHUNKS


def _chunk_of(n: int) -> np.ndarray:
    """The chunk of each of n shoppers: chunk c holds shoppers c·n//16 … (c+1)·n//16 − 1."""
    bounds = np.arange(BOOK_CHUNKS + 1) * n // BOOK_CHUNKS
    return np.repeat(np.arange(BOOK_CHUNKS), np.diff(bounds))


def _chunked_sum(chunk: np.ndarray, key: np.ndarray, values: np.ndarray, n_keys: int) -> np.ndarray:
    """Sums by key, added in index order within each chunk, then chunk by chunk: the order the
    compiled engine uses on its parallel chunks, so both engines book the same figures."""
    partial = np.bincount(chunk * n_keys + key, weights=values.astype(np.float64),
                          minlength=BOOK_CHUNKS * n_keys).reshape(BOOK_CHUNKS, n_keys)
    return np.cumsum(partial, axis=0)[-1]


def relationship_counts_numpy(last_week: np.ndarray, week: int, window: int):
    """Per retailer: active customers and customers lost this week; and consumers active anywhere."""
    gap = week - last_week
    active = gap < window
    return active.sum(axis=1), (gap == window).sum(axis=1), int(active.any(axis=0).sum())
