"""Consumers as arrays (structure of arrays), a thin Mesa view onto one, and adoption.

There can be a million consumers, so none is a Python object while the model runs:
each attribute is one numpy array indexed by consumer, and relationship state is held
per (consumer, slot) for a bounded repertoire of retailers, so that memory and the
cost of a week never grow with the number of retailers. :class:`Consumer` is a Mesa
agent that reads one row, made only for the consumers a person looks at.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.scenario import CategoryConfig, ChoiceConfig, ConsumerConfig

if TYPE_CHECKING:
    from sim.model import RetailMarket
    from sim.town import Region

NEVER = np.int32(-1_000_000)  # week of last purchase for a retailer never used
STORE, ONLINE = 0, 1

# What a repertoire slot holds, (consumer, slot) arrays: dtype, value when empty, meaning.
SLOT_FIELDS: dict[str, tuple[type, object, str]] = {
    "slot_retailer": (np.int32, -1, "the retailer this slot is for; −1: empty"),
    "habit": (np.float32, 0.0, "habit toward it in [0, 1]: an exponentially smoothed purchase history, so "
                               "her inertia is earned in full only by a run of purchases (Guadagni & Little 1983)"),
    "last_week": (np.int32, NEVER, "week of her last purchase there"),
    "since_week": (np.int32, NEVER, "start of the current relationship"),
    "spend_year": (np.float32, 0.0, "spend there over the current 52-week window"),
    "spend_last_year": (np.float32, 0.0, "over the window before"),
    "points": (np.float32, 0.0, "loyalty points balance"),
    "knowledge": (np.float32, 0.0, "what a learning retailer knows of her, in [0, 1]"),
    "extra_utility": (np.float32, 0.0, "what the retailer's strategy adds to its utility for her"),
    "discount": (np.float32, 0.0, "the share of the price she perceives she does not pay"),
    "tier": (np.int8, 0, "loyalty value tier: 0 bottom, 1 middle, 2 top"),
    "card": (np.bool_, False, "holds the retailer's loyalty card"),
    "gift": (np.int8, 0, "welcome gift: none, offered, pending"),
    "gift_due_week": (np.int32, 0, "week a pending (vesting) gift falls due"),
}
# per-consumer attributes outside the repertoire, in bytes (see ConsumerPopulation.__init__): twelve of
# 4 bytes, one of 8, three of 1 and one of 2
CONSUMER_BYTES = 4 * 12 + 8 + 3 + 2


def repertoire_width(slots: int, n_retailers: int | None) -> int:
    """Slots a consumer is given: as many as asked, but never more than there are retailers."""
    return slots if n_retailers is None else max(1, min(slots, n_retailers))


def lognormal_sigma_for_top20(share: float) -> float:
    """Sigma of a lognormal whose top 20 % hold ``share`` of the total.

    For a lognormal, the top-p share is 1 − Φ(Φ⁻¹(1 − p) − σ); solving for 80 % gives
    σ ≈ 1.68, the Pareto rule of the one-to-one marketing literature.
    """
    return float(NormalDist().inv_cdf(0.8) - NormalDist().inv_cdf(1.0 - share))


@dataclass
class CategorySpend:
    """How each consumer shops one retail category: her weekly trip probability, her basket per trip,
    her last retailer there, and the block of repertoire slots [slot_lo, slot_hi) kept for its retailers."""

    name: str
    share_budget: float
    p_shop: np.ndarray  # (n,) float32
    basket_eur: np.ndarray  # (n,) float32, at cost prices
    last_retailer: np.ndarray  # (n,) int16, −1: none yet
    slot_lo: int
    slot_hi: int


class ConsumerPopulation:
    """All consumers' state as arrays."""

    def __init__(self, cfg: ConsumerConfig, choice: ChoiceConfig, region: Region, rng: np.random.Generator,
                 n_retailers: int | None = None, categories: list[CategoryConfig] | None = None,
                 retailer_category: list[int] | None = None, travel_rng: np.random.Generator | None = None):
        n = cfg.n
        self.n = n
        self.home_x, self.home_y = (a.astype(np.float32) for a in region.sample_homes(n, rng))
        sigma = lognormal_sigma_for_top20(cfg.share_spend_top20)
        budget = rng.lognormal(-0.5 * sigma**2, sigma, n) * cfg.budget_mean_eur
        self.budget_eur = budget.astype(np.float32)  # weekly category budget at cost prices
        # the first category's trip probability; with no categories declared, the consumers' own
        categories = categories or [CategoryConfig(name="all_retail", share_budget=1.0, p_trip=cfg.p_shop,
                                                   repertoire_slots=cfg.repertoire_slots)]
        self.p_shop = _trip_probability(categories[0].p_trip, rng, n)
        # spend per trip keeps each consumer's expected weekly spend equal to her budget
        self.basket_eur = (self.budget_eur / self.p_shop).astype(np.float32)
        # value tier by budget: 2 = top 20 %, 1 = next 30 %, 0 = the rest (the Pareto rule)
        rank = np.empty(n, dtype=np.int64)
        rank[np.argsort(-self.budget_eur, kind="stable")] = np.arange(n)
        self.value_tier = np.where(rank < 0.2 * n, 2, np.where(rank < 0.5 * n, 1, 0)).astype(np.int8)
        # deal-prone consumers: price-sensitive and weak in habit (correlated lognormals, mean 1)
        z_price = rng.standard_normal(n)
        z_habit = -choice.deal_proneness * z_price + np.sqrt(1 - choice.deal_proneness**2) * rng.standard_normal(n)
        self.price_sens = (cfg.price_sens_mean * np.exp(0.4 * z_price - 0.08)).astype(np.float32)
        s = choice.inertia_sd
        self.inertia = (choice.inertia * np.exp(s * z_habit - s * s / 2)).astype(np.float32)
        noise = rng.lognormal(-0.08, 0.4, n)
        self.by_car: np.ndarray | None = None  # None: no one told apart
        mean = cfg.travel_sens_mean
        if cfg.share_by_car > 0:
            # who shops by car comes from a stream of its own, so that telling car users apart reshuffles no other draw
            if travel_rng is None:
                raise ValueError("consumers.share_by_car > 0 needs the run's travel stream (travel_rng)")
            self.by_car = travel_rng.random(n) < cfg.share_by_car
            mean = np.where(self.by_car, cfg.travel_sens_car_mean, cfg.travel_sens_mean)
        self.travel_sens = (mean * noise).astype(np.float32)
        self.taste = rng.uniform(0.0, 1.0, n).astype(np.float32)
        self.online_friction = rng.normal(choice.online_friction_mean, choice.online_friction_sd, n).astype(
            np.float32)
        self.adopted = rng.random(n) < cfg.share_online_initial

        self.last_retailer = np.full(n, -1, dtype=np.int16)
        self.habit_build = np.float32(choice.habit_build)
        self.last_channel = np.full(n, -1, dtype=np.int8)
        self.last_utility = np.zeros(n, dtype=np.float32)
        self.total_spent_eur = np.zeros(n, dtype=np.float64)
        self.main_retailer = np.full(n, -1, dtype=np.int32)  # largest wallet share over the last year

        # The repertoire: her relationship state is held for a bounded set of retailers, one slot
        # each (Ehrenberg's repertoire buying: a shopper splits her purchases over a few stores).
        # A slot with retailer −1 is empty; a retailer outside her slots is a stranger to her.
        # Laid out (consumer, slot) so that one consumer's repertoire sits together in memory.
        # no more slots than retailers: a slot beyond them could never be used
        # Each category keeps its own block of slots, so that a purchase of groceries never pushes her
        # clothing shop out of her repertoire, nor wears down her habit there.
        retailer_category = retailer_category if retailer_category is not None else [0] * (n_retailers or 0)
        self.categories: list[CategorySpend] = []
        lo = 0
        for c, cat in enumerate(categories):
            n_here = retailer_category.count(c) if n_retailers is not None else None
            hi = lo + repertoire_width(cat.repertoire_slots, n_here)
            if c == 0:  # the category's last retailer is her last of all only when it is the one category
                p_shop = self.p_shop
                last = self.last_retailer if len(categories) == 1 else np.full(n, -1, dtype=np.int16)
            else:  # drawn after everything else, so one category's draws are those of no categories
                p_shop, last = None, np.full(n, -1, dtype=np.int16)
            self.categories.append(CategorySpend(cat.name, cat.share_budget, p_shop, None, last, lo, hi))
            lo = hi
        self.n_slots = lo
        self.any_held = False  # becomes True with the first purchase
        for name, (dtype, empty, _) in SLOT_FIELDS.items():
            setattr(self, name, np.full((n, self.n_slots), empty, dtype=dtype))
        for c, (spend, cat) in enumerate(zip(self.categories, categories, strict=True)):
            if c > 0:
                spend.p_shop = _trip_probability(cat.p_trip, rng, n)
            # spend per trip keeps her expected weekly spend in the category equal to its share of her budget
            share = np.float32(cat.share_budget)
            spend.basket_eur = self.basket_eur if share == 1 else (self.budget_eur * share / spend.p_shop).astype(
                np.float32)
        # which block each slot belongs to, for sums within a category
        self.slot_category = np.repeat(np.arange(len(self.categories)),
                                       [s.slot_hi - s.slot_lo for s in self.categories]).astype(np.int64)

    # ---- the repertoire ------------------------------------------------------------
    def slot_of(self, consumers: np.ndarray, retailer) -> np.ndarray:
        """Slot holding ``retailer`` (one, or one per consumer) in each consumer's repertoire; −1: none."""
        from sim.slots import slot_of

        return slot_of(self.slot_retailer, np.asarray(consumers), np.asarray(retailer))

    def of_retailer(self, name: str, retailer: int, fill=0) -> np.ndarray:
        """One retailer's value of slot attribute ``name`` for every consumer (``fill`` where she
        holds no slot for it): a dense column, for analysis of small populations."""
        values = getattr(self, name)
        out = np.full(self.n, fill, dtype=values.dtype)
        who, slot = np.nonzero(self.slot_retailer == retailer)
        out[who] = values[who, slot]
        return out

    def active_pairs(self, week: int, window: int) -> tuple[np.ndarray, np.ndarray]:
        """(consumer, slot) of every relationship active this week (a purchase in the last ``window``)."""
        from sim.slots import find_slots

        anyone = np.ones(int(self.slot_retailer.max(initial=-1)) + 1, dtype=bool)
        return find_slots(self, anyone, self.last_week, week, -(2**62), window - 1)

    def adopt_online(self, p_innovation: float, q_imitation: float, rng: np.random.Generator) -> int:
        """One week of Bass diffusion: non-adopters adopt with hazard (p + q·F) / 52."""
        share = self.adopted.mean()
        hazard = (p_innovation + q_imitation * share) / 52.0
        waiting = np.flatnonzero(~self.adopted)
        new = waiting[rng.random(len(waiting), dtype=np.float32) < hazard]
        self.adopted[new] = True
        return len(new)

    def roll_year(self, n_retailers: int) -> tuple[float, np.ndarray]:
        """Close a 52-week window: new main retailers, the share who changed main retailer,
        and the switching matrix (old main × new main, consumers who changed).

        Only consumers who shopped in both windows count; the rate is NaN if none did.
        Ties in spend go to the retailer listed first. With categories, the main retailer is that of
        the first category, where the surveys of main-store switching ask (the main grocer).
        """
        block = slice(self.categories[0].slot_lo, self.categories[0].slot_hi)
        spend, slot_retailer = self.spend_year[:, block], self.slot_retailer[:, block]
        top = spend.max(axis=1)
        spent = top > 0
        tied = (spend == top[:, None]) & (slot_retailer >= 0)
        new_main = np.where(tied, slot_retailer, np.iinfo(np.int32).max).min(axis=1)
        new_main = np.where(spent, new_main, -1).astype(np.int32)
        both = (self.main_retailer >= 0) & (new_main >= 0)
        changed = both & (self.main_retailer != new_main)
        rate = float(changed.sum() / both.sum()) if both.any() else float("nan")
        r = n_retailers
        matrix = np.bincount(self.main_retailer[changed].astype(np.int64) * r + new_main[changed],
                             minlength=r * r).reshape(r, r)
        self.main_retailer = new_main
        self.spend_year, self.spend_last_year = self.spend_last_year, self.spend_year
        self.spend_year[:] = 0.0
        return rate, matrix


