"""Model metrics over arrays of labels (0/1) and scores (probability of the positive class):
discrimination, calibration, segments, fairness, and the value of the decision rule."""

from __future__ import annotations

import numpy as np
import polars as pl

from mlops_assets.config.spec import Value

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
        "log_loss": round(float(row_log_loss(y, p).mean()), 6),
        "brier": round(float(np.mean((p - y) ** 2)), 6),
        "ece": round(expected_calibration_error(y, p, bins), 6),
    }


def row_log_loss(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Each row's log loss, scores clipped to [EPS, 1 - EPS] (a proper score: calibration and
    ranking both count)."""
    y, p = np.asarray(y, dtype=float), np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


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


def row_values(y: np.ndarray, p: np.ndarray, threshold: float, value: Value) -> np.ndarray:
    """Value of each row when the action is taken at score `p` >= threshold (the spec's
    matrix); `y` is the outcome (0 or 1), or its probability for the value in expectation."""
    y, act = np.asarray(y, dtype=float), np.asarray(p) >= threshold
    return np.where(
        act,
        y * value.action_positive + (1 - y) * value.action_negative,
        y * value.otherwise_positive + (1 - y) * value.otherwise_negative,
    )


def decision_value(y: np.ndarray, p: np.ndarray, threshold: float, value: Value) -> float:
    """Total value of acting when score >= threshold, from the spec's value of each outcome."""
    return float(row_values(y, p, threshold, value).sum())


def break_even_threshold(value: Value) -> float:
    """The calibrated probability of the positive class above which acting is worth more than
    not acting: p * gain_positive + (1 - p) * gain_negative >= 0. 0 when acting always pays, just
    above 1 when it never does."""
    gain_positive = value.action_positive - value.otherwise_positive
    gain_negative = value.action_negative - value.otherwise_negative
    if gain_negative >= 0 and gain_positive >= 0:
        return 0.0
    if gain_positive <= gain_negative:
        return NEVER
    return round(-gain_negative / (gain_positive - gain_negative), 6)


NEVER = 1.0 + 1e-9  # a threshold no probability reaches


def decision_threshold(spec) -> dict:
    """The spec's fixed threshold, else the value matrix's break-even on calibrated scores."""
    if spec.decision.threshold is not None:
        return {"threshold": spec.decision.threshold, "basis": "fixed by decision.threshold"}
    return {
        "threshold": break_even_threshold(spec.value),
        "basis": "break-even of the value matrix (scores are calibrated probabilities)",
    }


def optimal_threshold(y: np.ndarray, p: np.ndarray, value: Value) -> dict:
    """The threshold (on a grid of score quantiles) that maximises the total decision value on
    these rows: in sample, so benches use it only for the oracle's best."""
    grid = np.unique(np.concatenate([np.quantile(p, np.linspace(0, 1, 201)), [NEVER]]))
    values = [decision_value(y, p, t, value) for t in grid]
    best = int(np.argmax(values))
    return {
        "threshold": round(float(grid[best]), 6),
        "value": round(values[best], 2),
        "value_per_row": round(values[best] / max(len(y), 1), 4),
        "value_never_act": round(decision_value(y, p, NEVER, value), 2),
        "action_rate": round(float(np.mean(np.asarray(p) >= grid[best])), 6),
    }


def segment_metrics(frame: pl.DataFrame, columns: list[str], score: str, min_rows: int) -> dict:
    """Metrics per value of each segment column; `small` marks segments below `min_rows`
    observed rows (copies of a weighted row count once)."""
    from mlops_assets.compute.selective import unique_rows

    result: dict = {}
    for column in columns:
        result[column] = {}
        for (value,), group in frame.group_by(column, maintain_order=True):
            metrics = classification_metrics(group["_label"].to_numpy(), group[score].to_numpy())
            result[column][str(value)] = {**metrics, "small": unique_rows(group) < min_rows}
    return result


MIN_GROUP_COUNT = 30  # negatives (or positives) a group needs before its rate is compared


def equalized_odds(frame: pl.DataFrame, columns: list[str], score: str, threshold: float) -> dict:
    """Per protected column and group: the action rate among negatives (e.g. creditworthy
    applicants declined) and among positives, each with a Wilson interval, and per column the
    spread (max - min) of each rate over the groups with at least `MIN_GROUP_COUNT` observed
    rows of that class (copies of a weighted row count once)."""
    from mlops_assets.compute.intervals import wilson
    from mlops_assets.compute.selective import unique_count

    acted = frame.with_columns(act=(pl.col(score) >= threshold).cast(pl.Int64))
    result: dict = {}
    for column in columns:
        groups = (
            acted.group_by(column)
            .agg(
                rows=pl.len(),
                negatives=(pl.col("_label") == 0).sum(),
                positives=(pl.col("_label") == 1).sum(),
                acted_negatives=pl.col("act").filter(pl.col("_label") == 0).sum(),
                acted_positives=pl.col("act").filter(pl.col("_label") == 1).sum(),
                observed_negatives=unique_count(pl.col("_label") == 0, acted.columns),
                observed_positives=unique_count(pl.col("_label") == 1, acted.columns),
            )
            .sort(column)
        )
        table, spreads = {}, {}
        for kind in ("negatives", "positives"):
            rates = [
                r[f"acted_{kind}"] / r[kind]
                for r in groups.iter_rows(named=True)
                if r[f"observed_{kind}"] >= MIN_GROUP_COUNT
            ]
            spreads[kind] = round(max(rates) - min(rates), 6) if len(rates) > 1 else 0.0
        for r in groups.iter_rows(named=True):
            entry = {"rows": r["rows"], "negatives": r["negatives"], "positives": r["positives"]}
            for kind in ("negatives", "positives"):
                rate = wilson(r[f"acted_{kind}"], r[kind])
                entry[f"action_rate_{kind}"] = rate.as_dict() if rate else None
            table[str(r[column])] = entry
        result[column] = {
            "spread_negatives": spreads["negatives"],
            "spread_positives": spreads["positives"],
            "groups": table,
        }
    return result
