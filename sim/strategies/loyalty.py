"""loyalty: a points programme with value tiers and welcome offers that buys retention."""

from __future__ import annotations

import numpy as np

from sim.choice import gift_utility
from sim.strategies.base import Strategy, kind_slots

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
        # the gift is valued at the price when the programme began
        self.gift_price_factor = np.float32(self.retailer.price_factor)
        self.offer_open = False  # the welcome offer opens after the warm-up
        super().setup(pop)
        who, slot = self.own_slots(pop)
        pop.tier[who, slot] = 0
        pop.card[who, slot] = False
        pop.gift[who, slot] = GIFT_NONE
        pop.gift_due_week[who, slot] = 0
        pop.discount[who, slot] = _rate(self.params, pop.tier[who, slot])
        _refresh(self.retailer.model, who, slot)

    def stranger_terms(self):
        return 0.0, float(_rate(self.params, np.zeros(1, dtype=np.int8))[0])

    def update_stranger(self):
        super().update_stranger()
        stranger = self.retailer.model.stranger
        offering = self.params.welcome != "none" and self.offer_open
        stranger.gift_state[self.r] = GIFT_OFFERED if offering else GIFT_NONE
        stranger.gift.price_factor[self.r] = self.gift_price_factor if offering else np.float32(0.0)

    def forget(self, pop, who):
        """Their points balances are forfeited, as when a programme's points expire. Value tiers are
        not held but ranked from this year's spend at each review, so they stay."""
        who, slot = self.own_slots(pop, who)
        pop.points[who, slot] = 0.0
        _refresh(self.retailer.model, who, slot)

    # ---- what every programme does, in one pass ----------------------------------------------
    @classmethod
    def after_sales(cls, model, members, week, sold):
        p = members[0].strategy.params
        pop = model.population
        buyers, slots, retailer = week.buyers[sold], week.slot[sold], week.retailer[sold]
        pop.card[buyers, slots] = True
        n_r = len(model.retailers)
        rewards = np.zeros(n_r)
        if p.eur_per_point > 0:
            earned = week.paid_eur[sold] * _rate(p, pop.tier[buyers, slots]) / p.eur_per_point
            balance = pop.points[buyers, slots] + earned
            vouchers = np.floor(balance / p.redeem_threshold_points)
            balance -= vouchers * p.redeem_threshold_points
            pop.points[buyers, slots] = balance
            rewards += np.bincount(retailer, weights=vouchers * p.redeem_threshold_points,
                                   minlength=n_r) * p.eur_per_point
        if p.welcome != "none":
            offering = _offering(model, members)
            new = offering[retailer] & (pop.gift[buyers, slots] == GIFT_OFFERED)
            if p.welcome == "unconditional":
                rewards += np.bincount(retailer[new], minlength=n_r) * _gift_eur(model)
                pop.gift[buyers[new], slots[new]] = GIFT_NONE
            else:
                pop.gift[buyers[new], slots[new]] = GIFT_PENDING
                pop.gift_due_week[buyers[new], slots[new]] = model.week + p.welcome_vesting_weeks
        _book_rewards(members, rewards)
        _refresh(model, buyers, slots)

    @classmethod
    def weekly(cls, model, members, week, n_active):
        p = members[0].strategy.params
        pop = model.population
        for r in members:
            r.accounts.programme += p.programme_eur_year / 52.0
            if p.welcome != "none" and not r.strategy.offer_open and week >= 1:
                r.strategy.offer_open = True  # launch, after the warm-up
                r.strategy.update_stranger()
        offering = _offering(model, members)
        if offering.any():
            # a year without buying here, or never a customer: a newcomer (again)
            who, slot = np.nonzero(np.append(offering, False)[pop.slot_retailer] & (pop.gift == GIFT_NONE)
                                   & (week - pop.last_week >= p.welcome_after_weeks))
            pop.gift[who, slot] = GIFT_OFFERED
            _refresh(model, who, slot)
        if p.welcome == "vesting":
            who, slot = np.nonzero(kind_slots(model, members) & (pop.gift == GIFT_PENDING)
                                   & (pop.gift_due_week <= week))
            if len(who):
                window = model.config.choice.active_window_weeks
                stayed = (week - pop.last_week[who, slot]) < window
                n_r = len(model.retailers)
                paid = np.bincount(pop.slot_retailer[who[stayed], slot[stayed]], minlength=n_r) * _gift_eur(model)
                _book_rewards(members, paid)
                pop.gift[who, slot] = GIFT_NONE  # paid, or forfeited by leaving before it vested
                _refresh(model, who, slot)
        if p.card_dilution > 0 and len(members) > 1:
            who, slot = np.nonzero(kind_slots(model, members))
            _refresh(model, who, slot)  # cards held elsewhere change every week

    @classmethod
    def review_all(cls, model, members, week):
        """Re-rank each programme's customers into value tiers by their spend over the current year."""
        p = members[0].strategy.params
        pop = model.population
        who, slot = np.nonzero(kind_slots(model, members))
        spend = pop.spend_year[who, slot]
        retailer = pop.slot_retailer[who, slot]
        tier = np.zeros(len(who), dtype=np.int8)
        buying = spend > 0
        order = np.lexsort((spend[buying], retailer[buying]))
        sorted_spend, sorted_ret = spend[buying][order], retailer[buying][order]
        n_r = len(model.retailers)
        counts = np.bincount(sorted_ret, minlength=n_r)
        ends = np.cumsum(counts)
        cut_mid = np.full(n_r, np.inf, dtype=np.float32)
        cut_top = np.full(n_r, np.inf, dtype=np.float32)
        for r in members:  # the spend that opens each tier; ties share a tier
            n_own = int(counts[r.index])
            if n_own:
                k_top = max(round(TOP_SHARE * n_own), 1)
                k_mid = max(round((TOP_SHARE + MIDDLE_SHARE) * n_own), 1)
                cut_mid[r.index] = sorted_spend[ends[r.index] - k_mid]
                cut_top[r.index] = sorted_spend[ends[r.index] - k_top]
        tier += (spend >= cut_mid[retailer]) & buying
        tier += (spend >= cut_top[retailer]) & buying
        pop.tier[who, slot] = tier
        pop.discount[who, slot] = _rate(p, tier)


