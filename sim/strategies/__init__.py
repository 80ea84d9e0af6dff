"""Retailer strategies, one class per file behind one interface (:class:`Strategy`)."""

from sim.strategies.base import Strategy
from sim.strategies.learning import LearningStrategy
from sim.strategies.loyalty import LoyaltyStrategy
from sim.strategies.mass import MassStrategy

STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (MassStrategy, LoyaltyStrategy, LearningStrategy)
}

__all__ = ["STRATEGIES", "LearningStrategy", "LoyaltyStrategy", "MassStrategy", "Strategy"]
