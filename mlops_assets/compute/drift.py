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
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy import stats

EXACT_MAX = 200_000  # above this many rows a column is summarized by quantiles
SKETCH = np.linspace(0.0, 1.0, 4097)
SMOOTHING = 0.5  # counts added to every bin before shares are compared (PSI, w)
MIN_EXPECTED = 5.0  # bins expected to hold fewer current rows are pooled for the chi-square
MIN_DOMAIN_ROWS = 20  # fewer rows on a side: the domain classifier is not trained


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


@dataclass
class Reference:
    rows: int
    numeric: dict[str, NumericReference] = field(default_factory=dict)
    categorical: dict[str, dict[str, int]] = field(default_factory=dict)


def fit_reference(frame: pl.DataFrame, numeric: list[str], categorical: list[str]) -> Reference:
    """Summarize the reference rows once."""
    reference = Reference(rows=frame.height)
    for column in numeric:
        values = np.sort(frame[column].drop_nulls().cast(pl.Float64).to_numpy())
        nulls = frame.height - len(values)
        edges = np.unique(np.quantile(values, np.linspace(0, 1, 11)[1:-1])) if len(values) else []
        counts = _bin_counts(values, np.asarray(edges), nulls)
        sketched = len(values) > EXACT_MAX
        reference.numeric[column] = NumericReference(
            edges=np.asarray(edges),
            shares=counts / max(frame.height, 1),
            values=np.quantile(values, SKETCH) if sketched else values,
            sketched=sketched,
            std=float(values.std()) if len(values) else 0.0,
            rows_nonnull=len(values),
        )
    for column in categorical:
        reference.categorical[column] = _category_counts(frame[column])
    return reference


def tests_per_day(reference: Reference) -> int:
    """How many tests can raise a day's alarm: shape, location and nulls per numeric column;
    shape, nulls and unseen categories per categorical one; the domain classifier."""
    return 3 * len(reference.numeric) + 3 * len(reference.categorical) + 1


def alpha_per_test(reference: Reference, thresholds: Thresholds = Thresholds()) -> float:
    """The day's false-alarm budget split over its tests (Bonferroni)."""
    return thresholds.alpha / tests_per_day(reference)


