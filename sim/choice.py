"""The weekly choice kernel: pure functions on arrays, one call for all shoppers.

Each shopper picks one option among R store options (the nearest open store of each
retailer) and R online options (a retailer's web shop, for consumers who have adopted
online shopping). Option ``o`` is retailer ``o % R`` through channel ``o // R``
(0 = store, 1 = online). Choice is multinomial logit: the option with the highest
utility plus Gumbel noise wins.

    U = shared(r) − price_sens·rel_price(r)·[1 or online factor]
        − travel_sens·distance·[store] + footfall·[store]
        − online_friction·[online] + inertia·[r used last time]·[1 or online factor]
        + Gumbel noise

``shared(r)`` holds what does not depend on the channel: taste fit, personal fit
from the retailer's knowledge, loyalty-point pull, promotions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ChoiceInputs:
    """Everything the kernel reads, as arrays over the week's shoppers (columns)."""

    shared_utility: np.ndarray  # (R, S) float32
    rel_price: np.ndarray  # (R, S) net price / market reference price − 1
    store_distance_km: np.ndarray  # (R, S), inf where the retailer has no open store
    store_footfall: np.ndarray  # (R, S) footfall utility of that nearest store's site
    sells_online: np.ndarray  # (R,) bool
    adopted: np.ndarray  # (S,) bool
    price_sens: np.ndarray  # (S,)
    travel_sens: np.ndarray  # (S,)
    online_friction: np.ndarray  # (S,)
    last_retailer: np.ndarray  # (S,) int, −1 for none
    inertia: float
    online_inertia_factor: float
    online_price_sens_factor: float


def option_utilities(x: ChoiceInputs) -> np.ndarray:
    """Deterministic utility of each option, shape (2R, S); −inf where unavailable."""
    n_ret, n_shop = x.shared_utility.shape
    u = np.empty((2 * n_ret, n_shop), dtype=np.float32)
    price_term = x.price_sens[None, :] * x.rel_price
    same = (x.last_retailer[None, :] == np.arange(n_ret)[:, None]).astype(np.float32)

    store = u[:n_ret]
    np.subtract(x.shared_utility, price_term, out=store)
    store -= x.travel_sens[None, :] * x.store_distance_km
    store += x.store_footfall
    store += x.inertia * same
    store[~np.isfinite(x.store_distance_km)] = -np.inf

    online = u[n_ret:]
    np.subtract(x.shared_utility, x.online_price_sens_factor * price_term, out=online)
    online -= x.online_friction[None, :]
    online += (x.inertia * x.online_inertia_factor) * same
    online_ok = x.sells_online[:, None] & x.adopted[None, :]
    online[~online_ok] = -np.inf
    return u


def gumbel(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Standard Gumbel noise in float32 (−log(−log U))."""
    uniform = rng.random(shape, dtype=np.float32)
    np.maximum(uniform, np.float32(1e-12), out=uniform)
    return -np.log(-np.log(uniform))


def choose(x: ChoiceInputs, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each shopper's choice: (retailer index, channel 0/1, deterministic utility of the pick).

    A shopper with no available option (possible only if nothing is open and she has
    not adopted online) gets retailer −1.
    """
    u = option_utilities(x)
    n_ret = x.shared_utility.shape[0]
    noisy = u + gumbel(rng, u.shape)
    pick = np.argmax(noisy, axis=0)
    cols = np.arange(u.shape[1])
    utility = u[pick, cols]
    retailer = (pick % n_ret).astype(np.int16)
    channel = (pick // n_ret).astype(np.int8)
    stranded = ~np.isfinite(utility)
    retailer[stranded] = -1
    channel[stranded] = -1
    utility[stranded] = 0.0
    return retailer, channel, utility


def choice_probabilities(x: ChoiceInputs) -> np.ndarray:
    """Logit probabilities of each option, shape (2R, S); used by tests and the app."""
    u = option_utilities(x).astype(np.float64)
    u -= u.max(axis=0, keepdims=True)
    e = np.exp(u)
    return e / e.sum(axis=0, keepdims=True)
