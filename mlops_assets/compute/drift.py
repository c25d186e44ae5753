"""Data drift: how far a day's columns moved from a reference (the champion's training data).

An alarm is a statistical test with a known false-alarm rate at the day's row count, and an effect
size that does not grow with the sample:

- numeric: a rank test of location (Mann-Whitney; effect: the probability that a current value
  exceeds a reference one, minus 1/2) and a chi-square test of shape over the reference's decile
  bins (effect: Cohen's w, bias-corrected for the counts);
- categorical: the same chi-square test over the reference's categories, unseen ones pooled;
- nulls: an exact binomial test of the day's null count (a named signal: new nulls), and of
  the rows in categories the reference never had (a named signal: unseen categories);
- multivariate: the ROC AUC of a classifier that tells reference rows from current ones, against
  its sampling distribution under no drift.

`Thresholds.alpha` is the chance that a day without drift raises any alarm: it is split over
every test of the day (Bonferroni). A column drifts when a test rejects and its effect is at
least the floor. PSI, KS, Wasserstein and Jensen-Shannon are reported beside, not decided on.

The reference is summarized once (`fit_reference`): decile edges and shares, null share,
category counts, sorted values (above `EXACT_MAX` rows a 4,097-point quantile sketch: KS,
Wasserstein and ranks within ~1/4096 of exact), and the between-day variance that the null of
the shape and location tests allows for (`compute.day_variance`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from mlops_assets.compute import frames
from mlops_assets.compute.day_variance import (
    MIN_DAYS,
    between_day_directions,
    between_day_location,
    between_day_w2,
    day_index_of,
    split_by_day,
)
from mlops_assets.compute.frames import Frame
from mlops_assets.compute.two_sample import (
    aligned_counts,
    category_counts,
    jensen_shannon,
    ks_statistic,
    null_test,
    rank_test,
    shape_test,
    unseen_test,
    wasserstein,
)

EXACT_MAX = 200_000  # above this many rows a column is summarized by quantiles
SKETCH = np.linspace(0.0, 1.0, 4097)


@dataclass(frozen=True)
class Thresholds:
    """What counts as drift: a test that rejects at the day's share of `alpha`, and an effect at
    least the floor; `major_*` effects make it major."""

    alpha: float = 0.01  # chance that a day without drift raises any alarm
    shape_w: float = 0.1  # Cohen's w over bins or categories
    location: float = 0.03  # |P(current > reference) - 1/2|, about 0.1 standard deviations
    major_w: float = 0.4  # about PSI 0.16
    major_location: float = 0.11  # about 0.4 standard deviations
    new_nulls: float = 0.02  # rise of the null share that is a "new nulls" signal
    unseen_share: float = 0.01  # share of rows in categories the reference never had
    domain_auc: float = 0.6  # floor of the domain classifier's AUC


@dataclass
class NumericReference:
    edges: np.ndarray  # inner decile edges
    shares: np.ndarray  # share per bin, last bin = nulls
    values: np.ndarray  # sorted values, or quantiles at SKETCH when `sketched`
    sketched: bool
    std: float
    rows_nonnull: int = 0
    shape_between: float = 0.0  # between-day variance of one day's w^2 over the bins
    shape_directions: float = 0.0  # over how many directions it spreads (0: evenly)
    shape_se: float = 0.0  # standard error of the shape_between estimate
    location_between: float = 0.0  # between-day variance of one day's rank effect
    location_se: float = 0.0  # and of its estimate


@dataclass
class Reference:
    rows: int
    numeric: dict[str, NumericReference] = field(default_factory=dict)
    categorical: dict[str, dict[str, int]] = field(default_factory=dict)
    days: int = 1  # days the reference pools (1: unknown)
    categorical_between: dict[str, float] = field(default_factory=dict)  # as shape_between
    categorical_directions: dict[str, float] = field(default_factory=dict)  # as shape_directions
    categorical_se: dict[str, float] = field(default_factory=dict)  # as shape_se

    def between(self, days: int, one_day_variance: float, se: float) -> dict:
        """What day-to-day variation adds between a window of `days` days and this reference,
        and the standard error of that estimate (`day_variance.moment_se`)."""
        if self.days < MIN_DAYS:
            return {"between": 0.0, "between_se": 0.0}
        window = 1 / max(days, 1) + 1 / self.days
        return {"between": one_day_variance * window, "between_se": se * window}


def fit_reference(frame: Frame, numeric: list[str], categorical: list[str]) -> Reference:
    """Summarize the reference rows once (a LazyFrame is read column by column); with a `_day`
    column, the between-day variance of every test's statistic too."""
    reference = Reference(rows=frames.height(frame))
    day_index = day_index_of(frame)
    if day_index is not None:
        reference.days = int(day_index.max()) + 1
    for name in numeric:
        column = frames.column(frame, name).cast(pl.Float64)
        values = np.sort(column.drop_nulls().to_numpy())
        nulls = reference.rows - len(values)
        edges = np.unique(np.quantile(values, np.linspace(0, 1, 11)[1:-1])) if len(values) else []
        counts = _bin_counts(values, np.asarray(edges), nulls)
        sketched = len(values) > EXACT_MAX
        summary = NumericReference(
            edges=np.asarray(edges),
            shares=counts / max(reference.rows, 1),
            values=np.quantile(values, SKETCH) if sketched else values,
            sketched=sketched,
            std=float(values.std()) if len(values) else 0.0,
            rows_nonnull=len(values),
        )
        if reference.days >= MIN_DAYS and len(values):
            per_day = split_by_day(column.to_numpy(), day_index, reference.days)
            day_counts = np.array([_bin_counts(v, summary.edges, 0)[:-1] for v in per_day])
            directions = summary.shape_directions = between_day_directions(day_counts)
            summary.shape_between, summary.shape_se = between_day_w2(day_counts, directions)
            summary.location_between, summary.location_se = between_day_location(values, per_day)
        reference.numeric[name] = summary
    for name in categorical:
        series = frames.column(frame, name)
        counts = category_counts(series)
        reference.categorical[name] = counts
        if reference.days >= MIN_DAYS:
            keys = sorted(k for k in counts if k != MISSING)
            codes = (
                series.cast(pl.String)
                .replace_strict(keys, list(range(len(keys))), default=-1, return_dtype=pl.Int64)
                .fill_null(-1)
            )
            seen = codes.to_numpy() >= 0  # nulls: -1, not a bin of the shape test
            table = np.zeros((reference.days, len(keys)))
            np.add.at(table, (day_index[seen], codes.to_numpy()[seen]), 1)
            directions = reference.categorical_directions[name] = between_day_directions(table)
            tau2, se = between_day_w2(table, directions)
            reference.categorical_between[name], reference.categorical_se[name] = tau2, se
    return reference


