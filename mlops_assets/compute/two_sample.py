"""Two-sample statistics of drift: for one column, the reference against the day.

Tests (chi-square of shape with pooled small bins, exact binomial of nulls and unseen categories,
Mann-Whitney of location with a tie correction) and the distances reported beside them (KS,
Wasserstein, Jensen-Shannon). `compute.drift` applies them to every column.

`between` is the part of a statistic's variance that comes from real day-to-day variation, not
from sampling rows (see `compute.day_variance`): the chi-square is then a weighted sum of
chi-squares, matched to one by its first three moments (the variation may lie in few of its
directions, `rao_scott`), tested with an F distribution whose denominator degrees of freedom are
Satterthwaite's for its estimated scale (`scale_df`); the rank test's variance gains `between`, with
Satterthwaite's degrees of freedom and a t distribution. Both from `between_se`, the estimate's
standard error: 0 gives the plain tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from scipy import stats

if TYPE_CHECKING:
    from mlops_assets.compute.drift import NumericReference

SMOOTHING = 0.5  # counts added to every bin before shares are compared (PSI, w)
MIN_EXPECTED = 5.0  # bins expected to hold fewer current rows are pooled for the chi-square


def shape_test(
    reference_counts: np.ndarray,
    current_counts: np.ndarray,
    between: float = 0.0,
    between_se: float = 0.0,
    directions: float = 0.0,
) -> dict:
    """Chi-square test of the 2 x k table (bins expected to hold fewer than `MIN_EXPECTED`
    current rows pooled), Cohen's w of the current shares against the reference's, less its
    expectation under no drift, and PSI on smoothed shares. `between`: the w^2 that day-to-day
    variation adds between the two samples, estimated with standard error `between_se` and
    spread over `directions` of the k - 1 (0: evenly over all)."""
    r, c = np.asarray(reference_counts, float), np.asarray(current_counts, float)
    m, n = r.sum(), c.sum()
    if n == 0 or m == 0:
        return {"rows": int(n), "w": 0.0, "p_shape": 1.0, "psi": 0.0}
    p = (r + SMOOTHING) / (m + SMOOTHING * len(r))
    q = (c + SMOOTHING) / (n + SMOOTHING * len(c))
    raw_w2 = float(np.sum((q - p) ** 2 / p))
    pooled_r, pooled_c = pool_small_bins(r, c)
    k = len(pooled_r)
    w2 = max(0.0, raw_w2 - (len(r) - 1) * (1 / n + 1 / m))  # its expectation under no drift
    p_shape = 1.0
    if k >= 2:
        table = np.vstack([pooled_r, pooled_c])
        fitted = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
        chi2 = float(np.sum((table - fitted) ** 2 / fitted))
        added = (n * m / (n + m)) * between  # E[chi2] - (k - 1) under no drift
        statistic, dof = rao_scott(chi2, k - 1, added, directions)
        df = scale_df(k - 1, added, (n * m / (n + m)) * between_se, directions)
        p_shape = (
            float(stats.f.sf(statistic / dof, dof, df))
            if np.isfinite(df)
            else float(stats.chi2.sf(statistic, dof))
        )
    return {
        "rows": int(n),
        "w": float(np.sqrt(w2)),
        "p_shape": p_shape,
        "psi": float(np.sum((q - p) * np.log(q / p))),
    }


def rao_scott(chi2: float, dof: int, added: float, directions: float) -> tuple[float, float]:
    """A chi-square on `dof` degrees of freedom whose mean rises by `added` over `directions` of
    them (0: all) as a chi2(nu) statistic and its nu. Under no drift it is a weighted sum of
    chi2(1)s (weights 1 + added / directions in those directions, 1 in the rest); Pearson's
    match of its first three moments keeps the tail (one heavy direction: a far heavier tail than
    a scale alone gives). Spread evenly it is the first-order scale: chi2 / (1 + added / dof)."""
    spread = min(directions, dof) if directions > 0 else dof
    heavy = added / spread  # what each of the `spread` directions gains
    moments = [dof + spread * ((1 + heavy) ** j - 1) for j in (1, 2, 3)]  # sums of weights^j
    nu = moments[1] ** 3 / moments[2] ** 2
    return nu + np.sqrt(nu / moments[1]) * (chi2 - moments[0]), nu


def scale_df(dof: int, added: float, added_se: float, directions: float) -> float:
    """Satterthwaite's degrees of freedom of the weighted sum of chi-squares' scale M2 / M1
    (its two-moment match) when `added` is estimated with standard error `added_se`: the heavy
    directions' own uncertainty when they dominate, the whole expectation's when they do not
    (infinite when nothing is estimated). M3 / M2, the three-moment scale, weighs the heavy
    directions more: at 350 rows a day its test was conservative (0.7-0.9x its level at 1-5%)
    and found a 10-point share shift in 88% of 3-day windows, against 91% for this scale."""
    if added_se <= 0:
        return np.inf
    spread = min(directions, dof) if directions > 0 else dof
    heavy, se = 1 + added / spread, added_se / spread
    m1, m2 = dof - spread + spread * heavy, dof - spread + spread * heavy**2
    slope = spread * (2 * heavy * m1 - m2) / m1**2  # d(m2 / m1) / d heavy
    return float(2 * (m2 / m1) ** 2 / (slope * se) ** 2)


def pool_small_bins(r: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bins whose expected current count is under `MIN_EXPECTED` go into one pooled bin (and
    that bin into the smallest other while it is still under it)."""
    expected = c.sum() * (r + c) / (r.sum() + c.sum())
    keep = expected >= MIN_EXPECTED
    r2, c2 = list(r[keep]), list(c[keep])
    if (~keep).any():
        r2.append(r[~keep].sum())
        c2.append(c[~keep].sum())
        if c.sum() * (r2[-1] + c2[-1]) / (r.sum() + c.sum()) < MIN_EXPECTED and len(r2) > 1:
            small = int(np.argmin(np.array(r2[:-1]) + np.array(c2[:-1])))
            r2[small] += r2.pop()
            c2[small] += c2.pop()
    keep_nonempty = (np.array(r2) + np.array(c2)) > 0
    return np.array(r2)[keep_nonempty], np.array(c2)[keep_nonempty]


