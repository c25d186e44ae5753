"""Metrics, walk-forward folds and gates: pure functions, tested without Dagster or MLflow."""

import datetime as dt

import numpy as np
import polars as pl
import pytest
from scipy.special import expit, logit
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from mlops_assets.compute.backtest import comparable_folds, run_backtest, walk_forward_folds
from mlops_assets.compute.calibration import platt_fit
from mlops_assets.compute.features import LABEL
from mlops_assets.compute.gates import evaluate_gates
from mlops_assets.compute.ingest import DAY
from mlops_assets.compute.intervals import (
    auc_difference,
    auc_interval,
    calibration_evidence,
    wilson,
)
from mlops_assets.compute.metrics import (
    break_even_threshold,
    classification_metrics,
    decision_value,
    equalized_odds,
    expected_calibration_error,
    optimal_threshold,
)
from mlops_assets.compute.model_card import model_card
from mlops_assets.config.settings import BUILTIN_SPEC
from mlops_assets.config.spec import Value, load_spec

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


def test_break_even_threshold_of_the_lending_value_matrix():
    # declining a defaulter saves 1000, declining a good payer loses 120: decline above 120/1120
    assert break_even_threshold(VALUE) == pytest.approx(120 / 1120, abs=1e-6)
    never = Value(
        action_positive=-1, action_negative=-1, otherwise_positive=0, otherwise_negative=0
    )
    assert break_even_threshold(never) > 1


def test_equalized_odds_rates_per_group():
    # group a: the action hits 1 of 2 negatives and 2 of 2 positives; b: 0 of 2 and 1 of 2
    frame = pl.DataFrame(
        {
            "g": ["a"] * 4 + ["b"] * 4,
            LABEL: [1, 1, 0, 0] * 2,
            "s": [0.9, 0.9, 0.9, 0.1, 0.9, 0.1, 0.1, 0.1],
        }
    )
    groups = equalized_odds(frame, ["g"], "s", 0.5)["g"]["groups"]
    assert groups["a"]["action_rate_negatives"]["estimate"] == 0.5
    assert groups["a"]["action_rate_positives"]["estimate"] == 1.0
    assert groups["b"]["action_rate_negatives"]["estimate"] == 0.0
    assert (
        groups["b"]["action_rate_positives"]["low"]
        < 0.5
        < groups["b"]["action_rate_positives"]["high"]
    )


def test_wilson_interval():
    rate = wilson(20, 100)
    assert rate.estimate == 0.2 and rate.low == pytest.approx(0.1334, abs=1e-3)
    assert rate.high == pytest.approx(0.2888, abs=1e-3) and wilson(0, 0) is None


def test_delong_matches_the_pairwise_definition():
    rng = np.random.default_rng(1)
    y = (rng.random(300) < 0.3).astype(int)
    a, b = y + rng.normal(0, 1, 300), y + rng.normal(0, 1.5, 300)
    assert auc_interval(y, a).estimate == pytest.approx(roc_auc_score(y, a))
    diff = auc_difference(y, a, b)
    assert diff.estimate == pytest.approx(roc_auc_score(y, a) - roc_auc_score(y, b))
    # DeLong's variance from the placement values, computed pairwise (O(m n))
    pos, neg = y == 1, y == 0

    def placements(s):
        psi = (s[pos][:, None] > s[neg][None, :]) + 0.5 * (s[pos][:, None] == s[neg][None, :])
        return psi.mean(axis=1), psi.mean(axis=0)

    (va, wa), (vb, wb) = placements(a), placements(b)
    variance = np.var(va - vb, ddof=1) / pos.sum() + np.var(wa - wb, ddof=1) / neg.sum()
    assert diff.high - diff.estimate == pytest.approx(1.959964 * np.sqrt(variance), rel=1e-6)
    # with every row its own cluster, Obuchowski's clustered variance is DeLong's (K/(K-1) apart)
    clustered = auc_difference(y, a, b, clusters=np.arange(300))
    assert clustered.high - clustered.estimate == pytest.approx(diff.high - diff.estimate, rel=0.01)
    same = auc_difference(y, a, a)
    assert same.estimate == same.low == same.high == 0


