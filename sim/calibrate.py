"""Calibration of online adoption and channel preference to an observed online-share series.

Method: rejection approximate Bayesian computation (ABC) with a simulated-method-of-
moments distance (Beaumont, Zhang and Balding 2002; for agent-based models see
Grazzini, Richiardi and Tsionas 2017, and Lux and Zwinkels 2018).

1. **Prior.** Each calibrated parameter is uniform on the range its factor declares.
2. **Simulation.** A Latin hypercube of design points over the prior box; each point
   is run (with common random numbers) and yields the annual online share of sales
   (online sales / all sales in each model year; year 1 stands for ``first_year``).
3. **Distance.** The root mean square difference, in percentage points, between the
   simulated and the observed annual shares over the fitted years (the moments are the
   yearly levels; every year weighs the same).
4. **Rejection.** The ``accept_share`` of points closest to the data form the
   approximate posterior; its median and 5 and 95 % quantiles show how well the data
   pin each parameter down.
5. **Choice and check.** The parameters trade off against each other, so the
   posterior medians taken one by one need not fit well together. The ``candidates``
   closest accepted points (values to three significant figures) are each run again
   ``check_replications`` times on fresh seeds, and the one with the lowest mean
   distance is the calibrated set. The fit figure shows the data, the accepted runs
   and the calibrated set's mean with its 95 % confidence band.

Years with shocks the model has no mechanism for (the 2020-2021 lockdowns) are left
out with ``exclude_years`` and shown on the figure as hollow points, not fitted.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.experiment import mean_ci
from sim.sweep import RunTask, Sweep, run_dask, run_local, run_seed, write_atomically
from sim.sweep_analysis import point_means


def observed(sweep: Sweep) -> pd.DataFrame:
    """The observed series: year, value (in model units), whether it is fitted (its columns and years
    were checked when the sweep was loaded)."""
    target = sweep.spec.calibration
    data = pd.read_csv((sweep.path.parent / target.data).resolve(), comment="#")
    frame = pd.DataFrame({"year": data[target.year_column].astype(int),
                          "value": data[target.value_column].astype(float) * target.value_scale})
    first, last = target.fit_years
    frame["fitted"] = frame["year"].between(first, last) & ~frame["year"].isin(target.exclude_years)
    return frame


def _columns(sweep: Sweep, years: pd.Series) -> list[str]:
    return [f"online_share_y{year - sweep.spec.calibration.first_year + 1}" for year in years]


def distance(sweep: Sweep, simulated: pd.DataFrame) -> pd.Series:
    """RMSE (percentage points) between each row's simulated shares and the fitted observations."""
    obs = observed(sweep)
    fitted = obs[obs["fitted"]]
    sim = simulated[_columns(sweep, fitted["year"])].to_numpy(dtype=float)
    error = (sim - fitted["value"].to_numpy()) * 100
    return pd.Series(np.sqrt(np.mean(error**2, axis=1)), index=simulated.index, name="distance_pp")


