"""The scenario schema: the one home of every parameter and its default.

A scenario is a TOML file validated against :class:`Scenario`. The CLI, the model's
keyword arguments and the docs all read defaults and limits from here. Errors name
the file, the field and what is allowed, in one line (:class:`ScenarioError`).
"""

from __future__ import annotations

import copy
import numbers
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

Zone = Literal["centre", "neighbourhood", "retail_park", "shopping_centre"]
# location types as planners and the published statistics name them: centre = high street (town centre),
# neighbourhood = local parade, retail_park, shopping_centre (enclosed, with a service charge). The order is
# the site code: a new type goes last so that codes, and the draws of regions without it, stay as they were.
ZONES: tuple[str, ...] = ("centre", "neighbourhood", "retail_park", "shopping_centre")
CLASSIC_ZONES: tuple[str, ...] = ZONES[:3]  # reported for every region, whether it has such units or not
StrategyName = Literal["mass", "loyalty", "learning"]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
# what grows with the number of retailers is per week, not per consumer: a metrics row each and the (R + 1) × R
# table of flows between them; 1,883 (the baseline's 8 chains, scaled, and a pool of 1,875 independents for a
# region of 2,500 units) peaked at 1.0 GB in a ten-year run, measured 2026-12-06
MAX_RETAILERS = 2_500
MAX_SLOTS = 64  # repertoire slots in all categories together (option pointers are one byte)
ALL_RETAIL = "all_retail"  # the one category of a scenario that declares none


class ScenarioError(ValueError):
    """Bad scenario input: the message is one line naming source, field and what is allowed."""


