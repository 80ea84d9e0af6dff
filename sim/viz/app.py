"""The teaching app: ``retailsim app [SCENARIO] [--port P]`` serves this page with Solara.

A page of its own rather than mesa's SolaraViz, because a class needs what SolaraViz's
fixed controls cannot give: Step moving exactly one week, a run that stops at the
lesson's horizon and says so, controls whose values always show and can be typed and
that say when a change waits for Reset, one-click lesson presets, and the model read
only under a lock while it plays in a thread. The model is still mesa's
(:class:`~sim.viz.market.ClassroomMarket`). ``solara run sim/viz/app.py`` works too (the
scenario then comes from ``$RETAILSIM_APP_SCENARIO`` or is scenarios/classroom.toml).
"""

from __future__ import annotations

import html
import os
import threading
import time
import traceback

import solara
import solara.server.settings

from sim.viz import lessons, panels, params
from sim.viz.lessons import LESSON_WEEKS, LESSONS, MARKET_READOUTS, RETAILER_READOUTS
from sim.viz.market import app_scenario
from sim.viz.session import Session, View, run_label

# A tab closed without a goodbye (a dropped connection, a killed browser) leaves its market in memory
# until the kernel is culled: Solara's default keeps it a day, about 10 MB a tab. Ten minutes is long
# enough to come back after a network hiccup.
if "SOLARA_KERNEL_CULL_TIMEOUT" not in os.environ:
    solara.server.settings.kernel.cull_timeout = "10m"
solara.server.settings.theme.show_banner = False  # its corner badge covered the page's last lines
solara.server.settings.theme.title = "retailsim"

DEFAULT_PAUSE_MS = 100  # between weeks while playing: two years in well under a minute, slow enough to watch

CSS = """
html, body, .v-application { font-size: 17px; }
.v-application .retailsim-main { font-size: 17px; }
.rs-page { display: grid; grid-template-columns: minmax(290px, 330px) 1fr; gap: 14px; padding: 10px 14px; }
.rs-side { display: flex; flex-direction: column; gap: 10px; }
.rs-content { display: grid; grid-template-columns: minmax(0, 1.4fr) minmax(0, 1fr); gap: 14px;
              align-content: start; min-width: 0; }
.rs-card { background: white; border: 1px solid #ccc; border-radius: 6px; padding: 8px 12px; min-width: 0; }
.rs-card h3 { font-size: 19px; margin: 2px 0 6px 0; }
.rs-figure img { width: 100%; height: auto; display: block; }
.rs-header { display: flex; align-items: baseline; column-gap: 22px; padding: 6px 14px; background: #0b3d66;
             color: white; flex-wrap: wrap; }
.rs-header .rs-title { font-size: 21px; font-weight: 600; }
.rs-header .rs-week { font-size: 23px; font-weight: 700; color: #ffe08a; }
.rs-header .rs-sub { font-size: 15px; opacity: 0.9; }
.rs-status { font-size: 17px; padding: 6px 10px; border-radius: 4px; background: #fff4d6; border: 1px solid #e0b84c; }
.rs-status.ended { background: #fde2e1; border-color: #d0605c; }
.rs-control-label { font-size: 16px; font-weight: 600; display: flex; justify-content: space-between; gap: 6px; }
.rs-pending { color: #a04000; font-weight: 700; font-size: 14px; }
.rs-help { font-size: 13px; color: #444; margin-top: -6px; }
.rs-readouts { border-collapse: collapse; width: 100%; font-size: 18px; }
.rs-readouts th, .rs-readouts td { padding: 3px 5px; text-align: right; border-bottom: 1px solid #ddd;
                                   white-space: nowrap; }
.rs-readouts th:first-child, .rs-readouts td:first-child { text-align: left; white-space: normal; }
.rs-swatch { display: inline-block; width: 20px; height: 0; border-top-width: 4px; vertical-align: middle;
             margin-right: 6px; }
.rs-market { font-size: 18px; margin: 8px 0 0 0; padding: 0; list-style: none; }
.rs-market li { display: flex; justify-content: space-between; border-bottom: 1px solid #eee; padding: 2px 0; }
.rs-feed { font-size: 16px; margin: 0; padding-left: 18px; max-height: 230px; overflow-y: auto; }
.rs-story td, .rs-story th { padding: 1px 8px; text-align: left; font-size: 15px; }
.rs-info dt { font-weight: 700; margin-top: 6px; }
.rs-info dd { margin-left: 12px; }
.rs-buttons { display: flex; flex-wrap: wrap; gap: 6px; }
.rs-wide { grid-column: 1 / -1; }
.v-application--wrap div[style*="position: absolute"][style*="bottom: 0px"] { display: none !important; }
@media (max-width: 1100px) { .rs-content { grid-template-columns: 1fr; } }
"""

