"""Sweeps: drawing recipes from the spec's search space, the noise-aware winner, and `mlops
sweep` end to end (Ray Tune on a local Ray, MLflow parent and child runs, the winner trained
through the gates)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_assets.compute.sweep import (
    choose_winner,
    comparison_table,
    draw_recipes,
    longest_first,
)
from mlops_assets.compute.training import Recipe
from mlops_assets.config.settings import BUILTIN_SPEC, Settings
from mlops_assets.config.spec import SpecError, parse_spec
from tests.conftest import copy_home, registry, swept_base


def spec_with(tmp_path, **sections):
    import yaml

    raw = yaml.safe_load(BUILTIN_SPEC.read_text())
    raw.update(sections)
    return parse_spec(raw, base=tmp_path, home=tmp_path)


def test_recipes_are_drawn_in_range_by_family_in_turn_and_repeat_with_the_seed(tmp_path):
    spec = spec_with(
        tmp_path,
        experiments={
            "search": {
                "hist_gradient_boosting": {
                    "learning_rate": {"low": 0.01, "high": 0.3, "log": True},
                    "min_samples_leaf": {"low": 5, "high": 50, "integer": True},
                    "max_leaf_nodes": [7, 15],
                },
                "logistic_regression": {"C": {"low": 0.01, "high": 1.0, "log": True}},
            }
        },
    )
    recipes = draw_recipes(spec.experiments, 8, seed=3)
    assert [r.estimator for r in recipes] == ["hist_gradient_boosting", "logistic_regression"] * 4
    for r in recipes[::2]:
        assert 0.01 <= r.params["learning_rate"] <= 0.3
        assert (
            isinstance(r.params["min_samples_leaf"], int)
            and 5 <= r.params["min_samples_leaf"] <= 50
        )
        assert r.params["max_leaf_nodes"] in (7, 15)
    assert all(0.01 <= r.params["C"] <= 1.0 for r in recipes[1::2])
    assert draw_recipes(spec.experiments, 8, seed=3) == recipes
    assert draw_recipes(spec.experiments, 8, seed=4) != recipes


def test_a_search_space_mistake_names_the_spec_key(tmp_path):
    with pytest.raises(SpecError, match="experiments.search.xgboost"):
        spec_with(tmp_path, experiments={"search": {"xgboost": {"eta": 0.1}}})
    with pytest.raises(SpecError, match="experiments.search.logistic_regression.C"):
        spec_with(
            tmp_path, experiments={"search": {"logistic_regression": {"C": {"low": 2, "high": 1}}}}
        )
    with pytest.raises(SpecError, match="experiments.trials"):
        spec_with(tmp_path, experiments={"trials": 0})
    spec = spec_with(tmp_path, experiments={"search": {"logistic_regression": {"penalty_x": 1}}})
    with pytest.raises(ValueError, match="experiments.search.logistic_regression.penalty_x"):
        draw_recipes(spec.experiments, 2, seed=0)


def trial(auc: tuple, value: tuple) -> dict:
    return {
        "auc_difference": dict(zip(("estimate", "low", "high"), auc, strict=True)),
        "value_difference": dict(zip(("estimate", "low", "high"), value, strict=True)),
    }


def test_the_winner_must_beat_the_baseline_beyond_noise_with_the_best_lower_bound():
    noise = [trial((0.02, -0.001, 0.04), (1, -1, 3)), trial((0.0, -0.02, 0.02), (0, -2, 2))]
    assert choose_winner(noise, margin=0.0) is None  # nothing beyond noise: the baseline stays
    better = [
        trial((0.03, 0.010, 0.05), (2, -1, 5)),
        trial((0.02, 0.015, 0.025), (1, -1, 3)),  # smaller, but surer: the best lower bound
        trial((0.05, 0.020, 0.08), (-8, -12, -4)),  # better ranking, worse value beyond noise
    ]
    assert choose_winner(better, margin=0.0) == 1
    assert choose_winner(better, margin=0.012) == 1
    assert choose_winner(better, margin=0.016) is None


def test_the_comparison_table_marks_the_winner_after_the_baseline_row():
    row = {
        "estimator": "logistic_regression",
        "params": {"C": 0.1},
        "roc_auc": 0.7,
        "value_per_application": 40.0,
        "calibration_slope": 1.0,
        "seconds": 1.0,
    }
    baseline = {**row, **trial((0, 0, 0), (0, 0, 0))}
    results = [{**row, **trial((0.01, 0.005, 0.02), (1, 0, 2))}] * 2
    table = comparison_table(baseline, results, winner=1)
    assert [r["trial"] for r in table] == [0, 1, 2]
    assert [r["winner"] for r in table] == [False, False, True]
    assert table[1]["params"] == "C=0.1"


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> tuple[Path, dict]:
    """The session's swept home (`conftest.swept_base`: champion v2, three stumps, after a
    4-trial sweep without its training step) and the sweep's summary: each test trains the
    sweep's winner on a copy."""
    base = swept_base(tmp_path_factory)
    return base, json.loads((base.parent / "sweep.json").read_text())


