"""Fact 1: attrition falls with tenure at a learning-relationship retailer, stays flat at a mass retailer."""

from __future__ import annotations

import numpy as np

from experiments._common import window_mean
from sim.experiment import Arm, Experiment, Finding, mean_ci, paired_difference
from sim.model import YEAR_WEEKS, tenure_band

START, TRIAL_WEEK = 208, 312  # attrition by tenure is observed over weeks 208–312, then the trial starts
TRIAL_RETAILERS = ("Learn", "Mass")  # the retailer in the seat and its mass rival

BANDS = {"attrition_rate_new": "under 13 w", "attrition_rate_tenure_13_52": "13–52 w",
         "attrition_rate_tenure_52_156": "1–3 y", "attrition_rate_tenure_156_plus": "3 y +"}


def forgetting_trial(model):
    """Each retailer in the trial forgets a random half of its active customers.

    Observed attrition falls with tenure wherever customers differ for good, because
    those who fit a retailer best are the ones who stay (Fader, Hardie, Liu, Davin &
    Steenburgh 2018, "How to project customer retention" revisited, Journal of
    Interactive Marketing 43). Whether a customer's own attrition falls as her tenure
    grows is a different question, and a randomised trial answers it: for half of the
    customers, chosen at random, the retailer loses what the relationship built; a year
    later, the forgotten lose at the rate of newcomers of their kind, the others at the
    rate their tenure brought. Same tenure, same kind of customer, one difference.
    """
    pop, rng = model.population, model.streams.trial
    model.trial_cohorts = {}
    for name in TRIAL_RETAILERS:
        r = model.retailer_index(name)
        who = model.active_customers(r)
        forgotten = rng.permutation(len(who)) < len(who) // 2
        model.forget(name, who[forgotten])
        since = pop.of_retailer("since_week", r)[who]
        model.trial_cohorts[name] = (who, tenure_band(model.week - since), forgotten)


def forgetting_effect(model, retailer: str, band: int) -> float:
    """Annual attrition of the forgotten − of the others, among the trial's customers in tenure ``band``."""
    if model.week != TRIAL_WEEK + YEAR_WEEKS or retailer not in getattr(model, "trial_cohorts", {}):
        return float("nan")  # the run ended before the trial's year was out
    who, bands, forgotten = model.trial_cohorts[retailer]
    lost = ~model.running_since_pairs(who, np.full(len(who), model.retailer_index(retailer)), TRIAL_WEEK)
    forgot, kept = (bands == band) & forgotten, (bands == band) & ~forgotten
    if not forgot.any() or not kept.any():
        return float("nan")
    return float(lost[forgot].mean() - lost[kept].mean())


def measure(model):
    def observed(retailer, column):
        return window_mean(model, retailer, column, START, TRIAL_WEEK)

    new, long = observed("Learn", "attrition_rate_new"), observed("Learn", "attrition_rate_tenure_52_156")
    mass_new, mass_long = observed("Mass", "attrition_rate_new"), observed("Mass", "attrition_rate_tenure_52_156")
    profile = {f"seat_band_{i}": observed("Learn", column) for i, column in enumerate(BANDS)}
    forgetting = {f"seat_forgetting_band_{i}": forgetting_effect(model, "Learn", i) for i in range(len(BANDS))}
    return {"seat_new": new, "seat_long": long, "seat_fall": new - long,
            "seat_relative_fall": (new - long) / new if new > 0 else float("nan"),
            "seat_log_odds_fall": _logit(new) - _logit(long),
            "mass_new": mass_new, "mass_long": mass_long, "mass_fall": mass_new - mass_long, **profile,
            **forgetting, "seat_forgetting": forgetting["seat_forgetting_band_2"],
            "mass_forgetting": forgetting_effect(model, "Mass", 2)}


def _logit(rate: float) -> float:
    """Log odds of a rate; NaN at 0 or 1 (no customer lost, or every one)."""
    return float(np.log(rate / (1 - rate))) if 0 < rate < 1 else float("nan")


