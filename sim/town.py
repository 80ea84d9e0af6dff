"""Sites and homes: the synthetic region generator and its spatial queries."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from sim.scenario import ZONES, RegionConfig

ZONE_CODE = {zone: i for i, zone in enumerate(ZONES)}


@dataclass
class Region:
    """Retail sites and towns on a plane (km). Site arrays are indexed by site id."""

    width_km: float
    height_km: float
    town_x: np.ndarray
    town_y: np.ndarray
    town_weight: np.ndarray  # share of the town population, sums to 1
    town_radius_km: np.ndarray
    site_x: np.ndarray
    site_y: np.ndarray
    site_area_m2: np.ndarray
    site_rent_eur_m2_year: np.ndarray
    site_zone: np.ndarray  # code into ZONES
    site_town: np.ndarray
    share_rural: float

    def __post_init__(self) -> None:
        self.site_tree = cKDTree(np.column_stack([self.site_x, self.site_y]))
        self.n_sites = len(self.site_x)
        self.n_towns = len(self.town_x)

    def zone_name(self, site: int) -> str:
        return ZONES[int(self.site_zone[site])]

    def sample_homes(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Home positions: most around towns (Gaussian), the rest spread over the region."""
        n_rural = int(rng.binomial(n, self.share_rural))
        n_town = n - n_rural
        town = rng.choice(self.n_towns, size=n_town, p=self.town_weight)
        spread = self.town_radius_km[town]
        x = np.empty(n)
        y = np.empty(n)
        x[:n_town] = self.town_x[town] + rng.normal(0.0, 1.0, n_town) * spread
        y[:n_town] = self.town_y[town] + rng.normal(0.0, 1.0, n_town) * spread
        x[n_town:] = rng.uniform(0.0, self.width_km, n_rural)
        y[n_town:] = rng.uniform(0.0, self.height_km, n_rural)
        order = rng.permutation(n)  # so that row order says nothing about where one lives
        return np.clip(x[order], 0, self.width_km), np.clip(y[order], 0, self.height_km)

    def footfall(self, open_sites: np.ndarray, radius_km: float) -> np.ndarray:
        """Attraction of each site in [0, 1]: log open floor space within ``radius_km``.

        Normalised by the best-placed site so that the scenario's footfall weight is
        the utility at the densest cluster; a closure lowers its neighbours' values.
        """
        open_area = np.where(open_sites, self.site_area_m2, 0.0)
        neighbours = self.site_tree.query_ball_point(
            np.column_stack([self.site_x, self.site_y]), r=radius_km
        )
        floor = np.array([open_area[idx].sum() for idx in neighbours])
        value = np.log1p(floor / 100.0)
        top = value.max()
        return value / top if top > 0 else value


def generate_region(cfg: RegionConfig, rng: np.random.Generator) -> Region:
    """A plausible region: towns of falling size, each with a centre, parades and a retail park."""
    weight = cfg.town_size_ratio ** np.arange(cfg.n_towns)
    weight = weight / weight.sum()
    radius = cfg.town_radius_km * np.sqrt(weight / weight[0])
    town_x, town_y = _place_towns(cfg, radius, rng)

    share = np.array([cfg.share_sites.get(z, 0.0) for z in ZONES], dtype=float)
    if share.sum() <= 0:
        share = np.ones(len(ZONES))
    share = share / share.sum()
    zone = rng.choice(len(ZONES), size=cfg.n_sites, p=share)
    # Bigger towns hold more sites, but every town keeps at least a centre.
    town = rng.choice(cfg.n_towns, size=cfg.n_sites, p=weight)
    first = np.arange(min(cfg.n_towns, cfg.n_sites))
    town[first] = first
    zone[first] = ZONE_CODE["centre"]

    x = np.empty(cfg.n_sites)
    y = np.empty(cfg.n_sites)
    park_angle = rng.uniform(0, 2 * np.pi, cfg.n_towns)
    for i in range(cfg.n_sites):
        t, z, r = town[i], ZONES[zone[i]], radius[town[i]]
        if z == "centre":
            dx, dy = rng.normal(0, 0.12 * r, 2)
        elif z == "neighbourhood":
            angle, dist = rng.uniform(0, 2 * np.pi), r * rng.uniform(0.4, 1.3)
            dx, dy = dist * np.cos(angle), dist * np.sin(angle)
        else:  # retail parks cluster at one out-of-town spot per town
            dist = 1.5 * r + 0.5
            dx = dist * np.cos(park_angle[t]) + rng.normal(0, 0.1)
            dy = dist * np.sin(park_angle[t]) + rng.normal(0, 0.1)
        x[i] = np.clip(town_x[t] + dx, 0, cfg.width_km)
        y[i] = np.clip(town_y[t] + dy, 0, cfg.height_km)

    mean_area = np.array([cfg.floor_area_m2.get(z, 500.0) for z in ZONES])[zone]
    area = mean_area * rng.lognormal(-0.08, 0.4, cfg.n_sites)
    base_rent = np.array([cfg.rent_eur_m2_year.get(z, 150.0) for z in ZONES])[zone]
    # Rents are higher in bigger towns.
    rent = base_rent * (0.7 + 0.3 * weight[town] / weight[0])
    return Region(
        width_km=cfg.width_km, height_km=cfg.height_km,
        town_x=town_x, town_y=town_y, town_weight=weight, town_radius_km=radius,
        site_x=x, site_y=y, site_area_m2=area.round(0), site_rent_eur_m2_year=rent.round(1),
        site_zone=zone.astype(np.int8), site_town=town.astype(np.int16),
        share_rural=cfg.share_rural,
    )


def _place_towns(cfg: RegionConfig, radius: np.ndarray, rng: np.random.Generator):
    margin_x = min(cfg.width_km * 0.15, radius[0] * 1.5)
    margin_y = min(cfg.height_km * 0.15, radius[0] * 1.5)
    xs: list[float] = []
    ys: list[float] = []
    for t in range(cfg.n_towns):
        best = None
        for _ in range(50):  # keep towns apart when there is room
            x = rng.uniform(margin_x, cfg.width_km - margin_x)
            y = rng.uniform(margin_y, cfg.height_km - margin_y)
            gaps = [np.hypot(x - a, y - b) - radius[t] - radius[j]
                    for j, (a, b) in enumerate(zip(xs, ys, strict=True))]
            gap = min(gaps, default=np.inf)
            if best is None or gap > best[0]:
                best = (gap, x, y)
            if gap > 2.0 * radius[t]:
                break
        xs.append(best[1])
        ys.append(best[2])
    return np.array(xs), np.array(ys)