@pytest.mark.slow
def test_mlops_sweep_tracks_every_trial_and_its_winner_goes_through_the_gates(swept, tmp_path):
    import dagster as dg

    from mlops_assets.commands.execution import instance_for
    from mlops_assets.commands.sweep import format_sweep, train_sweep_winner

    swept_home, summary = swept
    settings = copy_home(swept_home, tmp_path / "home")
    models = registry(settings)
    before = {v.version for v in models.client().search_model_versions("name='lending-dev'")}
    summary = {**summary, "model": train_sweep_winner(settings)}
    report = summary["sweep"]
    print(format_sweep(summary))

    # every trial is an MLflow child run of the sweep's run, which records where it came from
    client = models.client()
    parent = client.get_run(report["mlflow_run_id"])
    for tag in ("data_fingerprint", "git_commit", "git_dirty", "uv_lock_sha256"):
        assert parent.data.tags[tag]
    assert parent.data.params["trials"] == "4" and parent.data.params["seed"] == "0"
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert sorted(c.info.run_name for c in children) == [
        "trial 0 (champion v2's recipe)",
        "trial 1",
        "trial 2",
        "trial 3",
        "trial 4",
    ]
    assert all("auc_difference_low" in c.data.metrics for c in children)
    # the comparison table in the Dagster UI
    event = instance_for(settings).get_latest_materialization_event(
        dg.AssetKey(["lending", "sweep"])
    )
    table = event.asset_materialization.metadata["trials"]
    assert len(table.records) == 5 and table.schema.columns[0].name == "trial"

    # three stumps lose to a drawn recipe beyond noise; the winner holds on the holdout days,
    # is trained as the next candidate (from_sweep) and promoted by the same gates
    assert report["winner"] is not None and report["holdout"]["confirmed"], format_sweep(summary)
    proposed = report["proposed_recipe"]
    model = summary["model"]
    assert model["champion"]["promoted"], model.get("not_promoted")
    champion = model["champion"]["version"]
    assert str(champion) not in before
    recipe = models.recipe(champion)
    assert (recipe.estimator, recipe.params) == (proposed["estimator"], proposed["params"])
    candidate_run = client.get_model_version("lending-dev", str(champion)).run_id
    assert client.get_run(candidate_run).data.tags["sweep_run_id"] == parent.info.run_id


@pytest.mark.slow
def test_a_sweep_winner_refused_by_the_gates_leaves_the_champion(swept, tmp_path):
    """The same sweep's winner under a spec whose AUC floor no model reaches: it is trained
    and refused, as any candidate would be."""
    import yaml

    from mlops_assets.commands.sweep import train_sweep_winner

    swept_home, summary = swept
    settings = copy_home(swept_home, tmp_path / "home")
    champion = registry(settings).champion_version()
    raw = yaml.safe_load(BUILTIN_SPEC.read_text())
    raw["gates"] = {"min_auc": 0.99}
    strict = settings.home / "strict.yaml"
    strict.write_text(yaml.safe_dump(raw))
    settings = Settings.resolve(home=settings.home, dataset=str(strict))
    assert summary["sweep"]["proposed_recipe"] is not None
    assert "absolute_floor" in train_sweep_winner(settings)["not_promoted"]
    assert registry(settings).champion_version() == champion


def test_trials_start_with_the_likely_slowest_recipes():
    recipes = [
        Recipe("logistic_regression", {"C": 1.0}),
        Recipe("hist_gradient_boosting", {"learning_rate": 0.2}),
        Recipe("logistic_regression", {"C": 0.1}),
        Recipe("hist_gradient_boosting", {"learning_rate": 0.03}),
    ]
    order = longest_first(recipes)
    assert order[:2] == [3, 1]  # boosting, the slower learning rate first
    assert sorted(order[2:]) == [0, 2]
