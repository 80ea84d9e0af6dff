"""Sweeps: many runs declared in one TOML file, executed locally or on a Dask cluster.

Layers, as in the EMA workbench:

* the **declaration** (:class:`SweepSpec`, read by :func:`load_sweep`): a base scenario,
  overrides applied to every run, factors with levels or ranges, a design, replications
  and the outputs to keep;
* the **design** (:func:`design_points`): full factorial, or a Morris, Sobol or Latin
  hypercube sample drawn with SALib from the factor ranges;
* the **execution** (:func:`execute_runs`): local processes or a Dask distributed
  scheduler; the coordinator writes each finished run atomically to its own file in
  ``DIR/runs/``, so an interrupted sweep (even by ``kill -9``) loses no finished run
  and the same command again runs only what is missing;
* the **analysis** (:mod:`sim.sweep_analysis`): ``runs.parquet`` with one row per run,
  means and 95 % confidence intervals per factor level, sensitivity indices.

Every run's seed comes from the sweep's master seed and the run's key, never from the
order of execution, so the results are the same whatever the backend or the number of
workers. With common random numbers (the default) the key that sets the seed is the
replication number, so every design point sees the same luck in replication k.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import multiprocessing
import os
import re
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sim import __version__
from sim.scenario import Scenario, ScenarioError, load

SERIES_OUTPUTS = {"online_share_by_year": "online_share_y{year}"}
"""Outputs that expand to one column per full year of the run."""


class SweepError(ValueError):
    """A sweep file or folder that cannot be used, with what is wrong and where."""


# ---- the declaration ---------------------------------------------------------------------

MAX_RUNS = 100_000
"""Most runs one sweep may plan: more is a typing slip (levels = 1000000), not a study for this machine."""


class Range(BaseModel):
    """A factor given as an interval; ``levels`` spreads it evenly for a full factorial."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    low: float = Field(description="lowest value")
    high: float = Field(description="highest value")
    levels: int | None = Field(None, ge=2, le=MAX_RUNS, description="evenly spaced levels (full factorial only)")
    integer: bool = Field(False, description="round sampled values to whole numbers")

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self


class Design(BaseModel):
    """How design points are chosen from the factors."""

    model_config = ConfigDict(extra="forbid")
    method: Literal["full_factorial", "morris", "sobol", "lhs"] = "full_factorial"
    trajectories: int = Field(10, ge=2, le=MAX_RUNS, description="morris: number of trajectories")
    grid_levels: int = Field(4, ge=2, le=1000, description="morris: levels of the grid each factor moves on")
    samples: int = Field(64, ge=2, le=MAX_RUNS, description="sobol: base sample N (a power of two); lhs: number "
                                                            "of points")
    seed: int = Field(1, ge=0, description="seed of the sample design (not of the runs)")

    @model_validator(mode="after")
    def _power_of_two(self) -> Design:
        if self.method == "sobol" and self.samples & (self.samples - 1):
            raise ValueError(f"sobol needs samples to be a power of two (e.g. 64, 128), got {self.samples}")
        return self


