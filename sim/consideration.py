"""Consideration sets: the few stores and web shops each consumer weighs in her weekly choice.

A consumer does not weigh every store in a region: she considers a handful (Hauser &
Wernerfelt 1990). Her store options are her best ``consideration_stores`` retailers by taste
fit plus access value, found among her ``stores_scanned`` nearest open stores; with
``consideration_draw_scale`` 1 they are instead a draw without replacement in proportion to
each retailer's logit weight (taste fit plus access, plus a Gumbel draw of her own for each
retailer that stays fixed for the run, so her options change only when stores do), each then
weighed in her choice for what it stands for: its utility less the log of its chance to be
drawn (``choice.consideration_draw_correction``), so that the market's choices follow the full
logit's whatever the set's size. A store's
access value is its footfall less travel cost (and the town's parking charge) for her; a
retailer's is the logsum of its scanned stores' (``choice.chain_store_scale``), so that each
of a chain's stores near her counts, as in store-level choice models, and she shops at its
best one. Her web-shop options are the ``consideration_online`` online sellers that fit her
taste best. Options are kept in retailer order, so that with sets that hold everything the
choice is the full logit over every store and web shop, bit for bit.

Footfall changes with every opening and closure, but only near it (unless the densest
cluster itself changes, which moves everyone's), so after an event only the consumers
within reach of a changed site get new options: the cost of an event does not grow with
the population, and the cost of a week not at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit, prange

from sim.slots import _counting_order
from sim.town import ZONE_CODE

if TYPE_CHECKING:
    from sim.model import RetailMarket

CHUNK = 65_536  # consumers per block when matching them to stores (bounded memory)
N_CHUNKS = 256
NEAR_ENTRIES = 1 << 23  # scanned stores held at once for a block of consumers (64 MB of indices)
# a scan of every open store takes the pass that groups the stores by retailer once (False: the general pass, which
# groups them for each consumer; the same bits, slower; tests compare the two)
WHOLE_NETWORK_PASS = True


@njit(cache=True)
def _grid_index(sx, sy, x0, y0, cell, nx, ny):
    """Points in a grid of square cells: (start of each cell's points in ``order``, ``order``)."""
    cell_of = np.empty(sx.shape[0], dtype=np.int64)
    for p in range(sx.shape[0]):
        cx = min(max(int((sx[p] - x0) / cell), 0), nx - 1)
        cy = min(max(int((sy[p] - y0) / cell), 0), ny - 1)
        cell_of[p] = cy * nx + cx
    order, start = _counting_order(cell_of, nx * ny)
    return start, order


@njit(parallel=True, cache=True)
def _k_nearest(qx, qy, rows, sx, sy, start, order, x0, y0, cell, nx, ny, k, out):
    """The ``k`` points nearest each consumer ``rows[j]`` (by squared distance), nearest first: rings of
    cells around hers, skipping cells farther than her k-th best, until no cell outside can beat it."""
    m = rows.shape[0]
    n_chunks = min(N_CHUNKS, max(m, 1))
    for c in prange(n_chunks):
        bd = np.empty(k)
        bi = np.empty(k, dtype=np.int64)
        for j in range(c * m // n_chunks, (c + 1) * m // n_chunks):
            x = qx[rows[j]]
            y = qy[rows[j]]
            for t in range(k):
                bd[t] = np.inf
                bi[t] = -1
            cx = min(max(int((x - x0) / cell), 0), nx - 1)
            cy = min(max(int((y - y0) / cell), 0), ny - 1)
            r = 0
            while True:
                for gy in range(max(cy - r, 0), min(cy + r, ny - 1) + 1):
                    # the ring's cells: a whole row at its top and bottom, the two ends elsewhere
                    step = 1 if gy == cy - r or gy == cy + r else 2 * r
                    for gx in range(cx - r, cx + r + 1, step):
                        if not 0 <= gx < nx:
                            continue
                        g = gy * nx + gx
                        ex = max(x0 + gx * cell - x, x - (x0 + (gx + 1) * cell), 0.0)
                        ey = max(y0 + gy * cell - y, y - (y0 + (gy + 1) * cell), 0.0)
                        if ex * ex + ey * ey < bd[k - 1]:  # the cell could hold a point nearer than her k-th
                            for a in range(start[g], start[g + 1]):
                                p = order[a]
                                dx = x - sx[p]
                                dy = y - sy[p]
                                d = dx * dx + dy * dy
                                if d < bd[k - 1]:
                                    t = k - 1
                                    while t > 0 and bd[t - 1] > d:
                                        bd[t] = bd[t - 1]
                                        bi[t] = bi[t - 1]
                                        t -= 1
                                    bd[t] = d
                                    bi[t] = p
                if cx - r <= 0 and cy - r <= 0 and cx + r >= nx - 1 and cy + r >= ny - 1:
                    break  # the block covers the whole grid
                margin = np.inf
                if cx - r > 0:
                    margin = min(margin, x - (x0 + (cx - r) * cell))
                if cx + r < nx - 1:
                    margin = min(margin, x0 + (cx + r + 1) * cell - x)
                if cy - r > 0:
                    margin = min(margin, y - (y0 + (cy - r) * cell))
                if cy + r < ny - 1:
                    margin = min(margin, y0 + (cy + r + 1) * cell - y)
                if margin > 0 and bd[k - 1] <= margin * margin:
                    break
                r += 1
            for t in range(k):
                out[j, t] = bi[t]


@njit(cache=True)
def retailer_access(value, best, scale):
    """What one retailer's stores, of values ``value`` to her, are worth together: the logsum
    ``best + scale·ln Σ exp((value − best) / scale)``, summed in order, with ``best`` their largest value;
    ``best`` itself when ``scale`` is 0 or there is one store. ``_assign_rows`` does the same operations in
    the same order for every retailer in one pass over her scanned stores."""
    if scale <= 0.0:
        return best
    total = 0.0
    for col in range(value.shape[0]):
        total += np.exp((value[col] - best) / scale)
    return best + scale * np.log(total)


@njit(cache=True)
def retailer_access_rows(value, scale):
    """``retailer_access`` of one retailer for each row of ``value`` (consumers × its stores, in the
    order they opened): the yardstick's form of the consideration sets' arithmetic."""
    out = np.empty(value.shape[0])
    for i in range(value.shape[0]):
        out[i] = retailer_access(value[i], value[i].max(), scale)
    return out


@njit(cache=True)
def _gumbel(key, i, r):
    """A standard Gumbel draw that depends only on (key, consumer i, retailer r): splitmix64 of the three."""
    z = np.uint64(key) ^ (np.uint64(i) * np.uint64(0x9E3779B97F4A7C15))
    z = z ^ (np.uint64(r) * np.uint64(0xC2B2AE3D27D4EB4F))
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    u = (np.float64(z >> np.uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)
    return -np.log(-np.log(u))


@njit(cache=True)
def _log_inclusion(static, threshold, draw_scale):
    """The log of a retailer's chance to be among her drawn options, given the largest key left out
    (``threshold``): her key, static + draw_scale × a standard Gumbel, had to beat it, which it does with
    probability 1 − exp(−exp((static − threshold) / draw_scale)). Weighing each drawn option by its weight over
    this chance makes the sum over her options an unbiased estimate of the sum over every retailer she scans
    (priority sampling: Duffield, Lund & Thorup 2007, Journal of the ACM 54(6); for the Gumbel-top-k draw, Kool,
    van Hoof & Welling 2019, ICML), so that the sampled choice stands for the full one."""
    x = (static - threshold) / draw_scale
    if x < -30.0:
        return x  # ln(1 − exp(−e^x)) = x − e^x/2 + …, and e^x/2 < 1e-13 here
    return np.log(-np.expm1(-np.exp(x)))


@njit(cache=True, inline="always")
def _store_value(i, o, cached_km, km_cache, open_site, homes_x, homes_y, site_x, site_y, pull, travel_sens, parking,
                 at_centre):
    """Open store ``o``'s distance from consumer ``i`` (kept in ``km_cache`` where it is) and its access value for
    her: footfall less travel (and the centre's parking charge). The one expression both option passes use."""
    km = km_cache[open_site[o], i] if cached_km else np.hypot(homes_x[i] - site_x[o], homes_y[i] - site_y[o])
    value = pull[o] - np.float64(travel_sens[i]) * km
    if parking.shape[0]:
        value -= parking[i] * at_centre[o]
    return km, value


@njit(cache=True, inline="always")
def _drawn_rank(static, draw_scale, cached_draw, draw_row, draw_cache, draw_key, i, r):
    """What retailer ``r``'s option is ranked by for consumer ``i``: its static value plus draw_scale × her own fixed
    draw for it (kept in ``draw_cache`` where it is, else drawn afresh by the same expression)."""
    if draw_scale > 0.0:
        if cached_draw and draw_row[r] >= 0:
            return static + draw_scale * draw_cache[draw_row[r], i]
        return static + draw_scale * _gumbel(draw_key, i, r)
    return static


@njit(cache=True, inline="always")
def _keep_best(top, n_top, ks, rank, key, f):
    """Candidate ``f`` into ``top``, her best ks + 1 candidates so far, best first, where it beats the one below it
    (by ``rank``; ties to the lower ``key``, a retailer index, so the list does not depend on the order candidates
    come in); returns how many the list now holds."""
    if n_top == ks + 1:
        w = top[ks]
        if not (rank[f] > rank[w] or (rank[f] == rank[w] and key[f] < key[w])):
            return n_top
        t = ks
    else:
        t = n_top
        n_top += 1
    while t > 0:
        w = top[t - 1]
        if not (rank[f] > rank[w] or (rank[f] == rank[w] and key[f] < key[w])):
            break
        top[t] = w
        t -= 1
    top[t] = f
    return n_top


@njit(cache=True, inline="always")
def _write_options(i, top, n_cand, key, col_of, static, rank, corrected, draw_scale, slot_of_col, km,
                   out_ret, out_slot, out_static, out_km):
    """Consumer ``i``'s options from ``top``: her best ks of ``n_cand`` candidates (retailer ``key[f]`` at its
    column ``col_of[f]``), in retailer order, as the full logit lists them, each less the log of its chance to be
    drawn where ``corrected`` and any candidate was left out; the slots left over empty."""
    ks = out_ret.shape[1]
    n_take = min(ks, n_cand)
    threshold = np.inf  # the largest key not drawn: what a retailer's key had to beat to be drawn
    if corrected and n_cand > n_take:
        threshold = rank[top[n_take]]
    for t in range(n_take):
        for u in range(t + 1, n_take):
            if key[top[u]] < key[top[t]]:
                tmp = top[t]
                top[t] = top[u]
                top[u] = tmp
    for t in range(ks):
        if t < n_take:
            f = top[t]
            col = col_of[f]
            out_ret[i, t] = key[f]
            out_slot[i, t] = slot_of_col[col]
            out_static[i, t] = static[f]
            if threshold < np.inf:
                out_static[i, t] -= _log_inclusion(static[f], threshold, draw_scale)
            out_km[i, t] = np.float32(km[col])
        else:
            out_ret[i, t] = -1
            out_slot[i, t] = -1
            out_static[i, t] = -np.inf
            out_km[i, t] = np.float32(np.inf)


@njit(parallel=True, cache=True)
def _assign_rows(rows, near, homes_x, homes_y, site_x, site_y, slots, pull, travel_sens, parking, at_centre,
                 store_retailer, taste, retailer_taste, neg_taste_weight, n_ret, whole_network, chain_scale,
                 draw_scale, draw_key, draw_correction, open_site, km_cache, draw_cache, draw_row,
                 out_ret, out_slot, out_static, out_km, nearest_km, reach_km):
    """Store options of consumers ``rows`` from their scanned stores ``near`` (indices into the open stores; with
    ``whole_network`` one row that every consumer shares). With a draw and ``draw_correction``, each drawn option's
    static value is less the log of its chance to be drawn (``_log_inclusion``). Her distances to the open stores'
    sites (``open_site``) are read from ``km_cache`` (site × consumer) and her draws for retailers from ``draw_cache``
    (row ``draw_row[r]``) where they are kept (``OptionCache``: the same numbers, computed once)."""
    m, k = rows.shape[0], near.shape[1]
    ks = out_ret.shape[1]
    n_chunks = min(N_CHUNKS, max(m, 1))
    cached_km = km_cache.shape[0] > 0
    cached_draw = draw_row.shape[0] > 0
    for c in prange(n_chunks):
        best = np.full(n_ret, -1, dtype=np.int64)  # best candidate column per retailer in this row
        found = np.empty(k, dtype=np.int64)
        static = np.empty(k)
        rank = np.empty(k)
        top = np.empty(ks + 1, dtype=np.int64)  # her ks + 1 best retailers (as indices into found), best first
        best_col = np.empty(k, dtype=np.int64)  # each found retailer's best column
        value = np.empty(k)
        km = np.empty(k)
        cand = np.empty(k, dtype=np.int64)
        total = np.zeros(n_ret)  # each retailer's sum of its stores' weights in this row
        count = np.zeros(n_ret, dtype=np.int64)  # and its number of scanned stores
        for j in range(c * m // n_chunks, (c + 1) * m // n_chunks):
            i = rows[j]
            closest, farthest = np.inf, -np.inf
            jn = 0 if whole_network else j
            for col in range(k):
                o = near[jn, col]
                cand[col] = slots[o]
                km[col], value[col] = _store_value(i, o, cached_km, km_cache, open_site, homes_x, homes_y, site_x,
                                                   site_y, pull, travel_sens, parking, at_centre)
                closest = min(closest, km[col])
                farthest = max(farthest, km[col])
            nearest_km[i] = closest
            reach_km[i] = np.inf if whole_network else farthest
            n_found = 0
            for col in range(k):
                s = cand[col]
                r = store_retailer[s]
                count[r] += 1
                b = best[r]
                if b < 0:
                    best[r] = col
                    found[n_found] = r
                    n_found += 1
                elif value[col] > value[b] or (value[col] == value[b] and s < cand[b]):
                    best[r] = col  # the retailer's store worth most to her; ties to the first opened
            if chain_scale > 0.0:
                # each retailer's stores together, retailer_access's logsum in one pass over the columns (the
                # same operations in the same order for each retailer, so the yardstick's form gives the same bits)
                # (a retailer with one store is worth that store's value: ln exp(0) is 0, so its exp and log are
                # skipped, as most of a region's retailers are one-shop independents)
                for col in range(k):
                    r = store_retailer[cand[col]]
                    if count[r] > 1:
                        total[r] += np.exp((value[col] - value[best[r]]) / chain_scale)
            # her best ks retailers by taste fit + access, plus her own fixed draw for each when draw_scale > 0
            # (ties: the retailer listed first), and the next best, in one pass: each retailer goes into the
            # list of the best ks + 1 so far where it beats the one below it
            n_top = 0
            for f in range(n_found):
                r = found[f]
                fit = np.float32(neg_taste_weight * np.float32(abs(taste[i] - retailer_taste[r])))
                access = value[best[r]]
                if chain_scale > 0.0 and count[r] > 1:
                    access = access + chain_scale * np.log(total[r])
                    total[r] = 0.0
                count[r] = 0
                best_col[f] = best[r]
                static[f] = np.float64(fit) + access
                rank[f] = _drawn_rank(static[f], draw_scale, cached_draw, draw_row, draw_cache, draw_key, i, r)
                n_top = _keep_best(top, n_top, ks, rank, found, f)
            _write_options(i, top, n_found, found, best_col, static, rank, draw_correction and draw_scale > 0.0,
                           draw_scale, cand, km, out_ret, out_slot, out_static, out_km)
            for f in range(n_found):  # reset the scratch for the next row
                best[found[f]] = -1


@njit(parallel=True, cache=True)
def _assign_rows_whole(rows, homes_x, homes_y, site_x, site_y, slots, pull, travel_sens, parking, at_centre,
                       group_ret, group_start, group_cols, taste, retailer_taste, neg_taste_weight, chain_scale,
                       draw_scale, draw_key, draw_correction, open_site, km_cache, draw_cache, draw_row,
                       out_ret, out_slot, out_static, out_km, nearest_km, reach_km):
    """``_assign_rows`` where every consumer scans every open store (column ``col`` is open store ``col``): the
    stores' retailers are the same for every row, so they are grouped once (``group_ret``, each group's columns
    ``group_cols[group_start[g]:group_start[g + 1]]`` in column order, groups in the order of their first column)
    instead of for each row. The same expressions in the same order, so the same bits as ``_assign_rows``."""
    m, k = rows.shape[0], slots.shape[0]
    n_groups = group_ret.shape[0]
    ks = out_ret.shape[1]
    n_chunks = min(N_CHUNKS, max(m, 1))
    cached_km = km_cache.shape[0] > 0
    cached_draw = draw_row.shape[0] > 0
    for c in prange(n_chunks):
        value = np.empty(k)
        km = np.empty(k)
        static = np.empty(n_groups)
        rank = np.empty(n_groups)
        best = np.empty(n_groups, dtype=np.int64)
        top = np.empty(ks + 1, dtype=np.int64)
        for j in range(c * m // n_chunks, (c + 1) * m // n_chunks):
            i = rows[j]
            closest = np.inf
            for col in range(k):
                km[col], value[col] = _store_value(i, col, cached_km, km_cache, open_site, homes_x, homes_y, site_x,
                                                   site_y, pull, travel_sens, parking, at_centre)
                closest = min(closest, km[col])
            nearest_km[i] = closest
            reach_km[i] = np.inf
            n_top = 0
            for g in range(n_groups):
                r = group_ret[g]
                a, b = group_start[g], group_start[g + 1]
                bc = group_cols[a]
                for q in range(a + 1, b):
                    col = group_cols[q]
                    if value[col] > value[bc] or (value[col] == value[bc] and slots[col] < slots[bc]):
                        bc = col
                best[g] = bc
                access = value[bc]
                if chain_scale > 0.0 and b - a > 1:
                    total = 0.0
                    for q in range(a, b):
                        total += np.exp((value[group_cols[q]] - value[bc]) / chain_scale)
                    access = access + chain_scale * np.log(total)
                fit = np.float32(neg_taste_weight * np.float32(abs(taste[i] - retailer_taste[r])))
                static[g] = np.float64(fit) + access
                rank[g] = _drawn_rank(static[g], draw_scale, cached_draw, draw_row, draw_cache, draw_key, i, r)
                n_top = _keep_best(top, n_top, ks, rank, group_ret, g)
            _write_options(i, top, n_groups, group_ret, best, static, rank, draw_correction and draw_scale > 0.0,
                           draw_scale, slots, km, out_ret, out_slot, out_static, out_km)


def _retailer_groups(col_retailer: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The retailers of the columns in the order of their first column, and each one's columns in column order
    (as offsets into one array): what ``_assign_rows_whole`` reads for every row."""
    retailers, first, of_col = np.unique(col_retailer, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # the retailers in the order of their first column
    group_ret = retailers[order]
    group_of = np.empty(len(retailers), dtype=np.int64)
    group_of[order] = np.arange(len(retailers))
    col_group = group_of[of_col]
    group_start = np.zeros(len(retailers) + 1, dtype=np.int64)
    np.cumsum(np.bincount(col_group, minlength=len(retailers)), out=group_start[1:])
    return group_ret.astype(np.int64), group_start, np.argsort(col_group, kind="stable").astype(np.int64)


@njit(parallel=True, cache=True)
def _fill_km(homes_x, homes_y, site_x, site_y, out):
    """Every consumer's distance to every site (site × consumer), as ``_assign_rows`` measures it."""
    for s in prange(out.shape[0]):
        for i in range(out.shape[1]):
            out[s, i] = np.hypot(homes_x[i] - site_x[s], homes_y[i] - site_y[s])


@njit(parallel=True, cache=True)
def _fill_draws(draw_key, retailers, first_row, out):
    """Every consumer's fixed draw for ``retailers``, into rows ``first_row`` onwards of ``out``."""
    for q in prange(retailers.shape[0]):
        for i in range(out.shape[1]):
            out[first_row + q, i] = _gumbel(draw_key, i, retailers[q])


@njit(parallel=True, cache=True)
def _pick_online_options(taste, sellers, seller_taste, neg_taste_weight, out_ret, out_taste):
    m = taste.shape[0]
    ko = out_ret.shape[1]
    n_sellers = sellers.shape[0]
    n_chunks = min(N_CHUNKS, max(m, 1))
    for c in prange(n_chunks):
        fit = np.empty(n_sellers, dtype=np.float32)
        taken = np.zeros(n_sellers, dtype=np.bool_)
        chosen = np.empty(ko, dtype=np.int64)
        for i in range(c * m // n_chunks, (c + 1) * m // n_chunks):
            for s in range(n_sellers):
                fit[s] = np.float32(neg_taste_weight * np.float32(abs(taste[i] - seller_taste[s])))
                taken[s] = False
            n_take = min(ko, n_sellers)
            for t in range(n_take):  # sellers are in retailer order, so ties go to the first listed
                pick = -1
                for s in range(n_sellers):
                    if not taken[s] and (pick < 0 or fit[s] > fit[pick]):
                        pick = s
                taken[pick] = True
                chosen[t] = pick
            chosen[:n_take].sort()
            for t in range(ko):
                if t < n_take:
                    out_ret[i, t] = sellers[chosen[t]]
                    out_taste[i, t] = fit[chosen[t]]
                else:
                    out_ret[i, t] = -1
                    out_taste[i, t] = 0.0


@njit(parallel=True, cache=True)
def point_options(rows, option_ret, slot_retailer, out_rep):
    """For consumers ``rows``: the repertoire slot of each option's retailer, −1 where she holds none."""
    for j in prange(rows.shape[0]):
        i = rows[j]
        for o in range(option_ret.shape[1]):
            r = option_ret[i, o]
            found = -1
            if r >= 0:
                for q in range(slot_retailer.shape[1]):
                    if slot_retailer[i, q] == r:
                        found = q
            out_rep[i, o] = found


def _grid(x: np.ndarray, y: np.ndarray) -> tuple:
    """Points in a grid of about one point per square cell, for ``_k_nearest``: a grid finds the 32
    stores nearest a consumer faster than a tree, and on every core. Returns (start, order, x0, y0,
    cell, nx, ny)."""
    x0, y0 = float(x.min()), float(y.min())
    wide = max(float(x.max()) - x0, float(y.max()) - y0)
    # at most about 1,000 cells a side, even when the points lie on a line
    cell = max(float(np.sqrt((x.max() - x0) * (y.max() - y0) / len(x))), wide / 1024, 1e-6)
    nx, ny = int((x.max() - x0) / cell) + 1, int((y.max() - y0) / cell) + 1
    start, order = _grid_index(x, y, x0, y0, cell, nx, ny)
    return start, order, x0, y0, cell, nx, ny


CACHE_BYTES = 256 * 2**20  # the most each of OptionCache's tables may hold (an engine setting: results are the same)


class OptionCache:
    """What stays the same from one refresh of the options to the next, kept where it fits in ``CACHE_BYTES``:
    each consumer's distance to every site (homes and sites do not move) and her fixed draw for each retailer
    that has had a store (the draw depends only on her, the retailer and the run). The numbers are those
    ``_assign_rows`` would compute, by the same expressions, so results do not depend on whether they are kept.
    Tables are site (or retailer) × consumer, so that consumers refreshed one after another read neighbouring
    memory. Shared by every category's sets (each retailer trades in one)."""

    def __init__(self, model: RetailMarket):
        self.model = model
        n, n_ret = model.population.n, len(model.retailers)
        self.km: np.ndarray | None = None
        self.max_draw_rows = CACHE_BYTES // (8 * max(n, 1))
        self.draw_row = np.full(n_ret, -1, dtype=np.int64)
        self.draws = np.zeros((0, n))
        self.key = model.consideration_key  # the run's draw the kept ones are of

    def distances(self) -> np.ndarray:
        """Every consumer's distance to every site (km, site × consumer), or an empty table where it would not fit."""
        m = self.model
        if self.km is None or (self.km.size and self.km.shape[0] != m.region.n_sites):  # (new sites: measure anew)
            if m.population.n * m.region.n_sites * 8 > CACHE_BYTES:
                self.km = np.zeros((0, 0))
            else:
                self.km = np.empty((m.region.n_sites, m.population.n))
                _fill_km(np.ascontiguousarray(m._homes[:, 0]), np.ascontiguousarray(m._homes[:, 1]),
                         m.region.site_x, m.region.site_y, self.km)
        return self.km

    def draws_for(self, retailers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The table of draws (retailer × consumer) and each retailer's row in it (−1: none), with rows added for
        ``retailers`` that have none, as far as ``CACHE_BYTES`` allows (the others are drawn afresh)."""
        if self.max_draw_rows == 0 or self.model.config.choice.consideration_draw_scale <= 0:
            return self.draws, np.zeros(0, np.int64)
        if self.key != self.model.consideration_key:  # another draw altogether: none of the kept ones holds
            self.key = self.model.consideration_key
            self.draw_row[:] = -1
            self.draws = np.zeros((0, self.draws.shape[1]))
        have = self.draws.shape[0]
        new = np.unique(retailers[self.draw_row[retailers] < 0])[:max(self.max_draw_rows - have, 0)]
        if len(new):
            # room for half as many again, so that the pool's newcomers rarely make the table grow
            size = min(max(have + len(new), have + have // 2), self.max_draw_rows)
            grown = np.empty((size, self.draws.shape[1]))
            grown[:have] = self.draws
            _fill_draws(self.model.consideration_key, new.astype(np.int64), have, grown)
            self.draws = grown
            self.draw_row[new] = np.arange(have, have + len(new))
        return self.draws, self.draw_row


class ConsiderationSets:
    """Every consumer's store and web-shop options, kept up to date as stores open and close."""

    def __init__(self, model: RetailMarket, members: np.ndarray | None = None, online: bool = True,
                 cache: OptionCache | None = None):
        self.model = model
        self.cache = cache if cache is not None else OptionCache(model)
        cfg = model.config.choice
        n = model.population.n
        # the retailers of one category (all of them when there is one category)
        self.members = np.arange(len(model.retailers)) if members is None else np.asarray(members)
        self._is_member = np.zeros(len(model.retailers), dtype=bool)
        self._is_member[self.members] = True
        n_r = len(self.members)  # a set never holds more options than there are retailers
        self.n_store = min(cfg.consideration_stores, n_r)
        self.n_online = min(cfg.consideration_online, n_r) if online else 0
        self.n_scanned = cfg.stores_scanned
        self.store_ret = np.full((n, self.n_store), -1, dtype=np.int32)
        self.store_slot = np.full((n, self.n_store), -1, dtype=np.int32)
        self.store_static = np.full((n, self.n_store), -np.inf)
        self.store_km = np.full((n, self.n_store), np.inf, dtype=np.float32)
        self.online_ret = np.full((n, self.n_online), -1, dtype=np.int32)
        self.online_taste = np.zeros((n, self.n_online), dtype=np.float32)
        # the repertoire slot each option's retailer holds (−1: none), kept as slots and options change, so
        # the weekly choice reads her terms without searching her repertoire
        self.store_rep = np.full((n, self.n_store), -1, dtype=np.int8)
        self.online_rep = np.full((n, self.n_online), -1, dtype=np.int8)
        self.store_width = self.online_width = 0  # columns in use by anyone (options are packed left)
        self.reach_km = np.full(n, np.inf)  # distance to her farthest scanned store: events beyond it miss her
        self.nearest_km = np.full(n, np.inf)  # to the nearest open store of any retailer
        self.site_footfall: np.ndarray | None = None  # the footfall her options were built on
        self._online_sellers: tuple[int, ...] | None = None

    # ---- web shops --------------------------------------------------------------------------
    def refresh_online(self) -> None:
        """Her web-shop options: the online sellers that fit her taste best (recomputed when who sells
        online changes, which is rare: a retailer joining the town's platform)."""
        m = self.model
        sellers = tuple(r.index for r in m.retailers if r.sells_online and self._is_member[r.index])
        if sellers == self._online_sellers:
            return
        self._online_sellers = sellers
        if self.n_online == 0:
            return
        taste = m.population.taste
        seller_taste = np.array([m.retailers[i].taste for i in sellers], dtype=np.float32)
        _pick_online_options(taste, np.array(sellers, dtype=np.int32), seller_taste,
                             np.float32(-m.config.consumers.taste_weight), self.online_ret, self.online_taste)
        everyone = np.arange(len(taste), dtype=np.int64)
        point_options(everyone, self.online_ret, m.population.slot_retailer, self.online_rep)
        self.online_width = min(self.n_online, len(sellers))

    # ---- stores -----------------------------------------------------------------------------
    def refresh_stores(self, footfall: np.ndarray, events: np.ndarray | None = None) -> int:
        """New store options for the consumers an opening or closure at sites ``events`` concerns, or a change of
        ``footfall`` (each site's, now) since her options were last built (everyone when ``events`` is None).
        Returns how many consumers were refreshed."""
        m = self.model
        changed = np.flatnonzero(footfall != self.site_footfall) if self.site_footfall is not None else None
        self.site_footfall = footfall
        n = m.population.n
        if events is None or changed is None:
            who = np.arange(n)
        else:
            who = self._concerned(np.union1d(np.asarray(events, dtype=np.intp), changed))
        if len(who):
            self._assign(who)
            point_options(np.asarray(who, dtype=np.int64), self.store_ret, m.population.slot_retailer,
                          self.store_rep)
            self.store_width = int((self.store_ret >= 0).sum(axis=1).max(initial=0))
        return len(who)

    def repoint(self, who: np.ndarray) -> None:
        """Consumers ``who`` took or gave up repertoire slots: point their options at the slots anew."""
        who = np.asarray(who, dtype=np.int64)
        slot_retailer = self.model.population.slot_retailer
        point_options(who, self.store_ret, slot_retailer, self.store_rep)
        point_options(who, self.online_ret, slot_retailer, self.online_rep)

    def _concerned(self, sites: np.ndarray) -> np.ndarray:
        """Consumers with one of ``sites`` within reach of their scanned stores."""
        m = self.model
        if len(sites) == 0:
            return np.zeros(0, dtype=np.intp)
        if not np.isfinite(self.reach_km).any():
            return np.arange(m.population.n)  # every store is within everyone's scan
        site_x = m.region.site_x[sites].astype(np.float64)
        site_y = m.region.site_y[sites].astype(np.float64)
        homes_x, homes_y = np.ascontiguousarray(m._homes[:, 0]), np.ascontiguousarray(m._homes[:, 1])
        grid = _grid(site_x, site_y)
        nearest = np.empty((m.population.n, 1), dtype=np.int64)
        _k_nearest(homes_x, homes_y, np.arange(m.population.n, dtype=np.int64), site_x, site_y, *grid, 1, nearest)
        km = np.hypot(homes_x - site_x[nearest[:, 0]], homes_y - site_y[nearest[:, 0]])
        # the distance her scan measured to its farthest store is np.hypot's too; a margin keeps the boundary in
        return np.flatnonzero(km <= self.reach_km * (1 + 1e-9) + 1e-9)

    def _assign(self, who: np.ndarray) -> None:
        m, pop = self.model, self.model.population
        open_stores = [s for s in m.open_stores if self._is_member[s.retailer.index]]
        if not open_stores:
            self.store_ret[who] = -1
            self.store_slot[who] = -1
            self.store_static[who] = -np.inf
            self.store_km[who] = np.inf
            self.nearest_km[who] = np.inf
            self.reach_km[who] = np.inf
            return
        sites = np.array([s.site for s in open_stores], dtype=np.intp)
        slots = np.array([s.slot for s in open_stores], dtype=np.int64)
        store_retailer = np.full(len(m.stores), -1, dtype=np.int64)
        store_retailer[slots] = [s.retailer.index for s in open_stores]
        pull = m.slot_pull[slots].astype(np.float64)
        at_centre = (m.region.site_zone[sites] == ZONE_CODE["centre"]).astype(np.float64)
        site_x, site_y = m.region.site_x[sites], m.region.site_y[sites]
        k = min(self.n_scanned, len(open_stores))
        grid = _grid(site_x, site_y)
        retailer_taste = np.array([r.taste for r in m.retailers], dtype=np.float32)
        neg_tw = np.float32(-m.config.consumers.taste_weight)
        parking = m._parking if m._parking is not None else np.zeros(0)
        homes_x, homes_y = np.ascontiguousarray(m._homes[:, 0]), np.ascontiguousarray(m._homes[:, 1])
        whole_network = k == len(open_stores)
        who = np.asarray(who, dtype=np.int64)
        km_cache = self.cache.distances()
        col_retailer = store_retailer[slots]
        draw_cache, draw_row = self.cache.draws_for(col_retailer)
        if whole_network and WHOLE_NETWORK_PASS:
            _assign_rows_whole(who, homes_x, homes_y, site_x, site_y, slots, pull, pop.travel_sens, parking, at_centre,
                               *_retailer_groups(col_retailer), pop.taste, retailer_taste, neg_tw,
                               float(m.config.choice.chain_store_scale),
                               float(m.config.choice.consideration_draw_scale), m.consideration_key,
                               bool(m.config.choice.consideration_draw_correction), sites.astype(np.int64),
                               km_cache, draw_cache, draw_row, self.store_ret, self.store_slot, self.store_static,
                               self.store_km, self.nearest_km, self.reach_km)
            return
        block = max(1, min(CHUNK, NEAR_ENTRIES // k))  # rows a block, so that its scanned stores stay in memory
        for lo in range(0, len(who), block):
            rows = who[lo:lo + block]
            if whole_network:
                near = np.arange(k, dtype=np.int64)[None, :]  # every open store, for every row
            else:
                near = np.empty((len(rows), k), dtype=np.int64)
                _k_nearest(homes_x, homes_y, rows, site_x, site_y, *grid, k, near)
            _assign_rows(rows, near, homes_x, homes_y, site_x, site_y, slots, pull,
                         pop.travel_sens, parking, at_centre, store_retailer, pop.taste, retailer_taste, neg_tw,
                         len(m.retailers), whole_network, float(m.config.choice.chain_store_scale),
                         float(m.config.choice.consideration_draw_scale), m.consideration_key,
                         bool(m.config.choice.consideration_draw_correction), sites.astype(np.int64), km_cache,
                         draw_cache, draw_row, self.store_ret, self.store_slot, self.store_static,
                         self.store_km, self.nearest_km, self.reach_km)
