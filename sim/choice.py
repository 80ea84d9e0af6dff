"""The weekly choice kernel: pure functions on arrays, one call for all shoppers.

Each shopper picks one option from her consideration set: up to ``Ks`` store options (her
best retailers by taste fit and access, each through its store with the best footfall less
travel cost for her; a retailer's access is the logsum of its stores near her) and up to
``Ko`` web shops (the online sellers that fit her taste best, usable once she has adopted
online shopping). Store options come first, then web shops, each block in retailer order.
Choice is multinomial logit on

    U = shared(r) − price_sens·rel_price(r)·[1 or online factor]
        + access(r)·[store]
        − online_friction·[online] + inertia·habit(r)·[1 or online factor]
        + Gumbel noise

``habit(r)`` in [0, 1] is her smoothed purchase history at r: each purchase moves her
habit toward the retailer she bought from by ``habit_build`` and away from the others
(Guadagni & Little 1983), so a single purchase earns only part of her inertia.

``shared(r)`` holds what does not depend on the channel: taste fit, and the
strategy's terms (personal fit from knowledge, loyalty-point pull, promotions). These,
her habit and her discount are read from her repertoire slot for r; a retailer outside
her repertoire is a stranger to her and offers what it offers every stranger
(``stranger_extra``, ``stranger_discount``, a welcome gift where one is on offer).

Sampling uses one uniform draw per shopper and the inverse of the cumulative logit
probabilities, which has exactly the distribution of the Gumbel-max rule but needs
K times fewer random numbers. This module is the numpy engine; ``sim.fastchoice`` is
the same arithmetic compiled with numba for large populations, and both give the same
picks for the same uniforms. With sets that hold every store and web shop, the choice is
the full logit over all 2R options (``dense_option_utilities``, the brute-force form).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim import detmath


@dataclass
class MarketArrays:
    """References to the arrays the choice reads (no copies), laid out (consumer, …)."""

    store_ret: np.ndarray  # (n, Ks) int32: retailer of each store option, −1: empty
    store_slot: np.ndarray  # (n, Ks) int32: the store (its slot in model.stores)
    store_static: np.ndarray  # (n, Ks) float64: taste fit + access value (footfall − travel − parking)
    store_km: np.ndarray  # (n, Ks) float32: distance to that store
    online_ret: np.ndarray  # (n, Ko) int32: retailer of each web-shop option, −1: empty
    online_taste: np.ndarray  # (n, Ko) float32: taste fit of that retailer
    store_rep: np.ndarray  # (n, Ks) int8: her repertoire slot for each store option's retailer, −1: none
    online_rep: np.ndarray  # (n, Ko) int8: the same for each web-shop option
    slot_retailer: np.ndarray  # (n, S) int32: her repertoire
    extra_utility: np.ndarray  # (n, S) float32, kept by the strategies
    discount: np.ndarray  # (n, S) float32, perceived share of the price not paid
    habit: np.ndarray  # (n, S) float32 in [0, 1]
    stranger_extra: np.ndarray  # (R,) float32: what each retailer's strategy offers a stranger
    stranger_discount: np.ndarray  # (R,) float32
    gift: GiftTerms
    rel_posted: np.ndarray  # (R,) float64, posted price / market reference price
    sells_online: np.ndarray  # (R,) bool
    adopted: np.ndarray  # (n,) bool
    price_sens: np.ndarray  # (n,) float32
    online_friction: np.ndarray  # (n,) float32
    inertia: np.ndarray  # (n,) float32: each consumer's habit strength (utility of a full habit)
    online_inertia_factor: float
    online_price_sens_factor: float
    store_width: int = -1  # store options in use by anyone (the rest of the columns are empty); −1: all
    online_width: int = -1

    def widths(self) -> tuple[int, int]:
        """Store and web-shop columns that can hold an option (options are packed to the left)."""
        ws = self.store_ret.shape[1] if self.store_width < 0 else self.store_width
        wo = self.online_ret.shape[1] if self.online_width < 0 else self.online_width
        return ws, wo


@dataclass
class GiftTerms:
    """What a welcome gift is worth to a stranger (loyalty programmes with an open offer)."""

    price_factor: np.ndarray  # (R,) float32: the retailer's price factor when its programme began; 0: no offer
    basket_eur: np.ndarray  # (n,) float32
    scale: np.float32  # households per agent
    welcome_eur: np.float32  # the gift (€ per household) × households per agent
    vesting: bool
    inertia_mean: np.float32


def gift_utility(basket, price_sens, inertia, price_factor, scale, welcome_eur, vesting, inertia_mean):
    """A welcome gift seen as a price cut on her first basket, valued by her price sensitivity and
    capped at a free basket; a vesting gift is worth more to habitual shoppers. All float32, one
    operation at a time, so the compiled engine (which calls this same function) gives the same bits."""
    basket_paid = np.maximum(basket * scale * price_factor, np.float32(1e-6))
    gift = price_sens * np.minimum(welcome_eur / basket_paid, np.float32(1.0))
    if vesting:
        gift = gift * np.clip(inertia / inertia_mean, np.float32(0.0), np.float32(2.0))
    return gift


@dataclass
class ChoiceInputs:
    """The week's shoppers' options as columns (K options × S shoppers), in float64."""

    retailer: np.ndarray  # (K, S) int: −1 where the option is empty
    n_store: int  # options 0..n_store−1 are stores, the rest web shops
    shared_utility: np.ndarray  # (K, S) taste fit + the strategy's extra utility
    store_utility: np.ndarray  # (K, S) store options: taste fit + access + extra utility
    rel_price: np.ndarray  # (K, S) net price / market reference price − 1
    habit: np.ndarray  # (K, S)
    slot: np.ndarray  # (K, S) her repertoire slot for the option's retailer, −1: a stranger
    available: np.ndarray  # (K, S) bool
    price_sens: np.ndarray  # (S,)
    online_friction: np.ndarray  # (S,)
    inertia: np.ndarray  # (S,)
    online_inertia_factor: float
    online_price_sens_factor: float


def relationship_terms(a: MarketArrays, idx: np.ndarray, ret: np.ndarray):
    """(extra utility, discount, habit) of retailers ``ret`` (S, K) for consumers ``idx``, from
    their repertoire slots or, for strangers, what the retailer offers a stranger."""
    rep = a.slot_retailer[idx]  # (S, slots)
    hit = rep[:, None, :] == ret[:, :, None]  # (S, K, slots)
    found = hit.any(axis=2) & (ret >= 0)  # an empty option is nobody's slot
    slot = hit.argmax(axis=2)
    rows = idx[:, None]
    safe = np.maximum(ret, 0)
    g = a.gift
    stranger = a.stranger_extra[safe]
    if (g.price_factor > 0).any():  # a welcome gift on offer to strangers somewhere
        gift_pf = g.price_factor[safe]
        gift = gift_utility(g.basket_eur[idx][:, None], a.price_sens[idx][:, None], a.inertia[idx][:, None],
                            np.where(gift_pf > 0, gift_pf, np.float32(1.0)), g.scale, g.welcome_eur, g.vesting,
                            g.inertia_mean)
        stranger = stranger + np.where(gift_pf > 0, gift, np.float32(0.0))
    extra = np.where(found, a.extra_utility[rows, slot], stranger)
    discount = np.where(found, a.discount[rows, slot], a.stranger_discount[safe])
    habit = np.where(found, a.habit[rows, slot], np.float32(0.0))
    return extra, discount, habit, np.where(found, slot, -1)


def gather(a: MarketArrays, idx: np.ndarray) -> ChoiceInputs:
    """Columns of the shoppers ``idx``, converted to float64 in the order the compiled engine uses."""
    f8 = np.float64
    idx = np.asarray(idx, dtype=np.intp)
    n_store, n_online = a.widths()
    ret = np.concatenate([a.store_ret[idx, :n_store], a.online_ret[idx, :n_online]], axis=1)  # (S, K)
    extra, discount, habit, slot = relationship_terms(a, idx, ret)
    extra = extra.astype(f8)
    safe = np.maximum(ret, 0)
    taste = np.concatenate([np.zeros((len(idx), n_store), dtype=np.float32), a.online_taste[idx, :n_online]],
                           axis=1)
    static = np.concatenate([a.store_static[idx, :n_store], np.zeros((len(idx), n_online))], axis=1)
    available = ret >= 0
    available[:, n_store:] &= a.sells_online[safe[:, n_store:]] & a.adopted[idx][:, None]
    return ChoiceInputs(
        retailer=ret.T, n_store=n_store,
        shared_utility=(taste.astype(f8) + extra).T,
        store_utility=(static + extra).T,
        rel_price=(np.asarray(a.rel_posted, dtype=f8)[safe] * (1.0 - discount.astype(f8)) - 1.0).T,
        habit=habit.T.astype(f8),
        slot=slot.T,
        available=available.T,
        price_sens=a.price_sens[idx].astype(f8),
        online_friction=a.online_friction[idx].astype(f8),
        inertia=a.inertia[idx].astype(f8),
        online_inertia_factor=a.online_inertia_factor,
        online_price_sens_factor=a.online_price_sens_factor,
    )


def option_utilities(x: ChoiceInputs) -> np.ndarray:
    """Deterministic utility of each option, shape (K, S), float64; −inf where unavailable."""
    u = np.empty(x.retailer.shape, dtype=np.float64)
    price = x.price_sens[None, :] * x.rel_price
    same = x.inertia[None, :] * x.habit
    ks = x.n_store
    store = u[:ks]
    np.subtract(x.store_utility[:ks], price[:ks], out=store)
    store += same[:ks]
    online = u[ks:]
    np.subtract(x.shared_utility[ks:], x.online_price_sens_factor * price[ks:], out=online)
    online -= x.online_friction[None, :]
    online += same[ks:] * x.online_inertia_factor
    u[~x.available] = -np.inf
    return u


def pick_option(u: np.ndarray, uniforms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample one option per column of utilities ``u`` (K, S) with one uniform each: (option, stranded)."""
    n_opt, n_shop = u.shape
    top = u.max(axis=0) if n_opt else np.full(n_shop, -np.inf)
    stranded = ~np.isfinite(top)
    weight = detmath.exp(u - np.where(stranded, 0.0, top)[None, :])
    cum = np.cumsum(weight, axis=0)
    target = uniforms.astype(np.float64) * (cum[-1] if n_opt else 0.0)
    option = (cum <= target[None, :]).sum(axis=0)
    # a uniform within rounding of 1 can pass every option: take the last available one
    last_ok = n_opt - 1 - np.argmax((weight > 0)[::-1], axis=0)
    return np.minimum(option, last_ok), stranded


