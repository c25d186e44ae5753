"""The typed dataset spec: what `config.spec.load_spec` returns, section by section."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

FORMATS = ("csv", "parquet")


class SpecError(ValueError):
    """A dataset spec that cannot be used; the message names the file and the key."""


_TRUE_FORMS = frozenset({"true", "yes", "on", "1", "1.0"})


_FALSE_FORMS = frozenset({"false", "no", "off", "0", "0.0"})


@dataclass(frozen=True)
class Target:
    column: str
    positive: Any
    delay_days: int = 0

    @property
    def positive_forms(self) -> frozenset[str]:
        """The texts (lowercase) that mean the positive class: its own text, and for a
        boolean-looking value every spelling of the same truth (yes/true/on/1)."""
        text = _text(self.positive)
        for forms in (_TRUE_FORMS, _FALSE_FORMS):
            if text in forms:
                return forms
        try:
            number = float(text)
        except ValueError:
            return frozenset({text})
        return frozenset(
            {text, _text(number)} | ({_text(int(number))} if number.is_integer() else set())
        )

    def is_positive(self, value: Any) -> bool:
        return value is not None and _text(value) in self.positive_forms

    def label(self) -> pl.Expr:
        """1 where the target column holds the positive class, 0 for the other, null if null;
        compared by text, so it holds for text, boolean and numeric columns alike."""
        column = pl.col(self.column)
        text = column.cast(pl.String).str.strip_chars().str.to_lowercase()
        matched = text.is_in(sorted(self.positive_forms)).cast(pl.Int8)
        return pl.when(column.is_null()).then(None).otherwise(matched)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().lower()


@dataclass(frozen=True)
class Decision:
    action: str
    otherwise: str
    threshold: float | None  # None = "auto": the value-optimal threshold from the backtest
    # True: an outcome exists only for applications that got `otherwise` (approve), which
    # includes the control group; the platform learns and judges from those rows only, each
    # weighted by the inverse of its probability of being observed (compute/selective.py)
    selective_labels: bool = False


@dataclass(frozen=True)
class Value:
    action_positive: float
    action_negative: float
    otherwise_positive: float
    otherwise_negative: float


@dataclass(frozen=True)
class Quality:
    """Data-quality thresholds; every key is optional in the YAML."""

    max_null_fraction: float = 0.2  # per column, above it the partition is blocked
    volume_tolerance: float = 3.0  # rows within [avg / t, avg * t] of the trailing average
    history_days: int = 28  # trailing days used to learn ranges, categories and feature stats
    min_history_days: int = 3  # below this, history-based checks pass and say so
    range_mostly: float = 0.99  # share of values that must lie in the learned range / set
    keep_validations: int = 90  # Great Expectations results (and pages) kept per suite; 0: all


@dataclass(frozen=True)
class Gates:
    """Promotion gates; every key is optional in the YAML."""

    # every rule reads a 95% interval of a paired comparison on the backtest's rows
    margin: float = 0.0  # the AUC gain over the champion must exceed this at its lower bound
    # a regular retrain (same recipe, newer data) against the deployed champion: its AUC
    # difference may fall at most this far below 0 at its lower bound (non-inferiority)
    non_inferiority_margin: float = 0.01
    min_auc: float = 0.6  # absolute floor for the AUC's lower bound, also for the first model
    # observed/expected positives and the calibration slope must not lie wholly outside
    # [1 / (1 + t), 1 + t]
    calibration_tolerance: float = 0.15
    fairness_tolerance: float = 0.02  # an equalized-odds spread may not rise beyond this
    segment_tolerance: float = 0.03  # a segment's AUC may not fall beyond this
    min_segment_rows: int = 200  # smaller segments are reported, not gated


ESTIMATOR_CHOICES = ("auto", "hist_gradient_boosting", "logistic_regression", "dummy")
CALIBRATIONS = ("platt", "isotonic")


@dataclass(frozen=True)
class ModelChoice:
    """How candidates are trained unless a run's config says otherwise; every key optional.
    `auto`: gradient boosting, or with fewer than 1,000 positives whichever of it and a
    regularized logistic regression predicts held-out days better (`compute.training`)."""

    estimator: str = "auto"
    params: dict = field(default_factory=dict)  # the estimator's scikit-learn parameters
    calibration: str = "platt"  # or isotonic (used with 1,000 positives or more)


SEARCHABLE = ("hist_gradient_boosting", "logistic_regression")  # estimator families a sweep draws


@dataclass(frozen=True)
class ParamRange:
    """One hyperparameter's range in a sweep: `values` (drawn with equal chances), or `low` ..
    `high` (uniform, log-uniform with `log`, rounded to whole numbers with `integer`)."""

    values: tuple = ()
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False


DEFAULT_SEARCH = {  # boosting rounds are not searched: day-blocked early stopping picks them
    "hist_gradient_boosting": {
        "learning_rate": ParamRange(low=0.02, high=0.3, log=True),
        "max_leaf_nodes": ParamRange(values=(4, 8, 15, 31)),
        "min_samples_leaf": ParamRange(low=10, high=200, log=True, integer=True),
        "l2_regularization": ParamRange(low=0.0, high=10.0),
    },
    "logistic_regression": {"C": ParamRange(low=0.001, high=10.0, log=True)},
}


@dataclass(frozen=True)
class Experiments:
    """What `mlops sweep` searches (`compute.sweep`); every key optional."""

    trials: int = 16  # recipes drawn, each scored by the walk-forward backtest
    holdout_days: int = 7  # the last days of the training set, seen by no trial: the winner's
    # score is re-checked on them
    seed: int = 0  # of the draws (and of every trial's fit)
    search: dict = field(default_factory=lambda: dict(DEFAULT_SEARCH))  # family -> param -> range


@dataclass(frozen=True)
class Serving:
    """How the endpoint serves and decides; every key is optional in the YAML."""

    rollout: str = "champion"  # champion | canary | shadow
    canary_share: float = 0.1  # canary: share of records the challenger decides
    control_share: float = 0.05  # exploration: share that gets `decision.otherwise` regardless
    # exploration near the threshold (selective labels): this share of the applications whose
    # score lies in [threshold, explore_band x threshold) get `decision.otherwise` too (0: off)
    explore_share: float = 0.0
    explore_band: float = 1.5
    max_records: int = 1000  # records per request; more is 413
    replicas: int = 2  # one per core on a laptop; each holds the models in memory
    max_replicas: int | None = None  # autoscale between `replicas` and this on queued requests
    max_replicas_per_node: int | None = None  # spread replicas over the Ray cluster's nodes
    max_batch_size: int = 64  # requests scored together by one replica
    batch_wait_ms: float = 2.0  # how long a batch waits for more while others are in flight
    api_key_env: str = "MLOPS_API_KEY"  # if this variable is set, requests need X-API-Key


ROLLOUTS = ("champion", "canary", "shadow")


@dataclass(frozen=True)
class Monitoring:
    """Retraining signals and their guardrails; every key is optional in the YAML."""

    # trailing realized AUC this far below the expected one, its whole 99% interval: retrain
    auc_drop: float = 0.05
    # or the calibration CUSUM of the observed rows alarms: it tests odds of a positive off by
    # this factor (either way) against calibrated scores, with an average run length of at
    # least `cusum_arl_days` between false alarms; a day effect of sd `day_effect_sd` on the
    # log-odds (which no model foresees) discounts each day's evidence
    calibration_ratio: float = 1.5
    cusum_arl_days: float = 5000.0
    day_effect_sd: float = 0.1
    trailing_days: int = 7  # application days pooled for the realized AUC
    drift_columns: int = 2  # this many features with major drift: retrain
    domain_auc: float = 0.7  # or a domain classifier this sure (at least; more on small days)
    # drift retrains on a test of the pooled last this many days (1: the day alone), whose
    # null allows for the reference's own day-to-day variation
    drift_pool_days: int = 3
    cooldown_days: int = 7  # business days between drift- or performance-driven retrains
    min_new_labels: int = 1000  # labelled rows since the champion's window, at least
    max_retrains_per_week: int = 2
    weekly_retrain: str = "0 3 * * 1"  # cron of the regular retrain (Mondays 03:00)
    health_cron: str = "*/15 * * * *"  # cron on which `pipeline_health` is refreshed
    # freshness checks (warnings, and alerts): raw and decisions materialized within this many
    # hours, the champion within this many days (a weekly retrain moves it, or re-confirms it)
    freshness_hours: float = 26.0
    champion_max_days: float = 8.0
    # a drift or performance retrain weights recent rows (half-life in days) and is backtested
    # on the latest `retrain_folds` x `retrain_fold_days` labelled days (the gap stays the label
    # delay), so that the gates can see a model of the new regime win
    retrain_half_life_days: float = 7.0
    retrain_folds: int = 2
    retrain_fold_days: int = 3
    target_approval_rate: float | None = None  # business targets the KPIs are held against
    target_value_per_application: float | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """A validated dataset spec. Paths are absolute."""

    name: str
    landing: Path
    format: str
    target: Target
    decision: Decision
    value: Value
    id_column: str | None = None
    outcomes: Path | None = None
    features: tuple[str, ...] | None = None  # None = auto
    categorical: tuple[str, ...] | None = None  # None = auto
    segments: tuple[str, ...] = ()
    protected: tuple[str, ...] = ()
    start_date: dt.date | None = None
    quality: Quality = field(default_factory=Quality)
    gates: Gates = field(default_factory=Gates)
    model: ModelChoice = field(default_factory=ModelChoice)
    serving: Serving = field(default_factory=Serving)
    monitoring: Monitoring = field(default_factory=Monitoring)
    experiments: Experiments = field(default_factory=Experiments)
    owners: tuple[str, ...] = ()  # of its assets, in Dagster: e-mail addresses or `team:<name>`
    source: Path | None = None

    @property
    def delayed_labels(self) -> bool:
        return self.target.delay_days > 0
