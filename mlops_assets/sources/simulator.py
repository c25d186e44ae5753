"""The built-in data source: a lending business that lands one file of loan applications a day.

Default outcomes follow a known probability function, so that the platform's own estimates can be
judged against the truth. Repayment outcomes land `delay_days` later in their own files, joined by
`application_id`. Scenarios switch on data drift (P(X) moves), concept drift (P(Y|X) moves) or
both from a chosen day.

No two days are alike, as in a real business (`sources.day_effect`): each day draws its base
rate and applicant mix around the long-run one; the day's base rate is in the true probability.

The true default probability and every drawn outcome (declined applicants' included) are written
apart, under the home folder's `ground_truth/`, which the platform never reads. Same seed and same
decisions, same bytes (the day effects come from their own seeded stream).

The business reacts to the platform's decisions (`decision.selective_labels`): an outcome lands
only for an application that was approved, by the platform's decision log (the lake's
`<name>/decisions`, control group included) or, for days before the platform decided anything,
by the legacy policy (`LEGACY_POLICY`: approve every application). A day after that which has no
decision yet gets its outcomes once it is decided, never before. A landed outcomes file is final.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from upath import UPath

from mlops_assets.sources.business import PlatformDecisions
from mlops_assets.sources.day_effect import DayEffect
from mlops_assets.sources.files import csv_bytes, parquet_bytes, write_if_changed

SCENARIOS = ("none", "data_drift", "concept_drift", "both")

REGIONS = ["north", "south", "east", "west", "central"]
CHANNELS = ["branch", "online", "broker", "partner"]
AGE_BANDS = ["18-25", "26-35", "36-50", "51-65", "65+"]
HOME = ["rent", "mortgage", "own"]
PURPOSES = ["debt_consolidation", "car", "home_improvement", "business", "medical", "other"]

_REGION_EFFECT = {"north": 0.0, "south": 0.15, "east": -0.1, "west": 0.05, "central": 0.0}
_CHANNEL_EFFECT = {"branch": -0.1, "online": 0.1, "broker": 0.3, "partner": 0.0}
_PURPOSE_EFFECT = {
    "debt_consolidation": 0.1,
    "car": -0.1,
    "home_improvement": -0.15,
    "business": 0.35,
    "medical": 0.2,
    "other": 0.05,
}


@dataclass(frozen=True)
class Scenario:
    """Which drift switches on, and on which day index (0 = the first simulated day); how large
    the day-to-day variation is (`day_effect` scales the `DAY_*_SD`; 0: none)."""

    kind: str = "none"
    drift_day: int = 30
    day_effect: float = 1.0

    def __post_init__(self):
        if self.kind not in SCENARIOS:
            raise ValueError(f"scenario {self.kind!r} is not one of {', '.join(SCENARIOS)}")
        if self.drift_day < 0:
            raise ValueError(f"drift day {self.drift_day} must be >= 0")
        if not self.day_effect >= 0:
            raise ValueError(f"day effect {self.day_effect} must be >= 0")

    def data_drift(self, day: int) -> bool:
        return self.kind in ("data_drift", "both") and day >= self.drift_day

    def concept_drift(self, day: int) -> bool:
        return self.kind in ("concept_drift", "both") and day >= self.drift_day


def applications(day: int, date: dt.date, rows: int, seed: int, scenario: Scenario):
    """One day of applications and their true default probability (a polars frame each)."""
    rng = np.random.default_rng([seed, day, 1])
    n = max(1, int(rng.poisson(rows)))
    shift = scenario.data_drift(day)
    today = DayEffect(seed, day, scenario.day_effect)

    def choice(values, p):
        return np.asarray(values, dtype=object)[rng.choice(len(values), size=n, p=today.shares(p))]

    income_log_mean = np.log(55_000 * (0.8 if shift else 1.0)) + today.mean(0.5)
    income = np.round(rng.lognormal(income_log_mean, 0.5, n), -2)
    dti = np.round(np.clip(rng.beta(2, 5, n) * 0.8 + today.mean(0.128), 0, 0.95), 3)
    ratio_log_mean = np.log(0.25 * (1.3 if shift else 1.0)) + today.mean(0.4)
    loan = np.clip(income * rng.lognormal(ratio_log_mean, 0.4, n), 1_000, 60_000).round(-2)
    term = np.where(rng.random(n) < today.shares([0.7, 0.3])[0], 36, 60)
    employment_scale = 5 * (1 + today.mean(1.0))
    employment = np.round(np.clip(rng.exponential(employment_scale, n), 0, 40) * 2) / 2
    score_mean = (650 if shift else 680) + today.mean(60)
    score = np.clip(rng.normal(score_mean, 60, n), 300, 850).round()
    history = np.round(np.clip(rng.gamma(3, 3 * (1 + today.mean(3**-0.5)), n), 0, 50), 1)
    accounts = rng.poisson(6 + today.mean(6**0.5), n)
    delinquencies = rng.poisson(max(0.3 + today.mean(0.3**0.5), 0.0), n)
    channel = choice(CHANNELS, [0.15, 0.7, 0.1, 0.05] if shift else [0.3, 0.45, 0.15, 0.1])
    region = choice(REGIONS, [0.2, 0.25, 0.2, 0.2, 0.15])
    purpose = choice(PURPOSES, [0.35, 0.2, 0.15, 0.1, 0.05, 0.15])
    home = choice(HOME, [0.4, 0.4, 0.2])
    age_band = choice(AGE_BANDS, [0.15, 0.3, 0.3, 0.18, 0.07])

    employment_missing = rng.random(n) < 0.06
    score_missing = rng.random(n) < 0.04
    home_missing = rng.random(n) < 0.01

    pd_true = _default_probability(
        dti,
        loan / income,
        np.where(score_missing, np.nan, score),
        delinquencies,
        term,
        np.where(employment_missing, np.nan, employment),
        region,
        channel,
        purpose,
        concept=scenario.concept_drift(day),
        day_logit=today.base_logit,
    )
    ids = [f"{date:%Y%m%d}-{i:06d}" for i in range(n)]
    frame = pl.DataFrame(
        {
            "application_id": ids,
            "income": income,
            "debt_to_income": dti,
            "loan_amount": loan,
            "term_months": term.astype(np.int64),
            "employment_years": _with_nulls(employment, employment_missing),
            "credit_score": _with_nulls(score.astype(np.int64), score_missing),
            "credit_history_years": history,
            "open_accounts": accounts.astype(np.int64),
            "delinquencies_2y": delinquencies.astype(np.int64),
            "home_ownership": _with_nulls(home.tolist(), home_missing),
            "purpose": purpose.tolist(),
            "region": region.tolist(),
            "channel": channel.tolist(),
            "age_band": age_band.tolist(),
        }
    )
    truth = pl.DataFrame({"application_id": ids, "true_default_probability": pd_true})
    return frame, truth


def _with_nulls(values, missing: np.ndarray) -> pl.Series:
    return pl.Series(values).scatter(np.flatnonzero(missing), None)


def _default_probability(
    dti,
    loan_to_income,
    score,
    delinquencies,
    term,
    employment,
    region,
    channel,
    purpose,
    concept: bool,
    day_logit: float = 0.0,
) -> np.ndarray:
    """The known probability of default; `concept` switches to the post-shock relationship;
    `day_logit` is the day's departure of the base rate."""
    score_term = np.where(np.isnan(score), 0.35, -0.012 * (np.nan_to_num(score) - 680))
    employment_term = np.where(
        np.isnan(employment), 0.2, -0.05 * np.minimum(np.nan_to_num(employment), 10)
    )
    dti_weight = 5.5 if concept else 2.8
    channel_effect = dict(_CHANNEL_EFFECT, online=0.9, broker=-0.2) if concept else _CHANNEL_EFFECT
    z = (
        -2.6
        + day_logit
        + (0.4 if concept else 0.0)
        + dti_weight * (dti - 0.3)
        + 0.8 * (dti > 0.45)
        + 2.4 * (loan_to_income - 0.25)
        + score_term
        + 0.45 * delinquencies
        + 0.25 * (term == 60)
        + employment_term
        + np.vectorize(_REGION_EFFECT.get)(region)
        + np.vectorize(channel_effect.get)(channel)
        + np.vectorize(_PURPOSE_EFFECT.get)(purpose)
    )
    return 1.0 / (1.0 + np.exp(-z))


