"""The teaching app: controls from the schema, the diary, the panels, and the page in a real browser."""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from sim.model import RetailMarket
from sim.scenario import ScenarioError, load
from sim.viz import params

REPO = Path(__file__).resolve().parent.parent
CLASSROOM = REPO / "scenarios" / "classroom.toml"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_controls_default_to_the_scenario_and_stay_inside_the_schema():
    scenario = load(CLASSROOM)
    by_name = {c.name: c for c in params.controls(scenario)}
    values = {name: c.value(scenario) for name, c in by_name.items()}
    assert values["consumers_n"] == scenario.consumers.n
    assert values["q_imitation"] == scenario.adoption.q_imitation
    assert values["closure"] == scenario.stores.closure
    assert set(by_name["closure"].choices) == {"never", "loss_threshold", "rationalise", "online_shift"}
    for r in scenario.retailers:
        assert values[f"strategy_{r.name}"] == r.strategy
    loyalty = scenario.strategies.loyalty
    assert values["reward_rate_pct"] == pytest.approx(100 * loyalty.points_per_eur * loyalty.eur_per_point)
    for control in by_name.values():  # short labels: a long one squeezed the slider's track to nothing
        assert len(control.label) <= 24, control.label
    for control in params.controls(scenario):  # both ends of every slider make a valid scenario
        if control.kind == "Select":
            for choice in control.choices:
                scenario.with_overrides(params.overrides(scenario, {control.name: choice}))
        else:
            for value in (control.low, control.high):
                scenario.with_overrides(params.overrides(scenario, {control.name: value}))


def test_controls_map_back_to_the_scenario_and_unknown_ones_are_refused():
    scenario = load(CLASSROOM)
    changed = scenario.with_overrides(params.overrides(scenario, {"reward_rate_pct": 3.0, "learn_rate_store": 0.1,
                                                                  "strategy_Budget": "loyalty"}))
    assert changed.strategies.loyalty.points_per_eur * changed.strategies.loyalty.eur_per_point == pytest.approx(0.03)
    assert changed.strategies.learning.learn_rate_store == 0.1
    assert changed.strategies.learning.learn_rate_online > changed.strategies.learning.learn_rate_store
    assert changed.retailers[0].strategy == "loyalty"
    with pytest.raises(ValueError, match=r"unknown app parameter.*valid: consumers_n"):
        params.overrides(scenario, {"speed": 3})
    with pytest.raises(ScenarioError):
        scenario.with_overrides(params.overrides(scenario, {"q_imitation": -1.0}))


def _app_model(**controls):
    from sim.viz.market import ClassroomMarket

    return ClassroomMarket(base=load(CLASSROOM).with_overrides({"steps": 60}), **controls)


def test_the_diary_only_reads_the_model():
    app = _app_model()
    plain = RetailMarket(load(CLASSROOM).with_overrides({"steps": 60}))
    app.run()
    plain.run()
    a, b = app.metrics.to_frame(), plain.metrics.to_frame()
    assert a.equals(b)


def test_the_diary_tells_each_move_and_keeps_recent_flows():
    app = _app_model(consumers_n=1000)
    for _ in range(39):  # to the end of the third quarter, when the model books its quarter's flows
        app.step()
    diary = app.diary
    assert len(diary.ids) == 300
    moves = [v for i in diary.ids for v in diary.story(int(i)) if v.retailer is not None]
    switches = [v for v in moves if v.reason]
    assert switches, "in 40 weeks some sampled consumer must have moved"
    for v in switches:
        assert v.reason.startswith("left ") and f" for {v.retailer} " in v.reason
    for i in diary.ids:  # a week without a move carries no reason
        story = [v for v in diary.story(int(i)) if v.retailer is not None]
        for before, after in itertools.pairwise(story):
            assert (after.reason is None) == (after.retailer == before.retailer)
    flows = diary.flows()
    assert flows.shape == (len(app.retailers), len(app.retailers))
    assert (np.diag(flows) == 0).all() and flows.sum() > 0
    # the last 13 weeks are the model's third quarter: the same moves as the model booked for it
    names = app.retailer_names
    booked = np.zeros_like(flows)
    for record in app.flow_records:
        if record["week"] == 39 and record["from"] in names:
            booked[names.index(record["from"]), names.index(record["to"])] = record["n_purchases"]
    assert (flows == booked).all()
    for v in switches:  # possessives as English writes them
        assert "Knows's" not in v.reason


