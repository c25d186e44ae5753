"""Intervals for the platform's decisions: paired AUC differences (DeLong), bootstraps over whole
days, binomial rates (Wilson) and calibration evidence (observed/expected, slope). Plain numpy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit
from scipy.stats import norm, rankdata

from mlops_assets.compute.calibration import CalibrationError, platt_fit

CONFIDENCE = 0.95  # two-sided: a bound is one-sided at 2.5%
MIN_CLUSTERS = 10  # fewer days than this: rows are resampled instead of days
DRAWS = 1000


def z_value(confidence: float = CONFIDENCE, comparisons: int = 1) -> float:
    """The normal quantile of a two-sided interval, Bonferroni-corrected over `comparisons`."""
    return float(norm.ppf(1 - (1 - confidence) / (2 * max(comparisons, 1))))


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float

    def as_dict(self, digits: int = 4) -> dict:
        return {k: round(float(v), digits) for k, v in vars(self).items()}

    def __str__(self) -> str:
        return f"{self.estimate:+.4f} [{self.low:+.4f}, {self.high:+.4f}]"


def _auc_components(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's placement values (Sun & Xu's midrank form): one row per model."""
    positives, negatives = scores[:, y == 1], scores[:, y == 0]
    m, n = positives.shape[1], negatives.shape[1]
    v10, v01 = np.empty_like(positives), np.empty_like(negatives)
    for k in range(scores.shape[0]):
        both = rankdata(np.concatenate([positives[k], negatives[k]]))
        v10[k] = (both[:m] - rankdata(positives[k])) / n
        v01[k] = 1.0 - (both[m:] - rankdata(negatives[k])) / m
    return v10, v01


def auc_interval(
    y: np.ndarray,
    p: np.ndarray,
    clusters: np.ndarray | None = None,
    confidence: float = CONFIDENCE,
    comparisons: int = 1,
) -> Interval | None:
    """ROC AUC with DeLong's interval (clustered when `clusters` is given); None without both
    classes."""
    scores = np.atleast_2d(np.asarray(p, dtype=float))
    return _delong(np.asarray(y), scores, clusters, confidence, comparisons, np.ones(1))


def auc_difference(
    y: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    clusters: np.ndarray | None = None,
    confidence: float = CONFIDENCE,
    comparisons: int = 1,
) -> Interval | None:
    """AUC(a) - AUC(b) on the same rows, with DeLong's paired interval (clustered when
    `clusters` is given); None without both classes. Identical scores give [0, 0]."""
    scores = np.vstack([np.asarray(a, dtype=float), np.asarray(b, dtype=float)])
    contrast = np.array([1.0, -1.0])
    return _delong(np.asarray(y), scores, clusters, confidence, comparisons, contrast)


def _delong(y, scores, clusters, confidence, comparisons, contrast) -> Interval | None:
    """A contrast of AUCs and its interval from the placement values: DeLong's variance, or with
    clusters (e.g. days) Obuchowski's, which also counts how clusters differ from each other."""
    y = (y == 1).astype(int)
    if not 0 < y.sum() < len(y):
        return None
    v10, v01 = _auc_components(y, scores)
    positives, negatives = contrast @ v10, contrast @ v01  # one placement value per row
    estimate = float(positives.mean())
    m, n = len(positives), len(negatives)
    if clusters is None:
        variance = (np.var(positives, ddof=1) if m > 1 else 0.0) / m + (
            np.var(negatives, ddof=1) if n > 1 else 0.0
        ) / n
    else:
        _, index = np.unique(clusters, return_inverse=True)
        k = index.max() + 1
        at_positives, at_negatives = index[y == 1], index[y == 0]
        r10 = (
            np.bincount(at_positives, positives, k) - np.bincount(at_positives, None, k) * estimate
        )
        r01 = (
            np.bincount(at_negatives, negatives, k) - np.bincount(at_negatives, None, k) * estimate
        )
        scale = k / (k - 1) if k > 1 else 0.0
        variance = scale * (
            (r10**2).sum() / m**2 + (r01**2).sum() / n**2 + 2 * (r10 * r01).sum() / (m * n)
        )
    half = z_value(confidence, comparisons) * np.sqrt(max(float(variance), 0.0))
    return Interval(estimate, estimate - half, estimate + half)


def clusters_of(days: np.ndarray) -> np.ndarray:
    """Cluster index per row for the bootstrap: the day, or the row when there are fewer than
    `MIN_CLUSTERS` days (a bootstrap over 3 days says nothing)."""
    _, index = np.unique(days, return_inverse=True)
    return index if index.max(initial=-1) + 1 >= MIN_CLUSTERS else np.arange(len(days))


