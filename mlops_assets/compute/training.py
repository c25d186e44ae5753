"""Training sets and model pipelines: plain functions over polars frames and scikit-learn."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import polars as pl

from mlops_assets.compute.calibration import (
    ISOTONIC_MIN_POSITIVES,
    CalibratedClassifier,
    IsotonicCalibration,
    PlattCalibration,
    platt_fit,
    ridge_for,
)
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
AUTO = "auto"  # the estimator picked by `fit_model`'s capacity rule


@dataclass(frozen=True)
class Recipe:
    """How a model is trained: what the backtest refits on each fold, for the candidate and for
    the champion alike. The capacity (boosting rounds, or the logistic regression's C) and the
    calibration are chosen inside the recipe, on its training rows only (`fit_model`)."""

    estimator: str = AUTO  # auto | hist_gradient_boosting | logistic_regression | dummy
    params: dict = field(default_factory=dict)
    seed: int = 0
    recency_half_life_days: float | None = None  # None: every row weighs the same
    # inverse-propensity weights above this are truncated in fits (not in evaluation, nor in
    # the two-parameter calibration fit): a control row weighs 1 / control_share (20), and a
    # few such rows would dominate a fit (bench/bench_selective_labels.py); None: untruncated
    weight_cap: float | None = TRAINING_WEIGHT_CAP
    calibration: str = "platt"  # platt | isotonic (with ISOTONIC_MIN_POSITIVES positives)


CROSS_FIT_BLOCKS = 3  # day blocks: each is scored by a model fitted on the others
SMALL_DATA_POSITIVES = 1000  # below this, `auto` lets a regularized logistic regression compete
LOGISTIC_C = (0.03, 0.3, 3.0)  # the logistic regression's inverse regularization, searched
BOOSTING_ROUNDS = 200  # the most boosting rounds the day-blocked early stopping can pick (the
# fixed count before it)


def fit_model(frame: pl.DataFrame, columns: FeatureColumns, recipe: Recipe) -> tuple[object, dict]:
    """The recipe's pipeline fitted on labelled rows, with its capacity and calibration chosen
    on held-out days of those rows, never on random rows.

    1. The days are cut into `CROSS_FIT_BLOCKS` contiguous blocks; each block is scored by
       models fitted on the others (cross-fitting), at every capacity searched: the boosting
       rounds up to `BOOSTING_ROUNDS` (early stopping on whole held-out days) and, with
       `estimator: auto` and fewer than `SMALL_DATA_POSITIVES` positives, a logistic
       regression at each C of `LOGISTIC_C`. The capacity with the lowest held-out log loss
       wins (`auto`: across both families; otherwise within the recipe's estimator).
    2. The calibration map is fitted to those cross-fitted scores, which come from models of
       the chosen capacity: Platt scaling with a ridge of `ridge_for(positives)` and the
       untruncated inverse-propensity weights, or isotonic regression when the recipe asks
       for it and there are `ISOTONIC_MIN_POSITIVES` positives.
    3. The chosen capacity is refitted on every row; the returned pipeline's last step is a
       `CalibratedClassifier`, so `predict_proba` is calibrated.

    Returns the pipeline and what was chosen (estimator, params, calibration, held-out loss).
    """
    positives = int(frame[LABEL].sum())
    blocks = _day_blocks(frame)
    info = {"estimator": recipe.estimator, "params": dict(recipe.params), "positives": positives}
    if recipe.estimator == "dummy" or blocks is None:
        estimator = "dummy" if recipe.estimator == "dummy" else _default_estimator(recipe)
        model = _fit(frame, columns, replace(recipe, estimator=estimator))
        reason = "dummy" if estimator == "dummy" else "too few days or one class per block"
        return model, {
            **info,
            "estimator": estimator,
            "calibration": {"method": "none", "reason": reason},
        }
    x, y = model_matrix(frame, columns), frame[LABEL].to_numpy()
    weights = sample_weights(frame, recipe)
    scored = []  # (held-out log loss, estimator, params, cross-fitted scores)
    families = [_default_estimator(recipe)]
    if recipe.estimator == AUTO and positives < SMALL_DATA_POSITIVES:
        families.append("logistic_regression")
    for family in families:
        scored += _cross_fitted(family, recipe, columns, x, y, weights, blocks)
    loss, estimator, params, held_out = min(scored, key=lambda s: s[0])
    calibration = _fit_calibration(frame, recipe, y, held_out, positives)
    model = _fit(frame, columns, replace(recipe, estimator=estimator, params=params))
    model.steps[-1] = ("model", CalibratedClassifier(model.steps[-1][1], calibration))
    losses = {f"{e} {p}": round(v, 6) for v, e, p, _ in scored}
    return model, {
        **info,
        "estimator": estimator,
        "params": params,
        "held_out_log_loss": round(loss, 6),
        "searched": len(losses),
        "calibration": {**calibration.describe(), "rows": len(y), "positives": positives},
    }


def _default_estimator(recipe: Recipe) -> str:
    return "hist_gradient_boosting" if recipe.estimator == AUTO else recipe.estimator


def _day_blocks(frame: pl.DataFrame) -> np.ndarray | None:
    """Block index per row: the days cut into contiguous blocks; None when there are fewer than
    two days, or a block's complement lacks a class (nothing to fit it with)."""
    days = sorted(frame[DAY].unique().to_list())
    if len(days) < 2:
        return None
    parts = np.array_split(np.arange(len(days)), min(CROSS_FIT_BLOCKS, len(days)))
    block_of_day = {days[i]: b for b, part in enumerate(parts) for i in part}
    blocks = np.array([block_of_day[d] for d in frame[DAY].to_list()])
    y = frame[LABEL].to_numpy()
    for b in range(len(parts)):
        if len(np.unique(y[blocks != b])) < 2:
            return None
    return blocks


def _cross_fitted(family, recipe, columns, x, y, weights, blocks) -> list[tuple]:
    """Held-out log loss and cross-fitted scores of the best capacity of `family` (the best
    boosting round; or, for `auto`'s logistic regression, each C)."""
    capacities = (
        [{"C": c} for c in LOGISTIC_C]  # the recipe's params are its own estimator's
        if family == "logistic_regression" and recipe.estimator == AUTO
        else [dict(recipe.params)]
    )
    w = np.ones(len(y)) if weights is None else weights
    results = []
    for params in capacities:
        fitted, totals = {}, None  # per round: the weighted held-out log loss summed
        for b in np.unique(blocks):
            train, test = blocks != b, blocks == b
            model = build_model(columns, family, _search_params(family, params), recipe.seed)
            extra = {} if weights is None else {"model__sample_weight": weights[train]}
            fitted[b] = model.fit(x[train], y[train], **extra)
            losses = np.array(
                [_log_loss(y[test], s, w[test]) * w[test].sum() for s in _staged(model, x[test])]
            )
            totals = losses if totals is None else totals[: len(losses)] + losses[: len(totals)]
        best = int(np.argmin(totals))
        held_out = np.empty(len(y))
        for b, model in fitted.items():
            for k, scores in enumerate(_staged(model, x[blocks == b])):
                if k == best:
                    held_out[blocks == b] = scores
                    break
        chosen = {**params, "max_iter": best + 1} if len(totals) > 1 else params
        results.append((float(totals[best] / w.sum()), family, chosen, held_out))
    return results


def _search_params(family: str, params: dict) -> dict:
    if family == "hist_gradient_boosting":
        return {**params, "max_iter": params.get("max_iter", BOOSTING_ROUNDS)}
    return params


def _staged(pipeline, x):
    """Scores after each boosting round (an iterator), or the one set of scores of another
    estimator."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = pipeline.named_steps["model"]
    if isinstance(model, HistGradientBoostingClassifier):
        inputs = pipeline.named_steps["preprocess"].transform(x)
        return (p[:, 1] for p in model.staged_predict_proba(inputs))
    return iter([pipeline.predict_proba(x)[:, 1]])


def _log_loss(y: np.ndarray, p: np.ndarray, weights: np.ndarray | None) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    losses = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    return float(np.average(losses, weights=weights))


def _fit_calibration(frame: pl.DataFrame, recipe: Recipe, y, held_out, positives: int):
    """The calibration map of the cross-fitted scores (see `fit_model`)."""
    weights = sample_weights(frame, replace(recipe, weight_cap=None))  # untruncated
    if recipe.calibration == "isotonic" and positives >= ISOTONIC_MIN_POSITIVES:
        return IsotonicCalibration.fit(y, held_out, weights)
    (a, b), _ = platt_fit(y, held_out, ridge=ridge_for(positives), weights=weights)
    return PlattCalibration(a, b)


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


def _fit(frame: pl.DataFrame, columns: FeatureColumns, recipe: Recipe):
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