class _Section(BaseModel):
    """A table of the schema: unknown keys, non-finite numbers and values of the wrong type are refused
    (no true for a number, no "2000" for a count, no "yes" for true/false)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_coercion(cls, value: Any, info: ValidationInfo) -> Any:
        problem = _type_problem(cls.model_fields[info.field_name].annotation, value)
        if problem:
            raise ValueError(problem)
        return value


def _scalar_kind(annotation: Any) -> str | None:
    """'bool', 'int', 'float' or 'str' for a field of that type (or optional, or constrained), else None."""
    if annotation in (bool, int, float, str):
        return annotation.__name__
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return _scalar_kind(args[0])
    if origin is Literal:
        return "str" if all(isinstance(a, str) for a in args) else None
    if origin in (typing.Union, types.UnionType):
        kinds = {_scalar_kind(a) for a in args if a is not type(None)}
        return kinds.pop() if len(kinds) == 1 else None
    return None


_EXPECTED = {"bool": "a valid boolean (true or false)", "int": "a valid integer (a whole number)",
             "float": "a valid number", "str": "text"}


def _type_problem(annotation: Any, value: Any) -> str | None:
    """Why ``value`` is of the wrong type for a field of ``annotation``, or None if it is not."""
    if typing.get_origin(annotation) is dict:  # e.g. floor area by zone: check each value
        kind = _scalar_kind(typing.get_args(annotation)[1])
        if isinstance(value, dict) and kind:
            for key, item in value.items():
                problem = _type_problem(typing.get_args(annotation)[1], item)
                if problem:
                    return f"{key}: {problem} (got {item!r})"
        return None
    kind = _scalar_kind(annotation)
    if kind is None or value is None:
        return None
    numpy_bool = type(value).__module__ == "numpy" and "bool" in type(value).__name__  # from mesa.batch_run
    ok = {"bool": lambda v: isinstance(v, bool) or numpy_bool,
          "int": lambda v: (isinstance(v, numbers.Integral) and not isinstance(v, bool))
          or (isinstance(v, float) and v.is_integer()),
          "float": lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool),
          "str": lambda v: isinstance(v, str)}[kind](value)
    if ok:
        return None
    given = {bool: "true/false", str: "text", list: "a list", dict: "a table"}.get(type(value), type(value).__name__)
    return f"Input should be {_EXPECTED[kind]}, not {given}"


class RegionConfig(_Section):
    """The synthetic region: towns on a plane, each with centre, neighbourhood and park sites."""

    width_km: float = Field(30.0, ge=0.1, le=1000, description="Width of the region (km).")
    height_km: float = Field(30.0, ge=0.1, le=1000, description="Height of the region (km).")
    n_towns: int = Field(3, ge=1, le=50, description="Number of towns.")
    town_size_ratio: float = Field(
        0.5, ge=0.01, le=1, description="Population of each town relative to the previous one."
    )
    n_sites: int = Field(28, ge=1, le=100_000, description="Retail sites in the whole region.")
    share_sites: dict[Zone, Fraction] = Field(
        default_factory=lambda: {"centre": 0.45, "neighbourhood": 0.35, "retail_park": 0.2},
        description="Share of sites in each zone (normalised to sum to 1).",
    )
    floor_area_m2: dict[Zone, Annotated[float, Field(ge=1, le=100_000)]] = Field(
        default_factory=lambda: {"centre": 700.0, "neighbourhood": 350.0, "retail_park": 1200.0,
                                 "shopping_centre": 400.0},
        description="Mean floor area of a site in each zone (m²); shopping_centre 400 is an assumption "
                    "(data/uk_unit_sizes_reported.csv has no shopping-centre unit sizes).",
    )
    rent_eur_m2_year: dict[Zone, Annotated[float, Field(ge=0, le=10_000)]] = Field(
        default_factory=lambda: {"centre": 220.0, "neighbourhood": 140.0, "retail_park": 110.0,
                                 "shopping_centre": 260.0},
        description="Base rent of a site in each zone (€ per m² per year); shopping_centre 260 is an assumption "
                    "(data/uk_rents_service_charges_reported.csv has no rents by location type).",
    )
    service_charge_eur_m2_year: dict[Zone, Annotated[float, Field(ge=0, le=10_000)]] = Field(
        default_factory=lambda: {"shopping_centre": 50.0},
        description="Service charge an occupier pays on top of rent in each zone (€ per m² per year; zones not "
                    "named pay none): an enclosed shopping centre's landlord charges for its common parts. 50: "
                    "the mean of £4.67 per sq ft (£50.3 per m²) over 70 of the 100 largest UK centres in 2011, "
                    "inside the 2013 interquartile range of £44-76 per m² (SCOR for Retail, "
                    "data/uk_rents_service_charges_reported.csv), taken at face value in the model's money.",
    )
    share_rural: Fraction = Field(0.1, description="Share of consumers living outside towns.")
    sites_csv: str | None = Field(
        None, description="Your own sites: CSV with x, y (km), floor_area_m2, rent_eur_m2_year, zone, town "
                          "and optionally occupant (a retailer's name); path relative to the scenario file.",
    )
    population_csv: str | None = Field(
        None, description="Your own population: CSV grid with x, y (km, cell centres) and count; "
                          "path relative to the scenario file.",
    )
    town_radius_km: float = Field(
        3.0, ge=0.01, le=100, description="Spread of homes around the largest town (km): the standard deviation of "
        "their normal spread about its middle; smaller towns' scale with the square root of their size, so every "
        "town has the same density. The baseline sets it from the density of Britain's built-up areas (ONS 2011, "
        "about 3,790 residents per km²; data/uk_built_up_areas_ons2011.csv).")


class ConsumerConfig(_Section):
    """Consumers: many, held as arrays. Budgets are heavy-tailed (the Pareto rule)."""

    n: int = Field(20_000, ge=1, le=10_000_000, description="Number of consumers.")
    households_per_agent: float = Field(
        1.0, ge=0.001, le=1e6, description="Households each simulated consumer stands for (scales money, not counts)."
    )
    budget_mean_eur: float = Field(
        60.0, ge=0.01, le=10_000, description="Mean weekly category budget at cost prices (€ per week)."
    )
    share_spend_top20: float = Field(
        0.8, gt=0.2, lt=1.0, description="Share of all budget held by the top 20 % of consumers."
    )
    p_shop: Fraction = Field(0.8, description="Probability that a consumer shops in a given week "
                             "(with [[categories]] declared, each category's p_trip instead).")
    price_sens_mean: float = Field(
        8.0, ge=0, le=100, description="Mean utility lost per unit of relative price (0.1 = 10 % dearer)."
    )
    travel_sens_mean: float = Field(0.35, ge=0, le=20, description="Mean utility lost per km travelled (with "
                                    "share_by_car > 0, by those who shop on foot or by bus).")
    share_by_car: Fraction = Field(
        0.0, description="Share of consumers who shop by car. 0 tells no one apart: everyone loses travel_sens_mean "
        "a km and pays the centre's parking charge. Above 0, a consumer who shops by car loses travel_sens_car_mean "
        "a km instead, and only she pays the parking charge (who does is a draw of the run's travel stream). In "
        "England 65.1 % of shopping trips were made by car, as driver or passenger, in 2019 (DfT National Travel "
        "Survey NTS0409a; 74.4 % of households in England and Wales had a car or van in 2011: "
        "data/uk_travel_by_mode_reported.csv).",
    )
    travel_sens_car_mean: float = Field(
        0.35, ge=0, le=20, description="Mean utility lost per km travelled by a consumer who shops by car "
        "(share_by_car); by default travel_sens_mean's 0.35, so that share_by_car alone changes only who pays the "
        "parking charge. Finland's national transport model estimates a shopping destination's utility at -0.103 "
        "(groceries) and -0.063 (other shopping) a minute by car, and -0.875 and -0.641 a km on foot; at the 25.4 mph "
        "of England's local A roads (DfT, 2018/19) a km by car costs a sixth of a km on foot "
        "(data/uk_travel_by_mode_reported.csv gives the figures and the rule).",
    )
    taste_weight: float = Field(
        3.0, ge=0, le=100, description="Utility lost per unit of distance in taste space to a retailer."
    )
    share_online_initial: Fraction = Field(
        0.15, description="Share of consumers who have adopted online shopping at the start."
    )
    repertoire_slots: int = Field(
        6, ge=1, le=32, description="Retailers whose relationship with her (habit, tenure, points, knowledge) "
        "a consumer holds at once; a purchase elsewhere takes her weakest slot. Repertoire buying: a shopper "
        "spreads her purchases over a few stores (Ehrenberg 1988, Repeat-Buying); 6 holds every retailer a "
        "shopper of the chains world (scenarios/chains.toml) uses. With [[categories]] declared, each category's "
        "repertoire_slots instead.",
    )


class ChoiceConfig(_Section):
    """The weekly multinomial-logit choice between stores and online channels."""

    inertia: float = Field(
        2.0, ge=0, le=20,
        description="Mean utility of a full habit at one retailer (earned by a run of purchases there); "
        "2.0 puts main-store switching in the chains world (scenarios/chains.toml) near the 12–16 % a year of "
        "UK grocery."
    )
    inertia_sd: float = Field(
        0.4, ge=0, le=2, description="Spread (lognormal sigma) of habit strength across consumers."
    )
    deal_proneness: float = Field(
        0.5, ge=0, lt=1,
        description="Correlation between price sensitivity and weak habit: deal-prone consumers switch more.",
    )
    habit_build: float = Field(
        0.3, ge=0.001, le=1, description="Share of the way to full habit that one purchase goes: habit toward each "
        "retailer is a smoothed purchase history (Guadagni & Little 1983); 1: full habit after one purchase.",
    )
    online_inertia_factor: Fraction = Field(
        0.8, description="Inertia online as a fraction of inertia in store (online is less inert)."
    )
    online_friction_mean: float = Field(
        0.3, ge=-20, le=20, description="Mean utility cost of buying online for an adopter (delivery wait, fees)."
    )
    online_friction_sd: float = Field(0.8, ge=0, le=10, description="Spread of online friction across consumers.")
    online_price_sens_factor: float = Field(
        1.5, ge=0, le=10, description="Price sensitivity online relative to in store (easy comparison)."
    )
    footfall_weight: float = Field(
        0.7, ge=0, le=20, description="Utility of a site at the densest open floor space in the region "
        "(0.7: worth about 2 km of an average shopper's travel)."
    )
    store_size_weight: float = Field(
        0.0, ge=0, le=3, description="Utility of a store's own floor space: weight × ln(its floor / the region's mean "
        "unit's). 0: a store's size does not count, and a retail-park unit of 700 m² draws no more shoppers than a "
        "shop of 150 m². 1: a store's weight in the choice is in proportion to its floor space, as in Huff's model of "
        "retail attraction (Huff 1963, Land Economics 39(1)) and in destination-choice models, which estimate the "
        "log of a destination's size with a coefficient of about 1 (1.14 for shopping tours in Singapore's "
        "SimMobility; fixed at 1 in Finland's national transport model: the sources of consideration_draw_scale). A "
        "chain expects a new unit to sell in proportion to (its floor / its stores')^weight.",
    )
    footfall_radius_km: float = Field(
        1.0, ge=0.01, le=100, description="Radius within which floor space adds footfall (km)."
    )
    chain_store_scale: float = Field(
        1.0, ge=0, le=1, description="How a retailer's several stores within a shopper's scan add up in her choice: "
        "the retailer's access value is the logsum of its stores' (scale × ln Σ exp(access / scale)), so with 1 "
        "every store counts as in store-level choice models (Huff 1963, Land Economics 39(1); Smith 2004, Review "
        "of Economic Studies 71(1), for Britain's supermarkets) and a chain near her through three stores is "
        "likelier to be chosen than through one; towards 0 only her best store of each retailer counts (a "
        "chain's stores as perfect substitutes). She buys at her best store of the chosen retailer either way.",
    )
    active_window_weeks: int = Field(
        13, ge=1, le=104, description="A consumer is an active customer of r if she bought from r in this many weeks."
    )
    consideration_stores: int = Field(
        6, ge=1, le=64, description="Retailers whose stores a consumer weighs in the weekly choice: her best "
        "ones by taste and access (chain_store_scale). Consideration sets hold about 3 to 5 brands in most "
        "categories (Hauser & Wernerfelt 1990, Journal of Consumer Research 16(4)); with every store in it the "
        "choice is the full logit.",
    )
    consideration_draw_scale: float = Field(
        0.0, ge=0, le=10, description="How her store options are chosen among the stores she scans: 0 takes her "
        "best consideration_stores retailers by taste and access; s > 0 ranks them by taste and access plus s × a "
        "Gumbel draw of her own for each retailer, fixed for the run. With 1 the set is a draw without replacement "
        "in proportion to each retailer's logit weight (the Gumbel-max rule; McFadden 1978, sampling of "
        "alternatives), so a cluster of many stores holds a share of shoppers' options that grows with its number "
        "of stores, as destination-choice models estimate (the log of a destination's size enters with a "
        "coefficient of about 1: 1.14 estimated for shopping tours in Singapore's SimMobility, 1 in Finland's "
        "national transport model; the taking of the best few loses that count).",
    )
    consideration_draw_correction: bool = Field(
        True, description="With a draw (consideration_draw_scale > 0) and more retailers in her scan than her set "
        "holds: each drawn retailer's utility is less the log of its chance to have been drawn (the correction for "
        "sampled alternatives, McFadden 1978, in the form priority sampling gives a draw without replacement: "
        "Duffield, Lund & Thorup 2007; Kool, van Hoof & Welling 2019), so that her few options stand for the whole "
        "market she scans and the market's choices follow the full logit's whatever the set's size. False: her "
        "drawn options weigh by their logit weights alone, so a retailer likely to be drawn counts twice, in the "
        "draw and in the choice, and chains of many stores take more of the spending the smaller the set (in the "
        "baseline, seed 1, with six options the comparison chains sold 16,463 € per m² a year and the comparison "
        "independents 743; with 64 options, 8,442 and 1,670; with the correction, 6,756 and 2,295 with six; measured "
        "2026-12-07, before independents.exit_loss_reviews went from 8 to 3).",
    )
    consideration_online: int = Field(
        4, ge=0, le=64, description="Web shops an online adopter weighs: the ones that fit her taste best; a "
        "consideration set of a few, as for stores (Hauser & Wernerfelt 1990).",
    )
    stores_scanned: int = Field(
        32, ge=1, le=100_000, description="Nearest open stores of a trade looked at when a consumer's store "
        "options are chosen. With consideration_draw_scale 0 (her best few) an engine setting: enough that no store "
        "beyond them could be worth more for its footfall; towns of up to 32 open stores are scanned whole. With "
        "consideration_draw_scale > 0 any open store could be drawn, so the scan truncates the draw, and not "
        "harmlessly: in a big town the 32 nearest are mostly one cluster's. A number at least the trade's open "
        "stores scans the region whole and the draw is exact (the baseline scans its 1,000 units; docs/planners.md "
        "gives what 32, 96 and 256 change there).",
    )


class AdoptionConfig(_Section):
    """Bass diffusion of online shopping among consumers (annual rates)."""

    p_innovation: Fraction = Field(0.005, description="Bass innovation coefficient p (per year).")
    q_imitation: float = Field(0.3, ge=0, le=5, description="Bass imitation coefficient q (per year).")


class StoreConfig(_Section):
    """Store running costs and the closure policy retailers apply at each review."""

    staff_eur_m2_year: float = Field(
        150.0, ge=0, le=20_000, description="Staff cost per m² of floor (€ per year). An assumption, and low: the "
        "national accounts' retail trade (SIC 47, 2015) pays its employees about €474 per m² of the UK's retail "
        "floor space and its other running costs but rent about €478 more (ONS supply and use tables over "
        "Northumbria University's 114 million m² of England and Wales; data/uk_retail_cost_structure_sut.csv, "
        "data/uk_unit_sizes_reported.csv), head offices, warehouses and online selling included. "
        "experiments/highstreet_flows.py runs the baseline with those €952 in place of this and the fixed cost.")
    fixed_eur_year: float = Field(30_000.0, ge=0, le=1e8, description="Fixed cost of running a store (€ per year); "
                                  "an assumption (see staff_eur_m2_year).")
    closure: Literal["never", "loss_threshold", "rationalise", "online_shift"] = Field(
        "loss_threshold", description="Store-closure policy of retailers: never, loss_threshold, rationalise "
                                      "(close the worst stores each year) or online_shift (close the worst as "
                                      "the retailer's online share grows).",
    )
    loss_reviews: int = Field(
        4, ge=1, le=40, description="loss_threshold: close after this many reviews in a row with a trailing-year loss."
    )
    min_age_weeks: int = Field(52, ge=0, le=520, description="A store is not judged before it is this old (weeks).")
    rationalise_share: Fraction = Field(
        0.1, description="rationalise: share of its stores a retailer closes each year, worst first "
                         "(only loss-making ones)."
    )
    online_shift_step: float = Field(
        0.1, ge=0.001, le=1, description="online_shift: the worst store closes each time the retailer's online share "
                                     "of revenue passes another step of this size."
    )
    access_km: float = Field(
        2.0, ge=0.01, le=100, description="Distance within which a consumer counts as having a store (km)."
    )
    rent_cut_per_review: Fraction = Field(
        0.05, description="Landlords cut the asking rent of a vacant site by this share at each review."
    )
    rent_floor_share: Fraction = Field(0.5, description="Asking rent never falls below this share of the base rent.")
    entry: bool = Field(
        False, description="Retailers open stores on vacant sites where the expected profit clears the hurdle."
    )
    entry_hurdle: float = Field(
        0.15, ge=0, le=5, description="Expected yearly contribution a new store must make, as a share of its costs "
        "(an assumption; a chain applies it too when it renews a lease). The baseline sets 0, tuned to chains' "
        "published openings and closures by experiments/calibrate_flows.toml."
    )
    share_estate_opened_per_review: Fraction = Field(
        0.0, description="Most stores a chain may open at one review, as a share of its open stores (rounded down, "
        "at least one; each must clear entry_hurdle, with the local demand counted anew after each). 0 keeps one a "
        "review, the rule so far, whatever the estate: seven store chains then open at most 28 stores a year "
        "besides moves, 2.8 per 100 units at 1,000 units, near Britain's 2.1-3.5, but 1.1 at 2,500 (where the "
        "chains opened 2.0 per 100 a year; up to three a review raised that to 4.2, seed 1, measured 2026-12-06). "
        "On the baseline's 1,000 units 0.03 changed nothing and 0.06 more than doubled the chains' openings and "
        "closures (7.8 and 6.9 per 100 units a year, experiments/calibrate_flows.toml, 2026-12-07), so it keeps 0. No "
        "source gives it: a bigger region tunes it to chains' openings.",
    )
    format_ratio_max: float | None = Field(
        None, ge=1, le=100, description="A retailer with stores opens only on units whose floor area is within this "
        "factor of its stores' median (its format: a big box on a retail park, a small shop in a centre); none: any "
        "unit of its zones.",
    )
    p_administration_year: Fraction = Field(
        0.012, description="Yearly probability that a chain enters administration, where the property market is on "
        "(chains hold leases there, and an administrator is how a chain leaves the ones it is bound to). An "
        "administration affects all of a chain's stores, so this is the share of chains' stores affected a year: "
        "17,387 stores in the UK's retail administrations of 2010-2018 (Centre for Retail Research, 728 to 3,951 a "
        "year) over nine years and about 163,000 chains' units in Great Britain (the 302,700 independents' units of "
        "2017 at their 65 % share, bira-Local Data Company), 1.2 % a year (data/uk_retail_administrations_reported"
        ".csv). 0: chains never fail.",
    )
    share_closed_in_administration: Fraction = Field(
        0.5, description="Share of a chain's stores its administrator closes, those contributing least; the rest "
        "trade on under the chain (most large firms come out of administration still trading: Centre for Retail "
        "Research). About a half: 1,990 stores closed as a direct result of major retailers' administrations in 2012 "
        "(The Retail Database) against 3,951 stores affected (CRR), and a little under a half of the employees of "
        "2009's administrations lost their jobs (CRR; data/uk_retail_administrations_reported.csv).",
    )


class OnlineConfig(_Section):
    """Costs of an online channel."""

    delivery_eur_order: float = Field(
        4.0, ge=0, le=1000, description="Fulfilment and delivery cost per online order (€)."
    )
    fixed_eur_year: float = Field(
        150_000.0, ge=0, le=1e9, description="Fixed cost of running an online channel (€ per year)."
    )


class MunicipalConfig(_Section):
    """The town's levers on its retail (all off by default)."""

    vacancy_tax_eur_m2_year: float = Field(
        0.0, ge=0, le=10_000,
        description="Tax on vacant floor space, paid by its landlord (€ per m² per year): landlords "
                    "cut asking rents faster and further to let the site.",
    )
    rent_relief_independents: Fraction = Field(
        0.0, description="Share of an independent's rent the town pays, outside retail parks.",
    )
    shared_platform: bool = Field(
        False, description="A town-run online and click-and-collect platform: independents without a web shop "
                           "sell online through it.",
    )
    platform_fee_share: Fraction = Field(
        0.05, description="Commission the shared platform takes on an independent's online sales "
                          "(instead of a web shop's fixed cost).",
    )
    centre_parking_eur: float = Field(
        0.0, ge=0, le=100, description="Parking charge per visit to a store in a town centre (€); weighs like a price.",
    )
    delivery_levy_eur_order: float = Field(
        0.0, ge=0, le=100, description="Levy on each delivered online order (€), collected by the town.",
    )
    levy_pass_through: Fraction = Field(
        0.5, description="Share of the delivery levy the consumer pays as a delivery charge "
                         "(the retailer pays the rest).",
    )
    out_of_town_cap_m2: float | None = Field(
        None, ge=0, le=1e8, description="Cap on new retail-park floor space opened during the run (m²); none: no cap.",
    )
    new_floor_space_m2: dict[Zone, Annotated[float, Field(ge=0, le=1e7)]] = Field(
        default_factory=dict,
        description="New retail floor space each town permits over the run, by location type (m²; types not named: "
                    "none). A developer builds it one unit at a time, beside the town's units of that type, where "
                    "every one of them is let and the rent there yields property.development_yield on "
                    "property.build_cost_eur_m2. Empty (the default): no new floor space, a planner's lever.",
    )



