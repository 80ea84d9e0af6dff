"""The command line: outputs of a run, and bad input that writes nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from sim.cli import main

from .conftest import SCENARIOS

SUMMARY_KEYS = {"scenario", "seed", "version", "steps", "n_consumers", "runtime_s", "online_share",
                "vacancy_rate", "vacancy_rate_by_zone", "main_switching_rate", "retailers"}
RETAILER_KEYS = {"strategy", "revenue_share", "attrition_rate", "gross_margin", "operating_margin", "stores_open"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "classroom"
    code = main(["run", str(SCENARIOS / "classroom.toml"), "--seed", "3", "--steps", "60",
                 "--set", "consumers.n=800", "--out", str(out), "--quiet"])
    assert code == 0
    return out


def test_run_writes_the_output_contract(run_dir):
    names = {p.name for p in run_dir.iterdir()}
    assert {"metrics.parquet", "metrics.csv", "summary.json", "dashboard.png", "scenario.toml", "switching.csv",
            "flows.csv", "events.csv", "vacancy_by_town.csv", "vacancy_by_category.csv", "map.png"} <= names
    towns = pd.read_csv(run_dir / "vacancy_by_town.csv")
    assert set(towns["week"]) == {13, 26, 39, 52} and towns["vacancy_rate"].between(0, 1).all()
    trades = pd.read_csv(run_dir / "vacancy_by_category.csv")
    assert (trades.groupby("week")[["n_occupied", "n_vacant", "n_converted"]].sum().sum(axis=1)
            == towns.groupby("week")["n_sites"].sum()).all()  # every unit counted once, by trade as by town
    flows = pd.read_csv(run_dir / "flows.csv")
    assert (flows["n_purchases"] > 0).all() and (flows["from"] != flows["to"]).all()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert set(summary) >= SUMMARY_KEYS
    assert summary["seed"] == 3 and summary["steps"] == 60 and summary["n_consumers"] == 800
    assert set(summary["vacancy_rate_by_zone"]) == {"centre", "neighbourhood", "retail_park"}
    for r in summary["retailers"].values():
        assert set(r) >= RETAILER_KEYS
    frame = pd.read_parquet(run_dir / "metrics.parquet")
    assert len(frame) == 60 * (len(summary["retailers"]) + 1)
    csv = pd.read_csv(run_dir / "metrics.csv")
    assert list(csv.columns) == list(frame.columns)
    assert (run_dir / "dashboard.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_resolved_scenario_repeats_the_run(run_dir, tmp_path):
    again = tmp_path / "again"
    assert main(["run", str(run_dir / "scenario.toml"), "--seed", "3", "--out", str(again), "--quiet",
                 "--no-figure"]) == 0
    first = pd.read_parquet(run_dir / "metrics.parquet")
    second = pd.read_parquet(again / "metrics.parquet")
    pd.testing.assert_frame_equal(first, second)


BAD_SCENARIOS = {
    "malformed": ("[consumers\nn = 5\n", "not valid TOML"),
    "unknown_key": ("[consumers]\nnn = 5\n", "unknown key 'consumers.nn'"),
    "out_of_range": ("[consumers]\np_shop = 2.0\n", "consumers.p_shop"),
    "wrong_type": ("steps = \"many\"\n", "steps"),
}


@pytest.mark.parametrize("case", sorted(BAD_SCENARIOS))
def test_bad_scenario_exits_2_with_one_line_and_no_output(tmp_path, case):
    text, expected = BAD_SCENARIOS[case]
    path = tmp_path / f"{case}.toml"
    path.write_text(text)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "sim.cli", "run", str(path), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert expected in lines[0] and str(path) in lines[0]
    assert proc.stdout == ""
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no stray temporary folders


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "missing.toml"], "no such scenario file"),
        (["run", "--set", "consumers.n"], "expected dotted.key=value"),
        (["run", "--set", "consumers.n=-1"], "consumers.n"),
        (["run", "--seed", "-3"], "must be 0 or more"),
        (["run", "--bogus"], "unrecognized arguments"),
        (["validate", "missing.toml"], "no such scenario file"),
    ],
)
def test_bad_arguments_exit_2(tmp_path, args, expected):
    proc = subprocess.run([sys.executable, "-m", "sim.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert expected in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_failed_run_keeps_earlier_results(run_dir, tmp_path):
    before = (run_dir / "summary.json").read_bytes()
    bad = tmp_path / "bad.toml"
    bad.write_text("[consumers]\nn = 0\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(bad), "--out", str(run_dir)])
    assert exit_info.value.code == 2
    assert (run_dir / "summary.json").read_bytes() == before


def test_validate(capsys):
    assert main(["validate", str(SCENARIOS / "baseline.toml")]) == 0
    out = capsys.readouterr().out
    assert "ok:" in out and "enters administration with 1.2% a year" in out
    assert "drawn in proportion to their logit weights from every open store" in out
    assert main(["validate", str(SCENARIOS / "baseline.toml"), "--set", "choice.stores_scanned=32"]) == 0
    assert "32 nearest open stores of a trade only, a truncated draw" in capsys.readouterr().out
    assert main(["validate", str(SCENARIOS / "baseline.toml"), "--set", "stores.p_administration_year=0"]) == 0
    assert "administration" not in capsys.readouterr().out
    assert main(["validate", str(SCENARIOS / "exampleton.toml")]) == 0
    rows = [line for line in (SCENARIOS / "towns" / "exampleton_sites.csv").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    sites = len(rows) - 1  # less the header
    assert f"on {sites} sites" in capsys.readouterr().out  # a town's own sites, not the generator's count


def test_compare_reports_paired_differences(tmp_path):
    base = (SCENARIOS / "classroom.toml").read_text()
    a = tmp_path / "a.toml"
    a.write_text(base)
    b = tmp_path / "b.toml"  # a costlier world in which stores close
    b.write_text(base.replace('name = "classroom"', 'name = "costly"')
                 + '\n[stores]\nstaff_eur_m2_year = 2500.0\nloss_reviews = 1\nmin_age_weeks = 13\n')
    out = tmp_path / "cmp"
    assert main(["compare", str(a), str(b), "--replications", "3", "--steps", "40", "--set", "consumers.n=600",
                 "--workers", "1", "--out", str(out), "--quiet"]) == 0
    table = pd.read_csv(out / "differences.csv")
    vacancy = table[(table["metric"] == "vacancy_rate") & (table["scenario"] == "costly")].iloc[0]
    assert vacancy["diff"] > 0 and vacancy["diff_ci_low"] > 0
    assert {"runs.csv", "report.md", "figure.png"} <= {p.name for p in out.iterdir()}
    runs = pd.read_csv(out / "runs.csv")
    assert (runs.groupby("replication")["seed"].nunique() == 1).all()  # common random numbers


TINY_EXPERIMENT = '''
from experiments._common import bar_figure
from sim.experiment import Arm, Experiment


def measure(model):
    return {"n_consumers": float(model.population.n), "share_adopted": float(model.population.adopted.mean()),
            "intervened_at": float(getattr(model, "intervened_at", -1))}


def mark(model):
    model.intervened_at = model.week


EXPERIMENT = Experiment(
    name="tiny", title="Tiny", claim="A declared experiment runs under a changed base.",
    scenario="scenarios/classroom.toml", base_overrides={"steps": 6, "consumers.n": 300},
    arms=[Arm("as is", {}), Arm("more online", {"consumers.share_online_initial": 0.5})],
    measure=measure, outcomes={"n_consumers": "consumers (count)", "share_adopted": "share adopted online"},
    interventions={4: mark},
)


def figure(frame, path):
    bar_figure(frame, {"share_adopted": "share adopted online"}, path, "Tiny")
'''


def test_an_experiment_runs_under_a_changed_base_into_its_own_folder(tmp_path, monkeypatch):
    declared = tmp_path / "tiny.py"
    declared.write_text(TINY_EXPERIMENT)
    monkeypatch.chdir(tmp_path)
    args = ["experiment", str(declared), "--replications", "2", "--workers", "1", "--quiet"]
    assert main([*args, "--set", "consumers.n=400"]) == 0
    assert not (tmp_path / "runs" / "experiments" / "tiny").exists()  # the declared results stay untouched
    variant = tmp_path / "runs" / "experiments" / "tiny--consumers.n=400"
    runs = pd.read_csv(variant / "runs.csv")
    assert (runs["n_consumers"] == 400).all() and len(runs) == 4
    assert (runs["intervened_at"] == 4).all()  # after week 4's step, in every arm and replication
    assert "with steps = 6, consumers.n = 400" in (variant / "report.md").read_text()
    with pytest.raises(SystemExit):
        main([*args, "--set", "consumers.nn=400"])
    assert not (tmp_path / "runs" / "experiments" / "tiny--consumers.nn=400").exists()


def test_an_experiment_that_would_intervene_after_its_runs_end_fails_before_running(tmp_path, monkeypatch, capsys):
    declared = tmp_path / "tiny.py"
    declared.write_text(TINY_EXPERIMENT)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        main(["experiment", str(declared), "--replications", "2", "--workers", "1", "--set", "steps=3"])
    assert "steps must be at least 4" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
