"""The app's figures: the map, the live charts and the flows between retailers.

Each figure is drawn with matplotlib's object interface (no pyplot state, so several
sessions can draw at once) as a :class:`LiveFigure`: its frame is drawn once per model
and only what changes is drawn each week, so a step updates the page quickly. The page
shows them as images that scale with the window; their type is sized for a projector.

Retailers keep one colour and one line style (or marker) in every panel. The colours
are Okabe and Ito's, chosen among them so that the first three stay apart for viewers
with deuteranopia, protanopia or tritanopia (a test simulates each); line styles and
markers tell retailers apart without colour at all.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim.viz.lessons import WINDOW_WEEKS, weekly_series
from sim.viz.livefig import LiveFigure, fit_y

# Okabe & Ito (2008): orange, sky blue, blue first (the three most apart under colour-vision deficiency)
PALETTE = ["#E69F00", "#56B4E9", "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#F0E442", "#000000"]
LINESTYLES = ["-", "--", "-.", ":"]
MARKERS = ["s", "D", "p", "h", "v", "P", "X", "*"]
MARKET_COLOUR = "#222222"
PREVIOUS_ALPHA = 0.3
DPI = 100
FONT = {"title": 15, "label": 14, "tick": 13, "legend": 14}


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def linestyle(index: int) -> str:
    return LINESTYLES[index % len(LINESTYLES)]


def marker(index: int) -> str:
    return MARKERS[index % len(MARKERS)]


def retailer_label(retailer) -> str:
    """A retailer as the legends name it: ``Budget (mass)``."""
    return f"{retailer.name} ({retailer.strategy.name})"


def _live(model, name: str, build) -> tuple[LiveFigure, dict]:
    """The panel's LiveFigure for this model, built on first use and again when ``build`` says its key changed."""
    figures = model.__dict__.setdefault("_app_figures", {})
    key = tuple(retailer_label(r) for r in model.retailers)  # a copied programme renames a legend entry
    if name not in figures or figures[name][2] != key:
        figures[name] = (*build(model), key)
    live, parts, _ = figures[name]
    return live, parts


# ---- map --------------------------------------------------------------------------------

def _build_map(model) -> tuple[LiveFigure, dict]:
    region, pop = model.region, model.population
    fig = Figure(figsize=(7.2, 6.4))
    ax = fig.add_axes((0.09, 0.3, 0.88, 0.62))
    counts, _, _ = np.histogram2d(pop.home_y, pop.home_x, bins=30, range=[[0, region.height_km], [0, region.width_km]])
    ax.imshow(np.where(counts > 0, counts, np.nan), origin="lower", cmap="Greys", alpha=0.45,
              interpolation="nearest", extent=(0, region.width_km, 0, region.height_km))
    ax.set_xlim(0, region.width_km)
    ax.set_ylim(0, region.height_km)
    ax.set_aspect("equal")
    ax.set_xlabel("km", fontsize=FONT["label"])
    ax.tick_params(labelsize=FONT["tick"])
    handles = [Line2D([], [], ls="", marker=marker(r.index), ms=11, mfc=colour(r.index), mec="black",
                      label=f"{retailer_label(r)} store") for r in model.retailers]
    handles += [Line2D([], [], ls="", marker="s", ms=11, mfc="none", mec="0.3", label="vacant site"),
                Line2D([], [], ls="", marker="o", ms=7, color="0.3", label="consumer who last bought in store"),
                Line2D([], [], ls="", marker="^", ms=7, color="0.3", label="consumer who last bought online"),
                Line2D([], [], ls="", marker="o", ms=13, mfc="none", mec="black", mew=2.5,
                       label="her (see 'Her story')")]
    fig.legend(handles=handles, fontsize=FONT["legend"] - 1, loc="lower center", ncols=2, frameon=False,
               bbox_to_anchor=(0.5, 0.0), columnspacing=1.0, handletextpad=0.3)
    parts = {
        "vacant": ax.scatter([], [], marker="s", facecolors="none", edgecolors="0.3", linewidths=1.5),
        "stores": [ax.scatter([], [], marker=marker(r.index), color=colour(r.index), edgecolors="black",
                              linewidths=0.8) for r in model.retailers],
        "in_store": ax.scatter([], [], s=26, marker="o", alpha=0.9, linewidths=0.3, edgecolors="0.2"),
        "online": ax.scatter([], [], s=34, marker="^", alpha=0.9, linewidths=0.3, edgecolors="0.2"),
        "her": ax.scatter([], [], s=320, facecolors="none", edgecolors="black", linewidths=2.5),
        "title": fig.text(0.5, 0.95, "", ha="center", va="bottom", fontsize=FONT["title"]),
    }
    artists = [parts["vacant"], *parts["stores"], parts["in_store"], parts["online"], parts["her"], parts["title"]]
    return LiveFigure(fig, artists, dpi=DPI), parts


