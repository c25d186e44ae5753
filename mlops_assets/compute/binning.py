"""Split candidates for gradient boosting, found once per column.

scikit-learn's histogram gradient boosting bins each numeric column at its quantiles before it
fits. Given sample weights (the platform's fits always have them: inverse-propensity weights of
the control group, recency), scikit-learn 1.9 computes each of the 254 weighted quantiles in a
pass of its own: a fit of 120,000 rows takes ~10x as long as the same fit unweighted, nearly all
of it binning. `QuantileBins` maps each value to the index of its bin at the unweighted quantiles
(the thresholds the estimator finds without weights), so the estimator sees at most 255
distinct values per column and bins them as they are: the same partition of the values, found in
one vectorized pass, the fit itself still weighted. Missing values stay missing (the
estimator's own branch for them)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

MAX_BINS = 255  # the estimator's default `max_bins`
ALMOST_INF = 1e300  # as scikit-learn: +inf thresholds are kept for the missing values' split


class QuantileBins(TransformerMixin, BaseEstimator):
    """Numeric columns to their bin index (0 .. `max_bins` - 1) at the training quantiles."""

    def __init__(self, max_bins: int = MAX_BINS):
        self.max_bins = max_bins

    def fit(self, X, y=None):
        values = np.asarray(X, dtype=np.float64)
        self.n_features_in_ = values.shape[1]
        self.thresholds_ = [
            bin_thresholds(values[:, j], self.max_bins) for j in range(values.shape[1])
        ]
        return self

    def transform(self, X):
        values = np.asarray(X, dtype=np.float64)
        return np.column_stack(
            [to_bins(values[:, j], t) for j, t in enumerate(self.thresholds_)]
        ).reshape(values.shape)

    def get_feature_names_out(self, input_features=None):
        if input_features is None:
            return np.asarray([f"x{j}" for j in range(self.n_features_in_)], dtype=object)
        return np.asarray(input_features, dtype=object)


def bin_thresholds(column: np.ndarray, max_bins: int = MAX_BINS) -> np.ndarray:
    """Upper bin edges of `column` (missing values ignored), as scikit-learn's unweighted
    binning finds them: midpoints between the distinct values when there are at most
    `max_bins`, else the "averaged inverted CDF" quantiles."""
    present = np.sort(column[~np.isnan(column)])
    distinct = np.unique(present)
    if len(distinct) <= 1:
        return np.asarray([])
    if len(distinct) <= max_bins:
        thresholds = (distinct[:-1] + distinct[1:]) / 2
    else:
        ranks = np.linspace(0, 100, num=max_bins + 1)[1:-1]
        thresholds = np.unique(np.percentile(present, ranks, method="averaged_inverted_cdf"))
    return np.minimum(thresholds, ALMOST_INF)


def to_bins(column: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Each value's bin: the first threshold at or above it (`t[i-1] < x <= t[i]`); missing
    values stay missing."""
    bins = np.searchsorted(thresholds, column, side="left").astype(np.float64)
    return np.where(np.isnan(column), np.nan, bins)
