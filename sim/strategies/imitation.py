"""Rivals copying a loyalty programme that gains share (competitive parity)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.strategies.loyalty import LoyaltyStrategy

if TYPE_CHECKING:
    from sim.model import RetailMarket


def imitate_programmes(model: RetailMarket) -> None:
    """At a review: rivals watch loyalty programmes and may copy one that gains share.

    A programme is worth copying when its owner's revenue share over the last 26
    weeks exceeds its share over the 26 weeks before by ``copy_share_gain``. Each
    retailer following one of the ``copied_by`` strategies then decides to copy with
    probability ``copy_probability`` per review, and launches its own programme
    ``copy_lag_weeks`` later (Peppers & Rogers: loyalty programmes are easy to copy,
    and once everyone has one the advantage is gone).
    """
    p = model.config.strategies.loyalty
    week = model.week
    for r in model.retailers:
        if r.copy_due_week is not None and week >= r.copy_due_week:
            r.switch_strategy("loyalty")
            model.events.append({"week": week, "retailer": r.name, "event": "launched a copied loyalty programme"})
    if p.copy_probability <= 0:
        return
    gain = model.metrics.revenue_share_gain(26)
    if gain is None:
        return
    leaders = [r for r in model.retailers
               if isinstance(r.strategy, LoyaltyStrategy) and gain[r.index] > p.copy_share_gain]
    if not leaders:
        return
    for r in model.retailers:
        eligible = r.strategy.name in p.copied_by and r.copy_due_week is None
        if eligible and model.streams.strategy.random() < p.copy_probability:
            r.copy_due_week = week + p.copy_lag_weeks
            model.events.append({"week": week, "retailer": r.name,
                                 "event": f"decided to copy {leaders[0].name}'s programme"})
