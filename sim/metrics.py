"""What the model measures: each metric is a small named reporter with a docstring.

Every week the recorder writes one row per retailer and one market row
(retailer = ``all``). A *retailer metric* returns one value per retailer followed by
the market value; a *market metric* returns one value for the market row (retailer
rows hold NaN). The docstrings are the column documentation (``docs/metrics.md`` is
generated from them by ``scripts/make_docs.py``).

Rates are fractions in [0, 1], money is in €, per week unless the name says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from mesa.datacollection import DataCollector

from sim.retailers import ACCOUNT_FIELDS, COST_FIELDS
from sim.scenario import CLASSIC_ZONES, ZONES

if TYPE_CHECKING:
    from sim.model import RetailMarket

ALL = "all"
RETAILER_METRICS: dict[str, Callable[[RetailMarket], np.ndarray]] = {}
MARKET_METRICS: dict[str, Callable[[RetailMarket], float]] = {}


def retailer_metric(func):
    RETAILER_METRICS[func.__name__] = func
    return func


def market_metric(func):
    MARKET_METRICS[func.__name__] = func
    return func


def _per_retailer(model: RetailMarket, values, market: float | None = None) -> np.ndarray:
    arr = np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype=float)
    total = arr.sum() if market is None else market
    return np.append(arr, total)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


# ---- money ------------------------------------------------------------------------------

def _read_books(m: RetailMarket) -> dict[str, np.ndarray]:
    """Every retailer's accounts this week as one array per field, with the derived sums (summed in the
    order ``Accounts`` sums them, so the figures are those of its properties to the last bit), and the
    open stores' owners and floor areas."""
    books = {name: m.books.row(name).copy() for name in ACCOUNT_FIELDS}
    books["revenue"] = books["revenue_store"] + books["revenue_online"]
    books["gross_profit"] = books["revenue"] - books["cogs"] - books["rewards"]
    costs = books[COST_FIELDS[0]].copy()
    for name in COST_FIELDS[1:]:
        costs += books[name]
    books["operating_costs"] = costs
    books["operating_profit"] = books["gross_profit"] - costs
    books["open_owner"], books["open_area"] = _open_store_table(m)
    return books


def _books(m: RetailMarket) -> dict[str, np.ndarray]:
    """The week's accounts: read once per recording (the recorder holds them while it records), else now."""
    held = getattr(m, "_books_held", None)
    return held if held is not None else _read_books(m)


@retailer_metric
def revenue_eur(m):
    """Sales this week: what consumers paid, in store and online (€)."""
    return _per_retailer(m, _books(m)["revenue"])


@retailer_metric
def revenue_online_eur(m):
    """Sales through the online channel this week (€)."""
    return _per_retailer(m, _books(m)["revenue_online"])


@retailer_metric
def cogs_eur(m):
    """Cost of the goods sold this week (€)."""
    return _per_retailer(m, _books(m)["cogs"])


@retailer_metric
def rewards_eur(m):
    """Loyalty vouchers paid out this week (€)."""
    return _per_retailer(m, _books(m)["rewards"])


@retailer_metric
def gross_profit_eur(m):
    """Revenue less cost of goods and rewards (€)."""
    return _per_retailer(m, _books(m)["gross_profit"])


@retailer_metric
def operating_costs_eur(m):
    """Rent, staff, store fixed costs, online fixed costs, delivery, marketing, programme, IT and data,
    and the town's delivery levy and platform commission (€)."""
    return _per_retailer(m, _books(m)["operating_costs"])


@retailer_metric
def operating_profit_eur(m):
    """Gross profit less operating costs (€)."""
    return _per_retailer(m, _books(m)["operating_profit"])


@retailer_metric
def gross_margin(m):
    """Gross profit / revenue this week (NaN without revenue)."""
    return _ratio(gross_profit_eur(m), revenue_eur(m))


@retailer_metric
def operating_margin(m):
    """Operating profit / revenue this week (NaN without revenue); can be negative."""
    return _ratio(operating_profit_eur(m), revenue_eur(m))


@retailer_metric
def markup(m):
    """Posted markup on cost (0.3 = price 1.3 × cost); market: revenue-weighted mean."""
    values = np.array([r.markup for r in m.retailers])
    rev = revenue_eur(m)[:-1]
    market = float((values * rev).sum() / rev.sum()) if rev.sum() > 0 else float("nan")
    return np.append(values, market)


# ---- stores -----------------------------------------------------------------------------

def _open_store_table(m: RetailMarket) -> tuple[np.ndarray, np.ndarray]:
    """(retailer index, floor area) of each open store."""
    slots = m.site_store[m.site_store >= 0]
    owner = np.fromiter((m.stores[s].retailer.index for s in slots), dtype=np.int64, count=len(slots))
    area = np.fromiter((m.stores[s].floor_area_m2 for s in slots), dtype=float, count=len(slots))
    return owner, area


@retailer_metric
def n_stores_open(m):
    """Stores open at the end of the week."""
    owner = _books(m)["open_owner"]
    return _per_retailer(m, np.bincount(owner, minlength=len(m.retailers)).astype(float))


@retailer_metric
def floor_area_m2(m):
    """Floor area of the open stores (m²)."""
    books = _books(m)
    owner, area = books["open_owner"], books["open_area"]
    # areas are whole m², so the sum is exact in any order
    return _per_retailer(m, np.bincount(owner, weights=area, minlength=len(m.retailers)))


@retailer_metric
def revenue_per_m2_year(m):
    """In-store sales this week × 52 / open floor area (€ per m² per year)."""
    store_rev = _per_retailer(m, _books(m)["revenue_store"])
    return _ratio(store_rev * 52.0, floor_area_m2(m))


# ---- customers --------------------------------------------------------------------------

@retailer_metric
def n_transactions(m):
    """Purchases this week (one per shopper who bought)."""
    return _per_retailer(m, m.n_transactions)


@retailer_metric
def n_active_customers(m):
    """Consumers who bought from the retailer in the active window (13 weeks by default);
    market: consumers active with at least one retailer."""
    active, _, anyone = m.relationship_counts()
    return _per_retailer(m, active, market=float(anyone))


@retailer_metric
def n_acquired(m):
    """Customers won this week: a purchase by a consumer who was not an active customer."""
    return _per_retailer(m, m.n_acquired)


@retailer_metric
def n_lost(m):
    """Customers lost this week: their last purchase is exactly one active window ago."""
    return _per_retailer(m, m.relationship_counts()[1])


@retailer_metric
def attrition_rate(m):
    """Annual attrition: share of the active customers of 52 weeks ago lost since (a spell of
    ``active_window_weeks`` without buying), counted lost even if won back. Measured every 13
    weeks once a year of history exists; NaN in other weeks."""
    if m.week % 13 != 0:
        return np.full(len(m.retailers) + 1, np.nan)
    return m.attrition_rate.copy()


def _quarterly_detail(name: str, doc: str):
    def reporter(m):
        if m.week % 13 != 0:
            return np.full(len(m.retailers) + 1, np.nan)
        return m.attrition_detail[name].copy()

    reporter.__name__ = name
    reporter.__doc__ = doc
    return reporter


_DETAIL_DOCS = {
    "attrition_rate_new": "Annual attrition of customers who were new 52 weeks ago (tenure under 13 weeks then).",
    "attrition_rate_tenure_13_52": "Annual attrition of customers whose tenure was 13 to 51 weeks 52 weeks ago.",
    "attrition_rate_tenure_52_156": "Annual attrition of customers whose tenure was 1 to 3 years 52 weeks ago.",
    "attrition_rate_tenure_156_plus": "Annual attrition of customers whose tenure was 3 years or more 52 weeks ago.",
    "attrition_rate_top": "Annual attrition of top-value customers (top 20 % of budgets).",
    "attrition_rate_middle": "Annual attrition of middle-value customers (next 30 % of budgets).",
    "attrition_rate_bottom": "Annual attrition of the other customers (bottom 50 % of budgets).",
}
for _name, _doc in _DETAIL_DOCS.items():
    retailer_metric(_quarterly_detail(_name, _doc + " Every 13 weeks; NaN in other weeks."))

DISCOUNT_RATE = 0.10  # yearly, for customer lifetime value


@retailer_metric
def share_of_wallet(m):
    """Of what the retailer's active customers spent this year (since the last year end), the share
    spent at this retailer. Every 13 weeks; NaN in other weeks and on the market row."""
    if m.week % 13 != 0:
        return np.full(len(m.retailers) + 1, np.nan)
    return m.share_of_wallet.copy()


@retailer_metric
def clv_eur(m):
    """Customer lifetime value (€): gross profit per active customer over the last 52 weeks × r / (1 + d − r),
    with retention r = 1 − annual attrition and d = 10 % a year. Every 13 weeks once attrition is measured."""
    if m.week % 13 != 0 or len(m.metrics.weeks) < 51:
        return np.full(len(m.retailers) + 1, np.nan)
    past = np.array(m.metrics.columns["gross_profit_eur"][-51:]).sum(axis=0)
    profit_year = past + gross_profit_eur(m)
    per_customer = _ratio(profit_year, n_active_customers(m))
    retention = 1.0 - m.attrition_rate
    return per_customer * retention / (1.0 + DISCOUNT_RATE - retention)


def _category_totals(m: RetailMarket, values: np.ndarray) -> np.ndarray:
    """For each retailer, the sum of ``values`` over the retailers of its category."""
    cat = m.retailer_category
    return np.bincount(cat, weights=values, minlength=len(m.categories))[cat]


@retailer_metric
def revenue_share(m):
    """Share of its category's revenue this week (with one category, of the market's; market row: 1)."""
    rev = revenue_eur(m)
    if len(m.categories) == 1:
        return _ratio(rev, np.full_like(rev, rev[-1]))
    return np.append(_ratio(rev[:-1], _category_totals(m, rev[:-1])), 1.0 if rev[-1] > 0 else np.nan)


@retailer_metric
def customer_share(m):
    """Active customers / sum of the active customers of all retailers in its category (market row: 1)."""
    n = n_active_customers(m)[:-1]
    total = n.sum()
    den = np.full_like(n, total) if len(m.categories) == 1 else _category_totals(m, n.astype(float))
    return np.append(_ratio(n, den), 1.0 if total > 0 else np.nan)


@retailer_metric
def online_share(m):
    """Online sales / all sales this week."""
    return _ratio(revenue_online_eur(m), revenue_eur(m))


# ---- market -----------------------------------------------------------------------------

@market_metric
def vacancy_rate(m):
    """Vacant sites / all sites in retail use (a converted unit is neither)."""
    in_use = m.property.in_use
    return float((m.site_store[in_use] < 0).mean())


@market_metric
def vacancy_rate_floor(m):
    """Vacant floor area / all floor area in retail use."""
    area = m.region.site_area_m2[m.property.in_use]
    return float(area[m.site_store[m.property.in_use] < 0].sum() / area.sum())


def _zone_vacancy(zone: str):
    code = ZONES.index(zone)

    def reporter(m):
        in_zone = (m.region.site_zone == code) & m.property.in_use
        return float((m.site_store[in_zone] < 0).mean()) if in_zone.any() else float("nan")

    reporter.__name__ = f"vacancy_rate_{zone}"
    reporter.__doc__ = (f"Vacant sites / all sites in retail use in the {zone.replace('_', ' ')} zone (NaN if it "
                        f"has none).")
    return reporter


for _zone in ZONES:
    market_metric(_zone_vacancy(_zone))


@market_metric
def persistent_vacancy_rate(m):
    """Sites vacant for property.persistent_vacancy_years (2) or more / all sites in retail use."""
    return float(m.property.persistent(m.week).sum() / max(m.property.in_use.sum(), 1))


@market_metric
def n_sites_converted(m):
    """Sites that have left retail use (conversion, property.enabled), since the start."""
    return float(m.property.converted().sum())


@market_metric
def share_occupied_independent(m):
    """Share of the occupied sites whose store is an independent's (NaN with none occupied)."""
    slots = m.site_store[m.site_store >= 0]
    if len(slots) == 0:
        return float("nan")
    return float(np.mean([m.stores[s].retailer.independent for s in slots]))


@market_metric
def mean_asking_rent_vacant(m):
    """Mean asking rent of the vacant sites in retail use (€ per m² per year; NaN with none vacant)."""
    vacant = m.property.vacant()
    return float(m.asking_rent[vacant].mean()) if vacant.any() else float("nan")


def _unit_flow(kind: int, independent: int, name: str):
    def reporter(m):
        flows = m.unit_flows.get(m.week)
        return float(flows[kind, independent].sum()) if flows is not None and m.week > 0 else 0.0

    reporter.__name__ = name
    who = "independents'" if independent else "chains' (and other listed non-independent retailers')"
    reporter.__doc__ = f"Stores {'opened' if kind == 0 else 'closed'} this week that are {who}."
    return reporter


for _kind, _verb in enumerate(("openings", "closures")):
    for _ind, _group in enumerate(("chain", "independent")):
        market_metric(_unit_flow(_kind, _ind, f"n_{_verb}_{_group}"))

FLOW_RATES = tuple(f"{verb}_{group}" for verb in ("openings", "closures") for group in ("chain", "independent"))
"""Openings and closures a year per unit in retail use, by chain or independent (:func:`unit_flow_rates`)."""


def unit_flow_rates(m) -> dict[str, float]:
    """Each full year's openings and closures per unit in retail use at the year's start, by chain or
    independent, as ``openings_chain_y1`` …, and their means over the years as ``openings_chain`` … (the
    unit of the Local Data Company's published flows; NaN for a run shorter than a year)."""
    prop = m.property
    years = m.week // 52
    out: dict[str, float] = {}
    for year in range(1, years + 1):
        start = 52 * (year - 1)
        flows = m.unit_flows_between(start, start + 52)
        in_use = int((prop.converted_week > start).sum())
        for k, verb in enumerate(("openings", "closures")):
            for g, group in enumerate(("chain", "independent")):
                out[f"{verb}_{group}_y{year}"] = float(flows[k, g].sum()) / in_use if in_use else float("nan")
    for name in FLOW_RATES:
        out[name] = float(np.mean([out[f"{name}_y{y}"] for y in range(1, years + 1)])) if years else float("nan")
    return out


SURVIVAL_YEARS = (1, 2, 3)


def independents_survival(m) -> dict[str, float]:
    """The share of the independents' shops opened during the run (week 1 on) that still traded k years
    after they opened, for k = 1, 2, 3, among those opened at least k years before the run's end, as
    ``survival_independent_1y`` … (the unit of ONS's survival of newly born enterprises; NaN where no shop
    opened early enough)."""
    out: dict[str, float] = {}
    for k in SURVIVAL_YEARS:
        weeks = 52 * k
        cohort = [s for s in m.stores if s.retailer.independent and 1 <= s.opened_week <= m.week - weeks]
        alive = sum(s.closed_week is None or s.closed_week - s.opened_week >= weeks for s in cohort)
        out[f"survival_independent_{k}y"] = alive / len(cohort) if cohort else float("nan")
    return out


@market_metric
def mean_nearest_store_km(m):
    """Mean distance from a consumer's home to the nearest open store of any retailer (km)."""
    return m.access["mean_nearest_store_km"]


@market_metric
def share_no_store_nearby(m):
    """Share of consumers with no open store within stores.access_km (2 km by default)."""
    return m.access["share_no_store_nearby"]


@market_metric
def municipal_net_eur(m):
    """The town's net from its retail policies this week: vacancy tax + delivery levy + platform fees
    − rent relief paid (€; 0 with every lever off)."""
    return m.municipality.accounts.net


@market_metric
def n_closures(m):
    """Stores closed this week."""
    return float(sum(1 for c in m.closures if c["week"] == m.week))


@market_metric
def n_openings(m):
    """Stores opened this week (on vacant sites, by retailers and new independents)."""
    return float(sum(1 for s in m.stores if s.opened_week == m.week and m.week > 0))


@market_metric
def share_adopted_online(m):
    """Share of consumers who have adopted online shopping (Bass diffusion)."""
    return float(m.population.adopted.mean())


@market_metric
def main_switching_rate(m):
    """Share of consumers whose main (largest-wallet) retailer changed from the previous
    52 weeks to the last 52; measured at year ends, NaN in other weeks."""
    return m.main_switching_rate if m.week % 52 == 0 else float("nan")


@market_metric
def hhi(m):
    """Herfindahl-Hirschman index of revenue shares this week, from 0 (atomistic) to 1 (monopoly);
    with categories, each category's index weighted by its share of the market's revenue."""
    share = revenue_share(m)[:-1]
    if len(m.categories) == 1:
        return float(np.nansum(share**2))
    rev = revenue_eur(m)
    weight = _ratio(_category_totals(m, rev[:-1]), np.full(len(m.retailers), rev[-1]))
    return float(np.nansum(weight * share**2))


@market_metric
def n_evicted_active(m):
    """Active relationships pushed out of a full repertoire this week: a purchase from a retailer new to
    her while every slot held a relationship active within the window. Near 0 when
    ``consumers.repertoire_slots`` holds what consumers actually use."""
    return float(m.n_evicted_active)


@market_metric
def n_shoppers(m):
    """Consumers who went shopping this week."""
    return m.shop_stats.get("n_shoppers", np.nan)


@market_metric
def n_stranded(m):
    """Shoppers with no option at all (no open store and not online)."""
    return m.shop_stats.get("n_stranded", np.nan)


@market_metric
def mean_distance_km(m):
    """Mean distance from home to the store used, over store shoppers this week (km)."""
    return m.shop_stats.get("mean_distance_km", np.nan)


@market_metric
def mean_utility(m):
    """Mean deterministic utility of the option each buyer chose this week."""
    return m.shop_stats.get("mean_utility", np.nan)


# ---- the recorder -------------------------------------------------------------------------

ID_COLUMNS = {
    "week": "Week of the run (1 = first week after warm-up).",
    "retailer": "Retailer name, or `all` for the market row.",
    "strategy": "The retailer's strategy (mass, loyalty, learning); empty for `all`.",
    "category": "The retail category the retailer trades in (`all_retail` when the scenario declares none); "
                "empty for `all`.",
}


def column_docs() -> dict[str, str]:
    """Every column of metrics.parquet and its meaning."""
    docs = dict(ID_COLUMNS)
    for name, func in {**RETAILER_METRICS, **MARKET_METRICS}.items():
        docs[name] = " ".join((func.__doc__ or "").split())
    return docs


# ---- the pool's independents as one row per category -----------------------------------------

POOL_ROW = "independents"  # the row the pool of business identities folds into (one per category)

# How each retailer metric folds over the pool's identities: counts and money are summed ("sum"); a ratio is
# taken of the sums (its numerator and denominator); a rate is averaged weighted by its base ("weighted":
# the column whose value, that many weeks before, is the base). A share of the category sums, as counts do.
FOLD_RULES: dict[str, tuple] = {
    **{name: ("sum",) for name in ("revenue_eur", "revenue_online_eur", "cogs_eur", "rewards_eur",
                                   "gross_profit_eur", "operating_costs_eur", "operating_profit_eur",
                                   "n_stores_open", "floor_area_m2", "n_transactions", "n_active_customers",
                                   "n_acquired", "n_lost", "revenue_share", "customer_share")},
    "gross_margin": ("ratio", "gross_profit_eur", "revenue_eur"),
    "operating_margin": ("ratio", "operating_profit_eur", "revenue_eur"),
    "online_share": ("ratio", "revenue_online_eur", "revenue_eur"),
    "revenue_per_m2_year": ("store_sales_per_m2",),
    "markup": ("weighted", "revenue_eur", 0),
    # annual attrition's base is the active customers of a year before (exact for attrition_rate; for the
    # tenure and value groups, their share of those customers is taken as equal across businesses)
    **{name: ("weighted", "n_active_customers", 52) for name in ("attrition_rate", *_DETAIL_DOCS)},
    "share_of_wallet": ("weighted", "n_active_customers", 0),
    "clv_eur": ("weighted", "n_active_customers", 0),
}


def report_rows(m: RetailMarket) -> tuple[np.ndarray, list[str], list[int]]:
    """The rows retailers are reported in: each listed retailer its own, the pool's identities one row per
    category (``independents``, or ``independents (CATEGORY)`` with several categories). Returns each
    retailer's row, the rows' names and the rows' category indices."""
    n_listed, cats = m.n_listed, m.retailer_category
    names = list(m.retailer_names[:n_listed])
    row_cats = [int(c) for c in cats[:n_listed]]
    row = np.arange(len(m.retailers))
    pool_cats = sorted(set(int(c) for c in cats[n_listed:]))
    for c in pool_cats:
        row[n_listed:][cats[n_listed:] == c] = len(names)
        names.append(POOL_ROW if len(m.categories) == 1 else f"{POOL_ROW} ({m.categories[c].config.name})")
        row_cats.append(c)
    return row, names, row_cats


def _fold(columns: dict[str, np.ndarray], row: np.ndarray, n_rows: int, n_listed: int) -> dict[str, np.ndarray]:
    """Weeks × retailers (+ market) tables folded into weeks × report rows (+ market) by ``FOLD_RULES``; the
    first ``n_listed`` retailers are rows of their own."""
    n_w = next(iter(columns.values())).shape[0]
    members = [np.flatnonzero(row == k) for k in range(n_listed, n_rows)]

    def summed(values: np.ndarray) -> np.ndarray:
        out = np.empty((n_w, n_rows + 1))
        out[:, :n_listed] = values[:, :n_listed]
        for k, who in enumerate(members, start=n_listed):
            out[:, k] = values[:, who].sum(axis=1)
        out[:, -1] = values[:, -1]
        return out

    def lagged(values: np.ndarray, weeks: int) -> np.ndarray:
        out = np.full_like(values, np.nan)
        out[weeks:] = values[:n_w - weeks] if weeks else values
        return out

    folded: dict[str, np.ndarray] = {}
    for name, values in columns.items():
        rule = FOLD_RULES.get(name)
        if rule is None:
            raise KeyError(f"metric {name!r} has no rule in FOLD_RULES for folding the pool's rows")
        if rule[0] == "sum":
            folded[name] = summed(values)
    for name, values in columns.items():
        rule = FOLD_RULES[name]
        if rule[0] == "ratio":
            out = _ratio(folded[rule[1]], folded[rule[2]])
        elif rule[0] == "store_sales_per_m2":
            out = _ratio((folded["revenue_eur"] - folded["revenue_online_eur"]) * 52.0, folded["floor_area_m2"])
        elif rule[0] == "weighted":
            weight = lagged(columns[rule[1]], rule[2])
            known = np.isfinite(values) & np.isfinite(weight)
            top = summed(np.where(known, values * weight, 0.0))
            bottom = summed(np.where(known, weight, 0.0))
            out = _ratio(top, bottom)
        else:
            continue
        out[:, -1] = values[:, -1]
        out[:, :n_listed] = values[:, :n_listed]  # a listed retailer's row is its own, as it was recorded
        folded[name] = out
    return {name: folded[name] for name in columns}  # in the columns' order


class MetricsRecorder:
    """Records every metric each week; builds the tidy table at the end."""

    def __init__(self, model: RetailMarket):
        self.model = model
        self.weeks: list[int] = []
        self.columns: dict[str, list[np.ndarray]] = {name: [] for name in RETAILER_METRICS}
        self.market: dict[str, list[float]] = {name: [] for name in MARKET_METRICS}
        self.latest: dict[str, Any] = {}
        self.strategies: list[list[str]] = []  # strategies can change (a copied programme)
        # batch_run and Mesa tooling read market-level series from a DataCollector
        self.datacollector = DataCollector(
            model_reporters={name: self._latest_reader(name) for name in MARKET_METRICS}
            | {f"{name}_all": self._latest_reader(name, market_row=True)
               for name in ("revenue_eur", "gross_margin", "operating_margin", "attrition_rate",
                            "online_share", "n_stores_open")}
        )

    def _latest_reader(self, name: str, market_row: bool = False):
        def read(_model):
            value = self.latest.get(name, np.nan)
            return float(value[-1]) if market_row else value

        read.__name__ = name
        return read

    def record(self) -> None:
        m = self.model
        m._books_held = _read_books(m)
        try:
            self._record(m)
        finally:
            m._books_held = None

    def _record(self, m: RetailMarket) -> None:
        self.weeks.append(m.week)
        self.strategies.append([r.strategy.name for r in m.retailers] + [""])
        for name, func in RETAILER_METRICS.items():
            values = func(m)
            self.columns[name].append(values)
            self.latest[name] = values
        for name, func in MARKET_METRICS.items():
            value = float(func(m))
            self.market[name].append(value)
            self.latest[name] = value
        self.datacollector.collect(m)

    def trailing_revenue_share(self, weeks: int) -> np.ndarray:
        """Each retailer's share of revenue over the last ``weeks`` recorded weeks."""
        if not self.weeks:
            return np.zeros(len(self.model.retailers))
        rev = np.array(self.columns["revenue_eur"][-weeks:])[:, :-1].sum(axis=0)
        if len(self.model.categories) > 1:  # a share of its category
            total = _category_totals(self.model, rev)
            return np.where(total > 0, rev / np.where(total > 0, total, 1), 0.0)
        total = rev.sum()
        return rev / total if total > 0 else np.zeros_like(rev)

    def revenue_share_gain(self, weeks: int) -> np.ndarray | None:
        """Each retailer's revenue share over the last ``weeks`` weeks less its share over the
        ``weeks`` before; None until that much history exists."""
        if len(self.weeks) < 2 * weeks:
            return None
        rev = np.array(self.columns["revenue_eur"][-2 * weeks:])[:, :-1]
        before, now = rev[:weeks].sum(axis=0), rev[weeks:].sum(axis=0)
        if len(self.model.categories) > 1:  # shares of its category
            return (now / np.maximum(_category_totals(self.model, now), 1e-12)
                    - before / np.maximum(_category_totals(self.model, before), 1e-12))
        return now / max(now.sum(), 1e-12) - before / max(before.sum(), 1e-12)

    def to_frame(self, each_independent: bool = False) -> pd.DataFrame:
        """The tidy table: one row per week × retailer, plus market rows (retailer = all). The pool's
        independents are one row per category (``report_rows``) unless ``each_independent``."""
        m = self.model
        n_w = len(self.weeks)
        columns = {name: np.array(rows).reshape(n_w, len(m.retailers) + 1) for name, rows in self.columns.items()}
        strategies = np.array(self.strategies, dtype=object).reshape(n_w, len(m.retailers) + 1)
        cat_names = [c.config.name for c in m.categories]
        if each_independent or m.n_listed == len(m.retailers):
            names = [*m.retailer_names, ALL]
            row_cats = [cat_names[c] for c in m.retailer_category]
        else:
            row, pooled, cats = report_rows(m)
            columns = _fold(columns, row, len(pooled), m.n_listed)
            names = [*pooled, ALL]
            row_cats = [cat_names[c] for c in cats]
            folded = np.full((n_w, len(pooled) + 1), "", dtype=object)
            for k in range(len(pooled)):  # a pooled row's strategy: its identities' one, or "several"
                kinds = strategies[:, :-1][:, row == k]
                same = (kinds == kinds[:, :1]).all(axis=1)
                folded[:, k] = np.where(same, kinds[:, 0], "several")
            strategies = folded
        n_r = len(names)
        data: dict[str, Any] = {
            "week": np.repeat(np.array(self.weeks, dtype=np.int32), n_r),
            "retailer": pd.Categorical(np.tile(names, n_w), categories=names),
            "strategy": strategies.ravel() if n_w else np.array([], dtype=object),
            "category": pd.Categorical(np.tile([*row_cats, ""], n_w), categories=[*cat_names, ""]),
        }
        for name, values in columns.items():
            data[name] = values.ravel()
        for name, values in self.market.items():
            col = np.full((n_w, n_r), np.nan)
            col[:, -1] = values
            data[name] = col.ravel()
        frame = pd.DataFrame(data)
        for name in ("n_stores_open", "n_transactions", "n_active_customers", "n_acquired", "n_lost"):
            frame[name] = frame[name].astype(np.int64)
        return frame


# ---- final-year summary ------------------------------------------------------------------

def final_year_summary(model: RetailMarket, frame: pd.DataFrame) -> dict[str, Any]:
    """Figures over the last 52 weeks (or the whole run if shorter), as in the output contract."""
    last_week = int(frame["week"].max())
    year = frame[frame["week"] > last_week - 52]
    market = year[year["retailer"] == ALL]
    end = frame[frame["week"] == last_week]
    end_market = end[end["retailer"] == ALL].iloc[0]

    def last_measured(series: pd.Series) -> float | None:
        s = series.dropna()
        return _num(s.iloc[-1]) if len(s) else None

    total_rev = market["revenue_eur"].sum()
    retailers = {}
    by_name = {r.name: r for r in model.retailers[:model.n_listed]}
    for name in frame["retailer"].cat.categories:  # listed retailers, then the pool's rows (if folded)
        if name == ALL:
            continue
        rows, history = year[year["retailer"] == name], frame[frame["retailer"] == name]
        end_row = end[end["retailer"] == name].iloc[0]
        rev = rows["revenue_eur"].sum()
        r = by_name.get(name)
        retailers[name] = {
            # at the end (a programme may have been copied); a pooled row's: its identities' or "several"
            "strategy": r.strategy.name if r is not None else str(end_row["strategy"]),
            "revenue_share": _num(rev / total_rev) if total_rev > 0 else None,
            "attrition_rate": last_measured(history["attrition_rate"]),
            "gross_margin": _num(rows["gross_profit_eur"].sum() / rev) if rev > 0 else None,
            "operating_margin": _num(rows["operating_profit_eur"].sum() / rev) if rev > 0 else None,
            "new_customer_attrition_rate": last_measured(history["attrition_rate_new"]),
            "share_of_wallet": last_measured(history["share_of_wallet"]),
            "clv_eur": last_measured(history["clv_eur"]),
            "category": str(end_row["category"]),
            "stores_open": int(end_row["n_stores_open"]),
            # a pooled row's: its identities' markups weighted by their revenue in the last week
            "markup": _num(r.markup if r is not None else end_row["markup"]),
        }
    all_rows = frame[frame["retailer"] == ALL]
    return {
        "online_share": _num(market["revenue_online_eur"].sum() / total_rev) if total_rev > 0 else None,
        "online_share_by_category": _by_category(year, "revenue_online_eur", "revenue_eur"),
        "revenue_share_by_category": {c: _num(v / total_rev) if total_rev > 0 else None
                                      for c, v in _category_sums(year, "revenue_eur").items()},
        "vacancy_rate": _num(end_market["vacancy_rate"]),
        "vacancy_rate_floor": _num(end_market["vacancy_rate_floor"]),
        "vacancy_rate_by_zone": {z: _num(end_market[f"vacancy_rate_{z}"]) for z in ZONES
                                 if z in CLASSIC_ZONES or (model.region.site_zone == ZONES.index(z)).any()},
        "main_switching_rate": last_measured(all_rows["main_switching_rate"]),
        "attrition_rate": last_measured(all_rows["attrition_rate"]),
        "share_adopted_online": _num(end_market["share_adopted_online"]),
        "stores_closed": len(model.closures),
        "stores_opened": sum(1 for s in model.stores if s.opened_week > 0),
        "mean_nearest_store_km": _num(end_market["mean_nearest_store_km"]),
        "share_no_store_nearby": _num(end_market["share_no_store_nearby"]),
        "retailers": retailers,
    } | ({"high_street": high_street_summary(model, last_week)}
         if model.config.independents.enabled or model.config.property.enabled else {})


def high_street_summary(model: RetailMarket, last_week: int) -> dict[str, Any]:
    """What a planner reads of the high street over the last 52 weeks: the units' stock at the end, and
    openings and closures per 100 units in retail use per year, by chain or independent and by location
    type (the unit of the Local Data Company's published flows)."""
    region, prop = model.region, model.property
    first = max(last_week - 52, 0)
    flows = model.unit_flows_between(first, last_week)
    years = (last_week - first) / 52.0
    in_use = prop.in_use
    zones = [z for z in ZONES if (region.site_zone == ZONES.index(z)).any()]

    def per_100(count: float, units: int) -> float | None:
        return _num(100.0 * count / units / years) if units > 0 and years > 0 else None

    n_units = int(in_use.sum())
    out: dict[str, Any] = {
        "n_sites": int(prop.built.sum()), "n_sites_in_use": n_units, "n_occupied": int((model.site_store >= 0).sum()),
        "n_vacant": int(prop.vacant().sum()), "n_converted": int(prop.converted().sum()),
        "n_units_built": int((prop.built & (prop.built_week > 0)).sum()),  # after the spin-up
        "persistent_vacancy_rate": _num(prop.persistent(last_week).sum() / max(n_units, 1)),
        "share_occupied_independent": _num(share_occupied_independent(model)),
        "mean_asking_rent_vacant": _num(mean_asking_rent_vacant(model)),
        "n_contested": int(prop.n_contested),
        "n_administrations": len(model.administrations),  # over the whole run, as the units built
        "n_closed_in_administration": sum(a["n_closed"] for a in model.administrations),
    }
    for kind, verb in enumerate(("openings", "closures")):
        out[f"{verb}_per_100_units_year"] = {
            group: per_100(flows[kind, g].sum(), n_units) for g, group in enumerate(("chain", "independent"))}
        out[f"{verb}_per_100_units_year_by_zone"] = {
            z: per_100(flows[kind, :, ZONES.index(z)].sum(), int((in_use & (region.site_zone == ZONES.index(z))).sum()))
            for z in zones}
    if model.demography is not None:
        out["n_arrivals"] = int(model.demography.n_arrivals)
        out["n_turned_away"] = int(model.demography.n_turned_away)
        survival = independents_survival(model)  # over the whole run
        out["survival_independent"] = {f"{k}y": _num(survival[f"survival_independent_{k}y"]) for k in SURVIVAL_YEARS}
    return out | high_street_by_category(model, last_week)


def high_street_by_category(model: RetailMarket, last_week: int) -> dict[str, Any]:
    """The high street by retail category, over the last 52 weeks: openings and closures per 100 units in
    retail use per year by the category of the retailer that opened or closed (they sum to the totals), the
    closures per 100 of the category's units occupied a year before, the category mix of the occupied units
    at the end and each category's share held by independents, and the vacant and persistently vacant units
    by the category of their last occupant (``never_occupied``: no store has held it)."""
    from sim.model import NEVER_OCCUPIED

    prop = model.property
    first = max(last_week - 52, 0)
    years = (last_week - first) / 52.0
    flows = model.unit_flows_between(first, last_week, by_category=True)
    # the stock a year before, from every flow since the start (week 0's are the initial stores)
    stock = model.unit_flows_between(-1, first, by_category=True)
    occupied_then = stock[0].sum(axis=(0, 1, 2)) - stock[1].sum(axis=(0, 1, 2))
    n_units = int(prop.in_use.sum())
    names = [cat.config.name for cat in model.categories]
    kind, independent = model.site_occupants()
    n_occupied = int((kind >= 0).sum())
    vacant, persistent = prop.vacant(), prop.persistent(last_week)
    n_vacant = int(vacant.sum())
    last = [*enumerate(names), (-1, NEVER_OCCUPIED)]

    def per_100(count: float, units: int) -> float | None:
        return _num(100.0 * count / units / years) if units > 0 and years > 0 else None

    out: dict[str, Any] = {}
    for k, verb in enumerate(("openings", "closures")):
        out[f"{verb}_per_100_units_year_by_category"] = {
            name: per_100(flows[k, ..., c].sum(), n_units) for c, name in enumerate(names)}
        out[f"n_{verb}_by_category"] = {name: int(flows[k, ..., c].sum()) for c, name in enumerate(names)}
    out["closures_per_100_occupied_year_by_category"] = {
        name: per_100(flows[1, ..., c].sum(), int(occupied_then[c])) for c, name in enumerate(names)}
    out["share_occupied_by_category"] = {
        name: _num((kind == c).sum() / n_occupied) if n_occupied else None for c, name in enumerate(names)}
    out["share_independent_by_category"] = {
        name: _num((independent & (kind == c)).sum() / (kind == c).sum()) if (kind == c).any() else None
        for c, name in enumerate(names)}
    out["n_vacant_by_last_category"] = {name: int((vacant & (prop.last_category == c)).sum()) for c, name in last}
    out["share_vacant_by_last_category"] = {
        name: _num((vacant & (prop.last_category == c)).sum() / n_vacant) if n_vacant else None for c, name in last}
    out["n_persistent_vacant_by_last_category"] = {
        name: int((persistent & (prop.last_category == c)).sum()) for c, name in last}
    return out


def _category_sums(rows: pd.DataFrame, column: str) -> dict[str, float]:
    """``column`` summed over the retailer rows of each category."""
    shops = rows[rows["retailer"] != ALL]
    return {str(c): float(v) for c, v in shops.groupby("category", observed=True)[column].sum().items() if c}


def _by_category(rows: pd.DataFrame, num: str, den: str) -> dict[str, float | None]:
    """Sum of ``num`` / sum of ``den`` over each category's retailer rows."""
    top, bottom = _category_sums(rows, num), _category_sums(rows, den)
    return {c: _num(top[c] / bottom[c]) if bottom[c] > 0 else None for c in bottom}


def _num(value: Any) -> float | None:
    value = float(value)
    return round(value, 6) if np.isfinite(value) else None