def labelled_truth(day: int, date: dt.date, rows: int, seed: int, scenario: Scenario):
    """Applications of `day` and their ground truth with the drawn outcome `defaulted`."""
    apps, truth = applications(day, date, rows, seed, scenario)
    rng = np.random.default_rng([seed, day, 2])
    defaulted = rng.random(apps.height) < truth["true_default_probability"].to_numpy()
    return apps, truth.with_columns(defaulted=pl.Series(defaulted.astype(np.int64)))


@dataclass(frozen=True)
class LandingPlan:
    """Where the simulator writes; built from a dataset spec and the home folder.

    `decisions`: the decision log that decides which outcomes exist (selective labels); None:
    every application's outcome lands."""

    landing: Path
    outcomes_landing: Path
    ground_truth: Path
    start: dt.date
    delay_days: int
    decisions: PlatformDecisions | None = None


def land_day(
    plan: LandingPlan, day: int, rows: int = 2000, seed: int = 7, scenario: Scenario | None = None
) -> list[Path]:
    """Write day `day`'s applications, its ground truth, and the outcomes that arrive that day
    (with selective labels, also earlier days' outcomes whose decisions came late).

    Returns the files that changed; identical files are left untouched (same bytes, same mtime).
    """
    scenario = scenario or Scenario()
    date = plan.start + dt.timedelta(days=day)
    apps, truth = labelled_truth(day, date, rows, seed, scenario)
    written = [
        write_if_changed(plan.landing / f"{date}.csv", csv_bytes(apps)),
        write_if_changed(plan.ground_truth / f"{date}.parquet", parquet_bytes(truth)),
    ]
    if plan.delay_days > 0:
        due = range(plan.delay_days, day + 1) if plan.decisions else [day]
        written += [_land_outcomes(plan, landed, rows, seed, scenario) for landed in due]
    return [p for p in written if p is not None]


