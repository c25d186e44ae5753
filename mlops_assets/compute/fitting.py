"""Fitting a recipe: its capacity and calibration chosen on held-out day blocks of its own
training rows (`fit_model`)."""

from __future__ import annotations

from dataclasses import replace

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
from mlops_assets.compute.training import (
    AUTO,
    Recipe,
    build_model,
    fit_recipe,
    model_matrix,
    sample_weights,
)

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
        model = fit_recipe(frame, columns, replace(recipe, estimator=estimator))
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
    model = fit_recipe(frame, columns, replace(recipe, estimator=estimator, params=params))
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


def recipe_fitter(columns: FeatureColumns, recipe: Recipe):
    """The backtest's `Fitter` of a recipe: fit it (`fit_model`) on a fold's training rows and
    return the fitted model's scorer of raw feature rows."""

    def fit(train: pl.DataFrame):
        model, _ = fit_model(train, columns, recipe)
        return lambda rows: model.predict_proba(model_matrix(rows, columns))[:, 1]

    return fit


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
