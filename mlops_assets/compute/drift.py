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

The reference is summarized once (`fit_reference`) and reused for every day: decile edges and
shares, null share, category counts, and the sorted values (or, above `EXACT_MAX` rows, a
4,097-point quantile sketch: KS, Wasserstein and ranks are then computed on the quantile grid,
within about 1/4096 of the exact values).

Day-to-day variation. No two real days are alike (the weekday, a campaign, a broker's batch): a
day's shares and means scatter around the long run by more than its rows' sampling noise. A test
of sampling noise alone therefore flags a harmless day at high volume (at 20,000 rows a day a
shift of 0.05 standard deviations is many standard errors), and its false-alarm rate grows with
the volume. So the null hypothesis is "this window is another draw of days like the reference's
days", and its spread is measured where it can be seen: on the reference's own days
(`fit_reference` with the `_day` column). Each reference day is compared with the other days
(w^2 over the same bins; the rank effect); what their spread exceeds of the sampling variance is
the between-day variance tau^2 of one day. A window pooling k days against a reference of D days
then differs by tau^2 (1/k + 1/D) beyond sampling, which the chi-square (as a scale, Rao-Scott)
and the rank test (as variance) carry, with the degrees of freedom of the estimate (F and t
distributions: a reference of few days gives a wide null, not a tight wrong one). At 100 rows a
day tau^2 is negligible beside sampling and the tests are the plain ones; at 20,000 it dominates
and the thresholds stop tightening with n. The effect floors (`Thresholds`) are a second, n-free
guard. A reference without `_day` (or of fewer than 3 days) has tau^2 = 0: sampling noise only.
Nulls and unseen categories keep their binomial tests and floors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from mlops_assets.compute import frames
from mlops_assets.compute.frames import Frame
from mlops_assets.compute.two_sample import (
    SMOOTHING,
    jensen_shannon,
    ks_statistic,
    null_test,
    rank_test,
    shape_test,
    tie_factor,
    unseen_test,
    wasserstein,
)

EXACT_MAX = 200_000  # above this many rows a column is summarized by quantiles
DAY_COLUMN = "_day"  # the reference rows' day, for the between-day variance (compute.ingest.DAY)
MIN_DAYS = 3  # fewer reference days: no between-day variance is estimated
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
    location_between: float = 0.0  # between-day variance of one day's rank effect


@dataclass
class Reference:
    rows: int
    numeric: dict[str, NumericReference] = field(default_factory=dict)
    categorical: dict[str, dict[str, int]] = field(default_factory=dict)
    days: int = 1  # days the reference pools (1: unknown)
    categorical_between: dict[str, float] = field(default_factory=dict)  # as shape_between

    def between(self, days: int, one_day_variance: float, per_day_df: int = 1) -> dict:
        """What day-to-day variation adds between a window of `days` days and this reference,
        and the degrees of freedom of its estimate (over the reference's days)."""
        if self.days < MIN_DAYS or one_day_variance <= 0:
            return {"between": 0.0, "between_df": np.inf}
        return {
            "between": one_day_variance * (1 / max(days, 1) + 1 / self.days),
            "between_df": (self.days - 1) * max(per_day_df, 1),
        }


def fit_reference(frame: Frame, numeric: list[str], categorical: list[str]) -> Reference:
    """Summarize the reference rows once (a LazyFrame is read column by column); with a `_day`
    column, the between-day variance of every test's statistic too."""
    reference = Reference(rows=frames.height(frame))
    day_index = _day_index(frame)
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
            per_day = _split_by_day(column.to_numpy(), day_index, reference.days)
            summary.shape_between = between_day_w2(
                np.array([_bin_counts(v, summary.edges, 0)[:-1] for v in per_day])
            )
            summary.location_between = between_day_location(values, per_day)
        reference.numeric[name] = summary
    for name in categorical:
        series = frames.column(frame, name)
        counts = _category_counts(series)
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
            reference.categorical_between[name] = between_day_w2(table)
    return reference


def _day_index(frame: Frame) -> np.ndarray | None:
    """0.. per distinct day of the `_day` column, or None without one."""
    names = frame.collect_schema().names() if isinstance(frame, pl.LazyFrame) else frame.columns
    if DAY_COLUMN not in names:
        return None
    days = frames.column(frame, DAY_COLUMN)
    return days.rank("dense").cast(pl.Int64).to_numpy() - 1


def _split_by_day(values: np.ndarray, day_index: np.ndarray, days: int) -> list[np.ndarray]:
    """Each day's non-null (not NaN) values, sorted."""
    days_values = [values[day_index == d] for d in range(days)]
    return [np.sort(v[~np.isnan(v)]) for v in days_values]


def between_day_w2(day_counts: np.ndarray) -> float:
    """Between-day variance tau^2 of one day's shares over k bins, in w^2 units: each day's w^2
    against the other days (smoothed as `shape_test`), less its sampling expectation
    (k - 1)(1/n + 1/m), averaged, and scaled from "one day against D - 1" to "one day against
    the long run" (divided by 1 + 1/(D - 1))."""
    counts = np.asarray(day_counts, dtype=float)
    days, k = counts.shape
    n = counts.sum(axis=1)
    others = counts.sum(axis=0) - counts
    m = others.sum(axis=1)
    keep = (n > 0) & (m > 0)
    if days < MIN_DAYS or keep.sum() < MIN_DAYS or k < 2:
        return 0.0
    counts, others, n, m = counts[keep], others[keep], n[keep, None], m[keep, None]
    p = (others + SMOOTHING) / (m + SMOOTHING * k)
    q = (counts + SMOOTHING) / (n + SMOOTHING * k)
    excess = np.sum((q - p) ** 2 / p, axis=1) - (k - 1) * (1 / n[:, 0] + 1 / m[:, 0])
    return float(max(0.0, excess.mean()) / (1 + 1 / (len(excess) - 1)))


def between_day_location(all_sorted: np.ndarray, per_day: list[np.ndarray]) -> float:
    """Between-day variance of one day's rank effect P(day > rest) - 1/2: each day against the
    other days, less its sampling variance (ties corrected), averaged, scaled as above."""
    excess = []
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
    if len(excess) < MIN_DAYS:
        return 0.0
    return float(max(0.0, np.mean(excess)) / (1 + 1 / (len(excess) - 1)))


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
        bins = len(ref_counts) - 1
        location, p_location = rank_test(
            ref, values, **reference.between(days, ref.location_between)
        )
        rows.append(
            {
                "column": name,
                "kind": "numeric",
                **shape_test(
                    ref_counts, current, **reference.between(days, ref.shape_between, bins)
                ),
                **null_test(ref.shares[-1], reference.rows, n - len(values), n),
                "location": location,
                "p_location": p_location,
                "ks": ks,
                "wasserstein": w / ref.std if ref.std > 0 else 0.0,
            }
        )
    for name, counts in reference.categorical.items():
        current = _category_counts(frames.column(frame, name))
        nulls_ref, nulls_cur = counts.get(MISSING, 0), current.get(MISSING, 0)
        seen = {k: v for k, v in counts.items() if k != MISSING}
        expected, observed = _aligned(seen, {k: v for k, v in current.items() if k != MISSING})
        between = reference.between(
            days, reference.categorical_between.get(name, 0.0), len(seen) - 1
        )
        rows.append(
            {
                "column": name,
                "kind": "categorical",
                **shape_test(expected[:-1], observed[:-1], **between),  # unseen: below
                **null_test(nulls_ref / max(reference.rows, 1), reference.rows, nulls_cur, n),
                "js": jensen_shannon(expected, observed),
                **unseen_test(seen, int(observed[-1]), int(observed.sum())),
            }
        )
    table = pl.DataFrame(rows, schema=_SCHEMA)
    t = thresholds
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


def _category_counts(series: pl.Series) -> dict[str, int]:
    counts = series.cast(pl.String).fill_null("__missing__").value_counts()
    return dict(zip(counts[series.name].to_list(), counts["count"].to_list(), strict=True))


def _aligned(reference: dict[str, int], current: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Counts over the reference's categories, unseen current ones pooled as `__other__`."""
    keys = sorted(reference)
    expected = np.array([reference[k] for k in keys] + [0], dtype=float)
    observed = np.array(
        [current.get(k, 0) for k in keys]
        + [sum(v for k, v in current.items() if k not in reference)],
        dtype=float,
    )
    return expected, observed


def reference_bytes(reference: Reference) -> bytes:
    """A reference summary as an .npz (arrays, no pickle), to be written atomically."""
    import io
    import json

    arrays = {}
    meta = {
        "rows": reference.rows,
        "numeric": {},
        "categorical": reference.categorical,
        "days": reference.days,
        "categorical_between": reference.categorical_between,
    }
    for i, (column, ref) in enumerate(reference.numeric.items()):
        for part in ("edges", "shares", "values"):
            arrays[f"{i}_{part}"] = getattr(ref, part)
        meta["numeric"][column] = {
            "index": i,
            "sketched": ref.sketched,
            "std": ref.std,
            "rows_nonnull": ref.rows_nonnull,
            "shape_between": ref.shape_between,
            "location_between": ref.location_between,
        }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def load_reference(payload: bytes) -> Reference:
    """A reference summary from the bytes of its .npz."""
    import io
    import json

    with np.load(io.BytesIO(payload), allow_pickle=False) as data:
        meta = json.loads(bytes(data["meta"]).decode())
        reference = Reference(
            rows=meta["rows"],
            categorical=meta["categorical"],
            days=meta.get("days", 1),  # a summary from before day-to-day variation: none
            categorical_between=meta.get("categorical_between", {}),
        )
        for column, info in meta["numeric"].items():
            i = info["index"]
            reference.numeric[column] = NumericReference(
                edges=data[f"{i}_edges"],
                shares=data[f"{i}_shares"],
                values=data[f"{i}_values"],
                sketched=info["sketched"],
                std=info["std"],
                rows_nonnull=info.get(
                    "rows_nonnull", round(meta["rows"] * (1 - float(data[f"{i}_shares"][-1])))
                ),
                shape_between=info.get("shape_between", 0.0),
                location_between=info.get("location_between", 0.0),
            )
    return reference
