"""The weekly choice kernel: pure functions on arrays, one call for all shoppers.

Each shopper picks one option among R store options (for each retailer, the open store
with the best footfall less travel cost for her) and R online options (a retailer's web
shop, for consumers who have adopted online shopping). Option ``o`` is retailer
``o % R`` through channel ``o // R`` (0 = store, 1 = online). Choice is multinomial logit on

    U = shared(r) − price_sens·rel_price(r)·[1 or online factor]
        + (footfall of her store − travel_sens·distance)·[store]
        − online_friction·[online] + inertia·habit(r)·[1 or online factor]
        + Gumbel noise

``habit(r)`` in [0, 1] is her smoothed purchase history at r: each purchase moves her
habit toward the retailer she bought from by ``habit_build`` and away from the others
(Guadagni & Little 1983), so a single purchase earns only part of her inertia.

``shared(r)`` holds what does not depend on the channel: taste fit, and the
strategy's terms (personal fit from knowledge, loyalty-point pull, promotions).

Sampling uses one uniform draw per shopper and the inverse of the cumulative logit
probabilities, which has exactly the distribution of the Gumbel-max rule but needs
2R times fewer random numbers. This module is the numpy engine; ``sim.fastchoice``
is the same arithmetic compiled with numba for large populations, and both give the
same picks for the same uniforms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim import detmath


@dataclass
class MarketArrays:
    """References to the full arrays the choice reads (no copies).

    Per-option arrays are laid out (consumer, retailer), so that everything one
    consumer's choice reads sits together in memory.
    """

    taste_fit: np.ndarray  # (n, R) float32
    extra_utility: np.ndarray  # (n, R) float32, kept by the strategies
    discount: np.ndarray  # (n, R) float32, perceived share of the price not paid
    rel_posted: np.ndarray  # (R,) float64, posted price / market reference price
    store_static: np.ndarray  # (n, R) float64: taste fit + access value of her store of r (footfall − travel
    # cost − parking); −inf: r has no open store
    sells_online: np.ndarray  # (R,) bool
    adopted: np.ndarray  # (n,) bool
    price_sens: np.ndarray  # (n,) float32
    online_friction: np.ndarray  # (n,) float32
    habit: np.ndarray  # (n, R) float32 in [0, 1]: habit toward each retailer (smoothed purchases)
    inertia: np.ndarray  # (n,) float32: each consumer's habit strength (utility of a full habit)
    online_inertia_factor: float
    online_price_sens_factor: float


@dataclass
class ChoiceInputs:
    """The same inputs gathered for the week's shoppers only (columns), in float64."""

    shared_utility: np.ndarray  # (R, S) taste fit + the strategy's extra utility (any channel)
    store_utility: np.ndarray  # (R, S) the same in store: + footfall − travel cost − parking; −inf: none
    rel_price: np.ndarray  # (R, S) net price / market reference price − 1
    sells_online: np.ndarray  # (R,) bool
    adopted: np.ndarray  # (S,) bool
    price_sens: np.ndarray  # (S,)
    online_friction: np.ndarray  # (S,)
    habit: np.ndarray  # (R, S) habit toward each retailer, in [0, 1]
    inertia: np.ndarray  # (S,)
    online_inertia_factor: float
    online_price_sens_factor: float


def gather(a: MarketArrays, idx: np.ndarray) -> ChoiceInputs:
    """Columns of the shoppers ``idx``, converted to float64 in the order the compiled engine uses."""
    f8 = np.float64
    extra = a.extra_utility[idx].T.astype(f8)
    return ChoiceInputs(
        shared_utility=a.taste_fit[idx].T.astype(f8) + extra,
        store_utility=a.store_static[idx].T + extra,
        rel_price=a.rel_posted[:, None] * (1.0 - a.discount[idx].T.astype(f8)) - 1.0,
        sells_online=a.sells_online,
        adopted=a.adopted[idx],
        price_sens=a.price_sens[idx].astype(f8),
        online_friction=a.online_friction[idx].astype(f8),
        habit=a.habit[idx].T.astype(f8),
        inertia=a.inertia[idx].astype(f8),
        online_inertia_factor=a.online_inertia_factor,
        online_price_sens_factor=a.online_price_sens_factor,
    )


def option_utilities(x: ChoiceInputs) -> np.ndarray:
    """Deterministic utility of each option, shape (2R, S), float64; −inf where unavailable."""
    n_ret, n_shop = x.shared_utility.shape
    u = np.empty((2 * n_ret, n_shop), dtype=np.float64)
    price = x.price_sens[None, :] * x.rel_price
    same = x.inertia[None, :] * x.habit

    store = u[:n_ret]
    np.subtract(x.store_utility, price, out=store)  # −inf stays −inf where there is no store
    store += same

    online = u[n_ret:]
    np.subtract(x.shared_utility, x.online_price_sens_factor * price, out=online)
    online -= x.online_friction[None, :]
    online += same * x.online_inertia_factor
    online_ok = x.sells_online[:, None] & x.adopted[None, :]
    online[~online_ok] = -np.inf
    return u


def pick(u: np.ndarray, uniforms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample one option per column of utilities ``u`` (2R, S) with one uniform each.

    Returns (retailer, channel, deterministic utility of the pick); a shopper with no
    available option gets retailer and channel −1 and utility 0.
    """
    n_opt, n_shop = u.shape
    n_ret = n_opt // 2
    top = u.max(axis=0)
    stranded = ~np.isfinite(top)
    weight = detmath.exp(u - np.where(stranded, 0.0, top)[None, :])
    cum = np.cumsum(weight, axis=0)
    target = uniforms.astype(np.float64) * cum[-1]
    option = (cum <= target[None, :]).sum(axis=0)
    # a uniform within rounding of 1 can pass every option: take the last available one
    last_ok = n_opt - 1 - np.argmax((weight > 0)[::-1], axis=0)
    option = np.minimum(option, last_ok)
    cols = np.arange(n_shop)
    utility = u[option, cols]
    retailer = (option % n_ret).astype(np.int16)
    channel = (option // n_ret).astype(np.int8)
    retailer[stranded] = -1
    channel[stranded] = -1
    utility[stranded] = 0.0
    return retailer, channel, utility.astype(np.float32)


def choose(x: ChoiceInputs, uniforms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each shopper's choice: (retailer index, channel 0/1, deterministic utility of the pick)."""
    return pick(option_utilities(x), uniforms)


def choose_numpy(a: MarketArrays, idx: np.ndarray, uniforms: np.ndarray):
    """The numpy engine: gather the shoppers' columns, then choose."""
    return choose(gather(a, idx), uniforms)


def choice_probabilities(x: ChoiceInputs) -> np.ndarray:
    """Logit probabilities of each option, shape (2R, S); used by tests and the app."""
    u = option_utilities(x)
    top = u.max(axis=0, keepdims=True)
    e = detmath.exp(u - np.where(np.isfinite(top), top, 0.0))
    return e / e.sum(axis=0, keepdims=True)
