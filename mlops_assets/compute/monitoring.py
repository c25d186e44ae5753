"""Performance after deployment: realized metrics when labels land, estimates before they do.

Only outcomes the business can observe count: an application declined by the model (outside the
control group) never gets a repayment outcome, whatever the source files hold. Metrics are
reported for the exploration control group (decided without the model: unbiased) and for the
approved applications (what a naive monitor sees); their gap is the feedback loop.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from mlops_assets.compute.metrics import classification_metrics, row_values
from mlops_assets.config.spec import DatasetSpec

LABEL = "label"


def observed_outcomes(decided: pl.DataFrame, labels: pl.DataFrame, spec: DatasetSpec):
    """Decisions joined with the outcomes the business observes: rows approved (the default
    action) or in the control group, with `label` (1 = positive class)."""
    observed = decided.filter(pl.col("control") | (pl.col("decision") == spec.decision.otherwise))
    return observed.join(
        labels.select(
            pl.col(spec.id_column).cast(pl.String).alias("id"),
            spec.target.label().alias(LABEL),
        ),
        on="id",
        how="inner",
    ).filter(pl.col(LABEL).is_not_null())


def _explored(rows: pl.DataFrame) -> pl.Expr:
    """Rows approved by exploration near the threshold (a log from before it: none)."""
    return pl.col("explored").fill_null(False) if "explored" in rows.columns else pl.lit(False)


def realized_performance(rows: pl.DataFrame, spec: DatasetSpec) -> dict:
    """Metrics of observed rows (`observed_outcomes`): all, control group, approved only, the
    gap, realized profit and loss, and per segment."""
    groups = {
        "observed": rows,
        "control": rows.filter(pl.col("control")),
        "approved_by_model": rows.filter(~pl.col("control") & ~_explored(rows)),
    }
    out = {name: _metrics(frame) for name, frame in groups.items()}
    auc_control, auc_approved = out["control"]["roc_auc"], out["approved_by_model"]["roc_auc"]
    out["feedback_gap_auc"] = (
        round(auc_approved - auc_control, 6)
        if auc_control is not None and auc_approved is not None
        else None
    )
    value = spec.value
    realized = np.where(
        rows[LABEL].to_numpy() == 1, value.otherwise_positive, value.otherwise_negative
    )
    out["realized_value"] = round(float(realized.sum()), 2)
    out["realized_value_per_approved"] = round(float(realized.mean()), 4) if len(realized) else None
    out["segments"] = {
        column: {
            str(key[0]): _metrics(part)
            for key, part in rows.partition_by(column, as_dict=True).items()
        }
        for column in spec.segments
        if column in rows.columns
    }
    return out


def estimated_performance(scores: np.ndarray, threshold: float, spec: DatasetSpec) -> dict:
    """Label-free estimates from calibrated scores (confidence-based, as NannyML's CBPE):
    expected ROC AUC, positive rate and value of the decisions, if the model is calibrated."""
    p = np.clip(np.asarray(scores, dtype=float), 0, 1)
    if len(p) == 0:
        return {"rows": 0}
    order = np.argsort(p, kind="stable")
    p_sorted = p[order]
    negatives_below = np.cumsum(1 - p_sorted) - (1 - p_sorted)  # expected negatives ranked lower
    positives, negatives = p.sum(), (1 - p).sum()
    pairs = positives * negatives - np.sum(p * (1 - p))
    auc = float(np.sum(p_sorted * negatives_below) / pairs) if pairs > 0 else None
    value = row_values(p, p, threshold, spec.value)
    return {
        "rows": int(len(p)),
        "expected_roc_auc": round(auc, 6) if auc is not None else None,
        "expected_positive_rate": round(float(p.mean()), 6),
        "expected_value": round(float(value.sum()), 2),
    }


def business_kpis(decided: pl.DataFrame, spec: DatasetSpec, portfolio_before: int) -> dict:
    """A day's business view of its decisions: volume, approvals, portfolio, expected value
    (from the champion's calibrated scores), the model's policy against the control group (the
    A/B view: the control group always gets the default action), and the targets."""
    v, otherwise = spec.value, spec.decision.otherwise
    p = decided["champion_score"].to_numpy()
    approved = (decided["decision"] == otherwise).to_numpy()
    control = decided["control"].to_numpy()
    expected = np.where(
        approved,
        p * v.otherwise_positive + (1 - p) * v.otherwise_negative,
        p * v.action_positive + (1 - p) * v.action_negative,
    )

    def arm(mask) -> dict:
        n = int(mask.sum())
        return {
            "applications": n,
            "approval_rate": round(float(approved[mask].mean()), 4) if n else None,
            "expected_value_per_application": round(float(expected[mask].mean()), 2) if n else None,
        }

    approvals = int(approved.sum())
    kpis = {
        "applications": decided.height,
        "approvals": approvals,
        "approval_rate": round(approvals / max(decided.height, 1), 4),
        "portfolio_size": portfolio_before + approvals,
        "expected_value": round(float(expected.sum()), 2),
        "expected_value_per_application": round(float(expected.mean()), 2) if len(p) else None,
        "policy": arm(~control),
        "control": arm(control),
    }
    m = spec.monitoring
    kpis["targets"] = {
        "approval_rate": m.target_approval_rate,
        "approval_rate_met": None
        if m.target_approval_rate is None
        else kpis["approval_rate"] >= m.target_approval_rate,
        "value_per_application": m.target_value_per_application,
        "value_per_application_met": None
        if m.target_value_per_application is None
        else (kpis["expected_value_per_application"] or 0) >= m.target_value_per_application,
    }
    return kpis


def _metrics(frame: pl.DataFrame) -> dict:
    if frame.height == 0:
        return {"rows": 0, "roc_auc": None, "ece": None, "positive_rate": None}
    m = classification_metrics(frame[LABEL].to_numpy(), frame["score"].to_numpy())
    return {k: m[k] for k in ("rows", "roc_auc", "ece", "positive_rate", "mean_score", "brier")}
