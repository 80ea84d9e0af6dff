"""Shared fixtures: small scenarios that run in a second or two."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.model import RetailMarket
from sim.scenario import Scenario, load

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"


def small_scenario(**overrides) -> Scenario:
    """The classroom scenario cut down: 1,500 consumers, 2 years (104 weeks)."""
    base = load(SCENARIOS / "classroom.toml")
    return base.with_overrides({"consumers.n": 1500, "steps": 104, **overrides})


@pytest.fixture(scope="session")
def small_run() -> RetailMarket:
    model = RetailMarket(small_scenario(), seed=7)
    model.run()
    return model


@pytest.fixture(scope="session")
def small_frame(small_run):
    return small_run.metrics.to_frame()