def null_test(share_reference: float, m: int, nulls: int, n: int) -> dict:
    """Exact one-sided binomial test of the day's null count against the reference's share."""
    share = nulls / n if n else 0.0
    p = float(stats.binom.sf(nulls - 1, n, share_reference)) if n and nulls else 1.0
    return {
        "null_share_reference": share_reference,
        "null_share": share,
        "null_rise": share - share_reference,
        "p_nulls": p,
    }


def tie_factor(reference_values: np.ndarray, m: int, values: np.ndarray) -> float:
    """1 - sum(t^3 - t) / (N^3 - N) over the pooled tie counts t, the reference's read from its
    sorted values (or, sketched, from the share of the quantile grid each value holds)."""
    ref_values, ref_counts = np.unique(reference_values, return_counts=True)
    cur_values, cur_counts = np.unique(values, return_counts=True)
    n, total = len(values), m + len(values)
    if total < 2 or n == 0:
        return 1.0
    shares = ref_counts / len(reference_values) * m
    at = np.minimum(np.searchsorted(cur_values, ref_values), len(cur_values) - 1)
    both = cur_values[at] == ref_values  # a reference value the day has too: one pooled count
    pooled = cur_counts.astype(float)
    pooled[at[both]] += shares[both]
    t = np.r_[pooled, shares[~both]]
    return float(max(1.0 - np.sum(t**3 - t) / (total**3 - total), 1e-12))