INFO = [
    ("Active customer", "someone who bought from the retailer at least once in the last 13 weeks."),
    ("Customers lost", "active customers who stopped buying: 13 weeks with no purchase. The chart and the "
                       "table show those lost in the last 13 weeks, as % of the active customers 13 weeks "
                       "before; the line starts once 13 weeks have been played."),
    ("Operating margin", "profit after every cost (goods, vouchers, rent, staff, IT, delivery), as % of sales, "
                         "over the last 13 weeks."),
    ("Vouchers", "what a loyalty card pays back, as % of sales. It is a cost to the retailer."),
    ("Strategies", "mass: one price for all, promotions, price cuts when it loses share; loyalty: points "
                   "turned into vouchers; learning: the retailer learns each customer's needs and fits its "
                   "offer, the better the longer she stays."),
    ("Online share of sales", "of all money spent, the share spent in web shops (last 13 weeks). The dotted "
                              "line: the consumers who shop online at all."),
    ("Vacancy", "sites with no store (solid) and the share of floor space that stands empty (dashed)."),
    ("No store within reach", "consumers with no open store within 2 km of home."),
    ("Flows", "purchases that moved from one retailer (row: where she bought last time) to another (column: "
              "where she bought now) over the last 13 weeks."),
    ("Faded lines", "the run before the last Reset, to compare with."),
    ("Habit", "how strongly a consumer sticks to where she bought last time."),
]


def week_text(week: int) -> str:
    if week == 0:
        return "Week 0 · the start"
    return f"Week {week} · year {(week - 1) // 52 + 1}, week {(week - 1) % 52 + 1}"


def status_text(view: View, playing: bool) -> tuple[str, str] | None:
    """A sentence saying where the run stands when it has stopped somewhere that matters."""
    if not view.running:
        return ("ended", f"The run has ended: week {view.horizon} is the last week of this scenario. "
                         "Press Reset to start again.")
    if view.week == LESSON_WEEKS and not playing:
        return ("lesson", f"Week {LESSON_WEEKS}: the end of the lesson's two years. Read the figures now; "
                          f"▶ plays on to week {view.horizon}, the end of the scenario.")
    return None


@solara.component
def ControlInput(control: params.Control, value, applied, on_value):
    pending = value != applied
    with solara.Column(classes=[f"rs-control-{control.name}"], gap="0px"):
        solara.HTML(tag="div", classes=["rs-control-label"], unsafe_innerHTML=(
            f"<span>{html.escape(control.label)}</span>"
            + ("<span class='rs-pending' title='press Reset to apply'>changed: applies at Reset</span>"
               if pending else "")))
        if control.kind == "Select":
            solara.Select(label="", values=list(control.choices), value=value, on_value=on_value)
        else:
            slider = solara.SliderInt if control.kind == "SliderInt" else solara.SliderFloat
            number = solara.InputInt if control.kind == "SliderInt" else solara.InputFloat
            with solara.Row(gap="8px", style={"align-items": "center"}):
                with solara.Column(style={"flex": "1 1 auto", "min-width": "120px"}):
                    slider(label="", value=value, min=control.low, max=control.high, step=control.step,
                           on_value=on_value, thumb_label=False)
                with solara.Column(style={"flex": "0 0 92px"}):
                    number(label="", value=value, dense=True, continuous_update=False,
                           on_value=lambda typed: on_value(params.snap(control, typed)) if typed is not None
                           else None)
        solara.HTML(tag="div", classes=["rs-help"], unsafe_innerHTML=html.escape(control.help))


def readouts_html(view: View) -> str:
    head = "".join(f"<th title='{html.escape(r.help)}'>{html.escape(r.label)}</th>" for r in RETAILER_READOUTS)
    rows = ""
    for i, (name, label) in enumerate(zip(view.names, view.labels, strict=True)):
        swatch = (f"<span class='rs-swatch' style='border-top: 4px {_css_style(panels.linestyle(i))} "
                  f"{panels.colour(i)}'></span>")
        cells = "".join(f"<td data-readout='{r.key}:{html.escape(name)}'>"
                        f"{html.escape(view.readouts.get(f'{r.key}:{name}', '–'))}</td>" for r in RETAILER_READOUTS)
        rows += f"<tr><td>{swatch}{html.escape(label)}</td>{cells}</tr>"
    market = "".join(f"<li title='{html.escape(r.help)}'><span>{html.escape(r.label)}</span>"
                     f"<b data-readout='{r.key}'>{html.escape(view.readouts.get(r.key, '–'))}</b></li>"
                     for r in MARKET_READOUTS)
    return (f"<table class='rs-readouts'><tr><th>Retailer</th>{head}</tr>{rows}</table>"
            f"<ul class='rs-market'>{market}</ul>")


