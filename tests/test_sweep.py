"""Sweeps: same results whatever the backend, resumable after kill -9, clear errors, sensitivity."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import sweep as sw
from sim.sweep_analysis import write_results

REPO = Path(__file__).resolve().parent.parent
CLASSROOM = REPO / "scenarios" / "classroom.toml"


def _write_spec(path: Path, body: str) -> Path:
    path.write_text(f'scenario = "{CLASSROOM}"\n' + body)
    return path


def _run(spec: sw.Sweep, out: Path, **kwargs) -> sw.SweepResult:
    result = sw.execute_runs(spec, out, **kwargs)
    write_results(spec, out, sw.gather(spec, out))
    return result


def test_runs_parquet_identical_from_one_worker_two_workers_and_dask(tmp_path):
    from distributed import LocalCluster

    spec = sw.load_sweep(REPO / "experiments" / "smoke.toml")
    _run(spec, tmp_path / "w1", workers=1)
    _run(spec, tmp_path / "w2", workers=2)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        _run(spec, tmp_path / "dask", scheduler=cluster.scheduler_address)
    reference = (tmp_path / "w1" / "runs.parquet").read_bytes()
    assert (tmp_path / "w2" / "runs.parquet").read_bytes() == reference
    assert (tmp_path / "dask" / "runs.parquet").read_bytes() == reference
    frame = pd.read_parquet(tmp_path / "w1" / "runs.parquet")
    assert len(frame) == 8 and frame["key"].is_unique
    assert frame[["attrition_rate", "online_share", "vacancy_rate"]].notna().all().all()
    assert frame[["attrition_rate", "online_share", "vacancy_rate"]].apply(lambda c: c.between(0, 1)).all().all()


def test_seeds_come_from_the_master_seed_and_the_run_key(tmp_path):
    spec = sw.load_sweep(REPO / "experiments" / "smoke.toml")
    tasks = sw.plan(spec)
    by_rep: dict[int, set[int]] = {}
    for task in tasks:
        by_rep.setdefault(task.replication, set()).add(task.seed)
    # common random numbers: one seed per replication, shared by every design point
    assert all(len(seeds) == 1 for seeds in by_rep.values())
    assert len({next(iter(s)) for s in by_rep.values()}) == spec.spec.replications
    assert [t.seed for t in sw.plan(spec)] == [t.seed for t in tasks]
    independent = _write_spec(tmp_path / "ind.toml", """
master_seed = 5
replications = 2
common_random_numbers = false
outputs = ["online_share"]
[factors]
"adoption.q_imitation" = [0.1, 0.5]
""")
    seeds = [t.seed for t in sw.plan(sw.load_sweep(independent))]
    assert len(set(seeds)) == len(seeds)


def test_existing_runs_are_skipped_and_kept(tmp_path):
    spec = sw.load_sweep(REPO / "experiments" / "smoke.toml")
    out = tmp_path / "out"
    first = _run(spec, out, workers=1)
    assert (first.n_skipped, first.n_executed) == (0, 8)
    before = {p.name: p.stat().st_mtime_ns for p in sw.finished_run_files(out / "runs")}
    again = _run(spec, out, workers=1)
    assert (again.n_skipped, again.n_executed) == (8, 0)
    assert {p.name: p.stat().st_mtime_ns for p in sw.finished_run_files(out / "runs")} == before


def test_kill_9_mid_sweep_loses_no_finished_run(tmp_path):
    spec_path = _write_spec(tmp_path / "killme.toml", """
master_seed = 11
replications = 8
outputs = ["online_share", "attrition_rate"]
[base]
steps = 60
"consumers.n" = 400
[factors]
"adoption.q_imitation" = [0.1, 0.5]
""")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "sim.cli", "sweep", str(spec_path), "--out", str(out), "--workers", "2", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(sw.finished_run_files(out / "runs")) < 3:
        assert proc.poll() is None, f"sweep ended before it could be killed: {proc.communicate()}"
        assert time.monotonic() < deadline, "no run finished within two minutes"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    survivors = {p.name: p.stat().st_mtime_ns for p in sw.finished_run_files(out / "runs")}
    assert 3 <= len(survivors) < 16
    for path in sw.finished_run_files(out / "runs"):  # every kept file is a whole record
        assert json.loads(path.read_text())["outputs"]["online_share"] is not None
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True)
    assert f"{len(survivors)} runs already done, {16 - len(survivors)} executed, 0 failed" in done.stdout
    kept = {p.name: p.stat().st_mtime_ns for p in sw.finished_run_files(out / "runs") if p.name in survivors}
    assert kept == survivors
    assert len(pd.read_parquet(out / "runs.parquet")) == 16
    assert not list((out / "runs").glob(".*"))


def test_morris_ranks_an_active_factor_above_an_inert_one(tmp_path):
    spec_path = _write_spec(tmp_path / "morris.toml", """