def _trip_probability(mean: float, rng: np.random.Generator, n: int) -> np.ndarray:
    """Each consumer's weekly trip probability: a beta around ``mean``, kept in [0.05, 1]."""
    p = np.clip(rng.beta(8.0 * mean + 0.1, 8.0 * (1 - mean) + 0.1, n), 0.05, 1.0)
    return p.astype(np.float32)


class Consumer(mesa.Agent):
    """A thin Mesa view onto one consumer's row of the population arrays.

    Made for the consumers a person looks at (the teaching app, tests); the model
    never needs it to run. Attributes read the arrays live.
    """

    def __init__(self, model: RetailMarket, index: int):
        super().__init__(model)
        if not 0 <= index < model.population.n:
            raise IndexError(f"consumer index {index} out of range 0..{model.population.n - 1}")
        self.index = int(index)

    @property
    def _pop(self) -> ConsumerPopulation:
        return self.model.population

    @property
    def home(self) -> tuple[float, float]:
        return float(self._pop.home_x[self.index]), float(self._pop.home_y[self.index])

    @property
    def budget_eur(self) -> float:
        return float(self._pop.budget_eur[self.index])

    @property
    def adopted_online(self) -> bool:
        return bool(self._pop.adopted[self.index])

    @property
    def last_retailer(self) -> str | None:
        r = int(self._pop.last_retailer[self.index])
        return self.model.retailer_names[r] if r >= 0 else None

    @property
    def last_channel(self) -> str | None:
        c = int(self._pop.last_channel[self.index])
        return None if c < 0 else ("store" if c == STORE else "online")

    @property
    def total_spent_eur(self) -> float:
        return float(self._pop.total_spent_eur[self.index])

    def relationship(self, retailer: str) -> dict[str, float | int | bool]:
        """Her relationship with one retailer: tenure, recency, points, knowledge held."""
        r = self.model.retailer_index(retailer)
        week, pop = self.model.week, self._pop
        slot = int(pop.slot_of(np.array([self.index]), r)[0])
        if slot < 0:  # a stranger: no relationship, nothing held
            return {"active": False, "tenure_weeks": 0, "weeks_since_purchase": -1, "points": 0.0,
                    "knowledge": 0.0}
        last = int(pop.last_week[self.index, slot])
        since = int(pop.since_week[self.index, slot])
        active = (week - last) < self.model.config.choice.active_window_weeks
        return {
            "active": bool(active),
            "tenure_weeks": week - since if active else 0,
            "weeks_since_purchase": week - last if last > NEVER else -1,
            "points": float(pop.points[self.index, slot]),
            "knowledge": float(pop.knowledge[self.index, slot]),
        }

    def __repr__(self) -> str:
        return f"Consumer(index={self.index}, last_retailer={self.last_retailer!r})"