def _rate(p, tier: np.ndarray) -> np.ndarray:
    """Reward per € spent, by value tier."""
    bonus = np.array([0.0, p.tier_bonus_middle, p.tier_bonus_top], dtype=np.float32)
    return (p.points_per_eur * p.eur_per_point * (1.0 + bonus[tier])).astype(np.float32)


def _offering(model, members) -> np.ndarray:
    """(R,) which retailers have a welcome offer open now."""
    offering = np.zeros(len(model.retailers), dtype=bool)
    offering[[r.index for r in members if r.strategy.offer_open and r.strategy.params.welcome != "none"]] = True
    return offering


def _gift_eur(model) -> float:
    return model.config.strategies.loyalty.welcome_eur * model.config.consumers.households_per_agent


def _book_rewards(members, rewards: np.ndarray) -> None:
    for r in members:
        if rewards[r.index]:
            r.accounts.rewards += float(rewards[r.index])


def _refresh(model, who: np.ndarray, slot: np.ndarray) -> None:
    """Recompute the extra utility of loyalty slots (``who``, ``slot``): points pull and welcome gift."""
    if len(who) == 0:
        return
    pop = model.population
    p = model.config.strategies.loyalty
    retailer = pop.slot_retailer[who, slot]
    pull = p.points_utility * np.minimum(pop.points[who, slot] / p.redeem_threshold_points, 1.0)
    programmes = [r for r in model.retailers if isinstance(r.strategy, LoyaltyStrategy)]
    if p.card_dilution > 0 and len(programmes) > 1:  # with one programme, one card at most
        cards = (pop.card[who] & kind_slots(model, programmes)[who]).sum(axis=1).astype(np.float32)
        pull = pull / np.maximum(cards, np.float32(1.0)) ** p.card_dilution
    if p.welcome != "none":
        offering = _offering(model, programmes)[retailer] & (pop.gift[who, slot] != GIFT_NONE)
        if offering.any():
            g = model.stranger.gift
            pf = np.array([getattr(r.strategy, "gift_price_factor", np.float32(1.0)) for r in model.retailers],
                          dtype=np.float32)[retailer]
            gift = gift_utility(pop.basket_eur[who], pop.price_sens[who], pop.inertia[who], pf, g.scale,
                                g.welcome_eur, g.vesting, g.inertia_mean)
            pull = pull + np.where(offering, gift, 0.0)
    pop.extra_utility[who, slot] = pull
