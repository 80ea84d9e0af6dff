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
    widgets = params.model_params(scenario)
    assert widgets["consumers_n"]["value"] == scenario.consumers.n
    assert widgets["q_imitation"]["value"] == scenario.adoption.q_imitation
    assert widgets["closure"]["value"] == scenario.stores.closure
    assert set(widgets["closure"]["values"]) == {"never", "loss_threshold", "rationalise", "online_shift"}
    for r in scenario.retailers:
        assert widgets[f"strategy_{r.name}"]["value"] == r.strategy
    loyalty = scenario.strategies.loyalty
    assert widgets["reward_rate_pct"]["value"] == pytest.approx(100 * loyalty.points_per_eur * loyalty.eur_per_point)
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
    assert flows.shape == (len(app.retailers) + 1, len(app.retailers))
    assert (np.diag(flows[1:]) == 0).all() and flows.sum() > 0
    # the last 13 weeks are the model's third quarter: the same moves as the model booked for it
    names = ["(none)", *app.retailer_names]
    booked = np.zeros_like(flows)
    for record in app.flow_records:
        if record["week"] == 39:
            booked[names.index(record["from"]), names.index(record["to"]) - 1] = record["n_purchases"]
    assert (flows == booked).all()


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


@pytest.mark.browser
def test_the_page_steps_the_model_and_its_charts_change(app_server):
    from playwright.sync_api import sync_playwright

    screenshot = REPO / "runs" / "app_screenshot.png"
    screenshot.parent.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1300})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(app_server, wait_until="networkidle", timeout=90_000)
        step = page.get_by_role("button", name="Step")
        step.wait_for(timeout=90_000)
        page.get_by_text("Time: 0.0", exact=True).wait_for()
        images = page.locator("img")
        images.nth(2).wait_for(timeout=60_000)  # the panels draw after the controls
        assert images.count() >= 3, "the map, the charts and the flows are images"
        before = [images.nth(i).get_attribute("src") for i in range(3)]
        for week in range(1, 4):
            step.click()
            page.get_by_text(f"Time: {week}.0", exact=True).wait_for(timeout=30_000)
        page.wait_for_function(
            "(before) => [...document.querySelectorAll('img')].slice(0, 3).every((im, i) => im.src !== before[i])",
            arg=before, timeout=30_000)
        page.get_by_text("Her story").wait_for()
        assert page.locator(".v-alert.error, .error--text").count() == 0
        assert page.get_by_text("error in step").count() == 0
        assert not errors, errors
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    assert screenshot.stat().st_size > 50_000
