"""learning: a learning relationship that fits the offer better the longer it lasts."""

from __future__ import annotations

import numpy as np

from sim import detmath
from sim.strategies.base import Strategy


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
        neg_c, scale = self._fit_constants()
        return ((1.0 - detmath.exp(knowledge.astype(np.float64) * neg_c)) * scale).astype(np.float32)

    def _fit_constants(self) -> tuple[float, float]:
        c = self.params.fit_curvature
        return -c, self.params.fit_max / (1.0 - float(detmath.exp(np.array([-c]))[0]))

    def setup(self, pop):
        super().setup(pop)
        self.utility_row[:] = self.personal_fit(pop.knowledge[self.r])
        self._refit = self._learn = None
        if self.retailer.model.engine == "numba":
            from sim.fastchoice import decay_and_refit_numba, learn_numba

            self._refit, self._learn = decay_and_refit_numba, learn_numba

    def after_sales(self, pop, buyers, channel, paid_eur, week):
        p = self.params
        k = pop.knowledge[self.r]
        if self._learn is not None:
            self._learn(k, self.utility_row, buyers, channel, pop.value_tier, p.learn_rate_store,
                        p.learn_rate_online, p.high_value_boost, *self._fit_constants())
            return
        rate = np.where(channel == 1, np.float32(p.learn_rate_online), np.float32(p.learn_rate_store))
        rate = np.where(pop.value_tier[buyers] == 2, rate * np.float32(1.0 + p.high_value_boost), rate)
        rate = np.minimum(rate, np.float32(1.0))
        k[buyers] += rate * (np.float32(1.0) - k[buyers])
        self.utility_row[buyers] = self.personal_fit(k[buyers])

    def forget(self, pop, who):
        """Knowledge of them goes, and with it the personal fit it gave."""
        pop.knowledge[self.r, who] = 0.0
        self.utility_row[who] = self.personal_fit(pop.knowledge[self.r, who])

    def weekly(self, pop, week, n_active):
        p = self.params
        if p.decay_weekly > 0:
            knowledge, keep = pop.knowledge[self.r], np.float32(1.0 - p.decay_weekly)
            if self._refit is not None:
                self._refit(knowledge, self.utility_row, keep, *self._fit_constants())
            else:
                knowledge *= keep
                self.utility_row[:] = self.personal_fit(knowledge)
        self.retailer.accounts.it_data += p.it_eur_year / 52.0 + p.data_eur_customer_year / 52.0 * n_active
