"""mass: one price for all, broad promotion, competing on price to acquire customers."""

from __future__ import annotations

from sim.strategies.base import Strategy


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

    def setup(self, pop):
        super().setup(pop)
        if self.promoting:
            self.utility_row[:] = self.params.promo_utility  # nobody is a customer yet

    def after_sales(self, pop, buyers, channel, paid_eur, week):
        if self.promoting:
            self.utility_row[buyers] = 0.0  # customers now; promotions target the others

    def weekly(self, pop, week, n_active):
        if self.promoting:
            # consumers who are no longer customers at next week's shopping see promotions again
            window = self.retailer.model.config.choice.active_window_weeks
            lapsing = (week + 1 - pop.last_week[self.r]) == window
            self.utility_row[lapsing] = self.params.promo_utility
        acc = self.retailer.accounts
        acc.marketing += self.params.promo_share_revenue * acc.revenue

    def review(self, share_now, share_before, pop, week):
        p = self.params
        if share_now < share_before - p.share_tolerance:
            self.retailer.markup = max(p.markup_floor, self.retailer.markup - p.markup_step)
        elif share_now > share_before + p.share_tolerance:
            self.retailer.markup = min(self.markup_start, self.retailer.markup + p.markup_step / 2)
