"""Day-to-day variation in the drift tests' null hypothesis.

Day-to-day variation. No two real days are alike (the weekday, a campaign, a broker's batch): a
day's shares and means scatter around the long run by more than its rows' sampling noise. A test
of sampling noise alone therefore flags a harmless day at high volume (at 20,000 rows a day a
shift of 0.05 standard deviations is many standard errors), and its false-alarm rate grows with
the volume. So the null hypothesis is "this window is another draw of days like the reference's
days", and its spread is measured where it can be seen: on the reference's own days
(`fit_reference` with the `_day` column). Each reference day is compared with the other days
(w^2 over the same bins; the rank effect); what their spread exceeds of the sampling variance is
the between-day variance tau^2 of one day. A window pooling k days against a reference of D days
then differs by tau^2 (1/k + 1/D) beyond sampling, which the chi-square and the rank test (as
variance) carry, with the estimate's own error (F and t distributions with Satterthwaite's
degrees of freedom: a reference of few days gives a wide null, not a tight wrong one). That error
is the noise of each day's whole spread, sampling included (`moment_se`), not of tau^2 alone: at
350 rows a day a column's day effect is about as large as a day's sampling noise, and counting
the reference's days as the degrees of freedom made the location test reject 4x its share of
quiet windows at the Bonferroni level. An estimate of 0 keeps its error. The chi-square needs
more than its mean:
a day whose mean moves shifts the decile shares in about one direction, and all of tau^2 in one
of the k - 1 directions gives a far heavier tail than the same tau^2 spread evenly (a scale alone
flagged 8% of quiet days at 2,000 rows a day and 25% at 20,000, where 1% was the budget). So the
reference also measures over how many directions its days spread (`between_day_directions`), and
the chi-square is matched to its first three moments (`two_sample.rao_scott`). At 100 rows a
day tau^2 is negligible beside sampling and the tests are the plain ones; at 20,000 it dominates
and the thresholds stop tightening with n. The effect floors (`Thresholds`) are a second, n-free
guard. A reference without `_day` (or of fewer than 3 days) has tau^2 = 0: sampling noise only.
Nulls and unseen categories keep their binomial tests and floors.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from mlops_assets.compute import frames
from mlops_assets.compute.frames import Frame
from mlops_assets.compute.two_sample import SMOOTHING, tie_factor

DAY_COLUMN = "_day"  # the reference rows' day, for the between-day variance (compute.ingest.DAY)
MIN_DAYS = 3  # fewer reference days: no between-day variance is estimated


def day_index_of(frame: Frame) -> np.ndarray | None:
    """0.. per distinct day of the `_day` column, or None without one."""
    names = frame.collect_schema().names() if isinstance(frame, pl.LazyFrame) else frame.columns
    if DAY_COLUMN not in names:
        return None
    days = frames.column(frame, DAY_COLUMN)
    return days.rank("dense").cast(pl.Int64).to_numpy() - 1


def split_by_day(values: np.ndarray, day_index: np.ndarray, days: int) -> list[np.ndarray]:
    """Each day's non-null (not NaN) values, sorted."""
    days_values = [values[day_index == d] for d in range(days)]
    return [np.sort(v[~np.isnan(v)]) for v in days_values]


def _each_day_against_the_others(day_counts: np.ndarray):
    """Each day's smoothed shares q over the k bins against the other days' p (as `shape_test`
    smooths them), with the day's rows n and the others' m; None with fewer than `MIN_DAYS`
    usable days or one bin."""
    counts = np.asarray(day_counts, dtype=float)
    days, k = counts.shape
    n = counts.sum(axis=1)
    others = counts.sum(axis=0) - counts
    m = others.sum(axis=1)
    keep = (n > 0) & (m > 0)
    if days < MIN_DAYS or keep.sum() < MIN_DAYS or k < 2:
        return None
    counts, others, n, m = counts[keep], others[keep], n[keep], m[keep]
    p = (others + SMOOTHING) / (m[:, None] + SMOOTHING * k)
    q = (counts + SMOOTHING) / (n[:, None] + SMOOTHING * k)
    return q, p, n, m


