"""Run outputs: tidy tables, summary.json, the dashboard and the resolved scenario.

Everything is written into a temporary folder beside the destination and moved into
place only when complete, so a failed run leaves no half-written folder and never
damages the results of an earlier run in the same place.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sim import __version__
from sim.metrics import ALL, final_year_summary

if TYPE_CHECKING:
    from sim.model import RetailMarket


@contextmanager
def atomic_directory(dest: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary folder that replaces ``dest`` only if the block succeeds."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.replace(dest, old)
    os.replace(tmp, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build_summary(model: RetailMarket, frame: pd.DataFrame, runtime_s: float) -> dict[str, Any]:
    """summary.json: run identity, then final-year figures (rates as fractions)."""
    return {
        "scenario": model.config.name,
        "seed": model.seed,
        "version": __version__,
        "steps": int(model.week),
        "n_consumers": int(model.population.n),
        "runtime_s": round(runtime_s, 3),
        **final_year_summary(model, frame),
    }


def write_run(model: RetailMarket, out: str | Path, runtime_s: float, figure: bool = True) -> dict[str, Any]:
    """Write the whole output contract for a finished model into ``out``, atomically."""
    frame = model.metrics.to_frame()
    summary = build_summary(model, frame, runtime_s)
    with atomic_directory(out) as tmp:
        frame.to_parquet(tmp / "metrics.parquet", index=False)
        frame.to_csv(tmp / "metrics.csv", index=False, float_format="%.10g")
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        for name, records, columns in (
            ("switching.csv", model.switching_records, ["week", "from", "to", "n_consumers"]),
            ("flows.csv", model.flow_records, ["week", "from", "to", "n_purchases"]),
            ("events.csv", model.closures_and_events(), ["week", "retailer", "event"]),
            ("vacancy_by_town.csv", model.town_records,
             ["week", "town", "n_sites", "n_vacant", "vacancy_rate", "vacancy_rate_floor"]),
        ):
            pd.DataFrame.from_records(records, columns=columns).to_csv(tmp / name, index=False)
        (tmp / "scenario.toml").write_text(
            f"# Fully resolved scenario of run seed={model.seed}; repeat it with:\n"
            f"#   retailsim run scenario.toml --seed {model.seed}\n" + model.config.to_toml()
        )
        if figure:
            dashboard(model, frame, tmp / "dashboard.png")
            map_figure(model, tmp / "map.png")
    return summary


# ---- final-year figures as one record ----------------------------------------------

MARKET_FIGURES = ("online_share", "vacancy_rate", "vacancy_rate_floor", "main_switching_rate", "attrition_rate",
                  "operating_margin", "share_no_store_nearby", "mean_nearest_store_km", "stores_closed",
                  "stores_opened")
RETAILER_FIGURES = ("revenue_share", "attrition_rate", "gross_margin", "operating_margin", "stores_open")


def final_figures(model: RetailMarket, frame: pd.DataFrame) -> dict[str, float | None]:
    """The final-year figures as one flat record: market figures by name, vacancy by zone as
    ``vacancy_rate_ZONE``, and each retailer's as ``NAME.figure`` (rates as fractions)."""
    summary = final_year_summary(model, frame)
    last_week = int(frame["week"].max())
    market_year = frame[(frame["retailer"] == ALL) & (frame["week"] > last_week - 52)]
    revenue = float(market_year["revenue_eur"].sum())
    summary["operating_margin"] = (round(float(market_year["operating_profit_eur"].sum()) / revenue, 6)
                                   if revenue > 0 else None)
    row: dict[str, float | None] = {key: summary.get(key) for key in MARKET_FIGURES}
    for zone, value in summary["vacancy_rate_by_zone"].items():
        row[f"vacancy_rate_{zone}"] = value
    for name, figures in summary["retailers"].items():
        for key in RETAILER_FIGURES:
            row[f"{name}.{key}"] = figures.get(key)
    return row


# ---- figures ---------------------------------------------------------------------------

