"""loyalty: a points programme with value tiers that buys retention."""

from __future__ import annotations

import numpy as np

from sim.strategies.base import Strategy

TOP_SHARE, MIDDLE_SHARE = 0.2, 0.3  # value tiers: top 20 % of customers, next 30 %


class LoyaltyStrategy(Strategy):
    """Loyalty buying: points per € spent, vouchers above a threshold, value tiers.

    Rule: each € spent earns points; a balance that reaches the threshold is paid out
    as a voucher, booked as a reward cost. Customers in the top value tier earn a
    bonus rate (15 % by default), the middle tier a smaller one (10 %), the rest none.
    Unredeemed points pull a customer back (a switching cost) in proportion to how
    close she is to a voucher; the points rate is a perceived discount. The programme
    has a fixed running cost.

    Source: Peppers & Rogers (1997), *Enterprise One to One*, and Dowling & Uncles
    (1997), "Do customer loyalty programs really work?", Sloan Management Review.
    """

    name = "loyalty"
    source = "Peppers & Rogers (1997); Dowling & Uncles (1997)"

    def setup(self, pop):
        super().setup(pop)
        self.tier = np.zeros(pop.n, dtype=np.int8)  # 0 bottom, 1 middle, 2 top; re-ranked at reviews
        self.discount_row[:] = self._rate(np.arange(pop.n))

    def _rate(self, idx):
        """Reward per € spent for consumers ``idx``, by their value tier."""
        p = self.params
        bonus = np.array([0.0, p.tier_bonus_middle, p.tier_bonus_top], dtype=np.float32)
        return (p.points_per_eur * p.eur_per_point * (1.0 + bonus[self.tier[idx]])).astype(np.float32)

    def _pull(self, held):
        p = self.params
        return (p.points_utility * np.minimum(held / p.redeem_threshold_points, 1.0)).astype(np.float32)

    def after_sales(self, pop, buyers, channel, paid_eur, week):
        p = self.params
        if p.eur_per_point <= 0:
            return
        points = pop.points[self.r]
        earned = paid_eur * self._rate(buyers) / p.eur_per_point
        balance = points[buyers] + earned
        vouchers = np.floor(balance / p.redeem_threshold_points)
        balance -= vouchers * p.redeem_threshold_points
        points[buyers] = balance
        self.utility_row[buyers] = self._pull(balance)
        self.retailer.accounts.rewards += float((vouchers * p.redeem_threshold_points).sum() * p.eur_per_point)

    def weekly(self, pop, week, n_active):
        self.retailer.accounts.programme += self.params.programme_eur_year / 52.0

    def review(self, share_now, share_before, pop, week):
        """Re-rank customers into value tiers by their spend over the current year."""
        spend = pop.spend_year[self.r]
        tier = np.zeros(pop.n, dtype=np.int8)
        customers = np.flatnonzero(spend > 0)
        if len(customers):
            order = np.argsort(-spend[customers], kind="stable")
            rank = np.empty(len(customers), dtype=np.int64)
            rank[order] = np.arange(len(customers))
            n_top = round(TOP_SHARE * len(customers))
            n_mid = round((TOP_SHARE + MIDDLE_SHARE) * len(customers))
            tier[customers[rank < n_mid]] = 1
            tier[customers[rank < n_top]] = 2
        self.tier = tier
        self.discount_row[:] = self._rate(np.arange(pop.n))
