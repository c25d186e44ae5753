"""Training sets and model pipelines: plain functions over polars frames and scikit-learn."""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from mlops_assets.compute.features import LABEL, FeatureColumns
from mlops_assets.compute.ingest import DAY
from mlops_assets.compute.selective import WEIGHT, observable
from mlops_assets.config.spec import DatasetSpec

LABEL_DAY = "_label_day"  # the day the label was observed (landed)
ESTIMATORS = ("hist_gradient_boosting", "logistic_regression", "dummy")  # and "auto"


def training_frame(
    features: pl.LazyFrame,
    outcomes: pl.LazyFrame | None,
    spec: DatasetSpec,
    as_of: dt.date,
    window_days: int,
    decisions: pl.LazyFrame | None = None,
) -> pl.DataFrame:
    """Labelled rows known on `as_of`: features of the `window_days` latest labelled days.

    Only labels observed on or before `as_of` are used (outcomes files that landed by then, or
    labels in the same file for days up to `as_of`), and only feature rows of days up to it.
    With selective labels, only outcomes the platform's decisions (`decisions`, its log) left
    observable, each with its inverse-propensity `WEIGHT` (`compute.selective.observable`).
    """
    rows = features.filter(pl.col(DAY) <= as_of)
    if spec.delayed_labels:
        labels = outcomes.filter(pl.col(DAY) <= as_of).select(
            pl.col(spec.id_column),
            spec.target.label().alias(LABEL),
            pl.col(DAY).alias(LABEL_DAY),
        )
        rows = rows.join(labels, on=spec.id_column, how="inner").filter(pl.col(LABEL).is_not_null())
    else:
        rows = rows.filter(pl.col(LABEL).is_not_null()).with_columns(pl.col(DAY).alias(LABEL_DAY))
    rows = observable(rows, decisions, spec, spec.id_column)
    frame = rows.collect()
    if frame.height == 0:
        return frame
    last = frame[DAY].max()
    frame = frame.filter(pl.col(DAY) > last - dt.timedelta(days=window_days))
    return frame.sort([DAY, spec.id_column] if spec.id_column else [DAY], maintain_order=True)