def column_drift(
    reference: Reference, frame: pl.DataFrame, thresholds: Thresholds = Thresholds()
) -> pl.DataFrame:
    """One row per column: the tests, their effects and p-values, the descriptive distances
    (PSI, KS, Wasserstein, JS), `drifted`, `severity` and the named signals."""
    alpha = alpha_per_test(reference, thresholds)
    rows = []
    for column, ref in reference.numeric.items():
        values = np.sort(frame[column].drop_nulls().cast(pl.Float64).to_numpy())
        ref_counts = ref.shares[:-1] * reference.rows
        current = _bin_counts(values, ref.edges, 0)[:-1]
        if len(values) == 0 or len(ref.values) == 0:  # a column all null on one side
            ks, w = 0.0, 0.0
        elif ref.sketched or len(values) > EXACT_MAX:
            ks, w = _sketch_distances(ref, values)
        else:
            ks, w = ks_statistic(ref.values, values), wasserstein(ref.values, values)
        location, p_location = rank_test(ref, values)
        rows.append(
            {
                "column": column,
                "kind": "numeric",
                **_shape(ref_counts, current),
                **_nulls(ref.shares[-1], reference.rows, frame.height - len(values), frame.height),
                "location": location,
                "p_location": p_location,
                "ks": ks,
                "wasserstein": w / ref.std if ref.std > 0 else 0.0,
            }
        )
    for column, counts in reference.categorical.items():
        current, n = _category_counts(frame[column]), frame.height
        nulls_ref, nulls_cur = counts.get(MISSING, 0), current.get(MISSING, 0)
        seen = {k: v for k, v in counts.items() if k != MISSING}
        expected, observed = _aligned(seen, {k: v for k, v in current.items() if k != MISSING})
        rows.append(
            {
                "column": column,
                "kind": "categorical",
                **_shape(expected[:-1], observed[:-1]),  # seen categories; unseen: below
                **_nulls(nulls_ref / max(reference.rows, 1), reference.rows, nulls_cur, n),
                "js": jensen_shannon(expected, observed),
                **_unseen(seen, int(observed[-1]), int(observed.sum())),
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


def _shape(reference_counts: np.ndarray, current_counts: np.ndarray) -> dict:
    """Chi-square test of the 2 x k table (bins expected to hold fewer than `MIN_EXPECTED`
    current rows pooled), Cohen's w of the current shares against the reference's, less its
    expectation under no drift, and PSI on smoothed shares."""
    r, c = np.asarray(reference_counts, float), np.asarray(current_counts, float)
    m, n = r.sum(), c.sum()
    if n == 0 or m == 0:
        return {"rows": int(n), "w": 0.0, "p_shape": 1.0, "psi": 0.0}
    p = (r + SMOOTHING) / (m + SMOOTHING * len(r))
    q = (c + SMOOTHING) / (n + SMOOTHING * len(c))
    raw_w2 = float(np.sum((q - p) ** 2 / p))
    pooled_r, pooled_c = _pool_small_bins(r, c)
    k = len(pooled_r)
    w2 = max(0.0, raw_w2 - (len(r) - 1) * (1 / n + 1 / m))  # its expectation under no drift
    p_shape = 1.0
    if k >= 2:
        table = np.vstack([pooled_r, pooled_c])
        fitted = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
        chi2 = float(np.sum((table - fitted) ** 2 / fitted))
        p_shape = float(stats.chi2.sf(chi2, k - 1))
    return {
        "rows": int(n),
        "w": float(np.sqrt(w2)),
        "p_shape": p_shape,
        "psi": float(np.sum((q - p) * np.log(q / p))),
    }


def _pool_small_bins(r: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def _nulls(share_reference: float, m: int, nulls: int, n: int) -> dict:
    """Exact one-sided binomial test of the day's null count against the reference's share."""
    share = nulls / n if n else 0.0
    p = float(stats.binom.sf(nulls - 1, n, share_reference)) if n and nulls else 1.0
    return {
        "null_share_reference": share_reference,
        "null_share": share,
        "null_rise": share - share_reference,
        "p_nulls": p,
    }


def _tie_factor(reference_values: np.ndarray, m: int, values: np.ndarray) -> float:
    """1 - sum(t^3 - t) / (N^3 - N) over the pooled tie counts t, the reference's read from its
    sorted values (or, sketched, from the share of the quantile grid each value holds)."""
    ref_values, ref_counts = np.unique(reference_values, return_counts=True)
    cur_values, cur_counts = np.unique(values, return_counts=True)
    n, total = len(values), m + len(values)
    shares = ref_counts / len(reference_values) * m
    pooled = dict(zip(ref_values.tolist(), shares.tolist(), strict=True))
    for value, count in zip(cur_values.tolist(), cur_counts.tolist(), strict=True):
        pooled[value] = pooled.get(value, 0.0) + count
    t = np.array(list(pooled.values()))
    if total < 2 or n == 0:
        return 1.0
    return float(max(1.0 - np.sum(t**3 - t) / (total**3 - total), 1e-12))


def _unseen(reference_counts: dict[str, int], unseen: int, n: int) -> dict:
    """Rows in categories the reference never had, tested (exact binomial, one-sided) against
    the share a sample of the reference's size leaves unseen (Good-Turing: the share of
    categories seen once)."""
    m = sum(reference_counts.values())
    singletons = sum(1 for count in reference_counts.values() if count == 1)
    expected = max(singletons, 1) / max(m, 1)
    p = float(stats.binom.sf(unseen - 1, n, min(expected, 1.0))) if n and unseen else 1.0
    return {"unseen_share": unseen / n if n else 0.0, "unseen_rows": unseen, "p_unseen": p}


def rank_test(reference: NumericReference, values: np.ndarray) -> tuple[float, float]:
    """Mann-Whitney test of location: P(current > reference) - 1/2 (ties count half) and its
    two-sided p-value under no drift (normal approximation, its variance corrected for ties)."""
    ref = reference.values
    m = reference.rows_nonnull
    n = len(values)
    if n == 0 or m == 0 or len(ref) == 0:
        return 0.0, 1.0
    below = np.searchsorted(ref, values, side="left")
    above = np.searchsorted(ref, values, side="right")
    superiority = float(np.mean((below + above) / 2) / len(ref))
    se = np.sqrt(_tie_factor(ref, m, values) * (n + m + 1) / (12 * n * m))
    effect = superiority - 0.5
    return effect, float(2 * stats.norm.sf(abs(effect) / se))


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


def domain_classifier_auc(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    columns: list[str],
    categorical: list[str],
    sample: int = 5000,
    seed: int = 0,
) -> float:
    """Held-out ROC AUC of a classifier telling current rows from reference rows (0.5 = no
    multivariate drift)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    def encode(frame: pl.DataFrame) -> np.ndarray:
        n = min(sample, frame.height)
        rows = frame.sample(n, seed=seed) if frame.height > n else frame
        exprs = [
            pl.col(c).cast(pl.String).fill_null("").hash(7).mod(1 << 20).cast(pl.Float64)
            if c in categorical
            else pl.col(c).cast(pl.Float64)
            for c in columns
        ]
        return rows.select(exprs).to_numpy()

    if min(reference.height, current.height) < MIN_DOMAIN_ROWS:
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


def save_reference(reference: Reference, path) -> None:
    """Write a reference summary (arrays in an .npz, no pickle) atomically."""
    import json
    import os
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {}
    meta = {"rows": reference.rows, "numeric": {}, "categorical": reference.categorical}
    for i, (column, ref) in enumerate(reference.numeric.items()):
        for part in ("edges", "shares", "values"):
            arrays[f"{i}_{part}"] = getattr(ref, part)
        meta["numeric"][column] = {
            "index": i,
            "sketched": ref.sketched,
            "std": ref.std,
            "rows_nonnull": ref.rows_nonnull,
        }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    temporary = path.with_name(f".{path.name}.tmp.npz")
    np.savez(temporary, **arrays)
    os.replace(temporary, path)


def load_reference(path) -> Reference:
    import json

    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(bytes(data["meta"]).decode())
        reference = Reference(rows=meta["rows"], categorical=meta["categorical"])
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
            )
    return reference
