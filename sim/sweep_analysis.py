"""The analysis of a finished sweep: runs.parquet, means with 95 % CIs, sensitivity indices, figures.

Kept apart from the execution (:mod:`sim.sweep`): it reads the gathered runs and
writes tables and figures, and can be rerun on the same runs at no cost.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.experiment import mean_ci
from sim.sweep import Sweep, design_matrix, salib_problem, write_atomically


def write_results(sweep: Sweep, out: Path, frame: pd.DataFrame) -> list[str]:
    """Write runs.parquet, summary.csv, report.md and the design's figure; the names written."""
    written = ["runs.parquet", "summary.csv", "report.md"]
    write_atomically(out / "runs.parquet", lambda tmp: frame.to_parquet(tmp, index=False))
    summary = level_summary(sweep, frame)
    write_atomically(out / "summary.csv", lambda tmp: summary.to_csv(tmp, index=False, float_format="%.10g"))
    method = sweep.spec.design.method
    indices = None
    if method in ("morris", "sobol"):
        indices = sensitivity(sweep, frame)
        write_atomically(out / "sensitivity.csv", lambda tmp: indices.to_csv(tmp, index=False, float_format="%.10g"))
        write_atomically(out / f"{method}.png", lambda tmp: sensitivity_figure(sweep, indices, tmp))
        written += ["sensitivity.csv", f"{method}.png"]
    elif method == "full_factorial":
        write_atomically(out / "main_effects.png", lambda tmp: main_effects_figure(sweep, summary, tmp))
        written.append("main_effects.png")
    fit = target_fit(sweep, frame) if sweep.spec.targets else None
    if fit is not None:
        write_atomically(out / "targets.csv", lambda tmp: fit.to_csv(tmp, index=False, float_format="%.10g"))
        written.append("targets.csv")
    write_atomically(out / "report.md", lambda tmp: Path(tmp).write_text(report(sweep, frame, summary, indices, fit)))
    return written


def target_fit(sweep: Sweep, frame: pd.DataFrame) -> pd.DataFrame:
    """Each design point against the published ranges of ``targets``, nearest first: its factor values; for
    each target its mean over replications with a 95 % CI, and its distance from the range's middle in
    half-widths (``TARGET_z``: within the range when at most 1 in size); how many targets its mean falls
    within, and ``rms_z``, the root mean square of the distances, by which the points are ranked."""
    rows = []
    for point, runs in frame.groupby("point", sort=True):
        row: dict = {"point": int(point)} | {f: runs[f].iloc[0] for f in sweep.factor_names}
        z = []
        for name, target in sweep.spec.targets.items():
            mean, low, high = mean_ci(runs[name].to_numpy(dtype=float))
            middle, half = (target.low + target.high) / 2, (target.high - target.low) / 2
            row |= {f"{name}_mean": mean, f"{name}_ci_low": low, f"{name}_ci_high": high,
                    f"{name}_z": (mean - middle) / half}
            z.append(row[f"{name}_z"])
        z = np.array(z, dtype=float)
        row["n_within"] = int((np.abs(z) <= 1).sum())
        row["rms_z"] = float(np.sqrt(np.mean(z ** 2)))  # NaN when a target's mean is missing: ranked last
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["rms_z", "point"], na_position="last", kind="stable")


def point_means(sweep: Sweep, frame: pd.DataFrame) -> pd.DataFrame:
    """Mean of each output over replications, one row per design point, in design order."""
    outputs = sweep.output_columns()
    return frame.groupby("point", sort=True)[outputs].mean()