def map_png(model, picked: int = 0) -> bytes:
    """Sites marked by retailer (vacant: open squares), homes as density, the sampled consumers
    coloured by the retailer they used last (circle: in store, triangle: online), her ringed."""
    live, parts = _live(model, "map", _build_map)
    region, pop = model.region, model.population

    def update() -> bool:
        size = 40 + region.site_area_m2 / 12.0
        vacant = model.property.vacant()
        parts["vacant"].set_offsets(np.column_stack([region.site_x[vacant], region.site_y[vacant]]))
        parts["vacant"].set_sizes(size[vacant])
        for r, layer in zip(model.retailers, parts["stores"], strict=True):
            sites = np.array([store.site for store in r.open_stores], dtype=np.int64)
            layer.set_offsets(np.column_stack([region.site_x[sites], region.site_y[sites]]))
            layer.set_sizes(size[sites])
        ids = model.diary.ids
        last, channel = pop.last_retailer[ids], pop.last_channel[ids]
        for name, ch in (("in_store", 0), ("online", 1)):
            who = (channel == ch) & (last >= 0)
            parts[name].set_offsets(np.column_stack([pop.home_x[ids[who]], pop.home_y[ids[who]]]))
            parts[name].set_facecolors([colour(int(r)) for r in last[who]] or "none")
        her = ids[min(picked, len(ids) - 1)]
        parts["her"].set_offsets([[pop.home_x[her], pop.home_y[her]]])
        parts["title"].set_text(f"Week {model.week}: {int(vacant.sum())} of {region.n_sites} sites vacant")
        return False

    return live.png(update)


# ---- live charts ---------------------------------------------------------------------------

CHART_TITLES = {
    "lost": f"Customers lost (%, last {WINDOW_WEEKS} weeks)",
    "margin": f"Operating margin (%, last {WINDOW_WEEKS} weeks)",
    "vacancy": "Vacancy (%): sites —, floor area - -",
    "online": "Online (%): sales —, shoppers ···",
}
CHART_AXES = {"lost": (0, 0), "vacancy": (0, 1), "margin": (1, 0), "online": (1, 1)}


def _chart_lines(series: dict, names: list[str]) -> dict[str, list[np.ndarray]]:
    return {"lost": [series["lost"][n] for n in names], "margin": [series["margin"][n] for n in names],
            "vacancy": [series["vacancy"], series["vacancy_floor"]], "online": [series["online"], series["adopters"]]}


def _build_charts(model) -> tuple[LiveFigure, dict]:
    fig = Figure(figsize=(8.0, 6.8))
    axes = fig.subplots(2, 2, sharex=True, gridspec_kw={"left": 0.08, "right": 0.98, "top": 0.8, "bottom": 0.1,
                                                         "hspace": 0.36, "wspace": 0.2})
    # starting ranges that hold a typical run, so that the frame rarely needs redrawing; they grow if exceeded
    y_ranges = {"lost": (0, 50), "margin": (-10, 30), "vacancy": (0, 100), "online": (0, 100)}
    for key, (i, j) in CHART_AXES.items():
        ax = axes[i][j]
        ax.set_title(CHART_TITLES[key], fontsize=FONT["label"])
        ax.set_xlim(0, max(model.horizon, 1))
        ax.set_ylim(*y_ranges[key])
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=FONT["tick"])
    for ax in axes[1]:
        ax.set_xlabel("week", fontsize=FONT["label"])
    axes[1][0].axhline(0, color="black", lw=0.8)
    handles = [Line2D([], [], color=colour(r.index), ls=linestyle(r.index), lw=2.5, label=retailer_label(r))
               for r in model.retailers]
    previous = getattr(model, "previous_run", None)
    if previous is not None:
        handles.append(Line2D([], [], color="0.4", alpha=0.6, lw=5, label=f"faded: {previous.label}"))
    fig.legend(handles=handles, loc="upper center", ncols=2, fontsize=FONT["legend"],  # two rows fit any width
               frameon=False, bbox_to_anchor=(0.5, 1.0), handlelength=2.6, columnspacing=1.5, labelspacing=0.3)
    names = model.retailer_names
    styles = {"lost": [(colour(r.index), linestyle(r.index)) for r in model.retailers],
              "margin": [(colour(r.index), linestyle(r.index)) for r in model.retailers],
              "vacancy": [(MARKET_COLOUR, "-"), (MARKET_COLOUR, "--")],
              "online": [(MARKET_COLOUR, "-"), (MARKET_COLOUR, ":")]}
    if previous is not None:  # the run before the last Reset, faded: drawn into the frame once
        old = _chart_lines(previous.series, [n for n in names if n in previous.series["lost"]])
        for key, (i, j) in CHART_AXES.items():
            for (c, ls), values in zip(styles[key], old[key], strict=False):
                axes[i][j].plot(previous.series["week"], values, color=c, ls=ls, lw=4, alpha=PREVIOUS_ALPHA)
            fit_y(axes[i][j], old[key])
    parts = {key: [axes[i][j].plot([], [], color=c, ls=ls, lw=2.5)[0] for c, ls in styles[key]]
             for key, (i, j) in CHART_AXES.items()}
    parts["axes"] = axes
    parts["names"] = names
    lines = [line for key in CHART_AXES for line in parts[key]]
    return LiveFigure(fig, lines, dpi=DPI), parts