class PropertyConfig(_Section):
    """The property market: asking rents that rise where units are contested, and long-empty units that
    leave retail use (off by default; asking rents of vacant units fall as before either way)."""

    enabled: bool = Field(
        False, description="Landlords raise the asking rent of contested units, and units empty long enough may "
                           "leave retail use (conversion).",
    )
    rent_rise_contested: Fraction = Field(
        0.05, description="When two or more would-be occupants want the same unit at one review, its landlord "
                          "raises the asking rent by this share (and its reference rent, the one it asks afresh "
                          "after a closure). An assumption: data/ holds no rents by location type.",
    )
    rent_cap_share: float = Field(
        1.5, ge=1, le=10, description="A landlord's reference rent never rises above this multiple of the unit's "
                                      "base rent (an assumption).",
    )
    conversion_after_years: float | None = Field(
        3.0, ge=0.25, le=50, description="Years a unit must stand empty before it may leave retail use (to homes, "
                                         "offices); none: never. An assumption, a planner's lever.",
    )
    p_conversion_year: Fraction = Field(
        0.25, description="Yearly probability that a unit empty for conversion_after_years or more is converted "
                          "(an assumption: data/ holds conversion approvals only for validation).",
    )
    lease_years: float | None = Field(
        7.0, ge=0.25, le=50, description="Term of a chain's store lease (years); at its end the chain renews at the "
        "unit's open-market rent only where the store would clear stores.entry_hurdle there, as if it were opening "
        "it, and leaves otherwise; none: leases never end. New retail leases averaged 6.7 to 7.8 years in the "
        "IPD/BPF lease reviews of 2005/06 to 2015 (data/uk_lease_events_reported.csv). The chain's first stores' "
        "leases run out evenly over one term. Independents' lease ends are among the exits their rates count.",
    )
    fit_out_eur_m2: float | None = Field(
        1000.0, ge=0, le=100_000, description="What fitting out a unit costs a chain that moves to it at a lease's "
        "end (€ per m²), spread over one lease: it moves where a vacant unit in the same town promises more than "
        "its own at the new rent after this cost; none: chains never move. About £1,000 per m² gross: £990-1,039 "
        "for a fashion store, £1,334-1,400 for a food store, £798-1,371 for shop units in a new mall (Building "
        "magazine's cost models, mid-2000s; data/uk_retail_fit_out_costs_reported.csv), taken at face value in "
        "the model's money.",
    )
    build_cost_eur_m2: float = Field(
        725.0, ge=0, le=100_000, description="What building a new unit costs its developer (€ per m²), where the "
        "town permits new floor space (municipal.new_floor_space_m2). 725: the middle of £650-800 per m² gross for "
        "the shells of medium and small shop units (Building magazine's cost model of shopping-centre developments, "
        "1998 prices; anchor units £500-700; data/uk_retail_development_reported.csv), taken at face value in the "
        "model's money; land, fees and finance not counted.",
    )
    development_yield: Fraction = Field(
        0.055, description="The yearly rent, as a share of the build cost, a developer needs before it builds: 5.5 % "
        "was the prime shopping-centre yield in Q2 2010 (Cushman & Wakefield; 4.5 % for out-of-town centres in 2015, "
        "CBRE; 5.75 % for high street shops and fashion parks in 2002, Colliers; "
        "data/uk_retail_development_reported.csv). Prime yields are the lowest, and land is not in the cost: a "
        "permissive test.",
    )
    persistent_vacancy_years: float = Field(
        2.0, ge=0.25, le=50, description="A unit empty this long or longer counts as persistently vacant: the "
                                         "BRC-Local Data Company Vacancy Monitor's definition (two years or more).",
    )


