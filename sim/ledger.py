"""Who is whose customer, kept up to date from the week's purchases instead of recounted.

A relationship is active while its last purchase lies within the active window (13
weeks by default), lost in the week its last purchase is exactly one window old, and
lapsing in the week before that. Counting these by looking at every repertoire slot of
every consumer each week costs a pass over all of them; but a slot's last-purchase week
changes only when she buys, so the ledger keeps, for each of the last window + 1 weeks,
how many slots of each retailer had their last purchase in that week, and how many
consumers made their latest purchase of all then. A purchase moves one slot (and one
consumer) from the week of its previous purchase to this week; the counts of any week
are then sums over a handful of rows, and the relationships lapsing are the purchases
of one window − 1 weeks ago not followed by another in the same slot.

Only the settlement writes a slot's retailer and last purchase. Code that writes them
by any other route calls ``RelationshipLedger.rebuild``, which recounts from the slots.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from sim.consumers import NEVER

N_CHUNKS = 64


@njit(cache=True, inline="always")
def _row(week, ring):
    return ((week % ring) + ring) % ring  # warm-up weeks are negative


@njit(parallel=True, cache=True)
def _record(hist, hist_any, latest, week, window, idx, ret, rep, prior_ret, prior_week, n_chunks):
    """Move each purchase's slot and consumer from the week of their previous purchase to ``week``."""
    ring = window + 1
    n = idx.shape[0]
    n_chunks = min(n_chunks, max(n, 1))
    # integer counts: per-chunk changes added in any order, in any number of chunks, give the same sums; a
    # chunk's table is weeks × retailers, so there are only as many chunks as threads
    d_hist = np.zeros((n_chunks, ring, hist.shape[1]), dtype=np.int64)
    d_any = np.zeros((n_chunks, ring), dtype=np.int64)
    now = _row(week, ring)
    for c in prange(n_chunks):
        for j in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            r = ret[j]
            if r < 0:
                continue
            d_hist[c, now, r] += 1
            d_any[c, now] += 1
            gap = week - np.int64(prior_week[j])
            if prior_ret[j] >= 0 and gap <= window:
                d_hist[c, _back(now, gap, ring), prior_ret[j]] -= 1
            i = idx[j]
            gap = week - np.int64(latest[i])
            if gap <= window:
                d_any[c, _back(now, gap, ring)] -= 1
            latest[i] = week
    for c in range(n_chunks):
        for k in range(ring):
            hist_any[k] += d_any[c, k]
            for r in range(hist.shape[1]):
                hist[k, r] += d_hist[c, k, r]


@njit(cache=True, inline="always")
def _back(now, gap, ring):
    row = now - gap  # the row of ``gap`` (at most a window) weeks ago, without a division
    return row + ring if row < 0 else row


@njit(parallel=True, cache=True)
def _current(who, slot, last_week, week):
    keep = np.empty(who.shape[0], dtype=np.bool_)
    for j in prange(who.shape[0]):
        keep[j] = last_week[who[j], slot[j]] == week
    return keep


@njit(parallel=True, cache=True)
def _recount(slot_retailer, last_week, week, window, n_ret):
    """From the slots: (window + 1, R) slots by week of last purchase (weeks week − window … week),
    consumers by week of their latest purchase, and each consumer's latest purchase."""
    n, n_slot = last_week.shape
    ring = window + 1
    n_chunks = min(N_CHUNKS, max(n, 1))
    hist = np.zeros((n_chunks, ring, n_ret), dtype=np.int64)
    hist_any = np.zeros((n_chunks, ring), dtype=np.int64)
    latest = np.full(n, NEVER, dtype=np.int32)
    for c in prange(n_chunks):
        for i in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            for q in range(n_slot):
                r = slot_retailer[i, q]
                if r < 0:
                    continue
                w = np.int64(last_week[i, q])
                if week - window <= w <= week:
                    hist[c, _row(w, ring), r] += 1
                if w > latest[i]:
                    latest[i] = w
            w = np.int64(latest[i])
            if week - window <= w <= week:
                hist_any[c, _row(w, ring)] += 1
    return hist.sum(axis=0), hist_any.sum(axis=0), latest


