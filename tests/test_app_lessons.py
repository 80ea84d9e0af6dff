"""The teaching app's lessons, readouts, feed, palette and threaded play, without a browser."""

from __future__ import annotations

import io
import itertools
import sys
import threading

import numpy as np
import pandas as pd
import pytest

from sim.scenario import load
from sim.viz import lessons, panels, params
from sim.viz.lessons import LESSON_WEEKS, WINDOW_WEEKS
from sim.viz.session import Session

from .test_app import CLASSROOM, REPO


@pytest.fixture(scope="module")
def scenario():
    return load(CLASSROOM)


def _measured(scenario, key):
    return {k: float(v.split()[0]) for k, v in lessons.measured(scenario, key).items()}


def test_readouts_are_the_charts_last_points(scenario):
    session = Session(scenario)
    for _ in range(30):
        session.step()
    view = session.view()
    frame = session.model.metrics.to_frame()
    series = lessons.weekly_series(frame, session.model.retailer_names)
    assert view.readouts["lost:Points"] == lessons.READOUTS["lost"].text(series["lost"]["Points"][-1])
    assert view.readouts["online"] == lessons.READOUTS["online"].text(series["online"][-1])
    _, parts = session.model._app_figures["charts"][:2]
    for name, line in zip(session.model.retailer_names, parts["lost"], strict=True):
        np.testing.assert_array_equal(line.get_ydata(), series["lost"][name])
    # a part-filled window would count a few weeks of losses against a quarter's customers
    assert np.isnan(series["lost"]["Points"][:WINDOW_WEEKS]).all()
    assert np.isfinite(series["lost"]["Points"][WINDOW_WEEKS:]).all()


def test_the_guide_names_only_lessons_and_readouts_the_page_has(scenario):
    template = (REPO / "docs" / "teaching_template.md").read_text()
    quoted = lessons.guide_placeholders(template)
    assert quoted, "the guide quotes the page's figures through placeholders"
    keys = set(lessons.readouts(Session(scenario).model.metrics.to_frame(), ["Budget", "Points", "Knows"]) or [])
    keys |= {f"{r.key}:{n}" for r in lessons.RETAILER_READOUTS for n in ("Budget", "Points", "Knows")}
    keys |= {r.key for r in lessons.MARKET_READOUTS}
    for lesson, key in quoted:
        assert lesson in lessons.LESSONS_BY_KEY, lesson
        assert key in keys, key


def test_the_guide_says_what_its_figures_show(scenario):
    """The directions the guide's sentences state, on the figures it quotes (re-measured after a model change)."""
    base, war = _measured(scenario, "baseline"), _measured(scenario, "loyalty_war")
    slow, fast = _measured(scenario, "no_learning"), _measured(scenario, "fast_learning")
    shock, closures = _measured(scenario, "online_shock"), _measured(scenario, "online_shock_closures")
    names = ("Budget", "Points", "Knows")
    assert base["lost:Points"] > max(base["lost:Budget"], base["lost:Knows"])  # Points loses fastest
    assert len({war[f"vouchers:{n}"] for n in names}) == 1  # every retailer pays the same share in vouchers
    assert all(war[f"margin:{n}"] < base[f"margin:{n}"] for n in ("Points", "Knows"))  # their margins fall
    assert war["lost:Budget"] < base["lost:Budget"]  # Budget holds its customers better
    assert war["lost:Points"] == max(war[f"lost:{n}"] for n in names)  # Points still loses the most
    assert war["lost:Knows"] > base["lost:Knows"]  # Knows loses more without learning
    assert slow["lost:Knows"] > max(slow["lost:Budget"], slow["lost:Points"])
    assert fast["lost:Knows"] < base["lost:Knows"] < slow["lost:Knows"]
    assert base["lost:Knows"] / fast["lost:Knows"] < 2  # far from five times better
    assert slow["margin:Knows"] < base["margin:Knows"] < fast["margin:Knows"]
    assert shock["online"] > base["online"] and shock["adopters"] > base["adopters"]
    # with the default policy the shock closes no store: the guide says so
    assert shock["stores:Budget"] == base["stores:Budget"] and shock["vacancy"] == base["vacancy"]
    assert closures["vacancy"] > shock["vacancy"] and closures["no_store"] > base["no_store"]


def test_a_lesson_preset_sets_its_controls_and_leaves_the_rest_at_the_scenario(scenario):
    war = lessons.control_values(scenario, lessons.LESSONS_BY_KEY["loyalty_war"])
    assert war["strategy_Budget"] == "loyalty" and war["reward_rate_pct"] == 3.0
    assert war["q_imitation"] == scenario.adoption.q_imitation
    assert lessons.changed_controls(scenario, lessons.control_values(scenario)) == {}
    for lesson in lessons.LESSONS:  # each preset is a valid scenario
        lessons.build_model(scenario, lessons.control_values(scenario, lesson))