def chart_png(model, series: dict | None = None) -> bytes:
    """Customers lost per quarter and operating margin (per retailer), vacancy and online share, by week."""
    live, parts = _live(model, "charts", _build_charts)
    series = series if series is not None else weekly_series(model.metrics.to_frame(), model.retailer_names)

    def update() -> bool:
        lines = _chart_lines(series, parts["names"])
        changed = False
        for key, (i, j) in CHART_AXES.items():
            for line, values in zip(parts[key], lines[key], strict=True):
                line.set_data(series["week"], values)
            changed |= fit_y(parts["axes"][i][j], lines[key])
        return changed

    return live.png(update)


def chart_export_png(model, series: dict | None = None, dpi: int = 150) -> bytes:
    """The charts as a PNG file to download, drawn whole at a print resolution."""
    chart_png(model, series)  # brings the lines up to date
    live, _ = _live(model, "charts", _build_charts)
    for artist in live.artists:
        artist.set_animated(False)
    try:
        out = io.BytesIO()
        live.figure.savefig(out, format="png", dpi=dpi, facecolor="white")
    finally:
        for artist in live.artists:
            artist.set_animated(True)
        live.figure.set_dpi(DPI)
        live.invalidate()
    return out.getvalue()


# ---- flows ---------------------------------------------------------------------------------

def _build_flows(model) -> tuple[LiveFigure, dict]:
    names = model.retailer_names
    fig = Figure(figsize=(6.4, 4.6))
    ax = fig.add_axes((0.3, 0.17, 0.66, 0.7))
    image = ax.imshow(np.zeros((len(names), len(names))), cmap="Blues", aspect="auto", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, fontsize=FONT["tick"] + 1)
    ax.set_yticks(range(len(names)), names, fontsize=FONT["tick"] + 1)
    ax.set_xlabel("bought from now", fontsize=FONT["label"])
    ax.set_ylabel("bought from last time", fontsize=FONT["label"])
    labels = {(i, j): ax.text(j, i, "", ha="center", va="center", fontsize=FONT["label"] + 1)
              for i in range(len(names)) for j in range(len(names))}
    title = fig.text(0.5, 0.92, "", ha="center", va="bottom", fontsize=FONT["label"])
    parts = {"image": image, "labels": labels, "title": title}
    return LiveFigure(fig, [image, *labels.values(), title], dpi=DPI), parts


def weeks_phrase(n: int) -> str:
    return "the last week" if n == 1 else f"the last {n} weeks"


def flows_png(model) -> bytes:
    """Purchases that moved between retailers over the last 13 weeks, as a from × to table."""
    live, parts = _live(model, "flows", _build_flows)

    def update() -> bool:
        flows = model.diary.flows()
        top = max(1, int(flows.max()))
        parts["image"].set_data(flows)
        parts["image"].set_clim(0, top)
        for (i, j), label in parts["labels"].items():
            label.set_text("–" if i == j else f"{int(flows[i, j]):,}")
            label.set_color("white" if flows[i, j] > 0.6 * top else "black")
        weeks = weeks_phrase(len(model.diary.weekly_flows))
        parts["title"].set_text(f"Purchases that moved between retailers, {weeks}")
        return False

    return live.png(update)