def choose(x: ChoiceInputs, uniforms: np.ndarray):
    """Each shopper's choice: (retailer, channel 0/1, deterministic utility, option index)."""
    u = option_utilities(x)
    option, stranded = pick_option(u, uniforms)
    cols = np.arange(u.shape[1])
    utility = u[option, cols]
    retailer = x.retailer[option, cols].astype(np.int32)
    channel = (option >= x.n_store).astype(np.int8)
    retailer[stranded] = -1
    channel[stranded] = -1
    utility[stranded] = 0.0
    option[stranded] = -1
    return retailer, channel, utility.astype(np.float32), option


@dataclass
class Choices:
    """The week's picks, one per shopper: what the settlement needs."""

    retailer: np.ndarray  # int32, −1: no option at all
    channel: np.ndarray  # int8: 0 store, 1 online
    utility: np.ndarray  # float32: deterministic utility of the pick
    store_slot: np.ndarray  # int32: the store used (store purchases)
    store_km: np.ndarray  # float32: distance to it
    rep_slot: np.ndarray  # int32: her repertoire slot for the retailer, −1: a stranger


def choose_numpy(a: MarketArrays, idx: np.ndarray, uniforms: np.ndarray) -> Choices:
    """The numpy engine: gather the shoppers' columns, then choose."""
    idx = np.asarray(idx, dtype=np.intp)
    x = gather(a, idx)
    retailer, channel, utility, option = choose(x, uniforms)
    ks = x.n_store
    in_store = (option >= 0) & (option < ks)
    col = np.where(in_store, option, 0)
    store_slot = np.where(in_store, a.store_slot[idx, col] if ks else -1, -1).astype(np.int32)
    store_km = np.where(in_store, a.store_km[idx, col] if ks else 0, 0).astype(np.float32)
    picked = retailer >= 0
    rep_slot = np.full(len(idx), -1, dtype=np.int32)
    rep_slot[picked] = x.slot[option[picked], np.flatnonzero(picked)]
    return Choices(retailer, channel, utility, store_slot, store_km, rep_slot)


