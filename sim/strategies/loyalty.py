"""loyalty: a points programme with value tiers and welcome offers that buys retention."""

from __future__ import annotations

import numpy as np

from sim.strategies.base import Strategy

TOP_SHARE, MIDDLE_SHARE = 0.2, 0.3  # value tiers: top 20 % of customers, next 30 %
GIFT_NONE, GIFT_OFFERED, GIFT_PENDING = 0, 1, 2  # not on offer to her, on offer, promised (vesting)


class LoyaltyStrategy(Strategy):
    """Loyalty buying: points per € spent, vouchers above a threshold, value tiers, welcome offers.

    Rule: each € spent earns points; a balance that reaches the threshold is paid out
    as a voucher, booked as a reward cost. Customers in the top value tier (top 20 %
    of the retailer's customers by spend this year) earn a bonus rate (15 % by
    default), the middle tier (next 30 %) a smaller one (10 %), the rest none; the
    points rate is a perceived discount. Unredeemed points pull a customer back (a
    switching cost) in proportion to how close she is to a voucher, divided by the
    number of programmes whose cards she holds (several cards weaken each).
    A welcome gift can attract new customers: *unconditional* gifts are paid at the
    first purchase, so nothing holds the newcomer afterwards and deal-seekers take the
    gift and go; *vesting* gifts are paid only if she is still a customer after some
    weeks, so the pending gift holds her, and it appeals more to habitual shoppers
    than to deal-seekers (its value is scaled by her habit strength).
    A newcomer is anyone who has not bought here for ``welcome_after_weeks`` (a year by
    default) or ever, as retailers count "new to brand"; so a deal-seeker who takes the
    gift and lapses qualifies again a year later, as the long-distance carriers' switching
    cheques found. The programme has a fixed running cost; gifts and vouchers are booked
    as rewards.

    Sources: Peppers & Rogers (1997), *Enterprise One to One*; Dowling & Uncles (1997),
    "Do customer loyalty programs really work?", Sloan Management Review 38(4); the
    MCI Friends & Family case as told by Peppers & Rogers (welcome gifts and churn).
    """

    name = "loyalty"
    source = "Peppers & Rogers (1997); Dowling & Uncles (1997)"

    def setup(self, pop):
        super().setup(pop)
        self.tier = np.zeros(pop.n, dtype=np.int8)  # 0 bottom, 1 middle, 2 top; re-ranked at reviews
        self.has_card = np.zeros(pop.n, dtype=bool)
        self.gift = np.zeros(pop.n, dtype=np.int8)  # GIFT_NONE, GIFT_OFFERED or GIFT_PENDING
        self.gift_due_week = np.zeros(pop.n, dtype=np.int32)
        model = self.retailer.model
        scale = model.config.consumers.households_per_agent
        # the gift seen as a price cut on her first basket, valued by her price sensitivity
        basket_paid = np.maximum(pop.basket_eur * scale * self.retailer.price_factor, 1e-6)
        # capped at a free basket: a gift is not worth more than what she came to buy
        gift = pop.price_sens * np.minimum((self.params.welcome_eur * scale) / basket_paid, 1.0)
        if self.params.welcome == "vesting":
            # a gift paid only to those who stay is worth more to habitual shoppers and less to
            # deal-seekers, who do not mean to stay: it selects the newcomers it attracts
            gift = gift * np.clip(pop.inertia / max(model.config.choice.inertia, 1e-9), 0.0, 2.0)
        self._gift_utility = gift.astype(np.float32)
        self.offer_open = False  # the welcome offer opens after the warm-up
        self.discount_row[:] = self._rate(np.arange(pop.n))
        self._refresh(pop, np.arange(pop.n))

    # ---- what consumers see ----------------------------------------------------------
    def _rate(self, idx):
        """Reward per € spent for consumers ``idx``, by their value tier."""
        p = self.params
        bonus = np.array([0.0, p.tier_bonus_middle, p.tier_bonus_top], dtype=np.float32)
        return (p.points_per_eur * p.eur_per_point * (1.0 + bonus[self.tier[idx]])).astype(np.float32)

    def _cards_held(self, idx) -> np.ndarray:
        cards = np.zeros(len(idx), dtype=np.float32)
        for r in self.retailer.model.retailers:
            if isinstance(r.strategy, LoyaltyStrategy) and getattr(r.strategy, "has_card", None) is not None:
                cards += r.strategy.has_card[idx]
        return np.maximum(cards, 1.0)

    def _refresh(self, pop, idx) -> None:
        """Recompute the extra utility of consumers ``idx``: points pull and welcome gift."""
        p = self.params
        held = pop.points[self.r, idx]
        pull = p.points_utility * np.minimum(held / p.redeem_threshold_points, 1.0)
        if p.card_dilution > 0 and self._rival_programmes():  # with one programme, one card at most
            pull = pull / self._cards_held(idx) ** p.card_dilution
        if p.welcome != "none" and self.offer_open:
            pull = pull + np.where(self.gift[idx] != GIFT_NONE, self._gift_utility[idx], 0.0)
        self.utility_row[idx] = pull

    # ---- what the retailer does --------------------------------------------------------
    def after_sales(self, pop, buyers, channel, paid_eur, week):
        p = self.params
        self.has_card[buyers] = True
        if p.eur_per_point > 0:
            earned = paid_eur * self._rate(buyers) / p.eur_per_point
            balance = pop.points[self.r, buyers] + earned
            vouchers = np.floor(balance / p.redeem_threshold_points)
            balance -= vouchers * p.redeem_threshold_points
            pop.points[self.r, buyers] = balance
            self.retailer.accounts.rewards += float((vouchers * p.redeem_threshold_points).sum() * p.eur_per_point)
        if p.welcome != "none" and self.offer_open:
            newcomers = buyers[self.gift[buyers] == GIFT_OFFERED]
            if p.welcome == "unconditional":
                self._pay_gifts(newcomers)
                self.gift[newcomers] = GIFT_NONE
            else:
                self.gift[newcomers] = GIFT_PENDING
                self.gift_due_week[newcomers] = week + p.welcome_vesting_weeks
        self._refresh(pop, buyers)

    def forget(self, pop, who):
        """Their points balances are forfeited, as when a programme's points expire. Value tiers are
        not held but ranked from this year's spend at each review, so they stay."""
        pop.points[self.r, who] = 0.0
        self._refresh(pop, who)

    def _pay_gifts(self, who) -> None:
        gift = self.params.welcome_eur * self.retailer.model.config.consumers.households_per_agent
        self.retailer.accounts.rewards += gift * len(who)

    def weekly(self, pop, week, n_active):
        p = self.params
        self.retailer.accounts.programme += p.programme_eur_year / 52.0
        if p.welcome != "none" and not self.offer_open and week >= 1:
            self.offer_open = True  # launch, after the warm-up
        if self.offer_open:
            # never a customer here, or a year without buying here: a newcomer (again)
            newcomers = np.flatnonzero((self.gift == GIFT_NONE)
                                       & (week - pop.last_week[self.r] >= p.welcome_after_weeks))
            self.gift[newcomers] = GIFT_OFFERED
            self._refresh(pop, newcomers)
        if p.welcome == "vesting":
            due = np.flatnonzero((self.gift == GIFT_PENDING) & (self.gift_due_week <= week))
            if len(due):
                window = self.retailer.model.config.choice.active_window_weeks
                stayed = (week - pop.last_week[self.r, due]) < window
                self._pay_gifts(due[stayed])
                self.gift[due] = GIFT_NONE  # paid, or forfeited by leaving before it vested
                self._refresh(pop, due)
        if p.card_dilution > 0 and self._rival_programmes():
            self._refresh(pop, np.arange(pop.n))  # cards held elsewhere change every week

    def _rival_programmes(self) -> bool:
        return any(isinstance(r.strategy, LoyaltyStrategy) and r is not self.retailer
                   for r in self.retailer.model.retailers)

    def review(self, share_now, share_before, pop, week):
        """Re-rank customers into value tiers by their spend over the current year."""
        spend = pop.spend_year[self.r]
        tier = np.zeros(pop.n, dtype=np.int8)
        own = spend[spend > 0]
        if len(own):
            # the spend that opens each tier (a selection, not a full sort); ties share a tier
            k_top = max(round(TOP_SHARE * len(own)), 1)
            k_mid = max(round((TOP_SHARE + MIDDLE_SHARE) * len(own)), 1)
            cut = np.partition(own, [len(own) - k_mid, len(own) - k_top])
            tier += (spend >= cut[len(own) - k_mid]) & (spend > 0)
            tier += (spend >= cut[len(own) - k_top]) & (spend > 0)
        self.tier = tier
        self.discount_row[:] = self._rate(np.arange(pop.n))
