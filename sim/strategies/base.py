"""The one interface every retailer strategy implements.

A strategy is one small class. Its instance belongs to one retailer and makes that
retailer's own decisions (its price at a review, what it offers a stranger, what it
loses when it forgets a customer). What it does to relationships it does for all the
retailers that follow it at once: the class methods ``after_sales`` and ``weekly`` make
one vectorised pass over the repertoire slots of every retailer of the kind, never one
Python pass per retailer over all consumers, so the cost of a week does not grow with
the number of retailers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from sim.consumers import ConsumerPopulation
    from sim.model import RetailMarket
    from sim.retailers import Retailer
    from sim.settle import Settlement


class Strategy:
    """Base class: a strategy that does nothing beyond posting a uniform price."""

    name: ClassVar[str] = "base"
    source: ClassVar[str] = ""

    def __init__(self, params, retailer: Retailer):
        self.params = params
        self.retailer = retailer

    @property
    def r(self) -> int:
        """This retailer's index (what its repertoire slots hold)."""
        return self.retailer.index

    # ---- what one retailer does -------------------------------------------------------
    def stranger_terms(self) -> tuple[float, float]:
        """(extra utility, perceived discount) this retailer offers a consumer with no relationship."""
        return 0.0, 0.0

    def setup(self, pop: ConsumerPopulation) -> None:
        """Take up the strategy: set what it holds in its retailer's slots (and for strangers)."""
        self.update_stranger()

    def update_stranger(self) -> None:
        """Write what this retailer offers strangers into the model's stranger arrays."""
        stranger = self.retailer.model.stranger
        extra, discount = self.stranger_terms()
        stranger.extra[self.r] = np.float32(extra)
        stranger.discount[self.r] = np.float32(discount)

    def own_slots(self, pop: ConsumerPopulation, who: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(consumer, slot) of this retailer's relationships, among consumers ``who`` if given."""
        if who is None:
            if not pop.any_held:  # before the first purchase nobody holds a slot
                return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
            return np.nonzero(pop.slot_retailer == self.r)
        who = np.asarray(who, dtype=np.intp)
        slot = pop.slot_of(who, self.r)
        return who[slot >= 0], slot[slot >= 0]

    def review(self, share_now: float, share_before: float, pop: ConsumerPopulation, week: int) -> None:
        """At each review (every few weeks): this retailer's pricing decisions."""

    def forget(self, pop: ConsumerPopulation, who: np.ndarray) -> None:
        """Lose what the relationship has built with consumers ``who`` (indices), so that from now
        on the retailer serves them as it serves a newcomer. Their own history (recency, tenure,
        habit) is theirs and stays. A strategy that holds nothing per customer has nothing to lose.
        """

    # ---- what every retailer of the kind does, in one pass ----------------------------------
    @classmethod
    def after_sales(cls, model: RetailMarket, members: list[Retailer], week: Settlement,
                    sold: np.ndarray) -> None:
        """Update relationships after this week's purchases ``sold`` (positions in ``week``) from
        the retailers ``members`` that follow this strategy."""

    @classmethod
    def weekly(cls, model: RetailMarket, members: list[Retailer], week: int, n_active: np.ndarray) -> None:
        """Once a week after shopping, for all ``members``: decay, running costs."""

    @classmethod
    def review_all(cls, model: RetailMarket, members: list[Retailer], week: int) -> None:
        """At each review, after every retailer's own review: decisions over all members' customers."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(retailer={self.retailer.name!r}, markup={self.retailer.markup:.3f})"


def member_mask(model: RetailMarket, members: list[Retailer]) -> np.ndarray:
    """(R + 1,) True for ``members``; the last entry, False, stands for empty slots (retailer −1)."""
    is_member = np.zeros(len(model.retailers) + 1, dtype=bool)
    is_member[[r.index for r in members]] = True
    return is_member


def kind_slots(model: RetailMarket, members: list[Retailer]) -> np.ndarray:
    """(consumer, slot) mask of the slots held by any of ``members``."""
    return member_mask(model, members)[model.population.slot_retailer]
