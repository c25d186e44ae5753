"""A fast scorer for the default model (histogram gradient boosting behind ordinal encoding).

`Pipeline.predict_proba` spends ~10 ms per call on column-transformer and validation overhead,
whatever the number of rows; a served request has a few rows. The compiled scorer folds the two
ordinal encoders into one lookup per categorical column (polars), builds the estimator's input
array directly (numeric columns to their bins, `QuantileBins`), and sums the fitted trees, the
same arithmetic as scikit-learn's `_raw_predict`, then applies the model's calibration map
(`CalibratedClassifier`).
It is used only after it reproduces `predict_proba` on a probe sample (to 1e-9); any other model,
or a mismatch, keeps the pipeline's own `predict_proba`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import polars as pl

from mlops_assets.compute.binning import QuantileBins, to_bins
from mlops_assets.compute.calibration import CalibratedClassifier
from mlops_assets.compute.features import FeatureColumns
from mlops_assets.compute.training import model_matrix

Scorer = Callable[[pl.DataFrame], np.ndarray]  # model-input frame -> P(positive)


def pipeline_scorer(pipeline, columns: FeatureColumns) -> Scorer:
    """scikit-learn's own path: polars -> pandas -> Pipeline.predict_proba."""
    return lambda features: pipeline.predict_proba(model_matrix(features, columns))[:, 1]


def compile_scorer(pipeline, columns: FeatureColumns, probe: pl.DataFrame) -> Scorer | None:
    """The compiled scorer if the pipeline has the supported shape and it agrees with
    `predict_proba` on `probe` (model-input rows); else None."""
    try:
        scorer = _compile(pipeline, columns)
        if scorer is None:
            return None
        got = scorer(probe)
    except (AttributeError, KeyError, TypeError, ValueError, pl.exceptions.PolarsError):
        return None  # not the shape this compiler knows: the pipeline's own path serves
    expected = pipeline_scorer(pipeline, columns)(probe)
    return scorer if np.allclose(got, expected, rtol=0, atol=1e-9) else None


def _compile(pipeline, columns: FeatureColumns) -> Scorer | None:
    from scipy.special import expit
    from sklearn.ensemble import HistGradientBoostingClassifier

    preprocess, model = pipeline.named_steps["preprocess"], pipeline.named_steps["model"]
    calibration = None
    if isinstance(model, CalibratedClassifier):
        model, calibration = model.estimator, model.calibration
    if not isinstance(model, HistGradientBoostingClassifier) or model.n_trees_per_iteration_ != 1:
        return None
    numeric = [c for c in columns.model_inputs if c not in columns.categorical]
    inner = model._preprocessor
    exprs: list[pl.Expr] = []
    if columns.categorical:
        outer = preprocess.named_transformers_["categorical"]
        encoder = inner.named_transformers_["encoder"]
        layout = inner.output_indices_
        if layout["encoder"] != slice(0, len(columns.categorical)) or outer.unknown_value != -1:
            return None
        for j, column in enumerate(columns.categorical):
            inner_codes = {float(v): float(k) for k, v in enumerate(encoder.categories_[j])}
            mapping = {
                str(category): inner_codes.get(float(i), math.nan)
                for i, category in enumerate(outer.categories_[j])
            }
            unknown = inner_codes.get(-1.0, math.nan)
            exprs.append(
                pl.col(column).replace_strict(mapping, default=unknown, return_dtype=pl.Float64)
            )
    elif inner is not None:
        return None
    exprs += [pl.col(c).cast(pl.Float64) for c in numeric]
    bins = preprocess.named_transformers_["numeric"]  # a model before QuantileBins: passthrough
    binned = (
        list(enumerate(bins.thresholds_, len(exprs) - len(numeric)))
        if isinstance(bins, QuantileBins)
        else []
    )
    known_categories, feature_map = model._bin_mapper.make_known_categories_bitsets()
    baseline = float(model._baseline_prediction.ravel()[0])
    predictors = [iteration[0] for iteration in model._predictors]

    def score(features: pl.DataFrame) -> np.ndarray:
        x = features.select(exprs).to_numpy(order="c")  # nulls become NaN: the missing branch
        for j, thresholds in binned:
            x[:, j] = to_bins(x[:, j], thresholds)
        raw = np.full(x.shape[0], baseline)
        for predictor in predictors:
            raw += predictor.predict(x, known_categories, feature_map, 1)
        p = expit(raw)
        return p if calibration is None else calibration.transform(p)

    return score


def probe_rows(profile, columns: FeatureColumns, rows: int = 64, seed: int = 0) -> pl.DataFrame:
    """Raw records spanning the profile: numbers across the observed range, every known
    category, an unseen one, and nulls everywhere."""
    rng = np.random.default_rng(seed)
    data: dict[str, list] = {}
    for column in columns.numeric:
        stats = profile.numeric.get(column)
        low, high = (stats.low, stats.high) if stats and stats.low is not None else (0.0, 1.0)
        values = rng.uniform(low - 0.1 * abs(low), high + 0.1 * abs(high), rows)
        data[column] = [None if rng.random() < 0.1 else float(v) for v in values]
    for column in columns.categorical:
        known = list(profile.categories.get(column, {})) + ["__unseen__", None]
        data[column] = [known[i % len(known)] for i in rng.permutation(rows)]
    schema = {c: pl.Float64 for c in columns.numeric} | {c: pl.String for c in columns.categorical}
    return pl.DataFrame(data, schema=schema)
