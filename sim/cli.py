"""The command line: ``retailsim run | validate | experiment | compare | sweep | calibrate | app``.

Bad input exits with status 2 and a one-line message, and writes nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, NoReturn

from sim import __version__
from sim.scenario import Scenario, ScenarioError, load, parse_assignment

EXIT_BAD_INPUT = 2
MAX_INT = 2**63 - 1  # seeds and counts are 64-bit; a larger seed would run but not repeat
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SCENARIO = Path("scenarios") / "baseline.toml"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _fail(message: str) -> NoReturn:
    print(f"retailsim: error: {message}", file=sys.stderr)
    raise SystemExit(EXIT_BAD_INPUT)


def default_scenario_path() -> Path:
    """scenarios/baseline.toml in the working folder, else the one beside the package."""
    here = Path.cwd() / DEFAULT_SCENARIO
    return here if here.is_file() else REPO_ROOT / DEFAULT_SCENARIO


def load_scenario(path: str | None, sets: list[str], steps: int | None = None) -> Scenario:
    overrides: dict[str, Any] = dict(parse_assignment(s) for s in sets)
    if steps is not None:
        overrides["steps"] = steps
    return load(path or default_scenario_path(), overrides)


def _check_out(out: Path, kind: str) -> None:
    """Refuse, before anything runs, an output folder that writing the results would damage."""
    from sim.outputs import OutputError, check_destination

    try:
        check_destination(out, kind)
    except OutputError as exc:
        _fail(str(exc))


# ---- run ---------------------------------------------------------------------------------

def cmd_run(args: argparse.Namespace) -> int:
    try:
        scenario = load_scenario(args.scenario, args.set, args.steps)
    except ScenarioError as exc:
        _fail(str(exc))
    seed = scenario.seed if args.seed is None else args.seed
    out = Path(args.out) if args.out else Path("runs") / f"{scenario.name}-seed{seed}"
    _check_out(out, "run")

    from sim.model import RetailMarket
    from sim.outputs import write_run

    started = time.perf_counter()
    model = RetailMarket(scenario, seed=seed)
    _run_with_progress(model, quiet=args.quiet)
    runtime = time.perf_counter() - started
    summary = write_run(model, out, runtime, figure=not args.no_figure)
    if not args.quiet:
        _print_summary(summary, out)
    return 0


def _run_with_progress(model, quiet: bool) -> None:
    if quiet:
        model.run()
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("weeks"), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(f"{model.config.name} (seed {model.seed})", total=model.horizon)
        model.run(progress=lambda week: bar.update(task, completed=week))


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    years = summary["steps"] / 52
    table = Table(title=f"{summary['scenario']} — seed {summary['seed']}, {summary['n_consumers']:,} consumers, "
                        f"{years:.1f} years, final year", title_justify="left")
    table.add_column("retailer", no_wrap=True)
    table.add_column("strategy", no_wrap=True)
    for col in ("revenue\nshare", "attrition", "gross\nmargin", "operating\nmargin", "stores\nopen"):
        table.add_column(col, justify="right", no_wrap=True)
    for name, r in summary["retailers"].items():
        table.add_row(name, r["strategy"], _pct(r["revenue_share"]), _pct(r["attrition_rate"]),
                      _pct(r["gross_margin"]), _pct(r["operating_margin"]), str(r["stores_open"]))
    console.print(table)
    zones = ", ".join(f"{z} {_pct(v)}" for z, v in summary["vacancy_rate_by_zone"].items())
    console.print(f"online share {_pct(summary['online_share'])} · vacancy {_pct(summary['vacancy_rate'])} "
                  f"({zones}) · main-retailer switching {_pct(summary['main_switching_rate'])} · "
                  f"ran in {summary['runtime_s']:.1f} s")
    turned_away = summary.get("high_street", {}).get("n_turned_away", 0)
    if turned_away:
        console.print(f"note: {turned_away} would-be independents found a unit that paid but no free identity in the "
                      f"pool, so the pool (independents.pool_size) capped their openings; a larger pool lets them open")
    console.print(f"outputs in {out}/ (metrics.parquet, metrics.csv, summary.json, dashboard.png, scenario.toml)")


# ---- validate -----------------------------------------------------------------------------

def cmd_validate(args: argparse.Namespace) -> int:
    try:
        scenario = load_scenario(args.scenario, args.set)
    except ScenarioError as exc:
        _fail(str(exc))
    n_stores = sum(r.n_stores for r in scenario.retailers)
    from sim.town import n_sites_of

    n_sites = n_sites_of(scenario.region)  # a town's own sites: as many as its file lists
    print(f"ok: {args.scenario}: scenario '{scenario.name}', {len(scenario.retailers)} retailers, "
          f"{n_stores} stores on {n_sites} sites, {scenario.consumers.n:,} consumers, "
          f"{scenario.steps} weeks")
    pool = scenario.independents
    if pool.enabled:
        n_start = min(round(pool.initial_share_of_units * n_sites), pool.pool_size)
        print(f"independents: a pool of {pool.pool_size} businesses, up to {n_start} trading at the start, "
              f"{pool.arrivals_per_100_units_year:g} would-be businesses per 100 units a year"
              + ("; property market on" if scenario.property.enabled else ""))
    stores = scenario.stores
    if scenario.property.enabled and stores.p_administration_year > 0:
        n_chains = sum(r.n_stores > 0 and not r.independent for r in scenario.retailers)
        print(f"chains: each of the {n_chains} with stores enters administration with "
              f"{stores.p_administration_year:.1%} a year, and its administrator closes "
              f"{stores.share_closed_in_administration:.0%} of its stores, the weakest")
    permitted = {z: m2 for z, m2 in scenario.municipal.new_floor_space_m2.items() if m2 > 0}
    if permitted:
        print("new floor space each town permits: " + ", ".join(f"{m2:,.0f} m² {z}" for z, m2 in permitted.items())
              + f" (built where every unit of the type is let and rent ≥ {scenario.property.development_yield:.1%} "
              f"of €{scenario.property.build_cost_eur_m2:,.0f} per m²)")
    from sim.model import footprint

    need = footprint(scenario)
    n_online = sum(r.online for r in scenario.retailers)
    with_stores = sum(r.n_stores > 0 or r.waiting_to_open for r in scenario.retailers)
    per = f" in each of {need['n_categories']} categories" if need["n_categories"] > 1 else ""
    print(f"engine: each shopper weighs{per} at most {need['n_store_options']} stores, one a retailer ({with_stores} "
          f"retailers have or seek stores), and {need['n_online_options']} web shops ({n_online} sell online), "
          f"and holds {need['n_slots']} relationships; memory about "
          f"{need['state_mib']:,.0f} MiB of consumer state + {need['working_mib']:,.0f} MiB a week's working "
          f"arrays ({need['bytes_per_consumer']:,.0f} bytes a consumer)"
          + (f", and up to {need['cache_mib_max']:,.0f} MiB of distances and draws kept for building her options"
             if need["cache_mib_max"] >= 1 else ""))
    choice = scenario.choice
    if choice.consideration_draw_scale > 0:
        if choice.stores_scanned >= n_sites:
            print(f"store options: drawn in proportion to their logit weights from every open store of a trade "
                  f"(stores_scanned {choice.stores_scanned} ≥ {n_sites} sites)")
        else:
            print(f"store options: drawn in proportion to their logit weights from a shopper's "
                  f"{choice.stores_scanned} nearest open stores of a trade only, a truncated draw; set "
                  f"choice.stores_scanned to at least {n_sites} (the sites) to draw from every store")
    return 0


# ---- experiment ---------------------------------------------------------------------------

def cmd_experiment(args: argparse.Namespace) -> int:
    from sim.experiment import load_experiment, write_report

    try:
        experiment, module = load_experiment(args.name)
    except FileNotFoundError as exc:
        _fail(str(exc))
    except ScenarioError as exc:
        _fail(str(exc))
    if args.set:
        try:
            extra = dict(parse_assignment(s) for s in args.set)
        except ScenarioError as exc:
            _fail(str(exc))
        experiment = dataclasses.replace(experiment, base_overrides={**experiment.base_overrides, **extra})
    out = Path(args.out) if args.out else Path("runs") / "experiments" / _variant_folder(experiment.name, args.set)
    _check_out(out, "experiment")
    n_rep = args.replications or experiment.replications
    n_runs = n_rep * len(experiment.arms)
    started = time.perf_counter()
    if args.from_runs:  # re-analyse finished runs without running them again
        import pandas as pd

        runs_csv = Path(args.from_runs)
        if not runs_csv.is_file():
            _fail(f"--from-runs {runs_csv}: no such file")
        try:
            frame = pd.read_csv(runs_csv)
        except (ValueError, UnicodeDecodeError, OSError) as exc:  # pandas' parser and empty-data errors
            _fail(f"--from-runs {runs_csv}: not a runs.csv table ({type(exc).__name__}: "
                  f"{str(exc).splitlines()[0] if str(exc) else 'unreadable'})")
        needed = ["arm", "replication", *experiment.outcomes]
        absent = [c for c in needed if c not in frame.columns]
        if absent:
            _fail(f"--from-runs {runs_csv}: not a runs.csv of experiment {experiment.name}: no column "
                  f"{', '.join(map(repr, absent[:5]))}{' ...' if len(absent) > 5 else ''}")
        n_runs = len(frame)
    else:
        try:
            frame = _run_experiment(experiment, n_rep, n_runs, args.workers, args.quiet)
        except ScenarioError as exc:
            _fail(str(exc))
    findings = write_report(experiment, module, frame, out)
    if not args.quiet:
        print(f"{experiment.title}: {n_runs} runs in {time.perf_counter() - started:.0f} s")
        for f in findings:
            verdict = ("holds" if f.holds else "NOT shown") if f.within is None else (
                f"{'within' if f.holds else 'OUTSIDE'} {f.within[0] * f.scale:g}–{f.within[1] * f.scale:g}")
            print(f"  {verdict}: {f.statement}: {f.mean * f.scale:.2f}{f.unit} "
                  f"[{f.ci_low * f.scale:.2f}, {f.ci_high * f.scale:.2f}]")
        print(f"report in {out}/report.md, figure in {out}/figure.png")
    return 0


def _variant_folder(name: str, sets: list[str]) -> str:
    """The declared experiment's folder, or a sibling named by the overrides, so that a variant never
    overwrites the declared results."""
    if not sets:
        return name
    return name + "--" + "_".join(s.replace("/", "-").replace(" ", "") for s in sets)


def _run_experiment(experiment, n_rep: int, n_runs: int, workers: int | None, quiet: bool):
    from sim.experiment import run

    return _with_run_progress(experiment.name, n_runs, quiet,
                              lambda progress: run(experiment, replications=n_rep, workers=workers,
                                                   progress=progress))


def _with_run_progress(label: str, n_runs: int, quiet: bool, call):
    """Call ``call(progress)`` under a progress bar counting finished runs (none if quiet)."""
    if quiet:
        return call(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("runs"), TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task(label, total=n_runs)
        return call(lambda done, total: bar.update(task, completed=done))


# ---- compare ------------------------------------------------------------------------------

def cmd_compare(args: argparse.Namespace) -> int:
    if len(args.scenarios) < 2:
        _fail("compare needs at least two scenario files")
    scenarios = []
    try:
        for path in args.scenarios:
            scenario = load_scenario(path, args.set, args.steps)
            scenarios.append((scenario.name, scenario))
    except ScenarioError as exc:
        _fail(str(exc))
    labels = [label for label, _ in scenarios]
    if len(set(labels)) < len(labels):
        scenarios = [(f"{label}#{i + 1}", s) for i, (label, s) in enumerate(scenarios)]
    from sim import compare
    from sim.outputs import atomic_directory

    out = Path(args.out) if args.out else Path("runs") / "compare" / "_vs_".join(label for label, _ in scenarios)
    _check_out(out, "compare")
    n_runs = args.replications * len(scenarios)
    frame = _with_run_progress("compare", n_runs, args.quiet,
                               lambda progress: compare.run_comparison(scenarios, args.replications,
                                                                       workers=args.workers, progress=progress))
    table = compare.differences(frame)
    text = compare.report(table, args.replications)
    with atomic_directory(out, "compare") as tmp:
        frame.to_csv(tmp / "runs.csv", index=False, float_format="%.10g")
        table.to_csv(tmp / "differences.csv", index=False, float_format="%.10g")
        (tmp / "report.md").write_text(text)
        compare.figure(table, tmp / "figure.png")
    if not args.quiet:
        print(text)
        print(f"outputs in {out}/ (runs.csv, differences.csv, report.md, figure.png)")
    return 0


# ---- sweep ---------------------------------------------------------------------------------

def cmd_sweep(args: argparse.Namespace) -> int:
    _sweep(args)
    return 0


def _sweep(args: argparse.Namespace, needs_calibration: bool = False):
    """Load the experiment file, run what is missing, write the sweep's results; the sweep and its folder."""
    from sim import sweep as sw

    try:
        spec = sw.load_sweep(args.experiment)
    except sw.SweepError as exc:
        _fail(str(exc))
    if needs_calibration and spec.spec.calibration is None:
        _fail(f"{spec.path}: no [calibration] table; calibrate needs a target series")
    out = Path(args.out) if args.out else Path("runs") / "sweeps" / spec.spec.name
    n_runs = len(sw.plan(spec))
    n_workers = args.workers or os.cpu_count() or 1
    where = f"Dask scheduler {args.scheduler}" if args.scheduler else f"{n_workers} local worker process(es)"
    if not args.quiet:
        print(f"sweep {spec.spec.name}: {n_runs} runs on {where}; results in {out}/")
    try:
        result = _with_run_progress(spec.spec.name, n_runs, args.quiet,
                                    lambda progress: sw.execute_runs(spec, out, workers=args.workers,
                                                                     scheduler=args.scheduler, progress=progress))
    except sw.SweepError as exc:
        _fail(str(exc))
    print(f"{result.n_skipped} runs already done, {result.n_executed} executed, {len(result.failures)} failed")
    if result.failures:
        for key, error in sorted(result.failures.items())[:10]:
            print(f"  {key}: {error}", file=sys.stderr)
        _fail(f"{len(result.failures)} runs failed (finished runs are kept; run the same command again to retry)")
    from sim.sweep_analysis import write_results

    written = write_results(spec, out, sw.gather(spec, out))
    if not args.quiet:
        print(f"outputs in {out}/ ({', '.join(written)})")
    return spec, out


