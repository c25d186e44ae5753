"""Walk-forward, out-of-time backtests and the promotion gates that read them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import polars as pl

from mlops_assets.compute.features import LABEL
from mlops_assets.compute.ingest import DAY
from mlops_assets.compute.metrics import (
    classification_metrics,
    fairness,
    optimal_threshold,
    reliability_table,
    segment_metrics,
)
from mlops_assets.spec import DatasetSpec, Gates

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


def run_backtest(
    frame: pl.DataFrame,
    folds: list[Fold],
    fit: Callable[[pl.DataFrame], Scorer],
    spec: DatasetSpec,
    champion: Scorer | None = None,
    champion_trained_until: dt.date | None = None,
) -> tuple[dict, pl.DataFrame]:
    """Train the candidate on each fold's past and score its test window.

    The champion is compared on the test rows after its own training window only, where both
    models are out of time (on rows it was trained on, any champion looks better than it is).
    Returns the report (JSON-ready) and the pooled out-of-time predictions.
    """
    if not folds:
        raise ValueError("not enough labelled days for a single walk-forward fold")
    pooled, per_fold = [], []
    for fold in folds:
        train = frame.filter(pl.col(DAY).is_between(fold.train_first, fold.train_last))
        test = frame.filter(pl.col(DAY).is_between(fold.test_first, fold.test_last))
        scored = test.with_columns(candidate=pl.Series(fit(train)(test)), fold=pl.lit(fold.index))
        pooled.append(scored)
        per_fold.append(
            {
                **{k: str(v) for k, v in asdict(fold).items()},
                "train_rows": train.height,
                **_metrics(scored, ["candidate"]),
            }
        )
    predictions = pl.concat(pooled)
    y, p = predictions[LABEL].to_numpy(), predictions["candidate"].to_numpy()
    threshold = (
        optimal_threshold(y, p, spec.value)
        if spec.decision.threshold is None
        else {"threshold": spec.decision.threshold}
    )
    report = {
        "folds": per_fold,
        "overall": _metrics(predictions, ["candidate"]),
        "stability": _stability([f["candidate"]["roc_auc"] for f in per_fold]),
        "decision": {**threshold, "rule": f"{spec.decision.action} if score >= threshold"},
        **_breakdown(predictions, {"candidate": threshold["threshold"]}, spec),
        "comparison": None,
    }
    report["underperforming_segments"] = _underperforming(report, tolerance=0.05)
    if champion is not None:
        since = champion_trained_until or dt.date.min
        rows = predictions.filter(pl.col(DAY) > since)
        report["comparison"] = {
            "champion_trained_until": str(champion_trained_until),
            "rows": rows.height,
        }
        if rows.height:
            rows = rows.with_columns(champion=pl.Series(champion(rows), dtype=pl.Float64))
            # each model decides at its own value-optimal threshold (or the spec's fixed one)
            thresholds = {
                "candidate": threshold["threshold"],
                "champion": (
                    spec.decision.threshold
                    if spec.decision.threshold is not None
                    else optimal_threshold(
                        rows[LABEL].to_numpy(), rows["champion"].to_numpy(), spec.value
                    )["threshold"]
                ),
            }
            report["comparison"].update(
                overall=_metrics(rows, list(thresholds)),
                thresholds=thresholds,
                **_breakdown(rows, thresholds, spec),
            )
    return report, predictions


def _metrics(scored: pl.DataFrame, models: list[str]) -> dict:
    y = scored[LABEL].to_numpy()
    return {m: classification_metrics(y, scored[m].to_numpy()) for m in models}


def _breakdown(rows: pl.DataFrame, thresholds: dict[str, float], spec: DatasetSpec) -> dict:
    y, least = rows[LABEL].to_numpy(), spec.gates.min_segment_rows
    return {
        "segments": {m: segment_metrics(rows, list(spec.segments), m, least) for m in thresholds},
        "fairness": {
            m: fairness(rows, list(spec.protected), m, t, least) for m, t in thresholds.items()
        },
        "reliability": {m: reliability_table(y, rows[m].to_numpy()).to_dicts() for m in thresholds},
    }


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


GATES = ("absolute_floor", "beats_champion", "calibration", "fairness", "segments")


def evaluate_gates(report: dict, gates: Gates) -> dict[str, dict]:
    """Verdict per gate: {"passed": bool, "reason": str}. No champion: relative gates pass."""
    cand = report["overall"]["candidate"]
    auc = cand["roc_auc"] or 0.0
    verdicts = {
        "absolute_floor": _verdict(
            auc >= gates.min_auc, f"candidate AUC {auc:.4f} vs floor {gates.min_auc}"
        ),
        "calibration": _verdict(
            cand["ece"] <= gates.max_ece,
            f"candidate ECE {cand['ece']:.4f} vs bound {gates.max_ece}",
        ),
    }
    comparison = report.get("comparison")
    if comparison is None:
        for name in ("beats_champion", "fairness", "segments"):
            verdicts[name] = _verdict(True, "no champion yet: nothing to compare with")
        return {g: verdicts[g] for g in GATES}
    if comparison["rows"] < gates.min_segment_rows:
        reason = (
            f"only {comparison['rows']} backtest rows after the champion's training window "
            f"(ends {comparison['champion_trained_until']}): no out-of-time evidence that "
            "the candidate is better"
        )
        for name in ("beats_champion", "fairness", "segments"):
            verdicts[name] = _verdict(False, reason)
        return {g: verdicts[g] for g in GATES}
    c_auc = comparison["overall"]["candidate"]["roc_auc"] or 0.0
    h_auc = comparison["overall"]["champion"]["roc_auc"] or 0.0
    verdicts["beats_champion"] = _verdict(
        c_auc >= h_auc + gates.margin,
        f"candidate AUC {c_auc:.4f} vs champion {h_auc:.4f} + margin {gates.margin} "
        f"on {comparison['rows']} rows after the champion's training window",
    )
    worse = []
    for column, c in comparison["fairness"]["candidate"].items():
        h = comparison["fairness"]["champion"][column]
        for gap in ("demographic_parity_difference", "equal_opportunity_difference"):
            if c[gap] > h[gap] + gates.fairness_tolerance:
                worse.append(f"{column} {gap} {c[gap]:.3f} vs champion {h[gap]:.3f}")
    verdicts["fairness"] = _verdict(
        not worse, "; ".join(worse) or f"no gap rose by more than {gates.fairness_tolerance}"
    )
    dropped = []
    for column, values in comparison["segments"]["candidate"].items():
        for value, m in values.items():
            h = comparison["segments"]["champion"][column][value]
            if (
                not m["small"]
                and m["roc_auc"] is not None
                and h["roc_auc"] is not None
                and m["roc_auc"] < h["roc_auc"] - gates.segment_tolerance
            ):
                dropped.append(f"{column}={value} AUC {m['roc_auc']:.3f} vs {h['roc_auc']:.3f}")
    verdicts["segments"] = _verdict(
        not dropped,
        "; ".join(dropped) or f"no segment AUC fell by more than {gates.segment_tolerance}",
    )
    return {g: verdicts[g] for g in GATES}


def _verdict(passed: bool, reason: str) -> dict:
    return {"passed": bool(passed), "reason": reason}
