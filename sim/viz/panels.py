"""The app's panels: the map, the live charts, the flows between retailers, one consumer's story.

Each figure is drawn with matplotlib's object interface (no pyplot state, so several
sessions can draw at once) as a :class:`LiveFigure`: its frame is drawn once per model
and only what changes is drawn each week, so a step updates the page quickly.
Colours follow the retailer's position, the same in every panel.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import solara
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from mesa.visualization.utils import update_counter

from sim.metrics import ALL
from sim.viz.diary import FLOW_WEEKS
from sim.viz.livefig import LiveFigure, fit_y
from sim.viz.market import ClassroomMarket

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
picked_consumer = solara.reactive(0)  # position in the diary's sample


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _live(model: ClassroomMarket, name: str, build) -> tuple[LiveFigure, dict]:
    """The panel's LiveFigure for this model, built on first use (one model per browser session)."""
    figures = model.__dict__.setdefault("_app_figures", {})
    if name not in figures:
        figures[name] = build(model)
    return figures[name]


# ---- map --------------------------------------------------------------------------------

def _build_map(model: ClassroomMarket) -> tuple[LiveFigure, dict]:
    region, pop = model.region, model.population
    fig = Figure(figsize=(6.8, 5.0))
    ax = fig.add_axes((0.07, 0.1, 0.56, 0.8))
    counts, _, _ = np.histogram2d(pop.home_y, pop.home_x, bins=30, range=[[0, region.height_km], [0, region.width_km]])
    ax.imshow(np.where(counts > 0, counts, np.nan), origin="lower", cmap="Greys", alpha=0.45,
              interpolation="nearest", extent=(0, region.width_km, 0, region.height_km))
    ax.set_xlim(0, region.width_km)
    ax.set_ylim(0, region.height_km)
    ax.set_aspect("equal")
    ax.set_xlabel("km")
    handles = [Line2D([], [], ls="", marker="s", ms=8, mfc=colour(r.index), mec="black", label=f"{r.name} store")
               for r in model.retailers]
    handles += [Line2D([], [], ls="", marker="s", ms=8, mfc="none", mec="0.3", label="vacant site"),
                Line2D([], [], ls="", marker="o", ms=4, color="0.3", label="consumer: last bought in store"),
                Line2D([], [], ls="", marker="^", ms=4, color="0.3", label="consumer: last bought online"),
                Line2D([], [], ls="", marker="o", ms=10, mfc="none", mec="red", mew=2, label="her (see 'Her story')")]
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0,
              frameon=False)
    parts = {
        "vacant": ax.scatter([], [], marker="s", facecolors="none", edgecolors="0.3", linewidths=1.2),
        "stores": ax.scatter([], [], marker="s", edgecolors="black", linewidths=0.6),
        "in_store": ax.scatter([], [], s=14, marker="o", alpha=0.85, linewidths=0),
        "online": ax.scatter([], [], s=16, marker="^", alpha=0.85, linewidths=0),
        "her": ax.scatter([], [], s=220, facecolors="none", edgecolors="red", linewidths=2.0),
        "title": ax.text(0.5, 1.02, "", transform=ax.transAxes, ha="center", va="bottom", fontsize=11),
    }
    return LiveFigure(fig, parts.values()), parts


def map_png(model: ClassroomMarket) -> bytes:
    """Sites coloured by retailer (vacant: open squares), homes as density, the sampled consumers
    coloured by the retailer they used last (circle: in store, triangle: online), her ringed in red."""
    live, parts = _live(model, "map", _build_map)
    region, pop = model.region, model.population

    def update() -> bool:
        size = 20 + region.site_area_m2 / 20.0
        vacant = model.site_store < 0
        parts["vacant"].set_offsets(np.column_stack([region.site_x[vacant], region.site_y[vacant]]))
        parts["vacant"].set_sizes(size[vacant])
        sites, colours = [], []
        for r in model.retailers:
            for store in r.open_stores:
                sites.append(store.site)
                colours.append(colour(r.index))
        parts["stores"].set_offsets(np.column_stack([region.site_x[sites], region.site_y[sites]]))
        parts["stores"].set_sizes(size[sites])
        parts["stores"].set_facecolors(colours or "none")
        ids = model.diary.ids
        last, channel = pop.last_retailer[ids], pop.last_channel[ids]
        for name, ch in (("in_store", 0), ("online", 1)):
            who = (channel == ch) & (last >= 0)
            parts[name].set_offsets(np.column_stack([pop.home_x[ids[who]], pop.home_y[ids[who]]]))
            parts[name].set_facecolors([colour(int(r)) for r in last[who]] or "none")
        her = ids[min(picked_consumer.value, len(ids) - 1)]
        parts["her"].set_offsets([[pop.home_x[her], pop.home_y[her]]])
        parts["title"].set_text(f"Week {model.week}: {int(vacant.sum())} of {region.n_sites} sites vacant")
        return False

    return live.png(update)


