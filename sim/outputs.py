"""Run outputs: tidy tables, summary.json, the dashboard and the resolved scenario.

Everything is written into a temporary folder beside the destination and moved into
place only when complete, so a failed run leaves no half-written folder and never
damages the results of an earlier run in the same place. An output folder is only
ever replaced whole, and only when it is a previous output of ours of the same kind
(marked by ``.retailsim.json``); any other folder is refused before anything runs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import glob
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim import __version__
from sim.metrics import ALL, final_year_summary
from sim.scenario import CLASSIC_ZONES, ZONES

if TYPE_CHECKING:
    from sim.model import RetailMarket


OUTPUT_MARK = ".retailsim.json"
"""The mark of an output folder of ours: its kind and the files it holds (hidden, so a listing stays tidy)."""

KNOWN_FILES = {
    "run": frozenset({"metrics.parquet", "metrics.csv", "summary.json", "dashboard.png", "scenario.toml",
                      "switching.csv", "flows.csv", "events.csv", "vacancy_by_town.csv", "vacancy_by_category.csv",
                      "map.png"}),
    "compare": frozenset({"runs.csv", "differences.csv", "report.md", "figure.png"}),
    "experiment": frozenset({"runs.csv", "summary.csv", "report.md", "figure.png"}),
}
"""What each kind of output folder holds: a folder written before the mark existed is recognised by it."""

SIGNATURE = {"run": ("summary.json", "scenario.toml"), "compare": ("differences.csv", "report.md"),
             "experiment": ("runs.csv", "summary.csv", "report.md")}


class OutputError(ValueError):
    """An output folder that cannot be written without losing something: one line, what to do instead."""


def output_kind(folder: Path) -> str | None:
    """The kind of output of ours that ``folder`` holds whole (``run``, ``compare``, ``experiment``),
    or None if it holds anything else: a file we did not write, a folder, no mark and no signature."""
    entries = {p.name for p in folder.iterdir()}
    mark = folder / OUTPUT_MARK
    if mark.is_file():
        try:
            found = json.loads(mark.read_text(encoding="utf-8"))
            kind, files = found["kind"], set(found["files"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if kind in KNOWN_FILES and entries - {OUTPUT_MARK} <= files and _only_files(folder, entries):
            return kind
        return None
    for kind, known in KNOWN_FILES.items():
        if entries <= known and all(name in entries for name in SIGNATURE[kind]) and _only_files(folder, entries):
            return kind
    return None


def _only_files(folder: Path, entries: set[str]) -> bool:
    return all((folder / name).is_file() and not (folder / name).is_symlink() for name in entries)


def check_destination(dest: str | Path, kind: str, option: str = "--out") -> Path:
    """Refuse, before anything runs, an output folder whose writing would lose a user's files.

    ``dest`` may be new, an empty folder, or a previous output of ours of the same kind (which is
    then replaced whole); anything else is refused with one line saying why.
    """
    dest = Path(dest)
    where = f"{option} {dest}"
    full = dest.absolute()
    cwd = Path.cwd().absolute()
    if full == cwd or full in cwd.parents:
        raise OutputError(f"{where}: is the working folder or holds it; name a new folder for the results")
    if dest.is_symlink():
        raise OutputError(f"{where}: is a symbolic link; name a new folder for the results")
    if dest.exists():
        if not dest.is_dir():
            raise OutputError(f"{where}: exists and is not a folder")
        if any(dest.iterdir()):
            found = output_kind(dest)
            if found != kind:
                names = sorted(p.name for p in dest.iterdir())
                held = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
                what = f"a {found} folder, not a {kind} folder" if found else "not a retailsim output folder"
                raise OutputError(f"{where}: exists and is {what} (it holds {held})"
                                  f"; it is left as it is: name a new or empty folder, or a previous {kind}'s "
                                  f"folder to replace it")
        if not os.access(dest, os.W_OK | os.X_OK):
            raise OutputError(f"{where}: folder is not writable")
    ancestor = full.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(f"{where}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputError(f"{where}: cannot create it: {ancestor} is not writable")
    return dest


@contextmanager
def atomic_directory(dest: str | Path, kind: str) -> Iterator[Path]:
    """Yield a fresh temporary folder that becomes ``dest`` only if the block succeeds.

    ``dest`` must pass :func:`check_destination` (checked again at the end, in case it changed
    meanwhile): a previous output of the same kind is replaced whole, nothing else is touched. The
    swap is one atomic exchange of the two folders where the system offers it (Linux), so no kill
    can leave ``dest`` missing; temporary folders that a killed process left beside ``dest`` are
    removed by the next write there.
    """
    dest = check_destination(dest, kind)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _clear_debris(dest)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-{os.getpid()}-", dir=dest.parent))
    try:
        yield tmp
        files = sorted(p.name for p in tmp.iterdir())
        (tmp / OUTPUT_MARK).write_text(json.dumps({"kind": kind, "version": __version__, "files": files},
                                                  indent=1) + "\n", encoding="utf-8")
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it 0700; a result folder is as readable as any
        for _attempt in range(5):  # another run may put its result there at the same moment: then try again
            check_destination(dest, kind)
            if _swap_into_place(tmp, dest):
                break
        else:
            raise OutputError(f"--out {dest}: other processes keep writing there; try again")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # after a swap it holds the previous output


def _swap_into_place(tmp: Path, dest: Path) -> bool:
    """Make ``tmp`` the folder ``dest``: an atomic exchange with a previous ``dest`` (whose contents
    end up in ``tmp``), or a rename if there is none. False if another writer got there first."""
    try:
        if dest.exists() and _exchange(tmp, dest):
            return True
        if dest.exists():  # no atomic exchange here: move the old one aside, then the new one in
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-{os.getpid()}-old-", dir=dest.parent))
            try:
                os.replace(dest, old / "previous")
                os.replace(tmp, dest)
            finally:
                shutil.rmtree(old, ignore_errors=True)  # the previous output (or nothing if another took its place)
            return True
        os.rename(tmp, dest)
        return True
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
            return False
        raise


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    libc = _libc()
    if libc is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if libc.renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP if hasattr(errno, "EOPNOTSUPP") else errno.EINVAL):
        return False
    raise OSError(err, os.strerror(err), str(b))


@functools.cache
def _libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc if hasattr(libc, "renameat2") else None
    except OSError:
        return None


def _clear_debris(dest: Path) -> None:
    """Remove the temporary folders of writes to ``dest`` that a killed process left behind (its
    pid is in the name, and it is no longer running); and the ``.NAME.old-PID`` of an earlier
    version, put back if ``dest`` itself is missing."""
    for path in dest.parent.glob(f".{glob.escape(dest.name)}.tmp-*"):
        pid = path.name[len(dest.name) + 6:].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
    for path in dest.parent.glob(f".{glob.escape(dest.name)}.old-*"):
        pid = path.name.rsplit("-", 1)[1]
        if pid.isdigit() and not _alive(int(pid)):
            if not dest.exists() and path.is_dir() and output_kind(path):
                os.replace(path, dest)
            else:
                shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
    with atomic_directory(out, "run") as tmp:
        frame.to_parquet(tmp / "metrics.parquet", index=False)
        frame.to_csv(tmp / "metrics.csv", index=False, float_format="%.10g")
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        for name, records, columns in (
            ("switching.csv", model.switching_records, ["week", "from", "to", "n_consumers"]),
            ("flows.csv", model.flow_records, ["week", "from", "to", "n_purchases"]),
            ("events.csv", model.closures_and_events(), ["week", "retailer", "event"]),
            ("vacancy_by_town.csv", model.town_records,
             ["week", "town", "n_sites", "n_vacant", "vacancy_rate", "vacancy_rate_floor", "n_occupied",
              "n_converted", "n_persistent_vacant", "n_openings", "n_closures", "n_built"]),
            ("vacancy_by_category.csv", model.category_records, CATEGORY_RECORD_COLUMNS),
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


CATEGORY_RECORD_COLUMNS = ["week", "category", "n_occupied", "n_occupied_independent", "n_vacant",
                           "n_persistent_vacant", "n_converted", "n_openings", "n_closures"]
"""vacancy_by_category.csv: each quarter and category, the units its stores occupy, the vacant, persistent
and converted units it was the last occupant of, and its openings and closures since the last quarter."""


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
    for zone in ZONES:  # every location type a sweep may ask for, None where the region has none
        row[f"vacancy_rate_{zone}"] = summary["vacancy_rate_by_zone"].get(zone)
    for name, figures in summary["retailers"].items():
        for key in RETAILER_FIGURES:
            row[f"{name}.{key}"] = figures.get(key)
    return row


# ---- figures ---------------------------------------------------------------------------
INDEPENDENTS = "independents"  # the pool of business demography, drawn as one group


def dashboard(model: RetailMarket, frame: pd.DataFrame, path: Path) -> None:
    """Attrition, vacancy, margins and online share over time, and a map of sites at the end."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = _retailer_colours(model)
    high_street = model.config.independents.enabled or model.config.property.enabled
    # with the high street on, a third row for a planner: the yearly flows, by trade, and the stock of units
    fig, axes = plt.subplots(3 if high_street else 2, 3, figsize=(16, 13.5 if high_street else 9))
    fig.subplots_adjust(left=0.05, right=0.93, bottom=0.05 if high_street else 0.07,
                        top=0.93 if high_street else 0.9, wspace=0.25, hspace=0.35)
    fig.suptitle(f"{model.config.name} — seed {model.seed}, {model.population.n:,} consumers, "
                 f"{model.week} weeks", fontsize=14)
    years = frame["week"] / 52.0
    frame = frame.assign(year=years)
    # the pool of independent identities (business demography) is drawn as one group, not hundreds of lines
    listed = model.retailer_names[:model.n_listed]
    by_r = {name: frame[frame["retailer"] == name] for name in [*listed, ALL]}
    pool_rows = None
    if model.demography is not None:
        pool = frame[~frame["retailer"].isin([*listed, ALL])]  # its rows, one per category
        pool_rows = pool.groupby("week", as_index=False)[["revenue_eur", "gross_profit_eur",
                                                          "operating_profit_eur"]].sum()
        pool_rows = pool_rows.assign(year=pool_rows["week"] / 52.0, strategy="several")

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
    for zone, style in (("centre", "-"), ("neighbourhood", "--"), ("retail_park", ":"), ("shopping_centre", "-.")):
        if zone in CLASSIC_ZONES or (model.region.site_zone == ZONES.index(zone)).any():
            ax.plot(market["year"], 100 * market[f"vacancy_rate_{zone}"], ls=style, color="grey", label=zone)
    if model.config.property.enabled:
        ax.plot(market["year"], 100 * market["persistent_vacancy_rate"], color="tab:red", lw=1.5,
                label=f"empty {model.config.property.persistent_vacancy_years:g}+ years")
    _style(ax, "Store vacancy", "% of sites vacant")
    ax.legend(fontsize=8, loc="upper left")

    ax = axes[0, 2]
    groups = by_r if pool_rows is None else {**by_r, INDEPENDENTS: pool_rows}
    for name, rows in groups.items():
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
    for name, rows in groups.items():
        if name == ALL:
            continue
        q = _rolling(rows, ["revenue_eur"])
        total = _rolling(market, ["revenue_eur"])["revenue_eur"].to_numpy()
        ax.plot(q["year"], 100 * q["revenue_eur"].to_numpy() / total, color=colours[name],
                label=f"{name} ({rows['strategy'].iloc[0]})")
    _style(ax, "Revenue share (13-week rolling)", "%")
    ax.legend(fontsize=8, loc="upper left")

    site_map(model, axes[1, 2], colours)
    if high_street:
        flows_panel(model, axes[2, 0])
        flows_by_group_panel(model, axes[2, 1])
        units_panel(model, axes[2, 2])
    fig.savefig(path, dpi=90)
    plt.close(fig)


