"""Settling the week's purchases: money booked and relationships updated (numpy engine).

After the choice, each buyer pays her basket at the chosen retailer's price; revenue,
cost of goods and online orders are summed per retailer and per store, and her
relationship state in her repertoire slot for the retailer (last purchase, start of
the relationship, spend this year, habit) is updated. A buyer new to a retailer first
takes a slot: an empty one, else her weakest (least habit, then longest since a
purchase), which starts in the state the retailer offers every stranger.
``sim.fastchoice.settle_numba`` does the same with numba for large populations,
summing money in the same order so both engines book the same figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.choice import gift_utility
from sim.consumers import NEVER, ONLINE, SLOT_FIELDS, CategorySpend, ConsumerPopulation
from sim.slots import Flows, group_purchases_by_retailer


@dataclass
class Settlement:
    """The week's purchases, booked. Purchases are grouped by retailer (stable within a group);
    per-retailer arrays have length R, per-store arrays length n_slots."""

    buyers: np.ndarray  # consumer index of each purchase
    starts: np.ndarray  # (R + 1,): retailer r's purchases are positions starts[r] … starts[r + 1] − 1
    retailer: np.ndarray  # retailer of each purchase
    slot: np.ndarray  # the buyer's repertoire slot for that retailer
    channel: np.ndarray  # 0 store, 1 online
    paid_eur: np.ndarray  # what each buyer paid
    revenue_store: np.ndarray
    revenue_online: np.ndarray
    cogs: np.ndarray
    n_orders_online: np.ndarray
    n_acquired: np.ndarray  # purchases that started a new relationship
    n_transactions: np.ndarray
    store_revenue: np.ndarray
    store_cogs: np.ndarray
    n_stranded: int
    n_evicted_active: int  # active relationships pushed out of a full repertoire this week
    lost_card: np.ndarray  # consumers who gave up a slot that held a loyalty card
    sum_distance_km: float  # over store purchases
    n_store_purchases: int
    sum_utility: float
    flows: Flows  # purchases that moved, by previous retailer (none yet, or one) and this week's
    # per shopper, in the order of the shoppers: what the slot she bought into held before (−1: empty)
    # and the week of its last purchase (NEVER if none), so the ledger can move it to this week
    prior_retailer: np.ndarray
    prior_week: np.ndarray
    n_shoppers: int = 0  # consumers who made the trip (buyers and the stranded)


@dataclass
class WeekTotals:
    """The settlements of a week's categories added up: what the retailers, stores and the week's
    statistics are booked from. Categories are added in their order, so the sums never vary."""

    buyers: np.ndarray
    revenue_store: np.ndarray
    revenue_online: np.ndarray
    cogs: np.ndarray
    n_orders_online: np.ndarray
    n_acquired: np.ndarray
    n_transactions: np.ndarray
    store_revenue: np.ndarray
    store_cogs: np.ndarray
    n_stranded: int
    n_evicted_active: int
    lost_card: np.ndarray
    sum_distance_km: float
    n_store_purchases: int
    sum_utility: float
    flows: Flows
    n_shoppers: int

    @classmethod
    def of(cls, weeks: list[Settlement]) -> WeekTotals:
        def total(name):
            values = [getattr(w, name) for w in weeks]
            out = values[0]
            for v in values[1:]:
                out = out + v
            return out

        return cls(buyers=np.concatenate([w.buyers for w in weeks]),
                   lost_card=np.unique(np.concatenate([w.lost_card for w in weeks])),
                   **{f: total(f) for f in cls.__dataclass_fields__ if f not in ("buyers", "lost_card")})


def group_purchases(idx, ret, chan, paid, rep, previous, lost_card, prior_retailer, prior_week, week: int,
                    window: int, n_r: int, **booked) -> Settlement:
    """Group the week's purchases by retailer and count the flows between retailers, and the active
    relationships whose slot went to another retailer."""
    evicted = (ret >= 0) & (prior_retailer >= 0) & (prior_retailer != ret) & (week - prior_week < window)
    buyers, retailer, slot, channel, paid_eur, starts, flows = group_purchases_by_retailer(
        idx, ret, rep, chan, paid, previous, n_r)
    return Settlement(
        buyers=buyers, starts=starts, retailer=retailer, slot=slot, channel=channel, paid_eur=paid_eur,
        n_stranded=int((ret < 0).sum()), n_evicted_active=int(evicted.sum()), lost_card=idx[lost_card],
        flows=flows, prior_retailer=prior_retailer, prior_week=prior_week, **booked)


def stranger_state(pop: ConsumerPopulation, stranger, buyers: np.ndarray, r: np.ndarray, basket_eur=None):
    """(extra utility, discount, gift state) that retailers ``r`` offer the strangers ``buyers``."""
    g = stranger.gift
    pf = g.price_factor[r]
    basket_eur = pop.basket_eur if basket_eur is None else basket_eur
    gift = gift_utility(basket_eur[buyers], pop.price_sens[buyers], pop.inertia[buyers],
                        np.where(pf > 0, pf, np.float32(1.0)), g.scale, g.welcome_eur, g.vesting, g.inertia_mean)
    extra = stranger.extra[r] + np.where(pf > 0, gift, np.float32(0.0))
    return extra.astype(np.float32), stranger.discount[r], stranger.gift_state[r]


def weakest_slots(pop: ConsumerPopulation, who: np.ndarray, lo: int = 0, hi: int | None = None) -> np.ndarray:
    """The slot each consumer ``who`` gives up to a new retailer, among slots [lo, hi) (her block for the
    retailer's category): an empty one, else the weakest (least habit, then the longest since a
    purchase, then the first)."""
    block = slice(lo, hi)
    empty = pop.slot_retailer[who, block] < 0
    habit = np.where(empty, np.float32(-1.0), pop.habit[who, block])
    weakest = habit == habit.min(axis=1, keepdims=True)
    last = np.where(weakest, pop.last_week[who, block], np.iinfo(np.int32).max)
    return lo + (weakest & (last == last.min(axis=1, keepdims=True))).argmax(axis=1)


def take_slots(pop: ConsumerPopulation, stranger, who: np.ndarray, retailer: np.ndarray,
               spend: CategorySpend | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Give each consumer ``who`` (distinct) a repertoire slot for ``retailer``, whom she is new to:
    her weakest slot of the retailer's category, reset to what the retailer offers strangers. Returns
    the slots, whether a loyalty card went with each, and the slot's retailer and week of last purchase
    before."""
    spend = spend or pop.categories[0]
    q = weakest_slots(pop, who, spend.slot_lo, spend.slot_hi)
    prior = pop.slot_retailer[who, q].copy(), pop.last_week[who, q].copy()
    lost_card = pop.card[who, q].copy()
    for name, (_, empty, _) in SLOT_FIELDS.items():
        getattr(pop, name)[who, q] = empty
    pop.slot_retailer[who, q] = retailer
    extra, discount, gift = stranger_state(pop, stranger, who, retailer, spend.basket_eur)
    pop.extra_utility[who, q] = extra
    pop.discount[who, q] = discount
    pop.gift[who, q] = gift
    return q, lost_card, *prior


