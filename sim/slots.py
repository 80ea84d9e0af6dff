"""Compiled passes over every repertoire slot, used by both engines.

A strategy's weekly work touches few slots (those whose customer lapses this week, whose
gift falls due, who took a new card), but finding them means looking at every slot of
every consumer. These kernels do that look in one compiled, parallel pass and return
the (consumer, slot) pairs in row-major order, exactly as ``np.nonzero`` would; they
deal in integers only, so every engine gets the same pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

N_CHUNKS = 64


@njit(cache=True, inline="always")
def _hit(slot_retailer, member, weeks, week, gap_lo, gap_hi, state, state_value, i, q):
    gap = week - weeks[i, q]  # the cheap, contiguous test first: most slots fail it
    if gap < gap_lo or gap > gap_hi:
        return False
    r = slot_retailer[i, q]
    if r < 0 or not member[r]:
        return False
    return state_value < 0 or state[i, q] == state_value


@njit(parallel=True, cache=True)
def _find(slot_retailer, member, weeks, week, gap_lo, gap_hi, state, state_value):
    n, n_slot = slot_retailer.shape
    n_chunks = min(N_CHUNKS, max(n, 1))
    counts = np.zeros(n_chunks + 1, dtype=np.int64)
    for c in prange(n_chunks):
        k = 0
        for i in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            for q in range(n_slot):
                if _hit(slot_retailer, member, weeks, week, gap_lo, gap_hi, state, state_value, i, q):
                    k += 1
        counts[c + 1] = k
    starts = np.cumsum(counts)
    who = np.empty(starts[-1], dtype=np.int64)
    slot = np.empty(starts[-1], dtype=np.int64)
    for c in prange(n_chunks):
        k = starts[c]
        for i in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            for q in range(n_slot):
                if _hit(slot_retailer, member, weeks, week, gap_lo, gap_hi, state, state_value, i, q):
                    who[k] = i
                    slot[k] = q
                    k += 1
    return who, slot


def find_slots(pop, member: np.ndarray, weeks: np.ndarray, week: int, gap_lo: int, gap_hi: int,
               state: np.ndarray | None = None, state_value: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """(consumer, slot) of the slots held by a ``member`` retailer ((R,) bool) whose
    ``week − weeks[slot]`` lies in [gap_lo, gap_hi] and, if given, whose ``state`` is ``state_value``."""
    if not member.any():
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    if state is None:
        state, state_value = pop.tier, -1  # any array of the shape; not read
    return _find(pop.slot_retailer, member.astype(np.bool_), weeks, int(week), int(gap_lo),
                 int(min(gap_hi, 2**62)), state, int(state_value))


GROUP_CHUNKS = 8  # the sort counts integers, so any number of chunks gives the same result


@njit(parallel=True, cache=True)
def _group_count(ret, n_ret, n_chunks):
    n = ret.shape[0]
    counts = np.zeros((n_chunks, n_ret), dtype=np.int64)
    for c in prange(n_chunks):
        for j in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            if ret[j] >= 0:
                counts[c, ret[j]] += 1
    return counts


@njit(parallel=True, cache=True)
def _group_scatter(idx, ret, rep, chan, paid, at, buyers, retailer, slot, channel, paid_eur):
    n = ret.shape[0]
    n_chunks = at.shape[0]
    for c in prange(n_chunks):
        for j in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            r = ret[j]
            if r < 0:
                continue
            pos = at[c, r]
            at[c, r] = pos + 1
            buyers[pos] = idx[j]
            retailer[pos] = r
            slot[pos] = rep[j]
            channel[pos] = chan[j]
            paid_eur[pos] = paid[j]


@njit(cache=True)
def _group(idx, ret, rep, chan, paid, previous, n_ret):
    """Counting sort of the week's purchases by retailer (stable), and the flows between retailers."""
    counts = _group_count(ret, n_ret, GROUP_CHUNKS)
    # the moved purchases as keys (previous + 1) · R + retailer: a table of every pair would grow with R²
    n_moved = 0
    for j in range(ret.shape[0]):
        if ret[j] >= 0 and previous[j] != ret[j]:
            n_moved += 1
    moved = np.empty(n_moved, dtype=np.int64)
    k = 0
    for j in range(ret.shape[0]):
        if ret[j] >= 0 and previous[j] != ret[j]:
            moved[k] = (np.int64(previous[j]) + 1) * n_ret + ret[j]
            k += 1
    starts = np.zeros(n_ret + 1, dtype=np.int64)
    at = np.empty((GROUP_CHUNKS, n_ret), dtype=np.int64)  # where each chunk's purchases of a retailer begin
    for r in range(n_ret):
        begin = starts[r]
        for c in range(GROUP_CHUNKS):
            at[c, r] = begin
            begin += counts[c, r]
        starts[r + 1] = begin
    n_buy = starts[n_ret]
    buyers = np.empty(n_buy, dtype=np.int64)
    retailer = np.empty(n_buy, dtype=np.int64)
    slot = np.empty(n_buy, dtype=np.int64)
    channel = np.empty(n_buy, dtype=np.int8)
    paid_eur = np.empty(n_buy)
    _group_scatter(idx, ret, rep, chan, paid, at, buyers, retailer, slot, channel, paid_eur)
    return buyers, retailer, slot, channel, paid_eur, starts, moved


