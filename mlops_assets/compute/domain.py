"""Multivariate drift: a classifier that tells the day's rows from the reference's, and the AUC
that only `alpha` of days without drift reach at the day's size."""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import stats

from mlops_assets.compute import frames
from mlops_assets.compute.drift import Thresholds
from mlops_assets.compute.frames import Frame

MIN_DOMAIN_ROWS = 20  # fewer rows on a side: the domain classifier is not trained


def domain_classifier_auc(
    reference: Frame,
    current: Frame,
    columns: list[str],
    categorical: list[str],
    sample: int = 5000,
    seed: int = 0,
) -> float:
    """Held-out ROC AUC of a classifier telling current rows from reference rows (0.5 = no
    multivariate drift). A LazyFrame's sample is gathered in one streaming pass."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    def encode(frame: Frame) -> np.ndarray:
        rows = frames.sample(frame, sample, seed)
        exprs = [
            pl.col(c).cast(pl.String).fill_null("").hash(7).mod(1 << 20).cast(pl.Float64)
            if c in categorical
            else pl.col(c).cast(pl.Float64)
            for c in columns
        ]
        return rows.select(exprs).to_numpy()

    if min(frames.height(reference), frames.height(current)) < MIN_DOMAIN_ROWS:
        return 0.5  # too few rows to tell anything apart: no evidence of drift
    x_ref, x_cur = encode(reference), encode(current)
    x = np.vstack([x_ref, x_cur])
    y = np.r_[np.zeros(len(x_ref)), np.ones(len(x_cur))]
    order = np.random.default_rng(seed).permutation(len(y))
    x, y = x[order], y[order]
    half = len(y) // 2
    mask = [c in categorical for c in columns]
    model = HistGradientBoostingClassifier(
        max_iter=30,
        max_leaf_nodes=15,
        categorical_features=mask if any(mask) else None,
        random_state=seed,
    )
    if any(mask):  # categorical codes must be small non-negative integers
        for j in np.flatnonzero(mask):
            _, x[:, j] = np.unique(x[:, j], return_inverse=True)
            x[:, j] = np.minimum(x[:, j], 250)
    if len(np.unique(y[:half])) < 2 or len(np.unique(y[half:])) < 2:
        return 0.5
    model.fit(x[:half], y[:half])
    return float(roc_auc_score(y[half:], model.predict_proba(x[half:])[:, 1]))


def domain_auc_threshold(
    reference_rows: int,
    current_rows: int,
    alpha: float,
    floor: float = Thresholds.domain_auc,
    sample: int = 5000,
) -> float:
    """The domain classifier's AUC that only `alpha` of days without drift reach: its held-out
    half (`domain_classifier_auc` samples up to `sample` rows of each side) under no drift has
    the Mann-Whitney standard error; never below `floor`."""
    n1 = max(min(sample, reference_rows) // 2, 1)
    n2 = max(min(sample, current_rows) // 2, 1)
    se = np.sqrt((n1 + n2 + 1) / (12 * n1 * n2))
    return float(max(floor, 0.5 + stats.norm.isf(alpha) * se))