def map_figure(model: RetailMarket, path: Path) -> None:
    """The map of sites on its own, larger: occupants, vacant sites, consumer density."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    window = _largest_centre(model)
    if window is None:
        fig, ax = plt.subplots(figsize=(8, 7))
        fig.subplots_adjust(left=0.08, right=0.78, bottom=0.08, top=0.93)
        site_map(model, ax)
    else:  # the region, and its largest town centre close up, where the units crowd together
        fig, (ax, zoom) = plt.subplots(1, 2, figsize=(15, 7))
        fig.subplots_adjust(left=0.05, right=0.98, bottom=0.08, top=0.93, wspace=0.42)
        site_map(model, ax)
        site_map(model, zoom, window=window)
        x0, x1, y0, y1 = window
        ax.add_patch(_rectangle((x0, y0), x1 - x0, y1 - y0))
    fig.savefig(path, dpi=90)
    plt.close(fig)


def site_map(model: RetailMarket, ax, colours: dict[str, Any] | None = None,
             window: tuple[float, float, float, float] | None = None) -> None:
    """Sites at the current week: vacant ones as open grey squares, those empty 2+ years edged red, converted
    ones as crosses; occupied ones coloured by occupant, or with several categories coloured by category,
    chains' stores as diamonds and independents' as circles (so the legend stays short). ``window``
    (x0, x1, y0, y1, km) zooms in: a town centre's units stand close together."""
    colours = colours or _retailer_colours(model)
    region, pop, prop = model.region, model.population, model.property
    sample = model.streams.sample.choice(pop.n, size=min(pop.n, 4000), replace=False) if pop.n else []
    ax.scatter(pop.home_x[sample], pop.home_y[sample], s=1, color="0.8", zorder=1, label="homes (sample)")
    size = (10 + region.site_area_m2 / 25.0) * (3.0 if window is not None else 1.0)  # close up, larger
    vacant = prop.vacant()
    persistent = prop.persistent(model.week)
    recent = vacant & ~persistent
    ax.scatter(region.site_x[recent], region.site_y[recent], s=size[recent], facecolors="none",
               edgecolors="0.4", marker="s", zorder=2, label="vacant")
    if persistent.any():
        ax.scatter(region.site_x[persistent], region.site_y[persistent], s=size[persistent], facecolors="none",
                   edgecolors="tab:red", linewidths=1.2, marker="s", zorder=4,  # above the stores: they must show
                   label=f"vacant {prop.cfg.persistent_vacancy_years:g}+ years")
    converted = prop.converted()
    if converted.any():
        ax.scatter(region.site_x[converted], region.site_y[converted], s=size[converted], color="0.15", marker="x",
                   linewidths=1.2, zorder=2, label="converted")
    extra_handles: tuple[list, list] = ([], [])
    if len(model.categories) > 1:
        extra_handles = _occupants_by_category(model, ax, size)
    else:
        for r in model.retailers[:model.n_listed]:
            sites = [s.site for s in r.open_stores]
            if sites:
                ax.scatter(region.site_x[sites], region.site_y[sites], s=size[sites], color=colours[r.name],
                           edgecolors="black", linewidths=0.5, zorder=3, label=r.name)
        if model.demography is not None:
            sites = [s.site for r in model.demography.members for s in r.open_stores]
            if sites:
                ax.scatter(region.site_x[sites], region.site_y[sites], s=size[sites], color=colours[INDEPENDENTS],
                           edgecolors="black", linewidths=0.5, zorder=3, label=INDEPENDENTS)
    x0, x1, y0, y1 = window or (0, region.width_km, 0, region.height_km)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    if window is not None:
        inside = ((region.site_x >= x0) & (region.site_x <= x1) & (region.site_y >= y0) & (region.site_y <= y1)
                  & prop.in_use)
        ax.set_title(f"The centre of the largest town: {int((vacant & inside).sum())} of {int(inside.sum())} "
                     f"units vacant", fontsize=11)
        ax.set_xlabel("km")
        return
    extra = [f"{persistent.sum()} for {prop.cfg.persistent_vacancy_years:g}+ years"] if persistent.any() else []
    extra += [f"{converted.sum()} converted"] if converted.any() else []
    ax.set_title(f"Sites at week {model.week}: {vacant.sum()} of {int(prop.in_use.sum())} vacant"
                 + (f" ({', '.join(extra)})" if extra else ""), fontsize=11)
    ax.set_xlabel("km")
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles + extra_handles[0], labels + extra_handles[1], fontsize=7, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), markerscale=0.6, borderaxespad=0)