def cmd_calibrate(args: argparse.Namespace) -> int:
    spec, out = _sweep(args, needs_calibration=True)
    from sim import sweep as sw
    from sim.calibrate import write_calibration

    if not args.quiet:
        print(f"checking the calibrated values with {spec.spec.calibration.check_replications} replications ...")
    found = write_calibration(spec, out, sw.gather(spec, out), workers=args.workers,
                              scenario_path=Path(args.scenario) if args.scenario else None,
                              scheduler=args.scheduler)
    mean, low, high = found["distance_pp"]
    print("calibrated: " + ", ".join(f"{k} = {v:g}" for k, v in found["values"].items()))
    print(f"fit of the calibrated scenario: RMSE {mean:.2f} points (95 % CI {low:.2f} to {high:.2f}); "
          f"{found['n_accepted']} design points accepted")
    print(f"outputs in {out}/ (calibration.md, fit.png, posterior.csv, calibrated.toml)"
          + (f"; scenario written to {args.scenario}" if args.scenario else ""))
    return 0


# ---- app ----------------------------------------------------------------------------------

def cmd_app(args: argparse.Namespace) -> int:
    path = Path(args.scenario) if args.scenario else REPO_ROOT / "scenarios" / "classroom.toml"
    try:
        load(path)  # a bad scenario fails here, in one line, not inside the server
    except ScenarioError as exc:
        _fail(str(exc))
    from sim.viz.market import SCENARIO_ENV

    _check_port_free(args.host, args.port)
    app = Path(__file__).resolve().parent / "viz" / "app.py"
    env = {**os.environ, SCENARIO_ENV: str(path.resolve())}
    print(f"retailsim app: {path} at http://{args.host}:{args.port}/  (Ctrl+C to stop)", flush=True)
    command = [sys.executable, "-m", "solara", "run", str(app), "--host", args.host, "--port", str(args.port),
               "--no-open", "--production", "--no-check-version", "--log-level", "warning"]
    os.execve(sys.executable, command, env)  # the server takes this process over, so Ctrl+C reaches it


