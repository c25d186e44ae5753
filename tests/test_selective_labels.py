"""Selective labels: only outcomes the business could observe are used, each weighted by the
inverse of its probability of being observed, so that estimates hold for every applicant."""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from mlops_assets.compute.features import LABEL
from mlops_assets.compute.ingest import DAY
from mlops_assets.compute.intervals import mean_difference
from mlops_assets.compute.metrics import row_values
from mlops_assets.compute.selective import (
    OUTCOME_KNOWN,
    UNIT,
    WEIGHT,
    effective_sample_size,
    mark_known_outcomes,
    observable,
    population_rows,
    value_difference,
)
from mlops_assets.config.settings import Settings
from mlops_assets.config.spec import SpecError, load_spec, parse_spec
from mlops_assets.sources.simulator import Scenario, labelled_truth
from serving.policy import Policy, Scored, decide


@pytest.fixture
def spec(tmp_path):
    return load_spec(Settings.resolve(home=tmp_path).dataset_spec, home=tmp_path)


def test_declined_rows_outside_control_are_dropped_and_control_rows_weigh_one_over_the_share(
    spec,
):
    rows = pl.LazyFrame({"application_id": ["a", "b", "c", "d", "e"], "label": [1, 0, 1, 0, 1]})
    decisions = pl.LazyFrame(
        {
            "id": ["a", "b", "c", "d"],
            "decision": ["approve", "decline", "approve", "approve"],
            "control": [False, False, True, True],
            "score": [0.05, 0.5, 0.5, 0.01],
            "threshold": [0.1] * 4,
        }
    )
    out = observable(rows, decisions, spec, "application_id").collect()
    # b: declined outside control, unobservable; e: no logged decision (legacy), weighs 1
    assert out["application_id"].to_list() == ["a", "c", "d", "e"]
    share = spec.serving.control_share
    assert out[WEIGHT].to_list() == [1.0, pytest.approx(1 / share), 1.0, 1.0]
    assert out.columns == ["application_id", "label", WEIGHT]


def test_a_decision_made_after_its_outcome_landed_censors_nothing(spec):
    # a backfill over history: the first champion decides the days it was trained on, whose
    # outcomes the legacy policy had already let land
    rows = pl.LazyFrame({"application_id": ["a", "b", "c"], "label": [1, 0, 1]})
    decided = pl.DataFrame(
        {
            "id": ["a", "b", "c"],
            "decision": ["decline", "decline", "approve"],
            "control": [False, True, True],
            "score": [0.5, 0.5, 0.5],
            "threshold": [0.1] * 3,
        }
    )
    logged = mark_known_outcomes(decided, pl.Series(["a", "b"]))
    assert logged[OUTCOME_KNOWN].to_list() == [True, True, False]
    out = observable(rows, logged.lazy(), spec, "application_id").collect()
    # a and b keep their landed outcomes at weight 1; c, a live control row, stands for 20
    assert out["application_id"].to_list() == ["a", "b", "c"]
    assert out[WEIGHT].to_list() == [1.0, 1.0, pytest.approx(1 / spec.serving.control_share)]
    assert not mark_known_outcomes(decided, None)[OUTCOME_KNOWN].any()


def test_days_logged_before_exploration_weigh_from_their_score_beside_newer_ones(spec):
    # an upgraded home: one day's log has no `observed_probability`, the next day's has
    rows = pl.LazyFrame({"application_id": ["a", "b", "c", "d"], "label": [1, 0, 1, 0]})
    old = pl.DataFrame(
        {
            "id": ["a", "b"],
            "decision": ["approve", "approve"],
            "control": [True, False],
            "score": [0.5, 0.05],
            "threshold": [0.1, 0.1],
        }
    )
    new = old.with_columns(id=pl.Series(["c", "d"]), observed_probability=pl.Series([0.335, 1.0]))
    logs = pl.concat([old, new], how="diagonal_relaxed")
    out = observable(rows, logs.lazy(), spec, "application_id").collect()
    share = spec.serving.control_share
    assert out[WEIGHT].to_list() == pytest.approx([1 / share, 1.0, 1 / 0.335, 1.0])