def dashboard(model: RetailMarket, frame: pd.DataFrame, path: Path) -> None:
    """Attrition, vacancy, margins and online share over time, and a map of sites at the end."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = _retailer_colours(model)
    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    fig.subplots_adjust(left=0.05, right=0.93, bottom=0.07, top=0.9, wspace=0.25, hspace=0.35)
    fig.suptitle(f"{model.config.name} — seed {model.seed}, {model.population.n:,} consumers, "
                 f"{model.week} weeks", fontsize=14)
    years = frame["week"] / 52.0
    frame = frame.assign(year=years)
    by_r = {name: frame[frame["retailer"] == name] for name in [*model.retailer_names, ALL]}

    ax = axes[0, 0]
    for name, rows in by_r.items():
        s = rows.dropna(subset=["attrition_rate"])
        ax.plot(s["year"], 100 * s["attrition_rate"], marker=".", color=colours.get(name, "black"),
                lw=2.5 if name == ALL else 1.5, label=name)
    _style(ax, "Annual customer attrition", "% of customers a year ago")
    ax.legend(fontsize=8, ncol=2, loc="upper left")

    ax = axes[0, 1]
    market = by_r[ALL]
    ax.plot(market["year"], 100 * market["vacancy_rate"], color="black", lw=2.5, label="all sites")
    for zone, style in (("centre", "-"), ("neighbourhood", "--"), ("retail_park", ":")):
        ax.plot(market["year"], 100 * market[f"vacancy_rate_{zone}"], ls=style, color="grey", label=zone)
    _style(ax, "Store vacancy", "% of sites vacant")
    ax.legend(fontsize=8, loc="upper left")

    ax = axes[0, 2]
    for name, rows in by_r.items():
        q = _rolling(rows, ["gross_profit_eur", "operating_profit_eur", "revenue_eur"])
        ax.plot(q["year"], 100 * q["operating_profit_eur"] / q["revenue_eur"], color=colours.get(name, "black"),
                lw=2.5 if name == ALL else 1.5, label=name)
    _style(ax, "Operating margin (13-week rolling)", "% of revenue")
    ax.axhline(0, color="black", lw=0.5)

    ax = axes[1, 0]
    q = _rolling(market, ["revenue_online_eur", "revenue_eur"])
    ax.plot(q["year"], 100 * q["revenue_online_eur"] / q["revenue_eur"], color="black", lw=2.5,
            label="online share of spend")
    ax.plot(market["year"], 100 * market["share_adopted_online"], color="tab:purple", ls="--",
            label="consumers who shop online")
    _style(ax, "Online", "%")
    ax.legend(fontsize=8, loc="upper left")

    ax = axes[1, 1]
    for name, rows in by_r.items():
        if name == ALL:
            continue
        q = _rolling(rows, ["revenue_eur"])
        total = _rolling(market, ["revenue_eur"])["revenue_eur"].to_numpy()
        ax.plot(q["year"], 100 * q["revenue_eur"].to_numpy() / total, color=colours[name],
                label=f"{name} ({rows['strategy'].iloc[0]})")
    _style(ax, "Revenue share (13-week rolling)", "%")
    ax.legend(fontsize=8, loc="upper left")

    site_map(model, axes[1, 2], colours)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def map_figure(model: RetailMarket, path: Path) -> None:
    """The map of sites on its own, larger: occupants, vacant sites, consumer density."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 7))
    fig.subplots_adjust(left=0.08, right=0.78, bottom=0.08, top=0.93)
    site_map(model, ax)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def site_map(model: RetailMarket, ax, colours: dict[str, Any] | None = None) -> None:
    """Sites at the current week: coloured by occupant, vacant ones as open grey squares."""
    colours = colours or _retailer_colours(model)
    region, pop = model.region, model.population
    sample = model.streams.sample.choice(pop.n, size=min(pop.n, 4000), replace=False) if pop.n else []
    ax.scatter(pop.home_x[sample], pop.home_y[sample], s=1, color="0.8", zorder=1, label="homes (sample)")
    size = 10 + region.site_area_m2 / 25.0
    vacant = model.site_store < 0
    ax.scatter(region.site_x[vacant], region.site_y[vacant], s=size[vacant], facecolors="none",
               edgecolors="0.4", marker="s", zorder=2, label="vacant")
    for r in model.retailers:
        sites = [s.site for s in r.open_stores]
        if sites:
            ax.scatter(region.site_x[sites], region.site_y[sites], s=size[sites], color=colours[r.name],
                       edgecolors="black", linewidths=0.5, zorder=3, label=r.name)
    ax.set_xlim(0, region.width_km)
    ax.set_ylim(0, region.height_km)
    ax.set_aspect("equal")
    ax.set_title(f"Sites at week {model.week}: {vacant.sum()} of {region.n_sites} vacant", fontsize=11)
    ax.set_xlabel("km")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), markerscale=0.6, borderaxespad=0)


def _rolling(rows: pd.DataFrame, cols: list[str], weeks: int = 13) -> pd.DataFrame:
    out = rows[["year", *cols]].copy()
    out[cols] = out[cols].rolling(weeks, min_periods=1).sum()
    return out


def _style(ax, title: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=11)
    ax.set_xlabel("year")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def _retailer_colours(model: RetailMarket) -> dict[str, Any]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    colours = {name: cmap(i % 10) for i, name in enumerate(model.retailer_names)}
    colours[ALL] = "black"
    return colours


__all__ = ["atomic_directory", "build_summary", "dashboard", "final_figures", "site_map", "write_run"]
