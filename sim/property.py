"""The property market: units in retail use, their asking rents, how long each has stood empty, and
conversions out of retail use.

A landlord cuts the asking rent of a vacant unit at each review (``stores.rent_cut_per_review``, down
to ``stores.rent_floor_share`` of the base rent; the town's vacancy tax speeds that up), as before.
With ``property.enabled`` two things are added:

* **contested units**: when two or more would-be occupants want the same unit at one review, its
  landlord raises the asking rent by ``rent_rise_contested``, and the reference rent it asks afresh
  after a closure with it (never above ``rent_cap_share`` × the base rent); where demand is thin the
  cuts win, where it is strong the rises do;
* **conversion**: a unit empty for ``conversion_after_years`` or more leaves retail use with yearly
  probability ``p_conversion_year`` (to homes or offices); it is then neither occupied nor vacant.

New floor space appears only where the town permits it (``municipal.new_floor_space_m2``, by location
type, in each town). The permitted space is laid out at the start as plots beside the town's units of
that type (``plan_plots``), which are not units yet; at a review a developer builds one plot of a type
in a town when every unit of that type there is let (demand the stock does not meet) and the median
rent its landlords ask afresh yields at least ``development_yield`` on ``build_cost_eur_m2``. The new
unit stands vacant at that rent until someone opens on it, and counts among the units from then on.

Every unit is at any time occupied, vacant or converted; the quarterly records in
``RetailMarket.town_records`` count all three, and the openings and closures between them. Each unit
remembers the category of its last store (``last_category``), so ``RetailMarket.category_records`` can
say which trade the empty units were in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.scenario import ZONES
from sim.town import Region

if TYPE_CHECKING:
    from sim.model import RetailMarket
    from sim.scenario import MunicipalConfig

NOT_VACANT = np.iinfo(np.int32).max  # vacant_since of an occupied unit
NOT_CONVERTED = np.iinfo(np.int32).max  # converted_week of a unit in retail use (later than any week)
NOT_BUILT = np.iinfo(np.int32).max  # built_week of a plot not built yet
BUILT_AT_START = np.iinfo(np.int32).min  # built_week of the scenario's own units (earlier than any week)


MAX_PLOTS = 500  # plots laid out per location type and town: more permitted space than that stays unbuilt
PLOT_SPREAD_KM = 0.05  # a new unit stands this close to the unit it is built beside


def plan_plots(region: Region, cfg: MunicipalConfig, rng: np.random.Generator) -> Region:
    """``region`` with plots for the new floor space each town permits (``cfg.new_floor_space_m2``) appended
    to its sites: for each town and permitted location type where the town has units, as many plots as the
    permitted space holds at the median size of those units, each beside one of them (drawn) at their median
    base rent. ``region.site_planned`` marks them: they become units only when built. Without permitted
    space the region is returned as it is (and no draw is made)."""
    region.site_planned = np.zeros(region.n_sites, dtype=bool)
    permitted = {z: m2 for z, m2 in cfg.new_floor_space_m2.items() if m2 > 0}
    if not permitted:
        return region
    plots: dict[str, list] = {k: [] for k in ("x", "y", "area", "rent", "zone", "town")}
    for t in range(region.n_towns):
        for z, m2 in permitted.items():
            here = np.flatnonzero((region.site_town == t) & (region.site_zone == ZONES.index(z)))
            if len(here) == 0:
                continue
            area = float(np.median(region.site_area_m2[here]))
            n = min(int(m2 // area), MAX_PLOTS)
            beside = rng.choice(here, size=n)
            offset = rng.normal(0.0, PLOT_SPREAD_KM, (n, 2))
            plots["x"].extend(np.clip(region.site_x[beside] + offset[:, 0], 0, region.width_km))
            plots["y"].extend(np.clip(region.site_y[beside] + offset[:, 1], 0, region.height_km))
            plots["area"].extend([area] * n)
            plots["rent"].extend([float(np.median(region.site_rent_eur_m2_year[here]))] * n)
            plots["zone"].extend([ZONES.index(z)] * n)
            plots["town"].extend([t] * n)
    n_plots = len(plots["x"])
    if n_plots == 0:
        return region
    grown = Region(
        width_km=region.width_km, height_km=region.height_km, town_x=region.town_x, town_y=region.town_y,
        town_weight=region.town_weight, town_radius_km=region.town_radius_km,
        site_x=np.append(region.site_x, plots["x"]), site_y=np.append(region.site_y, plots["y"]),
        site_area_m2=np.append(region.site_area_m2, plots["area"]),
        site_rent_eur_m2_year=np.append(region.site_rent_eur_m2_year, plots["rent"]),
        site_zone=np.append(region.site_zone, plots["zone"]).astype(region.site_zone.dtype),
        site_town=np.append(region.site_town, plots["town"]).astype(region.site_town.dtype),
        share_rural=region.share_rural,
    )
    grown.site_occupant = [*region.site_occupant, *([""] * n_plots)]
    grown.town_names = region.town_names
    grown.home_grid = region.home_grid
    grown.site_planned = np.append(region.site_planned, np.ones(n_plots, dtype=bool))
    return grown


def p_per_review(p_year: float, review_weeks: int) -> float:
    """The probability, at one review, of an event that happens with probability ``p_year`` a year."""
    return 1.0 - (1.0 - p_year) ** (review_weeks / 52.0)


class PropertyMarket:
    """Per-unit state of the property market, as arrays indexed by site."""

    def __init__(self, model: RetailMarket):
        self.model = model
        self.cfg = model.config.property
        region = model.region
        n = region.n_sites
        self.built = ~region.site_planned  # a unit of the stock: there from the start, or built on a plot
        self.in_use = self.built.copy()  # in retail use: built and not converted
        self.built_week = np.where(self.built, BUILT_AT_START, NOT_BUILT).astype(np.int32)
        # the new floor space each town still permits, by location type (m²)
        permitted = model.config.municipal.new_floor_space_m2
        self.permitted_m2 = np.tile([permitted.get(z, 0.0) for z in ZONES], (region.n_towns, 1))
        self.vacant_since = np.full(n, NOT_VACANT, dtype=np.int32)  # week the unit last fell vacant
        self.converted_week = np.full(n, NOT_CONVERTED, dtype=np.int32)  # week it left retail use
        # category of the last store on each unit (−1: never occupied); a planner reads what trade an empty
        # unit was in, and whether the units a trade leaves find another occupant
        self.last_category = np.full(n, -1, dtype=np.int16)
        self.reference_rent = region.site_rent_eur_m2_year.astype(float).copy()  # asked afresh after a closure
        charge = model.config.region.service_charge_eur_m2_year
        self.service_charge = np.array([charge.get(z, 0.0) for z in ZONES], dtype=float)[region.site_zone]
        self.n_contested = 0  # units contested over the run

    # ---- events -------------------------------------------------------------------------
    def start(self, week: int) -> None:
        """Units vacant once the initial stores are placed have stood empty since ``week``."""
        self.vacant_since[self.model.site_store < 0] = week

    def opened(self, site: int) -> None:
        m = self.model
        self.vacant_since[site] = NOT_VACANT
        self.last_category[site] = m.retailer_category[m.stores[m.site_store[site]].retailer.index]

    def closed(self, site: int, week: int) -> float:
        """A unit falls vacant; returns the asking rent its landlord starts afresh from."""
        self.vacant_since[site] = week
        return float(self.reference_rent[site])

    def contest(self, sites: np.ndarray) -> None:
        """Two or more would-be occupants want each of ``sites``: their landlords ask more."""
        if not self.cfg.enabled or len(sites) == 0:
            return
        sites = np.asarray(sites, dtype=np.intp)
        m = self.model
        cap = self.cfg.rent_cap_share * m.region.site_rent_eur_m2_year[sites]
        rise = 1.0 + self.cfg.rent_rise_contested
        m.asking_rent[sites] = np.minimum(m.asking_rent[sites] * rise, np.maximum(cap, m.asking_rent[sites]))
        self.reference_rent[sites] = np.minimum(self.reference_rent[sites] * rise,
                                                np.maximum(cap, self.reference_rent[sites]))
        self.n_contested += len(sites)

    def market_rent(self, site: int) -> float:
        """The open-market rent of an occupied ``site`` at a lease's end (€/m²/year): its base rent × the median
        of what the vacant units of its location type and town ask over their base rents (the comparables a
        valuer reads), else, with none vacant there, what its landlord would ask afresh (its reference rent)."""
        m = self.model
        region = m.region
        base = region.site_rent_eur_m2_year
        same = (self.vacant() & (region.site_zone == region.site_zone[site])
                & (region.site_town == region.site_town[site]) & (base > 0))
        if not same.any():
            return float(self.reference_rent[site])
        return float(base[site] * np.median(m.asking_rent[same] / base[same]))

    # ---- the review ---------------------------------------------------------------------
    def convert(self, week: int) -> np.ndarray:
        """Units empty long enough leave retail use, each with the review's share of the yearly
        probability; returns the converted sites. One draw per unit at every review (when on), so
        the stream's draws do not depend on how many units are eligible (plots, built or not, draw from
        the development stream)."""
        cfg, m = self.cfg, self.model
        if not cfg.enabled or cfg.conversion_after_years is None:
            return np.zeros(0, dtype=np.intp)
        planned = m.region.site_planned
        draws = np.empty(len(self.in_use))
        draws[~planned] = m.streams.property.random(int((~planned).sum()))
        if planned.any():  # plots draw from their own stream: permitting space moves no other unit's draws
            draws[planned] = m.streams.development.random(int(planned.sum()))
        empty_weeks = week - self.vacant_since.astype(np.int64)
        eligible = self.in_use & (m.site_store < 0) & (empty_weeks >= round(cfg.conversion_after_years * 52))
        p_review = p_per_review(cfg.p_conversion_year, m.config.review_weeks)
        sites = np.flatnonzero(eligible & (draws < p_review))
        self.in_use[sites] = False
        self.converted_week[sites] = week
        return sites

    def develop(self, week: int) -> np.ndarray:
        """New floor space where the town permits it: in each town and location type whose units are all let
        and whose landlords' median fresh asking rent yields ``development_yield`` on ``build_cost_eur_m2``,
        the first plot that the remaining permitted space holds is built; it stands vacant at that rent.
        Returns the built sites."""
        m, region, cfg = self.model, self.model.region, self.cfg
        plots = np.flatnonzero(~self.built)
        if len(plots) == 0:
            return plots
        built = []
        for t, z in sorted({(int(region.site_town[p]), int(region.site_zone[p])) for p in plots}):
            here = (region.site_town == t) & (region.site_zone == z)
            units = here & self.in_use
            if not units.any() or (units & (m.site_store < 0)).any():
                continue  # units of this type stand empty here: no developer builds beside them
            rent = float(np.median(self.reference_rent[units]))
            if rent < cfg.development_yield * cfg.build_cost_eur_m2:
                continue
            plot = int(np.flatnonzero(here & ~self.built)[0])
            if region.site_area_m2[plot] > self.permitted_m2[t, z]:
                continue
            self.permitted_m2[t, z] -= region.site_area_m2[plot]
            self.built[plot] = self.in_use[plot] = True
            self.built_week[plot] = week
            self.vacant_since[plot] = week
            self.reference_rent[plot] = m.asking_rent[plot] = rent
            built.append(plot)
        return np.array(built, dtype=np.intp)

    # ---- the stock ------------------------------------------------------------------------
    def converted(self) -> np.ndarray:
        """Units that have left retail use."""
        return self.built & ~self.in_use

    def vacant(self) -> np.ndarray:
        """Units in retail use with no store."""
        return (self.model.site_store < 0) & self.in_use

    def persistent(self, week: int) -> np.ndarray:
        """Vacant units empty ``persistent_vacancy_years`` or more."""
        weeks = round(self.cfg.persistent_vacancy_years * 52)
        return self.vacant() & (week - self.vacant_since.astype(np.int64) >= weeks)