def test_clustered_auc_interval_widens_when_days_differ():
    # on some days model a is the sharper one, on others b: rows of a day move together
    rng = np.random.default_rng(4)
    days = np.repeat(np.arange(20), 200)
    y = (rng.random(4000) < 0.2).astype(int)
    sharp_a = np.repeat(rng.random(20) < 0.5, 200)
    a = y + rng.normal(0, np.where(sharp_a, 0.6, 1.6))
    b = y + rng.normal(0, np.where(sharp_a, 1.6, 0.6))
    rows, by_day = auc_difference(y, a, b), auc_difference(y, a, b, clusters=days)
    assert by_day.estimate == pytest.approx(rows.estimate)
    assert by_day.high - by_day.low > 2 * (rows.high - rows.low)


def test_logistic_calibration_recovers_intercept_and_slope():
    rng = np.random.default_rng(2)
    p = rng.uniform(0.02, 0.6, 20000)
    y = (rng.random(20000) < expit(0.3 + 0.7 * logit(p))).astype(int)
    (a, b), covariance = platt_fit(y, p)
    assert abs(a - 0.3) < 3 * np.sqrt(covariance[0, 0])
    assert abs(b - 0.7) < 3 * np.sqrt(covariance[1, 1])
    evidence = calibration_evidence(y, expit(a + b * logit(p)))
    assert evidence["slope"]["low"] < 1 < evidence["slope"]["high"]


