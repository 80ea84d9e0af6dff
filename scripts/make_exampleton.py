"""Write scenarios/towns/exampleton_sites.csv: Exampleton's retail units, from a fixed seed.

Exampleton is a made-up market town of about 15,000 households (scenarios/exampleton.toml:
6,000 consumers at 2.5 households each), about 36,000 residents at 2.4 persons a household
(ONS Family Spending FYE2018), living on the grid of scenarios/towns/exampleton_population.csv: a
town around (5, 5) km whose homes spread with a standard deviation of about 1.1 km, and the village
of Littlebury around (1.5, 1.8) km with about 2.6 % of the households. England and Wales hold about
9.0 retail units per 1,000 residents (505,000 retail hereditaments on the 2010 rating list over
56.1 million residents; data/uk_retail_units_voa.csv), so the town gets 320 units:

- town centre, 232: a high street running east-west through (5, 5) and two side streets; a few
  large anchors among small shops. Floor areas lognormal with median 190 m², near the mean letting
  of 187 m² (EG Radius, data/uk_unit_sizes_reported.csv); rents around the schema's centre rent of
  220 € per m² a year (sim/scenario.py, RegionConfig.rent_eur_m2_year), highest at the middle of the
  high street;
- shopping centre, 30: a covered precinct under one roof at the east end of the high street, one
  anchor and small units (median 200 m²), at the schema's shopping-centre rent of 260 €;
- local parades, 42: the two parades of the old file, grown to 6 units each, and six more parades of
  5 out in the estates, 1.3 to 1.9 km from the centre (ACS: a small parade holds up to five
  businesses, data/uk_convenience_stores_acs_reported.csv); floor areas median 145 m², near IGD's
  mean convenience store of 151 m², under the 280 m² Sunday-trading line (data/uk_unit_sizes_
  reported.csv); rents around the schema's 140 €;
- retail park, 8: big boxes of 1,000 to 2,500 m² (a retail warehouse has 1,000 m² or more;
  discounters seek 1,500 to 1,900 m²: data/uk_unit_sizes_reported.csv), rents around the schema's
  110 €. The park stands where the model's own region generator puts one (sim/town.py: 1.5 × the
  town's spread + 0.5 km out, about 2.2 km), on the bearing of the old file's park (north-east), at
  the edge of the built-up area; the old file had it 4.3 km out, where few households live;
- Littlebury, 8: the village's shops (about 930 residents, so about 8 units), at centre rents
  scaled as the generator scales a small town's (0.7 + 0.3 × its share of the largest town's units).

Together their mean floor area is about 260 m², near the rough 311 m² per retail hereditament of
England and Wales (157 million m² over 505,000 units, data/uk_unit_sizes_reported.csv). The unit mix
by location type is this project's assumption: no source found gives the shares of a town's units in
its centre, parades and parks (data/README.md, "Not found (yet)").

The units named in the old file keep their floor area and rent: Grocer's supermarket on the high street,
Discounter's store on the retail park (its one unit), and the small shop on the high street that was the
Discounter's, now a convenience chain's (Express): at Britain's outlets per resident a town of 36,000 has about
one discounter's supermarket (scenarios/exampleton.toml).

Run:  python scripts/make_exampleton.py   (the file is rewritten byte for byte the same each time)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "scenarios" / "towns" / "exampleton_sites.csv"
SEED = 20261202

CENTRE = (5.0, 5.0)  # the middle of Exampleton's high street (km)
TOWN_SPREAD_KM = 1.14  # standard deviation of the population grid's town (fitted to its cells)
RENT = {"centre": 220.0, "neighbourhood": 140.0, "retail_park": 110.0, "shopping_centre": 260.0}  # RegionConfig

# The named units of the old file: (x, y, floor area, rent, zone, occupant); the park's moves with the park.
NAMED_CENTRE = [(4.60, 5.01, 504, 269, "Grocer"), (5.16, 5.02, 219, 255, "Express")]
NAMED_PARK = (1710, 95, "Discounter")

N_HIGH_STREET = 140  # both sides of the high street
N_SIDE_STREETS = 92  # both sides of two side streets
N_SHOPPING_CENTRE = 30
PARADES = [  # (centre x, y, units): the old file's two, then six more in the estates
    (3.275, 6.50, 6), (6.875, 3.40, 6),
    *[(CENTRE[0] + d * np.cos(np.radians(a)), CENTRE[1] + d * np.sin(np.radians(a)), 5)
      for a, d in ((95, 1.5), (185, 1.6), (265, 1.4), (5, 1.7), (225, 1.9), (60, 1.3))],
]
N_PARK = 8
PARK_BEARING_DEG = 36.0  # the old file's park lay north-east of the centre, on this bearing
N_VILLAGE = 8
VILLAGE = (1.55, 1.80)


def lognormal(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return median * rng.lognormal(0.0, sigma, n)


def build(rng: np.random.Generator) -> list[tuple]:
    rows: list[tuple] = []  # (x, y, area, rent, zone, town, occupant)

    # Town centre: the high street (east-west) and two side streets (north-south), shops on both sides.
    xs = np.linspace(4.35, 5.65, N_HIGH_STREET // 2)
    street = [(x, CENTRE[1] + side * 0.012) for x in xs for side in (-1, 1)]
    for sx, (y0, y1) in ((4.80, (4.70, 5.30)), (5.25, (4.72, 5.28))):
        ys = np.linspace(y0, y1, N_SIDE_STREETS // 4 + 2)
        ys = ys[np.abs(ys - CENTRE[1]) > 0.02]  # the crossing with the high street holds no extra shops
        street += [(sx + side * 0.012, y) for y in ys[: N_SIDE_STREETS // 4] for side in (-1, 1)]
    street = street[: N_HIGH_STREET + N_SIDE_STREETS - len(NAMED_CENTRE)]
    n = len(street)
    area = lognormal(rng, 190.0, 0.55, n)
    anchors = rng.choice(n, size=4, replace=False)  # a department store, a supermarket, two big shops
    area[anchors] = rng.uniform(900.0, 1800.0, 4)
    for (x, y), a in zip(street, area, strict=True):
        d = np.hypot(x - CENTRE[0], y - CENTRE[1])  # prime pitch in the middle, cheaper at the ends
        rent = RENT["centre"] * (1.25 - 0.5 * min(d / 0.65, 1.0)) * rng.lognormal(0.0, 0.08)
        rows.append((x + rng.normal(0, 0.003), y + rng.normal(0, 0.003), a, rent, "centre", "Exampleton", ""))
    for x, y, a, rent, occupant in NAMED_CENTRE:
        rows.append((x, y, a, rent, "centre", "Exampleton", occupant))

    # Shopping centre: a covered precinct just south of the east end of the high street.
    area = lognormal(rng, 200.0, 0.45, N_SHOPPING_CENTRE)
    area[0] = 1500.0  # its anchor store
    for a in area:
        rows.append((5.48 + rng.normal(0, 0.02), 4.88 + rng.normal(0, 0.015), a,
                     RENT["shopping_centre"] * rng.lognormal(0.0, 0.08), "shopping_centre", "Exampleton", ""))

    # Local parades: a row of units 20 m apart.
    for px, py, k in PARADES:
        area = lognormal(rng, 145.0, 0.35, k)
        for i, a in enumerate(area):
            rows.append((px + (i - (k - 1) / 2) * 0.02, py + rng.normal(0, 0.004), a,
                         RENT["neighbourhood"] * rng.lognormal(0.0, 0.1), "neighbourhood", "Exampleton", ""))

    # Retail park: big boxes 60 m apart at the generator's distance, on the old park's bearing.
    dist = 1.5 * TOWN_SPREAD_KM + 0.5
    bx = CENTRE[0] + dist * np.cos(np.radians(PARK_BEARING_DEG))
    by = CENTRE[1] + dist * np.sin(np.radians(PARK_BEARING_DEG))
    area = rng.uniform(1000.0, 2500.0, N_PARK)
    area[0] = NAMED_PARK[0]
    for i, a in enumerate(area):
        rent = NAMED_PARK[1] if i == 0 else RENT["retail_park"] * rng.lognormal(0.0, 0.1)
        rows.append((bx + (i % 4 - 1.5) * 0.06, by + (i // 4 - 0.5) * 0.07, a, rent, "retail_park", "Exampleton",
                     NAMED_PARK[2] if i == 0 else ""))

    # Littlebury: the village street.
    n_town = len(rows)
    village_rent = RENT["centre"] * (0.7 + 0.3 * N_VILLAGE / n_town)
    area = lognormal(rng, 110.0, 0.35, N_VILLAGE)
    for i, a in enumerate(area):
        rows.append((VILLAGE[0] + (i - (N_VILLAGE - 1) / 2) * 0.03, VILLAGE[1] + rng.normal(0, 0.004), a,
                     village_rent * rng.lognormal(0.0, 0.08), "centre", "Littlebury", ""))
    return rows


def render(rows: list[tuple]) -> str:
    zones = {}
    for row in rows:
        key = f"{row[4]} ({row[5]})" if row[5] != "Exampleton" else row[4]
        zones[key] = zones.get(key, 0) + 1
    mix = ", ".join(f"{k} {v}" for k, v in zones.items())
    lines = [
        "# Exampleton: a made-up market town of about 15,000 households, for planners to copy.",
        "# Coordinates in km; floor area in m²; rent in € per m² per year.",
        f"# Generated by scripts/make_exampleton.py (seed {SEED}); edit the script, not this file, to change it.",
        f"# {len(rows)} units: {mix};",
        "# about 9 per 1,000 of the town's ~36,000 residents, as England and Wales hold (505,000 retail units on the",
        "# 2010 rating list over 56.1 million residents: data/uk_retail_units_voa.csv).",
        "x,y,floor_area_m2,rent_eur_m2_year,zone,town,occupant",
    ]
    for x, y, a, rent, zone, town, occupant in rows:
        lines.append(f"{x:.3f},{y:.3f},{max(round(a), 20)},{round(rent)},{zone},{town},{occupant}")
    return "\n".join(lines) + "\n"


def main() -> int:
    rows = build(np.random.default_rng(SEED))
    for x, y, *_ in rows:
        assert 0 <= x <= 10 and 0 <= y <= 10
    OUT.write_text(render(rows), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(rows)} units")
    return 0


if __name__ == "__main__":
    sys.exit(main())