def tests_per_day(reference: Reference) -> int:
    """How many tests can raise a day's alarm: shape, location and nulls per numeric column;
    shape, nulls and unseen categories per categorical one; the domain classifier."""
    return 3 * len(reference.numeric) + 3 * len(reference.categorical) + 1


def alpha_per_test(reference: Reference, thresholds: Thresholds = Thresholds()) -> float:
    """The day's false-alarm budget split over its tests (Bonferroni)."""
    return thresholds.alpha / tests_per_day(reference)


def column_drift(
    reference: Reference, frame: Frame, thresholds: Thresholds = Thresholds(), days: int = 1
) -> pl.DataFrame:
    """One row per column: the tests, their effects and p-values, the descriptive distances
    (PSI, KS, Wasserstein, JS), `drifted`, `severity` and the named signals. `days`: how many
    days `frame` pools (the null allows for their day-to-day variation). A LazyFrame is read
    column by column."""
    alpha = alpha_per_test(reference, thresholds)
    rows, n = [], frames.height(frame)
    for name, ref in reference.numeric.items():
        values = _sorted_values(frame, name)
        ref_counts = ref.shares[:-1] * reference.rows
        current = _bin_counts(values, ref.edges, 0)[:-1]
        if len(values) == 0 or len(ref.values) == 0:  # a column all null on one side
            ks, w = 0.0, 0.0
        elif ref.sketched or len(values) > EXACT_MAX:
            ks, w = _sketch_distances(ref, values)
        else:
            ks, w = ks_statistic(ref.values, values), wasserstein(ref.values, values)
        spread = reference.between(days, ref.shape_between, ref.shape_se)
        location, p_location = rank_test(
            ref, values, **reference.between(days, ref.location_between, ref.location_se)
        )
        rows.append(
            {
                "column": name,
                "kind": "numeric",
                **shape_test(ref_counts, current, **spread, directions=ref.shape_directions),
                **null_test(ref.shares[-1], reference.rows, n - len(values), n),
                "location": location,
                "p_location": p_location,
                "ks": ks,
                "wasserstein": w / ref.std if ref.std > 0 else 0.0,
            }
        )
    for name, counts in reference.categorical.items():
        current = category_counts(frames.column(frame, name))
        nulls_ref, nulls_cur = counts.get(MISSING, 0), current.get(MISSING, 0)
        seen = {k: v for k, v in counts.items() if k != MISSING}
        expected, observed = aligned_counts(
            seen, {k: v for k, v in current.items() if k != MISSING}
        )
        directions = reference.categorical_directions.get(name, 0.0)
        tau2, se = reference.categorical_between.get(name, 0.0), reference.categorical_se.get(name)
        between = reference.between(days, tau2, se or 0.0)
        rows.append(
            {
                "column": name,
                "kind": "categorical",
                **shape_test(expected[:-1], observed[:-1], **between, directions=directions),
                **null_test(nulls_ref / max(reference.rows, 1), reference.rows, nulls_cur, n),
                "js": jensen_shannon(expected, observed),
                **unseen_test(seen, int(observed[-1]), int(observed.sum())),  # the last bin
            }
        )
    return _verdicts(pl.DataFrame(rows, schema=_SCHEMA), alpha, thresholds)