def days_frame(days: int = 40, rows: int = 500, seed: int = 0) -> pl.DataFrame:
    """Simulated backtest rows: a true probability from x, a segment and a protected group."""
    rng = np.random.default_rng(seed)
    n = days * rows
    x = rng.normal(0, 1, n)
    truth = expit(-2.2 + 1.2 * x)
    return pl.DataFrame(
        {
            DAY: pl.Series([dt.date(2025, 1, 1) + dt.timedelta(days=d // rows) for d in range(n)]),
            "x": x,
            "noise": rng.normal(0, 1, n),
            "region": rng.choice(["n", "s"], n),
            "channel": rng.choice(["web", "branch"], n),
            "age_band": rng.choice(["young", "old"], n),
            "truth": truth,
            LABEL: (rng.random(n) < truth).astype(int),
        }
    )


def backtest(scorer, champion=None, same=False):
    spec = load_spec(BUILTIN_SPEC, home="/tmp/unused")
    frame = days_frame()
    folds = walk_forward_folds(sorted(frame[DAY].unique()), 3, 7, 7, 7)

    def fit(train):
        return scorer

    champion_fit = fit if same else (None if champion is None else (lambda train: champion))
    report, _ = run_backtest(frame, folds, fit, spec, champion_fit)
    return evaluate_gates(report, spec.gates), report


def true_score(rows):
    return rows["truth"].to_numpy()


def test_a_first_calibrated_model_passes_every_gate_and_the_reasons_carry_intervals():
    gates, report = backtest(true_score)
    assert all(v["passed"] for v in gates.values()), gates
    assert "[" in gates["absolute_floor"]["reason"] and "[" in gates["calibration"]["reason"]
    assert report["decision"]["threshold"] == pytest.approx(120 / 1120, abs=1e-6)


def test_an_equal_model_is_rarely_promoted():
    # two scorers as good as each other (the truth blurred by independent noise of the same
    # size): different scores, the same true AUC; the gate's one-sided 2.5% bound allows ~1 in 40
    def blurred(trial: int, model: int):
        def score(rows):
            noise = np.random.default_rng([trial, model, rows.height]).normal(size=rows.height)
            return expit(logit(rows["truth"].to_numpy()) + 0.8 * noise)

        return score

    promoted = []
    for trial in range(20):
        gates, report = backtest(blurred(trial, 1), champion=blurred(trial, 2))
        assert report["comparison"]["auc_difference"]["estimate"] != 0
        promoted.append(gates["beats_champion"]["passed"])
    assert sum(promoted) <= 3, promoted
    assert "lower bound must exceed" in gates["beats_champion"]["reason"]


def test_a_clearly_better_model_is_promoted_and_a_worse_one_is_not():
    def blurred(rows):
        return expit(logit(rows["truth"].to_numpy()) + 1.5 * rows["noise"].to_numpy())

    better, _ = backtest(true_score, champion=blurred)
    assert better["beats_champion"]["passed"], better["beats_champion"]
    worse, _ = backtest(blurred, champion=true_score)
    assert not worse["beats_champion"]["passed"]
    assert worse["beats_champion"]["evidence"]["auc_difference"]["high"] < 0


def test_a_model_understating_risk_fails_calibration():
    gates, report = backtest(lambda rows: 0.6 * rows["truth"].to_numpy())
    assert not gates["calibration"]["passed"]
    assert report["calibration"]["observed_to_expected"]["low"] > 1.2


def test_outside_the_band_but_better_than_the_deployed_champion_passes_calibration():
    """After a drift a fresh model's folds lie outside the band and the deployed champion
    further out: against the deployed champion as it is, lower log loss beyond noise passes;
    against a refitted recipe, or a deployed champion that is calibrated, it does not."""
    spec = load_spec(BUILTIN_SPEC, home="/tmp/unused")

    def understated(share):
        return lambda rows: share * rows["truth"].to_numpy()

    verdicts = {}
    for candidate, champion in ((0.75, 0.4), (0.75, 1.0)):
        gates, report = backtest(understated(candidate), champion=understated(champion))
        assert not gates["calibration"]["passed"]  # a refitted recipe: the band alone
        report["comparison"]["against"] = "deployed"
        verdicts[champion] = evaluate_gates(report, spec.gates)["calibration"]
    assert verdicts[0.4]["passed"], verdicts[0.4]["reason"]
    assert "beat the deployed champion's" in verdicts[0.4]["reason"]
    assert not verdicts[1.0]["passed"], verdicts[1.0]["reason"]


def test_under_the_retrain_rule_no_worse_than_a_miscalibrated_champion_passes_calibration():
    """Both off the band after a drift: under `not_worse` a candidate whose log loss is not worse
    beyond noise replaces the champion; one worse beyond noise does not, nor does any candidate
    off the band under the superiority rule."""
    spec = load_spec(BUILTIN_SPEC, home="/tmp/unused")

    def understated(share):
        return lambda rows: share * rows["truth"].to_numpy()

    verdicts = {}
    for candidate in (0.7, 0.4):
        _, report = backtest(understated(candidate), champion=understated(0.7))
        report["comparison"]["against"] = "deployed"
        report["comparison"]["training_windows_end"] = {"candidate": "b", "champion": "a"}
        for rule in ("not_worse", "better"):
            verdicts[candidate, rule] = evaluate_gates(report, spec.gates, rule)["calibration"]
    assert verdicts[0.7, "not_worse"]["passed"], verdicts[0.7, "not_worse"]["reason"]
    assert "the deployed champion is off too" in verdicts[0.7, "not_worse"]["reason"]
    assert not verdicts[0.4, "not_worse"]["passed"], verdicts[0.4, "not_worse"]["reason"]
    assert not verdicts[0.7, "better"]["passed"]


def test_a_model_that_declines_one_group_more_fails_fairness():
    def harsher_on_young(rows):
        p = rows["truth"].to_numpy()
        return np.where(rows["age_band"].to_numpy() == "young", np.minimum(1, p * 2.5), p)

    gates, _ = backtest(harsher_on_young, champion=true_score)
    assert not gates["fairness"]["passed"] and "age_band" in gates["fairness"]["reason"]


def test_walk_forward_folds_leave_a_label_gap_and_move_forward():
    days = [dt.date(2025, 1, 1) + dt.timedelta(days=i) for i in range(40)]
    folds = walk_forward_folds(days, folds=3, fold_days=7, gap_days=7, min_train_days=7)
    assert [f.test_last for f in folds] == [days[25], days[32], days[39]]
    for f in folds:
        assert (f.test_first - f.train_last).days == 8  # 7 days of label delay in between
        assert f.test_last - f.test_first == dt.timedelta(days=6)


def test_a_deployed_champion_is_compared_only_on_folds_trained_on_data_as_new_as_its_own():
    """Its window ending on day X, the folds trained through X or later compare; an older fold
    would pit models lacking its latest days against it at a horizon it never serves at."""
    spec = load_spec(BUILTIN_SPEC, home="/tmp/unused")
    frame = days_frame()
    folds = walk_forward_folds(sorted(frame[DAY].unique()), 3, 7, 7, 7)
    ends = [f.train_last for f in folds]
    assert comparable_folds(folds, None) == [0, 1, 2]
    assert comparable_folds(folds, ends[1]) == [1, 2]
    assert comparable_folds(folds, ends[1] + dt.timedelta(days=1)) == [2]
    assert comparable_folds(folds, ends[2] + dt.timedelta(days=1)) == []
    report, rows = run_backtest(
        frame, folds, lambda _: true_score, spec, lambda _: true_score, ends[1]
    )
    assert report["comparison"]["rows"] == rows.filter(pl.col("fold") >= 1).height
    assert report["calibration"]["folds"] == [1, 2]  # judged on the same folds
    report, _ = run_backtest(
        frame, folds, lambda _: true_score, spec, lambda _: true_score, ends[2] + dt.timedelta(1)
    )
    assert report["comparison"]["rows"] == 0
    assert report["calibration"]["folds"] == [0, 1, 2]  # nothing to scope it to
    assert not report["calibration"]["comparable_folds_only"]
    report["gates"] = evaluate_gates(report, spec.gates)
    assert not report["gates"]["beats_champion"]["passed"]
    # the refused version's model card says so (it once raised on the missing intervals)
    report["champion_version"] = 1
    report["candidate"] = {
        "model_name": "lending",
        "version": 2,
        "training_window": "a..b",
        "rows": 1,
        "as_of": "b",
        "data_fingerprint": "0" * 12,
        "estimator": "auto",
        "params": {},
    }
    card = model_card(report)
    assert "AUC difference n/a" in card and "| beats_champion | FAIL |" in card


def test_against_a_deployed_champion_calibration_is_judged_on_the_comparable_folds():
    """A recipe whose model trained before the champion's window was off (a drift it had not
    seen) but whose newer models are calibrated is judged by the newer ones; judged on every
    fold (a first model, or a recipe refitted), the old fold counts and the gate refuses."""
    spec = load_spec(BUILTIN_SPEC, home="/tmp/unused")
    frame = days_frame()
    folds = walk_forward_folds(sorted(frame[DAY].unique()), 3, 7, 7, 7)
    after = folds[1].train_last

    def fit(train):
        stale = train[DAY].max() < after
        return lambda rows: expit(logit(rows["truth"].to_numpy()) + (1.5 if stale else 0.0))

    everywhere, _ = run_backtest(frame, folds, fit, spec, fit)
    scoped, _ = run_backtest(frame, folds, fit, spec, lambda _: true_score, after)
    assert not evaluate_gates(everywhere, spec.gates)["calibration"]["passed"]
    verdict = evaluate_gates(scoped, spec.gates)["calibration"]
    assert verdict["passed"], verdict["reason"]
    assert "folds 1, 2, those trained on data at least as new" in verdict["reason"]