# ---- live charts ---------------------------------------------------------------------------

def _build_charts(model: ClassroomMarket) -> tuple[LiveFigure, dict]:
    fig = Figure(figsize=(6.8, 5.0))
    axes = fig.subplots(2, 2, sharex=True, gridspec_kw={"left": 0.08, "right": 0.98, "top": 0.86, "bottom": 0.09,
                                                         "hspace": 0.3, "wspace": 0.22})
    titles = [["Customers lost, last 13 weeks (% of active)", "Vacancy (%): sites —, floor area --"],
              ["Operating margin, last 13 weeks (%)", "Online share of sales —, adopters ··· (%)"]]
    # starting ranges that hold a typical run, so that the frame rarely needs redrawing; they grow if exceeded
    y_ranges = [[(0, 30), (0, 40)], [(-10, 30), (0, 50)]]
    for (i, j), ax in np.ndenumerate(axes):
        ax.set_title(titles[i][j], fontsize=9)
        ax.set_xlim(0, max(model.horizon, 1))
        ax.set_ylim(*y_ranges[i][j])
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
    for ax in axes[1]:
        ax.set_xlabel("week")
    axes[1][0].axhline(0, color="black", lw=0.6)
    fig.legend(handles=[Line2D([], [], color=colour(r.index), label=r.name) for r in model.retailers],
               loc="upper center", ncols=len(model.retailers), fontsize=8, frameon=False)
    parts = {
        "lost": [axes[0][0].plot([], [], color=colour(r.index))[0] for r in model.retailers],
        "margin": [axes[1][0].plot([], [], color=colour(r.index))[0] for r in model.retailers],
        "vacancy": [axes[0][1].plot([], [], color="black")[0], axes[0][1].plot([], [], color="0.5", ls="--")[0]],
        "online": [axes[1][1].plot([], [], color="purple")[0], axes[1][1].plot([], [], color="purple", ls=":")[0]],
        "axes": axes,
    }
    lines = [*parts["lost"], *parts["margin"], *parts["vacancy"], *parts["online"]]
    return LiveFigure(fig, lines), parts


def chart_png(model: ClassroomMarket) -> bytes:
    """Customers lost per quarter, operating margin (both per retailer), vacancy and online share, by week."""
    live, parts = _live(model, "charts", _build_charts)

    def update() -> bool:
        frame = model.metrics.to_frame()
        market = frame[frame["retailer"] == ALL]
        weeks = market["week"].to_numpy()
        series: dict[str, list[np.ndarray]] = {"lost": [], "margin": []}
        for r in model.retailers:
            rows = frame[frame["retailer"] == r.name]
            lost = rows["n_lost"].rolling(FLOW_WEEKS, min_periods=1).sum().to_numpy()
            active = rows["n_active_customers"].to_numpy(dtype=float)
            series["lost"].append(100 * lost / np.where(active > 0, active, np.nan))
            profit = rows["operating_profit_eur"].rolling(FLOW_WEEKS, min_periods=1).sum().to_numpy()
            revenue = rows["revenue_eur"].rolling(FLOW_WEEKS, min_periods=1).sum().to_numpy()
            series["margin"].append(100 * profit / np.where(revenue > 0, revenue, np.nan))
        online = market["revenue_online_eur"].rolling(4, min_periods=1).sum().to_numpy()
        total = market["revenue_eur"].rolling(4, min_periods=1).sum().to_numpy()
        series["vacancy"] = [100 * market["vacancy_rate"].to_numpy(), 100 * market["vacancy_rate_floor"].to_numpy()]
        series["online"] = [100 * online / np.where(total > 0, total, np.nan),
                            100 * market["share_adopted_online"].to_numpy()]
        changed = False
        for key, ax in (("lost", parts["axes"][0][0]), ("margin", parts["axes"][1][0]),
                        ("vacancy", parts["axes"][0][1]), ("online", parts["axes"][1][1])):
            for line, values in zip(parts[key], series[key], strict=True):
                line.set_data(weeks, values)
            changed |= fit_y(ax, series[key])
        return changed

    return live.png(update)