def choice_probabilities(x: ChoiceInputs) -> np.ndarray:
    """Logit probabilities of each option, shape (K, S) (0 for a shopper with no option); for tests."""
    return _logit(option_utilities(x))


def _logit(u: np.ndarray) -> np.ndarray:
    top = u.max(axis=0, keepdims=True)
    e = detmath.exp(u - np.where(np.isfinite(top), top, 0.0))
    total = e.sum(axis=0, keepdims=True)
    return e / np.where(total > 0, total, 1.0)


# ---- the dense, brute-force form: every retailer's store and web shop ------------------

@dataclass
class DenseInputs:
    """Every retailer's two options for a few consumers (columns), as the full logit sees them."""

    shared_utility: np.ndarray  # (R, S) taste fit + the strategy's extra utility
    store_utility: np.ndarray  # (R, S) + access of r's stores (a logsum); −inf: r has no open store
    rel_price: np.ndarray  # (R, S)
    sells_online: np.ndarray  # (R,)
    adopted: np.ndarray  # (S,)
    price_sens: np.ndarray
    online_friction: np.ndarray
    habit: np.ndarray  # (R, S)
    inertia: np.ndarray
    online_inertia_factor: float
    online_price_sens_factor: float
    taste: np.ndarray  # (R, S) the parts, for explaining a choice: taste fit,
    extra: np.ndarray  # the strategy's extra utility,
    access: np.ndarray  # and the access value of r's stores for her (−inf: none)


