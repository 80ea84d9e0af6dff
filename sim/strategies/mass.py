"""mass: one price for all, broad promotion, competing on price to acquire customers."""

from __future__ import annotations

from sim.slots import mass_after_sales
from sim.strategies.base import Strategy, member_mask


class MassStrategy(Strategy):
    """Mass marketing: a uniform price, promotions and price cuts when share slips.

    Rule: everyone pays the same posted price. A fixed share of revenue goes to
    promotion, which adds utility for consumers who are not yet active customers
    (acquisition). At each review, if revenue share fell by more than a tolerance the
    markup is cut by a step, never below a floor; if share rose, half a step is won
    back, never above the starting markup. Rivals doing the same can spiral prices down.
    It holds nothing per customer: a customer of three years is served as one of three
    weeks, and nothing she would lose by leaving grows with her tenure.

    Source: Peppers & Rogers (1993), *The One to One Future*, on mass marketing as
    competition for share of market through price and promotion.
    """

    name = "mass"
    source = "Peppers & Rogers (1993), The One to One Future"

    def __init__(self, params, retailer):
        super().__init__(params, retailer)
        self.markup_start = retailer.markup

    @property
    def promoting(self) -> bool:
        return self.params.promo_utility > 0 and self.params.promo_share_revenue > 0

    def stranger_terms(self):
        return (self.params.promo_utility if self.promoting else 0.0), 0.0

    def setup(self, pop):
        super().setup(pop)
        if self.promoting:
            who, slot = self.own_slots(pop)
            pop.extra_utility[who, slot] = self.params.promo_utility

    @classmethod
    def after_sales(cls, model, members, week, sold):
        promoting = member_mask(model, [r for r in members if r.strategy.promoting])
        mass_after_sales(week.buyers[sold], week.slot[sold], week.retailer[sold], promoting,
                         model.population.extra_utility)  # customers now: no promotions

    @classmethod
    def weekly(cls, model, members, week, n_active):
        promoting = [r for r in members if r.strategy.promoting]
        if promoting:
            # consumers who are no longer customers at next week's shopping see promotions again
            pop = model.population
            who, slot = model.lapsing()
            mine = member_mask(model, promoting)[pop.slot_retailer[who, slot]]
            pop.extra_utility[who[mine], slot[mine]] = members[0].strategy.params.promo_utility
        for r in members:
            acc = r.accounts
            acc.marketing += r.strategy.params.promo_share_revenue * acc.revenue

    def review(self, share_now, share_before, pop, week):
        p = self.params
        if share_now < share_before - p.share_tolerance:
            self.retailer.markup = max(p.markup_floor, self.retailer.markup - p.markup_step)
        elif share_now > share_before + p.share_tolerance:
            self.retailer.markup = min(self.markup_start, self.retailer.markup + p.markup_step / 2)
