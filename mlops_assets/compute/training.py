"""Training sets and model pipelines: plain functions over polars frames and scikit-learn."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from mlops_assets.compute.features import LABEL, FeatureColumns
from mlops_assets.compute.ingest import DAY
from mlops_assets.spec import DatasetSpec

LABEL_DAY = "_label_day"  # the day the label was observed (landed)
ESTIMATORS = ("hist_gradient_boosting", "logistic_regression", "dummy")


def training_frame(
    features: pl.LazyFrame,
    outcomes: pl.LazyFrame | None,
    spec: DatasetSpec,
    as_of: dt.date,
    window_days: int,
) -> pl.DataFrame:
    """Labelled rows known on `as_of`: features of the `window_days` latest labelled days.

    Only labels observed on or before `as_of` are used (outcomes files that landed by then, or
    labels in the same file for days up to `as_of`), and only feature rows of days up to it.
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


def fit_model(
    frame: pl.DataFrame,
    columns: FeatureColumns,
    estimator: str = "hist_gradient_boosting",
    params: dict | None = None,
    seed: int = 0,
    half_life_days: float | None = None,
):
    """`build_model` fitted on labelled rows, recency-weighted when `half_life_days` is set."""
    model = build_model(columns, estimator, params, seed)
    weights = recency_weights(frame[DAY], half_life_days)
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
                ("numeric", "passthrough", numeric),
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