class EntrantTemplate(_Section):
    """A kind of would-be independent business: what it sells, how, and where it would open."""

    name: str = Field("independent", min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_\-]([A-Za-z0-9_\- ]*"
                      r"[A-Za-z0-9_\-])?$", description="Name of the kind of business (letters, digits, _ - and "
                                                         "inner spaces).")
    share: float = Field(1.0, gt=0, le=1000, description="Weight of this kind among would-be businesses "
                                                       "(normalised over the templates).")
    strategy: StrategyName = Field("mass", description="mass, loyalty or learning.")
    markup_min: float = Field(0.3, ge=0, le=5, description="Lowest markup on cost of goods a new business sets.")
    markup_max: float = Field(0.45, ge=0, le=5, description="Highest markup on cost of goods a new business sets "
                                                          "(each draws uniformly between the two).")
    zones: list[Zone] = Field(
        default_factory=lambda: ["centre", "neighbourhood", "shopping_centre"], min_length=1,
        description="Location types where it would open.",
    )
    online: bool = Field(False, description="Whether it sells online (its own web shop) once open.")
    category: str | None = Field(
        None, description="The retail category it trades in (a name from [[categories]]); unset: the first.",
    )
    staff_share_of_sales: float | None = Field(
        None, ge=0.0, le=1.0,
        description="Its shop's staff cost as a share of the shop's sales, in place of the trade's staff cost per m² "
        "(as a chain's retailers.staff_share_of_sales, whose sources apply); unset: the trade's per m². The hours "
        "an owner works herself count at that rate: a shop that pays her less than it would pay staff for them "
        "makes a loss, which is the test of whether to stay open. A trade's listed chains' share is a floor for "
        "its independents, who sell less per hour worked (no published share of sales for small shops by trade "
        "was found).",
    )

    @model_validator(mode="after")
    def _markup_range(self) -> EntrantTemplate:
        if self.markup_min > self.markup_max:
            raise ValueError(f"markup_min ({self.markup_min:g}) must be ≤ markup_max ({self.markup_max:g})")
        return self


class IndependentsConfig(_Section):
    """Business demography of independents: a pool of business identities that would-be businesses take up
    when a vacant unit pays at its asking rent, and give back when they leave (off by default)."""

    enabled: bool = Field(
        False, description="Independents are a population: they arrive, open where a unit pays, and leave on "
                           "sustained losses or for reasons of their own.",
    )
    pool_size: int = Field(
        0, ge=0, le=MAX_RETAILERS, description="Independent businesses that can trade at once (identities reused "
        "as businesses leave and others arrive); each holds one shop. The pool is shared among the trades as their "
        "kinds of business are, and is an engine bound, not a market's: it should hold more identities than any "
        "trade's independents take, and retailsim run says when a would-be business that found a unit that pays "
        "was turned away for want of one. The baseline's 2,000 turned none away (750 turned away 720 at seed 1).",
    )
    initial_share_of_units: Fraction = Field(
        0.65, description="Share of all units independents occupy at the start (as far as the pool and the free "
                          "units of their zones allow): 65 % of GB's shop units in 2017 (bira-Local Data Company, "
                          "data/uk_openings_closures_by_year_reported.csv).",
    )
    arrivals_per_100_units_year: float = Field(
        9.5, ge=0, le=500, description="Would-be independent businesses looking for a unit, per 100 units of the "
        "region per year. Openings are a lower bound on them: independents opened 15,026 units in GB's top 500 town "
        "centres in 2015, about 14 per 100 of their units (the stock implied by the published net change), and "
        "held about two thirds of units, so about 9.5 per 100 of all units (data/uk_openings_closures_by_year_"
        "reported.csv); ONS: 13.5 retail births per 100 active enterprises in 2019 (data/uk_business_births_deaths_"
        "by_industry.csv). Those who find no unit that pays do not open, so openings fall short of arrivals: the "
        "baseline sets 14.5, tuned to the published openings and closures by experiments/calibrate_flows.toml.",
    )
    entry_hurdle: float = Field(
        0.15, ge=0, le=5, description="Expected yearly contribution a would-be business needs from a unit, as a "
                                      "share of the unit's costs (as stores.entry_hurdle for chains; an assumption). "
                                      "Tuned with the arrivals to the published openings and closures by "
                                      "experiments/calibrate_flows.toml, whose fourth round's nearest point the "
                                      "baseline takes: this 0.15.",
    )
    rate_exit_own_year: Fraction = Field(
        0.038, description="Yearly hazard that an independent closes for reasons of its own (retirement, life "
        "events), whatever it earns: a third of all deaths, 11.3 per 100 active retail enterprises in 2019 (ONS, "
        "data/uk_business_births_deaths_by_industry.csv), after Headd (2003, Small Business Economics 21: 51-61), "
        "who found about a third of closed businesses successful at closure. Losses do the rest of the exits.",
    )
    exit_loss_reviews: int = Field(
        8, ge=0, le=40, description="Mean number of reviews in a row with a trailing-year loss after which an "
        "independent leaves (each owner's patience is drawn uniformly from 1 to twice this less 1; 0: never on "
        "losses). Tuned to survival, a flow: 8 puts the 1-, 2- and 3-year survival of entrants in scenarios/"
        "highstreet.toml (20,000 consumers, six years, seed 1) at 91, 70 and 58 %, against ONS's 94.3, 74.6 and "
        "51.8 % for retail enterprises born in 2019 (data/uk_business_survival_by_industry.csv). The baseline "
        "takes 3, tuned to its own independents' flows and survival (experiments/calibrate_flows.toml).",
    )
    grace_weeks: int = Field(
        52, ge=0, le=520, description="A new business is not judged on losses before it is this old (weeks): 94.3 % "
        "of retail enterprises born in 2019 were alive a year later (ONS, data/uk_business_survival_by_industry.csv).",
    )
    templates: list[EntrantTemplate] = Field(
        default_factory=lambda: [EntrantTemplate()], min_length=1, max_length=50,
        description="Kinds of would-be business, one [[independents.templates]] table each (name, share, "
                    "strategy, markup_min, markup_max, zones, online).",
    )