master_seed = 3
outputs = ["online_share"]
[base]
steps = 60
"consumers.n" = 400
"strategies.loyalty.copy_probability" = 0.0
[factors]
"choice.online_friction_mean" = { low = -1.0, high = 2.0 }
"strategies.loyalty.copy_lag_weeks" = { low = 1, high = 52, integer = true }
[design]
method = "morris"
trajectories = 4
""")
    spec = sw.load_sweep(spec_path)
    _run(spec, tmp_path / "out", workers=1)
    indices = pd.read_csv(tmp_path / "out" / "sensitivity.csv").set_index("factor")
    # without copying, the copy lag cannot matter: its effect is exactly nil on common seeds
    assert indices.loc["strategies.loyalty.copy_lag_weeks", "mu_star"] == 0
    assert indices.loc["choice.online_friction_mean", "mu_star"] > 0.01
    assert (tmp_path / "out" / "morris.png").stat().st_size > 10_000


def test_sobol_indices_are_written_with_confidence(tmp_path):
    spec_path = _write_spec(tmp_path / "sobol.toml", """
master_seed = 3
outputs = ["online_share"]
[base]
steps = 30
"consumers.n" = 200
[factors]
"choice.online_friction_mean" = { low = -1.0, high = 2.0 }
"adoption.q_imitation" = { low = 0.1, high = 1.0 }
[design]
method = "sobol"
samples = 8
""")
    spec = sw.load_sweep(spec_path)
    assert len(sw.plan(spec)) == 8 * (2 + 2)
    _run(spec, tmp_path / "out", workers=2)
    indices = pd.read_csv(tmp_path / "out" / "sensitivity.csv")
    assert set(indices["factor"]) == {"choice.online_friction_mean", "adoption.q_imitation"}
    assert np.isfinite(indices[["S1", "ST", "S1_conf", "ST_conf"]].to_numpy()).all()


@pytest.mark.parametrize(("body", "message"), [
    ('master_seed = 1\noutputs = ["online_share"]\nreplicates = 3\n[factors]\n"adoption.q_imitation" = [0.1]\n',
     "unknown key 'replicates'; valid keys: base, calibration, common_random_numbers"),
    ('master_seed = 1\noutputs = ["profit"]\n[factors]\n"adoption.q_imitation" = [0.1]\n',
     "outputs: unknown 'profit'; valid outputs: online_share"),
    ('master_seed = 1\noutputs = ["online_share"]\n[factors]\n"adoption.q_imitaton" = [0.1]\n',
     "unknown key 'adoption.q_imitaton'; valid keys here: p_innovation, q_imitation"),
    ('master_seed = 1\noutputs = ["online_share"]\n[factors]\n"adoption.q_imitation" = [0.1, -2]\n',
     "adoption.q_imitation"),
    ('master_seed = 1\noutputs = ["online_share"]\n[factors]\n"adoption.q_imitation" = [0.1, 0.2]\n'
     '[design]\nmethod = "morris"\n', "the morris design samples ranges"),
    ('master_seed = 1\noutputs = ["online_share"]\n[factors]\n"adoption.q_imitation" = { low = 0.5, high = 0.1 }\n'
     '[design]\nmethod = "lhs"\n', "low (0.5) must be below high (0.1)"),
])
def test_bad_experiment_files_say_what_and_where(tmp_path, body, message):
    path = _write_spec(tmp_path / "bad.toml", body)
    with pytest.raises(sw.SweepError) as err:
        sw.load_sweep(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_a_folder_of_another_sweep_is_refused_and_left_alone(tmp_path):
    spec = sw.load_sweep(REPO / "experiments" / "smoke.toml")
    out = tmp_path / "out"
    _run(spec, out, workers=2)
    before = sorted((p.name, p.read_bytes()) for p in out.rglob("*") if p.is_file())
    other = _write_spec(tmp_path / "other.toml", """
master_seed = 2
outputs = ["online_share"]
[base]
steps = 20
[factors]
"adoption.q_imitation" = [0.1]
""")
    with pytest.raises(sw.SweepError, match="holds runs of another sweep"):
        sw.execute_runs(sw.load_sweep(other), out)
    assert sorted((p.name, p.read_bytes()) for p in out.rglob("*") if p.is_file()) == before


def test_cli_sweep_reports_bad_input_in_one_line(tmp_path):
    from sim.cli import main

    path = _write_spec(tmp_path / "bad.toml", 'master_seed = 1\noutputs = ["x"]\n[factors]\n"steps" = [10]\n')
    with pytest.raises(SystemExit) as exc:
        main(["sweep", str(path), "--out", str(tmp_path / "out")])
    assert exc.value.code == 2
    assert not (tmp_path / "out").exists()


def _calibration_spec(tmp_path: Path, name: str, share_pct: float) -> Path:
    (tmp_path / f"{name}.csv").write_text(f"# a made-up series\nyear,pct\n2001,{share_pct}\n2002,{share_pct}\n"
                                          "2003,99\n")
    return _write_spec(tmp_path / f"{name}.toml", f"""
