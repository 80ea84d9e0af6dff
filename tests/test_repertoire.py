"""Repertoires: a purchase from a new retailer takes a slot, and a full repertoire gives up its weakest.

A plain-Python repertoire (a list of slots per consumer, written from the rule in the
docstring of ``sim.settle``) is the yardstick: random purchase sequences go through both
engines' settlement and every slot must hold what the yardstick holds.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.choice import Choices
from sim.consumers import NEVER
from sim.fastchoice import settle_numba
from sim.model import RetailMarket
from sim.settle import settle_numpy

from .conftest import small_scenario

N_CONSUMERS, N_SLOTS, WINDOW = 6, 3, 13


def _market() -> RetailMarket:
    return RetailMarket(small_scenario(**{"consumers.n": N_CONSUMERS, "consumers.repertoire_slots": N_SLOTS,
                                          "warmup_weeks": 0, "steps": 5}), seed=1)


class Yardstick:
    """One consumer's repertoire, slot by slot: [retailer, habit, last week, since week] or None."""

    def __init__(self, build: np.float32):
        self.slots: list[list | None] = [None] * N_SLOTS
        self.build = build

    def buy(self, retailer: int, week: int) -> None:
        held = [q for q, s in enumerate(self.slots) if s is not None and s[0] == retailer]
        if held:
            q = held[0]
        else:
            empty = [q for q, s in enumerate(self.slots) if s is None]
            # an empty slot, else the weakest: least habit, then the longest since a purchase, then the first
            q = empty[0] if empty else min(range(N_SLOTS), key=lambda k: (self.slots[k][1], self.slots[k][2], k))
            self.slots[q] = [retailer, np.float32(0.0), int(NEVER), int(NEVER)]
        s = self.slots[q]
        if week - s[2] >= WINDOW:
            s[3] = week
        s[2] = week
        keep = np.float32(1.0) - self.build
        for other in self.slots:
            if other is not None:
                other[1] = np.float32(other[1] * keep)
        s[1] = np.float32(s[1] + self.build)


def _settle(model, engine, buyers, retailers, week):
    pop = model.population
    n = len(buyers)
    idx = np.array(buyers, dtype=np.int64)
    ret = np.array(retailers, dtype=np.int32)
    rep = np.array([pop.slot_of(np.array([b]), r)[0] for b, r in zip(buyers, retailers, strict=True)],
                   dtype=np.int32)
    choices = Choices(retailer=ret, channel=np.ones(n, dtype=np.int8), utility=np.zeros(n, dtype=np.float32),
                      store_slot=np.full(n, -1, dtype=np.int32), store_km=np.zeros(n, dtype=np.float32),
                      rep_slot=rep)
    settle = settle_numpy if engine == "numpy" else settle_numba
    return settle(pop, model, choices, idx, np.full(len(model.retailers), 1.3), 1.0, len(model.stores), week,
                  WINDOW)


weeks_of_purchases = st.lists(  # each week: who buys from which retailer (each buyer once)
    st.dictionaries(st.integers(0, N_CONSUMERS - 1), st.integers(0, 2), max_size=N_CONSUMERS),
    min_size=1, max_size=40)


