"""Time the teaching app as a class sees it: how long one step takes to show, and how long two years take to play.

    .venv/bin/python benchmarks/bench_app.py [--steps 20]

Starts `retailsim app scenarios/classroom.toml` on a free port, drives Debian's Chromium
with Playwright, and times (1) a click on Step until the page shows the new week, over
``--steps`` clicks, and (2) "Run to week 104" from a fresh model until the page shows week 104, at
the app's default pause between weeks.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    scenario = ROOT / "scenarios" / "classroom.toml"
    server = subprocess.Popen([sys.executable, "-m", "sim.cli", "app", str(scenario), "--port", str(port)],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(300):
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                time.sleep(0.3)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=FLAGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1300})
            started = time.perf_counter()
            page.goto(url, wait_until="networkidle", timeout=120_000)
            page.get_by_role("button", name="Step").wait_for(timeout=120_000)
            loaded = time.perf_counter() - started
            times = []
            for week in range(1, args.steps + 1):
                t0 = time.perf_counter()
                page.get_by_role("button", name="Step").click()
                page.wait_for_selector(f"[data-week='{week}']", timeout=60_000)
                times.append(time.perf_counter() - t0)
            page.get_by_role("button", name="Reset").click()
            page.wait_for_selector("[data-week='0']", timeout=60_000)
            t0 = time.perf_counter()
            page.get_by_role("button", name="Run to week 104").click()
            page.wait_for_selector("[data-week='104']", timeout=600_000)
            two_years = time.perf_counter() - t0
            browser.close()
    finally:
        os.killpg(server.pid, 9)
        server.wait()
    print(f"page loaded and ready: {loaded:.1f} s")
    from sim.scenario import load

    n_consumers = load(scenario).consumers.n
    print(f"one step, click to new week shown ({n_consumers:,} consumers, {args.steps} steps): "
          f"median {statistics.median(times):.2f} s, min {min(times):.2f} s, max {max(times):.2f} s")
    print(f"run to week 104 (two years of the model) at the default pause: {two_years:.0f} s")


if __name__ == "__main__":
    main()