def _verdicts(table: pl.DataFrame, alpha: float, t: Thresholds) -> pl.DataFrame:
    """`drifted`, `severity` and the named signals of the tests' table: a test rejects at
    `alpha` and its effect clears its floor."""
    shape = (pl.col("p_shape") < alpha) & (pl.col("w") >= t.shape_w)
    location = (pl.col("p_location").fill_null(1.0) < alpha) & (
        pl.col("location").fill_null(0.0).abs() >= t.location
    )
    unseen = (pl.col("p_unseen").fill_null(1.0) < alpha) & (
        pl.col("unseen_share").fill_null(0.0) >= t.unseen_share
    )
    new_nulls = (pl.col("p_nulls") < alpha) & (pl.col("null_rise") >= t.new_nulls)
    major = (
        (pl.col("w") >= t.major_w)
        | (pl.col("location").fill_null(0.0).abs() >= t.major_location)
        | (pl.col("unseen_share").fill_null(0.0) >= 10 * t.unseen_share)
    )
    drifted = shape | location | unseen | new_nulls
    return table.with_columns(
        drifted.alias("drifted"),
        pl.when(~drifted)
        .then(pl.lit("none"))
        .when(major)
        .then(pl.lit("major"))
        .otherwise(pl.lit("moderate"))
        .alias("severity"),
        new_nulls.alias("new_nulls"),
        unseen.alias("unseen_categories"),
        pl.lit(alpha).alias("alpha"),
    )


MISSING = "__missing__"
_SCHEMA = {
    "column": pl.String,
    "kind": pl.String,
    "rows": pl.Int64,
    "w": pl.Float64,
    "p_shape": pl.Float64,
    "psi": pl.Float64,
    "location": pl.Float64,
    "p_location": pl.Float64,
    "ks": pl.Float64,
    "wasserstein": pl.Float64,
    "js": pl.Float64,
    "null_share_reference": pl.Float64,
    "null_share": pl.Float64,
    "null_rise": pl.Float64,
    "p_nulls": pl.Float64,
    "unseen_share": pl.Float64,
    "unseen_rows": pl.Int64,
    "p_unseen": pl.Float64,
}


def _sorted_values(frame: Frame, name: str) -> np.ndarray:
    return np.sort(frames.column(frame, name).drop_nulls().cast(pl.Float64).to_numpy())


def _bin_counts(sorted_values: np.ndarray, edges: np.ndarray, nulls: int) -> np.ndarray:
    cuts = np.searchsorted(sorted_values, edges, side="right")
    bounds = np.r_[0, cuts, len(sorted_values)]
    return np.r_[np.diff(bounds), nulls].astype(float)


def _sketch_distances(ref: NumericReference, values: np.ndarray) -> tuple[float, float]:
    """KS and Wasserstein-1 on the quantile grid."""
    if len(values) == 0:
        return 0.0, 0.0
    q_ref = ref.values if ref.sketched else np.quantile(ref.values, SKETCH)
    q_cur = values[np.minimum((SKETCH * (len(values) - 1)).round().astype(int), len(values) - 1)]
    points = np.sort(np.concatenate([q_ref, q_cur]))
    cdf_ref = np.searchsorted(q_ref, points, side="right") / len(q_ref)
    cdf_cur = np.searchsorted(q_cur, points, side="right") / len(q_cur)
    return float(np.max(np.abs(cdf_ref - cdf_cur))), float(np.mean(np.abs(q_ref - q_cur)))
