"""The Retailer agent and its accounts."""

from __future__ import annotations

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


ACCOUNT_FIELDS = ("revenue_store", "revenue_online", "cogs",
                  "rewards",  # loyalty vouchers paid out
                  "rent", "staff", "store_fixed", "online_fixed", "delivery", "marketing", "programme", "it_data",
                  "levy",  # the town's delivery levy on online orders
                  "platform_fee")  # commission to the town's shared platform
# the operating costs, in the order they are summed
COST_FIELDS = ("rent", "staff", "store_fixed", "online_fixed", "delivery", "marketing", "programme", "it_data",
               "levy", "platform_fee")
FIELD_ROW = {name: k for k, name in enumerate(ACCOUNT_FIELDS)}
HISTORY_WEEKS = 52  # weeks of store and online revenue a retailer's trailing online share reads


class Books:
    """Every retailer's accounts for one week (€), one row per field and one column per retailer, and each
    one's store and online revenue over the last 52 weeks. The week's bookkeeping is a pass over these
    arrays, not a call per retailer: a region has hundreds of them, and a million consumers' week is a few
    compiled passes."""

    def __init__(self, n_retailers: int):
        self.table = np.zeros((len(ACCOUNT_FIELDS), n_retailers))
        self._history = np.zeros((HISTORY_WEEKS, 2, n_retailers))
        self._n_history = np.zeros(n_retailers, dtype=np.int64)  # weeks held per retailer (up to 52)
        self._n_booked = 0  # weeks booked so far: the next goes in row _n_booked % 52

    def row(self, name: str) -> np.ndarray:
        """Every retailer's ``name`` this week (a view: adding to it books)."""
        return self.table[FIELD_ROW[name]]

    def clear(self) -> None:
        self.table.fill(0.0)

    def book_revenue(self, store: np.ndarray, online: np.ndarray) -> None:
        """This week's store and online revenue of every retailer, into the 52-week history."""
        at = self._n_booked % HISTORY_WEEKS
        self._history[at, 0] = store
        self._history[at, 1] = online
        self._n_booked += 1
        np.minimum(self._n_history + 1, HISTORY_WEEKS, out=self._n_history)

    def revenue_history(self, i: int) -> list[tuple[float, float]]:
        """Retailer ``i``'s (store, online) revenue of each week held, oldest first."""
        n = int(self._n_history[i])
        rows = [(self._n_booked - n + k) % HISTORY_WEEKS for k in range(n)]
        return [(float(self._history[at, 0, i]), float(self._history[at, 1, i])) for at in rows]

    def forget_revenue(self, i: int) -> None:
        """Retailer ``i`` starts a new history (a reused identity is a new business)."""
        self._n_history[i] = 0


class _Entry:
    """One field of one retailer's accounts: its cell of the books' table."""

    def __init__(self, row: int):
        self.row = row

    def __get__(self, acc, owner=None):
        return self if acc is None else float(acc.table[self.row, acc.index])

    def __set__(self, acc, value: float) -> None:
        acc.table[self.row, acc.index] = value


class Accounts:
    """One retailer's books for one week (€), a view of its column of the books' table. Revenue is what
    consumers paid."""

    __slots__ = ("index", "table")

    def __init__(self, books: Books, index: int):
        self.table = books.table
        self.index = index

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
        """This retailer's books only (the model clears every retailer's at once: ``Books.clear``)."""
        self.table[:, self.index] = 0.0


for _k, _name in enumerate(ACCOUNT_FIELDS):
    setattr(Accounts, _name, _Entry(_k))


class Retailer(mesa.Agent):
    """A retailer: strategy, taste position, markup, stores, an optional web shop, accounts."""

    def __init__(self, model: RetailMarket, cfg: RetailerConfig, index: int):
        super().__init__(model)
        self.name = cfg.name
        self.index = index  # row in the population's relationship arrays
        self.taste = cfg.taste
        self.markup = cfg.markup
        self.independent = cfg.independent
        self.staff_share_of_sales = cfg.staff_share_of_sales
        self.own_web_shop = cfg.online
        self.via_platform = False  # the town's shared platform: joined with its first store
        self.sells_online = self.own_web_shop
        self.zones = list(cfg.zones)
        self.stores: list[Store] = []
        self.accounts = Accounts(model.books, index)
        self.revenue_share_at_review = 0.0
        self.copy_due_week: int | None = None  # week a copied loyalty programme launches
        self.online_steps_acted = 0  # online_shift closure: steps of online share already acted on
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

    # ---- the retailer's week, in verbs (the books of all retailers are kept at once: book_week) ----------
    @property
    def revenue_history(self) -> list[tuple[float, float]]:
        """(store, online) revenue of each of the last 52 weeks, oldest first."""
        return self.model.books.revenue_history(self.index)

    def trailing_online_share(self) -> float:
        """Online share of this retailer's revenue over the last 52 weeks."""
        history = self.revenue_history
        store = sum(s for s, _ in history)
        online = sum(o for _, o in history)
        return online / (store + online) if store + online > 0 else 0.0

    def review(self, share_now: float) -> None:
        self.strategy.review(share_now, self.revenue_share_at_review, self.model.population, self.model.week)
        self.revenue_share_at_review = share_now

    def __repr__(self) -> str:
        return (f"Retailer({self.name!r}, strategy={self.strategy.name!r}, markup={self.markup:.3f}, "
                f"stores={len(self.open_stores)}, online={self.sells_online})")
