"""Experiments as declarations: arms, replications and measures; a runner; the analysis.

Like the EMA workbench, the model, the experiment design, the execution and the
analysis are separate. An :class:`Experiment` declares a base scenario, the arms to
compare (overrides of the scenario), how many seeded replications to run, what it does
to a running model at given weeks (interventions, e.g. a randomised trial), and the
measures taken from each finished model. :func:`run` executes it on local processes;
every replication uses the same seed in every arm (common random numbers), derived
from the experiment's master seed, so the results never depend on the number of
workers and differences between arms are sharp. :func:`summarise` gives means with
95 % confidence intervals; :func:`paired_difference` compares two arms replication by
replication.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.model import RetailMarket
from sim.scenario import Scenario, ScenarioError, load
from sim.sweep import worker_pool

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Arm:
    """One condition of an experiment: a label and the scenario overrides that make it."""

    label: str
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class Experiment:
    """A declared experiment. ``measure`` maps a finished model to named numbers."""

    name: str
    title: str
    claim: str
    scenario: str  # path relative to the repository root, or absolute
    arms: list[Arm]
    measure: Callable[[RetailMarket], dict[str, float]]
    outcomes: dict[str, str]  # outcome name -> what it means, in the order to report
    base_overrides: dict[str, Any] = field(default_factory=dict)
    # what the experiment does to a running model, by week: each is called after that week's step
    interventions: dict[int, Callable[[RetailMarket], None]] = field(default_factory=dict)
    replications: int = 20
    master_seed: int = 20_261_123
    source: str | None = None  # the file that declares it (set by load_experiment)

    def scenario_for(self, arm: Arm) -> Scenario:
        path = Path(self.scenario)
        base = load(path if path.is_absolute() else REPO_ROOT / path)
        return base.with_overrides({**self.base_overrides, **arm.overrides}, source=f"{self.name}:{arm.label}")

    def seed(self, replication: int) -> int:
        """The seed of one replication: the same in every arm (common random numbers)."""
        seq = np.random.SeedSequence(entropy=self.master_seed, spawn_key=(replication,))
        return int(seq.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


_LOADED: dict[str, Experiment] = {}


def _run_task(task: tuple[str, dict[str, Any], str, int]) -> dict[str, Any]:
    """Worker side: load the declaration from its file (once per process) and run one arm × replication."""
    source, base_overrides, label, replication = task
    if source not in _LOADED:
        _LOADED[source] = load_experiment(source)[0]
    experiment = dataclasses.replace(_LOADED[source], base_overrides=base_overrides)
    arm = next(a for a in experiment.arms if a.label == label)
    return _run_one((experiment, arm, replication))


def _run_one(task: tuple[Experiment, Arm, int]) -> dict[str, Any]:
    experiment, arm, replication = task
    seed = experiment.seed(replication)
    model = RetailMarket(experiment.scenario_for(arm), seed=seed)

    def intervene(week: int) -> None:
        if week in experiment.interventions:
            experiment.interventions[week](model)

    model.run(progress=intervene)
    return {"arm": arm.label, "replication": replication, "seed": seed, **experiment.measure(model)}


def run(experiment: Experiment, replications: int | None = None, workers: int | None = None,
        progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Run every arm × replication; one row per run, sorted by arm and replication."""
    n_rep = experiment.replications if replications is None else replications
    for arm in experiment.arms:  # fail fast on a bad override, before starting workers
        steps = experiment.scenario_for(arm).steps
        late = sorted(w for w in experiment.interventions if not 1 <= w <= steps)
        if late:
            raise ScenarioError(f"steps: experiment {experiment.name} intervenes at week(s) "
                                f"{', '.join(map(str, late))}, but arm {arm.label!r} runs weeks 1–{steps}; "
                                f"steps must be at least {max(late)}")
    tasks = [(experiment, arm, rep) for rep in range(n_rep) for arm in experiment.arms]
    workers = workers or min(len(tasks), os.cpu_count() or 1)
    rows = []
    if workers == 1 or experiment.source is None:
        for i, task in enumerate(tasks):
            rows.append(_run_one(task))
            if progress:
                progress(i + 1, len(tasks))
    else:
        # fresh worker processes (spawn): forking a process that runs compiled threads can deadlock
        jobs = [(experiment.source, experiment.base_overrides, arm.label, rep) for _, arm, rep in tasks]
        with worker_pool(workers) as pool:
            for i, row in enumerate(pool.map(_run_task, jobs)):
                rows.append(row)
                if progress:
                    progress(i + 1, len(tasks))
    order = {arm.label: i for i, arm in enumerate(experiment.arms)}
    frame = pd.DataFrame(rows)
    return frame.sort_values(["arm", "replication"], key=lambda s: s.map(order) if s.name == "arm" else s,
                             ignore_index=True)


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and the t-based confidence interval of the mean."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(values.mean())
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))
    return mean, mean - half, mean + half


def summarise(frame: pd.DataFrame, outcomes: list[str]) -> pd.DataFrame:
    """Mean and 95 % CI of each outcome in each arm (arms in the frame's order)."""
    rows = []
    for arm, group in frame.groupby("arm", sort=False):
        for outcome in outcomes:
            mean, low, high = mean_ci(group[outcome].to_numpy())
            rows.append({"arm": arm, "outcome": outcome, "mean": mean, "ci_low": low, "ci_high": high,
                         "n": int(group[outcome].notna().sum())})
    return pd.DataFrame(rows)