class TargetRange(BaseModel):
    """A published range an output should fall in, read by the analysis only (never given to the model)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    low: float = Field(description="lowest published value, in the output's units")
    high: float = Field(description="highest published value")
    source: str = Field(min_length=1, description="where the range comes from")

    @model_validator(mode="after")
    def _ordered(self) -> TargetRange:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self


class CalibrationSpec(BaseModel):
    """A target series to calibrate to (see :mod:`sim.calibrate` for the method)."""

    model_config = ConfigDict(extra="forbid")
    data: str = Field(description="CSV of the observed series, relative to the experiment file; '#' lines are notes")
    year_column: str = Field("year", description="column of calendar years")
    value_column: str = Field(description="column of the observed values")
    value_scale: float = Field(1.0, gt=0, description="multiplies observed values into the model's units")
    first_year: int = Field(description="calendar year that the run's first year stands for")
    fit_years: list[int] = Field(min_length=2, description="[first, last] calendar years fitted")
    exclude_years: list[int] = Field(default_factory=list, description="years inside fit_years left out")
    accept_share: float = Field(0.1, gt=0, le=1, description="share of design points kept (closest to the data)")
    candidates: int = Field(5, ge=1, description="closest accepted points run again to choose the calibrated one")
    check_replications: int = Field(10, ge=2, description="fresh replications of each candidate")

    @model_validator(mode="after")
    def _span(self) -> CalibrationSpec:
        if len(self.fit_years) != 2 or self.fit_years[0] >= self.fit_years[1]:
            raise ValueError(f"fit_years must be [first, last] with first < last, got {self.fit_years}")
        if self.fit_years[0] < self.first_year:
            raise ValueError(f"fit_years start ({self.fit_years[0]}) before first_year ({self.first_year})")
        return self


class SweepSpec(BaseModel):
    """An experiment file: what to vary, how often, and what to keep."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field("", max_length=80, pattern=r"^[A-Za-z0-9_\-][A-Za-z0-9_\-.]*$|^$",
                      description="name of the sweep, and of its default output folder runs/sweeps/NAME (letters, "
                                  "digits, _ - and ., not starting with .; empty: the file's name)")
    description: str = Field("", description="what the sweep is for, shown in its report")
    scenario: str = Field(description="base scenario TOML, relative to the experiment file")
    master_seed: int = Field(ge=0, description="seed every run's seed is derived from")
    replications: int = Field(1, ge=1, le=MAX_RUNS, description="runs per design point, each on its own seed")
    common_random_numbers: bool = Field(True, description="replication k has the same seed at every point")
    outputs: list[str] = Field(min_length=1, description="final-year figures to keep for each run (see above)")
    base: dict[str, Any] = Field(default_factory=dict, description="overrides applied to every run")
    factors: dict[str, list[Any] | Range] = Field(
        min_length=1, description="scenario key = [levels] or { low, high } (a table: the keys below)")
    design: Design = Field(default_factory=Design)
    calibration: CalibrationSpec | None = None
    targets: dict[str, TargetRange] = Field(
        default_factory=dict, description="output = { low, high, source }: the design points are ranked by how "
        "near their means fall to these published ranges (the analysis writes targets.csv)")

    @field_validator("factors")
    @classmethod
    def _levels_not_empty(cls, factors: dict[str, list[Any] | Range]) -> dict[str, list[Any] | Range]:
        for name, value in factors.items():
            if isinstance(value, list) and not value:
                raise ValueError(f"factor {name!r} has no levels")
        return factors

    @model_validator(mode="after")
    def _factors_fit_design(self) -> SweepSpec:
        for name, value in self.factors.items():
            if self.design.method == "full_factorial":
                if isinstance(value, Range) and value.levels is None:
                    raise ValueError(f"factor {name!r}: a full factorial needs a list of levels or "
                                     f"`levels = n` in its range")
            elif not isinstance(value, Range):
                raise ValueError(f"factor {name!r}: the {self.design.method} design samples ranges; "
                                 f"give {{ low = ..., high = ... }} instead of a list")
        return self