def test_panels_draw_and_change_from_week_to_week():
    from sim.viz import panels

    app = _app_model()
    for _ in range(5):
        app.step()
    first = [panels.map_png(app), panels.chart_png(app), panels.flows_png(app)]
    app.step()
    second = [panels.map_png(app), panels.chart_png(app), panels.flows_png(app)]
    for a, b in zip(first, second, strict=True):
        assert a[:8] == b"\x89PNG\r\n\x1a\n" and a != b


def test_app_command_refuses_a_bad_scenario(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("steps = -3\n")
    done = subprocess.run([sys.executable, "-m", "sim.cli", "app", str(bad)], capture_output=True, text=True)
    assert done.returncode == 2
    assert "steps" in done.stderr


# ---- the page in a browser -------------------------------------------------------------------

CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def app_server():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("RETAILSIM_REQUIRE_BROWSER"):
            pytest.fail(f"no Chromium at {CHROMIUM}; `make test` installs Debian's chromium")
        pytest.skip("no Chromium on this machine (`make test` installs it)")
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "sim.cli", "app", str(CLASSROOM), "--port", str(port)],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            pytest.fail(f"the app did not start: {server.communicate()[0][-2000:]}")
        time.sleep(0.3)
    yield url
    os.killpg(server.pid, 9)
    server.wait()


SHOTS = Path(os.environ.get("RETAILSIM_SCREENSHOTS", REPO / "runs" / "app_screenshots"))
VIEWPORTS = ({"width": 1024, "height": 768}, {"width": 1440, "height": 900})  # a projector's, a laptop's


def _readouts(page) -> dict[str, str]:
    return page.eval_on_selector_all("[data-readout]", "els => Object.fromEntries(els.map(e => "
                                                       "[e.dataset.readout, e.textContent.trim()]))")


def _check_layout(page, viewport) -> None:
    """Readable from the back of a class: nothing wider than the window, charts large, no badge over the page."""
    layout = page.evaluate("""() => {
        const chart = document.querySelector('.rs-charts img').getBoundingClientRect();
        const small = [...document.querySelectorAll('.rs-readouts td, .rs-market li, .rs-control-label')]
            .map(e => parseFloat(getComputedStyle(e).fontSize)).filter(size => size < 15);
        const badge = [...document.querySelectorAll('b')].some(b => b.textContent.includes('runs on Solara')
            && b.getBoundingClientRect().width > 0);
        const card = document.querySelector('.rs-figures').getBoundingClientRect();
        const table = document.querySelector('.rs-readouts').getBoundingClientRect();
        return {overflow: document.documentElement.scrollWidth - window.innerWidth, chart: chart.width,
                small: small.length, badge, readouts_spill: table.right - card.right};
    }""")
    assert layout["overflow"] <= 0 and layout["readouts_spill"] <= 0, (viewport, layout)
    assert layout["chart"] >= 560, (viewport, layout)  # the issue found them at 285 px, their text at 4-5 px
    assert layout["small"] == 0 and not layout["badge"], (viewport, layout)


