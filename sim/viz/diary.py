"""A diary of sampled consumers: where each shopped every week, and why she left a retailer.

The diary reads the same arrays as the weekly choice, just before it is made, and
splits each option's deterministic utility into its parts (taste, the retailer's offer,
price, access, habit). When a consumer's purchase moves from retailer A to retailer B,
the part that favoured B most is her reason; when, on the numbers, A was still the
better option, the random part of her choice tipped it, and the diary says so. It also
keeps the purchases that moved between retailers in each of the last 13 weeks.

The diary only reads the model: it draws no random numbers, so a run with a diary
gives the same results as a run without one.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim import choice

if TYPE_CHECKING:
    from sim.model import RetailMarket

CHANNELS = ("store", "online")
FLOW_WEEKS = 13


@dataclass(frozen=True)
class Visit:
    """One week of one consumer's diary."""

    week: int
    retailer: str | None  # None: she did not shop this week
    channel: str | None
    reason: str | None = None  # set when she moved to another retailer


class Diary:
    """Weekly purchases of an evenly spread sample of consumers, and recent flows between retailers."""

    def __init__(self, model: RetailMarket, n_sample: int = 300):
        self.model = model
        n = model.population.n
        self.ids = np.unique(np.linspace(0, n - 1, min(n, n_sample)).round().astype(np.int64))
        self.visits: dict[int, list[Visit]] = {int(i): [] for i in self.ids}
        self.weekly_flows: deque[np.ndarray] = deque(maxlen=FLOW_WEEKS)
        self._parts: dict[str, np.ndarray] = {}
        self._previous = np.full(len(self.ids), -1)

    # ---- around the weekly choice -----------------------------------------------------
    def before_shop(self) -> None:
        """Split each option's utility into parts for the sampled consumers, as the choice will see it."""
        m = self.model
        x = choice.dense_inputs(m, self.ids)
        taste, offer = x.taste, x.extra
        price = x.price_sens[None, :] * x.rel_price
        habit = x.inertia[None, :] * x.habit
        online_ok = x.sells_online[:, None] & x.adopted[None, :]
        self._parts = {
            "taste": np.vstack([taste, taste]),
            "offer": np.vstack([offer, offer]),
            "price": np.vstack([-price, -x.online_price_sens_factor * price]),
            "access": np.vstack([x.access, np.where(online_ok, -x.online_friction[None, :], -np.inf)]),
            "habit": np.vstack([habit, habit * x.online_inertia_factor]),
        }
        self._utility = choice.dense_option_utilities(x)
        self._previous = m.population.last_retailer[self.ids].astype(np.int64)

    def after_shop(self) -> None:
        """Write the week into each sampled consumer's diary, with a reason at every move."""
        m = self.model
        pop = m.population
        week = m.week
        shopped = pop.last_week[self.ids].max(axis=1) == week
        for k, i in enumerate(self.ids):
            if not shopped[k]:
                self.visits[int(i)].append(Visit(week, None, None))
                continue
            r, ch = int(pop.last_retailer[i]), int(pop.last_channel[i])
            prev = int(self._previous[k])
            reason = self.reason(k, prev, r, ch) if 0 <= prev != r else None
            self.visits[int(i)].append(Visit(week, m.retailer_names[r], CHANNELS[ch], reason))
        self.weekly_flows.append(m.flows_week.matrix())

    # ---- reasons --------------------------------------------------------------------
    def reason(self, k: int, old: int, new: int, channel: int) -> str:
        """Why consumer k bought from ``new`` through ``channel`` rather than from ``old``, her last retailer."""
        m = self.model
        n_ret = len(m.retailers)
        new_opt = channel * n_ret + new
        old_opts = [old, n_ret + old]
        old_opt = max(old_opts, key=lambda o: self._utility[o, k])
        a, b = m.retailer_names[old], m.retailer_names[new]
        via = "online" if channel == 1 else "in store"
        if not np.isfinite(self._utility[old_opt, k]):
            return f"left {a} for {b} ({via}): {a} had no store within her reach and no web shop she used"
        gains = {part: values[new_opt, k] - values[old_opt, k] for part, values in self._parts.items()
                 if part != "habit"}
        if sum(gains.values()) <= 0:
            return (f"left {a} for {b} ({via}) by chance: {a} was still the better option for her, but the "
                    f"random part of her choice (a mood, a one-off errand) tipped it")
        part = max(gains, key=gains.get)
        why = {
            "taste": f"{possessive(b)} range suits her taste better",
            "offer": _offer_phrase(m.retailers[new].strategy.name, b),
            "price": f"{b} was cheaper for her",
            "access": "shopping online suited her" if channel == 1 else f"{possessive(b)} store was easier to reach",
        }[part]
        if self._utility[new_opt, k] >= self._utility[old_opt, k]:
            return f"left {a} for {b} ({via}): {why}, enough to overcome her habit"
        return f"left {a} for {b} ({via}): {why}; her habit held her at {a} until a one-off choice tipped her"

    def story(self, consumer: int, last: int | None = None) -> list[Visit]:
        """The diary of one sampled consumer, all weeks or the last ``last``."""
        visits = self.visits[int(consumer)]
        return visits[-last:] if last else list(visits)

    def flows(self) -> np.ndarray:
        """Purchases that moved between retailers over the last 13 weeks: rows are the retailer used
        before, columns the retailer used now; repeat purchases are left out (the diagonal is 0).
        First purchases are left out too: after the warm-up every consumer has bought before."""
        n_ret = len(self.model.retailers)
        if not self.weekly_flows:
            return np.zeros((n_ret, n_ret), dtype=np.int64)
        total = np.sum(self.weekly_flows, axis=0)[1:]
        total[np.arange(n_ret), np.arange(n_ret)] = 0
        return total


def _offer_phrase(strategy: str, name: str) -> str:
    return {
        "loyalty": f"her points and vouchers at {name} pulled her",
        "learning": f"{name} knew her better and fitted its offers to her",
        "mass": f"{possessive(name)} promotions caught her",
    }.get(strategy, f"{possessive(name)} offer was better for her")


def possessive(name: str) -> str:
    """Knows' range, Budget's range."""
    return f"{name}'" if name.endswith("s") else f"{name}'s"
