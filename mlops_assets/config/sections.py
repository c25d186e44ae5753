"""Parsing and validating one section of a dataset spec (`decision:`, `quality:`, `gates:`, ...);
`fail(key, problem)` builds the `SpecError` that names the file and the key."""

from __future__ import annotations

import datetime as dt

from mlops_assets.config.spec_types import (
    CALIBRATIONS,
    ESTIMATOR_CHOICES,
    ROLLOUTS,
    SEARCHABLE,
    Decision,
    Experiments,
    Gates,
    ModelChoice,
    Monitoring,
    ParamRange,
    Quality,
    Serving,
    Value,
)

REPLACED = {  # keys of earlier versions, and what took their place
    "gates.max_ece": "gates.calibration_tolerance (an interval test, not a fixed ECE bound)",
    "monitoring.retrain_gap_days": "the label delay (a shorter gap trains on unseen labels)",
    "monitoring.drift_confirm_days": "monitoring.drift_pool_days (one test of the pooled days)",
}


def read_section(raw, name, required, optional, fail) -> dict:
    section = raw.get(name) or {}
    if not isinstance(section, dict):
        raise fail(name, "must be a mapping")
    unknown = sorted(set(section) - required - optional)
    if unknown:
        key = f"{name}.{unknown[0]}"
        raise fail(key, f"replaced by {REPLACED[key]}" if key in REPLACED else "unknown key")
    missing = sorted(k for k in required if section.get(k) is None)
    if missing:
        raise fail(f"{name}.{missing[0]}", "missing required key")
    return section


def column_list(raw, key, fail) -> tuple[str, ...]:
    value = raw.get(key) or []
    if not isinstance(value, list) or not all(isinstance(c, str) and c for c in value):
        raise fail(key, "must be a list of column names")
    if len(set(value)) != len(value):
        raise fail(key, "lists a column twice")
    return tuple(value)


def parse_owners(value, fail) -> tuple[str, ...]:
    """Owners of the dataset's assets, as Dagster takes them: e-mails or `team:<name>`."""
    owners = value or []
    if not isinstance(owners, list) or not all(
        isinstance(o, str) and ("@" in o or (o.startswith("team:") and len(o) > 5)) for o in owners
    ):
        raise fail("owners", f"{value!r} must be a list of e-mail addresses or team:<name>")
    return tuple(owners)


def columns_or_auto(raw, key, fail) -> tuple[str, ...] | None:
    value = raw.get(key, "auto")
    if value == "auto":
        return None
    columns = column_list(raw, key, fail)
    if not columns:
        raise fail(key, "must be 'auto' or a non-empty list of column names")
    return columns


def number(section, key, fail, where) -> float:
    value = section[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(f"{where}.{key}", f"{value!r} must be a number")
    return float(value)


def parse_decision(section, fail, target, serving: dict) -> Decision:
    for key in ("action", "otherwise"):
        if not isinstance(section[key], str) or not section[key]:
            raise fail(f"decision.{key}", "must be the name of an action")
    if section["action"] == section["otherwise"]:
        raise fail("decision.otherwise", "must differ from decision.action")
    threshold = section["threshold"]
    if threshold != "auto":
        threshold = number(section, "threshold", fail, "decision")
        if not 0.0 <= threshold <= 1.0:
            raise fail("decision.threshold", f"{threshold} must be 'auto' or within [0, 1]")
    selective = section.get("selective_labels", False)
    if not isinstance(selective, bool):
        raise fail("decision.selective_labels", f"{selective!r} must be true or false")
    if selective and target.delay_days == 0:
        raise fail(
            "decision.selective_labels",
            "needs target.delay_days > 0: an outcome observed only after a loan is made arrives "
            "later, in outcomes files",
        )
    if selective and not serving.get("control_share", Serving.control_share):
        raise fail(
            "decision.selective_labels",
            "needs serving.control_share > 0: without a control group no declined applicant's "
            "outcome is ever observed, and nothing about them can be estimated",
        )
    return Decision(
        section["action"],
        section["otherwise"],
        None if threshold == "auto" else threshold,
        selective,
    )


def parse_value(section, fail) -> Value:
    return Value(**{k: number(section, k, fail, "value") for k in Value.__dataclass_fields__})


def parse_quality(section, fail) -> Quality:
    q = Quality(**section)
    for key in ("max_null_fraction", "range_mostly"):
        v = getattr(q, key)
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
            raise fail(f"quality.{key}", f"{v!r} must be a number within [0, 1]")
    if (
        isinstance(q.volume_tolerance, bool)
        or not isinstance(q.volume_tolerance, int | float)
        or q.volume_tolerance < 1
    ):
        raise fail("quality.volume_tolerance", f"{q.volume_tolerance!r} must be a number >= 1")
    for key in ("history_days", "min_history_days"):
        v = getattr(q, key)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise fail(f"quality.{key}", f"{v!r} must be a whole number >= 1")
    v = q.keep_validations
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise fail("quality.keep_validations", f"{v!r} must be a whole number >= 0 (0: all)")
    return q


def parse_gates(section, fail) -> Gates:
    gates = Gates(**section)
    for key in Gates.__dataclass_fields__:
        v = getattr(gates, key)
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
            raise fail(f"gates.{key}", f"{v!r} must be a number >= 0")
    if gates.min_auc > 1:
        raise fail("gates.min_auc", "must be <= 1")
    return gates


def parse_model(section, fail) -> ModelChoice:
    model = ModelChoice(**section)
    if model.estimator not in ESTIMATOR_CHOICES:
        raise fail(
            "model.estimator", f"{model.estimator!r} is not one of {', '.join(ESTIMATOR_CHOICES)}"
        )
    if not isinstance(model.params, dict):
        raise fail("model.params", "must be a mapping of the estimator's parameters")
    if model.calibration not in CALIBRATIONS:
        raise fail(
            "model.calibration", f"{model.calibration!r} is not one of {', '.join(CALIBRATIONS)}"
        )
    return model


def parse_experiments(section, fail) -> Experiments:
    defaults = Experiments()
    for key in ("trials", "holdout_days", "seed"):
        v = section.get(key, getattr(defaults, key))
        if isinstance(v, bool) or not isinstance(v, int) or v < (1 if key == "trials" else 0):
            raise fail(
                f"experiments.{key}", f"{v!r} must be a whole number >= {int(key == 'trials')}"
            )
    search = section.get("search")
    if search is None:
        return Experiments(**section)
    if not isinstance(search, dict) or not search:
        raise fail("experiments.search", "must map estimator families to parameter ranges")
    parsed = {}
    for family, params in search.items():
        where = f"experiments.search.{family}"
        if family not in SEARCHABLE:
            raise fail(where, f"{family!r} is not one of {', '.join(SEARCHABLE)}")
        if not isinstance(params, dict):
            raise fail(where, "must map parameter names to ranges")
        parsed[family] = {p: _param_range(r, fail, f"{where}.{p}") for p, r in params.items()}
    return Experiments(**{**section, "search": parsed})


def _param_range(raw, fail, where: str) -> ParamRange:
    """A list (a choice), a scalar (fixed) or {low, high, log, integer}."""
    if isinstance(raw, list):
        if not raw:
            raise fail(where, "an empty list of values")
        return ParamRange(values=tuple(raw))
    if not isinstance(raw, dict):
        return ParamRange(values=(raw,))
    unknown = sorted(set(raw) - {"low", "high", "log", "integer"})
    if unknown:
        raise fail(f"{where}.{unknown[0]}", "unknown key (low, high, log, integer)")
    low, high = raw.get("low"), raw.get("high")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)):
        raise fail(where, "needs numbers low and high")
    if low > high or (raw.get("log") and low <= 0):
        raise fail(where, f"low {low} must be <= high {high} (and > 0 with log)")
    return ParamRange(
        low=low, high=high, log=bool(raw.get("log")), integer=bool(raw.get("integer"))
    )


