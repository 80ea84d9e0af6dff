"""Fact 5: as online share rises, revenue per m² falls, stores close and vacancy rises,
more in secondary zones and small towns; closures cluster through footfall."""

from __future__ import annotations

import numpy as np

from experiments._common import bar_figure, frame_of
from sim.experiment import Arm, Experiment, Finding, mean_ci, paired_difference
from sim.town import ZONE_CODE


def measure(model):
    f = frame_of(model)
    market = f[f["retailer"] == "all"]
    first, last = market[market["week"] <= 52], market[market["week"] > model.week - 52]
    stores = f[(f["retailer"] != "all")]
    per_m2 = stores.groupby("week").apply(
        lambda w: (w["revenue_eur"] - w["revenue_online_eur"]).sum() * 52 / max(w["floor_area_m2"].sum(), 1.0),
        include_groups=False)
    region = model.region
    chains = {r.name for r in model.retailers if not r.independent}
    in_use = model.property.in_use  # a unit converted out of retail use is neither vacant nor occupied
    vacant = model.site_store < 0
    initial_open = np.array([s.site for s in model.stores
                             if s.opened_week <= 0 and (s.closed_week is None or s.closed_week > 0)])
    big = region.site_town == 0  # the largest town; the smaller towns are pooled against it
    out = {
        "online_share_end": float(last["revenue_online_eur"].sum() / last["revenue_eur"].sum()),
        "sales_per_m2_change": float(per_m2[per_m2.index > model.week - 52].mean()
                                     / per_m2[per_m2.index <= 52].mean() - 1),
        # all stores' sales together: per m² is of the stores left open, which closures raise
        "store_sales_change": float((last["revenue_eur"] - last["revenue_online_eur"]).sum()
                                    / (first["revenue_eur"] - first["revenue_online_eur"]).sum() - 1),
        "n_closures": float(len(model.closures)),
        "n_closures_chain": float(sum(1 for c in model.closures if c["retailer"] in chains)),
        "n_converted": float((~in_use).sum()),
        "vacancy_rise": float(last["vacancy_rate"].iloc[-1] - first["vacancy_rate"].iloc[0]),
        "closure_clustering": _clustering(model),
        "closure_contagion": _contagion(model),
    }
    vacant_start = ~np.isin(np.arange(region.n_sites), initial_open)

    def rise(sites):  # share of these units vacant at the end (of those still in retail use) − at the start
        still = sites & in_use
        return float(vacant[still].mean() - vacant_start[sites].mean()) if still.any() else np.nan

    for zone in ZONE_CODE:
        out[f"vacancy_rise_{zone}"] = rise(region.site_zone == ZONE_CODE[zone])
    # secondary zones pooled: every site outside the town centres (parades and retail parks)
    out["vacancy_rise_secondary"] = rise(region.site_zone != ZONE_CODE["centre"])
    out["vacancy_rise_small_towns"] = rise(~big)
    out["vacancy_rise_big_town"] = rise(big)
    out["small_minus_big_town"] = out["vacancy_rise_small_towns"] - out["vacancy_rise_big_town"]
    out["secondary_minus_centre"] = out["vacancy_rise_secondary"] - out["vacancy_rise_centre"]
    return out


def _contagion(model) -> float:
    """Closures per store-year among stores after a neighbour within the footfall radius has
    closed, less the same among stores with no closed neighbour (above 0: closures spread)."""
    radius = model.config.choice.footfall_radius_km
    end = model.week
    stores = [s for s in model.stores if s.closed_week is None or s.closed_week > 0]  # trading in the run
    neighbour = model.region.site_km([s.site for s in stores], [s.site for s in stores]) <= radius
    exposed = [0.0, 0.0]  # closures, store-years after a neighbour closed
    unexposed = [0.0, 0.0]
    for i, store in enumerate(stores):
        own_end = store.closed_week if store.closed_week is not None else end
        near = [o.closed_week for j, o in enumerate(stores)
                if j != i and o.closed_week is not None and store.opened_week <= o.closed_week < own_end
                and neighbour[i, j]]
        start = max(store.opened_week, 0)
        first = min(near) if near else own_end
        unexposed[1] += (first - start) / 52
        exposed[1] += (own_end - first) / 52
        if store.closed_week is not None:
            (exposed if near else unexposed)[0] += 1
    if exposed[1] <= 0 or unexposed[1] <= 0:
        return float("nan")
    return exposed[0] / exposed[1] - unexposed[0] / unexposed[1]