def group_purchases_by_retailer(idx, ret, rep, chan, paid, previous, n_ret: int):
    """The week's purchases grouped by retailer, stable within a group: (buyers, retailer, slot,
    channel, paid, group starts) and the purchases that moved between retailers (:class:`Flows`)."""
    *grouped, moved = _group(np.asarray(idx, dtype=np.int64), ret, rep, chan, paid, previous, n_ret)
    return (*grouped, Flows.of_keys(moved, n_ret))


@dataclass(frozen=True)
class Flows:
    """Purchases that moved between retailers, as pairs: from ``source`` − 1 (``source`` 0: her first
    purchase) to ``target``, ``n`` purchases each; pairs in (source, target) order, none repeated. Kept
    as pairs, not an (R + 1) × R table, which would grow with the square of the number of retailers."""

    n_retailers: int
    source: np.ndarray
    target: np.ndarray
    n: np.ndarray

    @classmethod
    def of_keys(cls, keys: np.ndarray, n_retailers: int, counts: np.ndarray | None = None) -> Flows:
        keys, where = np.unique(keys, return_inverse=True)
        n = np.ones(len(where), dtype=np.int64) if counts is None else counts
        totals = np.bincount(where, weights=n, minlength=len(keys)).astype(np.int64) if len(keys) else n[:0]
        return cls(n_retailers, keys // n_retailers, keys % n_retailers, totals)

    @classmethod
    def none(cls, n_retailers: int) -> Flows:
        empty = np.zeros(0, dtype=np.int64)
        return cls(n_retailers, empty, empty, empty)

    def __add__(self, other: Flows) -> Flows:
        return Flows.total([self, other], self.n_retailers)

    @classmethod
    def total(cls, parts: list[Flows], n_retailers: int) -> Flows:
        """The sum of ``parts`` in one pass (adding them two at a time would sort the running total again for each)."""
        if not parts:
            return cls.none(n_retailers)
        keys = np.concatenate([f.source * n_retailers + f.target for f in parts])
        return cls.of_keys(keys, n_retailers, np.concatenate([f.n for f in parts]))

    def matrix(self) -> np.ndarray:
        """The (R + 1, R) table: row 0 first purchases, row a + 1 purchases that came from retailer a."""
        out = np.zeros((self.n_retailers + 1, self.n_retailers), dtype=np.int64)
        out[self.source, self.target] = self.n
        return out


@njit(cache=True)
def _counting_order(keys, n_keys):
    n = keys.shape[0]
    starts = np.zeros(n_keys + 1, dtype=np.int64)
    for j in range(n):
        starts[keys[j] + 1] += 1
    for k in range(n_keys):
        starts[k + 1] += starts[k]
    at = starts[:-1].copy()
    order = np.empty(n, dtype=np.int64)
    for j in range(n):
        order[at[keys[j]]] = j
        at[keys[j]] += 1
    return order, starts


def counting_order(keys: np.ndarray, n_keys: int) -> tuple[np.ndarray, np.ndarray]:
    """A stable sort of small integer ``keys`` in [0, n_keys): (order, group starts)."""
    return _counting_order(np.asarray(keys, dtype=np.int64), int(n_keys))


@njit(parallel=True, cache=True)
def _slot_of(slot_retailer, who, retailer, out):
    for j in prange(who.shape[0]):
        i = who[j]
        out[j] = -1
        for q in range(slot_retailer.shape[1]):
            if slot_retailer[i, q] == retailer[j]:
                out[j] = q
                break


def slot_of(slot_retailer: np.ndarray, who: np.ndarray, retailer: np.ndarray) -> np.ndarray:
    """The slot of ``retailer[j]`` in consumer ``who[j]``'s repertoire, −1 where she holds none."""
    who = np.ascontiguousarray(who, dtype=np.int64)
    retailer = np.ascontiguousarray(np.broadcast_to(retailer, who.shape), dtype=np.int64)
    out = np.empty(len(who), dtype=np.int64)
    _slot_of(slot_retailer, who, retailer, out)
    return out


@njit(parallel=True, cache=True)
def _mass_after_sales(buyers, slots, retailer, promoting, extra):
    for j in prange(buyers.shape[0]):  # each buyer once: no two writes to one slot
        if promoting[retailer[j]]:
            extra[buyers[j], slots[j]] = 0.0


def mass_after_sales(buyers, slots, retailer, promoting, extra) -> None:
    """Customers now: promotions target the others."""
    _mass_after_sales(buyers, slots, retailer, promoting, extra)


@njit(cache=True)
def _loyalty_after_sales(buyers, slots, retailer, paid, card, points, tier, gift, gift_due, rate, eur_per_point,
                         threshold, offering, vesting, unconditional, due_week, gift_eur, rewards, new_card):
    for j in range(buyers.shape[0]):
        i, q, r = buyers[j], slots[j], retailer[j]
        new_card[j] = not card[i, q]
        card[i, q] = True
        if eur_per_point > 0:
            earned = paid[j] * np.float64(rate[tier[i, q]]) / eur_per_point
            balance = np.float64(points[i, q]) + earned
            vouchers = np.floor(balance / threshold)
            balance -= vouchers * threshold
            points[i, q] = np.float32(balance)
            rewards[r] += vouchers * threshold * eur_per_point
        if offering[r] and gift[i, q] == 1:  # offered: she takes it now (unconditional) or it vests
            if unconditional:
                rewards[r] += gift_eur
                gift[i, q] = 0
            elif vesting:
                gift[i, q] = 2
                gift_due[i, q] = due_week


def loyalty_after_sales(pop, buyers, slots, retailer, paid, rate, eur_per_point, threshold, offering, welcome,
                        due_week, gift_eur, n_ret):
    """Points earned and vouchers paid, cards given, welcome gifts taken: (rewards per retailer (€),
    whether each purchase gave the buyer a new card)."""
    rewards = np.zeros(n_ret)
    new_card = np.zeros(len(buyers), dtype=np.bool_)
    _loyalty_after_sales(buyers, slots, retailer, paid, pop.card, pop.points, pop.tier, pop.gift, pop.gift_due_week,
                         rate, float(eur_per_point), float(threshold), offering, welcome == "vesting",
                         welcome == "unconditional", int(due_week), float(gift_eur), rewards, new_card)
    return rewards, new_card


@njit(cache=True)
def _wallet(slot_retailer, last_week, spend_year, slot_category, n_categories, week, window, n_ret):
    # one thread, in (consumer, slot) order, so the sums do not depend on the number of threads
    base = np.zeros(n_ret)
    here = np.zeros(n_ret)
    n, n_slot = slot_retailer.shape
    total = np.zeros(n_categories)
    for i in range(n):
        for c in range(n_categories):
            total[c] = 0.0
        for q in range(n_slot):
            total[slot_category[q]] += np.float64(spend_year[i, q])
        for q in range(n_slot):
            r = slot_retailer[i, q]
            if r >= 0 and week - last_week[i, q] < window:
                base[r] += total[slot_category[q]]
                here[r] += np.float64(spend_year[i, q])
    return base, here


def wallet_sums(pop, week: int, window: int, n_ret: int) -> tuple[np.ndarray, np.ndarray]:
    """Per retailer, over its active customers: all they spent this year in its category, and what they
    spent there."""
    return _wallet(pop.slot_retailer, pop.last_week, pop.spend_year, pop.slot_category, len(pop.categories),
                   int(week), int(window), int(n_ret))
