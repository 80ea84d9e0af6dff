"""The app's controls (sliders with a typed value beside them, and choices), each tied to one scenario key.

Defaults come from the scenario the app was started with (which takes every value it
does not set from the schema); choices are the schema's allowed values; slider ranges
suit a class and lie inside the schema's limits (a test checks both ends). Nothing
here holds a default of its own.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any

from sim.scenario import Scenario, StoreConfig, StrategyName


@dataclass(frozen=True)
class Control:
    """One input of the app: its label, the scenario key it sets and its range or choices."""

    name: str
    label: str
    key: str
    kind: str  # SliderInt, SliderFloat or Select
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""  # one line under the control: what it changes
    to_scenario: typing.Callable[[Any, Scenario], Any] | None = None  # app value -> scenario value
    from_scenario: typing.Callable[[Scenario], Any] | None = None  # scenario -> app value

    def value(self, scenario: Scenario) -> Any:
        if self.from_scenario is not None:
            return self.from_scenario(scenario)
        return _get(scenario, self.key)


def _get(scenario: Scenario, key: str) -> Any:
    value: Any = scenario
    for part in key.split("."):  # retailers (a list) are addressed by name, as in --set
        value = next(i for i in value if i.name == part) if isinstance(value, list) else getattr(value, part)
    return value


def _reward_rate(s: Scenario) -> float:
    loyalty = s.strategies.loyalty
    return round(100 * loyalty.points_per_eur * loyalty.eur_per_point, 3)


def _point_value(rate_pct: float, s: Scenario) -> float:
    """The € value of a point that returns ``rate_pct`` % of spend (unchanged if no points are earned)."""
    per_eur = s.strategies.loyalty.points_per_eur
    return rate_pct / 100 / per_eur if per_eur > 0 else s.strategies.loyalty.eur_per_point


def _learning_ratio(s: Scenario) -> float:
    learning = s.strategies.learning
    return learning.learn_rate_online / learning.learn_rate_store if learning.learn_rate_store else 1.0


def controls(scenario: Scenario) -> list[Control]:
    """Every input of the app for this scenario (one strategy choice per retailer)."""
    strategies = typing.get_args(StrategyName)
    closures = typing.get_args(StoreConfig.model_fields["closure"].annotation)
    items = [
        Control("consumers_n", "Consumers", "consumers.n", "SliderInt", 200, 20_000, 200,
                help="how many consumers the market simulates (more: smoother, slower)"),
        Control("seed", "Seed", "seed", "SliderInt", 1, 100, 1,
                help="the same seed gives the same run; change it to see what is luck"),
    ]
    for k, r in enumerate(scenario.retailers):
        items.append(Control(f"strategy_{r.name}", f"{r.name}: strategy", f"retailers.{r.name}.strategy", "Select",
                             choices=strategies,
                             help="" if k else "mass: price; loyalty: points; learning: knowing each customer"))
    items += [
        Control("reward_rate_pct", "Loyalty reward (%)", "strategies.loyalty.eur_per_point",
                "SliderFloat", 0.0, 5.0, 0.1,
                to_scenario=_point_value,
                from_scenario=_reward_rate,
                help="share of spend a loyalty card pays back in vouchers"),
        Control("learn_rate_store", "Learning speed", "strategies.learning.learn_rate_store", "SliderFloat",
                0.0, 0.2, 0.005,
                help="knowledge a learning retailer gains per store visit (online: more)"),
        Control("q_imitation", "Online adoption speed", "adoption.q_imitation", "SliderFloat", 0.0, 2.0, 0.05,
                help="Bass q, per year: how fast online shopping spreads by word of mouth"),
        Control("closure", "Store closures", "stores.closure", "Select", choices=closures,
                help="when a retailer closes a store"),
    ]
    return items


def snap(control: Control, value: float) -> float:
    """A typed value brought inside the control's range and onto its steps."""
    value = min(max(float(value), control.low), control.high)
    steps = round((value - control.low) / control.step)
    snapped = min(control.low + steps * control.step, control.high)
    return round(snapped) if control.kind == "SliderInt" else round(snapped, 6)


def overrides(scenario: Scenario, values: dict[str, Any]) -> dict[str, Any]:
    """Scenario overrides (dotted keys) for the app's values; unknown names are an error listing the valid ones."""
    by_name = {c.name: c for c in controls(scenario)}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        raise ValueError(f"unknown app parameter(s) {', '.join(unknown)}; valid: {', '.join(by_name)}")
    out: dict[str, Any] = {}
    for name, value in values.items():
        control = by_name[name]
        if control.key == "strategies.learning.learn_rate_store":
            out["strategies.learning.learn_rate_online"] = min(1.0, value * _learning_ratio(scenario))
        out[control.key] = control.to_scenario(value, scenario) if control.to_scenario else value
    return out