def cluster_sums(clusters: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per-cluster sums of each column of `values` (rows x k): clusters x k."""
    values = np.asarray(values, dtype=float).reshape(len(clusters), -1)
    out = np.zeros((clusters.max(initial=-1) + 1, values.shape[1]))
    np.add.at(out, clusters, values)
    return out


def bootstrap(
    sums: np.ndarray, statistic, draws: int = DRAWS, seed: int = 0, chunk: int = 100
) -> np.ndarray:
    """`statistic` over `draws` resamples (with replacement) of the rows of `sums` (clusters x
    k): each draw passes the resampled column totals (chunk x k) and gets one value per draw."""
    rng = np.random.default_rng(seed)
    k = sums.shape[0]
    results = []
    for start in range(0, draws, chunk):
        n = min(chunk, draws - start)
        picks = rng.integers(0, k, size=(n, k)) + k * np.arange(n)[:, None]
        counts = np.bincount(picks.ravel(), minlength=n * k).reshape(n, k)  # times drawn
        results.append(statistic(counts @ sums))
    return np.concatenate(results)


def percentile_interval(
    estimate: float, draws: np.ndarray, confidence: float = CONFIDENCE, comparisons: int = 1
) -> Interval:
    tail = (1 - confidence) / (2 * max(comparisons, 1))
    draws = draws[np.isfinite(draws)]
    if not len(draws):
        return Interval(estimate, -np.inf, np.inf)
    low, high = np.quantile(draws, [tail, 1 - tail])
    return Interval(estimate, float(low), float(high))


def mean_difference(
    days: np.ndarray, a: np.ndarray, b: np.ndarray, seed: int = 0, comparisons: int = 1
) -> Interval:
    """mean(a - b) over paired rows, with a percentile bootstrap over whole days (Bonferroni-
    corrected over `comparisons`)."""
    clusters = clusters_of(days)
    sums = cluster_sums(clusters, np.column_stack([np.asarray(a) - np.asarray(b), np.ones(len(a))]))
    estimate = float(sums[:, 0].sum() / sums[:, 1].sum())
    draws = bootstrap(sums, lambda t: t[:, 0] / np.maximum(t[:, 1], 1e-12), seed=seed)
    return percentile_interval(estimate, draws, comparisons=comparisons)


def wilson(successes: int, trials: int, confidence: float = CONFIDENCE) -> Interval | None:
    """A binomial rate with its Wilson score interval; None when there are no trials."""
    if trials <= 0:
        return None
    z, rate = z_value(confidence), successes / trials
    centre = (rate + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * np.sqrt(rate * (1 - rate) / trials + z * z / (4 * trials**2)) / (1 + z * z / trials)
    return Interval(rate, max(0.0, centre - half), min(1.0, centre + half))


def calibration_evidence(
    y: np.ndarray,
    p: np.ndarray,
    confidence: float = CONFIDENCE,
    weights: np.ndarray | None = None,
    clusters: np.ndarray | None = None,
) -> dict:
    """Calibration in the large (observed / expected positives) and the calibration slope, each
    with an interval: a calibrated model has both at 1 whatever the row count.

    `weights`: what each row stands for (selective labels: the inverse of its probability of
    being observed); each row is one observation however large its weight, so the variances
    are sandwich (cluster-robust) ones over `clusters` (e.g. days; default: each row its own),
    never those of weighted copies. The ratio's variance is the larger of the sandwich and the
    model-based one (sum w^2 p (1 - p)): a few clusters must not make it look exact.
    """
    y, p = np.asarray(y, dtype=float), np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=float)
    index = np.arange(len(y)) if clusters is None else np.unique(clusters, return_inverse=True)[1]
    k = index.max(initial=-1) + 1
    scale = k / (k - 1) if k > 1 else 1.0
    z = z_value(confidence)
    observed, expected = float((w * y).sum()), float((w * p).sum())
    ratio = observed / max(expected, 1e-12)
    residual = np.bincount(index, w * (y - ratio * p), k)
    variance = max(scale * float((residual**2).sum()), float((w**2 * p * (1 - p)).sum()))
    spread = z * np.sqrt(variance) / max(expected, 1e-12)
    try:
        (a, b), _ = platt_fit(y, p, weights=w)
        x = np.column_stack([np.ones_like(y), logit(p)])
        q = expit(a + b * x[:, 1])
        bread = np.linalg.pinv((x * (w * q * (1 - q))[:, None]).T @ x)
        scores = np.column_stack([np.bincount(index, w * (y - q) * x[:, j], k) for j in range(2)])
        covariance = scale * bread @ (scores.T @ scores) @ bread
        slope_half = z * np.sqrt(max(covariance[1, 1], 0.0))
    except CalibrationError:  # separable scores: no finite slope, no evidence either way
        b, slope_half = float("nan"), float("inf")
    return {
        "observed_to_expected": Interval(
            ratio, ratio * np.exp(-spread), ratio * np.exp(spread)
        ).as_dict(),
        "slope": Interval(b, b - slope_half, b + slope_half).as_dict(),
        "rows": int(len(y)),
        "positives": int(y.sum()),
        "weighted": weights is not None and bool((w != 1).any()),
        "clusters": int(k),
    }