EXPERIMENT = Experiment(
    name="fact1_tenure",
    title="Fact 1 — attrition by tenure: learning relationship against mass marketing",
    claim="Attrition falls with tenure at a learning-relationship retailer and stays flat at a mass retailer, "
          "because what the learning retailer knows of a customer grows with every purchase, while a mass "
          "retailer holds nothing per customer. Observed by tenure band, attrition falls at both: the customers "
          "who fit a retailer best are the ones who stay long (selection). A randomised trial separates a "
          "customer's own fall with tenure from that selection: after the observed weeks, each retailer forgets "
          "a random half of its active customers, and a year later the attrition of the forgotten is compared "
          "with that of the others of the same tenure.",
    scenario="scenarios/lab.toml",
    base_overrides={"retailers.Loyal.strategy": "mass", "strategies.mass.markup_step": 0.0,
                    "strategies.mass.promo_utility": 0.0, "steps": TRIAL_WEEK + YEAR_WEEKS},
    arms=[Arm("seat learns", {"retailers.Learn.strategy": "learning"}),
          Arm("seat is mass", {"retailers.Learn.strategy": "mass"})],
    measure=measure,
    interventions={TRIAL_WEEK: forgetting_trial},
    outcomes={
        "seat_new": "retailer in seat: new customers", "seat_band_1": "retailer in seat: tenure 13–52 w",
        "seat_long": "retailer in seat: tenure 1–3 y", "seat_band_3": "retailer in seat: tenure 3 y +",
        "seat_fall": "its fall with tenure", "seat_relative_fall": "its relative fall",
        "seat_log_odds_fall": "its fall in log odds (× 100)",
        "seat_forgetting": "trial, retailer in seat: forgotten − others, tenure 1–3 y",
        "mass_fall": "mass rival: observed fall with tenure",
        "mass_forgetting": "trial, mass rival: forgotten − others, tenure 1–3 y",
    },
)


def findings(frame):
    learns = frame[frame["arm"] == "seat learns"]
    mass = frame[frame["arm"] == "seat is mass"]
    # New customers leave at several times the rate of long-standing ones in either seat, and
    # learning lowers both, so what learning adds is compared three ways: in points, as a
    # proportion of the rate, and in log odds, as survival analysis compares hazards.
    # "Flat at a mass retailer" is a customer's own attrition, which only the trial isolates:
    # the observed fall there is selection, and is reported in the table.
    return [
        Finding("attrition falls with tenure at the learning retailer (new − 1–3 y)",
                *mean_ci(learns["seat_fall"].to_numpy()), expected_sign=+1),
        Finding("learning steepens the relative fall: same seat, learning − mass",
                *paired_difference(frame, "seat_relative_fall", "seat learns", "seat is mass"), expected_sign=+1),
        Finding("learning steepens the fall in log odds: same seat, learning − mass",
                *paired_difference(frame, "seat_log_odds_fall", "seat learns", "seat is mass"), expected_sign=+1,
                scale=1.0, unit=" (log odds)"),
        Finding("learning steepens the fall in points: same seat, learning − mass",
                *paired_difference(frame, "seat_fall", "seat learns", "seat is mass"), expected_sign=+1),
        Finding("trial: a customer's own attrition falls with tenure at the learning retailer "
                "(forgotten − others, 1–3 y)", *mean_ci(learns["seat_forgetting"].to_numpy()), expected_sign=+1),
        Finding("trial: a customer's own attrition stays flat with tenure at a mass retailer "
                "(same seat as mass: forgotten − others, 1–3 y)",
                *mean_ci(mass["seat_forgetting"].to_numpy()), expected_sign=0),
    ]


def figure(frame, path):
    """Left: the seat's observed attrition by tenure band in each arm; right: the trial, what
    forgetting a customer does to her attrition, by the tenure she had."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4))
    arms = list(dict.fromkeys(frame["arm"]))
    x = np.arange(len(BANDS))
    for colour, arm in zip(("tab:green", "tab:grey"), arms, strict=False):
        rows = frame[frame["arm"] == arm]
        for ax, column in ((left, "seat_band_{}"), (right, "seat_forgetting_band_{}")):
            stats = np.array([mean_ci(rows[column.format(i)].to_numpy()) for i in range(len(BANDS))]) * 100
            ax.plot(x, stats[:, 0], marker="o", color=colour, label=arm)
            ax.fill_between(x, stats[:, 1], stats[:, 2], color=colour, alpha=0.25)
    for ax in (left, right):
        ax.set_xticks(x, list(BANDS.values()), fontsize=9)
        ax.set_xlabel("tenure a year before" if ax is left else "tenure when forgotten")
        ax.legend(fontsize=9)
        ax.grid(alpha=0.3)
    left.set_ylabel("annual attrition, % (95 % CI)")
    left.set_ylim(0, 100)
    left.set_title("Observed: annual attrition by tenure\n(who stays long is who fits best)", fontsize=10)
    right.axhline(0, color="black", lw=0.8)
    right.set_ylabel("forgotten − others, points (95 % CI)")
    right.set_title("Trial: the retailer forgets a random half of its customers\n"
                    "(a customer's own fall from newcomer to her tenure)", fontsize=10)
    fig.suptitle("Fact 1 — attrition by tenure, learning against mass (retailer in the seat)", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
