"""The Retailer agent and its accounts."""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import reduce
from operator import add
from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.strategies import STRATEGIES

if TYPE_CHECKING:
    from sim.model import RetailMarket
    from sim.scenario import RetailerConfig
    from sim.stores import Store


@dataclass
class Accounts:
    """One retailer's books for one week (€). Revenue is what consumers paid."""

    revenue_store: float = 0.0
    revenue_online: float = 0.0
    cogs: float = 0.0
    rewards: float = 0.0  # loyalty vouchers paid out
    rent: float = 0.0
    staff: float = 0.0
    store_fixed: float = 0.0
    online_fixed: float = 0.0
    delivery: float = 0.0
    marketing: float = 0.0
    programme: float = 0.0
    it_data: float = 0.0
    levy: float = 0.0  # the town's delivery levy on online orders
    platform_fee: float = 0.0  # commission to the town's shared platform

    @property
    def revenue(self) -> float:
        return self.revenue_store + self.revenue_online

    @property
    def gross_profit(self) -> float:
        """Revenue less cost of goods and rewards (discounts are already out of revenue)."""
        return self.revenue - self.cogs - self.rewards

    @property
    def operating_costs(self) -> float:
        # summed left to right in COST_FIELDS' order (not with sum(), which compensates since Python 3.12), as
        # metrics._read_books sums the same fields over all retailers at once
        return reduce(add, (getattr(self, name) for name in COST_FIELDS))

    @property
    def operating_profit(self) -> float:
        return self.gross_profit - self.operating_costs

    def clear(self) -> None:
        self.__dict__.update(_CLEARED)


ACCOUNT_FIELDS = tuple(f.name for f in fields(Accounts))
_CLEARED = dict.fromkeys(ACCOUNT_FIELDS, 0.0)  # set in one go: clearing is weekly, per retailer
# the operating costs, in the order they are summed
COST_FIELDS = ("rent", "staff", "store_fixed", "online_fixed", "delivery", "marketing", "programme", "it_data",
               "levy", "platform_fee")


class Retailer(mesa.Agent):
    """A retailer: strategy, taste position, markup, stores, an optional web shop, accounts."""

    def __init__(self, model: RetailMarket, cfg: RetailerConfig, index: int):
        super().__init__(model)
        self.name = cfg.name
        self.index = index  # row in the population's relationship arrays
        self.taste = cfg.taste
        self.markup = cfg.markup
        self.independent = cfg.independent
        self.own_web_shop = cfg.online
        self.via_platform = False  # the town's shared platform: joined with its first store
        self.sells_online = self.own_web_shop
        self.zones = list(cfg.zones)
        self.stores: list[Store] = []
        self.accounts = Accounts()
        self.revenue_share_at_review = 0.0
        self.copy_due_week: int | None = None  # week a copied loyalty programme launches
        self.online_steps_acted = 0  # online_shift closure: steps of online share already acted on
        self.revenue_history: list[tuple[float, float]] = []  # (store, online) revenue, last 52 weeks
        self.strategy = self._make_strategy(cfg.strategy)

    def _make_strategy(self, name: str):
        return STRATEGIES[name](getattr(self.model.config.strategies, name), self)

    def switch_strategy(self, name: str) -> None:
        """Adopt another strategy (e.g. copy a rival's loyalty programme), keeping price and stores."""
        pop = self.model.population
        who, slot = np.nonzero(pop.slot_retailer == self.index)
        pop.extra_utility[who, slot] = 0.0
        pop.discount[who, slot] = 0.0
        self.strategy = self._make_strategy(name)
        self.strategy.setup(pop)
        self.copy_due_week = None

    @property
    def price_factor(self) -> float:
        """Posted price as a multiple of cost of goods."""
        return 1.0 + self.markup

    @property
    def open_stores(self) -> list[Store]:
        return [s for s in self.stores if s.is_open]

    # ---- the retailer's week, in verbs ----------------------------------------------
    def book_sales(self, revenue_store: float, revenue_online: float, cogs: float, n_online_orders: int) -> None:
        acc = self.accounts
        acc.revenue_store += revenue_store
        acc.revenue_online += revenue_online
        acc.cogs += cogs
        # each simulated consumer stands for households_per_agent households, and so does each order
        orders = n_online_orders * self.model.config.consumers.households_per_agent
        acc.delivery += orders * self.model.config.online.delivery_eur_order
        town = self.model.municipality
        levy = orders * town.cfg.delivery_levy_eur_order
        passed_on = levy * town.cfg.levy_pass_through  # the consumer pays this as a delivery charge
        acc.levy += levy - passed_on
        town.accounts.levy_from_retailers += levy - passed_on
        town.accounts.levy_from_consumers += passed_on
        if self.via_platform:
            fee = revenue_online * town.cfg.platform_fee_share
            acc.platform_fee += fee
            town.accounts.platform_fees += fee
        self.revenue_history.append((revenue_store, revenue_online))
        del self.revenue_history[:-52]

    def trailing_online_share(self) -> float:
        """Online share of this retailer's revenue over the last 52 weeks."""
        store = sum(s for s, _ in self.revenue_history)
        online = sum(o for _, o in self.revenue_history)
        return online / (store + online) if store + online > 0 else 0.0

    def pay_running_costs(self) -> None:
        if self.own_web_shop:  # a seller on the shared platform pays commission instead
            self.accounts.online_fixed += self.model.config.online.fixed_eur_year / 52.0
        for store in self.open_stores:
            store.pay_running_costs()

    def review(self, share_now: float) -> None:
        self.strategy.review(share_now, self.revenue_share_at_review, self.model.population, self.model.week)
        self.revenue_share_at_review = share_now

    def __repr__(self) -> str:
        return (f"Retailer({self.name!r}, strategy={self.strategy.name!r}, markup={self.markup:.3f}, "
                f"stores={len(self.open_stores)}, online={self.sells_online})")
