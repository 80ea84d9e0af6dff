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

Every unit is at any time occupied, vacant or converted; the quarterly records in
``RetailMarket.town_records`` count all three, and the openings and closures between them. Each unit
remembers the category of its last store (``last_category``), so ``RetailMarket.category_records`` can
say which trade the empty units were in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.scenario import ZONES

if TYPE_CHECKING:
    from sim.model import RetailMarket

NOT_VACANT = np.iinfo(np.int32).max  # vacant_since of an occupied unit
NOT_CONVERTED = np.iinfo(np.int32).max  # converted_week of a unit in retail use (later than any week)


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
        self.in_use = np.ones(n, dtype=bool)  # in retail use; False once converted
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
        the stream's draws do not depend on how many units are eligible."""
        cfg, m = self.cfg, self.model
        if not cfg.enabled or cfg.conversion_after_years is None:
            return np.zeros(0, dtype=np.intp)
        draws = m.streams.property.random(len(self.in_use))
        empty_weeks = week - self.vacant_since.astype(np.int64)
        eligible = self.in_use & (m.site_store < 0) & (empty_weeks >= round(cfg.conversion_after_years * 52))
        p_review = p_per_review(cfg.p_conversion_year, m.config.review_weeks)
        sites = np.flatnonzero(eligible & (draws < p_review))
        self.in_use[sites] = False
        self.converted_week[sites] = week
        return sites

    # ---- the stock ------------------------------------------------------------------------
    def vacant(self) -> np.ndarray:
        """Units in retail use with no store."""
        return (self.model.site_store < 0) & self.in_use

    def persistent(self, week: int) -> np.ndarray:
        """Vacant units empty ``persistent_vacancy_years`` or more."""
        weeks = round(self.cfg.persistent_vacancy_years * 52)
        return self.vacant() & (week - self.vacant_since.astype(np.int64) >= weeks)
