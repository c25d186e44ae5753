"""The dataset spec: a small YAML file that describes any tabular binary-classification source.

`load_spec` parses it into a typed, validated `DatasetSpec`. Every problem is reported as a
`SpecError` whose message names the file and the key. The YAML is read with YAML 1.2's booleans
(only `true`/`false`): `Yes`, `No`, `on`, `off` stay the text the user wrote.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import yaml

FORMATS = ("csv", "parquet")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


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


@dataclass(frozen=True)
class Gates:
    """Promotion gates; every key is optional in the YAML."""

    # every rule reads a 95% interval of a paired comparison on the backtest's rows
    margin: float = 0.0  # the AUC gain over the champion must exceed this at its lower bound
    min_auc: float = 0.6  # absolute floor for the AUC's lower bound, also for the first model
    # observed/expected positives and the calibration slope must not lie wholly outside
    # [1 / (1 + t), 1 + t]
    calibration_tolerance: float = 0.15
    fairness_tolerance: float = 0.02  # an equalized-odds spread may not rise beyond this
    segment_tolerance: float = 0.03  # a segment's AUC may not fall beyond this
    min_segment_rows: int = 200  # smaller segments are reported, not gated


@dataclass(frozen=True)
class Serving:
    """How the endpoint serves and decides; every key is optional in the YAML."""

    rollout: str = "champion"  # champion | canary | shadow
    canary_share: float = 0.1  # canary: share of records the challenger decides
    control_share: float = 0.05  # exploration: share that gets `decision.otherwise` regardless
    max_records: int = 1000  # records per request; more is 413
    replicas: int = 2  # one per core on a laptop; each holds the models in memory
    max_replicas: int | None = None  # autoscale between `replicas` and this on queued requests
    max_replicas_per_node: int | None = None  # spread replicas over the Ray cluster's nodes
    max_batch_size: int = 64  # requests scored together by one replica
    batch_wait_ms: float = 2.0  # how long a replica waits to fill a batch
    api_key_env: str = "MLOPS_API_KEY"  # if this variable is set, requests need X-API-Key


ROLLOUTS = ("champion", "canary", "shadow")


@dataclass(frozen=True)
class Monitoring:
    """Retraining signals and their guardrails; every key is optional in the YAML."""

    auc_drop: float = 0.05  # trailing realized AUC this far below the expected one: retrain
    # or observed / predicted positives off by this factor, with a 99% interval excluding 1
    calibration_ratio: float = 1.2
    trailing_days: int = 7  # application days pooled for the realized AUC
    drift_columns: int = 2  # this many features with major drift: retrain
    domain_auc: float = 0.7  # or a domain classifier this sure (at least; more on small days)
    drift_confirm_days: int = 2  # drift must signal on this many consecutive days to retrain
    cooldown_days: int = 7  # business days between drift- or performance-driven retrains
    min_new_labels: int = 1000  # labelled rows since the champion's window, at least
    max_retrains_per_week: int = 2
    weekly_retrain: str = "0 3 * * 1"  # cron of the regular retrain (Mondays 03:00)
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
    serving: Serving = field(default_factory=Serving)
    monitoring: Monitoring = field(default_factory=Monitoring)
    source: Path | None = None

    @property
    def delayed_labels(self) -> bool:
        return self.target.delay_days > 0


_REQUIRED = ("name", "landing", "format", "target", "decision", "value")
_OPTIONAL = (
    "id_column",
    "outcomes",
    "features",
    "categorical",
    "segments",
    "protected",
    "start_date",
    "quality",
    "gates",
    "serving",
    "monitoring",
)
_SECTIONS = {
    "target": ({"column", "positive"}, {"delay_days"}),
    "decision": ({"action", "otherwise", "threshold"}, set()),
    "value": (
        {"action_positive", "action_negative", "otherwise_positive", "otherwise_negative"},
        set(),
    ),
    "quality": (set(), set(Quality.__dataclass_fields__)),
    "gates": (set(), set(Gates.__dataclass_fields__)),
    "serving": (set(), set(Serving.__dataclass_fields__)),
    "monitoring": (set(), set(Monitoring.__dataclass_fields__)),
}


def load_spec(path: str | Path, home: str | Path | None = None) -> DatasetSpec:
    """Read and validate a dataset spec.

    Relative paths are relative to the spec file's folder; `${MLOPS_HOME}` in a path is replaced
    by `home` (the built-in simulator's spec lands its files under the home folder).
    """
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"dataset spec {path}: no such file")
    try:
        raw = yaml.load(path.read_text(), Loader=_Yaml12Loader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        raise SpecError(f"dataset spec {path}: not valid YAML ({exc})") from exc
    return parse_spec(raw, base=path.parent, home=home, source=path)


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 booleans: only true/false, not yes/no/on/off."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def parse_spec(
    raw: Any, base: Path, home: str | Path | None = None, source: Path | None = None
) -> DatasetSpec:
    """Validate an already-parsed YAML mapping (see `load_spec`)."""
    where = f"dataset spec {source}" if source else "dataset spec"

    def fail(key: str, problem: str) -> SpecError:
        return SpecError(f"{where}: key '{key}': {problem}")

    if not isinstance(raw, dict):
        raise SpecError(f"{where}: expected a mapping of keys, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise fail(unknown[0], f"unknown key (allowed: {', '.join(_REQUIRED + _OPTIONAL)})")
    for key in _REQUIRED:
        if raw.get(key) is None:
            raise fail(key, "missing required key")
    sections = {name: _section(raw, name, *keys, fail) for name, keys in _SECTIONS.items()}

    name = raw["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise fail(
            "name", f"{name!r} must be lowercase letters, digits or '_', starting with a letter"
        )
    fmt = raw["format"]
    if fmt not in FORMATS:
        raise fail("format", f"{fmt!r} is not one of {', '.join(FORMATS)}")

    def resolve(key: str) -> Path:
        value = raw[key]
        if not isinstance(value, str) or not value:
            raise fail(key, "must be a path")
        if "${MLOPS_HOME}" in value:
            if home is None:
                raise fail(key, "uses ${MLOPS_HOME} but no home folder was given")
            value = value.replace("${MLOPS_HOME}", str(home))
        p = Path(value).expanduser()
        return (p if p.is_absolute() else base / p).resolve()

    target_raw = sections["target"]
    delay = target_raw.get("delay_days", 0)
    if not isinstance(delay, int) or isinstance(delay, bool) or delay < 0:
        raise fail("target.delay_days", f"{delay!r} must be a whole number of days >= 0")
    if not isinstance(target_raw["column"], str):
        raise fail("target.column", "must be a column name")
    target = Target(column=target_raw["column"], positive=target_raw["positive"], delay_days=delay)

    outcomes = resolve("outcomes") if raw.get("outcomes") is not None else None
    if delay > 0 and outcomes is None:
        raise fail("outcomes", f"required when target.delay_days is {delay} (labels arrive later)")
    if delay == 0 and outcomes is not None:
        raise fail("outcomes", "only allowed when target.delay_days > 0")
    id_column = raw.get("id_column")
    if id_column is not None and not isinstance(id_column, str):
        raise fail("id_column", "must be a column name")
    if delay > 0 and id_column is None:
        raise fail("id_column", "required when labels arrive later: outcomes are joined by it")

    features = _columns_or_auto(raw, "features", fail)
    categorical = _columns_or_auto(raw, "categorical", fail)
    reserved = {c for c in (id_column, target.column) if c}
    for key, cols in (("features", features), ("categorical", categorical)):
        clash = sorted(reserved & set(cols or ()))
        if clash:
            raise fail(key, f"must not contain the id or target column {clash[0]!r}")
    if features is not None and categorical is not None:
        extra = sorted(set(categorical) - set(features))
        if extra:
            raise fail("categorical", f"{extra[0]!r} is not listed in 'features'")

    return DatasetSpec(
        name=name,
        landing=resolve("landing"),
        format=fmt,
        id_column=id_column,
        target=target,
        outcomes=outcomes,
        features=features,
        categorical=categorical,
        segments=_column_list(raw, "segments", fail),
        protected=_column_list(raw, "protected", fail),
        decision=_decision(sections["decision"], fail),
        value=_value(sections["value"], fail),
        start_date=_date(raw.get("start_date"), fail),
        quality=_quality(sections["quality"], fail),
        gates=_gates(sections["gates"], fail),
        serving=_serving(sections["serving"], fail),
        monitoring=_monitoring(sections["monitoring"], fail),
        source=source,
    )


REPLACED = {  # keys of earlier versions, and what took their place
    "gates.max_ece": "gates.calibration_tolerance (an interval test, not a fixed ECE bound)",
    "monitoring.retrain_gap_days": "the label delay (a shorter gap trains on unseen labels)",
}


def _section(raw, name, required, optional, fail) -> dict:
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


def _column_list(raw, key, fail) -> tuple[str, ...]:
    value = raw.get(key) or []
    if not isinstance(value, list) or not all(isinstance(c, str) and c for c in value):
        raise fail(key, "must be a list of column names")
    if len(set(value)) != len(value):
        raise fail(key, "lists a column twice")
    return tuple(value)


def _columns_or_auto(raw, key, fail) -> tuple[str, ...] | None:
    value = raw.get(key, "auto")
    if value == "auto":
        return None
    columns = _column_list(raw, key, fail)
    if not columns:
        raise fail(key, "must be 'auto' or a non-empty list of column names")
    return columns


def _number(section, key, fail, where) -> float:
    value = section[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(f"{where}.{key}", f"{value!r} must be a number")
    return float(value)


def _decision(section, fail) -> Decision:
    for key in ("action", "otherwise"):
        if not isinstance(section[key], str) or not section[key]:
            raise fail(f"decision.{key}", "must be the name of an action")
    if section["action"] == section["otherwise"]:
        raise fail("decision.otherwise", "must differ from decision.action")
    threshold = section["threshold"]
    if threshold != "auto":
        threshold = _number(section, "threshold", fail, "decision")
        if not 0.0 <= threshold <= 1.0:
            raise fail("decision.threshold", f"{threshold} must be 'auto' or within [0, 1]")
    return Decision(
        section["action"], section["otherwise"], None if threshold == "auto" else threshold
    )


def _value(section, fail) -> Value:
    return Value(**{k: _number(section, k, fail, "value") for k in Value.__dataclass_fields__})


def _quality(section, fail) -> Quality:
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
    return q


def _gates(section, fail) -> Gates:
    gates = Gates(**section)
    for key in Gates.__dataclass_fields__:
        v = getattr(gates, key)
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
            raise fail(f"gates.{key}", f"{v!r} must be a number >= 0")
    if gates.min_auc > 1:
        raise fail("gates.min_auc", "must be <= 1")
    return gates


def _serving(section, fail) -> Serving:
    serving = Serving(**section)
    for key in ("max_replicas", "max_replicas_per_node"):
        v = getattr(serving, key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise fail(f"serving.{key}", f"{v!r} must be a whole number >= 1")
    if serving.max_replicas is not None and serving.max_replicas < serving.replicas:
        raise fail("serving.max_replicas", f"must be at least replicas ({serving.replicas})")
    if serving.rollout not in ROLLOUTS:
        raise fail("serving.rollout", f"{serving.rollout!r} is not one of {', '.join(ROLLOUTS)}")
    for key in ("canary_share", "control_share"):
        v = getattr(serving, key)
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
            raise fail(f"serving.{key}", f"{v!r} must be a number within [0, 1]")
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


def _monitoring(section, fail) -> Monitoring:
    monitoring = Monitoring(**section)
    if (
        isinstance(monitoring.calibration_ratio, bool)
        or not isinstance(monitoring.calibration_ratio, int | float)
        or monitoring.calibration_ratio < 1
    ):
        raise fail("monitoring.calibration_ratio", "must be a number >= 1")
    v = monitoring.retrain_half_life_days
    if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
        raise fail("monitoring.retrain_half_life_days", f"{v!r} must be a number > 0")
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
        "drift_confirm_days",
    ):
        v = getattr(monitoring, key)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise fail(f"monitoring.{key}", f"{v!r} must be a whole number >= 0")
    if monitoring.drift_confirm_days < 1:
        raise fail("monitoring.drift_confirm_days", "must be a whole number >= 1")
    if (
        not isinstance(monitoring.weekly_retrain, str)
        or len(monitoring.weekly_retrain.split()) != 5
    ):
        raise fail("monitoring.weekly_retrain", "must be a cron expression with five fields")
    return monitoring


def _date(value, fail) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise fail("start_date", f"{value!r} is not a date (YYYY-MM-DD)") from exc
