"""Model metrics over arrays of labels (0/1) and scores (probability of the positive class):
discrimination, calibration, segments, fairness, and the value of the decision rule."""

from __future__ import annotations

import numpy as np
import polars as pl

from mlops_assets.spec import Value

EPS = 1e-15


def classification_metrics(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict:
    """ROC AUC, PR AUC, log loss, Brier, ECE; AUCs are None when only one class is present."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    y, p = np.asarray(y, dtype=float), np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    both = 0 < y.sum() < len(y)
    return {
        "rows": int(len(y)),
        "positive_rate": round(float(y.mean()), 6) if len(y) else None,
        "mean_score": round(float(p.mean()), 6) if len(y) else None,
        "roc_auc": round(float(roc_auc_score(y, p)), 6) if both else None,
        "pr_auc": round(float(average_precision_score(y, p)), 6) if both else None,
        "log_loss": round(float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))), 6),
        "brier": round(float(np.mean((p - y) ** 2)), 6),
        "ece": round(expected_calibration_error(y, p, bins), 6),
    }


def reliability_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pl.DataFrame:
    """Per equal-width score bin: rows, mean score, observed positive rate."""
    frame = pl.DataFrame({"y": np.asarray(y, dtype=float), "p": np.asarray(p, dtype=float)})
    return (
        frame.with_columns(bin=(pl.col("p") * bins).floor().clip(0, bins - 1).cast(pl.Int32))
        .group_by("bin")
        .agg(rows=pl.len(), mean_score=pl.col("p").mean(), observed_rate=pl.col("y").mean())
        .sort("bin")
    )


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Row-weighted mean |observed rate - mean score| over equal-width score bins."""
    table = reliability_table(y, p, bins)
    if table.height == 0:
        return 0.0
    gap = (table["observed_rate"] - table["mean_score"]).abs() * table["rows"]
    return float(gap.sum() / table["rows"].sum())


def decision_value(y: np.ndarray, p: np.ndarray, threshold: float, value: Value) -> float:
    """Total value of acting when score >= threshold, from the spec's value of each outcome."""
    y, act = np.asarray(y) == 1, np.asarray(p) >= threshold
    return float(
        np.sum(
            np.where(
                act,
                np.where(y, value.action_positive, value.action_negative),
                np.where(y, value.otherwise_positive, value.otherwise_negative),
            )
        )
    )


def optimal_threshold(y: np.ndarray, p: np.ndarray, value: Value) -> dict:
    """The threshold (on a grid of score quantiles) that maximises the total decision value."""
    grid = np.unique(np.concatenate([np.quantile(p, np.linspace(0, 1, 201)), [1.0 + 1e-9]]))
    values = [decision_value(y, p, t, value) for t in grid]
    best = int(np.argmax(values))
    return {
        "threshold": round(float(grid[best]), 6),
        "value": round(values[best], 2),
        "value_per_row": round(values[best] / max(len(y), 1), 4),
        "value_never_act": round(decision_value(y, p, 1.0 + 1e-9, value), 2),
        "action_rate": round(float(np.mean(np.asarray(p) >= grid[best])), 6),
    }


def segment_metrics(frame: pl.DataFrame, columns: list[str], score: str, min_rows: int) -> dict:
    """Metrics per value of each segment column; `small` marks segments below `min_rows`."""
    result: dict = {}
    for column in columns:
        result[column] = {}
        for (value,), group in frame.group_by(column, maintain_order=True):
            metrics = classification_metrics(group["_label"].to_numpy(), group[score].to_numpy())
            result[column][str(value)] = {**metrics, "small": group.height < min_rows}
    return result


def fairness(
    frame: pl.DataFrame, columns: list[str], score: str, threshold: float, min_rows: int = 0
) -> dict:
    """Per protected column: demographic parity difference (spread of the action rate across
    groups) and equal opportunity difference (spread of the action rate among positives).
    Groups under `min_rows` rows are reported but left out of the spreads (too noisy)."""
    result: dict = {}
    for column in columns:
        groups = (
            frame.with_columns(act=(pl.col(score) >= threshold).cast(pl.Float64))
            .group_by(column)
            .agg(
                rows=pl.len(),
                action_rate=pl.col("act").mean(),
                true_positive_rate=pl.col("act").filter(pl.col("_label") == 1).mean(),
            )
        )
        large = groups.filter(pl.col("rows") >= min_rows)
        rates = large["action_rate"].drop_nulls()
        tprs = large["true_positive_rate"].drop_nulls()
        result[column] = {
            "demographic_parity_difference": round(float(rates.max() - rates.min()), 6)
            if len(rates)
            else 0.0,
            "equal_opportunity_difference": round(float(tprs.max() - tprs.min()), 6)
            if len(tprs)
            else 0.0,
            "groups": {
                str(r[column]): {k: r[k] for k in ("rows", "action_rate", "true_positive_rate")}
                for r in groups.sort(column).iter_rows(named=True)
            },
        }
    return result