class RelationshipLedger:
    """Active, lost and lapsing relationships per retailer, updated purchase by purchase."""

    def __init__(self, pop, n_retailers: int, window: int, week: int):
        self.population = pop
        self.n_retailers = int(n_retailers)
        self.window = int(window)
        self.rebuild(week)

    def rebuild(self, week: int) -> None:
        """Recount everything from the repertoire slots, as of ``week`` (its purchases included)."""
        pop, w = self.population, self.window
        self.hist, self.hist_any, self.latest = _recount(pop.slot_retailer, pop.last_week, int(week), w,
                                                         self.n_retailers)
        ring = w + 1
        self.row_week = np.full(ring, NEVER, dtype=np.int64)
        for past in range(week - w, week + 1):
            self.row_week[past % ring] = past
        self.week = int(week)
        # each recent week's purchases still current, in (consumer, slot) order, for the lapsing ones
        who, slot = np.nonzero((pop.last_week >= week - w) & (pop.slot_retailer >= 0))
        when = pop.last_week[who, slot]
        self.purchases = {past: (who[when == past].astype(np.int32), slot[when == past].astype(np.int8))
                          for past in range(week - w, week + 1)}

    def record(self, week: int, idx, ret, rep, prior_ret, prior_week) -> None:
        """The purchases of ``week`` (one per consumer ``idx[j]`` from retailer ``ret[j]`` ≥ 0 into her
        slot ``rep[j]``, which held retailer ``prior_ret[j]`` bought at ``prior_week[j]`` before)."""
        ring = self.window + 1
        for past in range(self.week + 1, week + 1):  # the rows of weeks a window + 1 gone are reused
            self.hist[past % ring] = 0
            self.hist_any[past % ring] = 0
            self.row_week[past % ring] = past
        self.week = max(self.week, int(week))
        idx = np.asarray(idx, dtype=np.int64)
        _record(self.hist, self.hist_any, self.latest, int(week), self.window, idx, ret, rep,
                prior_ret, prior_week, numba.get_num_threads())
        bought = ret >= 0
        who, slot = idx[bought].astype(np.int32), np.asarray(rep)[bought].astype(np.int8)
        if int(week) in self.purchases:  # another category's purchases this week: kept in (consumer, slot) order
            before_who, before_slot = self.purchases[int(week)]
            who, slot = np.concatenate([before_who, who]), np.concatenate([before_slot, slot])
            order = np.lexsort((slot, who))
            who, slot = who[order], slot[order]
        self.purchases[int(week)] = (who, slot)
        for past in [p for p in self.purchases if p < week - self.window]:
            del self.purchases[past]

    def _rows(self, lo: int, hi: int) -> np.ndarray:
        """Rows of the weeks in [lo, hi] that the ledger holds."""
        return np.flatnonzero((self.row_week >= lo) & (self.row_week <= hi))

    def counts(self, week: int) -> tuple[np.ndarray, np.ndarray, int]:
        """At ``week`` (not before the last recorded): active customers and customers lost this week per
        retailer, and consumers active with anyone."""
        w = self.window
        active = self.hist[self._rows(week - w + 1, week)].sum(axis=0)
        lost = self.hist[self._rows(week - w, week - w)].sum(axis=0)
        anyone = int(self.hist_any[self._rows(week - w + 1, week)].sum())
        return active, lost, anyone

    def lapsing(self, week: int) -> tuple[np.ndarray, np.ndarray]:
        """(consumer, slot), in that order, of the relationships that break unless she buys next week:
        the purchases of ``week − window + 1`` not followed by another in the same slot."""
        past = week - self.window + 1
        if past not in self.purchases:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        who, slot = self.purchases[past]
        keep = _current(who, slot, self.population.last_week, past)
        return who[keep].astype(np.int64), slot[keep].astype(np.int64)