def between_day_w2(day_counts: np.ndarray, directions: float) -> tuple[float, float]:
    """Between-day variance tau^2 of one day's shares over k bins, in w^2 units: each day's w^2
    against the other days (smoothed as `shape_test`), less its sampling expectation
    (k - 1)(1/n + 1/m), averaged, and scaled from "one day against D - 1" to "one day against
    the long run" (divided by 1 + 1/(D - 1)); with its standard error (`moment_se`, the
    variation spread over `directions`: `between_day_directions`)."""
    days = _each_day_against_the_others(day_counts)
    if days is None:
        return 0.0, 0.0
    q, p, n, m = days
    excess = np.sum((q - p) ** 2 / p, axis=1) - (q.shape[1] - 1) * (1 / n + 1 / m)
    tau2 = max(0.0, float(excess.mean()))
    se = moment_se(tau2, float(np.mean(1 / n + 1 / m)), len(excess), directions, q.shape[1] - 1)
    scale = 1 + 1 / (len(excess) - 1)
    return tau2 / scale, se / scale


def between_day_directions(day_counts: np.ndarray) -> float:
    """Over how many directions of the shares the between-day variation spreads: tr(B)^2 /
    tr(B^2) of the between-day covariance B of one day's standardized shares (each day against
    the other days, less its sampling covariance, negative eigenvalues dropped). 1: the days
    move one way (a mean shifting); k - 1: evenly; 0: no variation beyond sampling."""
    days = _each_day_against_the_others(day_counts)
    if days is None:
        return 0.0
    q, p, n, m = days
    z, root = (q - p) / np.sqrt(p), np.sqrt(p)
    identity = np.eye(q.shape[1])[None]
    sampling = (1 / n + 1 / m)[:, None, None] * (identity - root[:, :, None] * root[:, None, :])
    covariance = (np.einsum("di,dj->ij", z, z) - sampling.sum(axis=0)) / len(z)
    eigenvalues = np.linalg.eigvalsh((covariance + covariance.T) / 2)
    eigenvalues = eigenvalues[eigenvalues > 0]
    if not eigenvalues.sum():
        return 0.0
    return float(eigenvalues.sum() ** 2 / (eigenvalues**2).sum())


def between_day_location(all_sorted: np.ndarray, per_day: list[np.ndarray]) -> tuple[float, float]:
    """Between-day variance of one day's rank effect P(day > rest) - 1/2: each day against the
    other days, less its sampling variance (ties corrected), averaged, scaled as above; with its
    standard error (`moment_se`)."""
    excess, sampled = [], []
    for values in per_day:
        n, m = len(values), len(all_sorted) - len(values)
        if n == 0 or m == 0:
            continue
        below = np.searchsorted(all_sorted, values, "left") - np.searchsorted(
            values, values, "left"
        )
        above = np.searchsorted(all_sorted, values, "right") - np.searchsorted(
            values, values, "right"
        )
        effect = float(np.mean((below + above) / 2) / m) - 0.5
        sampling = tie_factor(all_sorted, m, values) * (n + m + 1) / (12 * n * m)
        excess.append(effect**2 - sampling)
        sampled.append(sampling)
    if len(excess) < MIN_DAYS:
        return 0.0, 0.0
    variance = max(0.0, float(np.mean(excess)))
    se = moment_se(variance, float(np.mean(sampled)), len(excess))
    scale = 1 + 1 / (len(excess) - 1)
    return variance / scale, se / scale


def moment_se(
    between: float, sampling: float, days: int, directions: float = 1.0, dof: int = 1
) -> float:
    """Standard error of a between-day variance estimated by moments: each of `days` days'
    statistic over `dof` directions (sampling variance `sampling` in each, `between` spread over
    `directions` of them) less its sampling expectation, averaged. Its noise is that of the
    whole statistic, sampling included: sqrt(2 / (days - 1)) x between / sqrt(directions) only
    when sampling is negligible, and not 0 when the estimate is."""
    heavy = min(max(directions, 1.0), dof)
    per_day = (dof - heavy) * sampling**2 + heavy * (sampling + between / heavy) ** 2
    return float(np.sqrt(2 * per_day / (days - 1)))