@dataclass(frozen=True)
class Sweep:
    """A loaded sweep: its declaration, the resolved base scenario and where it came from."""

    spec: SweepSpec
    path: Path
    base_scenario: Scenario

    @property
    def factor_names(self) -> list[str]:
        return list(self.spec.factors)

    def output_columns(self) -> list[str]:
        """The columns each run keeps, with series outputs expanded per year."""
        years = self.base_scenario.steps // 52
        columns = []
        for name in self.spec.outputs:
            if name in SERIES_OUTPUTS:
                columns += [SERIES_OUTPUTS[name].format(year=y) for y in range(1, years + 1)]
            else:
                columns.append(name)
        return columns

    def fingerprint(self) -> str:
        """Identity of everything that shapes the runs' results: the same sweep in the same folder."""
        payload = {"spec": self.spec.model_dump(mode="json", exclude={"description", "calibration", "targets"}),
                   "scenario": self.base_scenario.model_dump(mode="json"), "version": __version__}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def load_sweep(name_or_path: str | Path) -> Sweep:
    """Read and check an experiment file (a path, or a name in ``experiments/``)."""
    path = _find(name_or_path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SweepError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise SweepError(f"{path}: not a text file (expected UTF-8 TOML)") from None
    if not raw.get("name"):
        raw["name"] = "".join(c if c.isalnum() or c in "_-." else "_" for c in path.stem).lstrip(".") or "sweep"
    try:
        spec = SweepSpec.model_validate(raw)
    except ValidationError as exc:
        # a factor is a list or a range: the error of the branch the value was meant for comes first
        errors = sorted(exc.errors(), key=lambda err: err.get("type") in ("list_type", "model_type", "dict_type"))
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        raise SweepError(_format_error(errors[0], path) + more) from None
    scenario_path = (path.parent / spec.scenario).resolve()
    try:
        base = load(scenario_path).with_overrides(spec.base, source=f"{path} [base]")
    except ScenarioError as exc:
        raise SweepError(f"{path}: scenario: {exc}") from None
    sweep = Sweep(spec=spec, path=path, base_scenario=base)
    _check_outputs(sweep)
    _check_levels(sweep)
    _check_size(sweep)
    if spec.calibration is not None:
        _check_calibration(sweep)
    for point in design_points(sweep):  # every run's scenario must be valid before anything starts
        try:
            base.with_overrides(point, source=f"{path} [factors]")
        except ScenarioError as exc:
            raise SweepError(str(exc)) from None
    return sweep


def _find(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.suffix == ".toml":
        if not path.is_file():
            raise SweepError(f"{path}: no such experiment file")
        return path
    for folder in (Path.cwd() / "experiments", Path(__file__).resolve().parent.parent / "experiments"):
        candidate = folder / f"{name_or_path}.toml"
        if candidate.is_file():
            return candidate
    known = sorted(p.stem for p in (Path(__file__).resolve().parent.parent / "experiments").glob("*.toml"))
    raise SweepError(f"no experiment file {name_or_path!r}; known: {', '.join(known) or 'none'}")


def _format_error(err: dict[str, Any], path: Path) -> str:
    # union branches and validators appear in the location as e.g. list[any] or function-after[...]: not keys
    where = ".".join(str(p) for p in err.get("loc", ()) if p != "Range" and "[" not in str(p)) or "(top level)"
    if err.get("type") == "extra_forbidden":
        return f"{path}: unknown key '{where}'; valid keys: {', '.join(sorted(SweepSpec.model_fields))}"
    msg = err.get("msg", "invalid value").removeprefix("Value error, ")
    if err.get("type") == "string_pattern_mismatch" and where == "name":
        msg = "may hold only letters, digits, _, - and . (and not start with .): it names a folder in runs/sweeps/"
    got = err.get("input")
    shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
    return f"{path}: {where}: {msg}{shown}"


def available_outputs(scenario: Scenario) -> list[str]:
    """Every output a sweep can keep for this scenario."""
    from sim.metrics import FLOW_RATES, SURVIVAL_YEARS, ZONES
    from sim.outputs import MARKET_FIGURES, RETAILER_FIGURES

    names = [*MARKET_FIGURES, *(f"vacancy_rate_{z}" for z in ZONES), *SERIES_OUTPUTS]
    if scenario.property.enabled:
        names += list(FLOW_RATES)
    if scenario.independents.enabled:
        names += [f"survival_independent_{k}y" for k in SURVIVAL_YEARS]
    names += [f"{r.name}.{key}" for r in scenario.retailers for key in RETAILER_FIGURES]
    return names


def _check_outputs(sweep: Sweep) -> None:
    valid = available_outputs(sweep.base_scenario)
    unknown = [name for name in sweep.spec.outputs if name not in valid]
    if unknown:
        raise SweepError(f"{sweep.path}: outputs: unknown {', '.join(map(repr, unknown))}; "
                         f"valid outputs: {', '.join(valid)}")
    kept = sweep.output_columns()
    untracked = [name for name in sweep.spec.targets if name not in kept]
    if untracked:
        raise SweepError(f"{sweep.path}: targets: {', '.join(map(repr, untracked))} not among the outputs kept; "
                         f"targets may name: {', '.join(kept)}")


def _check_calibration(sweep: Sweep) -> None:
    """Everything a calibration needs, checked before any run: a sampled design, its target series."""
    target = sweep.spec.calibration
    if sweep.spec.design.method == "full_factorial":
        raise SweepError(f"{sweep.path}: calibration: needs a sampling design over ranges "
                         f"([design] method = \"lhs\"), not a full factorial")
    if "online_share_by_year" not in sweep.spec.outputs:
        raise SweepError(f"{sweep.path}: calibration: outputs must include 'online_share_by_year'")
    years_needed = target.fit_years[1] - target.first_year + 1
    if sweep.base_scenario.steps // 52 < years_needed:
        raise SweepError(f"{sweep.path}: calibration: fitting up to {target.fit_years[1]} from {target.first_year} "
                         f"needs steps >= {52 * years_needed}, the runs have {sweep.base_scenario.steps}")
    data = (sweep.path.parent / target.data).resolve()
    if not data.is_file():
        raise SweepError(f"{sweep.path}: calibration.data: no such file {data}")
    import pandas as pd

    try:
        table = pd.read_csv(data, comment="#")
    except (ValueError, OSError) as exc:
        raise SweepError(f"{data}: cannot be read as CSV: {exc}") from None
    missing = [c for c in (target.year_column, target.value_column) if c not in table]
    if missing:
        raise SweepError(f"{data}: no column {', '.join(map(repr, missing))} (calibration.year_column / "
                         f"value_column); its columns: {', '.join(map(str, table.columns))}")
    fitted = set(range(target.fit_years[0], target.fit_years[1] + 1)) - set(target.exclude_years)
    absent = sorted(fitted - set(pd.to_numeric(table[target.year_column], errors="coerce").dropna().astype(int)))
    if absent:
        raise SweepError(f"{data}: no value for fitted year(s) {', '.join(map(str, absent))}; "
                         f"narrow calibration.fit_years or add them to exclude_years")


def n_design_points(spec: SweepSpec) -> int:
    """How many design points the declaration makes, counted without making them."""
    design, k = spec.design, len(spec.factors)
    if design.method == "full_factorial":
        return math.prod(len(v) if isinstance(v, list) else v.levels for v in spec.factors.values())
    return {"morris": design.trajectories * (k + 1), "sobol": design.samples * (k + 2)}.get(design.method,
                                                                                          design.samples)


def _check_size(sweep: Sweep) -> None:
    n_runs = n_design_points(sweep.spec) * sweep.spec.replications
    if n_runs > MAX_RUNS:
        raise SweepError(f"{sweep.path}: the sweep would make {n_runs:,} runs (design points × replications); "
                         f"at most {MAX_RUNS:,}: fewer levels, samples or replications")


def _check_levels(sweep: Sweep) -> None:
    """Levels must be single values (numbers, text, true/false), so runs can be grouped by them."""
    for name, value in sweep.spec.factors.items():
        if isinstance(value, list) and any(isinstance(level, list | dict) for level in value):
            raise SweepError(f"{sweep.path}: factors.{name}: each level must be a single number, text or "
                             f"true/false; a list or table as a level is not supported")


# ---- the design --------------------------------------------------------------------------

def salib_problem(sweep: Sweep) -> dict[str, Any]:
    """The factor ranges in SALib's problem format."""
    ranges = sweep.spec.factors
    return {"num_vars": len(ranges), "names": list(ranges),
            "bounds": [[r.low, r.high] for r in ranges.values()]}


def design_matrix(sweep: Sweep) -> np.ndarray:
    """The sampled factor values, one row per design point (sampling designs only)."""
    design = sweep.spec.design
    problem = salib_problem(sweep)
    if design.method == "morris":
        from SALib.sample import morris

        return morris.sample(problem, design.trajectories, num_levels=design.grid_levels, seed=design.seed)
    if design.method == "sobol":
        from SALib.sample import sobol

        return sobol.sample(problem, design.samples, calc_second_order=False, seed=design.seed)
    if design.method == "lhs":
        from SALib.sample import latin

        return latin.sample(problem, design.samples, seed=design.seed)
    raise ValueError(f"{design.method} is not a sampling design")


def design_points(sweep: Sweep) -> list[dict[str, Any]]:
    """The factor values of every design point, in a fixed order."""
    factors = sweep.spec.factors
    if sweep.spec.design.method == "full_factorial":
        levels = [value if isinstance(value, list) else _spread(value) for value in factors.values()]
        return [dict(zip(factors, combo, strict=True)) for combo in itertools.product(*levels)]
    points = []
    for row in design_matrix(sweep):
        point = {}
        for (name, rng), value in zip(factors.items(), row, strict=True):
            point[name] = round(value) if rng.integer else float(value)
        points.append(point)
    return points


def _spread(rng: Range) -> list[Any]:
    values = np.linspace(rng.low, rng.high, rng.levels)
    return [round(v) for v in values] if rng.integer else [float(v) for v in values]


def run_seed(master_seed: int, key: str) -> int:
    """The seed of one run, from the sweep's master seed and the run's seed key."""
    digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")
    seq = np.random.SeedSequence(entropy=master_seed, spawn_key=(digest,))
    return int(seq.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


@dataclass(frozen=True)
class RunTask:
    """One run to execute: its key, design point, replication, seed and what it needs to run."""

    key: str
    point: int
    replication: int
    seed: int
    factors: dict[str, Any]
    payload: dict[str, Any]  # what a worker needs: scenario (as JSON data), seed, output columns


def plan(sweep: Sweep) -> list[RunTask]:
    """Every run of the sweep, points × replications, each with its seed."""
    spec = sweep.spec
    columns = sweep.output_columns()
    tasks = []
    for p, factors in enumerate(design_points(sweep)):
        scenario = sweep.base_scenario.with_overrides(factors, source=str(sweep.path)).model_dump(mode="json")
        for rep in range(spec.replications):
            key = f"p{p:05d}-r{rep:03d}"
            seed = run_seed(spec.master_seed, f"replication={rep}" if spec.common_random_numbers else key)
            tasks.append(RunTask(key=key, point=p, replication=rep, seed=seed, factors=factors,
                                 payload={"scenario": scenario, "seed": seed, "outputs": columns}))
    return tasks


# ---- the execution -----------------------------------------------------------------------

def execute(payload: dict[str, Any]) -> dict[str, Any]:
    """Worker side: run one scenario with one seed and return its outputs (and run time)."""
    from sim.metrics import FLOW_RATES, independents_survival, unit_flow_rates
    from sim.model import RetailMarket
    from sim.outputs import final_figures

    started = time.perf_counter()
    model = RetailMarket(Scenario.model_validate(payload["scenario"]), seed=payload["seed"])
    model.run()
    frame = model.metrics.to_frame()
    figures = final_figures(model, frame)
    figures.update(_yearly_online_share(frame))
    if model.config.property.enabled:
        rates = unit_flow_rates(model)
        figures.update({name: rates[name] for name in FLOW_RATES})
    if model.demography is not None:
        figures.update(independents_survival(model))
    outputs = {name: figures.get(name) for name in payload["outputs"]}
    return {"outputs": outputs, "elapsed_s": round(time.perf_counter() - started, 3)}


def _yearly_online_share(frame) -> dict[str, float | None]:
    """Online sales / all sales in each full year of the run."""
    from sim.metrics import ALL

    market = frame[frame["retailer"] == ALL]
    year = (market["week"] - 1) // 52 + 1
    shares = {}
    for y, rows in market.groupby(year):
        revenue = float(rows["revenue_eur"].sum())
        if len(rows) == 52:
            shares[f"online_share_y{int(y)}"] = (round(float(rows["revenue_online_eur"].sum()) / revenue, 6)
                                                 if revenue > 0 else None)
    return shares


OnResult = Callable[[RunTask, dict[str, Any] | None, str | None], None]


def run_local(tasks: list[RunTask], workers: int, on_result: OnResult) -> None:
    """Run tasks in this process (1 worker) or in fresh worker processes."""
    if workers == 1:
        for task in tasks:
            _deliver(task, lambda task=task: execute(task.payload), on_result)
        return
    with worker_pool(workers) as pool:
        futures = {pool.submit(execute, task.payload): task for task in tasks}
        for future in as_completed(futures):
            _deliver(futures[future], future.result, on_result)


@contextmanager
def worker_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """Fresh worker processes (spawn: forking a process that has run compiled threads can deadlock)
    that end with their coordinator: stopped at once if it stops on an error, Ctrl+C or SIGTERM, and
    ending themselves within a second if it is killed outright."""
    # the cores are shared out: workers that each ran a thread per core would, at every compiled parallel
    # loop, wait for a thread the others had taken the core from (results never depend on the count)
    threads = max(1, (os.cpu_count() or 1) // workers)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(os.getpid(), threads))
    try:
        yield pool
    except BaseException:
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        raise
    pool.shutdown(wait=True)


def _start_worker(parent: int, threads: int) -> None:
    """In a worker: its share of the cores for compiled loops, and an end when its parent ends."""
    import numba

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    _end_with_parent(parent)


def _end_with_parent(parent: int) -> None:
    """In a worker: a watcher thread that ends the process once its parent is gone."""
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="end-with-parent").start()


def run_dask(tasks: list[RunTask], address: str, on_result: OnResult, fingerprint: str) -> None:
    """Submit tasks to a running Dask distributed scheduler; results come back to this process."""
    from distributed import Client
    from distributed import as_completed as dask_completed

    try:
        client = Client(address, timeout="20s", set_as_default=False)
    except OSError as exc:
        raise SweepError(f"--scheduler {address}: cannot reach a Dask scheduler there ({exc})") from None
    with client:
        keys = [f"retailsim-{fingerprint}-{task.key}" for task in tasks]
        futures = client.map(execute, [task.payload for task in tasks], key=keys, pure=False)
        by_key = {future.key: task for future, task in zip(futures, tasks, strict=True)}
        for future in dask_completed(futures, loop=client.loop):
            _deliver(by_key[future.key], future.result, on_result)
            future.release()


def _deliver(task: RunTask, result: Callable[[], dict[str, Any]], on_result: OnResult) -> None:
    """Pass ``result()`` on, or its error: one failed run is reported and the others go on."""
    try:
        value = result()
    except Exception as exc:
        on_result(task, None, f"{type(exc).__name__}: {exc}")
        return
    on_result(task, value, None)


# ---- the run store -----------------------------------------------------------------------

class RunStore:
    """``DIR/runs/KEY.json``, one file per finished run, each written whole or not at all."""

    def __init__(self, out: Path, sweep: Sweep):
        self.out = out
        self.runs = out / "runs"
        self.fingerprint = sweep.fingerprint()
        self.manifest = {"name": sweep.spec.name, "fingerprint": self.fingerprint, "version": __version__,
                         "experiment": str(sweep.path), "spec": sweep.spec.model_dump(mode="json")}

    def open(self) -> None:
        """Create the folder, or check that it holds this very sweep; clear writes a kill cut short."""
        manifest = self.out / "sweep.json"
        if self.out.exists() and not self.out.is_dir():
            raise SweepError(f"{self.out}: exists and is not a folder; choose another --out")
        if manifest.is_file():
            try:
                found = json.loads(manifest.read_text(encoding="utf-8"))
                name, fingerprint = found.get("name"), found.get("fingerprint")
            except (OSError, ValueError, AttributeError) as exc:
                raise SweepError(f"{manifest}: damaged ({type(exc).__name__}), so the runs in {self.runs} cannot "
                                 f"be told apart from another sweep's; delete the folder or choose another --out"
                                 ) from None
            if fingerprint != self.fingerprint:
                raise SweepError(f"{self.out}: holds runs of another sweep ({name!r}, fingerprint "
                                 f"{fingerprint}; this one is {self.fingerprint}); choose another "
                                 f"--out or delete that folder")
        elif self.out.exists() and not self._only_an_unfinished_start():
            raise SweepError(f"{self.out}: exists and is not a sweep folder (no sweep.json); choose another --out")
        if not manifest.is_file():  # the manifest first: a folder of runs always says whose they are
            self.out.mkdir(parents=True, exist_ok=True)
            for stale in self.out.glob(".sweep.tmp*"):
                stale.unlink()
            text = json.dumps(self.manifest, indent=2, sort_keys=True) + "\n"
            write_atomically(manifest, lambda tmp: tmp.write_text(text))
        self.runs.mkdir(parents=True, exist_ok=True)
        for stale in self.runs.glob(".*.tmp*"):
            stale.unlink()
        from sim.outputs import _alive

        for stale in self.out.glob(".*.tmp*"):  # results a killed process was writing (runs.parquet, ...)
            pid = re.search(r"\.tmp(\d+)", stale.name)
            if stale.is_file() and pid and not _alive(int(pid.group(1))):
                stale.unlink()
        folders = sorted(p.name for p in self.runs.glob("*.json") if not p.is_file())
        if folders:
            raise SweepError(f"{self.runs}: {folders[0]} is not a run record (a folder, or not a file); "
                             f"remove it and run the same command again")

    def _only_an_unfinished_start(self) -> bool:
        """The folder holds only what a sweep killed while writing its sweep.json leaves: an empty
        runs/ and a hidden temporary file."""
        for path in self.out.iterdir():
            if path.name.startswith(".sweep.tmp") and path.is_file():
                continue
            if path.name == "runs" and path.is_dir() and not any(
                    not p.name.startswith(".") for p in path.iterdir()):
                continue
            return False
        return True

    def done(self) -> set[str]:
        """The keys of the runs whose records are whole, of this sweep and unaltered (checksum)."""
        return {record["key"] for record in self._valid_records()}

    def _valid_records(self) -> list[dict[str, Any]]:
        records = []
        for path in finished_run_files(self.runs):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if (isinstance(record, dict) and record.get("fingerprint") == self.fingerprint
                    and record.get("checksum") == record_checksum(record)
                    and isinstance(record.get("outputs"), dict) and isinstance(record.get("factors"), dict)
                    and f"{record.get('key')}.json" == path.name):
                records.append(record)
        return records

    def write(self, task: RunTask, result: dict[str, Any]) -> None:
        record = {"key": task.key, "point": task.point, "replication": task.replication, "seed": task.seed,
                  "factors": task.factors, "outputs": result["outputs"], "elapsed_s": result["elapsed_s"],
                  "fingerprint": self.fingerprint}
        record["checksum"] = record_checksum(record)
        text = json.dumps(record, sort_keys=True) + "\n"
        write_atomically(self.runs / f"{task.key}.json", lambda tmp: tmp.write_text(text))

    def records(self, keys: Iterable[str]) -> list[dict[str, Any]]:
        """The records of ``keys``, in that order; a missing or damaged one is one line naming it."""
        valid = {record["key"]: record for record in self._valid_records()}
        keys = list(keys)
        missing = [key for key in keys if key not in valid]
        if missing:
            raise SweepError(f"{self.runs}: {len(missing)} run record(s) missing or damaged (e.g. {missing[0]}.json, "
                             f"which may have been edited: each record carries a checksum); run the same command "
                             f"again to redo them")
        return [valid[key] for key in keys]


def record_checksum(record: dict[str, Any]) -> str:
    """SHA-256 of a run record without its checksum: a record edited by hand no longer matches."""
    body = {k: v for k, v in record.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def finished_run_files(runs: Path) -> list[Path]:
    """The run records in ``runs``: ``KEY.json``, not the hidden temporary file of a write in
    progress (``.KEY.tmpPID.json``, which a path glob for ``*.json`` also matches)."""
    return [path for path in runs.glob("*.json") if not path.name.startswith(".")]


def write_atomically(path: Path, write: Callable[[Path], Any]) -> None:
    """``write(tmp)`` to a temporary file beside ``path``, flush it to disk, then move it into place:
    ``path`` is whole or absent, whatever stops the process."""
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        write(tmp)
        descriptor = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@dataclass
class SweepResult:
    """What one call of :func:`execute_runs` did."""

    n_runs: int
    n_skipped: int
    n_executed: int
    failures: dict[str, str]


def execute_runs(sweep: Sweep, out: Path, workers: int | None = None, scheduler: str | None = None,
                 progress: Callable[[int, int], None] | None = None) -> SweepResult:
    """Run every run of the sweep not already in ``out/runs``; each is stored as it finishes."""
    tasks = plan(sweep)
    store = RunStore(out, sweep)
    store.open()
    done = store.done()
    todo = [task for task in tasks if task.key not in done]
    failures: dict[str, str] = {}
    finished = len(tasks) - len(todo)
    if progress:
        progress(finished, len(tasks))

    def on_result(task: RunTask, result: dict[str, Any] | None, error: str | None) -> None:
        nonlocal finished
        if error is not None:
            failures[task.key] = error
        else:
            store.write(task, result)
        finished += 1
        if progress:
            progress(finished, len(tasks))

    if todo:
        if scheduler:
            run_dask(todo, scheduler, on_result, store.fingerprint)
        else:
            run_local(todo, max(1, min(workers or os.cpu_count() or 1, len(todo))), on_result)
    return SweepResult(n_runs=len(tasks), n_skipped=len(tasks) - len(todo), n_executed=len(todo) - len(failures),
                       failures=failures)


def gather(sweep: Sweep, out: Path):
    """One row per run, in design order: key, point, replication, seed, factors, outputs."""
    import pandas as pd

    store = RunStore(out, sweep)
    tasks = plan(sweep)
    records = store.records(task.key for task in tasks)
    rows = []
    for record in records:
        row = {"key": record["key"], "point": record["point"], "replication": record["replication"],
               "seed": record["seed"]}
        row.update(record["factors"])
        row.update(record["outputs"])
        rows.append(row)
    frame = pd.DataFrame(rows)
    for column in sweep.output_columns():
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame
