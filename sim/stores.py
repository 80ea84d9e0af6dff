"""The Store agent: a retailer's shop on one site, with its own accounts."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import mesa
import numpy as np

if TYPE_CHECKING:
    from sim.model import RetailMarket
    from sim.retailers import Retailer


def running_costs(model: RetailMarket, category: int) -> tuple[float, float]:
    """Staff cost per m² of floor and fixed cost of a store of ``category`` (€ per year): the category's own
    where its [[categories]] table sets them, else the stores' defaults. The one home of these two costs:
    stores pay them each week and would-be entrants, chains and independents alike, count them."""
    default, trade = model.config.stores, model.categories[category].config
    staff = default.staff_eur_m2_year if trade.staff_eur_m2_year is None else trade.staff_eur_m2_year
    fixed = default.fixed_eur_year if trade.fixed_eur_year is None else trade.fixed_eur_year
    return staff, fixed


def staff_shares(model: RetailMarket) -> np.ndarray:
    """Each retailer's staff cost as a share of its stores' sales (``staff_share_of_sales``; NaN where it pays
    its trade's staff cost per m² instead)."""
    return np.array([np.nan if r.staff_share_of_sales is None else r.staff_share_of_sales
                     for r in model.retailers], dtype=float)


def store_costs_year(model: RetailMarket, retailer_index: int, area_m2: np.ndarray | float,
                     occupancy_eur_m2: np.ndarray | float, sales_year: np.ndarray | float) -> np.ndarray | float:
    """What a store of the retailer on ``area_m2`` of floor at ``occupancy_eur_m2`` (rent and service charge a
    year) selling ``sales_year`` costs to run a year (€): occupancy, staff and the fixed cost. Staff are the
    retailer's share of the sales where it sets one, else its trade's cost per m² of floor. The rule stores pay by
    each week, which entrants, renewals and moves count by."""
    staff_m2, fixed_year = running_costs(model, int(model.retailer_category[retailer_index]))
    share = model.retailers[retailer_index].staff_share_of_sales
    if share is None:
        return area_m2 * (occupancy_eur_m2 + staff_m2) + fixed_year
    return area_m2 * occupancy_eur_m2 + share * sales_year + fixed_year


def added_in_order(total: float, values: np.ndarray) -> float:
    """``total`` plus each of ``values`` in turn, as a running sum one at a time would give it (to the last bit,
    which a pairwise sum would not)."""
    return float(np.cumsum(np.concatenate([[total], values]))[-1])


def pay_running_costs(model: RetailMarket, stores: list[Store], owner: np.ndarray) -> None:
    """Open ``stores`` (each retailer's in the order they opened, retailer by retailer; ``owner``: their
    retailers' indices) pay the week's rent, service charge, staff and fixed costs, booked to their retailers
    in one pass; the town pays the rent relief it grants. Each store's profit joins its 52-week record."""
    n = len(stores)
    if n == 0:
        return
    area = np.fromiter((s.floor_area_m2 for s in stores), dtype=float, count=n)
    rent_m2 = np.fromiter((s.rent_eur_m2_year for s in stores), dtype=float, count=n)
    service_m2 = np.fromiter((s.service_eur_m2_year for s in stores), dtype=float, count=n)
    category = model.retailer_category[owner]
    per_category = np.array([running_costs(model, k) for k in range(len(model.categories))], dtype=float)
    staff_m2, fixed_year = per_category[:, 0], per_category[:, 1]
    full_rent = area * rent_m2 / 52.0
    relief = full_rent * model.municipality.relieved_shares(stores)  # the town pays this part
    # the service charge is booked with rent (the cost of occupying the unit); the town relieves rent only
    rent = full_rent - relief + area * service_m2 / 52.0
    revenue = np.fromiter((s.revenue for s in stores), dtype=float, count=n)
    share = staff_shares(model)[owner]
    staff = np.where(np.isnan(share), area * staff_m2[category] / 52.0, np.nan_to_num(share) * revenue)
    fixed = fixed_year[category] / 52.0
    costs = rent + staff + fixed
    books, n_ret = model.books, len(model.retailers)
    # bincount adds each store's figure in turn, so a retailer's sums are those of adding store by store
    books.row("rent")[:] += np.bincount(owner, weights=rent, minlength=n_ret)
    books.row("staff")[:] += np.bincount(owner, weights=staff, minlength=n_ret)
    books.row("store_fixed")[:] += np.bincount(owner, weights=fixed, minlength=n_ret)
    town = model.municipality.accounts
    town.rent_relief = added_in_order(town.rent_relief, relief)
    cogs = np.fromiter((s.cogs for s in stores), dtype=float, count=n)
    for store, cost, profit in zip(stores, costs.tolist(), (revenue - cogs - costs).tolist(), strict=True):
        store.costs = cost
        store.weekly_profit.append(profit)


class Store(mesa.Agent):
    """A store on a site. Books weekly revenue, cost of goods, rent, staff and fixed costs."""

    def __init__(self, model: RetailMarket, retailer: Retailer, site: int, slot: int):
        super().__init__(model)
        region = model.region
        self.retailer = retailer
        self.site = int(site)
        self.slot = int(slot)  # index into the model's per-store arrays
        self.floor_area_m2 = float(region.site_area_m2[site])
        self.rent_eur_m2_year = float(model.asking_rent[site])  # the rent agreed when it opened
        self.service_eur_m2_year = float(model.property.service_charge[site])  # a shopping centre's common parts
        self.opened_week = model.week
        self.closed_week: int | None = None
        self.lease_end_week: int | None = None  # a chain's lease runs out this week (None: no lease ends)
        self.revenue = 0.0
        self.cogs = 0.0
        self.costs = 0.0
        self.weekly_profit: deque[float] = deque(maxlen=52)
        self.weekly_revenue: deque[float] = deque(maxlen=52)
        self.loss_strikes = 0

    @property
    def is_open(self) -> bool:
        return self.closed_week is None

    @property
    def age_weeks(self) -> int:
        return self.model.week - self.opened_week

    @property
    def trailing_profit(self) -> float:
        """Store contribution over the last 52 weeks (revenue − goods − rent − staff − fixed)."""
        return float(sum(self.weekly_profit))

    @property
    def sales_rate_year(self) -> float:
        """What the store has sold in the last 52 weeks (or since it opened), at a year's rate (€; 0 before its
        first week)."""
        return sum(self.weekly_revenue) * 52 / len(self.weekly_revenue) if self.weekly_revenue else 0.0

    def book_sales(self, revenue: float, cogs: float) -> None:
        self.revenue = revenue
        self.cogs = cogs
        if self.is_open:
            self.weekly_revenue.append(revenue)

    def renew_lease(self, rent_eur_m2_year: float, until_week: int) -> None:
        """A new lease at ``rent_eur_m2_year`` (the open-market rent), running to ``until_week``."""
        self.rent_eur_m2_year = float(rent_eur_m2_year)
        self.lease_end_week = int(until_week)

    def close(self) -> None:
        self.closed_week = self.model.week

    def __repr__(self) -> str:
        state = "open" if self.is_open else f"closed week {self.closed_week}"
        return f"Store({self.retailer.name!r}, site={self.site}, {self.floor_area_m2:.0f} m², {state})"
