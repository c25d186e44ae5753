"""Metrics, walk-forward folds and gates: pure functions, tested without Dagster or MLflow."""

import datetime as dt

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from mlops_assets.compute.backtest import evaluate_gates, walk_forward_folds
from mlops_assets.compute.metrics import (
    classification_metrics,
    decision_value,
    expected_calibration_error,
    fairness,
    optimal_threshold,
)
from mlops_assets.spec import Gates, Value

VALUE = Value(
    action_positive=0, action_negative=0, otherwise_positive=-1000, otherwise_negative=120
)


def test_metrics_agree_with_scikit_learn():
    rng = np.random.default_rng(0)
    p = rng.random(5000)
    y = (rng.random(5000) < p).astype(int)
    m = classification_metrics(y, p)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-6)
    assert m["log_loss"] == pytest.approx(log_loss(y, p), abs=1e-6)
    assert m["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-6)
    assert m["ece"] < 0.03  # calibrated by construction


def test_ece_of_a_constant_miscalibration():
    y = np.array([0] * 80 + [1] * 20)
    assert expected_calibration_error(y, np.full(100, 0.5)) == pytest.approx(0.3)
    assert classification_metrics(np.zeros(10), np.full(10, 0.1))["roc_auc"] is None


def test_optimal_threshold_maximises_the_decision_value():
    p = np.array([0.02, 0.05, 0.1, 0.3, 0.6, 0.9])
    y = np.array([0, 0, 0, 1, 1, 1])
    best = optimal_threshold(y, p, VALUE)
    assert best["value"] == 3 * 120  # decline exactly the three defaulters
    assert 0.1 < best["threshold"] <= 0.3
    assert best["value_never_act"] == decision_value(y, p, 2.0, VALUE) == 3 * 120 - 3000


def test_fairness_gaps():
    frame = pl.DataFrame(
        {
            "g": ["a"] * 4 + ["b"] * 4,
            "_label": [1, 1, 0, 0] * 2,
            "s": [0.9, 0.9, 0.9, 0.1, 0.9, 0.1, 0.1, 0.1],
        }
    )
    f = fairness(frame, ["g"], "s", 0.5)["g"]
    assert f["demographic_parity_difference"] == pytest.approx(0.75 - 0.25)
    assert f["equal_opportunity_difference"] == pytest.approx(1.0 - 0.5)


def test_walk_forward_folds_leave_a_label_gap_and_move_forward():
    days = [dt.date(2025, 1, 1) + dt.timedelta(days=i) for i in range(40)]
    folds = walk_forward_folds(days, folds=3, fold_days=7, gap_days=7, min_train_days=7)
    assert [f.test_last for f in folds] == [days[25], days[32], days[39]]
    for f in folds:
        assert (f.test_first - f.train_last).days == 8  # 7 days of label delay in between
        assert f.test_last - f.test_first == dt.timedelta(days=6)


def report(candidate_auc, champion_auc=None, cand_dp=0.1, champ_dp=0.1, ece=0.01, rows=5000):
    def model(auc, dp):
        return (
            {"roc_auc": auc, "ece": ece},
            {"age": {"demographic_parity_difference": dp, "equal_opportunity_difference": 0}},
            {"region": {"n": {"roc_auc": auc, "small": False}}},
        )

    cand = model(candidate_auc, cand_dp)
    out = {"overall": {"candidate": cand[0]}, "comparison": None}
    if champion_auc is not None:
        champ = model(champion_auc, champ_dp)
        out["comparison"] = {
            "rows": rows,
            "champion_trained_until": "2025-01-20",
            "overall": {"candidate": cand[0], "champion": champ[0]},
            "fairness": {"candidate": cand[1], "champion": champ[1]},
            "segments": {"candidate": cand[2], "champion": champ[2]},
        }
    return out


def test_gates():
    gates = Gates()
    first = evaluate_gates(report(0.7), gates)
    assert all(v["passed"] for v in first.values())
    assert not evaluate_gates(report(0.55), gates)["absolute_floor"]["passed"]
    assert not evaluate_gates(report(0.7, ece=0.2), gates)["calibration"]["passed"]
    worse = evaluate_gates(report(0.68, 0.72), gates)
    assert not worse["beats_champion"]["passed"] and not worse["segments"]["passed"]
    assert "0.6800 vs champion 0.7200" in worse["beats_champion"]["reason"]
    assert evaluate_gates(report(0.73, 0.72), gates)["beats_champion"]["passed"]
    unfair = evaluate_gates(report(0.73, 0.72, cand_dp=0.3), gates)["fairness"]
    assert not unfair["passed"] and "demographic_parity_difference" in unfair["reason"]
    # a champion trained on the backtest's rows leaves no out-of-time evidence: no promotion
    blind = evaluate_gates(report(0.9, 0.7, rows=0), gates)["beats_champion"]
    assert not blind["passed"] and "no out-of-time evidence" in blind["reason"]
