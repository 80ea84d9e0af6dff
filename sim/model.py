"""RetailMarket: builds the world from a Scenario and states the order of the week."""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass
from typing import Any

import mesa
import numpy as np
from scipy.spatial import cKDTree

from sim import choice
from sim.consideration import ConsiderationSets, OptionCache
from sim.consumers import NEVER, CategorySpend, ConsumerPopulation
from sim.demography import Demography, pool_configs
from sim.ledger import RelationshipLedger
from sim.metrics import MetricsRecorder, report_rows
from sim.municipal import Municipality
from sim.policies import CLOSURE_POLICIES
from sim.property import PropertyMarket, p_per_review, plan_plots
from sim.retailers import Books, Retailer
from sim.scenario import CategoryConfig, Scenario, from_flat
from sim.settle import WeekTotals, settle_numpy
from sim.slots import Flows, wallet_sums
from sim.stores import Store, added_in_order, pay_running_costs, store_costs_year
from sim.strategies.imitation import imitate_programmes
from sim.streams import Streams
from sim.threads import one_thread_when_small
from sim.town import ZONE_CODE, build_region

QUARTER_WEEKS = 13
YEAR_WEEKS = 52
TENURE_BANDS = (0, 13, 52, 156)  # weeks: new, up to a year, one to three years, longer
TENURE_BAND_NAMES = ("attrition_rate_new", "attrition_rate_tenure_13_52", "attrition_rate_tenure_52_156",
                     "attrition_rate_tenure_156_plus")
VALUE_TIER_NAMES = ("attrition_rate_bottom", "attrition_rate_middle", "attrition_rate_top")
ATTRITION_GROUPS = TENURE_BAND_NAMES + VALUE_TIER_NAMES
# numba is loaded anyway (consideration sets, slot passes); from here its choice is faster (lab, 104 weeks:
# 0.30 s against 0.91 s at 6,000 consumers; 0.10 s against 0.28 s at 1,500)
NUMBA_FROM_CONSUMERS = 1_000
NEVER_OCCUPIED = "never_occupied"  # the last-occupant category of a unit no store has held
OWN_STORE_SPACING_KM = 1.5  # a chain avoids opening this close to its own stores