def files_fingerprint(paths: Iterable[Path]) -> str:
    """SHA-256 over the names and bytes of the files a model was trained from."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def model_matrix(frame: pl.DataFrame, columns: FeatureColumns):
    """The pandas frame of model inputs (what the pipeline and its signature see): numbers as
    float64, so that a missing value is never a schema violation, categories as strings."""
    numeric = [c for c in columns.model_inputs if c not in columns.categorical]
    return (
        frame.select(
            *(pl.col(c).cast(pl.Float64) for c in numeric),
            *(pl.col(c).cast(pl.String) for c in columns.categorical),
        )
        .select(columns.model_inputs)
        .to_pandas()
    )


def recency_weights(days: pl.Series, half_life_days: float | None):
    """Sample weights that halve every `half_life_days` back from the latest day (None: equal
    weights), so that a model retrained after a change learns mostly from the new regime."""
    if not half_life_days:
        return None
    age = (days.max() - days).dt.total_days().to_numpy()
    return 0.5 ** (age / half_life_days)


TRAINING_WEIGHT_CAP = 3.0
AUTO = "auto"  # the estimator picked by `compute.fitting.fit_model`'s capacity rule


@dataclass(frozen=True)
class Recipe:
    """How a model is trained: what the backtest refits on each fold, for the candidate and for
    the champion alike. The capacity (boosting rounds, or the logistic regression's C) and the
    calibration are chosen inside the recipe, on its training rows only
    (`compute.fitting.fit_model`)."""

    estimator: str = AUTO  # auto | hist_gradient_boosting | logistic_regression | dummy
    params: dict = field(default_factory=dict)
    seed: int = 0
    recency_half_life_days: float | None = None  # None: every row weighs the same
    # inverse-propensity weights above this are truncated in fits (not in evaluation, nor in
    # the two-parameter calibration fit): a control row weighs 1 / control_share (20), and a
    # few such rows would dominate a fit (bench/bench_selective_labels.py); None: untruncated
    weight_cap: float | None = TRAINING_WEIGHT_CAP
    calibration: str = "platt"  # platt | isotonic (with ISOTONIC_MIN_POSITIVES positives)


def sample_weights(frame: pl.DataFrame, recipe: Recipe):
    """Each row's weight in a fit: its inverse-propensity `WEIGHT` (selective labels, truncated
    at the recipe's `weight_cap`) times its recency weight; None when every row weighs the
    same."""
    weights = recency_weights(frame[DAY], recipe.recency_half_life_days)
    if WEIGHT in frame.columns and not (frame[WEIGHT] == 1.0).all():
        ipw = frame[WEIGHT].to_numpy()
        if recipe.weight_cap is not None:
            ipw = np.minimum(ipw, recipe.weight_cap)
        weights = ipw if weights is None else weights * ipw
    return weights


def fit_recipe(frame: pl.DataFrame, columns: FeatureColumns, recipe: Recipe):
    """The recipe's pipeline fitted on every row as it is (no capacity search, no calibration)."""
    model = build_model(columns, recipe.estimator, recipe.params, recipe.seed)
    weights = sample_weights(frame, recipe)
    extra = {} if weights is None else {"model__sample_weight": weights}
    model.fit(model_matrix(frame, columns), frame[LABEL].to_numpy(), **extra)
    return model


def build_model(
    columns: FeatureColumns,
    estimator: str = "hist_gradient_boosting",
    params: dict | None = None,
    seed: int = 0,
):
    """A seeded scikit-learn Pipeline: preprocessing for numeric/categorical columns + estimator."""
    from sklearn.compose import ColumnTransformer
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    from mlops_assets.compute.binning import QuantileBins

    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator {estimator!r} is not one of {', '.join(ESTIMATORS)}")
    params = dict(params or {})
    numeric = list(columns.numeric) + [f"{c}__missing" for c in columns.numeric]
    categorical = list(columns.categorical)
    if estimator == "logistic_regression":
        pre = ColumnTransformer(
            [
                (
                    "numeric",
                    make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                    numeric,
                ),
                (
                    "categorical",
                    OneHotEncoder(handle_unknown="ignore", min_frequency=0.005),
                    categorical,
                ),
            ]
        )
        model = LogisticRegression(
            max_iter=params.pop("max_iter", 2000), random_state=seed, **params
        )
    else:
        pre = ColumnTransformer(
            [
                ("numeric", QuantileBins() if estimator != "dummy" else "passthrough", numeric),
                (
                    "categorical",
                    OrdinalEncoder(
                        handle_unknown="use_encoded_value",
                        unknown_value=-1,
                        encoded_missing_value=-1,
                    ),
                    categorical,
                ),
            ]
        )
        if estimator == "dummy":
            model = DummyClassifier(strategy="prior", **params)
        else:
            defaults = {
                "max_iter": 200,
                "learning_rate": 0.05,
                "max_leaf_nodes": 15,
                "min_samples_leaf": 40,
                "l2_regularization": 1.0,
                "early_stopping": False,
            }
            model = HistGradientBoostingClassifier(
                **{**defaults, **params},
                random_state=seed,
                categorical_features=[False] * len(numeric) + [True] * len(categorical),
            )
    return Pipeline([("preprocess", pre), ("model", model)])


RUN_ONLY_PARAMS = ("rows",)  # logged with a version's parameters, not part of its recipe


def recipe_from_params(logged: dict[str, str]) -> Recipe:
    """How a candidate was trained, from the parameters its MLflow run logged."""
    params = {k: _literal(v) for k, v in logged.items()}
    half_life = params.pop("recency_half_life_days", None)
    return Recipe(
        estimator=params.pop("estimator", "hist_gradient_boosting"),
        calibration=params.pop("calibration", "platt"),
        seed=int(params.pop("seed", 0)),
        recency_half_life_days=float(half_life) if half_life is not None else None,
        params={k: v for k, v in params.items() if k not in RUN_ONLY_PARAMS},
    )


def _literal(text: str):
    """A logged parameter back to its Python value ("200" -> 200, "None" -> None)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
