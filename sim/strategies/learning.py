"""learning: a learning relationship that fits the offer better the longer it lasts."""

from __future__ import annotations

import numpy as np

from sim import detmath
from sim.strategies.base import Strategy, kind_slots


class LearningStrategy(Strategy):
    """Learning relationship: knowledge of each customer raises personal fit.

    Rule: every purchase closes a share of the gap between what the retailer knows of
    the customer and full knowledge (a larger share online, where data capture is
    cheap, and a larger one again for high-value customers, in whom the retailer
    invests more); knowledge decays slowly every week. Personal fit rises with knowledge with
    diminishing returns, fit_max·(1 − e^(−c·k)) / (1 − e^(−c)). What a customer loses
    by leaving is that fit. The retailer holds its price rather than discount, and
    pays a fixed IT cost plus a data cost per active customer.

    Source: Pine, Peppers & Rogers (1995), "Do you want to keep your customers
    forever?", Harvard Business Review 73(2).
    """

    name = "learning"
    source = "Pine, Peppers & Rogers (1995), Harvard Business Review"

    def personal_fit(self, knowledge: np.ndarray) -> np.ndarray:
        """fit_max·(1 − e^(−c·k)) / (1 − e^(−c)) in float32 (the exp both engines share)."""
        return _personal_fit(self.params, knowledge)

    def stranger_terms(self):
        return float(self.personal_fit(np.zeros(1, dtype=np.float32))[0]), 0.0

    def setup(self, pop):
        super().setup(pop)
        who, slot = self.own_slots(pop)
        pop.extra_utility[who, slot] = self.personal_fit(pop.knowledge[who, slot])

    def forget(self, pop, who):
        """Knowledge of them goes, and with it the personal fit it gave."""
        who, slot = self.own_slots(pop, who)
        pop.knowledge[who, slot] = 0.0
        pop.extra_utility[who, slot] = self.personal_fit(pop.knowledge[who, slot])

    @classmethod
    def after_sales(cls, model, members, week, sold):
        p = members[0].strategy.params  # the strategy's parameters are shared by its retailers
        pop = model.population
        buyers, slots, channel = week.buyers[sold], week.slot[sold], week.channel[sold]
        if model.engine == "numba":
            from sim.fastchoice import learn_numba

            learn_numba(pop.knowledge, pop.extra_utility, buyers, slots, channel, pop.value_tier, p.learn_rate_store,
                        p.learn_rate_online, p.high_value_boost, *_fit_constants(p))
            return
        rate = np.where(channel == 1, np.float32(p.learn_rate_online), np.float32(p.learn_rate_store))
        rate = np.where(pop.value_tier[buyers] == 2, rate * np.float32(1.0 + p.high_value_boost), rate)
        rate = np.minimum(rate, np.float32(1.0))
        k = pop.knowledge[buyers, slots]
        k += rate * (np.float32(1.0) - k)
        pop.knowledge[buyers, slots] = k
        pop.extra_utility[buyers, slots] = _personal_fit(p, k)

    @classmethod
    def weekly(cls, model, members, week, n_active):
        p = members[0].strategy.params
        pop = model.population
        if p.decay_weekly > 0:
            keep = np.float32(1.0 - p.decay_weekly)
            if model.engine == "numba":
                from sim.fastchoice import decay_and_refit_numba

                is_member = np.zeros(len(model.retailers), dtype=np.bool_)
                is_member[[r.index for r in members]] = True
                decay_and_refit_numba(pop.slot_retailer, is_member, pop.knowledge, pop.extra_utility, keep,
                                      *_fit_constants(p))
            else:
                who, slot = np.nonzero(kind_slots(model, members) & (pop.knowledge != 0))
                k = pop.knowledge[who, slot] * keep
                pop.knowledge[who, slot] = k
                pop.extra_utility[who, slot] = _personal_fit(p, k)
        for r in members:
            r.accounts.it_data += p.it_eur_year / 52.0 + p.data_eur_customer_year / 52.0 * int(n_active[r.index])


def _fit_constants(params) -> tuple[float, float]:
    c = params.fit_curvature
    return -c, params.fit_max / (1.0 - float(detmath.exp(np.array([-c]))[0]))


def _personal_fit(params, knowledge: np.ndarray) -> np.ndarray:
    neg_c, scale = _fit_constants(params)
    return ((1.0 - detmath.exp(knowledge.astype(np.float64) * neg_c)) * scale).astype(np.float32)