def level_summary(sweep: Sweep, frame: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95 % CI of each output at each level of each factor (over all other factors
    and replications). Sampled designs have no levels: one row per output over all runs."""
    rows = []
    outputs = sweep.output_columns()
    if sweep.spec.design.method == "full_factorial":
        for factor in sweep.factor_names:
            for level, group in frame.groupby(factor, sort=True):
                for output in outputs:
                    mean, low, high = mean_ci(group[output].to_numpy(dtype=float))
                    rows.append({"factor": factor, "level": level, "output": output, "mean": mean,
                                 "ci_low": low, "ci_high": high, "n": int(group[output].notna().sum())})
    else:
        for output in outputs:
            mean, low, high = mean_ci(frame[output].to_numpy(dtype=float))
            rows.append({"factor": "(all runs)", "level": "", "output": output, "mean": mean, "ci_low": low,
                         "ci_high": high, "n": int(frame[output].notna().sum())})
    return pd.DataFrame(rows)


def sensitivity(sweep: Sweep, frame: pd.DataFrame) -> pd.DataFrame:
    """Morris elementary effects (mu*, sigma) or Sobol indices (S1, ST) of each factor on each output,
    with 95 % confidence half-widths from SALib's bootstrap."""
    design = sweep.spec.design
    problem = salib_problem(sweep)
    x = design_matrix(sweep)
    means = point_means(sweep, frame)
    rows = []
    for output in sweep.output_columns():
        y = means[output].to_numpy(dtype=float)
        if not np.all(np.isfinite(y)):  # SALib cannot skip points; say so rather than guess
            rows += [{"output": output, "factor": f, "note": "output undefined at some points"}
                     for f in problem["names"]]
            continue
        if design.method == "morris":
            from SALib.analyze import morris

            res = morris.analyze(problem, x, y, num_levels=design.grid_levels, conf_level=0.95, seed=design.seed)
            for i, factor in enumerate(problem["names"]):
                rows.append({"output": output, "factor": factor, "mu": res["mu"][i], "mu_star": res["mu_star"][i],
                             "mu_star_conf": res["mu_star_conf"][i], "sigma": res["sigma"][i]})
        else:
            from SALib.analyze import sobol

            res = sobol.analyze(problem, y, calc_second_order=False, conf_level=0.95, seed=design.seed)
            for i, factor in enumerate(problem["names"]):
                rows.append({"output": output, "factor": factor, "S1": res["S1"][i], "S1_conf": res["S1_conf"][i],
                             "ST": res["ST"][i], "ST_conf": res["ST_conf"][i]})
    return pd.DataFrame(rows)


# ---- figures -----------------------------------------------------------------------------

def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _grid(n: int):
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    return rows, cols


def main_effects_figure(sweep: Sweep, summary: pd.DataFrame, path) -> None:
    """One panel per output and factor: the output's mean at each level with its 95 % CI."""
    plt = _plt()
    outputs, factors = sweep.output_columns(), sweep.factor_names
    fig, axes = plt.subplots(len(outputs), len(factors), figsize=(3.6 * len(factors), 2.6 * len(outputs)),
                             squeeze=False)
    for i, output in enumerate(outputs):
        for j, factor in enumerate(factors):
            ax = axes[i][j]
            rows = summary[(summary["output"] == output) & (summary["factor"] == factor)]
            positions = np.arange(len(rows))
            err = np.vstack([rows["mean"] - rows["ci_low"], rows["ci_high"] - rows["mean"]])
            ax.errorbar(positions, rows["mean"], yerr=np.nan_to_num(err), fmt="o-", capsize=4)
            ax.set_xticks(positions, [_label(v) for v in rows["level"]], fontsize=8)
            if i == len(outputs) - 1:
                ax.set_xlabel(factor, fontsize=9)
            if j == 0:
                ax.set_ylabel(output, fontsize=9)
            ax.grid(alpha=0.3)
    fig.suptitle(f"{sweep.spec.name}: main effects (means with 95 % CIs)")
    fig.tight_layout()
    fig.savefig(path, dpi=90, format="png")
    plt.close(fig)


def sensitivity_figure(sweep: Sweep, indices: pd.DataFrame, path) -> None:
    """Morris: mu* against sigma per output. Sobol: first-order and total indices with 95 % CIs."""
    plt = _plt()
    outputs = sweep.output_columns()
    names = _short_names(sweep.factor_names)
    n_rows, n_cols = _grid(len(outputs))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4.6 * n_cols, 3.6 * n_rows), squeeze=False)
    for k, output in enumerate(outputs):
        ax = axes[k // n_cols][k % n_cols]
        rows = indices[indices["output"] == output]
        if "mu_star" in rows and rows["mu_star"].notna().any():
            ax.errorbar(rows["mu_star"], rows["sigma"], xerr=rows["mu_star_conf"], fmt="o", capsize=3)
            for _, r in rows.iterrows():
                ax.annotate(names[r["factor"]], (r["mu_star"], r["sigma"]), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")
            ax.set_xlabel("μ* (mean |elementary effect|)")
            ax.set_ylabel("σ (non-linearity, interactions)")
        elif "S1" in rows and rows["S1"].notna().any():
            y = np.arange(len(rows))
            ax.barh(y - 0.2, rows["S1"], height=0.4, xerr=rows["S1_conf"], label="first order S1", capsize=3)
            ax.barh(y + 0.2, rows["ST"], height=0.4, xerr=rows["ST_conf"], label="total ST", capsize=3)
            ax.set_yticks(y, [names[f] for f in rows["factor"]], fontsize=8)
            ax.set_xlabel("share of output variance")
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "undefined at some points", ha="center", transform=ax.transAxes)
        ax.set_title(output, fontsize=10)
        ax.grid(alpha=0.3)
    for k in range(len(outputs), n_rows * n_cols):
        axes[k // n_cols][k % n_cols].axis("off")
    fig.suptitle(f"{sweep.spec.name}: {sweep.spec.design.method} sensitivity")
    fig.tight_layout()
    fig.savefig(path, dpi=90, format="png")
    plt.close(fig)


def _short_names(factors: list[str]) -> dict[str, str]:
    """Each factor's last key part where those are unique (figures have little room), else its full key."""
    short = {f: f.rsplit(".", 1)[-1] for f in factors}
    return short if len(set(short.values())) == len(short) else {f: f for f in factors}


def _label(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# ---- report -----------------------------------------------------------------------------

def report(sweep: Sweep, frame: pd.DataFrame, summary: pd.DataFrame, indices: pd.DataFrame | None,
           fit: pd.DataFrame | None = None) -> str:
    spec = sweep.spec
    n_points = frame["point"].nunique()
    lines = [f"# Sweep `{spec.name}`", ""]
    if spec.description:
        lines += [spec.description.strip(), ""]
    lines += [f"**Design.** {spec.design.method.replace('_', ' ')} over "
              + ", ".join(f"`{f}`" for f in sweep.factor_names)
              + f"; {n_points} design points × {spec.replications} replications = {len(frame)} runs; "
              f"base scenario `{spec.scenario}`; master seed {spec.master_seed}"
              + ("; common random numbers across points." if spec.common_random_numbers else "."), "",
              "## Means with 95 % confidence intervals", "",
              "| factor | level | " + " | ".join(sweep.output_columns()) + " |",
              "|---|---|" + "---|" * len(sweep.output_columns())]
    for (factor, level), rows in summary.groupby(["factor", "level"], sort=False):
        cells = [_ci(r) for _, r in rows.iterrows()]
        lines.append(f"| {factor} | {_label(level)} | " + " | ".join(cells) + " |")
    if indices is not None and len(indices):
        lines += ["", f"## {spec.design.method.capitalize()} sensitivity indices", ""]
        cols = [c for c in ("mu_star", "mu_star_conf", "sigma", "S1", "S1_conf", "ST", "ST_conf") if c in indices]
        lines += ["| output | factor | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
        for _, r in indices.iterrows():
            lines.append(f"| {r['output']} | {r['factor']} | "
                         + " | ".join("–" if pd.isna(r.get(c)) else f"{r[c]:.4g}" for c in cols) + " |")
    if fit is not None and len(fit):
        lines += _target_lines(sweep, fit)
    return "\n".join(lines) + "\n"


def _target_lines(sweep: Sweep, fit: pd.DataFrame, shown: int = 10) -> list[str]:
    targets = sweep.spec.targets
    lines = ["", "## Against the published ranges", "",
             "| target | low | high | source |", "|---|---|---|---|"]
    lines += [f"| {name} | {t.low:.4g} | {t.high:.4g} | {t.source} |" for name, t in targets.items()]
    lines += ["", f"Design points nearest the ranges first ({min(shown, len(fit))} of {len(fit)}; `rms_z` is the "
              "root mean square distance of the means from the ranges' middles in half-widths; a mean is within "
              "its range at a distance of at most 1):", "",
              "| " + " | ".join([*sweep.factor_names, *targets, "within", "rms_z"]) + " |",
              "|" + "---|" * (len(sweep.factor_names) + len(targets) + 2)]
    for _, r in fit.head(shown).iterrows():
        cells = [_label(r[f]) for f in sweep.factor_names]
        cells += [_ci(pd.Series({"mean": r[f"{n}_mean"], "ci_low": r[f"{n}_ci_low"], "ci_high": r[f"{n}_ci_high"]}))
                  for n in targets]
        lines.append("| " + " | ".join([*cells, f"{int(r['n_within'])} of {len(targets)}", f"{r['rms_z']:.3g}"]) + " |")
    best = fit.iloc[0]
    lines += ["", "Nearest: " + ", ".join(f"`{f}` = {_label(best[f])}" for f in sweep.factor_names)
              + f", within {int(best['n_within'])} of {len(targets)} ranges."]
    return lines


def _ci(row: pd.Series) -> str:
    if not np.isfinite(row["mean"]):
        return "–"
    if not np.isfinite(row["ci_low"]):
        return f"{row['mean']:.4g}"
    return f"{row['mean']:.4g} [{row['ci_low']:.4g}, {row['ci_high']:.4g}]"