def dense_option_utilities(x: DenseInputs) -> np.ndarray:
    """Utility of every option, (2R, S): stores of retailers 0..R−1, then their web shops."""
    n_ret, n_shop = x.shared_utility.shape
    u = np.empty((2 * n_ret, n_shop), dtype=np.float64)
    price = x.price_sens[None, :] * x.rel_price
    same = x.inertia[None, :] * x.habit
    store = u[:n_ret]
    np.subtract(x.store_utility, price, out=store)
    store += same
    online = u[n_ret:]
    np.subtract(x.shared_utility, x.online_price_sens_factor * price, out=online)
    online -= x.online_friction[None, :]
    online += same * x.online_inertia_factor
    online[~(x.sells_online[:, None] & x.adopted[None, :])] = -np.inf
    return u


def dense_probabilities(x: DenseInputs) -> np.ndarray:
    """Full-logit probabilities of the 2R options, (2R, S) (0 for a shopper with no option)."""
    return _logit(dense_option_utilities(x))


def dense_inputs(model, ids: np.ndarray) -> DenseInputs:
    """Every retailer's two options for consumers ``ids``, worked out by brute force: each
    retailer's stores for her (the logsum of all its open stores, her best one's value when
    ``choice.chain_store_scale`` is 0), and its strategy's terms from her
    repertoire or, for a stranger, what it offers strangers. The yardstick of the sparse choice
    (with sets that hold everything they agree), and what the teaching app explains choices by."""
    from sim.consideration import retailer_access_rows
    from sim.town import ZONE_CODE

    scale = float(model.config.choice.chain_store_scale)
    ids = np.asarray(ids, dtype=np.intp)
    a = model.market_arrays()
    pop, region = model.population, model.region
    n_r, m = len(model.retailers), len(ids)
    ret = np.broadcast_to(np.arange(n_r, dtype=np.int32), (m, n_r))
    extra, discount, habit, _ = relationship_terms(a, ids, np.ascontiguousarray(ret))
    tastes = np.array([r.taste for r in model.retailers], dtype=np.float32)
    taste = (-model.config.consumers.taste_weight * np.abs(pop.taste[ids][:, None] - tastes[None, :])).astype(
        np.float32)
    access = np.full((m, n_r), -np.inf)
    homes = model._homes[ids]
    for r in model.retailers:
        stores = r.open_stores
        if not stores:
            continue
        sites = np.array([s.site for s in stores], dtype=np.intp)
        km = np.hypot(homes[:, :1] - region.site_x[sites][None, :], homes[:, 1:] - region.site_y[sites][None, :])
        value = model.slot_pull[[s.slot for s in stores]].astype(np.float64)[None, :] \
            - pop.travel_sens[ids, None].astype(np.float64) * km
        if model._parking is not None:
            value -= model._parking[ids, None] * (region.site_zone[sites] == ZONE_CODE["centre"])[None, :]
        access[:, r.index] = retailer_access_rows(np.ascontiguousarray(value), scale)
    f8 = np.float64
    x_extra = extra.astype(f8)
    return DenseInputs(
        shared_utility=(taste.astype(f8) + x_extra).T,
        store_utility=((taste.astype(f8) + access) + x_extra).T,
        rel_price=(np.asarray(a.rel_posted, dtype=f8)[None, :] * (1.0 - discount.astype(f8)) - 1.0).T,
        sells_online=a.sells_online, adopted=a.adopted[ids],
        price_sens=a.price_sens[ids].astype(f8), online_friction=a.online_friction[ids].astype(f8),
        habit=habit.T.astype(f8), inertia=a.inertia[ids].astype(f8),
        online_inertia_factor=a.online_inertia_factor, online_price_sens_factor=a.online_price_sens_factor,
        taste=taste.T.astype(f8), extra=x_extra.T, access=access.T,
    )
