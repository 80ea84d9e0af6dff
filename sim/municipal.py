"""The town's levers on its retail, and what they bring in and cost it.

Each lever acts where it would in a real town, and all are off by default:

* **vacancy tax** (€ per m² of vacant floor per year, paid by the landlord): holding a
  site empty costs more, so landlords cut the asking rent faster and accept less. The
  cut per review grows by the tax as a share of the site's base rent, and the rent
  floor falls by the tax. It fills sites only where retailers open stores
  (``stores.entry``).
* **rent relief for independents**: the town pays a share of an independent's rent on
  centre and neighbourhood sites (not retail parks).
* **shared platform**: a town-run web and click-and-collect shop. Independents without
  a web shop of their own sell online through it, paying a commission on those sales
  instead of a web shop's fixed cost.
* **centre parking charge** (€ per visit): weighs on the choice of a centre store like
  a price rise of charge / basket.
* **delivery levy** (€ per delivered order): the consumer pays ``levy_pass_through`` of
  it as a delivery charge, which weighs on her choice of the online channel like a
  price rise of charge / basket; the retailer pays the rest. The town collects it all.
* **out-of-town cap**: no more new retail-park floor space than the cap over the run.

The town's weekly accounts (tax and levy income, platform fees, relief paid) are kept
here and reported by the ``municipal_net_eur`` metric. Parking charges change choices
but their takings are not counted, and the plain-Mesa yardstick (``sim/reference.py``)
has none of these levers.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np

from sim.town import ZONE_CODE

if TYPE_CHECKING:
    from sim.consumers import ConsumerPopulation
    from sim.model import RetailMarket
    from sim.retailers import Retailer
    from sim.scenario import MunicipalConfig
    from sim.stores import Store


@dataclass
class TownAccounts:
    """What the town's retail policies brought in and cost it this week (€)."""

    vacancy_tax: float = 0.0
    levy_from_retailers: float = 0.0
    levy_from_consumers: float = 0.0  # the passed-on delivery charge, paid outside the retailers' sales
    platform_fees: float = 0.0
    rent_relief: float = 0.0

    @property
    def net(self) -> float:
        return (self.vacancy_tax + self.levy_from_retailers + self.levy_from_consumers + self.platform_fees
                - self.rent_relief)

    def clear(self) -> None:
        for f in fields(self):
            setattr(self, f.name, 0.0)


class Municipality:
    """The town: its retail policies and their accounts."""

    def __init__(self, model: RetailMarket, cfg: MunicipalConfig):
        self.model = model
        self.cfg = cfg
        self.accounts = TownAccounts()
        self.new_retail_park_m2 = 0.0

    # ---- consumers ---------------------------------------------------------------------
    def _per_visit_utility(self, pop: ConsumerPopulation, eur: float, price_level: float) -> np.ndarray:
        """A charge of ``eur`` per visit as utility: price sensitivity × charge / basket at shelf prices."""
        return (pop.price_sens.astype(np.float64) * eur / (pop.basket_eur.astype(np.float64) * price_level))

    def apply_to_consumers(self, pop: ConsumerPopulation, price_level: float, online_price_sens_factor: float) -> None:
        """The passed-on delivery levy raises every consumer's online friction, once, at the start."""
        passed_on = self.cfg.delivery_levy_eur_order * self.cfg.levy_pass_through
        if passed_on > 0:
            penalty = online_price_sens_factor * self._per_visit_utility(pop, passed_on, price_level)
            pop.online_friction += penalty.astype(np.float32)

    def parking_penalty(self, pop: ConsumerPopulation, price_level: float) -> np.ndarray | None:
        """Utility each consumer loses by shopping at a centre store (None when parking is free): with car users
        told apart (``consumers.share_by_car``), only they pay it."""
        if self.cfg.centre_parking_eur <= 0:
            return None
        penalty = self._per_visit_utility(pop, self.cfg.centre_parking_eur, price_level)
        return penalty if pop.by_car is None else penalty * pop.by_car

    # ---- landlords -----------------------------------------------------------------------
    def rent_cut(self, cut_per_review: float, base_rent: np.ndarray) -> np.ndarray:
        """Share of the asking rent a landlord cuts at a review: more when vacancy is taxed."""
        tax_share = self.cfg.vacancy_tax_eur_m2_year / np.maximum(base_rent, 1e-9)
        return np.minimum(cut_per_review * (1.0 + tax_share), 1.0)

    def rent_floor(self, floor: np.ndarray) -> np.ndarray:
        """The lowest rent a landlord accepts: lower by the tax it saves by letting."""
        return np.maximum(floor - self.cfg.vacancy_tax_eur_m2_year, 0.0)

    # ---- retailers and stores ----------------------------------------------------------------
    def sells_via_platform(self, retailer: Retailer) -> bool:
        return self.cfg.shared_platform and retailer.independent and not retailer.own_web_shop

    def relieved_shares(self, stores: list[Store]) -> np.ndarray:
        """Share of each of ``stores``' rent the town pays: independents' outside retail parks."""
        relief = self.cfg.rent_relief_independents
        if relief == 0.0:
            return np.zeros(len(stores))
        independent = np.fromiter((s.retailer.independent for s in stores), dtype=bool, count=len(stores))
        zone = self.model.region.site_zone[np.fromiter((s.site for s in stores), dtype=np.intp, count=len(stores))]
        return np.where(independent & (zone != ZONE_CODE["retail_park"]), relief, 0.0)

    def may_open(self, sites: np.ndarray) -> np.ndarray:
        """Which of these free sites a retailer may open on, under the out-of-town cap."""
        cap = self.cfg.out_of_town_cap_m2
        region = self.model.region
        if cap is None:
            return np.ones(len(sites), dtype=bool)
        park = region.site_zone[sites] == ZONE_CODE["retail_park"]
        fits = self.new_retail_park_m2 + region.site_area_m2[sites] <= cap
        return ~park | fits

    def record_opening(self, store: Store) -> None:
        if int(self.model.region.site_zone[store.site]) == ZONE_CODE["retail_park"]:
            self.new_retail_park_m2 += store.floor_area_m2

    # ---- the week ------------------------------------------------------------------------------
    def collect_vacancy_tax(self) -> None:
        m = self.model
        vacant = m.property.vacant()  # a converted unit is no longer a shop to tax
        self.accounts.vacancy_tax += (self.cfg.vacancy_tax_eur_m2_year * float(m.region.site_area_m2[vacant].sum())
                                      / 52.0)
