"""The one interface every retailer strategy implements.

A strategy reads and writes the relationship arrays of its own retailer (one row of
the population's (retailer, consumer) arrays) and books its costs into the
retailer's weekly accounts. It never loops over consumers in Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from sim.consumers import ConsumerPopulation
    from sim.retailers import Retailer


class Strategy:
    """Base class: a strategy that does nothing beyond posting a uniform price."""

    name: ClassVar[str] = "base"
    source: ClassVar[str] = ""

    def __init__(self, params, retailer: Retailer):
        self.params = params
        self.retailer = retailer
        self.utility_row: np.ndarray | None = None
        self.discount_row: np.ndarray | None = None

    def setup(self, pop: ConsumerPopulation) -> None:
        """Take this retailer's rows of the population's per-consumer terms.

        ``utility_row`` (extra utility of this retailer) and ``discount_row`` (share of
        the price a consumer perceives she does not pay) are views: the strategy keeps
        them up to date in place, only where they change, and the weekly choice reads
        them instead of recomputing them.
        """
        self.utility_row = pop.extra_utility[:, self.r]
        self.discount_row = pop.discount[:, self.r]

    @property
    def r(self) -> int:
        """This retailer's row in the population's relationship arrays."""
        return self.retailer.index

    # ---- what the retailer does -----------------------------------------------------
    def after_sales(self, pop: ConsumerPopulation, buyers: np.ndarray, channel: np.ndarray,
                    paid_eur: np.ndarray, week: int) -> None:
        """Update relationships after this week's purchases by ``buyers`` (indices)."""

    def weekly(self, pop: ConsumerPopulation, week: int, n_active: int) -> None:
        """Once a week after shopping: decay, fixed costs."""

    def review(self, share_now: float, share_before: float, pop: ConsumerPopulation, week: int) -> None:
        """At each review (every few weeks): pricing and programme decisions."""

    def forget(self, pop: ConsumerPopulation, who: np.ndarray) -> None:
        """Lose what the relationship has built with consumers ``who`` (indices), so that from now
        on the retailer serves them as it serves a newcomer. Their own history (recency, tenure,
        habit) is theirs and stays. A strategy that holds nothing per customer has nothing to lose.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}(retailer={self.retailer.name!r}, markup={self.retailer.markup:.3f})"
