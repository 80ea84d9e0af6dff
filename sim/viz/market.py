"""The model as the app runs it: RetailMarket built from the app's controls, with a diary."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sim.model import RetailMarket
from sim.scenario import Scenario, load
from sim.viz import params
from sim.viz.diary import Diary

SCENARIO_ENV = "RETAILSIM_APP_SCENARIO"
DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent.parent / "scenarios" / "classroom.toml"


def app_scenario() -> Scenario:
    """The scenario the app starts from: ``$RETAILSIM_APP_SCENARIO``, else scenarios/classroom.toml."""
    return load(os.environ.get(SCENARIO_ENV) or DEFAULT_SCENARIO)


class ClassroomMarket(RetailMarket):
    """RetailMarket with the app's controls as keyword arguments and a diary of sampled consumers."""

    diary: Diary | None = None

    def __init__(self, base: Scenario | None = None, **controls: Any):
        base = base or app_scenario()
        config = base.with_overrides(params.overrides(base, controls), source="app controls")
        super().__init__(config)
        self.diary = Diary(self)

    def shop(self) -> None:
        if self.diary is None:  # warm-up weeks, before the diary exists
            super().shop()
            return
        self.diary.before_shop()
        super().shop()
        self.diary.after_shop()