class MassParams(_Section):
    """mass: one price for all, promotions, markup cut toward a floor when share falls."""

    promo_share_revenue: Fraction = Field(0.01, description="Marketing spend as a share of revenue.")
    promo_utility: float = Field(
        0.4, ge=0, le=20, description="Utility bonus promotions give to consumers who are not yet customers."
    )
    markup_floor: float = Field(0.05, ge=0, le=5, description="Lowest markup on cost a mass retailer will go to.")
    markup_step: float = Field(0.02, ge=0, le=1, description="Markup cut (or half-step raise) at a review.")
    share_tolerance: float = Field(
        0.005, ge=0, le=1, description="Revenue-share loss since the last review that triggers a cut."
    )


class LoyaltyParams(_Section):
    """loyalty: points per € spent, redeemed as vouchers above a threshold; value tiers."""

    points_per_eur: float = Field(1.0, ge=0, le=1000, description="Points earned per € spent.")
    eur_per_point: float = Field(0.01, ge=0, le=10, description="Value of one point when redeemed (€).")
    redeem_threshold_points: float = Field(500.0, ge=1, le=1e7, description="Points needed before a voucher is issued.")
    points_utility: float = Field(
        0.8, ge=0, le=20, description="Utility pull of a balance at the redemption threshold (unredeemed points)."
    )
    tier_bonus_top: float = Field(0.15, ge=0, le=1, description="Extra points rate for the top value tier (top 20 %).")
    tier_bonus_middle: float = Field(0.10, ge=0, le=1, description="Extra points rate for the middle tier (next 30 %).")
    programme_eur_year: float = Field(
        200_000.0, ge=0, le=1e9, description="Fixed cost of running the programme (€ per year)."
    )
    card_dilution: float = Field(
        1.0, ge=0, le=3,
        description="Points pull is divided by (number of cards held)^this: several cards weaken each (0 = no effect).",
    )
    welcome: Literal["none", "unconditional", "vesting"] = Field(
        "none", description="Welcome offer to newcomers (see welcome_after_weeks): none, unconditional (paid at "
                            "their first purchase) or vesting (paid if still a customer after "
                            "welcome_vesting_weeks).",
    )
    welcome_eur: float = Field(8.0, ge=0, le=1000, description="Value of the welcome gift (€ per household).")
    welcome_vesting_weeks: int = Field(
        8, ge=1, le=104, description="Weeks a new customer must stay for a vesting gift."
    )
    welcome_after_weeks: int = Field(
        52, ge=13, le=520,
        description="A consumer who has not bought here for this many weeks (or ever) is new, and the welcome "
                    "offer is hers again.",
    )
    copy_probability: float = Field(
        0.0, ge=0, le=1,
        description="Chance, at each review, that a rival watching a programme gain share decides to copy it.",
    )
    copy_lag_weeks: int = Field(26, ge=0, le=520, description="Weeks from deciding to copy to launching the copy.")
    copy_share_gain: float = Field(
        0.005, ge=0, le=1,
        description="Revenue-share gain (last 26 weeks over the 26 before) that makes a programme worth copying.",
    )
    copied_by: list[StrategyName] = Field(
        default_factory=lambda: ["mass"], description="Strategies whose retailers may copy a programme."
    )


class LearningParams(_Section):
    """learning: knowledge of each customer grows with purchases and raises personal fit."""

    learn_rate_store: Fraction = Field(0.02, description="Share of the knowledge gap closed by a store purchase.")
    learn_rate_online: Fraction = Field(0.05, description="Share of the knowledge gap closed by an online purchase.")
    decay_weekly: Fraction = Field(0.003, description="Share of knowledge lost each week without contact.")
    fit_max: float = Field(1.5, ge=0, le=20, description="Utility of a perfect fit (knowledge = 1).")
    fit_curvature: float = Field(3.0, ge=0.01, le=100, description="Diminishing returns of knowledge on fit.")
    high_value_boost: float = Field(
        0.5, ge=0, le=5, description="Extra learning rate for top-value consumers (top 20 % of budgets): invests more."
    )
    it_eur_year: float = Field(250_000.0, ge=0, le=1e9, description="Fixed IT and data cost (€ per year).")
    data_eur_customer_year: float = Field(
        2.0, ge=0, le=1000, description="Data cost per active customer (€ per year)."
    )


class StrategyParams(_Section):
    """Parameters of the three strategies, shared by every retailer that follows one."""

    mass: MassParams = Field(default_factory=MassParams)
    loyalty: LoyaltyParams = Field(default_factory=LoyaltyParams)
    learning: LearningParams = Field(default_factory=LearningParams)


class CategoryConfig(_Section):
    """A retail category: its share of the household budget, how often she shops it, whether and how
    readily it is bought online, and the repertoire she keeps for it. A retailer trades in one."""

    name: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_\-]+$",
                      description="Name of the category (letters, digits, _ -).")
    share_budget: Fraction = Field(
        description="Share of the household's weekly budget at cost prices (consumers.budget_mean_eur) that goes "
        "to this category; the categories' shares sum to 1. For Britain, sim.categories_gb.category_cost_shares "
        "derives them from ONS Family Spending FYE2018 (Table 3.1E, all households; data/retail_categories_gb.csv) "
        "and each category's typical markup, so that households spend in each its share of the survey's spending.",
    )
    p_trip: Fraction = Field(
        description="Mean probability that a household makes a trip in this category in a given week "
        "(each household's own is drawn around it, as consumers.p_shop is)."
    )
    online: bool = Field(True, description="Whether the category can be bought online at all "
                                           "(false: bought in person, as a haircut or a café meal).")
    online_friction_shift: float = Field(
        0.0, ge=-20, le=20, description="Utility added to each consumer's online friction in this category: "
        "how much less suited to buying online it is (negative: better suited).",
    )
    repertoire_slots: int = Field(
        3, ge=1, le=32, description="Retailers of this category whose relationship she holds at once; a purchase "
        "from another takes her weakest slot of the category. Shoppers use about three food stores regularly "
        "(Verdict 2007; data/shopper_switching_loyalty_literature.csv).",
    )
    staff_eur_m2_year: float | None = Field(
        None, ge=0, le=20_000, description="Staff cost per m² of floor of this category's stores (€ per year); "
        "unset: stores.staff_eur_m2_year. No trade-level source has been found yet: ONS's Annual Business Survey "
        "employment costs by SIC class (47.11, 47.7x, 56.10, 96.02) are not in the stored pages, and the inputs "
        "of a derivation that are (jobs per convenience store from ACS, the National Living Wage, listed retailers' "
        "staff costs as a share of sales from Retail Week; data/uk_store_staff_inputs_reported.csv) lack hours "
        "worked per job and sales per m² by trade, so no shipped scenario sets it.",
    )
    fixed_eur_year: float | None = Field(
        None, ge=0, le=1e8, description="Fixed cost of running one of this category's stores (€ per year); unset: "
        "stores.fixed_eur_year. No trade-level source has been found yet (data/uk_store_staff_inputs_reported.csv "
        "says what was looked for), so no shipped scenario sets it.",
    )