class RetailMarket(mesa.Model):
    """A retail market: consumers choose each week between stores and online channels.

    Build it from a :class:`~sim.scenario.Scenario` or from flat keyword arguments
    (``RetailMarket(consumers_n=2000, steps=104, seed=3)``), so ``mesa.batch_run``
    works. ``seed`` (or Mesa's ``rng`` as an int) seeds every random stream; without
    one, the scenario's seed is used.
    """

    def __init__(self, scenario: Scenario | None = None, *, seed: int | None = None,
                 rng: int | None = None, **params: Any):
        if seed is None and rng is not None:
            seed = int(rng)
        config = from_flat(scenario, **params) if params else (scenario or Scenario())
        if seed is None:
            seed = config.seed
        config = config.model_copy(update={"seed": int(seed)})
        super().__init__(rng=int(seed))
        self.config = config
        self.seed = int(seed)
        self.streams = Streams(self.seed)
        # the key of every consumer's persistent draw of which stores come to her mind (choice.consideration_draw_scale)
        self.consideration_key = int(self.streams.consideration.integers(2**63, dtype=np.uint64))
        self.week = 0
        self.horizon = config.steps
        self.engine = self._pick_engine(config)
        if self.engine == "numba":
            from sim.fastchoice import choose_numba, settle_numba

            self._choose, self._settle = choose_numba, settle_numba
        else:
            self._choose, self._settle = choice.choose_numpy, settle_numpy

        # the scenario's region, with plots where its towns permit new floor space
        self.region = plan_plots(build_region(config.region, self.streams.region), config.municipal,
                                 self.streams.development)
        # the floor space of the region's mean unit: a store of that size neither gains nor loses for its size
        self._mean_unit_m2 = float(self.region.site_area_m2.mean())
        self.municipality = Municipality(self, config.municipal)
        # the scenario's own retailers, then (with business demography) the pool of independent identities
        pool = pool_configs(config.independents) if config.independents.enabled else []
        self.n_listed = len(config.retailers)
        self.books = Books(self.n_listed + len(pool))  # every retailer's accounts, one column each
        self.retailers: list[Retailer] = [Retailer(self, rc, i) for i, rc in enumerate([*config.retailers, *pool])]
        self.retailer_names = [r.name for r in self.retailers]
        self.demography = Demography(self, self.n_listed) if pool else None
        # each retailer's category; the pool's identities are shared out among its kinds' categories
        self.retailer_category = np.array(config.retailer_category(), dtype=np.int64)
        self.population = ConsumerPopulation(config.consumers, config.choice, self.region, self.streams.population,
                                             len(self.retailers), config.category_list(),
                                             list(self.retailer_category), self.streams.travel)
        # the price level prices are read against: the listed retailers' (a dormant identity's markup is no price)
        self._price_level = float(np.mean([r.price_factor for r in self.retailers[:self.n_listed]]))
        self.municipality.apply_to_consumers(self.population, self._price_level,
                                             config.choice.online_price_sens_factor)
        # what the town's centre parking charge costs each consumer in utility (None: free)
        self._parking = self.municipality.parking_penalty(self.population, self._price_level)
        self.stranger = StrangerTerms(self)
        self.ledger = RelationshipLedger(self.population, len(self.retailers), config.choice.active_window_weeks,
                                         -config.warmup_weeks - config.spinup_weeks)
        for r in self.retailers:
            r.strategy.setup(self.population)
        self.stores: list[Store] = []  # every store ever opened, by slot
        self.site_store = np.full(self.region.n_sites, -1, dtype=np.int32)  # slot of the open store or −1
        self._occupants: tuple[np.ndarray, np.ndarray] | None = None  # site_occupants() until the next change
        # open stores of each trade within access_km of each site: a grocer competes with grocers, not cafés
        self._stores_within = np.zeros((len(config.category_list()), self.region.n_sites), dtype=np.int64)
        self.asking_rent = self.region.site_rent_eur_m2_year.astype(float).copy()  # landlords' asking rents
        self.property = PropertyMarket(self)
        self.unit_flows: dict[int, np.ndarray] = {}  # week → openings and closures, see _count_unit_flow
        self.closure_policy = CLOSURE_POLICIES[config.stores.closure](config.stores)
        pop = self.population
        self._homes = np.column_stack([pop.home_x, pop.home_y]).astype(np.float64)
        # consumers living within reach of each site: where a new store would find customers
        self._site_catchment = cKDTree(self._homes).query_ball_point(
            np.column_stack([self.region.site_x, self.region.site_y]), r=config.stores.access_km,
            return_length=True).astype(float)
        self._flow_names = self._flow_rows = None  # report rows of the purchase flows (_record_flows)
        self.option_cache = OptionCache(self)  # distances and draws the categories' options are built from
        self.categories = [
            CategoryMarket(c, cat, pop.categories[c], np.flatnonzero(self.retailer_category == c),
                           ConsiderationSets(self, np.flatnonzero(self.retailer_category == c), cat.online,
                                             self.option_cache),
                           pop.online_friction if cat.online_friction_shift == 0
                           else pop.online_friction + np.float32(cat.online_friction_shift))
            for c, cat in enumerate(config.category_list())]
        self.consider = self.categories[0].consider  # the first category's sets (the only one, usually)
        row, rows = report_rows(self)[:2]
        self.report_names = [rows[k] for k in row]  # the row each retailer is reported in (the pool's: folded)
        self.week = -config.spinup_weeks  # the first stores open when trading begins
        self._place_initial_stores()
        self._stagger_first_leases()
        if self.demography is not None:
            self.demography.place_initial()
        self.property.start(self.week)
        self.footfall_scale: float | None = None
        self._events_pending: list[int] | None = []  # sites opened or closed since consumers' options were refreshed
        self._update_store_geography()

        # (week, active relationships as (consumer, retailer, tenure band)) every quarter, back to a year ago
        self.active_snapshots: deque[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = deque(
            maxlen=YEAR_WEEKS // QUARTER_WEEKS + 1)
        self.attrition_rate = np.full(len(self.retailers) + 1, np.nan)  # last annual figure; last = market
        self.attrition_detail = {name: np.full(len(self.retailers) + 1, np.nan) for name in ATTRITION_GROUPS}
        self.share_of_wallet = np.full(len(self.retailers) + 1, np.nan)
        self.switching_records: list[dict[str, Any]] = []  # year-end main-retailer changes
        self.flow_records: list[dict[str, Any]] = []  # purchases that moved between retailers, by quarter
        self._flows_weeks: list[Flows] = []  # this quarter's weeks of purchases that moved between retailers
        self.flows_week = Flows.none(len(self.retailers))  # this week's
        self.main_switching_rate = float("nan")
        self.shop_stats: dict[str, float] = {}
        self.n_acquired = np.zeros(len(self.retailers), dtype=np.int64)
        self.n_evicted_active = 0
        self.lost_cards = np.zeros(0, dtype=np.int64)  # consumers whose card went with a slot this week
        self.n_transactions = np.zeros(len(self.retailers), dtype=np.int64)
        self.closures: list[dict[str, Any]] = []
        self.lease_ends: list[dict[str, Any]] = []  # chains' leases that ran out: renewed or not, the rents
        self.administrations: list[dict[str, Any]] = []  # chains that failed: when, stores before, stores closed
        self.events: list[dict[str, Any]] = []  # strategy changes and other notable moments
        self.town_records: list[dict[str, Any]] = []  # quarterly vacancy by town
        self.category_records: list[dict[str, Any]] = []  # quarterly units by category, see record_units_by_category

        self._warm_up(config.warmup_weeks, config.spinup_weeks)
        self.metrics = MetricsRecorder(self)
        if config.spinup_weeks:
            self._spin_up(config.spinup_weeks)
        self.datacollector = self.metrics.datacollector
        self.running = True

    # ---- the week ---------------------------------------------------------------------
    @one_thread_when_small
    def step(self) -> None:
        """One week: adoption, then the week's trade, then measurement."""
        self.week = self.steps
        self.adopt_online()
        self.trade()
        self.metrics.record()
        if self.week >= self.horizon:
            self.running = False

    def trade(self) -> None:
        """The week's trade: shopping, costs, reviews, and the quarter's and the year's ends."""
        self.shop()
        self.pay_running_costs()
        if self.week % self.config.review_weeks == 0:
            self.review()
        if self.week % QUARTER_WEEKS == 0:
            self.measure_attrition()
            self.record_vacancy_by_town()
            self.record_units_by_category()
        if self.week % YEAR_WEEKS == 0:
            self.close_year()

    # ---- verbs ------------------------------------------------------------------------
    def adopt_online(self) -> None:
        a = self.config.adoption
        self.population.adopt_online(a.p_innovation, a.q_imitation, self.streams.adoption)

    def shop(self) -> None:
        """In each category, the consumers who make a trip this week each choose one option; sales are booked."""
        self.books.clear()
        self.municipality.accounts.clear()
        self._new_cards = np.zeros(0, dtype=np.int64)  # loyalty cards taken this week, in any category
        kinds = self.strategy_kinds()  # who follows what, and prices, change only at reviews
        self._posted = self._price_factors()
        try:
            weeks = [self.shop_category(cat, kinds) for cat in self.categories]
        finally:
            self._posted = None
        self.book_week(weeks[0] if len(weeks) == 1 else WeekTotals.of(weeks))

    def shop_category(self, cat: CategoryMarket, kinds: dict[type, list[Retailer]] | None = None):
        """One category's trips: who shops it this week, what each chooses, and the settlement."""
        pop = self.population
        draws = self.streams.shopping.random(pop.n, dtype=np.float32)
        idx = np.flatnonzero(draws < cat.spend.p_shop)
        uniforms = self.streams.choice.random(len(idx))
        choices = self._choose(self.market_arrays(cat), idx, uniforms)
        week = self._settle(pop, self, choices, idx, self._price_factors(),
                            self.config.consumers.households_per_agent, len(self.stores), self.week,
                            self.config.choice.active_window_weeks, cat.spend)
        pop.any_held = pop.any_held or len(week.buyers) > 0
        self.ledger.record(self.week, idx, choices.retailer, choices.rep_slot, week.prior_retailer, week.prior_week)
        cat.consider.repoint(idx[(choices.retailer >= 0) & (week.prior_retailer != choices.retailer)])
        n_bought = np.diff(week.starts)  # purchases are grouped by retailer, in retailer order
        for kind, members in (kinds or self.strategy_kinds()).items():
            members = sorted((r for r in members if self.retailer_category[r.index] == cat.index),
                             key=lambda r: r.index)
            # a kind's purchases are its retailers' runs, in retailer order
            of_kind = np.zeros(len(n_bought), dtype=bool)
            of_kind[[r.index for r in members]] = True
            sold = np.flatnonzero(np.repeat(of_kind, n_bought))
            if len(sold):
                kind.after_sales(self, members, week, sold)
        week.n_shoppers = len(idx)
        return week

    def book_week(self, week) -> None:
        """The week's sales, in every category, booked to retailers and stores; flows and shopping statistics."""
        self._book_retailers(week)
        slots = self.site_store[self.site_store >= 0]  # a closed store keeps its last week's figures
        for slot, revenue, cogs in zip(slots.tolist(), week.store_revenue[slots].tolist(),
                                       week.store_cogs[slots].tolist(), strict=True):
            self.stores[slot].book_sales(revenue, cogs)
        self.flows_week = week.flows
        self._flows_weeks.append(week.flows)
        if self.week % QUARTER_WEEKS == 0 and self.week > 0:
            self._record_flows()
        n_buyers = len(week.buyers)
        self.n_transactions = week.n_transactions
        self.n_acquired = week.n_acquired
        self.n_evicted_active = week.n_evicted_active
        self.lost_cards = week.lost_card
        self.shop_stats = {
            "n_shoppers": float(week.n_shoppers),
            "n_stranded": float(week.n_stranded),
            "mean_distance_km": week.sum_distance_km / week.n_store_purchases if week.n_store_purchases else np.nan,
            "mean_utility": week.sum_utility / n_buyers if n_buyers else np.nan,
        }

    def _book_retailers(self, week) -> None:
        """Every retailer's sales, goods, delivery costs, the town's levy and the platform's commission."""
        books, town, online = self.books, self.municipality, self.config.online
        books.row("revenue_store")[:] += week.revenue_store
        books.row("revenue_online")[:] += week.revenue_online
        books.row("cogs")[:] += week.cogs
        # each simulated consumer stands for households_per_agent households, and so does each order
        orders = week.n_orders_online.astype(np.int64) * self.config.consumers.households_per_agent
        books.row("delivery")[:] += orders * online.delivery_eur_order
        levy = orders * town.cfg.delivery_levy_eur_order
        passed_on = levy * town.cfg.levy_pass_through  # the consumer pays this as a delivery charge
        books.row("levy")[:] += levy - passed_on
        town.accounts.levy_from_retailers = added_in_order(town.accounts.levy_from_retailers, levy - passed_on)
        town.accounts.levy_from_consumers = added_in_order(town.accounts.levy_from_consumers, passed_on)
        on_platform = np.fromiter((r.via_platform for r in self.retailers), dtype=bool, count=len(self.retailers))
        if on_platform.any():
            fee = np.where(on_platform, week.revenue_online * town.cfg.platform_fee_share, 0.0)
            books.row("platform_fee")[:] += fee
            town.accounts.platform_fees = added_in_order(town.accounts.platform_fees, fee[on_platform])
        books.book_revenue(week.revenue_store, week.revenue_online)

    def _record_flows(self) -> None:
        """The quarter's purchases that moved between report rows (the pool's identities are one row per
        category), each pair of rows once, in the order the flows first meet it."""
        flows = self.flows_quarter
        if self._flow_rows is None:  # each retailer's row, after "(none)" (source 0: her first purchase)
            self._flow_names, self._flow_rows = np.unique(["(none)", *self.report_names], return_inverse=True)
        row, n_rows = self._flow_rows, len(self._flow_names)
        moved = flows.source - 1 != flows.target
        pair = row[flows.source[moved]] * n_rows + row[flows.target[moved] + 1]
        pairs, first, which = np.unique(pair, return_index=True, return_inverse=True)
        total = np.zeros(len(pairs), dtype=np.int64)
        np.add.at(total, which, flows.n[moved])
        names = self._flow_names.tolist()
        self.flow_records.extend({"week": self.week, "from": names[pairs[p] // n_rows],
                                  "to": names[pairs[p] % n_rows], "n_purchases": int(total[p])}
                                 for p in np.argsort(first, kind="stable").tolist())
        self._flows_weeks = []

    def pay_running_costs(self) -> None:
        """Stores pay rent, staff and fixed costs; strategies book their weekly costs."""
        active = self.relationship_counts()[0]
        web_shop = np.fromiter((r.own_web_shop for r in self.retailers), dtype=bool, count=len(self.retailers))
        # a seller on the shared platform pays commission instead
        self.books.row("online_fixed")[web_shop] += self.config.online.fixed_eur_year / 52.0
        slots = self.site_store[self.site_store >= 0]
        owner = np.fromiter((self.stores[s].retailer.index for s in slots), dtype=np.int64, count=len(slots))
        order = np.lexsort((slots, owner))  # each retailer's stores in the order they opened, retailer by retailer
        pay_running_costs(self, [self.stores[s] for s in slots[order].tolist()], owner[order])
        for cls, members in self.strategy_kinds().items():
            cls.weekly(self, members, self.week, active)
        self.municipality.collect_vacancy_tax()

    def review(self) -> None:
        """Retailers review prices and programmes, then close stores by the closure policy."""
        shares = self.metrics.trailing_revenue_share(self.config.review_weeks)
        for r in self.retailers:
            r.review(float(shares[r.index]))
        for cls, members in self.strategy_kinds().items():
            cls.review_all(self, members, self.week)
        imitate_programmes(self)
        n_closed = len(self.closures)
        for r in self.retailers[:self.n_listed]:  # the pool's independents leave by their own rules
            for store in self.closure_policy.to_close(r.open_stores):
                self._close_store(store, reason=self.closure_policy.name)
        self.enter_administrations()
        moved = self.end_leases()
        if self.demography is not None:
            self.demography.exits()
        if len(self.closures) > n_closed:  # with churn, options are refreshed once, after the openings
            self._update_store_geography([c["site"] for c in self.closures[n_closed:]] + [s.site for s in moved],
                                         refresh=self.demography is None)
        self.property.convert(self.week)
        self.property.develop(self.week)
        if self.demography is None:
            self.let_vacant_sites()
            return
        # chains and would-be independents decide on the same footfall; consumers' options are refreshed once
        opened = self.let_vacant_sites(refresh=False) + self.demography.arrivals()
        if opened or self._events_pending:
            self._update_store_geography([s.site for s in opened])

    def _sales_estimate(self, r: Retailer, established: list[Store] | None = None
                        ) -> tuple[float, float, float] | None:
        """What a new store of ``r`` would sell per unit of local demand, and the mean footfall and floor space it is
        read at:
        a chain reads its own established stores; an independent with no shop yet reads the going rate of the
        ``established`` stores in the zones it would open in. None: nothing to read yet."""
        stores = [s for s in r.open_stores if len(s.weekly_revenue) >= 26]
        if not stores and r.independent and not r.open_stores and established is not None:
            stores = [s for s in established if self.region.zone_name(s.site) in r.zones]
        if not stores:
            return None
        sales = sum(s.sales_rate_year for s in stores)
        sites = np.array([s.site for s in stores])
        demand = self._local_demand(sites, int(self.retailer_category[r.index]))
        return (sales / max(demand.sum(), 1e-9), float(np.mean(self.site_footfall[sites]) or 1.0),
                float(np.mean(self.region.site_area_m2[sites])))

    def _units_for(self, r: Retailer) -> np.ndarray:
        """The vacant units ``r`` would open on: of its location types and unit sizes, allowed by the town, of its
        format."""
        cfg, region = self.config.stores, self.region
        fits = self.config.retailers[r.index].fits(region.site_area_m2)
        free = np.flatnonzero(self.property.vacant() & np.isin(region.site_zone, [ZONE_CODE[z] for z in r.zones])
                              & fits)
        free = free[self.municipality.may_open(free)]  # the town's cap on new out-of-town floor space
        if cfg.format_ratio_max is not None and r.open_stores:
            own_m2 = float(np.median([s.floor_area_m2 for s in r.open_stores]))
            ratio = region.site_area_m2[free] / own_m2
            free = free[(ratio <= cfg.format_ratio_max) & (ratio >= 1.0 / cfg.format_ratio_max)]
        return free

    def _expected_gain(self, r: Retailer, sites: np.ndarray, rents: np.ndarray, sales_per_demand: float,
                       own_foot: float, own_m2: float) -> np.ndarray:
        """A store of ``r`` on each of ``sites`` at ``rents``: its expected yearly contribution less the entry
        hurdle on its costs (€): sales per unit of local demand × the site's local demand, scaled by its
        footfall against the retailer's stores' and, where shoppers weigh a store's floor space
        (``choice.store_size_weight`` w), by (its floor / theirs)^w, at its markup, less rent, service charge,
        staff (its share of those sales, where it sets ``staff_share_of_sales``) and fixed costs."""
        region = self.region
        site_area = region.site_area_m2[sites]
        category = int(self.retailer_category[r.index])
        sales = (sales_per_demand * self._local_demand(sites, category)
                 * np.clip(self.site_footfall[sites] / own_foot, 0.25, 2.0))
        size_weight = self.config.choice.store_size_weight
        if size_weight > 0:
            sales = sales * np.clip((site_area / own_m2) ** size_weight, 0.25, 4.0)
        margin = sales * r.markup / (1 + r.markup)
        costs = store_costs_year(self, r.index, site_area, rents + self.property.service_charge[sites], sales)
        return margin - costs - self.config.stores.entry_hurdle * costs

    def _unit_to_move_to(self, r: Retailer, store: Store, rent: float) -> int | None:
        """At a lease's end: a vacant unit of the chain's location types and format in the store's town that it
        expects to pay better than the store's own unit at its new rent, after the fit-out a move costs
        (``property.fit_out_eur_m2`` spread over one lease), judged as it judges a unit to open; else None."""
        fit_out, term_years = self.config.property.fit_out_eur_m2, self.config.property.lease_years
        estimate = self._sales_estimate(r)
        if fit_out is None or estimate is None:
            return None
        free = self._units_for(r)
        free = free[self.region.site_town[free] == self.region.site_town[store.site]]
        if len(free) == 0:
            return None
        spacing = self._own_spacing(r, free, without=store)
        free = free[spacing > spacing.max() * 0.5]  # away from its other stores
        there = (self._expected_gain(r, free, self.asking_rent[free], *estimate)
                 - fit_out * self.region.site_area_m2[free] / term_years)
        here = self._expected_gain(r, np.array([store.site]), np.array([rent]), *estimate)[0]
        best = int(np.argmax(there))
        return int(free[best]) if there[best] > max(here, 0.0) else None

    def end_leases(self) -> list[Store]:
        """Chains' leases that have run out since the last review: the chain renews at the unit's open-market
        rent where the store, on its last year's sales, would clear ``stores.entry_hurdle`` × its costs at that
        rent (the test it applies to a new unit), and closes the store otherwise. A chain that would renew moves
        instead where a vacant unit in the same town promises more after the move's fit-out: the store closes
        and one opens there. Returns the stores opened by moves."""
        term = self._lease_weeks()
        if term is None:
            return []
        cfg = self.config.stores
        moved: list[Store] = []
        for r in self.retailers[:self.n_listed]:
            for store in [s for s in r.open_stores if s.lease_end_week is not None and s.lease_end_week <= self.week]:
                rent = self.property.market_rent(store.site)
                area = store.floor_area_m2
                n_weeks = len(store.weekly_profit)
                costs = store_costs_year(self, r.index, area, rent + store.service_eur_m2_year, store.sales_rate_year)
                # its contribution over the last year (a year's rate of what it has traded), at the new rent
                gain = (store.trailing_profit * 52 / n_weeks - area * (rent - store.rent_eur_m2_year)
                        if n_weeks else np.inf)
                renew = bool(gain >= cfg.entry_hurdle * costs)
                move_to = self._unit_to_move_to(r, store, rent) if renew else None
                self.lease_ends.append({"week": self.week, "retailer": r.name, "site": store.site,
                                        "renewed": renew and move_to is None, "moved_to": move_to,
                                        "rent_before": store.rent_eur_m2_year, "rent_after": rent})
                if move_to is not None:
                    self._close_store(store, reason="moved")
                    new = self._open_store(r, move_to)
                    self.municipality.record_opening(new)
                    self.events.append({"week": self.week, "retailer": r.name,
                                        "event": f"moved from site {store.site} to site {move_to} at the end of its "
                                                 f"lease, at {new.rent_eur_m2_year:.0f} €/m²/year"})
                    moved.append(new)
                elif renew:
                    store.renew_lease(rent, self.week + term)
                else:
                    self._close_store(store, reason="lease end")
        return moved

    def enter_administrations(self) -> None:
        """Chains that fail at this review (each with ``stores.p_administration_year`` a year, from the
        ``administrations`` stream, one draw per listed retailer at every review): the administrator closes
        ``stores.share_closed_in_administration`` of the chain's stores, those that contributed least over their
        last year, whatever their leases; the chain trades on with the rest. Only with the property market on."""
        cfg = self.config.stores
        if not self.config.property.enabled or cfg.p_administration_year == 0:
            return
        listed = self.retailers[:self.n_listed]
        fails = self.streams.administrations.random(len(listed)) < p_per_review(cfg.p_administration_year,
                                                                                  self.config.review_weeks)
        for r in (r for r, fail in zip(listed, fails, strict=True) if fail and not r.independent and r.open_stores):
            stores = sorted(r.open_stores, key=lambda s: s.trailing_profit)
            n_closed = round(cfg.share_closed_in_administration * len(stores))
            for store in stores[:n_closed]:
                self._close_store(store, reason="administration")
            self.administrations.append({"week": self.week, "retailer": r.name, "n_stores": len(stores),
                                         "n_closed": n_closed})
            self.events.append({"week": self.week, "retailer": r.name,
                                "event": f"entered administration: {n_closed} of its {len(stores)} stores closed"})

    def _lease_weeks(self) -> int | None:
        """A chain's lease term in weeks (None: leases never end, or no property market)."""
        years = self.config.property.lease_years
        return round(52 * years) if self.config.property.enabled and years is not None else None

    def _stagger_first_leases(self) -> None:
        """The first stores' leases were signed over the term before the start, so they run out evenly over
        the next term (from the ``leases`` stream), not all at once."""
        term = self._lease_weeks()
        if term is None:
            return
        stores = [s for s in self.stores if s.retailer.index < self.n_listed]
        left = np.ceil(self.streams.leases.random(len(stores)) * term).astype(np.int64)
        for store, weeks in zip(stores, left, strict=True):
            store.lease_end_week = store.opened_week + max(int(weeks), 1)

    def let_vacant_sites(self, refresh: bool = True) -> list[Store]:
        """Landlords cut the asking rent of vacant sites; retailers open where it pays (if entry is on).

        A retailer considers the free sites in its zones, away from its own stores, and
        estimates what a new store would sell from what its own stores sold over the last
        year (an independent with no shop yet: the established stores in those zones) per
        unit of local demand — the homes within reach of a site shared with the other open
        stores there, so a crowded spot promises less — scaled by the site's footfall
        against theirs. Less cost of goods at its markup, asking rent, staff and fixed
        costs, that is the store's yearly contribution; it opens the best site whose
        contribution exceeds ``entry_hurdle`` × the store's costs: one per review, or up to
        ``share_estate_opened_per_review`` of its open stores, each judged after the last. Returns the new
        stores; consumers' options are refreshed around them unless ``refresh`` is False.
        """
        cfg, region = self.config.stores, self.region
        town = self.municipality
        vacant = self.property.vacant()
        base = region.site_rent_eur_m2_year[vacant]
        floor = town.rent_floor(cfg.rent_floor_share * base)
        cut = town.rent_cut(cfg.rent_cut_per_review, base)
        self.asking_rent[vacant] = np.maximum(self.asking_rent[vacant] * (1 - cut), floor)
        if not cfg.entry:
            return []
        established = [s for s in self.open_stores if len(s.weekly_revenue) >= 26]
        opened = []
        for r in self.retailers[:self.n_listed]:  # the pool's independents enter by business demography
            estimate = self._sales_estimate(r, established)
            if estimate is None:
                continue
            n_may_open = max(1, int(cfg.share_estate_opened_per_review * len(r.open_stores)))
            for _ in range(n_may_open):  # each opening changes the free units, their spacing and local demand
                free = self._units_for(r)
                if len(free) == 0:
                    break
                spacing = self._own_spacing(r, free)
                free = free[spacing > spacing.max() * 0.5]  # away from its own stores
                gain = self._expected_gain(r, free, self.asking_rent[free], *estimate)
                best = int(np.argmax(gain))
                if gain[best] <= 0:
                    break
                store = self._open_store(r, int(free[best]))
                town.record_opening(store)
                opened.append(store)
                self.events.append({"week": self.week, "retailer": r.name,
                                    "event": f"opened a store on site {store.site} at "
                                             f"{store.rent_eur_m2_year:.0f} €/m²/year"})
        if opened and refresh:
            self._update_store_geography([s.site for s in opened])
        return opened

    def measure_attrition(self) -> None:
        """Quarterly: annual attrition overall, by tenure band and value tier; share of wallet; CLV.

        Annual attrition is the share of the customers active 52 weeks ago whose
        relationship has broken since (no purchase for the active window at some point),
        whether or not she has been won back; a customer's tenure band and value tier are
        taken as they were then.
        """
        pop = self.population
        n_r = len(self.retailers)
        who, slot = pop.active_pairs(self.week, self.config.choice.active_window_weeks)
        retailer = pop.slot_retailer[who, slot]
        band = tenure_band(self.week - pop.since_week[who, slot])
        self.active_snapshots.append((self.week, who.astype(np.int32), retailer, band))
        self._measure_wallet()
        then_week, then_who, then_ret, then_band = self.active_snapshots[0]
        self.attrition_detail = {name: np.full(n_r + 1, np.nan) for name in ATTRITION_GROUPS}
        if self.week - then_week != YEAR_WEEKS:
            self.attrition_rate[:] = np.nan
            return
        lost = ~self.running_since_pairs(then_who, then_ret, then_week)
        by_band = _lost_share(then_ret, then_band, len(TENURE_BAND_NAMES), lost, n_r)
        self.attrition_rate = by_band[:, -1]
        for b, name in enumerate(TENURE_BAND_NAMES):
            self.attrition_detail[name] = by_band[:, b]
        by_tier = _lost_share(then_ret, pop.value_tier[then_who], len(VALUE_TIER_NAMES), lost, n_r)
        for t, name in enumerate(VALUE_TIER_NAMES):
            self.attrition_detail[name] = by_tier[:, t]

    def _measure_wallet(self) -> None:
        """Share of wallet: what a retailer's active customers spent there / all they spent this year."""
        base, here = wallet_sums(self.population, self.week, self.config.choice.active_window_weeks,
                                 len(self.retailers))
        self.share_of_wallet = np.append(np.where(base > 0, here / np.where(base > 0, base, 1), np.nan), np.nan)

    def record_vacancy_by_town(self) -> None:
        """Quarterly: in each town, its units occupied, vacant and converted (vacancy differs by town size),
        persistently vacant ones, and the openings and closures since the last record."""
        region, prop = self.region, self.property
        vacant = prop.vacant()
        occupied = self.site_store >= 0
        persistent = prop.persistent(self.week)
        since = self.town_records[-1]["week"] if self.town_records else 0
        flows = self.unit_flows_between(since, self.week)
        for t, name in enumerate(region.town_names):
            here = region.site_town == t
            in_use = here & prop.in_use
            self.town_records.append({
                "week": self.week, "town": name, "n_sites": int((here & prop.built).sum()),
                "n_vacant": int((vacant & here).sum()),
                "vacancy_rate": float((vacant & here).sum() / in_use.sum()) if in_use.any() else float("nan"),
                "vacancy_rate_floor": float(region.site_area_m2[vacant & here].sum()
                                            / region.site_area_m2[in_use].sum()) if in_use.any() else float("nan"),
                "n_occupied": int((occupied & here).sum()), "n_converted": int((here & prop.converted()).sum()),
                "n_built": int((here & (prop.built_week > since) & (prop.built_week <= self.week)).sum()),
                "n_persistent_vacant": int((persistent & here).sum()),
                "n_openings": int(flows[0, :, :, t].sum()), "n_closures": int(flows[1, :, :, t].sum()),
            })

    def record_units_by_category(self) -> None:
        """Quarterly, for each category: the units its stores occupy (of which independents'), the vacant,
        persistently vacant and converted units whose last occupant was of it, and its openings and
        closures since the last record; a last row for the units never occupied."""
        prop = self.property
        since = self.category_records[-1]["week"] if self.category_records else 0
        flows = self.unit_flows_between(since, self.week, by_category=True)
        kind, independent = self.site_occupants()
        vacant, persistent = prop.vacant(), prop.persistent(self.week)
        names = [cat.config.name for cat in self.categories]
        for c, name in [*enumerate(names), (-1, NEVER_OCCUPIED)]:
            last = prop.last_category == c
            self.category_records.append({
                "week": self.week, "category": name, "n_occupied": int((kind == c).sum()) if c >= 0 else 0,
                "n_occupied_independent": int(((kind == c) & independent).sum()) if c >= 0 else 0,
                "n_vacant": int((vacant & last).sum()), "n_persistent_vacant": int((persistent & last).sum()),
                "n_converted": int((prop.converted() & last).sum()),
                "n_openings": int(flows[0, ..., c].sum()) if c >= 0 else 0,
                "n_closures": int(flows[1, ..., c].sum()) if c >= 0 else 0,
            })

    def close_year(self) -> None:
        """Year end: main retailers are re-measured; main-retailer switching and its matrix."""
        self.main_switching_rate, matrix = self.population.roll_year(len(self.retailers))
        names = self.report_names
        switched: dict[tuple[str, str], int] = {}
        for a, b in zip(*np.nonzero(matrix), strict=True):
            switched[names[a], names[b]] = switched.get((names[a], names[b]), 0) + int(matrix[a, b])
        self.switching_records.extend({"week": self.week, "from": a, "to": b, "n_consumers": k}
                                      for (a, b), k in switched.items())

    def forget(self, retailer: str, consumers: np.ndarray) -> None:
        """``retailer`` loses what its relationships with ``consumers`` built (knowledge, points
        balances), as if its customer records were lost; the consumers' own history stays."""
        self.retailers[self.retailer_index(retailer)].strategy.forget(self.population, np.asarray(consumers))

    # ---- building the world -------------------------------------------------------------
    def _place_initial_stores(self) -> None:
        rng = self.streams.placement
        zone_of = self.region.site_zone
        for site, occupant in enumerate(self.region.site_occupant):  # stores named in a sites CSV
            if occupant:
                self._open_store(self.retailers[self.retailer_index(occupant)], site)
        for r, rc in zip(self.retailers[:self.n_listed], self.config.retailers, strict=True):
            fits = rc.fits(self.region.site_area_m2)
            allowed = np.isin(zone_of, [ZONE_CODE[z] for z in rc.zones]) & fits
            for _ in range(rc.n_stores - len(r.stores)):
                free = np.flatnonzero((self.site_store < 0) & allowed & self.property.built)
                if len(free) == 0:  # fall back to any zone, in its format where one is free
                    free = np.flatnonzero((self.site_store < 0) & fits & self.property.built)
                if len(free) == 0:
                    free = np.flatnonzero((self.site_store < 0) & self.property.built)
                site = int(rng.choice(free, p=self._site_appeal(r, free)))
                self._open_store(r, site)

    def _site_appeal(self, retailer: Retailer, free: np.ndarray) -> np.ndarray:
        """Probabilities of opening on each free site: where many consumers live within reach
        and few open stores of its trade already serve them, away from the retailer's own stores."""
        trade = int(self.retailer_category[retailer.index])
        weight = self._local_demand(free, trade) * self._own_spacing(retailer, free)
        if weight.sum() <= 0:
            weight = np.ones(len(free))
        return weight / weight.sum()

    def _local_demand(self, sites: np.ndarray, category: int) -> np.ndarray:
        """Homes within reach of each site over 1 + the other open stores of ``category`` within reach: a
        store shares its catchment's spending on its trade with the stores of that trade, not with every shop."""
        sites = np.asarray(sites, dtype=np.intp)
        kind, _ = self.site_occupants()
        others = self._stores_within[category, sites] - (kind[sites] == category)  # not the site's own store
        return self._site_catchment[sites] / (1.0 + others)

    def _count_store_nearby(self, store: Store, change: int) -> None:
        """Keep, for every site, the number of open stores of ``store``'s trade within reach (``change``: +1
        opened, −1 closed)."""
        near = self.region.site_km(np.arange(self.region.n_sites), [store.site])[:, 0] <= self.config.stores.access_km
        self._stores_within[int(self.retailer_category[store.retailer.index])] += change * near

    def _own_spacing(self, retailer: Retailer, free: np.ndarray, without: Store | None = None) -> np.ndarray:
        """From 0 beside one of the retailer's open stores (but ``without``) to 1 far from all of them: a chain
        does not put a second store next to its first (it would only take its own customers)."""
        own = [s.site for s in retailer.open_stores if s is not without]
        if not own:
            return np.ones(len(free))
        nearest = self.region.site_km(free, own).min(axis=1)
        return 1.0 - np.exp(-((nearest / OWN_STORE_SPACING_KM) ** 2))

    def _open_store(self, retailer: Retailer, site: int) -> Store:
        store = Store(self, retailer, site, slot=len(self.stores))
        term = self._lease_weeks()
        if term is not None and retailer.index < self.n_listed:
            store.lease_end_week = self.week + term
        if not retailer.sells_online and self.municipality.sells_via_platform(retailer):
            retailer.via_platform = retailer.sells_online = True  # click and collect at its first store
        self.stores.append(store)
        retailer.stores.append(store)
        self.site_store[site] = store.slot
        self._occupants = None
        self._count_store_nearby(store, +1)
        self.property.opened(site)
        self._count_unit_flow(store, opening=True)
        return store

    def _close_store(self, store: Store, reason: str) -> None:
        store.close()
        self.site_store[store.site] = -1
        self._occupants = None
        self._count_store_nearby(store, -1)
        self.asking_rent[store.site] = self.property.closed(store.site, self.week)  # landlord starts afresh
        self._count_unit_flow(store, opening=False)
        self.closures.append({"week": self.week, "retailer": store.retailer.name, "site": store.site,
                              "reason": reason})

    def unit_flows_between(self, after: int, until: int, by_category: bool = False) -> np.ndarray:
        """Openings and closures of the weeks after ``after`` up to ``until``, as one table: (opening,
        closure) × (chain, independent) × location type × town, and × category of the retailer that
        opened or closed when ``by_category``."""
        total = np.zeros((2, 2, len(ZONE_CODE), self.region.n_towns, len(self.categories)), dtype=np.int64)
        for w, flows in self.unit_flows.items():
            if after < w <= until:
                total += flows
        return total if by_category else total.sum(axis=-1)

    def _count_unit_flow(self, store: Store, opening: bool) -> None:
        """This week's openings and closures, as a table: (opening, closure) × (chain, independent) ×
        location type × town × category of the retailer."""
        region = self.region
        if self.week not in self.unit_flows:
            self.unit_flows[self.week] = np.zeros((2, 2, len(ZONE_CODE), region.n_towns, len(self.categories)),
                                                  dtype=np.int64)
        self.unit_flows[self.week][0 if opening else 1, int(store.retailer.independent),
                                   int(region.site_zone[store.site]), int(region.site_town[store.site]),
                                   int(self.retailer_category[store.retailer.index])] += 1

    @one_thread_when_small
    def _update_store_geography(self, events=None, refresh: bool = True) -> None:
        """Each site's footfall, and which stores and web shops every consumer considers.

        A consumer does not simply walk to a retailer's nearest store: she weighs its open stores
        by footfall (open floor space around it, DESIGN §2) and the town's parking charge against
        her travel cost, so a busy centre can draw her past a quiet parade. Footfall changes near
        every opening and closure (at ``events``, site indices), so the consumers within reach of
        a changed site get new options (everyone when ``events`` is None). With ``refresh`` False
        only footfall is updated: the events wait for the next refresh, so that a review's closures
        and openings cost one refresh of options (no one shops in between).
        """
        radius = self.config.choice.footfall_radius_km
        open_sites = self.site_store >= 0
        if not self.footfall_scale:  # the best-placed site of the opening network (the first there is) is the unit
            self.footfall_scale = float(self.region.footfall(open_sites, radius, scale=1.0).max()) or None
        self.site_footfall = self.region.footfall(open_sites, radius, scale=self.footfall_scale)
        site_of_slot = np.array([s.site for s in self.stores], dtype=np.intp)
        # what draws a shopper to a store before travel: the footfall about its site and, with store_size_weight,
        # its own floor space
        pull = self.config.choice.footfall_weight * self.site_footfall[site_of_slot]
        size_weight = self.config.choice.store_size_weight
        if size_weight > 0:
            pull = pull + size_weight * np.log(self.region.site_area_m2[site_of_slot] / self._mean_unit_m2)
        self.slot_pull = pull.astype(np.float32)
        if events is None:
            self._events_pending = None  # everyone's options, at the next refresh
        elif self._events_pending is not None:
            self._events_pending.extend(int(e) for e in events)
        if not refresh:
            return
        events, self._events_pending = self._events_pending, []
        self.n_refreshed = 0
        for cat in self.categories:
            cat.consider.refresh_online()
            self.n_refreshed += cat.consider.refresh_stores(
                self.site_footfall, None if events is None else np.asarray(events, dtype=np.intp))
        nearest = self.consider.nearest_km
        for cat in self.categories[1:]:  # the nearest store of any category
            nearest = np.minimum(nearest, cat.consider.nearest_km)
        finite = np.isfinite(nearest)
        self.access = {
            "mean_nearest_store_km": float(nearest[finite].mean()) if finite.any() else float("nan"),
            "share_no_store_nearby": float((nearest > self.config.stores.access_km).mean()),
        }

    @one_thread_when_small
    def _warm_up(self, weeks: int, before: int = 0) -> None:
        """Weeks of shopping before week 1 (and before the ``before`` weeks of the spin-up) so that
        relationships exist; nothing is recorded."""
        for w in range(-weeks - before + 1, -before + 1):
            self.week = w
            self.shop()
            for cls, members in self.strategy_kinds().items():
                cls.weekly(self, members, w, np.zeros(len(self.retailers), dtype=np.int64))
        self.week = -before
        self._count_from_here()
        self.books.clear()
        for r in self.retailers:
            r.review(0.0)
        for s in self.stores:
            s.weekly_profit.clear()
        self.measure_attrition()  # the year-ago base for the first annual figure at week 52

    @one_thread_when_small
    def _spin_up(self, weeks: int) -> None:
        """Weeks of trade before week 1, so that the run starts from a market its own rules have made
        (businesses that do not pay have left, rents have moved, units have been re-let) rather than from the
        scenario's placement of stores. Everything trades as in the run except online adoption, which
        stays where the scenario starts it; nothing of these weeks is reported: the records start afresh at
        week 1, and the stores keep their trading history (a store's review reads its last year)."""
        for w in range(-weeks + 1, 1):
            self.week = w
            self.trade()
            self.metrics.record()  # the reviews read the trailing revenue shares
        self.week = 0
        for records in (self.closures, self.lease_ends, self.administrations, self.events, self.town_records,
                        self.category_records, self.switching_records, self.flow_records):
            records.clear()
        self.unit_flows.clear()
        for store in self.open_stores:  # week 0's openings are the stock the run starts from, as without one
            self._count_unit_flow(store, opening=True)
        self._count_from_here()
        if self.demography is not None:
            self.demography.n_arrivals = self.demography.n_turned_away = 0
        self.property.n_contested = 0
        self.metrics = MetricsRecorder(self)

    def _count_from_here(self) -> None:
        """Consumers' money and the quarter's flows are counted from the next week on, as the accounts are."""
        self.population.spend_year[:] = 0.0
        self.population.total_spent_eur[:] = 0.0
        self._flows_weeks = []

    @property
    def flows_quarter(self) -> Flows:
        """The purchases that moved between retailers so far this quarter (summed when read)."""
        if len(self._flows_weeks) != 1:
            self._flows_weeks = [Flows.total(self._flows_weeks, len(self.retailers))]
        return self._flows_weeks[0]

    # ---- the choice inputs --------------------------------------------------------------
    def _price_factors(self) -> np.ndarray:
        """Posted prices as multiples of cost (read once for a week's shopping in every category)."""
        held = getattr(self, "_posted", None)
        return held if held is not None else np.array([r.price_factor for r in self.retailers])

    def repoint(self, who: np.ndarray) -> None:
        """Consumers ``who`` had repertoire slots emptied or taken outside a purchase: every category's
        options point at their slots anew."""
        for cat in self.categories:
            cat.consider.repoint(who)

    def market_arrays(self, cat: CategoryMarket | None = None) -> choice.MarketArrays:
        """What the weekly choice in category ``cat`` (the first when not given) reads, as references to
        the model's arrays."""
        cat = cat or self.categories[0]
        pop, cfg, sets = self.population, self.config, cat.consider
        posted = self._price_factors()
        # prices are read against the listed retailers' (a dormant identity's markup is no price)
        if len(self.categories) == 1:
            rel_posted = posted / posted[:self.n_listed].mean()
        else:  # a price is dear or cheap against the other retailers of its category
            of = self.retailer_category
            listed = np.arange(len(posted)) < self.n_listed
            n_listed = np.bincount(of[listed], minlength=len(self.categories))
            # a category of the pool's identities alone is read against all of them
            weight = np.where(listed | (n_listed[of] == 0), 1.0, 0.0)
            level = np.bincount(of, weights=posted * weight) / np.bincount(of, weights=weight)
            rel_posted = posted / level[of]
        gift = self.stranger.gift
        if gift.basket_eur is not cat.spend.basket_eur:
            gift = dataclasses.replace(gift, basket_eur=cat.spend.basket_eur)
        return choice.MarketArrays(
            store_ret=sets.store_ret, store_slot=sets.store_slot, store_static=sets.store_static,
            store_km=sets.store_km, online_ret=sets.online_ret, online_taste=sets.online_taste,
            store_rep=sets.store_rep, online_rep=sets.online_rep,
            slot_retailer=pop.slot_retailer, extra_utility=pop.extra_utility, discount=pop.discount,
            habit=pop.habit, stranger_extra=self.stranger.extra, stranger_discount=self.stranger.discount,
            gift=gift,
            rel_posted=rel_posted,
            sells_online=np.array([r.sells_online for r in self.retailers]),
            adopted=pop.adopted,
            price_sens=pop.price_sens,
            online_friction=cat.online_friction,
            inertia=pop.inertia,
            online_inertia_factor=cfg.choice.online_inertia_factor,
            online_price_sens_factor=cfg.choice.online_price_sens_factor,
            store_width=sets.store_width, online_width=sets.online_width,
        )

    def strategy_kinds(self) -> dict[type, list[Retailer]]:
        """Each strategy followed in the market and its retailers, in the order first followed."""
        kinds: dict[type, list[Retailer]] = {}
        trading = self.demography.trading() if self.demography is not None else None
        for r in self.retailers:
            if trading is not None and r.index >= self.n_listed and not trading[r.index - self.n_listed]:
                continue  # a dormant identity runs no programme and pays no strategy's costs
            kinds.setdefault(type(r.strategy), []).append(r)
        return kinds

    @staticmethod
    def _pick_engine(config: Scenario) -> str:
        if config.engine != "auto":
            return config.engine
        return "numba" if config.consumers.n >= NUMBA_FROM_CONSUMERS else "numpy"

    # ---- lookups --------------------------------------------------------------------------
    def relationship_counts(self) -> tuple[np.ndarray, np.ndarray, int]:
        """This week's active customers and lost customers per retailer, and consumers active anywhere."""
        return self.ledger.counts(self.week)

    def lapsing(self) -> tuple[np.ndarray, np.ndarray]:
        """(consumer, slot) of the relationships that break unless she buys from the retailer next week."""
        return self.ledger.lapsing(self.week)

    def active_customers(self, retailer: int) -> np.ndarray:
        """Consumers who are active customers of ``retailer`` (index) this week."""
        pop = self.population
        who, slot = pop.active_pairs(self.week, self.config.choice.active_window_weeks)
        return np.sort(who[pop.slot_retailer[who, slot] == retailer])

    def terms_of(self, retailer: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(extra utility, discount, habit) of ``retailer`` for every consumer, as the choice sees them:
        from her repertoire slot, or what it offers strangers. Dense columns, for analysis and tests."""
        n = self.population.n
        ret = np.full((n, 1), retailer, dtype=np.int32)
        extra, discount, habit, _ = choice.relationship_terms(self.market_arrays(), np.arange(n), ret)
        return extra[:, 0], discount[:, 0], habit[:, 0]

    def running_since_pairs(self, who: np.ndarray, retailer: np.ndarray, week: int) -> np.ndarray:
        """For each (consumer ``who``, ``retailer``): is the relationship active now and unbroken since ``week``?"""
        pop = self.population
        slot = pop.slot_of(who, retailer)
        held = slot >= 0
        q = np.maximum(slot, 0)
        last, since = pop.last_week[who, q], pop.since_week[who, q]
        return held & ((self.week - last) < self.config.choice.active_window_weeks) & (since <= week)

    def retailer_index(self, name: str) -> int:
        try:
            return self.retailer_names.index(name)
        except ValueError:
            raise KeyError(f"no retailer {name!r}; retailers: {', '.join(self.retailer_names)}") from None

    def site_occupants(self) -> tuple[np.ndarray, np.ndarray]:
        """For every site, the category of its open store (−1: none) and whether it is an independent's
        (read-only arrays, kept until the next opening or closure: every would-be independent reads them)."""
        if self._occupants is None:
            kind = np.full(self.region.n_sites, -1, dtype=np.int64)
            independent = np.zeros(self.region.n_sites, dtype=bool)
            sites = np.flatnonzero(self.site_store >= 0)
            if len(sites):
                owners = [self.stores[slot].retailer for slot in self.site_store[sites]]
                kind[sites] = self.retailer_category[[r.index for r in owners]]
                independent[sites] = [r.independent for r in owners]
            kind.flags.writeable = independent.flags.writeable = False
            self._occupants = kind, independent
        return self._occupants

    def closures_and_events(self) -> list[dict[str, Any]]:
        """Store closures and strategy events in time order, for events.csv."""
        closures = [{"week": c["week"], "retailer": c["retailer"],
                     "event": f"closed the store on site {c['site']} ({c['reason']})"} for c in self.closures]
        return sorted(closures + self.events, key=lambda e: e["week"])

    @property
    def open_stores(self) -> list[Store]:
        return [s for s in self.stores if s.is_open]

    def run(self, progress=None) -> None:
        """Run to the horizon; ``progress`` is called with the week after each step."""
        while self.running:
            self.step()
            if progress is not None:
                progress(self.week)


def tenure_band(tenure: np.ndarray) -> np.ndarray:
    """Index of each tenure (weeks) in TENURE_BANDS: 0 new, 1 up to a year, 2 one to three years, 3 longer."""
    band = np.zeros(np.shape(tenure), dtype=np.int8)
    for edge in TENURE_BANDS[1:]:
        band += tenure >= edge
    return band


def _lost_share(retailer: np.ndarray, group: np.ndarray, n_groups: int, lost: np.ndarray, n_r: int) -> np.ndarray:
    """Lost / base over relationships (their retailer, group and whether lost), as an (R + 1, groups + 1)
    table: retailers then the market in rows, each group then all groups in columns; NaN where the
    base is 0."""
    key = retailer.astype(np.int64) * n_groups + group
    n_base = np.bincount(key, minlength=n_r * n_groups).reshape(n_r, n_groups)
    n_lost = np.bincount(key[lost], minlength=n_r * n_groups).reshape(n_r, n_groups)
    n_base = np.vstack([n_base, n_base.sum(axis=0)])
    n_lost = np.vstack([n_lost, n_lost.sum(axis=0)])
    n_base = np.column_stack([n_base, n_base.sum(axis=1)])
    n_lost = np.column_stack([n_lost, n_lost.sum(axis=1)])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_base > 0, n_lost / np.maximum(n_base, 1), np.nan)


def footprint(config: Scenario) -> dict[str, float]:
    """What a scenario asks of the engine: options a shopper weighs (in each category, at most), repertoire
    slots (in all categories), and the memory of the consumer state (MiB) and of a week's working arrays
    at their largest (MiB, an estimate)."""
    from sim.consumers import CONSUMER_BYTES, SLOT_FIELDS, repertoire_width

    n = config.consumers.n
    categories, of_retailer = config.category_list(), config.retailer_category()
    n_here = [of_retailer.count(c) for c in range(len(categories))]
    slots = sum(repertoire_width(cat.repertoire_slots, k) for cat, k in zip(categories, n_here, strict=True))
    ks = [min(config.choice.consideration_stores, k) for k in n_here]
    ko = [min(config.choice.consideration_online, k) if cat.online else 0
          for cat, k in zip(categories, n_here, strict=True)]
    slot_bytes = slots * sum(np.dtype(dtype).itemsize for dtype, _, _ in SLOT_FIELDS.values())
    # each category's store and web-shop options and the slots they point at; reach, nearest
    option_bytes = sum(s * (4 + 4 + 8 + 4 + 1) + o * (4 + 4 + 1) + 8 + 8 for s, o in zip(ks, ko, strict=True))
    # with several categories, each one's trip probability (the first's is the consumers'), basket and last
    # retailer, and its online friction where it is shifted
    if len(categories) > 1:
        option_bytes += sum(4 + 4 + 2 + (4 if cat.online_friction_shift else 0) for cat in categories) - 4
    # homes, the ledger's latest purchase, parking charge, whether she has a car
    model_bytes = (8 * 2 + 4 + (8 if config.municipal.centre_parking_eur > 0 else 0)
                   + (1 if config.consumers.share_by_car > 0 else 0))
    per_consumer = CONSUMER_BYTES + slot_bytes + option_bytes + model_bytes
    # a week: the shoppers' draws, choices and settlement (about 100 bytes a shopper, per category); the
    # ledger's purchases of the active window (5 bytes each); and the year of quarterly snapshots of
    # active relationships the annual attrition compares with (9 bytes each)
    window = config.choice.active_window_weeks
    trips = sum(cat.p_trip for cat in categories)
    working = n * (4 + max(cat.p_trip for cat in categories) * 100 + trips * 5 * window + 5 * 9 * min(slots, 3))
    mib = 2.0**20
    # the distances and draws the options are built from, where each table fits in the cache's bound
    from sim.consideration import CACHE_BYTES
    from sim.town import n_sites_of

    km_bytes = n * n_sites_of(config.region) * 8
    draw_bytes = min(n * len(of_retailer) * 8, CACHE_BYTES // (8 * max(n, 1)) * 8 * n) \
        if config.choice.consideration_draw_scale > 0 else 0
    cache = (km_bytes if km_bytes <= CACHE_BYTES else 0) + draw_bytes
    return {"n_options": max(s + o for s, o in zip(ks, ko, strict=True)), "n_store_options": max(ks),
            "n_online_options": max(ko), "n_slots": slots, "n_categories": len(categories),
            "state_mib": n * per_consumer / mib, "working_mib": working / mib, "cache_mib_max": cache / mib,
            "bytes_per_consumer": per_consumer}


@dataclass
class CategoryMarket:
    """One retail category's market: its retailers, the consumers' spending in it, their consideration
    sets of its stores and web shops, and their online friction there."""

    index: int
    config: CategoryConfig
    spend: CategorySpend
    members: np.ndarray  # indices of its retailers
    consider: ConsiderationSets
    online_friction: np.ndarray  # (n,) float32


class StrangerTerms:
    """What each retailer offers a consumer with whom it has no relationship (no repertoire slot):
    its strategy's extra utility and discount, and a welcome gift where one is on offer."""

    def __init__(self, model: RetailMarket):
        n_r = len(model.retailers)
        cfg = model.config
        pop = model.population
        self.extra = np.zeros(n_r, dtype=np.float32)
        self.discount = np.zeros(n_r, dtype=np.float32)
        self.gift_state = np.zeros(n_r, dtype=np.int8)
        loyalty = cfg.strategies.loyalty
        scale = cfg.consumers.households_per_agent
        self.gift = choice.GiftTerms(
            price_factor=np.zeros(n_r, dtype=np.float32), basket_eur=pop.basket_eur, scale=np.float32(scale),
            welcome_eur=np.float32(loyalty.welcome_eur * scale), vesting=loyalty.welcome == "vesting",
            inertia_mean=np.float32(max(cfg.choice.inertia, 1e-9)))


__all__ = ["NEVER", "RetailMarket"]
