"""Business demography of independents: arrivals, entry where a unit pays, and exits.

Independents are a population, not a fixed list. A fixed pool of ``independents.pool_size`` retailer
identities (``independent 001`` …) stands after the scenario's own retailers, so that no per-retailer
array is ever resized; an identity is *trading* (one shop) or *dormant* (none).

At each review:

1. **exits**: a trading independent leaves for reasons of its own with the review's share of
   ``rate_exit_own_year``, or on losses after as many reviews in a row with a trailing-year loss
   (once older than ``grace_weeks``) as its owner stands, drawn when it opens, uniformly from 1 to
   2 × ``exit_loss_reviews`` − 1; its shop closes and its identity goes dormant;
2. **arrivals**: a Poisson number of would-be businesses (``arrivals_per_100_units_year`` per 100 units
   in retail use) arrives, each from a town drawn by population and of a kind drawn from the
   ``templates``. Each values the vacant units of its kind's location types in its town: what a shop
   there would sell (the median sales per m² of the established independents of that location type in
   that town, × the unit's floor area, scaled by its footfall), less cost of goods at its markup,
   the asking rent, service charge, staff and fixed costs. Units that two or more of them want are
   *contested* (their asking rents rise, ``property.rent_rise_contested``). In arrival order each then
   takes its best untaken unit whose yearly contribution clears ``entry_hurdle`` × its costs, with a
   dormant identity; the others leave without opening.

With retail categories, each kind of business trades in one (``templates.category``) and the pool is
shared out among the categories in proportion to their kinds' shares; a business takes up a dormant
identity of its own category and reads the going rate of shops of its trade.

An identity reused for a new business starts with no customers: every consumer's repertoire slot that
held it is emptied (all ``SLOT_FIELDS``), once per review for all reused identities at once.
Every draw comes from the ``demography`` stream.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.consumers import SLOT_FIELDS
from sim.property import p_per_review
from sim.scenario import EntrantTemplate, RetailerConfig
from sim.stores import running_costs
from sim.town import ZONE_CODE

if TYPE_CHECKING:
    from sim.model import RetailMarket
    from sim.retailers import Retailer
    from sim.stores import Store

POOL_PREFIX = "independent "
ESTABLISHED_WEEKS = 26  # a shop with this much trading history tells a newcomer what a unit sells


def pool_name(k: int) -> str:
    return f"{POOL_PREFIX}{k + 1:03d}"


def pool_configs(cfg) -> list[RetailerConfig]:
    """The pool's identities, dormant, as retailer configurations (the first template's kind)."""
    t = cfg.templates[0]
    return [RetailerConfig(name=pool_name(k), strategy=t.strategy, taste=0.5, markup=t.markup_min, n_stores=0,
                           zones=list(t.zones), online=False, independent=True) for k in range(cfg.pool_size)]


class Demography:
    """The pool of independent identities and their births and deaths."""

    def __init__(self, model: RetailMarket, first: int):
        self.model = model
        self.cfg = model.config.independents
        self.first = first  # retailer index of the pool's first identity
        n = self.cfg.pool_size
        self.template = np.full(n, -1, dtype=np.int32)  # kind of the business now trading (−1: dormant)
        self.patience = np.zeros(n, dtype=np.int32)  # loss-making reviews in a row its owner stands
        self.n_arrivals = 0
        self.n_turned_away = 0  # would-be businesses that found a paying unit but no free identity
        share = np.array([t.share for t in self.cfg.templates], dtype=float)
        self.template_p = share / share.sum()
        self._reused: list[int] = []  # identities taken up since their consumers' slots were last emptied
        # the category each identity trades in, and each kind of business's: a kind takes up only its own
        self.category = np.array(model.config.retailer_category()[first:first + n], dtype=np.int64)
        names = [c.name for c in model.config.category_list()]
        self.template_category = np.array([names.index(t.category) if t.category is not None else 0
                                           for t in self.cfg.templates], dtype=np.int64)

    @property
    def members(self) -> list[Retailer]:
        return self.model.retailers[self.first:]

    def is_member(self, retailer: Retailer) -> bool:
        return retailer.index >= self.first

    def trading(self) -> np.ndarray:
        return self.template >= 0

    # ---- the start ------------------------------------------------------------------------
    def place_initial(self) -> list[Store]:
        """Independents in ``initial_share_of_units`` of all units, on free units of their kinds' location
        types, where many consumers live within reach and few stores serve them. They count as established
        (past their grace period) at the start."""
        m, cfg = self.model, self.cfg
        rng = m.streams.demography
        n_target = min(round(cfg.initial_share_of_units * int(m.property.built.sum())), cfg.pool_size)
        opened = []
        for _ in range(n_target):
            t = int(rng.choice(len(self.template_p), p=self.template_p))
            template = cfg.templates[t]
            markup, taste = rng.uniform(template.markup_min, template.markup_max), rng.uniform()
            free = self._free_units(template)
            dormant = self._dormant(t)
            if len(free) == 0 or len(dormant) == 0:
                continue
            k = int(dormant[0])
            weight = m._local_demand(free, int(self.template_category[t]))
            p = weight / weight.sum() if weight.sum() > 0 else None
            site = int(rng.choice(free, p=p))
            store = self._take_up(k, t, markup, taste, site)
            store.opened_week = m.week - cfg.grace_weeks
            opened.append(store)
        self._wipe_reused()
        return opened

    # ---- the review -------------------------------------------------------------------------
    def exits(self) -> list[int]:
        """Independents that leave this review; returns the sites of their closed shops."""
        m, cfg = self.model, self.cfg
        rng = m.streams.demography
        draws = rng.random(len(self.template))  # one per identity, trading or not: stable draws
        p_review = p_per_review(cfg.rate_exit_own_year, m.config.review_weeks)
        sites = []
        for k in np.flatnonzero(self.trading()):
            r = m.retailers[self.first + k]
            shops = r.open_stores
            if not shops:  # closed by something else (never by the chains' closure policy)
                self._go_dormant(k)
                continue
            shop = shops[0]
            reason = None
            if draws[k] < p_review:
                reason = "own reasons"
            elif cfg.exit_loss_reviews > 0 and shop.age_weeks >= cfg.grace_weeks:
                shop.loss_strikes = shop.loss_strikes + 1 if shop.trailing_profit < 0 else 0
                if shop.loss_strikes >= self.patience[k]:
                    reason = "losses"
            if reason is not None:
                for s in shops:
                    m._close_store(s, reason=reason)
                    sites.append(s.site)
                self._go_dormant(k)
        return sites

    def arrivals(self) -> list[Store]:
        """Would-be businesses arrive and open where a unit pays; returns the new shops."""
        m, cfg = self.model, self.cfg
        rng = m.streams.demography
        region = m.region
        n_units = int(m.property.in_use.sum())
        lam = cfg.arrivals_per_100_units_year / 100.0 * n_units * m.config.review_weeks / 52.0
        n = int(rng.poisson(lam))
        self.n_arrivals += n
        if n == 0:
            return []
        towns = rng.choice(region.n_towns, size=n, p=region.town_weight)
        kinds = rng.choice(len(self.template_p), size=n, p=self.template_p)
        lows = np.array([cfg.templates[t].markup_min for t in kinds])
        highs = np.array([cfg.templates[t].markup_max for t in kinds])
        markups = lows + (highs - lows) * rng.random(n)
        tastes = rng.random(n)
        going = {int(c): self._going_rate(int(c)) for c in np.unique(self.template_category[kinds])}
        # each values the units open to it; the units two or more want most are contested
        options = [self._options(cfg.templates[t], int(town)) for t, town in zip(kinds, towns, strict=True)]
        trades = [int(self.template_category[t]) for t in kinds]
        shares = [cfg.templates[t].staff_share_of_sales for t in kinds]
        best = [int(u[np.argmax(self._gain(u, mk, going[c], c, share))])
                for u, mk, c, share in zip(options, markups, trades, shares, strict=True) if len(u)]
        wanted, n_wanting = np.unique(np.array(best, dtype=np.intp), return_counts=True)
        m.property.contest(wanted[n_wanting >= 2])
        taken: set[int] = set()
        opened = []
        for j in range(n):
            units = options[j]
            if len(units) == 0:
                continue
            units = units[~np.isin(units, list(taken))] if taken else units
            if len(units) == 0:
                continue
            trade = int(self.template_category[kinds[j]])
            gain = self._gain(units, markups[j], going[trade], trade, shares[j])
            i = int(np.argmax(gain))
            if gain[i] <= 0:
                continue
            dormant = self._dormant(int(kinds[j]))
            if len(dormant) == 0:
                self.n_turned_away += 1
                continue
            site = int(units[i])
            store = self._take_up(int(dormant[0]), int(kinds[j]), float(markups[j]), float(tastes[j]), site)
            m.municipality.record_opening(store)
            m.events.append({"week": m.week, "retailer": store.retailer.name,
                             "event": f"a new {cfg.templates[int(kinds[j])].name} opened on site {site} at "
                                      f"{store.rent_eur_m2_year:.0f} €/m²/year"})
            taken.add(site)
            opened.append(store)
        self._wipe_reused()
        return opened

    # ---- valuing a unit ------------------------------------------------------------------------
    def _free_units(self, template: EntrantTemplate, town: int | None = None) -> np.ndarray:
        m = self.model
        ok = m.property.vacant() & np.isin(m.region.site_zone, [ZONE_CODE[z] for z in template.zones])
        if town is not None:
            ok &= m.region.site_town == town
        free = np.flatnonzero(ok)
        return free[m.municipality.may_open(free)]

    def _options(self, template: EntrantTemplate, town: int) -> np.ndarray:
        return self._free_units(template, town)

    def _going_rate(self, category: int = 0) -> dict[str, np.ndarray]:
        """What the established shops of ``category`` (of any, where it has none) of each location type sell
        a year per m² (their median sales density, the measure planners' retail studies use), and their mean
        footfall, by town: from the established independents there, else every established shop there, else
        the same location type in the whole region, else every established shop."""
        m = self.model
        region = m.region
        n_z, n_t = len(ZONE_CODE), region.n_towns
        density = np.full((n_z, n_t), np.nan)
        foot = np.ones((n_z, n_t))
        established = [s for s in m.open_stores if len(s.weekly_revenue) >= ESTABLISHED_WEEKS]
        # a shop of the same trade tells most (a café's sales per m² are not a grocer's)
        same_trade = [s for s in established if m.retailer_category[s.retailer.index] == category]
        established = same_trade or established
        if not established:
            return {"density": density, "foot": foot}
        sites = np.array([s.site for s in established], dtype=np.intp)
        sales = np.array([s.sales_rate_year for s in established])
        per_m2 = sales / region.site_area_m2[sites]
        indep = np.array([s.retailer.independent for s in established])
        footfall = m.site_footfall[sites]
        zone, town = region.site_zone[sites], region.site_town[sites]
        everyone = np.ones(len(sites), dtype=bool)
        for code in range(n_z):
            for t in range(-1, n_t):  # −1: the whole region, the fallback of a town with none
                here = (zone == code) & ((town == t) if t >= 0 else everyone)
                for group in (indep, everyone):
                    pick = group & here
                    if pick.any():
                        value, mean_foot = float(np.median(per_m2[pick])), float(footfall[pick].mean()) or 1.0
                        break
                else:
                    continue
                if t < 0:
                    density[code, :], foot[code, :] = value, mean_foot
                else:
                    density[code, t], foot[code, t] = value, mean_foot
        density[np.isnan(density)] = float(np.median(per_m2))
        return {"density": density, "foot": foot}

    def _gain(self, units: np.ndarray, markup: float, going: dict[str, np.ndarray], category: int,
              staff_share: float | None = None) -> np.ndarray:
        """Expected yearly contribution of a shop of ``category`` on each unit, less the hurdle on its costs (€): the
        going sales density × the unit's floor area, scaled by its footfall against the neighbours', less cost of
        goods at ``markup``, occupancy, staff (``staff_share`` of those sales where its kind sets one, else the
        trade's cost per m²) and the fixed cost."""
        m = self.model
        region = m.region
        zone, town = region.site_zone[units], region.site_town[units]
        density = going["density"][zone, town]
        if np.isnan(density).all():
            return np.full(len(units), -np.inf)
        area = region.site_area_m2[units]
        footfall = m.site_footfall[units]
        sales = density * area * np.clip(footfall / going["foot"][zone, town], 0.5, 1.5)
        margin = sales * markup / (1 + markup)
        staff_m2, fixed_year = running_costs(m, category)
        if staff_share is None:
            costs = (area * (m.asking_rent[units] + m.property.service_charge[units] + staff_m2) + fixed_year)
        else:
            costs = area * (m.asking_rent[units] + m.property.service_charge[units]) + staff_share * sales + fixed_year
        return np.nan_to_num(margin - costs * (1 + self.cfg.entry_hurdle), nan=-np.inf)

    # ---- identities -----------------------------------------------------------------------------
    def _take_up(self, k: int, t: int, markup: float, taste: float, site: int) -> Store:
        """Identity ``k`` becomes a new business of kind ``t`` with one shop on ``site``."""
        m = self.model
        template = self.cfg.templates[t]
        r = m.retailers[self.first + k]
        if r.strategy.name != template.strategy:
            r.switch_strategy(template.strategy)
        r.markup, r.taste = float(markup), float(taste)
        r.zones = list(template.zones)
        r.own_web_shop = r.sells_online = template.online
        r.staff_share_of_sales = template.staff_share_of_sales
        r.via_platform = False
        r.revenue_share_at_review = 0.0
        r.copy_due_week = None
        r.online_steps_acted = 0
        m.books.forget_revenue(r.index)
        r.stores = []
        self.template[k] = t
        # owners differ in how long they stand losses (savings, hopes): uniform over 1 … 2 × the mean − 1
        mean = self.cfg.exit_loss_reviews
        self.patience[k] = m.streams.demography.integers(1, 2 * mean) if mean > 0 else 0
        self._reused.append(r.index)
        return m._open_store(r, site)

    def _dormant(self, t: int) -> np.ndarray:
        """The dormant identities a business of kind ``t`` can take up: those of its category."""
        return np.flatnonzero(~self.trading() & (self.category == self.template_category[t]))

    def _go_dormant(self, k: int) -> None:
        r = self.model.retailers[self.first + k]
        r.own_web_shop = r.sells_online = r.via_platform = False
        self.template[k] = -1

    def _wipe_reused(self) -> None:
        """A new business starts with no customers: empty every slot that holds a reused identity, and it
        is no one's last or main retailer (a purchase there is a switch to a new business)."""
        if not self._reused:
            return
        m = self.model
        pop = m.population
        reused = np.unique(np.array(self._reused, dtype=np.int32))
        self._reused = []
        pop.last_retailer[np.isin(pop.last_retailer, reused)] = -1
        for spend in pop.categories:
            spend.last_retailer[np.isin(spend.last_retailer, reused)] = -1
        pop.main_retailer[np.isin(pop.main_retailer, reused)] = -1
        who, slot = np.nonzero(np.isin(pop.slot_retailer, reused))
        if len(who) == 0:
            return
        for name, (_, empty, _) in SLOT_FIELDS.items():
            getattr(pop, name)[who, slot] = empty
        m.ledger.rebuild(m.week)
        m.repoint(np.unique(who))