class RetailerConfig(_Section):
    """One retailer: strategy, taste position, price, stores and online channel."""

    name: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_\-]([A-Za-z0-9_\- ]*[A-Za-z0-9_\-])?$",
                      description="Name of the retailer (letters, digits, _ - and inner spaces).")
    strategy: StrategyName = Field("mass", description="mass, loyalty or learning.")
    taste: Fraction = Field(0.5, description="Position in taste space.")
    markup: float = Field(0.3, ge=0, le=5, description="Markup on cost of goods (0.3 = price is 1.3 × cost).")
    n_stores: int = Field(8, ge=0, le=100_000, description="Stores opened at the start.")
    zones: list[Zone] = Field(
        default_factory=lambda: list(ZONES), min_length=1, description="Zones where it opens stores."
    )
    online: bool = Field(True, description="Whether it sells online (its own web shop).")
    unit_m2_min: float | None = Field(
        None, ge=1, le=100_000, description="Smallest unit it trades from (m² of floor): a format's lower bound, such "
        "as a supermarket's 280 m² (3,000 sq ft, the line between a convenience store and a larger store in the "
        "Sunday Trading Act, data/uk_unit_sizes_reported.csv); none: any unit of its zones.",
    )
    unit_m2_max: float | None = Field(
        None, ge=1, le=100_000, description="Largest unit it trades from (m² of floor), such as a convenience "
        "store's 280 m²; none: any unit of its zones.",
    )
    staff_share_of_sales: float | None = Field(
        None, ge=0.0, le=1.0,
        description="Its stores' staff cost as a share of each store's sales, in place of the trade's staff cost "
        "per m² (a chain's accounts give staff costs against sales; staff are rostered to trade); unset: the "
        "trade's per m². Listed chains' staff costs to sales (Retail Week, from their accounts, after 2016; "
        "data/uk_store_staff_inputs_reported.csv): grocers 11.0 % (Sainsbury's) and 11.8 % (Morrisons), mean 11.4 %; "
        "comparison chains 11.0 % (Dixons Carphone) to 24.7 % (Card Factory), mean of the six listed 20.4 %; "
        "restaurants' labour 25-35 % of revenue (a weaker source; data/uk_services_cost_benchmarks_reported.csv). "
        "Whole-company ratios (head office, warehouses and online included), so a store's share is a little lower.",
    )
    category: str | None = Field(
        None, description="The retail category it trades in (a name from [[categories]]); unset: the first.",
    )
    independent: bool = Field(
        False, description="An owner-run independent rather than a chain: rent relief and the shared platform "
                           "apply to it.",
    )

    @model_validator(mode="after")
    def _unit_bounds_in_order(self) -> RetailerConfig:
        if self.unit_m2_min is not None and self.unit_m2_max is not None and self.unit_m2_min > self.unit_m2_max:
            raise ValueError(f"unit_m2_min ({self.unit_m2_min:g}) is above unit_m2_max ({self.unit_m2_max:g}); "
                             "the smallest unit a retailer trades from must not exceed the largest")
        return self

    def fits(self, area_m2: np.ndarray) -> np.ndarray:
        """Which of units of ``area_m2`` its format trades from."""
        ok = np.ones(np.shape(area_m2), dtype=bool)
        if self.unit_m2_min is not None:
            ok &= area_m2 >= self.unit_m2_min
        if self.unit_m2_max is not None:
            ok &= area_m2 <= self.unit_m2_max
        return ok

    @model_validator(mode="after")
    def _has_a_channel(self) -> RetailerConfig:
        if self.n_stores == 0 and not self.online and not self.independent:
            raise ValueError("a retailer needs stores (n_stores > 0) or an online channel (online = true); "
                             "only an independent (independent = true) may start with neither, to open "
                             "when a site pays (stores.entry = true)")
        return self

    @property
    def waiting_to_open(self) -> bool:
        """An independent with no shop yet: a business that opens once a vacant site pays."""
        return self.n_stores == 0 and not self.online


def _default_retailers() -> list[RetailerConfig]:
    return [
        RetailerConfig(name="ValueMart", strategy="mass", taste=0.2, markup=0.24, n_stores=9,
                       zones=["neighbourhood", "retail_park", "centre"]),
        RetailerConfig(name="CardCo", strategy="loyalty", taste=0.5, markup=0.32, n_stores=8),
        RetailerConfig(name="KnowYou", strategy="learning", taste=0.75, markup=0.34, n_stores=7,
                       zones=["centre", "neighbourhood"]),
        RetailerConfig(name="Clicks", strategy="learning", taste=0.45, markup=0.22, n_stores=0, online=True),
    ]


