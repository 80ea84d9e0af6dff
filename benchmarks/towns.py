"""Real-scale towns for the benchmarks: many retailers, most of them independents.

``town_scenario("town40")``: a town of 400 units and 40 retailers (8 chains of 15 to 30
stores, 32 independents of 1 to 3); ``town_scenario("region300")``: a region of 1,500
units and 300 retailers (20 chains, 280 independents). About two thirds of Britain's
retail and leisure units are run by independents (Local Data Company, 2011, as reported
in the trade press; ``data/uk_openings_closures.csv``). Chains follow the three
strategies in turn and sell online; independents are mass retailers without a web shop,
in town centres and neighbourhood parades.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.scenario import Scenario, load

ROOT = Path(__file__).resolve().parent.parent
STRATEGIES = ("mass", "loyalty", "learning")
TOWNS = {
    # name: (sites, towns, km across, chains, chain stores (min, max), independents)
    "town40": (400, 2, 20.0, 8, (15, 30), 32),
    "region300": (1500, 8, 60.0, 20, (20, 45), 280),
}


def town_scenario(name: str, n_consumers: int, weeks: int = 520, seed: int = 1) -> Scenario:
    """The chains world (scenarios/chains.toml), or a real-scale town or region built on it, with
    ``n_consumers`` and ``weeks``."""
    base = load(ROOT / "scenarios" / "chains.toml")
    if name == "chains":
        return base.with_overrides({"consumers.n": n_consumers, "steps": weeks})
    n_sites, n_towns, km, n_chains, (lo, hi), n_indep = TOWNS[name]
    rng = np.random.default_rng(seed)
    retailers = []
    for i in range(n_chains):
        retailers.append({"name": f"Chain{i + 1:02d}", "strategy": STRATEGIES[i % 3], "taste": float(rng.random()),
                          "markup": float(rng.uniform(0.22, 0.34)), "n_stores": int(rng.integers(lo, hi + 1)),
                          "online": True})
    for i in range(n_indep):
        retailers.append({"name": f"Indie{i + 1:03d}", "strategy": "mass", "taste": float(rng.random()),
                          "markup": float(rng.uniform(0.3, 0.45)), "n_stores": int(rng.integers(1, 4)),
                          "online": False, "independent": True, "zones": ["centre", "neighbourhood"]})
    raw = base.model_dump(mode="json")
    raw.update(name=name, steps=weeks, retailers=retailers)
    raw["consumers"]["n"] = n_consumers
    raw["region"].update(n_sites=n_sites, n_towns=n_towns, width_km=km, height_km=km, town_radius_km=4.0)
    return Scenario.model_validate(raw)