def _largest_centre(model: RetailMarket) -> tuple[float, float, float, float] | None:
    """A square around the centre and shopping-centre units of the town with most units (km), or None in a
    region small enough to read whole (one town, or few units)."""
    region = model.region
    if region.n_towns < 2 or region.n_sites < 200:
        return None
    town = int(np.argmax(np.bincount(region.site_town, minlength=region.n_towns)))
    central = (region.site_town == town) & np.isin(region.site_zone, [ZONES.index("centre"),
                                                                       ZONES.index("shopping_centre")])
    if central.sum() < 5:
        return None
    x, y = region.site_x[central], region.site_y[central]
    cx, cy = float(np.median(x)), float(np.median(y))
    half = max(float(np.quantile(np.hypot(x - cx, y - cy), 0.9)) * 1.1, 0.5)
    return cx - half, cx + half, cy - half, cy + half


def _rectangle(corner, width, height):
    from matplotlib.patches import Rectangle

    return Rectangle(corner, width, height, fill=False, edgecolor="black", lw=1, ls="--", zorder=5)


def _occupants_by_category(model: RetailMarket, ax, size) -> tuple[list, list]:
    """Occupied sites coloured by their store's category, chains' as diamonds and independents' as circles;
    returns the legend's entries: each category once and each shape once."""
    from matplotlib.lines import Line2D

    region = model.region
    kind, independent = model.site_occupants()
    palette = category_colours(model)
    for c, cat in enumerate(model.categories):
        for ind, marker in ((False, "D"), (True, "o")):
            sites = np.flatnonzero((kind == c) & (independent == ind))
            if len(sites):
                ax.scatter(region.site_x[sites], region.site_y[sites], s=size[sites] * (0.7 if not ind else 1.0),
                           color=palette[cat.config.name], marker=marker, edgecolors="black", linewidths=0.5,
                           zorder=3)
    handles, labels = [], []
    shape = {"markersize": 9, "markeredgecolor": "black", "markeredgewidth": 0.5, "ls": "none"}
    for cat in model.categories:
        handles.append(Line2D([], [], marker="o", color=palette[cat.config.name], **shape))
        labels.append(cat.config.name)
    handles += [Line2D([], [], marker="D", color="white", **shape), Line2D([], [], marker="o", color="white", **shape)]
    labels += ["chain store", "independent"]
    return handles, labels


