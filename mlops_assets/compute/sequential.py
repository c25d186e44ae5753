"""Sequential performance monitoring: a CUSUM on the calibration of the observed rows, and an
interval test on the realized AUC. Plain numpy; the performance asset records the daily sums,
the performance sensor reads the verdict.

The CUSUM tests, day after day, "the risk is understated (or overstated) by a factor `k` on the
odds" against "the scores are calibrated". A day's evidence is the Bernoulli log-likelihood
ratio of its observed rows (each row once), divided by the day's overdispersion `1 + tau^2 V`
(a quasi-likelihood: `tau` is the standard deviation of a day effect on the log-odds that even a
calibrated model cannot foresee, `V` the day's binomial information). Under a calibrated model
exp(increment) has mean 1 (exactly so without a day effect), so by Lorden's bound each one-sided
CUSUM runs at least exp(h) days between false alarms at any daily volume; both sides together,
with h = log(2 * ARL), run at least ARL days (`cusum_threshold`; the benches measure more).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlops_assets.compute.intervals import auc_interval

SIDES = ("understated", "overstated")
AUC_CONFIDENCE = 0.99  # two-sided; the AUC rule reads the upper bound (one-sided 0.5%)
MIN_AUC_POSITIVES = 20  # fewer observed positives in the trailing pool: no AUC verdict


def day_sums(y: np.ndarray, p: np.ndarray, odds_ratio: float) -> dict:
    """One day's calibration evidence from its observed rows: counts, the binomial information
    sum p(1 - p), and the log-likelihood ratio of odds x k (understated) and x 1/k (overstated)
    against calibrated scores."""
    y = np.asarray(y, dtype=float)
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    log_k = np.log(odds_ratio)
    return {
        "rows": int(len(y)),
        "positives": int(y.sum()),
        "expected": float(p.sum()),
        "information": float((p * (1 - p)).sum()),
        "llr_understated": float((y * log_k - np.log1p((odds_ratio - 1) * p)).sum()),
        "llr_overstated": float((-y * log_k - np.log1p((1 / odds_ratio - 1) * p)).sum()),
    }


def cusum_threshold(arl_days: float, sides: int = len(SIDES)) -> float:
    """The alarm threshold h of `sides` one-sided likelihood-ratio CUSUMs whose combined average
    run length between false alarms is at least `arl_days` (Lorden: ARL >= exp(h) per side)."""
    if arl_days <= 1:
        raise ValueError(f"the average run length {arl_days} must exceed 1 day")
    return float(np.log(sides * arl_days))


@dataclass(frozen=True)
class Cusum:
    understated: float  # the statistic of each side after the last day
    overstated: float
    threshold: float
    days: int

    @property
    def alarm(self) -> str | None:
        """The side past the threshold (the larger if both), or None."""
        values = {"understated": self.understated, "overstated": self.overstated}
        side = max(values, key=values.get)
        return side if values[side] >= self.threshold else None

    def as_dict(self) -> dict:
        return {
            "understated": round(self.understated, 4),
            "overstated": round(self.overstated, 4),
            "threshold": round(self.threshold, 4),
            "days": self.days,
            "alarm": self.alarm,
        }


def calibration_cusum(
    days: list[dict], arl_days: float, day_effect_sd: float, start: Cusum | None = None
) -> Cusum:
    """Both one-sided CUSUMs over `days` (`day_sums` of consecutive days, oldest first):
    C_t = max(0, C_(t-1) + LLR_t / (1 + tau^2 V_t)), from `start` or 0 (a new champion starts
    afresh)."""
    statistic = {side: getattr(start, side) if start else 0.0 for side in SIDES}
    for day in days:
        dispersion = 1.0 + day_effect_sd**2 * day["information"]
        for side in SIDES:
            statistic[side] = max(0.0, statistic[side] + day[f"llr_{side}"] / dispersion)
    return Cusum(
        statistic["understated"],
        statistic["overstated"],
        cusum_threshold(arl_days),
        len(days) + (start.days if start else 0),
    )


def auc_shortfall(y: np.ndarray, p: np.ndarray, expected: float | None, drop: float) -> dict:
    """The trailing realized AUC with DeLong's 99% interval, against the AUC the calibrated
    scores expect on the same rows: `fires` only when the whole interval lies below
    expected - drop, and at least `MIN_AUC_POSITIVES` positives were observed."""
    y = np.asarray(y)
    positives = int((y == 1).sum())
    interval = auc_interval(y, p, confidence=AUC_CONFIDENCE) if len(y) else None
    enough = positives >= MIN_AUC_POSITIVES and len(y) - positives >= MIN_AUC_POSITIVES
    fires = bool(
        enough and interval is not None and expected is not None and interval.high < expected - drop
    )
    return {
        "interval": interval.as_dict() if interval else None,
        "expected": expected,
        "limit": None if expected is None else round(expected - drop, 6),
        "positives": positives,
        "fires": fires,
    }
