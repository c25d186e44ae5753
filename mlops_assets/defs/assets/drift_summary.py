"""The drift report's summary: every number of the drift rule, the day's verdict and the
pooled window's retrain signal (what the drift sensor reads)."""

from dataclasses import dataclass

import polars as pl

from mlops_assets.compute.domain import domain_auc_threshold
from mlops_assets.compute.drift import Reference, Thresholds, alpha_per_test, tests_per_day
from mlops_assets.compute.monitoring import estimated_performance
from mlops_assets.config.spec import DatasetSpec

SCORE = "__score__"  # the champion's score, monitored as one more column


@dataclass
class Comparison:
    """What a day is compared with: the reference summary and rows, and the day's rows (with the
    champion's score when there is a champion)."""

    version: int | None
    model: object | None
    reference: Reference
    reference_rows: pl.DataFrame
    current: pl.DataFrame
    basis: str


@dataclass
class PooledWindow:
    """The retrain signal's sample: the pooled days, their drift table and domain AUC."""

    days: list[str]
    rows: int
    table: pl.DataFrame
    auc: float


def _signal(spec: DatasetSpec, table: pl.DataFrame, auc: float, limit: float) -> tuple[bool, list]:
    """Whether `drift_columns`+ features drift majorly or the domain AUC reaches its limit; and
    those features."""
    major = table.filter((pl.col("severity") == "major") & (pl.col("column") != SCORE))
    columns = major["column"].to_list()
    return len(columns) >= spec.monitoring.drift_columns or auc >= limit, columns


def drift_summary(
    spec: DatasetSpec,
    table: pl.DataFrame,
    compared: Comparison,
    auc: float,
    pooled: PooledWindow | None,
) -> dict:
    """Every number of the drift rule, the verdict and the retrain signal."""
    monitoring, reference = spec.monitoring, compared.reference
    alpha, tests = alpha_per_test(reference), tests_per_day(reference)
    reference_rows = compared.reference_rows.height

    def limit(rows: int) -> float:
        return domain_auc_threshold(reference_rows, rows, alpha, monitoring.domain_auc)

    auc_limit = limit(compared.current.height)
    model = compared.model
    estimate = (
        estimated_performance(compared.current[SCORE].to_numpy(), model.threshold, spec)
        if model
        else {}
    )
    signal_today, major = _signal(spec, table, auc, auc_limit)
    score_rows = table.filter(pl.col("column") == SCORE).to_dicts()
    score_row = score_rows[0] if score_rows else {"psi": None, "severity": "none"}
    drifted = table["drifted"].any()
    window = {"pooled_days": [], "pooled_signal": False}
    if pooled is not None:
        pooled_limit = limit(pooled.rows)
        pooled_signal, pooled_major = _signal(spec, pooled.table, pooled.auc, pooled_limit)
        window = {
            "pooled_days": pooled.days,
            "pooled_rows": pooled.rows,
            "pooled_drifted_columns": pooled.table.filter(pl.col("drifted"))["column"].to_list(),
            "pooled_major_drift_columns": pooled_major,
            "pooled_domain_auc": round(pooled.auc, 4),
            "pooled_domain_auc_threshold": round(pooled_limit, 4),
            "pooled_signal": pooled_signal,
        }
    major_score = score_row["severity"] == "major"
    return {
        "reference": compared.basis,
        "champion_version": compared.version,
        "drifted_columns": table.filter(pl.col("drifted"))["column"].to_list(),
        "major_drift_columns": major,
        "new_nulls_columns": table.filter(pl.col("new_nulls"))["column"].to_list(),
        "unseen_category_columns": table.filter(pl.col("unseen_categories"))["column"].to_list(),
        "score_psi": _rounded(score_row["psi"]),
        "domain_auc": round(auc, 4),
        "domain_auc_threshold": round(auc_limit, 4),
        "rows": compared.current.height,
        "reference_rows": compared.reference_rows.height,
        "tests": tests,
        "alpha_per_test": alpha,
        "rule": f"a test rejects at {alpha:.2g} ({Thresholds().alpha} a day over {tests} "
        "tests) and its effect clears the floor; retrain when "
        f"{monitoring.drift_columns}+ features drift majorly or the domain AUC reaches "
        f"{auc_limit:.3f}, tested on the pooled last {monitoring.drift_pool_days} days newer "
        "than the champion's training data (their null allows for the reference's day-to-day "
        "variation)",
        "signal_today": signal_today,
        "severity": "major" if signal_today or major_score else ("moderate" if drifted else "none"),
        **window,
        # a retrain needs a champion to replace: before one, drift is reported, not acted on
        "retrain_signal": window["pooled_signal"] and compared.version is not None,
        "estimate": estimate,
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