@pytest.mark.parametrize("engine", ["numpy", "numba"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(weeks=weeks_of_purchases, gaps=st.lists(st.integers(1, 20), min_size=40, max_size=40))
def test_slots_are_taken_kept_and_given_up_as_the_rule_says(engine, weeks, gaps):
    model = _market()
    pop = model.population
    yardsticks = [Yardstick(pop.habit_build) for _ in range(N_CONSUMERS)]
    week = 0
    for purchases, gap in zip(weeks, gaps, strict=False):
        week += gap
        buyers = sorted(purchases)
        _settle(model, engine, buyers, [purchases[b] for b in buyers], week)
        for b in buyers:
            yardsticks[b].buy(purchases[b], week)
        for i, y in enumerate(yardsticks):
            for q, s in enumerate(y.slots):
                if s is None:
                    assert pop.slot_retailer[i, q] == -1
                    continue
                assert pop.slot_retailer[i, q] == s[0]
                assert pop.habit[i, q] == s[1]
                assert pop.last_week[i, q] == s[2] and pop.since_week[i, q] == s[3]
            held = pop.slot_retailer[i][pop.slot_retailer[i] >= 0]
            assert len(set(held.tolist())) == len(held)  # a retailer holds one slot at most


def _plain_counts(yardsticks, week, n_ret=3):
    """Active and lost customers per retailer, consumers active anywhere, and the lapsing (consumer, slot)
    pairs, read from the yardstick repertoires by the definitions."""
    active, lost, anyone, lapsing = np.zeros(n_ret, int), np.zeros(n_ret, int), 0, []
    for i, y in enumerate(yardsticks):
        seen = False
        for q, s in enumerate(y.slots):
            if s is None:
                continue
            gap = week - s[2]
            active[s[0]] += gap < WINDOW
            lost[s[0]] += gap == WINDOW
            seen |= gap < WINDOW
            if gap == WINDOW - 1:
                lapsing.append((i, q))
        anyone += seen
    return active, lost, anyone, lapsing


@pytest.mark.parametrize("engine", ["numpy", "numba"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(weeks=weeks_of_purchases, gaps=st.lists(st.integers(1, 20), min_size=40, max_size=40))
def test_the_ledger_counts_what_the_repertoires_hold_in_every_week(engine, weeks, gaps):
    model = _market()
    ledger = model.ledger
    yardsticks = [Yardstick(model.population.habit_build) for _ in range(N_CONSUMERS)]
    week = 0
    for purchases, gap in zip(weeks, gaps, strict=False):
        for quiet in range(week + 1, week + gap):  # weeks without purchases: relationships lapse and are lost
            active, lost, anyone, lapsing = _plain_counts(yardsticks, quiet)
            got_active, got_lost, got_anyone = ledger.counts(quiet)
            assert (got_active == active).all() and (got_lost == lost).all() and got_anyone == anyone
            assert list(zip(*ledger.lapsing(quiet), strict=True)) == lapsing
        week += gap
        buyers = sorted(purchases)
        retailers = [purchases[b] for b in buyers]
        settled = _settle(model, engine, buyers, retailers, week)
        rep = np.array([model.population.slot_of(np.array([b]), r)[0] for b, r in zip(buyers, retailers,
                                                                                         strict=True)])
        ledger.record(week, np.array(buyers, dtype=np.int64), np.array(retailers, dtype=np.int32), rep,
                      settled.prior_retailer, settled.prior_week)
        for b in buyers:
            yardsticks[b].buy(purchases[b], week)
        active, lost, anyone, lapsing = _plain_counts(yardsticks, week)
        got_active, got_lost, got_anyone = ledger.counts(week)
        assert (got_active == active).all() and (got_lost == lost).all() and got_anyone == anyone
        assert list(zip(*ledger.lapsing(week), strict=True)) == lapsing
    rebuilt = type(ledger)(model.population, 3, WINDOW, week)  # a recount from the slots agrees
    assert (rebuilt.counts(week)[0] == ledger.counts(week)[0]).all()
    assert rebuilt.counts(week)[2] == ledger.counts(week)[2]


def test_a_newcomer_slot_starts_as_the_retailer_treats_strangers_and_eviction_is_counted():
    model = RetailMarket(small_scenario(**{"consumers.n": N_CONSUMERS, "consumers.repertoire_slots": 2,
                                           "warmup_weeks": 0, "steps": 5}), seed=1)
    pop = model.population
    _settle(model, "numpy", [0], [0], 1)
    _settle(model, "numpy", [0], [1], 2)  # two retailers fill her two slots; retailer 0's habit is weaker
    pop.points[0, :] = 50.0
    pop.knowledge[0, :] = 0.5
    weakest = int(np.argmin(pop.habit[0]))
    assert pop.slot_retailer[0, weakest] == 0
    model.stranger.extra[2] = np.float32(0.25)
    model.stranger.discount[2] = np.float32(0.01)
    week = _settle(model, "numpy", [0], [2], 3)  # a third retailer takes the weakest slot, still active
    assert week.n_evicted_active == 1
    assert pop.slot_retailer[0, weakest] == 2 and pop.slot_of(np.array([0]), 0)[0] == -1
    assert pop.points[0, weakest] == 0 and pop.knowledge[0, weakest] == 0
    assert pop.extra_utility[0, weakest] == np.float32(0.25) and pop.discount[0, weakest] == np.float32(0.01)
    assert pop.since_week[0, weakest] == 3 and pop.last_week[0, weakest] == 3
    assert pop.points[0, 1 - weakest] == 50.0  # the other relationship keeps what it built