def _css_style(mpl_style: str) -> str:
    return {"-": "solid", "--": "dashed", "-.": "dashed", ":": "dotted"}[mpl_style]


def feed_html(view: View, shown: int = 10) -> str:
    if not view.events:
        return "<p>Nothing yet: stores open, no milestone passed.</p>"
    items = "".join(f"<li><b>week {week}</b>: {html.escape(text)}</li>" for week, text in view.events[:shown])
    return f"<ul class='rs-feed'>{items}</ul>"


def info_html() -> str:
    terms = "".join(f"<dt>{html.escape(term)}</dt><dd>{html.escape(text)}</dd>" for term, text in INFO)
    return (f"<details class='rs-info'><summary><b>What the charts and words mean</b></summary>"
            f"<dl>{terms}</dl></details>")


def story_html(story: dict) -> str:
    table = story["table"]
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in table.itertuples(index=False))
    return (story["head"] + "<table class='rs-story'><tr>" + "".join(f"<th>{c}</th>" for c in table.columns)
            + "</tr>" + rows + "</table>")


@solara.component
def Card(title: str, children=(), classes=()):
    heading = solara.HTML(tag="h3", unsafe_innerHTML=html.escape(title))
    return solara.Column(classes=["rs-card", *classes], gap="4px", children=[heading, *children])


