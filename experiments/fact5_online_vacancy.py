"""Fact 5: as online share rises, revenue per m² falls, stores close and vacancy rises,
more in secondary zones and small towns; closures cluster through footfall."""

from __future__ import annotations

import numpy as np

from experiments._common import bar_figure, frame_of
from sim.experiment import Arm, Experiment, Finding, paired_difference


def measure(model):
    f = frame_of(model)
    market = f[f["retailer"] == "all"]
    first, last = market[market["week"] <= 52], market[market["week"] > model.week - 52]
    stores = f[(f["retailer"] != "all")]
    per_m2 = stores.groupby("week").apply(
        lambda w: (w["revenue_eur"] - w["revenue_online_eur"]).sum() * 52 / max(w["floor_area_m2"].sum(), 1.0),
        include_groups=False)
    region = model.region
    vacant = model.site_store < 0
    initial_open = np.array([s.site for s in model.stores if s.opened_week <= 0])
    small = region.site_town == region.n_towns - 1
    big = region.site_town == 0
    out = {
        "online_share_end": float(last["revenue_online_eur"].sum() / last["revenue_eur"].sum()),
        "sales_per_m2_change": float(per_m2[per_m2.index > model.week - 52].mean()
                                     / per_m2[per_m2.index <= 52].mean() - 1),
        "n_closures": float(len(model.closures)),
        "vacancy_rise": float(last["vacancy_rate"].iloc[-1] - first["vacancy_rate"].iloc[0]),
        "vacancy_rise_centre": _rise(first, last, "vacancy_rate_centre"),
        "vacancy_rise_secondary": np.nanmean([_rise(first, last, "vacancy_rate_neighbourhood"),
                                              _rise(first, last, "vacancy_rate_retail_park")]),
        "vacancy_end_small_town": float(vacant[small].mean()) if small.any() else np.nan,
        "vacancy_end_big_town": float(vacant[big].mean()),
        "closure_clustering": _clustering(model, initial_open),
    }
    out["small_minus_big_town"] = out["vacancy_end_small_town"] - out["vacancy_end_big_town"]
    out["secondary_minus_centre"] = out["vacancy_rise_secondary"] - out["vacancy_rise_centre"]
    return out


def _rise(first, last, column):
    return float(last[column].iloc[-1] - first[column].iloc[0])


def _clustering(model, initial_open) -> float:
    """Mean distance from a closed site to the nearest other closed site, over the same for
    as many sites drawn at random among the stores open at the start (below 1: clustered)."""
    closed = np.array([c["site"] for c in model.closures])
    if len(closed) < 3:
        return float("nan")
    region = model.region

    def nn(sites):
        x, y = region.site_x[sites], region.site_y[sites]
        d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
        np.fill_diagonal(d, np.inf)
        return d.min(axis=1).mean()

    rng = np.random.default_rng(model.seed)
    random = np.mean([nn(rng.choice(initial_open, len(closed), replace=False)) for _ in range(50)])
    return float(nn(closed) / random) if random > 0 else float("nan")


EXPERIMENT = Experiment(
    name="fact5_online_vacancy",
    title="Fact 5 — online growth, revenue per m², closures and vacancy",
    claim="As online share rises, revenue per m² falls, stores close and vacancy rises, more in secondary "
          "zones and small towns; closures cluster through footfall.",
    scenario="scenarios/baseline.toml",
    base_overrides={"consumers.n": 10000},
    arms=[
        Arm("slow online", {"adoption.q_imitation": 0.05, "adoption.p_innovation": 0.001,
                            "choice.online_friction_mean": 1.5}),
        Arm("fast online", {"adoption.q_imitation": 0.5, "adoption.p_innovation": 0.01,
                            "choice.online_friction_mean": 0.0}),
    ],
    measure=measure,
    outcomes={
        "online_share_end": "online share, last year", "sales_per_m2_change": "store sales per m², change",
        "n_closures": "stores closed (count)", "vacancy_rise": "vacancy rise",
        "secondary_minus_centre": "vacancy rise: secondary − centre zones",
        "small_minus_big_town": "end vacancy: smallest − largest town",
        "closure_clustering": "closure spacing vs random (< 100 %: clustered)",
    },
)


def findings(frame):
    fast = frame[frame["arm"] == "fast online"]
    from sim.experiment import mean_ci

    return [
        Finding("store sales per m²: fast − slow online",
                *paired_difference(frame, "sales_per_m2_change", "fast online", "slow online"), expected_sign=-1),
        Finding("stores closed: fast − slow online",
                *paired_difference(frame, "n_closures", "fast online", "slow online"), expected_sign=+1,
                scale=1.0, unit=" stores"),
        Finding("vacancy rise: fast − slow online",
                *paired_difference(frame, "vacancy_rise", "fast online", "slow online"), expected_sign=+1),
        Finding("fast online: vacancy rises more in secondary zones than in centres",
                *mean_ci(fast["secondary_minus_centre"].to_numpy()), expected_sign=+1),
        Finding("fast online: smallest town ends emptier than the largest",
                *mean_ci(fast["small_minus_big_town"].to_numpy()), expected_sign=+1),
        Finding("fast online: closures cluster (spacing vs random − 1)",
                *[v - 1 for v in mean_ci(fast["closure_clustering"].to_numpy())], expected_sign=-1),
    ]


def figure(frame, path):
    bar_figure(frame, {"online_share_end": "online share, last year",
                       "sales_per_m2_change": "store sales per m², change",
                       "vacancy_rise": "vacancy rise",
                       "secondary_minus_centre": "secondary − centre vacancy rise"}, path,
               "Online growth and the high street")
