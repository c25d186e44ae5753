"""Sequential performance monitoring and the weekly retrain's promotion rule, as pure functions:
the calibration CUSUM, the AUC interval rule, the performance signal, non-inferiority."""

import numpy as np
import pytest
from scipy.special import expit

from mlops_assets.compute.gates import evaluate_gates, non_inferior, superior
from mlops_assets.compute.sequential import (
    auc_shortfall,
    calibration_cusum,
    cusum_threshold,
    day_sums,
)
from mlops_assets.config.spec_types import Gates, Monitoring
from mlops_assets.defs.sensors import signal_retrain_config, weekly_retrain_config
from mlops_assets.defs.signals import performance_signal

K = 1.5


def days_of(count: int, rows: int, odds: float = 1.0, day_sd: float = 0.0, seed: int = 0):
    """`day_sums` of days whose true odds are the scores' times `odds` (and a day effect)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        z = rng.normal(-2.6, 0.9, rows)
        truth = expit(z + np.log(odds) + rng.normal(0, day_sd) if day_sd else z + np.log(odds))
        out.append(day_sums(rng.random(rows) < truth, expit(z), K))
    return out


def test_the_day_llr_is_a_likelihood_ratio_with_mean_one_under_calibration():
    p = np.array([0.02, 0.1, 0.3, 0.6])
    mean = {side: 0.0 for side in ("llr_understated", "llr_overstated")}
    for outcome in range(16):  # every outcome vector, weighted by its probability
        y = np.array([(outcome >> i) & 1 for i in range(4)])
        weight = np.prod(np.where(y == 1, p, 1 - p))
        sums = day_sums(y, p, K)
        for side in mean:
            mean[side] += weight * np.exp(sums[side])
    assert mean == pytest.approx({"llr_understated": 1.0, "llr_overstated": 1.0})
    assert day_sums([1, 0], [0.5, 0.5], K)["information"] == pytest.approx(0.5)


def test_the_threshold_follows_from_the_average_run_length():
    assert cusum_threshold(1000) == pytest.approx(np.log(2000))
    assert cusum_threshold(5000, sides=1) == pytest.approx(np.log(5000))
    with pytest.raises(ValueError, match="average run length"):
        cusum_threshold(1)


def test_a_calibrated_model_stays_quiet_and_understated_risk_alarms_within_days():
    quiet = calibration_cusum(days_of(300, 1000, day_sd=0.1), 5000, 0.1)
    assert quiet.alarm is None and quiet.days == 300
    drifted = days_of(5, 1000, odds=1.8, seed=1)
    alarm_day = next(
        n for n in range(1, 6) if calibration_cusum(drifted[:n], 5000, 0.1).alarm == "understated"
    )
    assert alarm_day <= 3
    assert calibration_cusum(days_of(6, 1000, odds=1 / 1.8, seed=2), 5000, 0.1).alarm == (
        "overstated"
    )


def test_evidence_before_a_run_of_calibrated_days_is_forgotten_and_day_effects_discount_it():
    drifted, calm = days_of(1, 1000, odds=1.8, seed=3), days_of(60, 1000, seed=4)
    before = calibration_cusum(drifted, 5000, 0.0).understated
    assert before > 0 and calibration_cusum(drifted + calm, 5000, 0.0).understated < before
    carried = calibration_cusum(calm, 5000, 0.0, start=calibration_cusum(drifted, 5000, 0.0))
    assert carried == calibration_cusum(drifted + calm, 5000, 0.0) and carried.days == 61
    discounted = calibration_cusum(drifted, 5000, 0.2).understated
    information = drifted[0]["information"]
    assert discounted == pytest.approx(before / (1 + 0.04 * information))


def test_the_auc_rule_fires_only_when_its_whole_interval_lies_below_the_limit():
    rng = np.random.default_rng(5)
    p = expit(rng.normal(-2, 1, 2000))
    y = rng.random(2000) < p
    noise = expit(rng.normal(-2, 1, 2000))  # scores unrelated to the outcomes
    assert auc_shortfall(y, noise, 0.75, 0.05)["fires"]
    assert not auc_shortfall(y, p, 0.75, 0.05)["fires"]  # as good as expected
    few = auc_shortfall(y[:100], noise[:100], 0.75, 0.05)
    assert few["positives"] < 20 and not few["fires"]  # too few positives for a verdict
    assert not auc_shortfall(y, noise, None, 0.05)["fires"]


def test_the_performance_signal_reads_the_cusum_and_the_auc_test():
    m = Monitoring()
    alarm = {"understated": 9.1, "overstated": 0.0, "threshold": 9.2, "days": 12, "alarm": None}
    assert performance_signal({"calibration_cusum": alarm}, m) is None
    alarm = {**alarm, "understated": 9.3, "alarm": "understated"}
    reason = performance_signal({"calibration_cusum": alarm}, m)
    assert "risk understated by 1.5x" in reason and "9.30 >= 9.20" in reason
    test = {
        "interval": {"estimate": 0.6, "low": 0.55, "high": 0.65},
        "expected": 0.76,
        "limit": 0.71,
        "positives": 80,
        "fires": True,
    }
    assert "wholly below 0.7100" in performance_signal({"trailing_auc_test": test}, m)
    assert performance_signal({"trailing_auc_test": {**test, "fires": False}}, m) is None


def interval(estimate, low, high):
    return {"estimate": estimate, "low": low, "high": high}


@pytest.mark.parametrize(
    ("auc", "value", "newer", "promoted"),
    [
        (interval(0.0, 0.0, 0.0), interval(0, 0, 0), True, True),  # an equal recipe, newer data
        (interval(-0.002, -0.008, 0.004), interval(-1, -3, 1), True, True),
        (interval(-0.01, -0.02, 0.0), interval(0, -1, 1), True, False),  # may be worse by 0.02
        (interval(0.01, 0.0, 0.02), interval(-5, -8, -2), True, False),  # value surely worse
        # ranking as good within noise, value surely higher: a drift moved the threshold's rows
        (interval(0.004, -0.02, 0.027), interval(16.7, 11.1, 22.3), True, True),
        (interval(-0.02, -0.04, -0.001), interval(16.7, 11.1, 22.3), True, False),  # AUC worse
        (interval(0.004, -0.02, 0.027), interval(9.7, -1.2, 20.6), True, False),  # value noisy
        (interval(0.0, 0.0, 0.0), interval(0, 0, 0), False, False),  # not newer data
        (interval(0.004, -0.02, 0.027), interval(16.7, 11.1, 22.3), False, False),
        (None, interval(0, 0, 0), True, False),  # one class only: no evidence
    ],
)
def test_non_inferiority_on_newer_data(auc, value, newer, promoted):
    assert non_inferior(auc, value, 0.01, newer) is promoted


def test_an_equal_recipe_is_never_superior_but_not_inferior():
    tie = interval(0.0, 0.0, 0.0)
    assert not superior(tie, interval(0, 0, 0), 0.0)
    assert superior(interval(0.03, 0.01, 0.05), interval(0, -1, 1), 0.0)


def report(auc, candidate_end: str, champion_end: str) -> dict:
    """A backtest report with only what the gates read."""
    tight = interval(1.0, 0.98, 1.02)
    return {
        "candidate_auc": interval(0.75, 0.73, 0.77),
        "overall": {"candidate": {"rows": 5000}},
        "calibration": {
            "observed_to_expected": tight,
            "slope": tight,
            "rows": 5000,
            "positives": 400,
        },
        "comparison": {
            "rows": 5000,
            "positives": 400,
            "days": 7,
            "auc_difference": auc,
            "value_difference": interval(0.0, -1.0, 1.0),
            "fairness": {},
            "segments": {},
            "training_windows_end": {"candidate": candidate_end, "champion": champion_end},
        },
    }


def test_the_weekly_rule_promotes_an_equal_model_on_newer_data_and_keeps_the_other_gates():
    tie = interval(0.0, -0.004, 0.004)
    weekly = evaluate_gates(report(tie, "2025-03-01", "2025-02-22"), Gates(), "not_worse")
    assert all(v["passed"] for v in weekly.values()), weekly
    assert "non-inferiority on newer data" in weekly["beats_champion"]["reason"]
    superiority = evaluate_gates(report(tie, "2025-03-01", "2025-02-22"), Gates(), "better")
    assert not superiority["beats_champion"]["passed"]
    stale = evaluate_gates(report(tie, "2025-02-22", "2025-02-22"), Gates(), "not_worse")
    assert "not newer" in stale["beats_champion"]["reason"]
    assert not stale["beats_champion"]["passed"]
    off = report(tie, "2025-03-01", "2025-02-22")
    off["calibration"]["observed_to_expected"] = interval(1.5, 1.3, 1.7)
    assert not evaluate_gates(off, Gates(), "not_worse")["calibration"]["passed"]
    with pytest.raises(ValueError, match="promotion rule"):
        evaluate_gates(report(tie, "2025-03-01", "2025-02-22"), Gates(), "best")


def test_weekly_and_signal_retrains_compare_with_the_deployed_champion_when_not_worse():
    from mlops_assets.config.settings import BUILTIN_SPEC
    from mlops_assets.config.spec import load_spec

    spec = load_spec(BUILTIN_SPEC, home="/tmp/unused")
    config = weekly_retrain_config(spec)["ops"]["lending__backtest"]["config"]
    assert config == {"compare_with": "deployed", "promote_if": "not_worse"}
    # a signal-driven retrain too, on the latest labelled days, recency-weighted
    signal = signal_retrain_config(spec)["ops"]
    assert signal["lending__backtest"]["config"]["promote_if"] == "not_worse"
    assert signal["lending__backtest"]["config"]["compare_with"] == "deployed"
    assert signal["lending__candidate_model"]["config"]["recency_half_life_days"] > 0
