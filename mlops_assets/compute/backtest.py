"""Walk-forward, out-of-time backtests of the candidate's and the champion's recipes on the same
rows (the gates that read them: `compute.gates`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import polars as pl

from mlops_assets.compute.features import LABEL
from mlops_assets.compute.group_comparisons import fairness_rises, segment_differences
from mlops_assets.compute.ingest import DAY
from mlops_assets.compute.intervals import (
    MIN_CLUSTERS,
    auc_interval,
    calibration_evidence,
    clusters_of,
    mean_difference,
)
from mlops_assets.compute.metrics import (
    classification_metrics,
    decision_threshold,
    equalized_odds,
    reliability_table,
    row_log_loss,
    row_values,
    segment_metrics,
)
from mlops_assets.compute.selective import (
    UNIT,
    WEIGHT,
    auc_difference,
    collapse_copies,
    population_rows,
    resampling_units,
    value_difference,
)
from mlops_assets.config.spec import DatasetSpec

Scorer = Callable[[pl.DataFrame], np.ndarray]


@dataclass(frozen=True)
class Fold:
    index: int
    train_first: dt.date
    train_last: dt.date
    test_first: dt.date
    test_last: dt.date


def walk_forward_folds(
    days: list[dt.date], folds: int, fold_days: int, gap_days: int, min_train_days: int
) -> list[Fold]:
    """The last `folds` blocks of `fold_days` days are test windows; each fold trains on the
    days that end `gap_days` before its test window (labels known by then), oldest first."""
    if not days:
        return []
    last = max(days)
    result = []
    for k in range(folds):
        test_last = last - dt.timedelta(days=fold_days * (folds - 1 - k))
        test_first = test_last - dt.timedelta(days=fold_days - 1)
        train_last = test_first - dt.timedelta(days=gap_days + 1)
        train_days = [d for d in days if d <= train_last]
        if len(train_days) >= min_train_days:
            result.append(Fold(k, min(train_days), train_last, test_first, test_last))
    return result


Fitter = Callable[[pl.DataFrame], Scorer]  # training rows -> a fitted model's scorer


def run_backtest(
    frame: pl.DataFrame,
    folds: list[Fold],
    fit: Fitter,
    spec: DatasetSpec,
    champion_fit: Fitter | None = None,
    compare_after: dt.date | None = None,
) -> tuple[dict, pl.DataFrame]:
    """Train the candidate's recipe on each fold's past and score its test window; the
    champion's recipe, refitted on the same rows, scores the same window. Both models are then
    judged on the same out-of-time rows at the same horizon (paired, matched). Pass the same
    `fit` as `champion_fit` when the recipes are equal: the scores are reused. `compare_after`:
    the last day of a deployed champion's training window, scored as it is:
    compare and judge calibration only on the folds trained on data at least as new
    (`comparable_folds`): an older fold's model is older than what serves.

    With selective labels each fold trains on its observed rows weighted by their inverse
    propensity, and is judged on them repeated by it (`population_rows`): every metric, value
    and comparison estimates the whole applicant population, not the approved part of it.

    Returns the report (JSON-ready) and the pooled out-of-time predictions.
    """
    if not folds:
        raise ValueError("not enough labelled days for a single walk-forward fold")
    models = ["candidate"] if champion_fit is None else ["candidate", "champion"]
    pooled, per_fold = [], []
    for fold in folds:
        train = frame.filter(pl.col(DAY).is_between(fold.train_first, fold.train_last))
        # judged on the applicant population: observed rows repeated by their inverse propensity
        test = population_rows(
            frame.filter(pl.col(DAY).is_between(fold.test_first, fold.test_last)), fold.index
        )
        candidate = np.asarray(fit(train)(test), dtype=float)
        scored = test.with_columns(candidate=pl.Series(candidate), fold=pl.lit(fold.index))
        if champion_fit is not None:
            champion = candidate if champion_fit is fit else champion_fit(train)(test)
            scored = scored.with_columns(champion=pl.Series(np.asarray(champion, dtype=float)))
        pooled.append(scored)
        per_fold.append(
            {
                **{k: str(v) for k, v in asdict(fold).items()},
                "train_rows": train.height,
                **_metrics(scored, models),
            }
        )
    rows = pl.concat(pooled)
    y = rows[LABEL].to_numpy()
    decision = decision_threshold(spec)
    threshold = decision["threshold"]
    values = {m: row_values(y, rows[m].to_numpy(), threshold, spec.value) for m in models}
    units = resampling_units(rows, rows[DAY].to_numpy())
    auc = auc_interval(y, rows["candidate"].to_numpy(), clusters_of(units))
    report = {
        "folds": per_fold,
        "overall": _metrics(rows, models),
        "candidate_auc": auc.as_dict() if auc else None,
        "stability": _stability([f["candidate"]["roc_auc"] for f in per_fold]),
        "decision": {
            **decision,
            "rule": f"{spec.decision.action} if score >= threshold",
            "value_per_application": {m: round(float(v.mean()), 4) for m, v in values.items()},
            "action_rate": {m: round(float((rows[m] >= threshold).mean()), 6) for m in models},
        },
        "segments": {
            m: segment_metrics(rows, list(spec.segments), m, spec.gates.min_segment_rows)
            for m in models
        },
        "fairness": {m: equalized_odds(rows, list(spec.protected), m, threshold) for m in models},
        "reliability": {m: reliability_table(y, rows[m].to_numpy()).to_dicts() for m in models},
        "comparison": None,
    }
    report["underperforming_segments"] = _underperforming(report, tolerance=0.05)
    compared = rows.filter(pl.col("fold").is_in(comparable_folds(folds, compare_after)))
    if champion_fit is not None:
        report["comparison"] = paired_comparison(compared, threshold, spec)
    scoped = compare_after is not None and compared.height > 0
    evidence = weighted_calibration_evidence(compared if scoped else rows, "candidate")
    report["calibration"] = {**evidence, "comparable_folds_only": scoped}
    return report, rows


def comparable_folds(folds: list[Fold], champion_end: dt.date | None) -> list[int]:
    """Folds trained on data at least as new as a deployed champion's (its window ends on
    `champion_end`; all without one): on older folds it would score rows within the label delay
    of its window, a horizon it never serves at, against models that lack its latest days."""
    return [f.index for f in folds if champion_end is None or f.train_last >= champion_end]


def weighted_calibration_evidence(rows: pl.DataFrame, model: str) -> dict:
    """`calibration_evidence` of a model's scores on the observed rows, each once with its
    weight (the copies it stands for), the interval resampling days (or rows, with few days)."""
    observed = collapse_copies(rows)
    units = observed[UNIT].to_numpy() if UNIT in observed.columns else np.arange(observed.height)
    days = observed[DAY].to_numpy()
    clusters = clusters_of(days) if len(np.unique(days)) >= MIN_CLUSTERS else clusters_of(units)
    evidence = calibration_evidence(
        observed[LABEL].to_numpy(),
        observed[model].to_numpy(),
        weights=observed[WEIGHT].to_numpy(),
        clusters=clusters,
    )
    if "fold" in observed.columns:  # the backtest folds it was judged on
        evidence["folds"] = sorted(observed["fold"].unique().to_list())
    return evidence


def paired_comparison(rows: pl.DataFrame, threshold: float, spec) -> dict:
    """Candidate minus champion on the same rows: AUC and value per application
    (`selective.auc_difference`, `value_difference`: DeLong and a bootstrap over days, lower
    bounds widened under selective labels), log loss (bootstrap over days), the champion's
    calibration, the fairness spreads and each large segment's AUC (Bonferroni-corrected)."""
    if rows.height == 0 or rows[LABEL].n_unique() < 2:
        return {"rows": rows.height, "positives": int(rows[LABEL].sum()), "days": 0}
    y, days = rows[LABEL].to_numpy(), resampling_units(rows, rows[DAY].to_numpy())
    cand, champ = rows["candidate"].to_numpy(), rows["champion"].to_numpy()
    auc = auc_difference(rows, cand, champ, days)
    value = value_difference(rows, cand, champ, threshold, spec.value, days)
    log_loss = mean_difference(days, row_log_loss(y, cand), row_log_loss(y, champ))
    return {
        "rows": rows.height,
        "positives": int(y.sum()),
        "days": int(rows[DAY].n_unique()),
        "auc_difference": auc.as_dict() if auc else None,
        "value_difference": value.as_dict(),
        "champion_calibration": weighted_calibration_evidence(rows, "champion"),
        "log_loss_difference": log_loss.as_dict(6),
        "fairness": fairness_rises(rows, list(spec.protected), threshold),
        "segments": segment_differences(rows, list(spec.segments), spec.gates.min_segment_rows),
    }


def _metrics(scored: pl.DataFrame, models: list[str]) -> dict:
    y = scored[LABEL].to_numpy()
    return {m: classification_metrics(y, scored[m].to_numpy()) for m in models}


def _stability(aucs: list) -> dict:
    values = np.array([a for a in aucs if a is not None], dtype=float)
    if not len(values):
        return {"auc_min": None, "auc_max": None, "auc_std": None}
    return {
        "auc_min": round(float(values.min()), 6),
        "auc_max": round(float(values.max()), 6),
        "auc_std": round(float(values.std()), 6),
    }


def _underperforming(report: dict, tolerance: float) -> list[str]:
    overall = report["overall"]["candidate"]["roc_auc"] or 0.0
    flagged = []
    for column, values in report["segments"]["candidate"].items():
        for value, m in values.items():
            if not m["small"] and m["roc_auc"] is not None and m["roc_auc"] < overall - tolerance:
                flagged.append(f"{column}={value} (AUC {m['roc_auc']:.3f} vs {overall:.3f})")
    return flagged