def posterior(sweep: Sweep, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each design point with its factors and distance (accepted flagged), and the posterior summary."""
    means = point_means(sweep, frame)
    factors = frame.groupby("point", sort=True)[sweep.factor_names].first()
    points = factors.join(distance(sweep, means))
    n_accept = max(2, math.ceil(sweep.spec.calibration.accept_share * len(points)))
    points["accepted"] = points["distance_pp"].rank(method="first") <= n_accept
    accepted = points[points["accepted"]]
    rows = []
    for factor in sweep.factor_names:
        rng = sweep.spec.factors[factor]
        values = accepted[factor]
        rows.append({"parameter": factor, "prior_low": rng.low, "prior_high": rng.high,
                     "median": float(values.median()), "q05": float(values.quantile(0.05)),
                     "q95": float(values.quantile(0.95)), "best": float(accepted.sort_values("distance_pp")
                                                                         [factor].iloc[0])})
    return points, pd.DataFrame(rows)


def candidate_values(sweep: Sweep, points: pd.DataFrame) -> list[dict[str, float]]:
    """The closest accepted points' parameters, to three significant figures, closest first."""
    best = points[points["accepted"]].sort_values("distance_pp").head(sweep.spec.calibration.candidates)
    return [{f: _three_figures(row[f]) for f in sweep.factor_names} for _, row in best.iterrows()]


def _three_figures(value: float) -> float:
    return float(f"{value:.3g}")


def check_runs(sweep: Sweep, values: dict[str, float], workers: int | None,
               scheduler: str | None = None) -> pd.DataFrame:
    """Run the calibrated scenario ``check_replications`` times on fresh seeds; yearly shares per run."""
    scenario = sweep.base_scenario.with_overrides(values, source="calibrated values").model_dump(mode="json")
    columns = [c for c in sweep.output_columns() if c.startswith("online_share_y")]
    tasks = []
    for rep in range(sweep.spec.calibration.check_replications):
        seed = run_seed(sweep.spec.master_seed, f"check={rep}")
        tasks.append(RunTask(key=f"check-{rep:03d}", point=-1, replication=rep, seed=seed, factors=values,
                             payload={"scenario": scenario, "seed": seed, "outputs": columns}))
    rows: dict[int, dict[str, Any]] = {}
    errors = []

    def on_result(task: RunTask, result: dict[str, Any] | None, error: str | None) -> None:
        if error:
            errors.append(f"{task.key}: {error}")
        else:
            rows[task.replication] = result["outputs"]

    if scheduler:
        run_dask(tasks, scheduler, on_result, f"check-{_digest(values)}")
    else:
        run_local(tasks, max(1, min(workers or os.cpu_count() or 1, len(tasks))), on_result)
    if errors:
        raise RuntimeError("check runs failed: " + "; ".join(errors))
    return pd.DataFrame([rows[k] for k in sorted(rows)])


def _digest(values: dict[str, float]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:12]


def write_calibration(sweep: Sweep, out: Path, frame: pd.DataFrame, workers: int | None = None,
                      scenario_path: Path | None = None, scheduler: str | None = None) -> dict[str, Any]:
    """posterior.csv, points.csv, check.csv, fit.png, calibration.md and calibrated.toml into ``out``."""
    points, summary = posterior(sweep, frame)
    tried = []
    for values in candidate_values(sweep, points):
        checks = check_runs(sweep, values, workers, scheduler)
        tried.append((values, checks, distance(sweep, checks)))
    values, checks, check_distance = min(tried, key=lambda t: t[2].mean())
    fit = mean_ci(check_distance.to_numpy())
    scenario_text = calibrated_scenario(sweep, values, fit)
    write_atomically(out / "points.csv", lambda tmp: points.to_csv(tmp, float_format="%.10g"))
    write_atomically(out / "posterior.csv", lambda tmp: summary.to_csv(tmp, index=False, float_format="%.10g"))
    write_atomically(out / "check.csv", lambda tmp: checks.assign(distance_pp=check_distance)
             .to_csv(tmp, index=False, float_format="%.10g"))
    write_atomically(out / "fit.png", lambda tmp: fit_figure(sweep, frame, points, checks, tmp))
    write_atomically(out / "calibrated.toml", lambda tmp: Path(tmp).write_text(scenario_text))
    write_atomically(out / "calibration.md",
             lambda tmp: Path(tmp).write_text(report(sweep, points, summary, values, tried)))
    if scenario_path is not None:
        scenario_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(scenario_path, lambda tmp: Path(tmp).write_text(scenario_text))
    return {"values": values, "distance_pp": fit, "n_accepted": int(points["accepted"].sum())}


def calibrated_scenario(sweep: Sweep, values: dict[str, float], fit: tuple[float, float, float]) -> str:
    """The base scenario with the calibrated values, fully resolved, under a header that says how."""
    target = sweep.spec.calibration
    described = f"{sweep.spec.description} (calibrated: {len(values)} parameters fitted, see the header)".strip()
    scenario = sweep.base_scenario.with_overrides(
        {**values, "name": f"{sweep.spec.name}_calibrated", "description": described}, source="calibrated values")
    header = [
        f"# Calibrated by `retailsim calibrate {sweep.path.stem}` (rejection ABC, see docs/calibration.md).",
        f"# Target: {target.data}, years {target.fit_years[0]}-{target.fit_years[1]}"
        + (f" without {', '.join(map(str, target.exclude_years))}" if target.exclude_years else "")
        + f"; model year 1 = {target.first_year}.",
        "# Calibrated values (the best-fitting of the closest accepted points): "
        + ", ".join(f"{k} = {v:g}" for k, v in values.items()) + ".",
        f"# Fit of the calibrated scenario: RMSE {fit[0]:.2f} percentage points "
        f"(95 % CI {fit[1]:.2f} to {fit[2]:.2f}) over {target.check_replications} replications.",
        "# Regenerate with the command above; do not edit by hand.",
        "",
    ]
    return "\n".join(header) + scenario.to_toml()


def fit_figure(sweep: Sweep, frame: pd.DataFrame, points: pd.DataFrame, checks: pd.DataFrame, path) -> None:
    """Observed series, accepted runs (thin lines) and the calibrated runs' mean with a 95 % band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    obs = observed(sweep)
    first = sweep.spec.calibration.first_year
    sim_cols = [c for c in sweep.output_columns() if c.startswith("online_share_y")]
    years = np.array([first + int(c.removeprefix("online_share_y")) - 1 for c in sim_cols])
    means = point_means(sweep, frame)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [3, 2]})
    for point in points.index[points["accepted"]]:
        ax.plot(years, means.loc[point, sim_cols] * 100, color="tab:blue", alpha=0.2, lw=0.8)
    band = np.array([mean_ci(checks[c].to_numpy(dtype=float)) for c in sim_cols]) * 100
    ax.fill_between(years, band[:, 1], band[:, 2], color="tab:orange", alpha=0.35, label="calibrated: 95 % CI")
    ax.plot(years, band[:, 0], color="tab:orange", lw=2, label="calibrated: mean")
    ax.plot([], [], color="tab:blue", alpha=0.5, label="accepted design points")
    fitted, other = obs[obs["fitted"]], obs[~obs["fitted"]]
    ax.plot(fitted["year"], fitted["value"] * 100, "ko", label="observed (fitted)")
    ax.plot(other["year"], other["value"] * 100, "o", mfc="none", mec="black", label="observed (not fitted)")
    ax.set_xlabel("year")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("online share of retail sales (%)")
    ax.set_title("Fit to the observed online share")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    x = sweep.factor_names[0]
    y = sweep.factor_names[1] if len(sweep.factor_names) > 1 else "distance_pp"  # one factor: against distance
    ax2.scatter(points[x], points[y], c="lightgrey", s=14, label="prior sample")
    acc = points[points["accepted"]]
    sc = ax2.scatter(acc[x], acc[y], c=acc["distance_pp"], cmap="viridis_r", s=28, label="accepted")
    fig.colorbar(sc, ax=ax2, label="distance (RMSE, points)")
    ax2.set_xlabel(x)
    ax2.set_ylabel(y if y != "distance_pp" else "distance (RMSE, points)")
    ax2.set_title("Approximate posterior")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90, format="png")
    plt.close(fig)


def report(sweep: Sweep, points: pd.DataFrame, summary: pd.DataFrame, values: dict[str, float],
           tried: list[tuple[dict[str, float], pd.DataFrame, pd.Series]]) -> str:
    target = sweep.spec.calibration
    best = points["distance_pp"].min()
    lines = [
        f"# Calibration `{sweep.spec.name}`", "",
        f"Rejection ABC on {len(points)} design points ({sweep.spec.design.method}); "
        f"the {int(points['accepted'].sum())} closest "
        f"({target.accept_share:.0%}) are accepted. Target `{target.data}`, years {target.fit_years[0]}–"
        f"{target.fit_years[1]}" + (f" without {', '.join(map(str, target.exclude_years))}"
                                    if target.exclude_years else "")
        + f"; model year 1 = {target.first_year}. Distance: RMSE of the annual online share, percentage points.",
        "",
        "| parameter | prior | posterior median [5 %, 95 %] | best point | calibrated |",
        "|---|---|---|---|---|",
    ]
    for row in summary.itertuples():
        lines.append(f"| `{row.parameter}` | [{row.prior_low:g}, {row.prior_high:g}] | {row.median:.4g} "
                     f"[{row.q05:.4g}, {row.q95:.4g}] | {row.best:.4g} | {values[row.parameter]:g} |")
    lines += ["", f"Closest design point: RMSE {best:.2f} points. Accepted points: RMSE up to "
                  f"{points.loc[points['accepted'], 'distance_pp'].max():.2f} points.", "",
              f"## Candidates, each run {target.check_replications} times on fresh seeds", "",
              "| " + " | ".join(f"`{f}`" for f in sweep.factor_names) + " | RMSE, points [95 % CI] | |",
              "|" + "---|" * (len(sweep.factor_names) + 2)]
    for candidate, _, dist in tried:
        mean, low, high = mean_ci(dist.to_numpy())
        chosen = "**calibrated**" if candidate == values else ""
        lines.append("| " + " | ".join(f"{candidate[f]:g}" for f in sweep.factor_names)
                     + f" | {mean:.2f} [{low:.2f}, {high:.2f}] | {chosen} |")
    return "\n".join(lines) + "\n"