def category_colours(model: RetailMarket) -> dict[str, Any]:
    """A colour per category, from a palette apart from the retailers' (tab10)."""
    import matplotlib

    cmap = matplotlib.colormaps["Dark2"]
    return {cat.config.name: cmap(c % 8) for c, cat in enumerate(model.categories)}


def yearly_flows(model: RetailMarket) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Openings and closures per 100 units in retail use per year, for each year of the run (the last one
    annualised if shorter): (years, their ends in weeks) and the table (year, opening/closure, chain/independent,
    location type, town, category)."""
    weeks = model.week
    n_years = max(int(np.ceil(weeks / 52)), 1)
    ends = np.minimum(np.arange(1, n_years + 1) * 52, weeks)
    starts = np.arange(n_years) * 52
    prop = model.property
    rates = []
    for a, b in zip(starts, ends, strict=True):
        # units in retail use at the year's end: those built by then and not converted by then
        units = int(((prop.converted_week > b) & (prop.built_week <= b)).sum())
        length = max(b - a, 1) / 52.0
        rates.append(100.0 * model.unit_flows_between(int(a), int(b), by_category=True) / max(units, 1) / length)
    return np.arange(1, n_years + 1), ends, np.array(rates)


def flows_panel(model: RetailMarket, ax) -> None:
    """Openings and closures per 100 units a year, each year, chains' and independents' stacked, and the net."""
    years, _, rates = yearly_flows(model)
    width = 0.38
    colour = {(0, 0): "tab:green", (0, 1): "#a6d96a", (1, 0): "tab:red", (1, 1): "#f4a582"}
    for k, (verb, shift) in enumerate((("openings", -width / 2), ("closures", width / 2))):
        bottom = np.zeros(len(years))
        for g, group in enumerate(("chains", "independents")):
            value = rates[:, k, g].sum(axis=(1, 2, 3))
            ax.bar(years + shift, value, width, bottom=bottom, color=colour[(k, g)], label=f"{verb}: {group}")
            bottom += value
    net = rates[:, 0].sum(axis=(1, 2, 3, 4)) - rates[:, 1].sum(axis=(1, 2, 3, 4))
    ax.plot(years, net, color="black", marker="o", lw=1.5, label="net change")
    ax.axhline(0, color="black", lw=0.5)
    top = max(rates[:, 0].sum(axis=(1, 2, 3, 4)).max(), rates[:, 1].sum(axis=(1, 2, 3, 4)).max(), 1.0)
    ax.set_ylim(min(net.min() * 1.15, 0), top * 1.45)  # room for the legend above the bars
    _style(ax, "Openings and closures", "per 100 units a year")
    ax.set_xticks(years)
    ax.legend(fontsize=8, loc="upper left", ncol=2)


def flows_by_group_panel(model: RetailMarket, ax) -> None:
    """Openings (dashed) and closures (solid) per 100 units a year, by trade; with one trade, by location type."""
    years, _, rates = yearly_flows(model)
    if len(model.categories) > 1:
        palette = category_colours(model)
        groups = [(cat.config.name, palette[cat.config.name], rates[..., c].sum(axis=(2, 3, 4)))
                  for c, cat in enumerate(model.categories)]
        title = "Openings and closures by trade"
    else:
        cmap = _colormap("Set1")
        groups = [(z, cmap(i), rates[:, :, :, ZONES.index(z)].sum(axis=(2, 3, 4)))
                  for i, z in enumerate(ZONES) if (model.region.site_zone == ZONES.index(z)).any()]
        title = "Openings and closures by location type"
    for name, colour, value in groups:
        ax.plot(years, value[:, 1], color=colour, lw=2, marker="o", label=name)
        ax.plot(years, value[:, 0], color=colour, lw=1.2, ls="--", marker=".")
    ax.plot([], [], color="0.3", lw=2, label="closures (solid)")
    ax.plot([], [], color="0.3", lw=1.2, ls="--", label="openings (dashed)")
    _style(ax, title, "per 100 units a year")
    ax.set_xticks(years)
    top = max([float(np.max(value)) for _, _, value in groups] + [1.0])
    ax.set_ylim(0, top * 1.45)  # room for the legend above the lines
    ax.legend(fontsize=8, loc="upper left", ncol=2)


def units_panel(model: RetailMarket, ax) -> None:
    """Every quarter, the units by what holds them: occupied by each trade, vacant by the trade of their last
    occupant (pale), vacant and never occupied, converted; as % of all units."""
    from sim.model import NEVER_OCCUPIED

    records = pd.DataFrame.from_records(model.category_records, columns=CATEGORY_RECORD_COLUMNS)
    if records.empty:
        _style(ax, "Units", "% of units")
        return
    table = records.pivot(index="week", columns="category")
    x = table.index.to_numpy() / 52.0
    names = [cat.config.name for cat in model.categories]
    several = len(names) > 1
    palette = category_colours(model) if several else {names[0]: "tab:blue"}
    layers, colours, labels = [], [], []
    for name in names:
        layers.append(table["n_occupied", name])
        colours.append(palette[name])
        labels.append(name if several else "occupied")
    for name in names:
        layers.append(table["n_vacant", name])
        colours.append((*_rgb(palette[name]), 0.35))
        labels.append(f"vacant, last {name}" if several else "vacant")
    layers += [table["n_vacant", NEVER_OCCUPIED], table["n_converted"].sum(axis=1)]
    colours += ["0.92", "0.45"]
    labels += ["vacant, never occupied", "converted"]
    n_units = np.sum([np.asarray(v, dtype=float) for v in layers], axis=0)  # grows where floor space is built
    shares = np.array([100.0 * np.asarray(v, dtype=float) / n_units for v in layers])
    ax.stackplot(x, *shares, colors=colours, edgecolor="white", linewidth=0.3)
    # each band named where it is widest (a legend would cover the bands)
    tops = np.cumsum(shares, axis=0)
    for i, label in enumerate(labels):
        j = int(np.argmax(shares[i]))
        if shares[i, j] >= 4.5:  # a thin band's colour says what it is
            left = j < len(x) / 2
            ax.annotate(label, (x[j], tops[i, j] - shares[i, j] / 2), xytext=(4 if left else -4, 0),
                        textcoords="offset points", fontsize=7.5, va="center", ha="left" if left else "right",
                        color="white" if i < len(names) or i == len(labels) - 1 else "black")
    _style(ax, "Units by trade: occupied (solid), vacant by last occupant (pale)" if several else "Units",
           "% of units")
    ax.set_ylim(0, 100)
    ax.set_xlim(x[0], x[-1])


def _colormap(name: str):
    import matplotlib

    return matplotlib.colormaps[name]


def _rgb(colour) -> tuple[float, float, float]:
    from matplotlib.colors import to_rgb

    return to_rgb(colour)


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
    colours = {name: cmap(i % 10) for i, name in enumerate(model.retailer_names[:model.n_listed])}
    colours[INDEPENDENTS] = "tab:olive"
    colours[ALL] = "black"
    return colours


__all__ = ["OutputError", "atomic_directory", "build_summary", "check_destination", "dashboard", "final_figures",
           "output_kind", "site_map", "write_run"]