master_seed = 9
outputs = ["online_share_by_year"]
[base]
steps = 156
"consumers.n" = 300
[factors]
"choice.online_friction_mean" = {{ low = -2.0, high = 4.0 }}
"consumers.share_online_initial" = {{ low = 0.05, high = 0.6 }}
[design]
method = "lhs"
samples = 12
[calibration]
data = "{name}.csv"
value_column = "pct"
value_scale = 0.01
first_year = 2001
fit_years = [2001, 2003]
exclude_years = [2003]
accept_share = 0.25
check_replications = 2
""")


def test_calibration_follows_the_data_and_writes_a_loadable_scenario(tmp_path):
    from sim.calibrate import distance, write_calibration
    from sim.scenario import load

    found = {}
    for name, share in (("low", 3.0), ("high", 40.0)):
        spec = sw.load_sweep(_calibration_spec(tmp_path, name, share))
        out = tmp_path / f"out-{name}"
        _run(spec, out, workers=2)
        found[name] = write_calibration(spec, out, sw.gather(spec, out), workers=2,
                                        scenario_path=tmp_path / f"{name}-calibrated.toml")
        points = pd.read_csv(out / "points.csv", index_col=0)
        assert points["accepted"].sum() == 3
        assert points.loc[points["accepted"], "distance_pp"].max() <= points.loc[~points["accepted"],
                                                                                "distance_pp"].min()
        scenario = load(tmp_path / f"{name}-calibrated.toml")
        assert scenario.choice.online_friction_mean == found[name]["values"]["choice.online_friction_mean"]
        perfect = pd.DataFrame({"online_share_y1": [share / 100], "online_share_y2": [share / 100],
                                "online_share_y3": [0.5]})
        assert distance(spec, perfect).iloc[0] == pytest.approx(0.0)  # year 3 is excluded
    # more online sales observed -> less friction and more early adopters
    high, low = found["high"]["values"], found["low"]["values"]
    assert high["choice.online_friction_mean"] < low["choice.online_friction_mean"]
    assert high["consumers.share_online_initial"] > low["consumers.share_online_initial"]


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace('value_column = "pct"', 'value_column = "share"'), "no column 'share'"),
    (lambda t: t.replace("fit_years = [2001, 2003]", "fit_years = [2001, 2004]").replace("steps = 156", "steps = 208"),
     "no value for fitted year(s) 2004"),
    (lambda t: t.replace('method = "lhs"', 'method = "full_factorial"')
     .replace('{ low = -2.0, high = 4.0 }', '[-2.0, 4.0]').replace('{ low = 0.05, high = 0.6 }', '[0.1, 0.5]'),
     "needs a sampling design"),
])
def test_a_calibration_that_cannot_work_is_refused_before_any_run(tmp_path, edit, message):
    path = _calibration_spec(tmp_path, "bad", 5.0)
    path.write_text(edit(path.read_text()))
    with pytest.raises(sw.SweepError, match=re.escape(message)):
        sw.load_sweep(path)


def test_a_list_as_a_level_is_refused(tmp_path):
    path = _write_spec(tmp_path / "zones.toml", 'master_seed = 1\noutputs = ["online_share"]\n[factors]\n'
                       '"retailers.Budget.zones" = [["centre"], ["centre", "neighbourhood"]]\n')
    with pytest.raises(sw.SweepError, match="each level must be a single number"):
        sw.load_sweep(path)


def test_a_write_in_progress_is_not_a_finished_run(tmp_path):
    (tmp_path / "p0-r1.json").write_text("{}\n")
    (tmp_path / ".p0-r2.tmp4242.json").write_text("{}\n")  # a record being written, not yet moved into place
    assert [p.name for p in sw.finished_run_files(tmp_path)] == ["p0-r1.json"]


# ---- targets: design points ranked against published ranges ---------------------------------------

BASELINE = REPO / "scenarios" / "baseline.toml"


def _flows_spec(tmp_path: Path, targets: str) -> sw.Sweep:
    path = tmp_path / "flows.toml"
    path.write_text(f'scenario = "{BASELINE}"\n' + """