class Scenario(_Section):
    """A whole scenario: the world, its consumers and retailers, and the horizon."""

    name: str = Field("scenario", min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_\-.]+$",
                      description="Name of the scenario (letters, digits, _ - .); names the output folder.")
    description: str = Field("", description="What this scenario shows.")
    seed: int = Field(1, ge=0, le=2**63 - 1, description="Seed of the run (the CLI's --seed overrides it).")
    steps: int = Field(520, ge=1, le=10_000, description="Horizon in weeks.")
    warmup_weeks: int = Field(
        13, ge=0, le=520, description="Weeks of shopping before week 1 so that relationships exist at the start."
    )
    spinup_weeks: int = Field(
        0, ge=0, le=520, description="Weeks of trade before week 1 (after the warm-up): stores close and open, "
        "rents move and units are re-let by the model's own rules, online adoption stays where it starts, and "
        "nothing is reported; so the run's first years do not show the market shedding a placement of stores "
        "that its spending does not carry.",
    )
    engine: Literal["auto", "numpy", "numba"] = Field(
        "auto", description="Weekly choice engine; auto uses numba from 1,000 consumers (same results, faster)."
    )
    review_weeks: int = Field(13, ge=1, le=520, description="Weeks between reviews (pricing, closures).")
    region: RegionConfig = Field(default_factory=RegionConfig)
    consumers: ConsumerConfig = Field(default_factory=ConsumerConfig)
    choice: ChoiceConfig = Field(default_factory=ChoiceConfig)
    adoption: AdoptionConfig = Field(default_factory=AdoptionConfig)
    stores: StoreConfig = Field(default_factory=StoreConfig)
    online: OnlineConfig = Field(default_factory=OnlineConfig)
    municipal: MunicipalConfig = Field(default_factory=MunicipalConfig)
    property: PropertyConfig = Field(default_factory=PropertyConfig)
    independents: IndependentsConfig = Field(default_factory=IndependentsConfig)
    strategies: StrategyParams = Field(default_factory=StrategyParams)
    categories: list[CategoryConfig] = Field(
        default_factory=list, max_length=16,
        description="Retail categories, one [[categories]] table each (name, share_budget, p_trip, online, "
                    "online_friction_shift, repertoire_slots); none: one category of all retail, shopped with "
                    "consumers.p_shop and consumers.repertoire_slots.",
    )
    retailers: list[RetailerConfig] = Field(
        default_factory=_default_retailers, min_length=1, max_length=MAX_RETAILERS,
        description="The retailers, one [[retailers]] table each "
                    "(name, strategy, taste, markup, n_stores, zones, online, independent).",
    )

    @model_validator(mode="after")
    def _check_whole(self) -> Scenario:
        names = [r.name for r in self.retailers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"retailer names must be unique; repeated: {', '.join(dupes)}")
        if "all" in names:
            raise ValueError("'all' is reserved for market-level rows; rename that retailer")
        self._check_categories()
        waiting = [r.name for r in self.retailers if r.waiting_to_open]
        if waiting and not self.stores.entry:
            raise ValueError(f"{', '.join(waiting)} start with no store and no web shop, so they can only open "
                             "a store; set stores.entry = true or give them n_stores or online = true")
        pool = self.independents
        if pool.enabled and pool.pool_size == 0:
            raise ValueError("independents.enabled needs independents.pool_size ≥ 1 (the businesses that can trade "
                             "at once)")
        pool_names = r"independent \d{3,}|independents( \(.*\))?"
        taken = sorted(n for n in names if pool.enabled and re.fullmatch(pool_names, n))
        if taken:
            raise ValueError(f"{', '.join(taken)}: names of the form 'independent NNN' and the rows 'independents' "
                             "or 'independents (CATEGORY)' are the pool's (independents.enabled); rename that "
                             "retailer")
        if pool.enabled and len(self.retailers) + pool.pool_size > MAX_RETAILERS:
            raise ValueError(f"{len(self.retailers)} retailers and independents.pool_size {pool.pool_size} make more "
                             f"than {MAX_RETAILERS} retailers; lower independents.pool_size")
        n_stores = sum(r.n_stores for r in self.retailers)
        # a town loaded from a sites file is checked against that file when it is read
        if not self.region.sites_csv and n_stores > self.region.n_sites:
            raise ValueError(
                f"retailers open {n_stores} stores but region.n_sites is {self.region.n_sites}; "
                "raise region.n_sites or lower n_stores"
            )
        return self

    def _check_categories(self) -> None:
        names = [c.name for c in self.categories]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"category names must be unique; repeated: {', '.join(dupes)}")
        if self.categories:
            total = sum(c.share_budget for c in self.categories)
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"categories' share_budget must sum to 1; they sum to {total:.6g}")
            n_slots = sum(c.repertoire_slots for c in self.categories)
            if n_slots > MAX_SLOTS:
                raise ValueError(f"categories hold {n_slots} repertoire slots in all; at most {MAX_SLOTS}")
        known = names or [ALL_RETAIL]
        for r in self.retailers:
            if r.category is not None and r.category not in known:
                raise ValueError(f"retailer {r.name!r}: category {r.category!r} is not declared; "
                                 f"categories: {', '.join(known)}")
        kinds = self.independents.templates if self.independents.enabled else []
        for t in kinds:
            if t.category is not None and t.category not in known:
                raise ValueError(f"independents.templates {t.name!r}: category {t.category!r} is not declared; "
                                 f"categories: {', '.join(known)}")
        served = {r.category or known[0] for r in self.retailers} | {t.category or known[0] for t in kinds}
        idle = [n for n in known if n not in served]
        if idle:
            raise ValueError(f"no retailer trades in category {', '.join(idle)}: give one category = "
                             f"{idle[0]!r} or drop the category")

    def category_list(self) -> list[CategoryConfig]:
        """The categories in force: those declared, or one of all retail from the consumers' settings."""
        if self.categories:
            return list(self.categories)
        return [CategoryConfig(name=ALL_RETAIL, share_budget=1.0, p_trip=self.consumers.p_shop, online=True,
                               online_friction_shift=0.0, repertoire_slots=self.consumers.repertoire_slots)]

    def retailer_category(self) -> list[int]:
        """The index (in ``category_list``) of each listed retailer's category, then of each identity of the
        pool of independents (``pool_categories``)."""
        names = [c.name for c in self.category_list()]
        listed = [names.index(r.category) if r.category is not None else 0 for r in self.retailers]
        return listed + (self.pool_categories() if self.independents.enabled else [])

    def pool_categories(self) -> list[int]:
        """The category of each identity of the pool of independents: the pool is shared out among the
        categories in proportion to the shares of the kinds of business that trade in each (largest
        remainders), in category order."""
        names = [c.name for c in self.category_list()]
        ind = self.independents
        weight = np.zeros(len(names))
        for t in ind.templates:
            weight[names.index(t.category) if t.category is not None else 0] += t.share
        quota = ind.pool_size * weight / weight.sum()
        counts = np.floor(quota).astype(int)
        counts[np.argsort(-(quota - counts), kind="stable")[:ind.pool_size - counts.sum()]] += 1
        return [c for c in range(len(names)) for _ in range(int(counts[c]))]

    # ---- conveniences -------------------------------------------------------------
    def to_toml(self) -> str:
        """The fully resolved scenario as TOML text (every default written out)."""
        return tomli_w.dumps(self.model_dump(mode="json", exclude_none=True))  # TOML has no null

    def with_overrides(self, overrides: dict[str, Any], source: str = "override") -> Scenario:
        """A copy with dotted-key overrides applied, e.g. ``{"consumers.n": 2000}``."""
        raw = self.model_dump(mode="json")
        for key, value in overrides.items():
            _set_dotted(raw, key, value, source)
        return validate(raw, source)


# ---- loading and errors ------------------------------------------------------------

def _section_fields(path: tuple[Any, ...]) -> list[str] | None:
    """Valid keys at a location of the schema, for 'unknown key' messages."""
    model: Any = Scenario
    for part in path:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        candidates = [annotation, *args]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if model is None:
            return None
    return sorted(model.model_fields)


def _format_error(err: dict[str, Any], source: str) -> str:
    loc = tuple(err.get("loc", ()))
    where = ".".join(str(p) for p in loc) or "(top level)"
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        valid = _section_fields(loc[:-1])
        allowed = f"; valid keys here: {', '.join(valid)}" if valid else ""
        return f"{source}: unknown key '{where}'{allowed}"
    msg = err.get("msg", "invalid value")
    msg = msg.removeprefix("Value error, ")
    if kind == "missing":
        return f"{source}: {where}: required field is missing"
    if kind == "string_pattern_mismatch":
        msg = ("may hold only letters, digits, _ and -, with spaces only between them" if loc[:1] == ("retailers",)
               else "may hold only letters, digits, _, - and .")
    limits = _limits_text(_field_at(loc))
    if limits and kind in _RANGE_ERRORS:
        msg = f"{msg}; allowed: {limits}"
    got = err.get("input")
    shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
    return f"{source}: {where}: {msg}{shown}"


_RANGE_ERRORS = {"finite_number", "greater_than", "greater_than_equal", "less_than", "less_than_equal",
                 "float_type", "float_parsing", "int_type", "int_parsing", "int_from_float", "value_error"}


def _field_at(loc: tuple[Any, ...]) -> Any:
    """The FieldInfo (or a dict value's constraints) at an error location, or None."""
    model: Any = Scenario
    info: Any = None
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None:  # a key inside a mapping such as floor_area_m2: its values' constraints
            args = typing.get_args(info.annotation) if info is not None else ()
            value = args[1] if len(args) == 2 else None
            extra = typing.get_args(value)[1:] if typing.get_origin(value) is Annotated else ()
            return extra[0] if extra else None
        info = model.model_fields.get(part)
        if info is None:
            return None
        candidates = [info.annotation, *typing.get_args(info.annotation)]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
    return info


def field_limits(info: Any) -> list[str]:
    """A field's limits as text, e.g. ['≥ 0', '≤ 100']."""
    metadata = getattr(info, "metadata", None) or []
    return [f"{symbol} {_number_text(getattr(m, attr))}" for m in metadata
            for attr, symbol in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"))
            if getattr(m, attr, None) is not None]