def _land_outcomes(plan: LandingPlan, day: int, rows: int, seed: int, scenario: Scenario):
    """The outcomes file that lands on day `day`: those of the applications of `delay_days`
    earlier that the business can observe."""
    if day < plan.delay_days:
        return None
    path = plan.outcomes_landing / f"{plan.start + dt.timedelta(days=day)}.csv"
    if plan.decisions is not None and path.exists():
        return None  # final: the business never takes back an observed outcome
    origin = day - plan.delay_days
    origin_date = plan.start + dt.timedelta(days=origin)
    _, labels = labelled_truth(origin, origin_date, rows, seed, scenario)
    labels = labels.select("application_id", "defaulted")
    if plan.decisions is not None:
        observed = plan.decisions.observable(origin_date, labels["application_id"])
        if observed is None:
            return None  # not decided yet: the outcomes wait for the decisions
        labels = labels.filter(pl.col("application_id").is_in(observed.implode()))
    return write_if_changed(path, csv_bytes(labels))


def plan_for(spec, ground_truth_root: Path, lake_root: Path | UPath) -> LandingPlan:
    """The landing plan of a dataset spec whose source is this simulator; with selective labels
    the business reads the platform's decisions from the lake under `lake_root`."""
    if spec.start_date is None or spec.outcomes is None:
        raise ValueError(f"dataset {spec.name!r}: the simulator needs start_date and outcomes")
    decisions = (
        PlatformDecisions(lake_root / spec.name / "decisions", spec.decision.otherwise)
        if spec.decision.selective_labels
        else None
    )
    return LandingPlan(
        spec.landing,
        spec.outcomes,
        ground_truth_root / spec.name,
        spec.start_date,
        spec.target.delay_days,
        decisions,
    )


def landed_count(plan: LandingPlan) -> int:
    """Index of the first simulated day not yet landed (days land in order)."""
    day = 0
    while (plan.landing / f"{plan.start + dt.timedelta(days=day)}.csv").exists():
        day += 1
    return day
