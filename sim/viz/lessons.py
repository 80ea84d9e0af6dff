"""The lessons of docs/teaching.md and the figures they ask about: one source for the page and the guide.

The charts, the readouts on the page and the figures quoted in the guide all come from
:func:`weekly_series` and :func:`readouts`, so the guide cannot say one thing while the
page shows another: ``make docs`` runs each lesson's preset to :data:`LESSON_WEEKS` and
writes the readouts it shows into docs/teaching.md (from docs/teaching_template.md),
and the browser test reads the same readouts off the page.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.metrics import ALL
from sim.scenario import Scenario
from sim.viz import params

LESSON_WEEKS = 104  # every lesson plays two years: long enough for each effect, short enough for a class
WINDOW_WEEKS = 13  # "the last quarter": the window of the lost-customers, margin, voucher and online figures
ONLINE_MILESTONES = (10, 20, 30, 40, 50)  # % of sales online: the event feed reports each one passed
VACANCY_MILESTONES = (25, 50, 75)


@dataclass(frozen=True)
class Lesson:
    """A one-click preset: the controls a lesson sets (every other control at the scenario's value)."""

    key: str
    title: str
    controls: dict[str, Any] = field(default_factory=dict)
    summary: str = ""


LESSONS: tuple[Lesson, ...] = (
    Lesson("baseline", "Baseline", {}, "the classroom market as the scenario sets it"),
    Lesson("loyalty_war", "1. Loyalty war", {"strategy_Budget": "loyalty", "strategy_Knows": "loyalty",
                                              "reward_rate_pct": 3.0},
           "every retailer runs a loyalty card paying back 3 % of spend"),
    Lesson("no_learning", "2a. No learning", {"learn_rate_store": 0.0}, "Knows learns nothing about its customers"),
    Lesson("fast_learning", "2b. Fast learning", {"learn_rate_store": 0.1},
           "Knows learns five times as fast as by default"),
    Lesson("online_shock", "3a. Online shock", {"q_imitation": 2.0}, "online shopping spreads fast by word of mouth"),
    Lesson("online_shock_closures", "3b. Shock + closures", {"q_imitation": 2.0, "closure": "online_shift"},
           "fast online spread, and retailers close a store as their web shops grow"),
)
LESSONS_BY_KEY = {lesson.key: lesson for lesson in LESSONS}


def control_values(scenario: Scenario, lesson: Lesson | None = None) -> dict[str, Any]:
    """Every control at the scenario's value, with the lesson's own settings on top."""
    values = {c.name: c.value(scenario) for c in params.controls(scenario)}
    return values | (lesson.controls if lesson else {})


def changed_controls(scenario: Scenario, values: dict[str, Any]) -> dict[str, Any]:
    """The controls that differ from the scenario: only these are applied, so that a control left at
    its default builds exactly the scenario (a round trip through a control's units could move it)."""
    defaults = control_values(scenario)
    return {name: value for name, value in values.items() if value != defaults[name]}


def build_model(scenario: Scenario, values: dict[str, Any]):
    """The app's model for these control values: the page and the guide's measurements both build it here."""
    from sim.viz.market import ClassroomMarket

    return ClassroomMarket(base=scenario, **changed_controls(scenario, values))


# ---- the weekly figures -------------------------------------------------------------------

def _trailing(values: pd.Series) -> np.ndarray:
    """Sum over the last WINDOW_WEEKS weeks; NaN until the window is full (a part-filled window
    would count a few weeks against a quarter's customers and look like a spike)."""
    return values.rolling(WINDOW_WEEKS, min_periods=WINDOW_WEEKS).sum().to_numpy(dtype=float)


def _pct(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    den = np.asarray(den, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, 100 * np.asarray(num, dtype=float) / np.where(den > 0, den, 1), np.nan)


def weekly_series(frame: pd.DataFrame, names: list[str]) -> dict[str, Any]:
    """The charts' series by week: per retailer (dicts by name) and for the market.

    ``lost``: customers lost over the last 13 weeks as % of the active customers at the start of
    those weeks; ``margin``: operating profit over the last 13 weeks as % of their sales;
    ``vouchers``: loyalty vouchers paid over the last 13 weeks as % of sales; ``online``: the
    online share of the market's sales over the last 13 weeks; ``adopters``: % of consumers who
    shop online at all; ``vacancy`` and ``vacancy_floor``: % of sites and of floor area vacant;
    ``no_store``: % of consumers with no open store within reach (stores.access_km).
    """
    market = frame[frame["retailer"] == ALL]
    out: dict[str, Any] = {"week": market["week"].to_numpy(), "lost": {}, "margin": {}, "vouchers": {},
                           "stores": {}}
    for name in names:
        rows = frame[frame["retailer"] == name]
        active_before = rows["n_active_customers"].shift(WINDOW_WEEKS).to_numpy(dtype=float)
        revenue = _trailing(rows["revenue_eur"])
        out["lost"][name] = _pct(_trailing(rows["n_lost"]), active_before)
        out["margin"][name] = _pct(_trailing(rows["operating_profit_eur"]), revenue)
        out["vouchers"][name] = _pct(_trailing(rows["rewards_eur"]), revenue)
        out["stores"][name] = rows["n_stores_open"].to_numpy()
    out["online"] = _pct(_trailing(market["revenue_online_eur"]), _trailing(market["revenue_eur"]))
    out["adopters"] = 100 * market["share_adopted_online"].to_numpy(dtype=float)
    out["vacancy"] = 100 * market["vacancy_rate"].to_numpy(dtype=float)
    out["vacancy_floor"] = 100 * market["vacancy_rate_floor"].to_numpy(dtype=float)
    out["no_store"] = 100 * market["share_no_store_nearby"].to_numpy(dtype=float)
    return out


@dataclass(frozen=True)
class Readout:
    """One figure on the page: what it is called there and how it is written."""

    key: str
    label: str
    unit: str  # "%" or "" (a count)
    help: str

    def text(self, value: float) -> str:
        if not np.isfinite(value):
            return "–"
        return f"{value:.1f} %" if self.unit == "%" else f"{value:.0f}"


RETAILER_READOUTS = (
    Readout("lost", "Lost", "%", "customers lost in the last 13 weeks, as % of its active customers 13 weeks ago"),
    Readout("margin", "Margin", "%", "operating margin over the last 13 weeks: profit after all costs, % of sales"),
    Readout("vouchers", "Vouchers", "%", "loyalty vouchers paid over the last 13 weeks, % of sales"),
    Readout("stores", "Stores", "", "stores open now"),
)
MARKET_READOUTS = (
    Readout("online", "Online share of sales", "%", "share of all sales made online over the last 13 weeks"),
    Readout("adopters", "Consumers who shop online", "%", "consumers who have taken up online shopping"),
    Readout("vacancy", "Sites vacant", "%", "sites with no store now"),
    Readout("no_store", "No store within reach", "%", "consumers with no open store within 2 km now"),
)
READOUTS = {r.key: r for r in (*RETAILER_READOUTS, *MARKET_READOUTS)}


def readouts(frame: pd.DataFrame, names: list[str]) -> dict[str, str]:
    """The page's readouts at the last week of ``frame``, written as the page writes them.

    Keys are ``"lost:Points"`` for a retailer's figure and ``"online"`` for the market's.
    """
    if frame.empty:
        return {}
    series = weekly_series(frame, names)
    out: dict[str, str] = {}
    for readout in RETAILER_READOUTS:
        for name in names:
            out[f"{readout.key}:{name}"] = readout.text(float(series[readout.key][name][-1]))
    for readout in MARKET_READOUTS:
        out[readout.key] = readout.text(float(series[readout.key][-1]))
    return out


# ---- the feed of what just happened -----------------------------------------------------------

def events(model, frame: pd.DataFrame) -> list[tuple[int, str]]:
    """What happened so far, oldest first, as (week, sentence): stores closed and opened, strategies
    changed (a copied programme), and the online share and vacancy passing round figures."""
    found: list[tuple[int, str]] = []
    names = model.retailer_names
    region = model.region
    for c in model.closures:
        where = f" in {region.town_names[region.site_town[c['site']]]}"
        reason = {"online_shift": "its web shop had grown", "loss_threshold": "it kept losing money",
                  "rationalise": "it was among the weakest"}.get(c["reason"], c["reason"])
        found.append((c["week"], f"{c['retailer']} closed a store{where} (site {c['site']}): {reason}"))
    for e in model.events:
        found.append((e["week"], f"{e['retailer']} {e['event']}"))
    if not frame.empty:
        series = weekly_series(frame, names)
        weeks = series["week"]
        for key, label, marks in (("online", "Online share of sales", ONLINE_MILESTONES),
                                  ("vacancy", "Vacancy", VACANCY_MILESTONES)):
            values = np.nan_to_num(series[key], nan=0.0)
            for mark in marks:
                passed = np.flatnonzero(values >= mark)
                if passed.size:
                    found.append((int(weeks[passed[0]]), f"{label} passed {mark} %"))
        strategy = frame[frame["retailer"] != ALL]
        for name in names:
            seq = strategy.loc[strategy["retailer"] == name, ["week", "strategy"]].to_numpy()
            for (_, before), (week, after) in itertools.pairwise(seq):
                if before != after:
                    found.append((int(week), f"{name} changed strategy: {before} → {after}"))
    return sorted(found, key=lambda item: item[0])


# ---- the guide's figures ----------------------------------------------------------------------

@functools.cache
def _measured(scenario_json: str, lesson_key: str) -> tuple[tuple[str, str], ...]:
    scenario = Scenario.model_validate_json(scenario_json)
    model = build_model(scenario, control_values(scenario, LESSONS_BY_KEY[lesson_key]))
    for _ in range(LESSON_WEEKS):
        model.step()
    return tuple(readouts(model.metrics.to_frame(), model.retailer_names).items())


def measured(scenario: Scenario, lesson_key: str) -> dict[str, str]:
    """The readouts the page shows at week LESSON_WEEKS of a lesson's preset (cached per scenario)."""
    return dict(_measured(scenario.model_dump_json(), lesson_key))


PLACEHOLDER = re.compile(r"\{\{(\w+) ([\w:]+)\}\}")


def render_guide(template: str, scenario: Scenario) -> str:
    """The template with each ``{{lesson readout}}`` (e.g. ``{{baseline lost:Points}}``) replaced by the
    readout the page shows at week LESSON_WEEKS of that lesson."""

    def figure(match: re.Match) -> str:
        lesson, key = match.groups()
        if lesson not in LESSONS_BY_KEY:
            raise KeyError(f"the guide names a lesson that does not exist: {lesson}")
        values = measured(scenario, lesson)
        if key not in values:
            raise KeyError(f"the guide names a readout the page does not show: {key}")
        return values[key]

    return PLACEHOLDER.sub(figure, template)


def guide_placeholders(template: str) -> list[tuple[str, str]]:
    """The (lesson, readout) pairs a guide template quotes."""
    return PLACEHOLDER.findall(template)