def unseen_test(reference_counts: dict[str, int], unseen: int, n: int) -> dict:
    """Rows in categories the reference never had, tested (exact binomial, one-sided) against
    the share a sample of the reference's size leaves unseen (Good-Turing: the share of
    categories seen once)."""
    m = sum(reference_counts.values())
    singletons = sum(1 for count in reference_counts.values() if count == 1)
    expected = max(singletons, 1) / max(m, 1)
    p = float(stats.binom.sf(unseen - 1, n, min(expected, 1.0))) if n and unseen else 1.0
    return {"unseen_share": unseen / n if n else 0.0, "unseen_rows": unseen, "p_unseen": p}


def rank_test(
    reference: NumericReference,
    values: np.ndarray,
    between: float = 0.0,
    between_se: float = 0.0,
) -> tuple[float, float]:
    """Mann-Whitney test of location: P(current > reference) - 1/2 (ties count half) and its
    two-sided p-value under no drift (normal approximation, its variance corrected for ties,
    plus `between`, the effect's variance from day-to-day variation, estimated with standard
    error `between_se`)."""
    ref = reference.values
    m = reference.rows_nonnull
    n = len(values)
    if n == 0 or m == 0 or len(ref) == 0:
        return 0.0, 1.0
    below = np.searchsorted(ref, values, side="left")
    above = np.searchsorted(ref, values, side="right")
    superiority = float(np.mean((below + above) / 2) / len(ref))
    sampling = tie_factor(ref, m, values) * (n + m + 1) / (12 * n * m)
    effect = superiority - 0.5
    df = satterthwaite(sampling, between, between_se)
    return effect, float(2 * stats.t.sf(abs(effect) / np.sqrt(sampling + between), df))


def satterthwaite(known: float, estimated: float, estimated_se: float) -> float:
    """Degrees of freedom of `known + estimated` variance, the second estimated with standard
    error `estimated_se` (infinite when nothing is estimated)."""
    if estimated_se <= 0:
        return np.inf
    return float(2 * (known + estimated) ** 2 / estimated_se**2)


def ks_statistic(reference: np.ndarray, current: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic (as scipy.stats.ks_2samp) of sorted samples."""
    points = np.concatenate([reference, current])
    cdf_ref = np.searchsorted(reference, points, side="right") / len(reference)
    cdf_cur = np.searchsorted(current, points, side="right") / len(current)
    return float(np.max(np.abs(cdf_ref - cdf_cur)))


def wasserstein(reference: np.ndarray, current: np.ndarray) -> float:
    """Wasserstein-1 distance (as scipy.stats.wasserstein_distance) of sorted samples."""
    points = np.sort(np.concatenate([reference, current]))
    deltas = np.diff(points)
    cdf_ref = np.searchsorted(reference, points[:-1], side="right") / len(reference)
    cdf_cur = np.searchsorted(current, points[:-1], side="right") / len(current)
    return float(np.sum(np.abs(cdf_ref - cdf_cur) * deltas))


def jensen_shannon(expected_counts: np.ndarray, observed_counts: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2) of two count vectors over the same categories."""
    p = expected_counts / max(expected_counts.sum(), 1)
    q = observed_counts / max(observed_counts.sum(), 1)
    m = (p + q) / 2

    def kl(a, b):
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / b[mask])))

    return float(np.sqrt(max(0.5 * kl(p, m) + 0.5 * kl(q, m), 0.0)))


def category_counts(series: pl.Series) -> dict[str, int]:
    counts = series.cast(pl.String).fill_null("__missing__").value_counts()
    return dict(zip(counts[series.name].to_list(), counts["count"].to_list(), strict=True))


def aligned_counts(
    reference: dict[str, int], current: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Counts over the reference's categories, unseen current ones pooled as `__other__`."""
    keys = sorted(reference)
    expected = np.array([reference[k] for k in keys] + [0], dtype=float)
    observed = np.array(
        [current.get(k, 0) for k in keys]
        + [sum(v for k, v in current.items() if k not in reference)],
        dtype=float,
    )
    return expected, observed