# ---- flows ---------------------------------------------------------------------------------

def _build_flows(model: ClassroomMarket) -> tuple[LiveFigure, dict]:
    names = model.retailer_names
    fig = Figure(figsize=(5.6, 4.2))
    ax = fig.add_axes((0.28, 0.14, 0.68, 0.76))
    image = ax.imshow(np.zeros((len(names) + 1, len(names))), cmap="Oranges", aspect="auto", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names)
    ax.set_yticks(range(len(names) + 1), ["(first purchase)", *names])
    ax.set_xlabel("bought from now")
    ax.set_ylabel("bought from last time")
    labels = {(i, j): ax.text(j, i, "", ha="center", va="center", fontsize=10)
              for i in range(len(names) + 1) for j in range(len(names))}
    title = fig.text(0.5, 0.95, "", ha="center", va="bottom", fontsize=10)
    parts = {"image": image, "labels": labels, "title": title}
    return LiveFigure(fig, [image, *labels.values(), title]), parts


def flows_png(model: ClassroomMarket) -> bytes:
    """Purchases that moved between retailers over the last 13 weeks, as a from × to table."""
    live, parts = _live(model, "flows", _build_flows)

    def update() -> bool:
        flows = model.diary.flows()
        parts["image"].set_data(flows)
        parts["image"].set_clim(0, max(1, int(flows.max())))
        for (i, j), label in parts["labels"].items():
            label.set_text("–" if i == j + 1 else f"{int(flows[i, j]):,}")
        parts["title"].set_text(f"Purchases that moved between retailers, last {len(model.diary.weekly_flows)} weeks")
        return False

    return live.png(update)


# ---- the panels ------------------------------------------------------------------------------

def _image_panel(draw):
    """A panel showing ``draw(model)`` (PNG bytes), redrawn after every step."""

    @solara.component
    def Panel(model: ClassroomMarket):
        update_counter.get()
        solara.Image(draw(model), format="png")

    Panel.__name__ = draw.__name__.replace("_png", "").title() + "Panel"
    return Panel


MapPanel = _image_panel(map_png)
ChartsPanel = _image_panel(chart_png)
FlowsPanel = _image_panel(flows_png)


# ---- one consumer's story --------------------------------------------------------------------

def story_table(model: ClassroomMarket, position: int, weeks: int = 26) -> pd.DataFrame:
    """The last ``weeks`` weeks of one sampled consumer: where she shopped, how, and why she moved."""
    consumer = int(model.diary.ids[position])
    rows = [{"week": v.week, "retailer": v.retailer or "(did not shop)", "channel": v.channel or "",
             "why she moved": v.reason or ""} for v in model.diary.story(consumer, last=weeks)]
    return pd.DataFrame(rows[::-1], columns=["week", "retailer", "channel", "why she moved"])


@solara.component
def StoryPanel(model: ClassroomMarket):
    update_counter.get()  # redraw after every step
    ids = model.diary.ids
    position = min(picked_consumer.value, len(ids) - 1)
    consumer = int(ids[position])
    pop = model.population
    with solara.Card("Her story"):
        solara.SliderInt("Consumer (one of the sample on the map, ringed in red)", value=picked_consumer,
                         min=0, max=len(ids) - 1)
        online = "shops online too" if pop.adopted[consumer] else "has not taken up online shopping"
        moves = [v for v in model.diary.story(consumer) if v.reason]
        items = "".join(f"<li>week {v.week}: {html.escape(v.reason)}</li>" for v in moves[-6:])
        # plain HTML: solara's Markdown would fetch a maths renderer this offline page cannot load
        solara.HTML(tag="div", unsafe_innerHTML=(
            f"<p><b>Consumer {consumer}</b>: budget €{pop.budget_eur[consumer]:.0f} a week, habit strength "
            f"{pop.inertia[consumer]:.1f}, price sensitivity {pop.price_sens[consumer]:.1f}; {online}.</p>"
            + (f"<p><b>Her moves</b> (latest {min(len(moves), 6)} of {len(moves)}):</p><ul>{items}</ul>" if moves
               else "<p>She has not left a retailer yet.</p>")))
        table = story_table(model, position)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                       for row in table.itertuples(index=False))
        solara.HTML(tag="div", unsafe_innerHTML=(
            "<table class='story'><tr>" + "".join(f"<th>{c}</th>" for c in table.columns) + "</tr>" + rows
            + "</table><style>.story td, .story th {padding: 1px 8px; text-align: left; font-size: 13px;}</style>"))