def _clustering(model) -> float:
    """Mean distance from a unit that saw a closure to the nearest other such unit, over the same for
    as many units drawn at random among those that held a store in the run (below 1: clustered). Each unit
    counts once, however often its shops closed (with churn a unit may close more than once)."""
    closed = np.unique([c["site"] for c in model.closures])
    traded = np.unique([s.site for s in model.stores if s.closed_week is None or s.closed_week > 0])
    if len(closed) < 3:
        return float("nan")
    def nn(sites):
        d = model.region.site_km(sites, sites)
        np.fill_diagonal(d, np.inf)
        return d.min(axis=1).mean()

    rng = np.random.default_rng(model.seed)
    random = np.mean([nn(rng.choice(traded, len(closed), replace=False)) for _ in range(50)])
    return float(nn(closed) / random) if random > 0 else float("nan")


EXPERIMENT = Experiment(
    name="fact5_online_vacancy",
    title="Fact 5 — online growth, revenue per m², closures and vacancy",
    claim="As online share rises, revenue per m² falls, stores close and vacancy rises, more in secondary "
          "zones and small towns; closures cluster through footfall.",
    scenario="scenarios/baseline.toml",
    # The baseline region (four towns, 1,000 units in three trades, churn and a property market) with its
    # 45,000 households drawn as 10,000 agents (4.5 households each: the same money, a third of the cost).
    base_overrides={"consumers.n": 10000, "consumers.households_per_agent": 4.5},
    replications=20,
    arms=[
        Arm("slow online", {"adoption.q_imitation": 0.05, "adoption.p_innovation": 0.001,
                            "choice.online_friction_mean": 1.5}),
        Arm("fast online", {"adoption.q_imitation": 0.5, "adoption.p_innovation": 0.01,
                            "choice.online_friction_mean": 0.0}),
    ],
    measure=measure,
    outcomes={
        "online_share_end": "online share, last year", "sales_per_m2_change": "store sales per m², change",
        "store_sales_change": "all stores' sales, change", "n_closures": "stores closed (count)",
        "n_closures_chain": "chain stores closed (count)",
        "n_converted": "units converted out of retail use (count)", "vacancy_rise": "vacancy rise",
        "vacancy_rise_centre": "vacancy rise: centres", "vacancy_rise_secondary": "vacancy rise: secondary zones",
        "secondary_minus_centre": "vacancy rise: secondary − centre zones",
        "small_minus_big_town": "vacancy rise: smaller towns − largest town",
        "closure_clustering": "spacing of units that saw a closure vs random units that held a store "
                              "(< 100 %: clustered)",
        "closure_contagion": "closures per 100 store-years after a neighbour closed − without",
    },
)


def findings(frame):
    fast = frame[frame["arm"] == "fast online"]
    # where and how much more vacancy rises *because* online grows: the fast − slow difference
    # of each contrast (the arms share seeds, so the same region and the same first stores)
    return [
        Finding("store sales per m²: fast − slow online",
                *paired_difference(frame, "sales_per_m2_change", "fast online", "slow online"), expected_sign=-1),
        Finding("all stores' sales: fast − slow online",
                *paired_difference(frame, "store_sales_change", "fast online", "slow online"), expected_sign=-1),
        Finding("stores closed: fast − slow online",
                *paired_difference(frame, "n_closures", "fast online", "slow online"), expected_sign=+1,
                scale=1.0, unit=" stores"),
        Finding("chain stores closed: fast − slow online",
                *paired_difference(frame, "n_closures_chain", "fast online", "slow online"), expected_sign=+1,
                scale=1.0, unit=" stores"),
        Finding("units converted out of retail use: fast − slow online",
                *paired_difference(frame, "n_converted", "fast online", "slow online"), expected_sign=+1,
                scale=1.0, unit=" units"),
        Finding("vacancy rise: fast − slow online",
                *paired_difference(frame, "vacancy_rise", "fast online", "slow online"), expected_sign=+1),
        Finding("online growth raises vacancy more in secondary zones than in centres (fast − slow of the gap)",
                *paired_difference(frame, "secondary_minus_centre", "fast online", "slow online"), expected_sign=+1),
        Finding("online growth raises vacancy more in the smaller towns than in the largest (fast − slow of the gap)",
                *paired_difference(frame, "small_minus_big_town", "fast online", "slow online"), expected_sign=+1),
        Finding("fast online: closures cluster (spacing of closed units vs random units that held a store − 1)",
                *[v - 1 for v in mean_ci(fast["closure_clustering"].to_numpy())], expected_sign=-1),
    ]


def figure(frame, path):
    bar_figure(frame, {"online_share_end": "online share, last year",
                       "sales_per_m2_change": "store sales per m², change",
                       "vacancy_rise": "vacancy rise",
                       "secondary_minus_centre": "secondary − centre vacancy rise"}, path,
               "Online growth and the high street")