def _check_port_free(host: str, port: int) -> None:
    """Refuse in one line, before the server starts, an address that cannot be listened on."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        _fail(f"--host {host}: not an address of this machine ({exc})")
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        try:
            probe.bind(address)
        except OSError as exc:
            _fail(f"--port {port}: cannot listen on {host}:{port} ({exc.strerror or exc}); "
                  f"is another app running there? choose another --port")


# ---- entry point ---------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="retailsim", description="Agent-based model of a retail market.")
    parser.add_argument("--version", action="version", version=f"retailsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run one scenario and write its outputs",
                         description="Run a scenario (default scenarios/baseline.toml) and write "
                                     "metrics.parquet, metrics.csv, summary.json, dashboard.png and "
                                     "scenario.toml into --out.")
    run.add_argument("scenario", nargs="?", help="scenario TOML file (default: scenarios/baseline.toml)")
    run.add_argument("--seed", type=_non_negative_int, help="seed of the run (default: the scenario's seed)")
    run.add_argument("--steps", type=_positive_int, help="horizon in weeks (overrides the scenario)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a parameter, e.g. --set consumers.n=5000 --set retailers.CardCo.markup=0.3")
    run.add_argument("--out", help="output folder (default: runs/NAME-seedS)")
    run.add_argument("--quiet", action="store_true", help="no progress bar and no summary table")
    run.add_argument("--no-figure", action="store_true", help="skip dashboard.png (faster)")
    run.set_defaults(func=cmd_run)

    exp = sub.add_parser("experiment", help="run a declared experiment from experiments/",
                         description="Run an experiment declared in experiments/NAME.py and write runs.csv, "
                                     "summary.csv, report.md and figure.png.")
    exp.add_argument("name", help="experiment name (a file in experiments/) or a path to one")
    exp.add_argument("--replications", type=_positive_int, help="replications per arm (default: as declared)")
    exp.add_argument("--workers", type=_positive_int, help="local worker processes (default: all cores)")
    exp.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="change the base scenario of every arm, e.g. --set consumers.taste_weight=0 "
                          "(default output folder: runs/experiments/NAME--KEY=VALUE)")
    exp.add_argument("--out", help="output folder (default: runs/experiments/NAME)")
    exp.add_argument("--quiet", action="store_true", help="no progress bar")
    exp.add_argument("--from-runs", metavar="RUNS_CSV", help="rebuild the report from a finished runs.csv")
    exp.set_defaults(func=cmd_experiment)

    cmp = sub.add_parser("compare", help="compare scenarios on common random numbers",
                         description="Run each scenario with the same seeds and report every final-year "
                                     "metric's difference from the first scenario with a 95 % CI.")
    cmp.add_argument("scenarios", nargs="+", help="two or more scenario TOML files; the first is the reference")
    cmp.add_argument("--replications", type=_positive_int, default=10, help="replications per scenario (10)")
    cmp.add_argument("--steps", type=_positive_int, help="horizon in weeks (overrides the scenarios)")
    cmp.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a parameter in every scenario")
    cmp.add_argument("--workers", type=_positive_int, default=None, help="worker processes (default: all cores)")
    cmp.add_argument("--out", help="output folder (default: runs/compare/A_vs_B)")
    cmp.add_argument("--quiet", action="store_true", help="no progress bar and no table")
    cmp.set_defaults(func=cmd_compare)

    swp = sub.add_parser("sweep", help="run an experiment file: factors × replications, locally or on Dask",
                         description="Run every run of an experiment file (TOML: base scenario, factors, design, "
                                     "replications, outputs). Each finished run is kept in OUT/runs/; the same "
                                     "command again runs only what is missing. Writes runs.parquet, summary.csv, "
                                     "report.md and a figure.")
    _add_sweep_arguments(swp, "experiment TOML file, or the name of one in experiments/")
    swp.set_defaults(func=cmd_sweep)

    cal = sub.add_parser("calibrate", help="calibrate parameters to an observed series (rejection ABC)",
                         description="Run an experiment file that declares a [calibration] target (a Latin "
                                     "hypercube over the parameter ranges), accept the runs closest to the data, "
                                     "check the calibrated values and write them as a scenario.")
    _add_sweep_arguments(cal, "experiment TOML file with a [calibration] table, or its name")
    cal.add_argument("--scenario", metavar="PATH", help="also write the calibrated scenario here")
    cal.set_defaults(func=cmd_calibrate)

    app = sub.add_parser("app", help="serve the teaching app in the browser",
                         description="Serve the teaching app (a Solara page) for a scenario "
                                     "(default scenarios/classroom.toml) on this machine, and print its address.")
    app.add_argument("scenario", nargs="?", help="scenario TOML file (default: scenarios/classroom.toml)")
    app.add_argument("--port", type=_port, default=8765, help="port (default 8765)")
    app.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    app.set_defaults(func=cmd_app)

    val = sub.add_parser("validate", help="check a scenario file without running it")
    val.add_argument("scenario", help="scenario TOML file")
    val.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a parameter")
    val.set_defaults(func=cmd_validate)
    return parser


def _add_sweep_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """The arguments sweep and calibrate share: what to run, and where and how."""
    parser.add_argument("experiment", help=what)
    parser.add_argument("--workers", type=_positive_int, help="local worker processes (default: all cores)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="address of a running Dask scheduler, e.g. tcp://HOST:8786 (default: local processes)")
    parser.add_argument("--out", help="output folder (default: runs/sweeps/NAME)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    if value > MAX_INT:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_INT} (2**63 - 1), got {value}")
    return value


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is 1 to 65535, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    from sim.outputs import OutputError
    from sim.sweep import SweepError

    args = build_parser().parse_args(argv)
    previous = _stop_on_sigterm()
    try:
        return int(args.func(args) or 0)
    except (OutputError, ScenarioError, SweepError) as exc:  # e.g. an output folder changed while runs ran
        _fail(str(exc))
    except KeyboardInterrupt:
        print("retailsim: interrupted; no output written", file=sys.stderr)
        return 130
    except OSError as exc:  # the disk is full, a folder became read-only ...: no output is left half-written
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(f"{where}{exc.strerror or exc} (no half-written output is left behind)")
    except RecursionError:
        _fail("input nested too deeply (a chain of base files, or a value, hundreds of levels deep)")
    except _Terminated:
        print("retailsim: terminated; no output written", file=sys.stderr)
        return 143
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class _Terminated(BaseException):
    """SIGTERM, raised where the program is, so that half-written outputs are cleared on the way out."""


def _stop_on_sigterm():
    """Turn SIGTERM into :class:`_Terminated` (main thread only); the handler it replaced, or None."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        raise _Terminated

    return signal.signal(signal.SIGTERM, handler)


if __name__ == "__main__":
    raise SystemExit(main())
