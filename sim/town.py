"""Sites and homes: the synthetic region generator and its spatial queries."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

from sim.scenario import ZONES, RegionConfig

ZONE_CODE = {zone: i for i, zone in enumerate(ZONES)}
PARADE_SITES = 3  # neighbourhood units per parade
PARADE_SPREAD_KM = 0.06  # units of one parade stand this close together


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
        self.site_occupant: list[str] = [""] * self.n_sites  # retailer named in a sites CSV
        self.site_planned = np.zeros(self.n_sites, dtype=bool)  # a plot for new floor space, not a unit yet
        self.town_names = [f"town {t + 1}" for t in range(self.n_towns)]
        self.home_grid: dict[str, np.ndarray] | None = None  # population grid from a CSV
        self._within_cache: dict[float, sparse.csr_matrix] = {}

    def zone_name(self, site: int) -> str:
        return ZONES[int(self.site_zone[site])]

    def site_km(self, sites: np.ndarray, others: np.ndarray) -> np.ndarray:
        """Distances (km) from each of ``sites`` (rows) to each of ``others`` (columns)."""
        sites, others = np.asarray(sites, dtype=np.intp), np.asarray(others, dtype=np.intp)
        return np.hypot(self.site_x[sites, None] - self.site_x[others][None, :],
                        self.site_y[sites, None] - self.site_y[others][None, :])

    def sample_homes(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Home positions: from the population grid if there is one; else most around towns
        (Gaussian) and the rest spread over the region."""
        if self.home_grid is not None:
            return self._sample_grid(n, rng)
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

    def _sample_grid(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        grid = self.home_grid
        cell = rng.choice(len(grid["count"]), size=n, p=grid["count"] / grid["count"].sum())
        xs, ys = np.unique(grid["x"]), np.unique(grid["y"])
        step = min(np.diff(xs).min() if len(xs) > 1 else 1.0, np.diff(ys).min() if len(ys) > 1 else 1.0)
        x = grid["x"][cell] + rng.uniform(-step / 2, step / 2, n)
        y = grid["y"][cell] + rng.uniform(-step / 2, step / 2, n)
        return np.clip(x, 0, self.width_km), np.clip(y, 0, self.height_km)

    def _sites_within(self, radius_km: float) -> sparse.csr_matrix:
        """Sites × sites, 1 where the column's site is within ``radius_km`` of the row's (itself included).
        Sites never move, so it is built once per radius: footfall is read after every review's openings and
        closures, and querying every site's neighbours each time took about 40 % of the reviews' time at 2,500 units."""
        cached = self._within_cache.get(radius_km)
        if cached is None:
            neighbours = self.site_tree.query_ball_point(np.column_stack([self.site_x, self.site_y]), r=radius_km)
            rows = np.repeat(np.arange(self.n_sites), [len(idx) for idx in neighbours])
            cols = np.concatenate([np.asarray(idx, dtype=np.intp) for idx in neighbours]) if self.n_sites else rows
            cached = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(self.n_sites, self.n_sites))
            self._within_cache[radius_km] = cached
        return cached

    def footfall(self, open_sites: np.ndarray, radius_km: float, scale: float | None = None) -> np.ndarray:
        """Attraction of each site: log open floor space within ``radius_km``, divided by ``scale``.

        The model passes the value of the best-placed site when trading began, so that the
        scenario's footfall weight is the utility at the densest cluster of the opening
        network; a closure lowers its neighbours' values and no one else's. Without
        ``scale``, the best site now is the unit.
        """
        open_area = np.where(open_sites, self.site_area_m2, 0.0)
        floor = self._sites_within(radius_km) @ open_area
        value = np.log1p(floor / 100.0)
        top = value.max() if scale is None else scale
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
    parades: dict[tuple[int, int], tuple[float, float]] = {}  # (town, parade) → its spot
    n_parade_sites = np.zeros(cfg.n_towns, dtype=int)
    for i in range(cfg.n_sites):
        t, z, r = town[i], ZONES[zone[i]], radius[town[i]]
        if z == "centre":
            dx, dy = rng.normal(0, 0.12 * r, 2)
        elif z == "neighbourhood":  # shops come in parades of a few units, out in the estates
            key = (int(t), int(n_parade_sites[t] // PARADE_SITES))
            n_parade_sites[t] += 1
            if key not in parades:
                angle, dist = rng.uniform(0, 2 * np.pi), r * rng.uniform(0.4, 1.3)
                parades[key] = (dist * np.cos(angle), dist * np.sin(angle))
            dx, dy = np.add(parades[key], rng.normal(0, PARADE_SPREAD_KM, 2))
        elif z == "shopping_centre":  # an enclosed centre: its units under one roof, at the edge of the high street
            dx = 0.25 * r + rng.normal(0, 0.02 * r)
            dy = rng.normal(0, 0.02 * r)
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


# ---- a real place: sites and population from CSV ---------------------------------------------

SITE_COLUMNS = ("x", "y", "floor_area_m2", "rent_eur_m2_year", "zone", "town")
POPULATION_COLUMNS = ("x", "y", "count")
MAX_CELL_COUNT = 1e9  # households in one cell: more than any city holds, and a sum of them stays finite


def _read_csv(path: str, required: tuple[str, ...]) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and rows of a CSV file, each row with its line number in the file as an editor
    counts it (comment lines starting with '#' and blank lines count, though they are skipped).

    Accepts UTF-8 with or without a byte-order mark (Excel's "CSV UTF-8"); any other encoding is
    refused in one line naming the line of the first byte that is not UTF-8.
    """
    from sim.scenario import ScenarioError

    if not Path(path).is_file():
        raise ScenarioError(f"{path}: no such file")
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ScenarioError(f"{path}: line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file "
                            f"as \"CSV UTF-8\"") from None
    if "\x00" in text:
        raise ScenarioError(f"{path}: not a text CSV file (it holds NUL bytes)")
    kept: list[str] = []
    line_of: list[int] = []  # kept line i is line line_of[i] of the file
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        if line.lstrip().startswith("#"):
            continue
        kept.append(line)
        line_of.append(number)
    reader = csv.DictReader(kept)
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in required if c not in header]
        if missing:
            raise ScenarioError(f"{path}: missing column{'s' if len(missing) > 1 else ''} "
                                f"{', '.join(missing)}; the file needs {', '.join(required)}"
                                + (f" (its header is: {', '.join(header)})" if header else " (it has no header)"))
        rows = []
        for row in reader:
            line = line_of[reader.line_num - 1] if reader.line_num else 0
            if None in row:
                raise ScenarioError(f"{path}: line {line}: more fields than the header's {len(header)} columns")
            rows.append((line, {k.strip(): (v or "").strip() for k, v in row.items() if k}))
    except csv.Error as exc:
        line = line_of[min(reader.line_num, len(line_of)) - 1] if line_of else 1
        raise ScenarioError(f"{path}: line {line}: not valid CSV ({exc})") from None
    if not rows:
        raise ScenarioError(f"{path}: no rows after the header")
    return header, rows


def _number(path: str, line: int, column: str, text: str, low: float | None = None,
            low_inclusive: bool = True, high: float | None = None) -> float:
    from sim.scenario import ScenarioError

    try:
        value = float(text)
    except ValueError:
        raise ScenarioError(f"{path}: line {line}, column {column}: not a number (got {text!r})") from None
    too_low = low is not None and (value < low if low_inclusive else value <= low)
    if too_low or (high is not None and value > high) or not np.isfinite(value):
        bound = f"{'≥' if low_inclusive else '>'} {low:g}" if low is not None else ""
        if high is not None:
            bound = f"between {low:g} and {high:g}" if low is not None else f"≤ {high:g}"
        raise ScenarioError(f"{path}: line {line}, column {column}: must be {bound} (got {text})")
    return value


def n_sites_of(cfg: RegionConfig) -> int:
    """How many sites a region starts with: as many as its sites file lists, else ``n_sites`` (before any plots
    of new floor space)."""
    return len(read_sites(cfg.sites_csv, cfg)["x"]) if cfg.sites_csv else cfg.n_sites


def read_sites(path: str, cfg: RegionConfig) -> dict[str, np.ndarray | list[str]]:
    """Sites from CSV, checked row by row; errors name the file, line and column."""
    from sim.scenario import ScenarioError

    header, rows = _read_csv(path, SITE_COLUMNS)
    out: dict[str, list] = {k: [] for k in (*SITE_COLUMNS, "occupant", "line")}
    for line, row in rows:
        out["line"].append(line)
        out["x"].append(_number(path, line, "x", row["x"], 0.0, True, cfg.width_km))
        out["y"].append(_number(path, line, "y", row["y"], 0.0, True, cfg.height_km))
        out["floor_area_m2"].append(_number(path, line, "floor_area_m2", row["floor_area_m2"], 0.0, False))
        out["rent_eur_m2_year"].append(_number(path, line, "rent_eur_m2_year", row["rent_eur_m2_year"], 0.0))
        if row["zone"] not in ZONES:
            raise ScenarioError(f"{path}: line {line}, column zone: must be one of {', '.join(ZONES)} "
                                f"(got {row['zone']!r})")
        out["zone"].append(row["zone"])
        if not row["town"]:
            raise ScenarioError(f"{path}: line {line}, column town: is empty")
        out["town"].append(row["town"])
        out["occupant"].append(row.get("occupant", "") if "occupant" in header else "")
    return out


def read_population(path: str, cfg: RegionConfig) -> dict[str, np.ndarray]:
    """A population grid from CSV: cell centres and household counts."""
    from sim.scenario import ScenarioError

    _, rows = _read_csv(path, POPULATION_COLUMNS)
    x, y, count = [], [], []
    for line, row in rows:
        x.append(_number(path, line, "x", row["x"], 0.0, True, cfg.width_km))
        y.append(_number(path, line, "y", row["y"], 0.0, True, cfg.height_km))
        count.append(_number(path, line, "count", row["count"], 0.0))
        if count[-1] > MAX_CELL_COUNT:
            raise ScenarioError(f"{path}: line {line}, column count: must be ≤ {MAX_CELL_COUNT:g} households in a "
                                f"cell (got {row['count']})")
    if sum(count) <= 0:
        raise ScenarioError(f"{path}: column count: every cell is empty; at least one must hold households")
    return {"x": np.array(x), "y": np.array(y), "count": np.array(count)}


def check_region_files(scenario) -> None:
    """Read and check the scenario's CSV files, if it names any, before anything runs."""
    from sim.scenario import ScenarioError

    cfg = scenario.region
    if cfg.sites_csv:
        sites = read_sites(cfg.sites_csv, cfg)
        wanted = {r.name: r.n_stores for r in scenario.retailers}
        named: dict[str, list[int]] = {}
        for line, occupant in zip(sites["line"], sites["occupant"], strict=True):
            if occupant and occupant not in wanted:
                raise ScenarioError(f"{cfg.sites_csv}: line {line}, column occupant: {occupant!r} is not a retailer "
                                    f"of the scenario ({', '.join(sorted(wanted))})")
            if occupant:
                named.setdefault(occupant, []).append(line)
        for name, lines in named.items():  # a named unit is one of the retailer's n_stores, never one more
            if len(lines) > wanted[name]:
                raise ScenarioError(f"{cfg.sites_csv}: line {lines[wanted[name]]}, column occupant: {name!r} "
                                    f"occupies {len(lines)} units in the file but its n_stores is {wanted[name]}; "
                                    f"raise retailers.{name}.n_stores to {len(lines)} or free those units")
        n_sites = len(sites["x"])
        n_stores = sum(wanted.values())
        if n_stores > n_sites:
            raise ScenarioError(f"{cfg.sites_csv}: {n_sites} sites but the retailers open {n_stores} stores")
    if cfg.population_csv:
        read_population(cfg.population_csv, cfg)


def load_region(cfg: RegionConfig, rng: np.random.Generator) -> Region:
    """The region from the scenario's CSV files (sites, and a population grid if given)."""
    sites = read_sites(cfg.sites_csv, cfg)
    town_names = list(dict.fromkeys(sites["town"]))
    town = np.array([town_names.index(t) for t in sites["town"]], dtype=np.int16)
    x, y = np.array(sites["x"]), np.array(sites["y"])
    n_towns = len(town_names)
    count = np.bincount(town, minlength=n_towns).astype(float)
    town_x = np.array([x[town == t].mean() for t in range(n_towns)])
    town_y = np.array([y[town == t].mean() for t in range(n_towns)])
    radius = np.array([max(np.hypot(x[town == t] - town_x[t], y[town == t] - town_y[t]).max(), 0.5)
                       for t in range(n_towns)])
    region = Region(
        width_km=cfg.width_km, height_km=cfg.height_km, town_x=town_x, town_y=town_y,
        town_weight=count / count.sum(), town_radius_km=radius, site_x=x, site_y=y,
        site_area_m2=np.array(sites["floor_area_m2"]), site_rent_eur_m2_year=np.array(sites["rent_eur_m2_year"]),
        site_zone=np.array([ZONE_CODE[z] for z in sites["zone"]], dtype=np.int8), site_town=town,
        share_rural=cfg.share_rural,
    )
    region.site_occupant = list(sites["occupant"])
    region.town_names = town_names
    if cfg.population_csv:
        region.home_grid = read_population(cfg.population_csv, cfg)
    return region


def build_region(cfg: RegionConfig, rng: np.random.Generator) -> Region:
    """The scenario's region: its own sites if it names a CSV, else a generated one; homes from
    the population grid if it names one."""
    region = load_region(cfg, rng) if cfg.sites_csv else generate_region(cfg, rng)
    if cfg.population_csv and region.home_grid is None:
        region.home_grid = read_population(cfg.population_csv, cfg)
    return region
