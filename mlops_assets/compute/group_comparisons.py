"""Candidate minus champion per group, on the same rows: the rise of each equalized-odds spread
over a protected column's groups, and each large segment's AUC difference (the `fairness` and
`segments` gates' evidence; `compute.backtest.paired_comparison`)."""

from __future__ import annotations

import numpy as np
import polars as pl

from mlops_assets.compute.features import LABEL
from mlops_assets.compute.ingest import DAY
from mlops_assets.compute.intervals import (
    auc_difference,
    bootstrap,
    cluster_sums,
    clusters_of,
    percentile_interval,
)
from mlops_assets.compute.metrics import MIN_GROUP_COUNT
from mlops_assets.compute.selective import UNIT, resampling_units, unique_rows


def fairness_rises(rows: pl.DataFrame, columns: list[str], threshold: float) -> dict:
    """Per protected column, how much each equalized-odds spread (action rate among negatives,
    among positives) rises from the champion to the candidate, with a bootstrap over days;
    intervals are Bonferroni-corrected over every spread compared."""
    y = rows[LABEL].to_numpy()
    acts = {m: rows[m].to_numpy() >= threshold for m in ("candidate", "champion")}
    clusters = clusters_of(resampling_units(rows, rows[DAY].to_numpy()))
    units = rows[UNIT].to_numpy() if UNIT in rows.columns else None
    comparisons = 2 * max(len(columns), 1)
    result = {}
    for column in columns:
        groups = rows[column].cast(pl.String).fill_null("(missing)").to_numpy()
        names = sorted(set(groups))
        parts = []  # per group and class: rows of the class, acted by candidate, by champion
        observed = np.zeros((len(names), 2))  # unique rows per group and class
        for i, g in enumerate(names):
            for cls in (0, 1):
                member = (groups == g) & (y == cls)
                parts += [member, member & acts["candidate"], member & acts["champion"]]
                observed[i, cls] = (
                    len(np.unique(units[member])) if units is not None else member.sum()
                )
        sums = cluster_sums(clusters, np.column_stack(parts))
        shape = (len(names), 2, 3)
        eligible = observed >= MIN_GROUP_COUNT

        def rises(totals: np.ndarray, eligible=eligible, shape=shape) -> np.ndarray:
            t = totals.reshape(len(totals), *shape)
            with np.errstate(invalid="ignore", divide="ignore"):
                rate = t[..., 1:] / t[..., :1]  # (draws, groups, class, model)
            rate = np.where(eligible[None, :, :, None], rate, np.nan)
            spread = np.nanmax(rate, axis=1) - np.nanmin(rate, axis=1)  # (draws, class, model)
            return spread[..., 0] - spread[..., 1]  # candidate minus champion, per class

        enough = eligible.sum(axis=0) >= 2  # per class: two groups to compare
        estimate = rises(sums.sum(axis=0, keepdims=True))[0]
        with np.errstate(invalid="ignore"):
            draws = bootstrap(sums, rises)
        result[column] = {
            f"spread_{kind}": percentile_interval(
                float(estimate[k]), draws[:, k], comparisons=comparisons
            ).as_dict()
            if enough[k]
            else None
            for k, kind in enumerate(("negatives", "positives"))
        }
    return result


def segment_differences(rows: pl.DataFrame, columns: list[str], min_rows: int) -> dict:
    """Candidate minus champion AUC per segment of at least `min_rows` rows (DeLong, paired),
    Bonferroni-corrected over the segments compared."""
    large = []
    for column in columns:
        for (value,), group in rows.group_by(column, maintain_order=True):
            y = group[LABEL].to_numpy()
            if unique_rows(group) >= min_rows and 0 < y.sum() < len(y):
                large.append((column, str(value), group))
    result: dict = {column: {} for column in columns}
    for column, value, group in large:
        diff = auc_difference(
            group[LABEL].to_numpy(),
            group["candidate"].to_numpy(),
            group["champion"].to_numpy(),
            clusters_of(resampling_units(group, group[DAY].to_numpy())),
            comparisons=len(large),
        )
        result[column][value] = {**diff.as_dict(), "rows": group.height}
    return result
