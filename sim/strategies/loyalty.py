"""loyalty: a points programme with value tiers and welcome offers that buys retention."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from sim.fastchoice import gift_utility_scalar
from sim.slots import counting_order, find_slots, loyalty_after_sales
from sim.strategies.base import Strategy, member_mask

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
        rewards, new_card = loyalty_after_sales(
            pop, buyers, slots, retailer, week.paid_eur[sold], _rate(p, np.arange(3)), p.eur_per_point,
            p.redeem_threshold_points, _offering(model, members), p.welcome, model.week + p.welcome_vesting_weeks,
            _gift_eur(model), len(model.retailers))
        # their other programmes' pulls weaken (the week's categories add theirs in turn)
        model._new_cards = np.concatenate([getattr(model, "_new_cards", np.zeros(0, dtype=np.int64)),
                                           buyers[new_card]])
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
        ever = 2**62
        if offering.any():
            # a year without buying here, or never a customer: a newcomer (again)
            who, slot = find_slots(pop, offering, pop.last_week, week, p.welcome_after_weeks, ever, pop.gift,
                                   GIFT_NONE)
            pop.gift[who, slot] = GIFT_OFFERED
            _refresh(model, who, slot)
        if p.welcome == "vesting":
            who, slot = find_slots(pop, member_mask(model, members)[:-1], pop.gift_due_week, week, 0, ever, pop.gift,
                                   GIFT_PENDING)
            if len(who):
                window = model.config.choice.active_window_weeks
                stayed = (week - pop.last_week[who, slot]) < window
                n_r = len(model.retailers)
                paid = np.bincount(pop.slot_retailer[who[stayed], slot[stayed]], minlength=n_r) * _gift_eur(model)
                _book_rewards(members, paid)
                pop.gift[who, slot] = GIFT_NONE  # paid, or forfeited by leaving before it vested
                _refresh(model, who, slot)
        if p.card_dilution > 0 and len(members) > 1:
            _refresh_card_holders(model, members)

    @classmethod
    def review_all(cls, model, members, week):
        """Re-rank each programme's customers into value tiers by their spend over the current year."""
        p = members[0].strategy.params
        pop = model.population
        who, slot = find_slots(pop, member_mask(model, members)[:-1], pop.last_week, week, -(2**62), 2**62)
        spend = pop.spend_year[who, slot]
        retailer = pop.slot_retailer[who, slot]
        tier = np.zeros(len(who), dtype=np.int8)
        buying = spend > 0
        n_r = len(model.retailers)
        order, starts = counting_order(retailer[buying], n_r)
        grouped = spend[buying][order]
        cut_mid = np.full(n_r, np.inf, dtype=np.float32)
        cut_top = np.full(n_r, np.inf, dtype=np.float32)
        for r in members:  # the spend that opens each tier (a selection, not a full sort); ties share a tier
            own = grouped[starts[r.index]:starts[r.index + 1]]
            if len(own):
                k_top = max(round(TOP_SHARE * len(own)), 1)
                k_mid = max(round((TOP_SHARE + MIDDLE_SHARE) * len(own)), 1)
                cut = np.partition(own, [len(own) - k_mid, len(own) - k_top])
                cut_mid[r.index] = cut[len(own) - k_mid]
                cut_top[r.index] = cut[len(own) - k_top]
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


def _refresh_card_holders(model, members) -> None:
    """Several cards weaken each: refresh every programme slot of the consumers whose number of
    cards changed this week (a new card, or a card's slot given up to another retailer), or
    everyone's when the programmes themselves changed."""
    pop = model.population
    mask = member_mask(model, members)
    programmes = tuple(r.index for r in members)
    if getattr(model, "_card_programmes", None) != programmes:
        model._card_programmes = programmes
        changed = np.arange(pop.n)
    else:
        changed = np.unique(np.concatenate([getattr(model, "_new_cards", np.zeros(0, dtype=np.int64)),
                                            model.lost_cards]))
    model._new_cards = np.zeros(0, dtype=np.int64)
    if len(changed):
        rows, slot = np.nonzero(mask[pop.slot_retailer[changed]])
        _refresh(model, changed[rows], slot)


def _refresh(model, who: np.ndarray, slot: np.ndarray) -> None:
    """Recompute the extra utility of loyalty slots (``who``, ``slot``): points pull and welcome gift."""
    if len(who) == 0:
        return
    pop = model.population
    p = model.config.strategies.loyalty
    programmes = [r for r in model.retailers if isinstance(r.strategy, LoyaltyStrategy)]
    dilute = p.card_dilution > 0 and len(programmes) > 1  # with one programme, one card at most
    # several cards weaken each: 1 / max(cards, 1) ** dilution, as numpy's float32 power gives it
    weight = np.maximum(np.arange(pop.n_slots + 1, dtype=np.float32), np.float32(1.0)) ** p.card_dilution
    offering = _offering(model, programmes) if p.welcome != "none" else np.zeros(len(model.retailers), dtype=bool)
    g = model.stranger.gift
    gift_pf = np.array([getattr(r.strategy, "gift_price_factor", 1.0) for r in model.retailers], dtype=np.float32)
    _pull(np.asarray(who, dtype=np.int64), np.asarray(slot, dtype=np.int64), pop.slot_retailer,
          member_mask(model, programmes)[:-1], pop.points, pop.card, pop.gift, offering, gift_pf, pop.basket_eur,
          pop.price_sens, pop.inertia, g.scale, g.welcome_eur, bool(g.vesting), g.inertia_mean,
          np.float32(p.points_utility), np.float32(p.redeem_threshold_points), weight.astype(np.float32), dilute,
          pop.extra_utility)


@njit(parallel=True, cache=True)
def _pull(who, slot, slot_retailer, programme, points, card, gift, offering, gift_pf, basket, price_sens,
          inertia, scale, welcome_eur, vesting, inertia_mean, points_utility, threshold, weight, dilute, out):
    for j in prange(who.shape[0]):
        i, q = who[j], slot[j]
        share = np.float32(points[i, q] / threshold)
        if share > np.float32(1.0):
            share = np.float32(1.0)
        pull = np.float32(points_utility * share)
        if dilute:
            cards = 0
            for s in range(slot_retailer.shape[1]):
                r = slot_retailer[i, s]
                if r >= 0 and programme[r] and card[i, s]:
                    cards += 1
            pull = np.float32(pull / weight[cards])
        r = slot_retailer[i, q]
        if offering[r] and gift[i, q] != GIFT_NONE:
            pull = np.float32(pull + gift_utility_scalar(basket[i], price_sens[i], inertia[i], gift_pf[r], scale,
                                                         welcome_eur, vesting, inertia_mean))
        out[i, q] = pull