def settle_numpy(pop: ConsumerPopulation, model, choices, idx, price_factor, households_per_agent: float,
                 n_slots: int, week: int, window: int, spend: CategorySpend | None = None) -> Settlement:
    """One category's trips settled (``spend``: the category; the first when not given)."""
    spend = spend or pop.categories[0]
    n_r = len(price_factor)
    ret, chan, util, rep = choices.retailer, choices.channel, choices.utility, choices.rep_slot
    idx = np.asarray(idx, dtype=np.intp)
    ok = ret >= 0
    chunk = _chunk_of(len(idx))[ok]
    buyers, r, c = idx[ok], ret[ok].astype(np.intp), chan[ok]
    lost_card = np.zeros(len(idx), dtype=bool)
    prior_ret = np.full(len(idx), -1, dtype=np.int32)
    prior_week = np.full(len(idx), NEVER, dtype=np.int32)
    held = np.flatnonzero(ok)[rep[ok] >= 0]
    prior_ret[held] = ret[held]
    prior_week[held] = pop.last_week[idx[held], rep[held]]

    new = rep[ok] < 0  # strangers take a slot first
    if new.any():
        slot = rep[ok].copy()
        at = np.flatnonzero(ok)[new]
        slot[new], lost_card[at], prior_ret[at], prior_week[at] = take_slots(
            pop, model.stranger, buyers[new], r[new], spend)
        rep[np.flatnonzero(ok)] = slot
    slot = rep[ok].astype(np.intp)

    cost = spend.basket_eur[buyers].astype(np.float64) * households_per_agent
    paid = cost * np.asarray(price_factor, dtype=np.float64)[r]
    online = c == ONLINE
    in_store = ~online
    store = choices.store_slot[ok][in_store]
    dist = choices.store_km[ok][in_store]

    previous = np.full(len(idx), -1, dtype=np.int16)
    previous[ok] = spend.last_retailer[buyers]
    lapsed = (week - pop.last_week[buyers, slot]) >= window
    pop.since_week[buyers[lapsed], slot[lapsed]] = week
    pop.last_week[buyers, slot] = week
    pop.spend_year[buyers, slot] += paid.astype(np.float32)  # each buyer appears once
    pop.total_spent_eur[buyers] += paid
    spend.last_retailer[buyers] = r
    if spend.last_retailer is not pop.last_retailer:
        pop.last_retailer[buyers] = r  # her last purchase in any category
    keep = np.float32(1.0) - pop.habit_build
    if spend.slot_lo == 0 and spend.slot_hi == pop.n_slots:
        pop.habit[buyers] *= keep  # each buyer appears once
    else:  # her habits in other categories are not worn by this one's purchases
        pop.habit[buyers, spend.slot_lo:spend.slot_hi] *= keep
    pop.habit[buyers, slot] += pop.habit_build
    pop.last_channel[buyers] = c
    pop.last_utility[buyers] = util[ok]

    paid_all = np.zeros(len(idx))
    paid_all[ok] = paid
    n_tx = np.bincount(r, minlength=n_r)
    return group_purchases(
        idx, ret, chan, paid_all, rep, previous, lost_card, prior_ret, prior_week, week, window, n_r,
        revenue_store=_chunked_sum(chunk[in_store], r[in_store], paid[in_store], n_r),
        revenue_online=_chunked_sum(chunk[online], r[online], paid[online], n_r),
        cogs=_chunked_sum(chunk, r, cost, n_r),
        n_orders_online=np.bincount(r[online], minlength=n_r),
        n_acquired=np.bincount(r[lapsed], minlength=n_r),
        n_transactions=n_tx,
        store_revenue=_chunked_sum(chunk[in_store], store, paid[in_store], n_slots),
        store_cogs=_chunked_sum(chunk[in_store], store, cost[in_store], n_slots),
        sum_distance_km=float(_chunked_sum(chunk[in_store], np.zeros(len(dist), dtype=np.intp), dist, 1)[0]),
        n_store_purchases=int(in_store.sum()),
        sum_utility=float(_chunked_sum(chunk, np.zeros(len(chunk), dtype=np.intp), util[ok], 1)[0]),
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