@pytest.mark.browser
def test_the_page_in_a_browser_as_a_teacher_uses_it(app_server):
    """Every lesson preset run to its horizon at a projector's size, its readouts the guide's figures (both
    measured by sim.viz.lessons); a value typed into a control; Step; Use threads playing a year."""
    from playwright.sync_api import sync_playwright

    from sim.viz import lessons

    scenario = load(CLASSROOM)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport=VIEWPORTS[0])
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(app_server, wait_until="networkidle", timeout=90_000)
        page.get_by_role("button", name="Step").wait_for(timeout=90_000)
        assert page.title() == f"retailsim: {scenario.name} market"
        week = page.locator("[data-week]")

        def at_week(n: int, timeout: float = 60_000) -> None:
            page.wait_for_selector(f"[data-week='{n}']", timeout=timeout)

        for n in (1, 2):  # Step moves one week, whatever the speed
            page.get_by_role("button", name="Step").click()
            at_week(n)
        assert "year 1, week 2" in week.inner_text()

        # a value typed beside a slider is pending until Reset, then applied
        typed = page.locator(".rs-control-learn_rate_store input[type=text]")
        typed.fill("0.1")
        typed.press("Enter")
        page.get_by_text("changed: applies at Reset").wait_for(timeout=10_000)
        assert page.locator(".rs-control-learn_rate_store [role=slider]").get_attribute("aria-valuenow") == "0.1"
        page.get_by_role("button", name="Reset (apply 1 change)").click()
        at_week(0)
        page.get_by_text("this run: 2b. Fast learning").wait_for(timeout=10_000)  # the typed value is that preset's
        assert page.get_by_text("changed: applies at Reset").count() == 0

        # Use threads: a year of play with the model in its own thread
        pause = page.locator(".rs-pause input[type=text]")
        pause.fill("0")
        pause.press("Enter")
        threads = page.get_by_label("Use threads (the model plays on while the page draws)")
        page.get_by_text("Use threads (the model plays on while the page draws)").click()
        page.wait_for_function("el => el.checked", arg=threads.element_handle(), timeout=10_000)
        page.get_by_role("button", name="▶ Play").click()
        page.wait_for_function("() => +document.querySelector('[data-week]').dataset.week >= 52", timeout=120_000,
                               polling=200)
        page.get_by_role("button", name="❚❚ Pause").click()
        page.get_by_role("button", name="▶ Play").wait_for(timeout=30_000)
        assert page.locator(".v-alert.error, .error--text").count() == 0, "the threaded play stopped with an error"

        for k, lesson in enumerate(lessons.LESSONS):
            if k <= 1:  # the baseline plays without threads, the others with: both reach the same week 104
                page.get_by_text("Use threads (the model plays on while the page draws)").click()
                page.wait_for_function("([el, want]) => el.checked === want", arg=[threads.element_handle(), k == 1],
                                       timeout=10_000)
            page.locator(f".rs-lesson-{lesson.key}").click()
            at_week(0)
            page.get_by_text(f"this run: {lesson.title}").wait_for(timeout=10_000)
            page.get_by_role("button", name=f"Run to week {lessons.LESSON_WEEKS}").click()
            at_week(lessons.LESSON_WEEKS, timeout=180_000)
            page.get_by_text(f"Week {lessons.LESSON_WEEKS}: the end of the lesson").wait_for(timeout=30_000)
            assert _readouts(page) == lessons.measured(scenario, lesson.key), lesson.key
            for viewport in VIEWPORTS:
                page.set_viewport_size(viewport)
                page.wait_for_timeout(300)
                _check_layout(page, viewport)
                page.screenshot(path=str(SHOTS / f"{lesson.key}_{viewport['width']}x{viewport['height']}.png"))
                if viewport is VIEWPORTS[0]:  # at a projector's size the figures sit under the charts
                    page.locator(".rs-figures").scroll_into_view_if_needed()
                    page.screenshot(path=str(SHOTS / f"{lesson.key}_figures_1024x768.png"))
                    page.locator(".rs-header").scroll_into_view_if_needed()
            page.set_viewport_size(VIEWPORTS[0])

        # the scenario's end says so
        page.get_by_role("button", name="▶ Play").click()
        at_week(scenario.steps, timeout=180_000)
        page.get_by_text("The run has ended").wait_for(timeout=30_000)
        assert page.get_by_role("button", name="Step").is_disabled()
        page.locator(".rs-map").scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "end_map_1024x768.png"))
        with page.expect_download() as download:  # the weekly table and the charts, as files
            page.get_by_role("button", name="Weekly table (CSV)").click()
        table = download.value.path().read_text()
        assert table.startswith("week,retailer,strategy,") and f"\n{scenario.steps},all," in table
        with page.expect_download() as download:
            page.get_by_role("button", name="Charts (PNG)").click()
        assert download.value.path().read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert page.locator(".v-alert.error, .error--text").count() == 0
        assert not errors, errors
        browser.close()
    assert (SHOTS / "baseline_1024x768.png").stat().st_size > 50_000