@pytest.mark.parametrize("explore_share", [0.0, 0.3])
def test_weighted_observed_rows_estimate_the_whole_population_and_naive_ones_do_not(
    spec, explore_share
):
    """On a day decided by a policy that declines the riskiest third (and explores near its
    threshold, or not), the inverse-propensity weighted default rate of the observed rows
    matches every applicant's; the approved rows alone understate it."""
    apps, truth = labelled_truth(0, dt.date(2025, 1, 1), 40_000, 7, Scenario())
    p = truth["true_default_probability"].to_numpy()
    threshold = float(np.quantile(p, 0.67))
    policy = Policy(
        "decline",
        "approve",
        control_share=spec.serving.control_share,
        explore_share=explore_share,
        explore_band=1.5,
    )
    decisions = decide(apps["application_id"].to_list(), Scored(1, threshold, p), None, policy)
    observed = truth.filter(decisions["decision"] == "approve")
    out = observable(observed.lazy(), decisions.lazy(), spec, "application_id").collect()
    y, w = out["defaulted"].to_numpy(), out[WEIGHT].to_numpy()
    population = truth["defaulted"].mean()
    weighted = float(np.average(y, weights=w))
    assert abs(weighted - population) < 0.01
    assert y.mean() < population - 0.03  # the naive estimate is biased low
    assert effective_sample_size(w) < len(w)


def test_the_value_difference_covers_approvals_seen_only_through_the_control_group(spec):
    """A candidate approves 150 applications a day that the champion declines, each defaulting
    at the break-even rate (so the true value difference is 0): only the control group's ~7 of
    them have outcomes, weighted 20. Often none of those defaulted; a bootstrap of the observed
    rows then puts its lower bound above 0 (the candidate looks better), the platform's interval
    rarely does."""
    v, threshold = spec.value, 0.2
    gain = v.otherwise_negative - v.action_negative
    break_even = gain / (gain + v.action_positive - v.otherwise_positive)
    rng = np.random.default_rng(0)
    trials, above = 200, {"bootstrap": 0, "platform": 0}
    for _ in range(trials):
        n = 2000
        differ = np.arange(n) < 150
        p = np.where(differ, break_even, 0.05)
        y = rng.random(n) < p
        control = rng.random(n) < spec.serving.control_share
        seen = ~differ | control  # the champion declines the 150: seen only in the control group
        rows = population_rows(
            pl.DataFrame(
                {
                    LABEL: y[seen].astype(int),
                    DAY: [dt.date(2025, 1, 1)] * int(seen.sum()),
                    "candidate": np.full(seen.sum(), 0.05),
                    "champion": np.where(differ[seen], 0.5, 0.05),
                    WEIGHT: np.where(differ[seen], 1 / spec.serving.control_share, 1.0),
                }
            )
        )
        cand, champ = rows["candidate"].to_numpy(), rows["champion"].to_numpy()
        units = rows[UNIT].to_numpy()
        labels = rows[LABEL].to_numpy()
        naive = mean_difference(
            units, row_values(labels, cand, threshold, v), row_values(labels, champ, threshold, v)
        )
        above["bootstrap"] += naive.low > 0
        above["platform"] += value_difference(rows, cand, champ, threshold, v, units).low > 0
    assert above["bootstrap"] / trials > 0.2
    assert above["platform"] / trials <= 0.05


def test_population_rows_repeat_each_row_by_its_weight():
    frame = pl.DataFrame({"x": [1, 2, 3], WEIGHT: [1.0, 20.0, 1.0]})
    out = population_rows(frame)
    assert out.height == 22 and (out["x"] == 2).sum() == 20
    fractional = population_rows(pl.DataFrame({"x": list(range(1000)), WEIGHT: [2.5] * 1000}))
    assert 2400 < fractional.height < 2600  # rounded up or down at random, unbiased


