"""Store-closure policies retailers apply at each review."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.scenario import StoreConfig
    from sim.stores import Store


class ClosurePolicy:
    """Decides, at a review, which of a retailer's open stores to close."""

    name = "base"

    def __init__(self, cfg: StoreConfig):
        self.cfg = cfg

    def to_close(self, stores: list[Store]) -> list[Store]:
        raise NotImplementedError


class Never(ClosurePolicy):
    """Stores are never closed, whatever they lose."""

    name = "never"

    def to_close(self, stores):
        return []


class LossThreshold(ClosurePolicy):
    """Close a store whose trailing-year contribution is negative at K reviews in a row.

    Stores younger than ``min_age_weeks`` are not judged, so that a new store has a
    year to find its customers.
    """

    name = "loss_threshold"

    def to_close(self, stores):
        doomed = []
        for store in stores:
            if store.age_weeks < self.cfg.min_age_weeks:
                continue
            store.loss_strikes = store.loss_strikes + 1 if store.trailing_profit < 0 else 0
            if store.loss_strikes >= self.cfg.loss_reviews:
                doomed.append(store)
        return doomed


CLOSURE_POLICIES: dict[str, type[ClosurePolicy]] = {p.name: p for p in (Never, LossThreshold)}