def parse_serving(section, fail) -> Serving:
    serving = Serving(**section)
    for key in ("max_replicas", "max_replicas_per_node"):
        v = getattr(serving, key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise fail(f"serving.{key}", f"{v!r} must be a whole number >= 1")
    if serving.max_replicas is not None and serving.max_replicas < serving.replicas:
        raise fail("serving.max_replicas", f"must be at least replicas ({serving.replicas})")
    if serving.rollout not in ROLLOUTS:
        raise fail("serving.rollout", f"{serving.rollout!r} is not one of {', '.join(ROLLOUTS)}")
    for key in ("canary_share", "control_share", "explore_share"):
        v = getattr(serving, key)
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
            raise fail(f"serving.{key}", f"{v!r} must be a number within [0, 1]")
    v = serving.explore_band
    if isinstance(v, bool) or not isinstance(v, int | float) or v < 1:
        raise fail("serving.explore_band", f"{v!r} must be a number >= 1 (times the threshold)")
    for key in ("max_records", "replicas", "max_batch_size"):
        v = getattr(serving, key)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise fail(f"serving.{key}", f"{v!r} must be a whole number >= 1")
    v = serving.batch_wait_ms
    if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
        raise fail("serving.batch_wait_ms", f"{v!r} must be a number >= 0")
    if not isinstance(serving.api_key_env, str) or not serving.api_key_env:
        raise fail("serving.api_key_env", "must be the name of an environment variable")
    return serving


def parse_monitoring(section, fail) -> Monitoring:
    monitoring = Monitoring(**section)
    if (
        isinstance(monitoring.calibration_ratio, bool)
        or not isinstance(monitoring.calibration_ratio, int | float)
        or monitoring.calibration_ratio <= 1
    ):
        raise fail("monitoring.calibration_ratio", "must be a number > 1")
    v = monitoring.cusum_arl_days
    if isinstance(v, bool) or not isinstance(v, int | float) or v <= 1:
        raise fail("monitoring.cusum_arl_days", f"{v!r} must be a number of days > 1")
    v = monitoring.day_effect_sd
    if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
        raise fail("monitoring.day_effect_sd", f"{v!r} must be a number >= 0")
    for key in ("retrain_half_life_days", "freshness_hours", "champion_max_days"):
        v = getattr(monitoring, key)
        if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
            raise fail(f"monitoring.{key}", f"{v!r} must be a number > 0")
    for key in ("auc_drop", "domain_auc"):
        v = getattr(monitoring, key)
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
            raise fail(f"monitoring.{key}", f"{v!r} must be a number within [0, 1]")
    for key in (
        "trailing_days",
        "drift_columns",
        "cooldown_days",
        "min_new_labels",
        "max_retrains_per_week",
        "retrain_folds",
        "retrain_fold_days",
        "drift_pool_days",
    ):
        v = getattr(monitoring, key)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise fail(f"monitoring.{key}", f"{v!r} must be a whole number >= 0")
    if monitoring.drift_pool_days < 1:
        raise fail("monitoring.drift_pool_days", "must be a whole number >= 1")
    for key in ("weekly_retrain", "health_cron"):
        v = getattr(monitoring, key)
        if not isinstance(v, str) or len(v.split()) != 5:
            raise fail(f"monitoring.{key}", f"{v!r} must be a cron expression with five fields")
    return monitoring


def parse_date(value, fail) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise fail("start_date", f"{value!r} is not a date (YYYY-MM-DD)") from exc