def paired_difference(frame: pd.DataFrame, outcome: str, arm_a: str, arm_b: str) -> tuple[float, float, float]:
    """Mean and 95 % CI of (arm_a − arm_b) over replications run on the same seeds."""
    a = frame[frame["arm"] == arm_a].set_index("replication")[outcome]
    b = frame[frame["arm"] == arm_b].set_index("replication")[outcome]
    return mean_ci((a - b).dropna().to_numpy())


def load_experiment(name_or_path: str) -> tuple[Experiment, Any]:
    """The experiment declared in ``experiments/NAME.py`` (or a path), and its module."""
    path = Path(name_or_path)
    if path.suffix != ".py":
        path = Path.cwd() / "experiments" / f"{name_or_path}.py"
        if not path.is_file():
            path = REPO_ROOT / "experiments" / f"{name_or_path}.py"
    if not path.is_file():
        known = sorted(p.stem for p in (REPO_ROOT / "experiments").glob("*.py") if not p.stem.startswith("_"))
        raise FileNotFoundError(f"no experiment {name_or_path!r}; known: {', '.join(known)}")
    root = str(path.resolve().parent.parent)
    if root not in sys.path:  # experiments import their shared helpers as a package
        sys.path.insert(0, root)
    name = f"experiments.{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    module.EXPERIMENT.source = str(path.resolve())
    return module.EXPERIMENT, module


def fmt_ci(mean: float, low: float, high: float, scale: float = 1.0, digits: int = 3) -> str:
    if not np.isfinite(mean):
        return "–"
    if not np.isfinite(low):
        return f"{mean * scale:.{digits}f}"
    return f"{mean * scale:.{digits}f} [{low * scale:.{digits}f}, {high * scale:.{digits}f}]"


@dataclass
class Finding:
    """A stated effect with its estimate: does the confidence interval agree with the claim?"""

    statement: str
    mean: float
    ci_low: float
    ci_high: float
    expected_sign: int  # +1: the claim says positive, −1: negative, 0: no effect (the CI holds 0)
    scale: float = 100.0
    unit: str = " points"
    # a published range the figure should fall in (in the figure's own units, before ``scale``), and its source:
    # then the finding holds when the mean lies in it, whatever ``expected_sign``
    within: tuple[float, float] | None = None
    source: str = ""

    @property
    def holds(self) -> bool:
        if self.within is not None:
            return bool(np.isfinite(self.mean) and self.within[0] <= self.mean <= self.within[1])
        if not np.isfinite(self.ci_low):
            return False
        if self.expected_sign == 0:
            return self.ci_low <= 0 <= self.ci_high
        return self.ci_low > 0 if self.expected_sign > 0 else self.ci_high < 0


def report_markdown(experiment: Experiment, frame: pd.DataFrame, findings: list[Finding]) -> str:
    """The experiment's markdown report: claim, design, table of means with 95 % CIs, findings."""
    arms = list(dict.fromkeys(frame["arm"]))
    n_rep = frame.groupby("arm").size().min()
    lines = [
        f"# {experiment.title}",
        "",
        f"**Claim.** {experiment.claim}",
        "",
        f"**Design.** Base scenario `{experiment.scenario}`"
        + (f" with {_describe(experiment.base_overrides)}" if experiment.base_overrides else "") + "; arms: "
        + "; ".join(f"`{a.label}` ({_describe(a.overrides) or 'as the base'})" for a in experiment.arms)
        + f". {n_rep} replications per arm on common seeds (master seed {experiment.master_seed}).",
        "",
        "| arm | " + " | ".join(experiment.outcomes.values()) + " |",
        "|---|" + "---|" * len(experiment.outcomes),
    ]
    for arm in arms:
        rows = frame[frame["arm"] == arm]
        cells = [fmt_ci(*mean_ci(rows[o].to_numpy()), scale=_scale(o), digits=_digits(o))
                 for o in experiment.outcomes]
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    lines += ["", "Means with 95 % confidence intervals (t distribution over replications); rates in %.", "",
              "## Findings", ""]
    for f in findings:
        verdict = "holds" if f.holds else "NOT shown"
        if f.within is not None:
            verdict = "within" if f.holds else "OUTSIDE"
            lo, hi = (f"{v * f.scale:.2f}".rstrip("0").rstrip(".") for v in f.within)
            verdict = f"{verdict} the published {lo}–{hi}{f.unit}" + (f" ({f.source})" if f.source else "")
        lines.append(f"- {f.statement}: {fmt_ci(f.mean, f.ci_low, f.ci_high, scale=f.scale, digits=2)}{f.unit} "
                     f"— **{verdict}**")
    return "\n".join(lines) + "\n"


def _is_rate(outcome: str) -> bool:
    """Outcomes are rates (shown in %) unless named as counts, money (also per m²) or weeks."""
    return not (outcome.startswith("n_") or outcome.endswith(("_eur", "_count", "_weeks")) or "_per_m2" in outcome)


def _scale(outcome: str) -> float:
    return 100.0 if _is_rate(outcome) else 1.0


def _digits(outcome: str) -> int:
    return 0 if outcome.endswith("_eur") else 2


def _describe(overrides: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in overrides.items())


def write_report(experiment: Experiment, module: Any, frame: pd.DataFrame, out: Path) -> list[Finding]:
    """runs.csv, summary.csv, report.md and figure.png into ``out``, atomically."""
    from sim.outputs import atomic_directory

    findings = module.findings(frame) if hasattr(module, "findings") else []
    with atomic_directory(out, "experiment") as tmp:
        frame.to_csv(tmp / "runs.csv", index=False, float_format="%.10g")
        summarise(frame, list(experiment.outcomes)).to_csv(tmp / "summary.csv", index=False, float_format="%.10g")
        (tmp / "report.md").write_text(report_markdown(experiment, frame, findings))
        module.figure(frame, tmp / "figure.png")
    return findings
