"""Data drift: how far a day's columns moved from a reference (the champion's training data).

Decisions rest on effect sizes, not p-values (at 100k rows every p-value is tiny):

- numeric: PSI over the reference's decile bins (+ a bin for nulls), the two-sample KS
  statistic, and the Wasserstein-1 distance divided by the reference's standard deviation;
- categorical: PSI over the reference's categories (+ "other" for unseen ones), Jensen-Shannon
  distance (base 2, in [0, 1]), and the chi-square statistic with Cramér's V;
- multivariate: the ROC AUC of a classifier that tells reference rows from current ones.

The reference is summarized once (`fit_reference`) and reused for every day: decile edges and
shares, null share, category counts, and the sorted values (or, above `EXACT_MAX` rows, a
4,097-point quantile sketch: KS and Wasserstein are then computed on the quantile grid, within
about 1/4096 of the exact values).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

EXACT_MAX = 200_000  # above this many rows a column is summarized by quantiles
SKETCH = np.linspace(0.0, 1.0, 4097)
EPS = 1e-6  # floor for empty PSI bins


@dataclass(frozen=True)
class Thresholds:
    """Effect sizes that count as drift (any one of them); PSI decides the severity."""

    psi: float = 0.1  # moderate; >= psi_major is major
    psi_major: float = 0.25
    ks: float = 0.1
    wasserstein: float = 0.1  # in reference standard deviations
    cramers_v: float = 0.1
    domain_auc: float = 0.6


@dataclass
class NumericReference:
    edges: np.ndarray  # inner decile edges
    shares: np.ndarray  # share per bin, last bin = nulls
    values: np.ndarray  # sorted values, or quantiles at SKETCH when `sketched`
    sketched: bool
    std: float


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
        )
    for column in categorical:
        reference.categorical[column] = _category_counts(frame[column])
    return reference


def column_drift(
    reference: Reference, frame: pl.DataFrame, thresholds: Thresholds = Thresholds()
) -> pl.DataFrame:
    """One row per column: kind, psi, ks, wasserstein, js, chi2, cramers_v, drifted, severity."""
    rows = []
    for column, ref in reference.numeric.items():
        values = np.sort(frame[column].drop_nulls().cast(pl.Float64).to_numpy())
        nulls = frame.height - len(values)
        current = _bin_counts(values, ref.edges, nulls) / max(frame.height, 1)
        if ref.sketched or len(values) > EXACT_MAX:
            ks, w = _sketch_distances(ref, values)
        else:
            ks, w = ks_statistic(ref.values, values), wasserstein(ref.values, values)
        rows.append(
            {
                "column": column,
                "kind": "numeric",
                "psi": psi(ref.shares, current),
                "ks": ks,
                "wasserstein": w / ref.std if ref.std > 0 else 0.0,
            }
        )
    for column, counts in reference.categorical.items():
        current = _category_counts(frame[column])
        expected, observed = _aligned(counts, current)
        chi2, v = chi_square(expected, observed)
        rows.append(
            {
                "column": column,
                "kind": "categorical",
                "psi": psi(expected / expected.sum(), observed / max(observed.sum(), 1)),
                "js": jensen_shannon(expected, observed),
                "chi2": chi2,
                "cramers_v": v,
            }
        )
    schema = {
        "column": pl.String,
        "kind": pl.String,
        "psi": pl.Float64,
        "ks": pl.Float64,
        "wasserstein": pl.Float64,
        "js": pl.Float64,
        "chi2": pl.Float64,
        "cramers_v": pl.Float64,
    }
    table = pl.DataFrame(rows, schema=schema)
    t = thresholds
    drifted = (
        (pl.col("psi") >= t.psi)
        | (pl.col("ks").fill_null(0) >= t.ks)
        | (pl.col("wasserstein").fill_null(0) >= t.wasserstein)
        | (pl.col("cramers_v").fill_null(0) >= t.cramers_v)
    )
    return table.with_columns(
        drifted.alias("drifted"),
        pl.when(~drifted)
        .then(pl.lit("none"))
        .when(pl.col("psi") >= t.psi_major)
        .then(pl.lit("major"))
        .otherwise(pl.lit("moderate"))
        .alias("severity"),
    )


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two share vectors over the same bins."""
    e, a = np.maximum(expected, EPS), np.maximum(actual, EPS)
    return float(np.sum((a - e) * np.log(a / e)))


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


def chi_square(expected_counts: np.ndarray, observed_counts: np.ndarray) -> tuple[float, float]:
    """Chi-square statistic of the 2 x k table (reference, current) and Cramér's V."""
    table = np.vstack([expected_counts, observed_counts]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    total = table.sum()
    if table.shape[1] < 2 or total == 0:
        return 0.0, 0.0
    fitted = np.outer(table.sum(axis=1), table.sum(axis=0)) / total
    chi2 = float(np.sum((table - fitted) ** 2 / fitted))
    return chi2, float(np.sqrt(chi2 / total))


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
    model.fit(x[:half], y[:half])
    return float(roc_auc_score(y[half:], model.predict_proba(x[half:])[:, 1]))


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
        meta["numeric"][column] = {"index": i, "sketched": ref.sketched, "std": ref.std}
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
            )
    return reference
