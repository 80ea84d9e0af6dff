"""The weekly consumer decision written the plain Mesa way: one Agent per consumer.

This is the yardstick for the vectorised engines, not part of the model. Each
consumer is a Python object that, every week, decides whether to shop, finds her
best open store of each retailer (footfall less travel) by looking at every store,
works out what each retailer offers her (taste fit, personal fit from what the retailer knows of her,
loyalty-point pull, promotions, her tier's discount), picks by the Gumbel-max rule,
then pays and updates her own relationship (recency, habit, knowledge, points) — the same
decision the kernel makes for all consumers at once, written object by object as a
Mesa tutorial would. The benchmark times it against the real model, and a test
checks that both choose with the same frequencies. It reads a snapshot of a
``RetailMarket`` and changes nothing in it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import mesa

from sim.consumers import NEVER

if TYPE_CHECKING:
    from sim.model import RetailMarket


@dataclass
class RetailerView:
    """What a consumer can see of one retailer."""

    taste: float
    rel_posted: float
    strategy: str
    params: object
    sells_online: bool
    stores: list[tuple[float, float, float]]  # (x, y, footfall utility) of each open store


class AgentConsumer(mesa.Agent):
    """One consumer as a Python object, deciding each week where to shop."""

    def __init__(self, model: ReferenceMarket, market: RetailMarket, i: int):
        super().__init__(model)
        pop = market.population
        self.x, self.y = float(pop.home_x[i]), float(pop.home_y[i])
        self.taste = float(pop.taste[i])
        self.p_shop = float(pop.p_shop[i])
        self.basket = float(pop.basket_eur[i])
        self.price_sens = float(pop.price_sens[i])
        self.inertia = float(pop.inertia[i])
        self.travel_sens = float(pop.travel_sens[i])
        self.online_friction = float(pop.online_friction[i])
        self.adopted = bool(pop.adopted[i])
        self.last_retailer = int(pop.last_retailer[i])
        self.last_channel = int(pop.last_channel[i])
        n_ret = len(market.retailers)
        held = {int(r): q for q, r in enumerate(pop.slot_retailer[i]) if r >= 0}  # her repertoire

        def per_retailer(values, empty):
            return [values[i, held[r]].item() if r in held else empty for r in range(n_ret)]

        self.last_week = per_retailer(pop.last_week, int(NEVER))
        self.knowledge = per_retailer(pop.knowledge, 0.0)
        self.points = per_retailer(pop.points, 0.0)
        self.habit = per_retailer(pop.habit, 0.0)
        self.habit_build = float(pop.habit_build)
        self.tier = [0] * n_ret
        for r, retailer in enumerate(market.retailers):
            if retailer.strategy.name == "loyalty" and r in held:
                self.tier[r] = int(pop.tier[i, held[r]])

    # ---- what each retailer offers her ------------------------------------------------
    def store_access(self, view: RetailerView) -> float:
        """What the retailer's stores are worth to her: each footfall less travel, added up as a logsum
        at the scale ``chain_store_scale`` (her best store's value at 0; −inf: no store)."""
        values = [footfall - self.travel_sens * math.hypot(self.x - x, self.y - y) for x, y, footfall in view.stores]
        if not values:
            return -math.inf
        best, scale = max(values), self.model.chain_store_scale
        if scale <= 0:
            return best
        return best + scale * math.log(sum(math.exp((v - best) / scale) for v in values))

    def offer(self, r: int, view: RetailerView) -> tuple[float, float]:
        """(extra utility, perceived discount) of retailer r's strategy for her."""
        p, week = view.params, self.model.week
        if view.strategy == "mass":
            if p.promo_utility > 0 and p.promo_share_revenue > 0 and week - self.last_week[r] >= self.model.window:
                return p.promo_utility, 0.0
            return 0.0, 0.0
        if view.strategy == "loyalty":
            bonus = (0.0, p.tier_bonus_middle, p.tier_bonus_top)[self.tier[r]]
            pull = p.points_utility * min(self.points[r] / p.redeem_threshold_points, 1.0)
            return pull, p.points_per_eur * p.eur_per_point * (1.0 + bonus)
        c = p.fit_curvature  # learning
        return p.fit_max * (1.0 - math.exp(-c * self.knowledge[r])) / (1.0 - math.exp(-c)), 0.0

    def utilities(self) -> list[float]:
        """Utility of each option: stores of retailers 0..R−1, then their web shops."""
        m = self.model
        store, online = [], []
        for r, view in enumerate(m.retailers):
            extra, discount = self.offer(r, view)
            shared = -m.taste_weight * abs(self.taste - view.taste) + extra
            price = self.price_sens * (view.rel_posted * (1.0 - discount) - 1.0)
            same = self.inertia * self.habit[r]
            access = self.store_access(view)
            store.append(shared - price + access + same if math.isfinite(access) else -math.inf)
            if view.sells_online and self.adopted:
                online.append(shared - m.online_price_sens_factor * price - self.online_friction
                              + same * m.online_inertia_factor)
            else:
                online.append(-math.inf)
        return store + online

    # ---- the week, in verbs -------------------------------------------------------------
    def wants_to_shop(self) -> bool:
        return self.random.random() < self.p_shop

    def choose(self) -> int:
        best, best_u = -1, -math.inf
        for option, u in enumerate(self.utilities()):
            if u == -math.inf:
                continue
            noisy = u - math.log(-math.log(self.random.random() or 1e-300))
            if noisy > best_u:
                best, best_u = option, noisy
        return best

    def buy(self, option: int) -> None:
        m = self.model
        r, channel = option % len(m.retailers), option // len(m.retailers)
        view = m.retailers[r]
        self.last_retailer, self.last_channel = r, channel
        self.last_week[r] = m.week
        self.habit = [h * (1.0 - self.habit_build) for h in self.habit]
        self.habit[r] += self.habit_build
        paid = self.basket * view.rel_posted
        if view.strategy == "loyalty":
            self.points[r] += paid * view.params.points_per_eur
        elif view.strategy == "learning":
            rate = view.params.learn_rate_online if channel == 1 else view.params.learn_rate_store
            self.knowledge[r] += rate * (1.0 - self.knowledge[r])

    def step(self) -> None:
        if self.wants_to_shop():
            option = self.choose()
            if option >= 0:
                self.buy(option)


class ReferenceMarket(mesa.Model):
    """A Mesa model holding one AgentConsumer per consumer of a RetailMarket snapshot."""

    def __init__(self, market: RetailMarket, consumers=None, seed: int = 0, always_shop: bool = False):
        super().__init__(rng=seed)
        posted = [r.price_factor for r in market.retailers]
        mean_posted = sum(posted) / len(posted)
        region = market.region
        self.retailers = [
            RetailerView(
                taste=r.taste, rel_posted=r.price_factor / mean_posted, strategy=r.strategy.name,
                params=r.strategy.params, sells_online=r.sells_online,
                stores=[(float(region.site_x[s.site]), float(region.site_y[s.site]),
                         float(market.slot_pull[s.slot])) for s in r.open_stores],
            )
            for r in market.retailers
        ]
        cfg = market.config
        self.week = market.week + 1
        self.window = cfg.choice.active_window_weeks
        self.taste_weight = cfg.consumers.taste_weight
        self.chain_store_scale = cfg.choice.chain_store_scale
        self.online_inertia_factor = cfg.choice.online_inertia_factor
        self.online_price_sens_factor = cfg.choice.online_price_sens_factor
        indices = range(market.population.n) if consumers is None else consumers
        for i in indices:
            agent = AgentConsumer(self, market, int(i))
            if always_shop:
                agent.p_shop = 1.0

    def step(self) -> None:
        self.agents_by_type[AgentConsumer].do("step")
        self.week += 1
