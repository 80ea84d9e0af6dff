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
        # Per-consumer terms kept up to date by the strategy itself (only where they
        # change), so the weekly choice reads them instead of recomputing them.
        self.utility_row: np.ndarray | None = None  # extra utility of this retailer, per consumer
        self.discount_row: np.ndarray | None = None  # perceived share of the price not paid

    def setup(self, pop: ConsumerPopulation) -> None:
        """Create the per-consumer rows once the population exists."""

    @property
    def r(self) -> int:
        """This retailer's row in the population's relationship arrays."""
        return self.retailer.index

    # ---- what consumers see ---------------------------------------------------------
    def shared_utility(self, pop: ConsumerPopulation, idx: np.ndarray, week: int) -> np.ndarray | None:
        """Extra utility of this retailer for consumers ``idx`` in any channel (None: none)."""
        return None if self.utility_row is None else self.utility_row[idx]

    def discount(self, pop: ConsumerPopulation, idx: np.ndarray) -> np.ndarray | float:
        """Share of the posted price each consumer in ``idx`` does not pay, as she perceives it."""
        return 0.0 if self.discount_row is None else self.discount_row[idx]

    # ---- what the retailer does -----------------------------------------------------
    def after_sales(self, pop: ConsumerPopulation, buyers: np.ndarray, channel: np.ndarray,
                    paid_eur: np.ndarray, week: int) -> None:
        """Update relationships after this week's purchases by ``buyers`` (indices)."""

    def weekly(self, pop: ConsumerPopulation, week: int, n_active: int) -> None:
        """Once a week after shopping: decay, fixed costs."""

    def review(self, share_now: float, share_before: float, pop: ConsumerPopulation, week: int) -> None:
        """At each review (every few weeks): pricing and programme decisions."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(retailer={self.retailer.name!r}, markup={self.retailer.markup:.3f})"