master_seed = 3
outputs = ["openings_independent", "closures_independent"]
[base]
steps = 60
spinup_weeks = 0
"consumers.n" = 1500
"consumers.households_per_agent" = 30.0
"region.n_sites" = 450
"independents.pool_size" = 150
[factors]
"independents.arrivals_per_100_units_year" = [0.0, 60.0]
[targets]
""" + targets)
    return sw.load_sweep(path)


def test_targets_rank_the_point_whose_flows_fall_in_the_range_first(tmp_path):
    # with no would-be businesses no independent opens; with many some do: a range of many openings puts the
    # point with arrivals first, a range at none the point without
    many = _flows_spec(tmp_path, 'openings_independent = { low = 0.02, high = 5.0, source = "a test" }\n')
    _run(many, tmp_path / "out", workers=1)
    runs = pd.read_parquet(tmp_path / "out" / "runs.parquet")
    by_arrivals = runs.set_index("independents.arrivals_per_100_units_year")["openings_independent"]
    assert by_arrivals[0.0] == 0.0 and by_arrivals[60.0] > 0.02
    fit = pd.read_csv(tmp_path / "out" / "targets.csv")
    assert fit["independents.arrivals_per_100_units_year"].tolist() == [60.0, 0.0]
    assert fit["n_within"].tolist() == [1, 0]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "Nearest: `independents.arrivals_per_100_units_year` = 60, within 1 of 1 ranges." in report
    none = _flows_spec(tmp_path, 'openings_independent = { low = -0.01, high = 0.01, source = "a test" }\n')
    # the same runs, analysed against other targets: targets do not change the sweep's identity
    assert none.fingerprint() == many.fingerprint()
    write_results(none, tmp_path / "out", sw.gather(none, tmp_path / "out"))
    fit = pd.read_csv(tmp_path / "out" / "targets.csv")
    assert fit["independents.arrivals_per_100_units_year"].tolist() == [0.0, 60.0]
    assert fit["openings_independent_z"].iloc[0] == 0.0


def test_target_distances_are_in_half_widths_of_the_range():
    from sim.sweep_analysis import target_fit

    spec = sw.SweepSpec.model_validate({
        "scenario": str(CLASSROOM), "master_seed": 1, "outputs": ["a", "b"], "factors": {"x": [1, 2]},
        "targets": {"a": {"low": 0.0, "high": 2.0, "source": "s"}, "b": {"low": 10.0, "high": 20.0, "source": "s"}}})
    sweep = sw.Sweep(spec=spec, path=CLASSROOM, base_scenario=sw.load(CLASSROOM))
    frame = pd.DataFrame({"point": [0, 0, 1, 1], "x": [1, 1, 2, 2],
                          "a": [1.0, 1.0, 5.0, 5.0], "b": [14.0, 16.0, 15.0, 15.0]})
    fit = target_fit(sweep, frame).set_index("x")
    assert fit.loc[1, "a_z"] == 0.0 and fit.loc[1, "b_z"] == 0.0 and fit.loc[1, "n_within"] == 2
    assert fit.loc[2, "a_z"] == pytest.approx(4.0) and fit.loc[2, "n_within"] == 1
    assert fit.loc[2, "rms_z"] == pytest.approx(np.sqrt(8.0))
    assert fit.index.tolist() == [1, 2]


@pytest.mark.parametrize(("targets", "message"), [
    ('vacancy_rate = { low = 0.1, high = 0.2, source = "s" }\n',
     "targets: 'vacancy_rate' not among the outputs kept; targets may name: openings_independent"),
    ('openings_independent = { low = 0.2, high = 0.1, source = "s" }\n', "low (0.2) must be below high (0.1)"),
    ('openings_independent = { low = 0.1, high = 0.2 }\n', "source"),
])
def test_bad_targets_say_what_and_where(tmp_path, targets, message):
    with pytest.raises(sw.SweepError) as err:
        _flows_spec(tmp_path, targets)
    assert message in str(err.value) and "flows.toml" in str(err.value)


def test_flow_outputs_need_the_property_market(tmp_path):
    path = _write_spec(tmp_path / "f.toml", 'master_seed = 1\noutputs = ["openings_chain"]\n'
                                            '[factors]\n"adoption.q_imitation" = [0.1]\n')
    with pytest.raises(sw.SweepError, match="outputs: unknown 'openings_chain'"):
        sw.load_sweep(path)


def test_the_flows_calibration_targets_are_the_published_ranges():
    from experiments.highstreet_flows import published_range, published_survival

    spec = sw.load_sweep(REPO / "experiments" / "calibrate_flows.toml").spec
    for group, published in (("independent", "independents"), ("chain", "chains")):
        for verb in ("openings", "closures"):
            target = spec.targets[f"{verb}_{group}"]
            low, high = published_range(published, verb)
            assert target.low == pytest.approx(low / 100, abs=5e-6)
            assert target.high == pytest.approx(high / 100, abs=5e-6)
    for k in (2, 3):
        target, (low, high) = spec.targets[f"survival_independent_{k}y"], published_survival(k)
        assert (target.low, target.high) == pytest.approx((low, high), abs=5e-6)