def test_a_typed_value_is_brought_inside_the_slider(scenario):
    by_name = {c.name: c for c in params.controls(scenario)}
    assert params.snap(by_name["learn_rate_store"], 0.1) == pytest.approx(0.1)
    assert params.snap(by_name["learn_rate_store"], 0.1013) == pytest.approx(0.1)
    assert params.snap(by_name["learn_rate_store"], 7) == pytest.approx(0.2)
    assert params.snap(by_name["reward_rate_pct"], -1) == 0.0
    assert params.snap(by_name["consumers_n"], 1234) == 1200 and isinstance(params.snap(by_name["consumers_n"], 1234),
                                                                            int)


# ---- colours a colour-blind pupil can tell apart -----------------------------------------------

# Machado, Oliveira & Fernandes (2009), severity 1.0, on linear RGB
SIMULATIONS = {
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}


def _lab(hex_colour: str, simulate=None) -> np.ndarray:
    rgb = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    if simulate is not None:
        linear = np.clip(np.array(simulate) @ linear, 0, 1)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ linear
    f = np.cbrt(np.maximum(xyz / np.array([0.9505, 1.0, 1.089]), 0.008856))
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def test_retailers_colours_stay_apart_for_colour_blind_viewers():
    first = panels.PALETTE[:3]  # the classroom's three retailers
    for name, matrix in [("normal vision", None), *SIMULATIONS.items()]:
        for a, b in itertools.combinations(first, 2):
            distance = np.linalg.norm(_lab(a, matrix) - _lab(b, matrix))
            assert distance > 20, f"{a} and {b} are only ΔE {distance:.0f} apart under {name}"
    assert len(set(panels.LINESTYLES[:3])) == 3 and len(set(panels.MARKERS[:3])) == 3  # not by colour alone


# ---- the session: threads, the run's end, the previous run, exports, the feed -------------------

def test_the_model_can_play_in_one_thread_while_the_page_draws_in_another(scenario, monkeypatch):
    # switching threads every 10 µs makes a torn read near certain: without the session's lock this
    # fails at once with the error the page once showed (could not broadcast (38,) into (37,))
    monkeypatch.setattr(sys, "getswitchinterval", sys.getswitchinterval)
    previous_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    session = Session(scenario)
    failures: list[BaseException] = []
    done = threading.Event()
    # a lock is not fair: a player that steps in a tight loop can take it back before the page
    # ever gets it, so, like the page's timer, the player waits until the page has drawn once
    drawn = threading.Event()

    def play():
        try:
            for _ in range(26):
                session.step()
                drawn.wait(timeout=10)
                drawn.clear()
        except BaseException as exc:
            failures.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=play)
    thread.start()
    weeks_shown = []
    while not done.is_set():  # what the page does while the model plays: read every panel at once
        try:
            weeks_shown.append(session.view().week)
            drawn.set()
        except BaseException as exc:
            failures.append(exc)
            break
    thread.join()
    sys.setswitchinterval(previous_interval)
    assert not failures, failures
    assert session.week == 26 and len(weeks_shown) > 1 and weeks_shown == sorted(weeks_shown)


def test_a_run_stops_at_the_lesson_end_then_at_the_horizon(scenario):
    session = Session(scenario.with_overrides({"steps": LESSON_WEEKS + 4}))
    assert session.stop_week(to_lesson_end=True) == LESSON_WEEKS
    assert session.stop_week(to_lesson_end=False) == LESSON_WEEKS + 4
    for _ in range(LESSON_WEEKS):
        session.step()
    assert session.stop_week(to_lesson_end=True) == LESSON_WEEKS + 4
    while session.step():
        pass
    assert session.week == LESSON_WEEKS + 4 and not session.view().running


def test_reset_keeps_the_run_before_as_a_comparison_and_exports_work(scenario):
    session = Session(scenario)
    for _ in range(20):
        session.step()
    session.reset(lessons.control_values(scenario, lessons.LESSONS_BY_KEY["online_shock"]))
    previous = session.model.previous_run
    assert previous.label == "Baseline to week 20" and len(previous.series["week"]) == 20
    assert session.week == 0
    for _ in range(3):
        session.step()
    table = pd.read_csv(io.BytesIO(session.table_csv()))
    assert table["week"].max() == 3 and set(table["retailer"]) == {"Budget", "Points", "Knows", "all"}
    png = session.charts_file_png()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
    assert session.view().charts_png[:8] == b"\x89PNG\r\n\x1a\n"  # the live figure still draws after an export


def test_the_feed_reports_closures_and_the_online_share_passing_30_percent(scenario):
    model = lessons.build_model(scenario, lessons.control_values(scenario,
                                                                 lessons.LESSONS_BY_KEY["online_shock_closures"]))
    for _ in range(LESSON_WEEKS):
        model.step()
    found = lessons.events(model, model.metrics.to_frame())
    texts = [text for _, text in found]
    assert sum("closed a store" in t for t in texts) == len(model.closures) > 0
    assert "Online share of sales passed 30 %" in texts
    weeks = [week for week, _ in found]
    assert weeks == sorted(weeks)
    series = lessons.weekly_series(model.metrics.to_frame(), model.retailer_names)
    passed = next(w for w, t in found if t == "Online share of sales passed 30 %")
    assert series["online"][list(series["week"]).index(passed)] >= 30