def test_selective_labels_need_a_control_group_and_delayed_labels(spec, tmp_path):
    raw = {
        "name": "loans",
        "landing": "landing",
        "format": "csv",
        "id_column": "id",
        "target": {"column": "y", "positive": 1, "delay_days": 7},
        "outcomes": "outcomes",
        "decision": {
            "action": "decline",
            "otherwise": "approve",
            "threshold": "auto",
            "selective_labels": True,
        },
        "value": {k: 0 for k in spec.value.__dataclass_fields__},
        "serving": {"control_share": 0},
    }
    with pytest.raises(SpecError, match="decision.selective_labels.*control_share"):
        parse_spec(raw, tmp_path)
    raw["decision"]["selective_labels"] = "yes"
    with pytest.raises(SpecError, match="decision.selective_labels.*true or false"):
        parse_spec(raw, tmp_path)
    assert spec.decision.selective_labels  # the built-in lending spec sets it


def test_a_naive_monitor_sees_the_models_approvals_and_not_exploration(spec):
    from mlops_assets.compute.monitoring import LABEL, realized_performance

    rows = pl.DataFrame(
        {
            "score": [0.05, 0.08, 0.12, 0.3, 0.02, 0.15],
            "control": [False, False, False, True, True, False],
            "explored": [False, False, True, False, False, True],
            LABEL: [0, 1, 1, 1, 0, 0],
        }
    )
    out = realized_performance(rows, spec)
    assert out["approved_by_model"]["rows"] == 2 and out["control"]["rows"] == 2
    assert out["observed"]["rows"] == 6
    assert realized_performance(rows.drop("explored"), spec)["approved_by_model"]["rows"] == 4


def test_the_auc_difference_under_selective_labels_is_delongs_widened_by_the_outcome_noise():
    """Without copies it is DeLong's clustered interval; with rows standing for 20 its lower
    bound reads the outcome noise from the models, its upper bound is DeLong's (the weighted AUC
    is scikit-learn's, ties counting half)."""
    from sklearn.metrics import roc_auc_score

    from mlops_assets.compute.intervals import auc_difference as delong
    from mlops_assets.compute.intervals import clusters_of
    from mlops_assets.compute.selective import _weighted_auc, auc_difference

    rng = np.random.default_rng(3)
    n = 3000
    p = rng.uniform(0.01, 0.4, n)
    candidate = np.clip(p + rng.normal(0, 0.05, n), 0, 1)
    champion = np.round(np.clip(p + rng.normal(0, 0.05, n), 0, 1), 2)  # ties
    y = (rng.random(n) < p).astype(int)
    weight = np.where(champion >= 0.25, 20.0, 1.0)  # the declined region: control rows only
    frame = pl.DataFrame({LABEL: y, "c": candidate, "h": champion, WEIGHT: weight})
    plain = frame.drop(WEIGHT)
    units = np.arange(n)
    assert auc_difference(plain, candidate, champion, units) == delong(
        y, candidate, champion, clusters_of(units)
    )
    copies = population_rows(frame)
    u = copies[UNIT].to_numpy()
    c, h = copies["c"].to_numpy(), copies["h"].to_numpy()
    wide = auc_difference(copies, c, h, u)
    narrow = delong(copies[LABEL].to_numpy(), c, h, clusters_of(u))
    assert wide.estimate == narrow.estimate
    assert wide.low < narrow.low and wide.high == narrow.high  # the noise DeLong did not see
    weighs_one = population_rows(frame.with_columns(pl.lit(1.0).alias(WEIGHT)))
    assert auc_difference(weighs_one, candidate, champion, weighs_one[UNIT].to_numpy()) == delong(
        y, candidate, champion, clusters_of(weighs_one[UNIT].to_numpy())
    )
    draws = rng.random((2, n)) < p
    for row in range(2):
        expected = roc_auc_score(draws[row], champion, sample_weight=weight)
        assert _weighted_auc(champion, weight, draws[row : row + 1])[0] == pytest.approx(expected)