def _number_text(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e7 else f"{value:g}"


def _limits_text(info: Any) -> str:
    return ", ".join(field_limits(info))


def validate(raw: dict[str, Any], source: str = "scenario") -> Scenario:
    """Validate a raw mapping into a Scenario; raise ScenarioError with a one-line message."""
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        first = _format_error(errors[0], source)
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        raise ScenarioError(first + more) from None


def load(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Load a scenario TOML file, apply dotted overrides, validate.

    A file may name another with ``base = "other.toml"`` (relative to itself): it then
    holds only what differs, laid over the base (tables merge key by key; a list such as
    ``retailers`` replaces the base's whole list).
    """
    path = Path(path)
    raw = _read_raw(path, seen=())
    raw.setdefault("name", _name_from_path(path))
    for key, value in (overrides or {}).items():
        _set_dotted(raw, key, value, "--set")
        if key in ("region.sites_csv", "region.population_csv") and isinstance(value, str):
            raw["region"][key.split(".")[1]] = str((path.parent / value).resolve())  # relative to the file
    scenario = validate(raw, str(path))
    from sim.town import check_region_files

    check_region_files(scenario)
    return scenario


def _read_raw(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    """The file's mapping, laid over its base if it names one; data-file paths made absolute."""
    if not path.is_file():
        where = f" (the base of {seen[-1]})" if seen else ""
        raise ScenarioError(f"{path}: no such scenario file{where}")
    if len(seen) >= MAX_BASE_DEPTH:
        raise ScenarioError(f"{seen[0]}: a chain of more than {MAX_BASE_DEPTH} base files; lay fewer files over "
                            f"each other")
    if path.resolve() in seen:
        raise ScenarioError(f"{path}: base files form a loop: {' -> '.join(map(str, (*seen, path.resolve())))}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not a text file (expected UTF-8 TOML)") from None
    if not raw:
        raise ScenarioError(f"{path}: holds no settings (an empty file is more likely a mistake than a wish for "
                            f"every default); name at least one, e.g. steps = 104, or its base = \"...\" file")
    region = raw.get("region")
    if isinstance(region, dict):  # data files are named relative to the file that names them
        for key in ("sites_csv", "population_csv"):
            if isinstance(region.get(key), str):
                region[key] = str((path.parent / region[key]).resolve())
    base = raw.pop("base", None)
    if base is None:
        return raw
    if not isinstance(base, str):
        raise ScenarioError(f"{path}: base: expected the path of a scenario file, got {base!r}")
    under = _read_raw(path.parent / base, (*seen, path.resolve()))
    under.pop("name", None)  # a file's name is its own
    return _merge(under, raw)


MAX_BASE_DEPTH = 50
"""Longest chain of ``base`` files: deep enough for any use, far from Python's recursion limit."""


def _merge(under: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(under)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _name_from_path(path: Path) -> str:
    stem = "".join(c if c.isalnum() or c in "_-." else "_" for c in path.stem)
    return stem or "scenario"


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse ``dotted.key=value`` from the command line; the value is read as TOML."""
    if "=" not in text:
        raise ScenarioError(f"--set {text!r}: expected dotted.key=value, e.g. consumers.n=5000")
    key, _, value = text.partition("=")
    key = key.strip()
    if not key:
        raise ScenarioError(f"--set {text!r}: the key before '=' is empty")
    try:
        parsed = tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value.strip()  # bare words such as never or mass are strings
    return key, parsed


def _set_dotted(raw: dict[str, Any], key: str, value: Any, source: str) -> None:
    """Set raw[a][b][c] = value for key 'a.b.c'. List items by index or by name."""
    parts = key.split(".")
    node: Any = raw
    for depth, part in enumerate(parts[:-1]):
        node = _descend(node, part, parts[: depth + 1], raw, source, key)
    last = parts[-1]
    if isinstance(node, list):
        if last.isdigit():
            raise ScenarioError(f"{source}: {key}: is a whole list item; set one of its fields, e.g. {key}.markup")
        named = next((str(i.get("name")) for i in node if isinstance(i, dict) and i.get("name")), None)
        by_name = f" or {'.'.join([*parts[:-1], named, last])}" if named else ""
        raise ScenarioError(f"{source}: {key}: name one item of the list by index or name, e.g. "
                            f"{'.'.join([*parts[:-1], '0', last])}{by_name}")
    if not isinstance(node, dict):
        raise ScenarioError(f"{source}: {key}: {'.'.join(parts[:-1])} is a value, not a table with fields")
    node[last] = value


def _descend(node: Any, part: str, so_far: list[str], raw: dict, source: str, key: str) -> Any:
    if isinstance(node, list):
        if part.isdigit() and int(part) < len(node):
            return node[int(part)]
        for item in node:
            if isinstance(item, dict) and item.get("name") == part:
                return item
        names = [str(i.get("name")) for i in node if isinstance(i, dict)]
        raise ScenarioError(
            f"{source}: {key}: no list item {part!r}; use an index 0..{len(node) - 1} or a name: {', '.join(names)}"
        )
    if not isinstance(node, dict):
        raise ScenarioError(f"{source}: {key}: {'.'.join(so_far[:-1])} is not a section")
    if part not in node:
        if part == "retailers":
            node[part] = [r.model_dump(mode="json") for r in _default_retailers()]
        else:
            node[part] = {}
    return node[part]


# ---- flat keyword arguments (mesa.batch_run) ------------------------------------------

def flat_to_dotted(flat_key: str) -> str:
    """Map a flat keyword such as ``consumers_n`` or ``strategies__mass__markup_floor`` to a dotted key.

    ``__`` always separates levels; before the first ``__`` the longest section name
    that prefixes the key (followed by ``_``) is taken, walking down the schema.
    """
    head, *tail = flat_key.split("__")
    return ".".join([_resolve_flat(head, flat_key), *tail])


def _resolve_flat(head: str, flat_key: str) -> str:
    model: Any = Scenario
    rest = head
    parts: list[str] = []
    while True:
        if rest in model.model_fields:
            parts.append(rest)
            return ".".join(parts)
        sections = [
            name for name, f in model.model_fields.items()
            if isinstance(f.annotation, type) and issubclass(f.annotation, BaseModel)
            and rest.startswith(name + "_")
        ]
        if not sections:
            valid = ", ".join(sorted(flat_keys()))
            raise ScenarioError(f"keyword argument {flat_key!r} is not a scenario parameter; valid: {valid}")
        section = max(sections, key=len)
        parts.append(section)
        model = model.model_fields[section].annotation
        rest = rest[len(section) + 1:]


def flat_keys() -> list[str]:
    """Every scalar parameter as a flat keyword name (for batch_run and docs)."""
    out: list[str] = []

    def walk(model: Any, prefix: str) -> None:
        for name, field in model.model_fields.items():
            ann = field.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(ann, f"{prefix}{name}_")
            else:
                out.append(prefix + name)

    walk(Scenario, "")
    return out


def from_flat(base: Scenario | None = None, **kwargs: Any) -> Scenario:
    """A Scenario from flat keyword arguments laid over ``base`` (default: the schema defaults)."""
    base = base or Scenario()
    overrides = {flat_to_dotted(k): v for k, v in kwargs.items()}
    return base.with_overrides(overrides, source="keyword arguments")


def parameter_table() -> list[dict[str, Any]]:
    """Every parameter with its default, limits and description (for docs and the app)."""
    rows: list[dict[str, Any]] = []

    def walk(model: Any, prefix: str, instance: Any) -> None:
        for name, field in model.model_fields.items():
            ann = field.annotation
            value = getattr(instance, name)
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(ann, f"{prefix}{name}.", value)
                continue
            limits = field_limits(field)
            if not limits and typing.get_origin(ann) is dict:  # a mapping such as floor area by zone
                value_limits = field_limits(_field_at((*prefix.rstrip(".").split("."), name, "key"))
                                            if prefix else None)
                limits = [f"each {', '.join(value_limits)}"] if value_limits else []
            if isinstance(value, list):
                value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
            rows.append({
                "key": prefix + name,
                "default": copy.deepcopy(value),
                "limits": ", ".join(limits),
                "description": field.description or "",
            })

    walk(Scenario, "", Scenario())
    return rows
