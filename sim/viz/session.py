"""One browser tab's market: the model, the lock that guards it, and what the page shows of it.

The model may step in one thread while the page draws in another ("Use threads"). Every
read of the model for the page therefore happens under :attr:`Session.lock`, at once, and
yields a :class:`View`, a finished picture of one week (images, readouts, feed, story)
that the page shows without touching the model again. A week is never drawn half
written: the charts once read the weekly table while the next week was being appended.
"""

from __future__ import annotations

import gc
import html
import threading
from dataclasses import dataclass, field

import pandas as pd

from sim.scenario import Scenario
from sim.viz import lessons, panels
from sim.viz.lessons import LESSON_WEEKS, LESSONS


@dataclass(frozen=True)
class PreviousRun:
    """The run before the last Reset, kept to draw faded behind the new one."""

    label: str
    series: dict


@dataclass(frozen=True)
class View:
    """What the page shows of one week."""

    week: int
    horizon: int
    running: bool
    labels: list[str]  # "Budget (mass)" per retailer
    names: list[str]
    readouts: dict[str, str]
    events: list[tuple[int, str]]
    map_png: bytes
    charts_png: bytes
    flows_png: bytes
    story: dict = field(default_factory=dict)


def money(eur: float) -> str:
    """A small weekly amount readably: €3.98, not €4 or €0."""
    return f"€{eur:,.0f}" if eur >= 100 else f"€{eur:,.2f}"


def run_label(scenario: Scenario, values: dict) -> str:
    """The lesson whose preset these control values are, else 'your settings'."""
    for lesson in LESSONS:
        if lessons.control_values(scenario, lesson) == values:
            return lesson.title
    return "your settings"


class Session:
    """The model of one browser tab, rebuilt at each Reset from the controls then applied."""

    def __init__(self, scenario: Scenario):
        self.scenario = scenario
        self.lock = threading.RLock()
        self.applied = lessons.control_values(scenario)
        self.model = lessons.build_model(scenario, self.applied)
        self.model.previous_run = None

    def close(self) -> None:
        """Let the tab's market go when the tab's kernel closes. The page's callbacks and the model refer
        to one another, so without this the market (about 10 MB) waits for a full garbage collection,
        which an idle server may not run for hours."""
        with self.lock:
            self.model = None
        gc.collect()

    # ---- driving the model ----------------------------------------------------------------
    def reset(self, values: dict) -> None:
        """A new market from ``values``; the current run, if it has begun, becomes the faded comparison."""
        with self.lock:
            previous = self.model.previous_run
            if self.model.week > 0:
                previous = PreviousRun(f"{run_label(self.scenario, self.applied)} to week {self.model.week}",
                                       lessons.weekly_series(self.model.metrics.to_frame(),
                                                             self.model.retailer_names))
            self.applied = dict(values)
            self.model = lessons.build_model(self.scenario, self.applied)
            self.model.previous_run = previous

    def step(self) -> bool:
        """One week; False once the scenario's horizon is reached."""
        with self.lock:
            if self.closed:  # the tab closed while its play thread was stepping
                return False
            if self.model.running:
                self.model.step()
            return self.model.running

    @property
    def closed(self) -> bool:
        return self.model is None

    @property
    def week(self) -> int:
        return self.model.week

    def stop_week(self, to_lesson_end: bool) -> int:
        """Where a play stops: the lesson's end if asked and still ahead, else the scenario's horizon."""
        horizon = self.model.horizon
        if to_lesson_end and self.model.week < LESSON_WEEKS <= horizon:
            return LESSON_WEEKS
        return horizon

    # ---- what the page shows --------------------------------------------------------------
    def view(self, picked: int = 0) -> View:
        with self.lock:
            m = self.model
            frame = m.metrics.to_frame()
            names = m.retailer_names
            series = lessons.weekly_series(frame, names) if not frame.empty else None
            return View(
                week=m.week, horizon=m.horizon, running=m.running,
                labels=[panels.retailer_label(r) for r in m.retailers], names=names,
                readouts=lessons.readouts(frame, names),
                events=lessons.events(m, frame)[::-1],
                map_png=panels.map_png(m, picked),
                charts_png=panels.chart_png(m, series) if series is not None else panels.chart_png(m),
                flows_png=panels.flows_png(m),
                story=self._story(picked),
            )

    def table_csv(self) -> bytes:
        with self.lock:
            return self.model.metrics.to_frame().to_csv(index=False).encode()

    def charts_file_png(self) -> bytes:
        with self.lock:
            return panels.chart_export_png(self.model)

    def _story(self, position: int, weeks: int = 26) -> dict:
        m = self.model
        ids = m.diary.ids
        position = min(max(position, 0), len(ids) - 1)
        consumer = int(ids[position])
        pop = m.population
        online = "shops online too" if pop.adopted[consumer] else "has not taken up online shopping"
        moves = [v for v in m.diary.story(consumer) if v.reason]
        table = pd.DataFrame(
            [{"week": v.week, "retailer": v.retailer or "(did not shop)", "channel": v.channel or "",
              "why she moved": v.reason or ""} for v in m.diary.story(consumer, last=weeks)][::-1],
            columns=["week", "retailer", "channel", "why she moved"])
        head = (f"<p><b>Consumer {consumer}</b>: spends {money(float(pop.budget_eur[consumer]))} a week on this "
                f"kind of shopping, habit strength {pop.inertia[consumer]:.1f}, price sensitivity "
                f"{pop.price_sens[consumer]:.1f}; {online}.</p>")
        items = "".join(f"<li>week {v.week}: {html.escape(v.reason)}</li>" for v in moves[-6:])
        head += (f"<p><b>Her moves</b> (latest {min(len(moves), 6)} of {len(moves)}):</p><ul>{items}</ul>"
                 if moves else "<p>She has not left a retailer yet.</p>")
        return {"position": position, "n_sample": len(ids), "consumer": consumer, "head": head, "table": table}