@solara.component
def Page():
    scenario = solara.use_memo(app_scenario, [])
    session: Session = solara.use_memo(lambda: Session(scenario), [])
    solara.use_effect(lambda: session.close, [])  # the cleanup runs when the tab's kernel closes
    controls = solara.use_memo(lambda: params.controls(scenario), [])
    values = solara.use_reactive(dict(session.applied))
    applied = solara.use_reactive(dict(session.applied))
    picked = solara.use_reactive(0)
    first_view = solara.use_memo(lambda: session.view(0), [])
    view = solara.use_reactive(first_view)
    playing = solara.use_reactive(False)
    to_lesson_end = solara.use_reactive(False)
    threaded = solara.use_reactive(False)
    pause_ms = solara.use_reactive(DEFAULT_PAUSE_MS)
    error = solara.use_reactive(None)
    wake = solara.use_memo(threading.Event, [])
    draw_lock = solara.use_memo(threading.Lock, [])

    def refresh():
        with draw_lock:  # the newest week wins: two threads may draw at the end of a threaded play
            view.set(session.view(picked.value))

    def play(cancel: threading.Event):
        if not playing.value:
            return
        stop = session.stop_week(to_lesson_end.value)
        try:
            while not cancel.is_set():
                time.sleep(pause_ms.value / 1000)
                if cancel.is_set():
                    break
                running = session.step()
                if threaded.value:
                    wake.set()  # the drawing thread shows the latest week when it can; the model does not wait
                else:
                    refresh()
                if not running or session.week >= stop:
                    break
        except Exception as exc:  # shown on the page, not as a traceback in place of it
            traceback.print_exc()
            error.set(f"The model stopped at week {session.week}: {exc}")
        if not cancel.is_set() and not session.closed:
            refresh()
            playing.set(False)

    def draw(cancel: threading.Event):
        if not (playing.value and threaded.value):
            return
        while not cancel.is_set():
            if wake.wait(0.25):
                wake.clear()
                refresh()

    solara.use_thread(play, dependencies=[playing.value, threaded.value], intrusive_cancel=False)
    solara.use_thread(draw, dependencies=[playing.value, threaded.value], intrusive_cancel=False)

    def set_value(name, value):
        values.set({**values.value, name: value})

    def apply(new_values: dict):
        playing.set(False)
        error.set(None)
        session.reset(new_values)
        applied.set(dict(new_values))
        values.set(dict(new_values))
        refresh()

    def do_step():
        if not playing.value:
            session.step()
            refresh()

    def do_play():
        to_lesson_end.set(False)
        playing.set(not playing.value)

    def do_run_to_lesson_end():
        to_lesson_end.set(True)
        playing.set(True)

    def pick(position: int):
        picked.set(position)
        refresh()

    current = view.value
    n_pending = sum(values.value[c.name] != applied.value[c.name] for c in controls)
    solara.Title(f"retailsim: {scenario.name} market")
    solara.Style(CSS)
    with solara.Column(gap="0px", classes=["retailsim-main"]):
        solara.HTML(tag="div", classes=["rs-header"], unsafe_innerHTML=(
            f"<span class='rs-title'>retailsim: a {html.escape(scenario.name)} market</span>"
            f"<span class='rs-week' data-week='{current.week}'>{week_text(current.week)}</span>"
            f"<span class='rs-sub'>of {current.horizon} weeks · lesson ends at week {LESSON_WEEKS} · "
            f"this run: {html.escape(run_label(scenario, applied.value))}</span>"))
        with solara.Div(classes=["rs-page"]):
            with solara.Div(classes=["rs-side"]):
                with Card("Run"):
                    with solara.Div(classes=["rs-buttons"]):
                        solara.Button(f"Reset (apply {n_pending} change{'s' if n_pending != 1 else ''})"
                                      if n_pending else "Reset", color="warning" if n_pending else "primary",
                                      on_click=lambda: apply(values.value))
                        solara.Button("❚❚ Pause" if playing.value else "▶ Play", color="primary",
                                      on_click=do_play, disabled=not current.running)
                        solara.Button("Step", color="primary", on_click=do_step,
                                      disabled=playing.value or not current.running)
                        solara.Button(f"Run to week {LESSON_WEEKS}", color="primary", on_click=do_run_to_lesson_end,
                                      disabled=playing.value or not current.running
                                      or current.week >= LESSON_WEEKS)
                    with solara.Row(gap="8px", style={"align-items": "center"}, classes=["rs-pause"]):
                        with solara.Column(style={"flex": "1 1 auto"}):
                            solara.SliderInt("Pause between weeks (ms)", value=pause_ms, min=0, max=1000, step=50,
                                             thumb_label=False)
                        with solara.Column(style={"flex": "0 0 72px"}):
                            solara.InputInt("", value=pause_ms.value, dense=True, continuous_update=False,
                                            on_value=lambda ms: pause_ms.set(min(max(int(ms), 0), 1000))
                                            if ms is not None else None)
                    solara.Checkbox(label="Use threads (the model plays on while the page draws)", value=threaded)
                    status = status_text(current, playing.value)
                    if status:
                        solara.HTML(tag="div", classes=["rs-status", status[0]], unsafe_innerHTML=status[1])
                    if error.value:
                        solara.Error(error.value)
                with Card("Lessons (one click: set and reset)"), solara.Div(classes=["rs-buttons"]):
                    for lesson in LESSONS:
                        solara.Button(lesson.title, outlined=True, small=True,
                                      on_click=lambda lesson=lesson: apply(
                                          lessons.control_values(scenario, lesson)),
                                      classes=[f"rs-lesson-{lesson.key}"])
                with Card("Settings"):
                    for control in controls:
                        ControlInput(control, values.value[control.name], applied.value[control.name],
                                     lambda value, name=control.name: set_value(name, value))
                with Card("Export"), solara.Div(classes=["rs-buttons"]):
                    solara.FileDownload(session.table_csv, filename=f"retailsim_week{current.week}.csv",
                                        label="Weekly table (CSV)", mime_type="text/csv")
                    solara.FileDownload(session.charts_file_png,
                                        filename=f"retailsim_charts_week{current.week}.png",
                                        label="Charts (PNG)", mime_type="image/png")
            with solara.Div(classes=["rs-content"]):
                with Card("Charts", classes=["rs-figure", "rs-charts"]):
                    solara.Image(current.charts_png, format="png")
                with solara.Column(gap="14px", style={"min-width": "0"}):
                    with Card(f"Figures at week {current.week} (the last 13 weeks)", classes=["rs-figures"]):
                        solara.HTML(tag="div", unsafe_innerHTML=readouts_html(current))
                        solara.HTML(tag="div", unsafe_innerHTML=info_html())
                    with Card("What just happened", classes=["rs-events"]):
                        solara.HTML(tag="div", unsafe_innerHTML=feed_html(current))
                with Card("Map", classes=["rs-figure", "rs-map"]):
                    solara.Image(current.map_png, format="png")
                with Card("Flows between retailers", classes=["rs-figure", "rs-flows"]):
                    solara.Image(current.flows_png, format="png")
                with Card("Her story", classes=["rs-story-card"]):
                    story = current.story
                    solara.SliderInt(f"Consumer (one of the {story['n_sample']} on the map, ringed)",
                                     value=story["position"], on_value=pick, min=0, max=story["n_sample"] - 1,
                                     thumb_label="always")
                    solara.InputInt("or type her number in the sample", value=story["position"], dense=True,
                                    continuous_update=False,
                                    on_value=lambda p: pick(min(max(int(p), 0), story["n_sample"] - 1))
                                    if p is not None else None)
                    solara.HTML(tag="div", unsafe_innerHTML=story_html(story))
