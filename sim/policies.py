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


class Rationalise(ClosurePolicy):
    """Once a year, close the worst ``rationalise_share`` of a retailer's stores (by trailing-year
    contribution), but only those that lose money: a network review, not a fire sale."""

    name = "rationalise"

    def to_close(self, stores):
        if not stores or stores[0].model.week % 52 != 0:
            return []
        judged = [s for s in stores if s.age_weeks >= self.cfg.min_age_weeks and s.trailing_profit < 0]
        n_close = int(len(stores) * self.cfg.rationalise_share)
        return sorted(judged, key=lambda s: s.trailing_profit)[:n_close]


class OnlineShift(ClosurePolicy):
    """Close the worst store each time the retailer's online share of revenue passes another step:
    as sales move online, the network shrinks (the high-street story of planners)."""

    name = "online_shift"

    def to_close(self, stores):
        if not stores:
            return []
        retailer = stores[0].retailer
        share = retailer.trailing_online_share()
        steps_passed = int(share / self.cfg.online_shift_step)
        if steps_passed <= retailer.online_steps_acted:
            return []
        judged = [s for s in stores if s.age_weeks >= self.cfg.min_age_weeks]
        if not judged:
            return []
        retailer.online_steps_acted = steps_passed
        return [min(judged, key=lambda s: s.trailing_profit)]


CLOSURE_POLICIES: dict[str, type[ClosurePolicy]] = {p.name: p for p in (Never, LossThreshold, Rationalise,
                                                                         OnlineShift)}
