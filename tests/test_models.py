"""Training, backtests, gates, promotion and rollback: real Dagster, real MLflow (SQLite)."""

import json
import re

import dagster as dg
import polars as pl
import pytest

from mlops_assets.commands.cli import main
from mlops_assets.commands.execution import instance_for
from mlops_assets.compute.gates import failed_gates
from mlops_assets.config.settings import Settings
from tests.conftest import copy_home, ingested_base, registry, train, trained_base


@pytest.fixture
def home(tmp_path_factory, tmp_path):
    """A copy of 45 simulated days (labels 7 days late), ingested once per test run."""
    return copy_home(ingested_base(tmp_path_factory), tmp_path / "home")


@pytest.fixture
def trained(tmp_path_factory, tmp_path):
    """A copy of the same days after `mlops run` trained them once per test run: v1 champion."""
    return copy_home(trained_base(tmp_path_factory), tmp_path / "home")


def train_run(settings) -> dg.DagsterRun:
    """The Dagster run of the train job that trained the home's latest candidate."""
    runs = instance_for(settings).get_runs(filters=dg.RunsFilter(job_name="lending_train"))
    return runs[0]  # newest first


def report(settings) -> dict:
    return json.loads((settings.lake / "lending" / "backtest" / "data.json").read_text())


def checks(result) -> dict[str, bool]:
    """Verdicts of the model gates (checks on the backtest)."""
    return {
        e.check_name: e.passed
        for e in result.get_asset_check_evaluations()
        if e.asset_key.path[-1] == "backtest"
    }


def test_first_model_becomes_champion_and_the_same_data_and_seed_give_the_same_metrics(home):
    first = train(home)
    assert first.success
    assert all(checks(first).values()) and len(checks(first)) == 5
    reg = registry(home)
    assert reg.champion_version() == 1
    metrics = report(home)["overall"]["candidate"]
    assert metrics["roc_auc"] > 0.65 and report(home)["decision"]["threshold"] > 0

    second = train(home)
    assert report(home)["candidate"]["version"] == 2
    assert report(home)["overall"]["candidate"] == metrics  # deterministic
    # the same recipe refitted on the same folds scores the same: an equal model is not promoted
    assert not second.success and checks(second)["beats_champion"] is False
    assert report(home)["comparison"]["auc_difference"] == {"estimate": 0, "low": 0, "high": 0}
    assert "[+0.0000, +0.0000]" in report(home)["gates"]["beats_champion"]["reason"]
    assert reg.champion_version() == 1


def test_mlflow_run_carries_lineage_and_the_model_is_stored_as_code_and_skops(trained):
    home, result = trained, train_run(trained)
    card = report(home)["candidate"]
    models = registry(home)
    run = models.client().get_run(card["run_id"])
    # dagster-mlflow carried the train job's run, and its hook closed it with the job
    assert run.data.tags["dagster_run_id"] == result.run_id and run.info.status == "FINISHED"
    assert run.data.tags["dagster_run_url"] == f"http://127.0.0.1:3000/runs/{result.run_id}"
    instance = instance_for(home)

    def metadata(asset: str) -> dict:
        key = dg.AssetKey(["lending", asset])
        return instance.get_latest_materialization_event(key).asset_materialization.metadata

    # the training window is an MLflow dataset: the lake file, the partitions' digest, the days
    (logged,) = run.inputs.dataset_inputs
    fingerprint = metadata("training_set")["data_fingerprint"].value
    assert logged.dataset.digest == fingerprint[:36] and logged.dataset.name.endswith("set")
    assert json.loads(logged.dataset.source)["uri"].endswith("training_set/data.parquet")
    tags = {t.key: t.value for t in logged.tags}
    assert tags["mlflow.data.context"] == "training" and tags["data_fingerprint"] == fingerprint
    assert tags["window"] == card["training_window"]
    assert models.training_window_end(1).isoformat() == card["training_window"][-10:]
    assert len(run.data.tags["mlflow.source.git.commit"]) in (40, len("unknown"))
    assert run.data.params["seed"] == "0"
    # every materialization of the model links its MLflow run
    url = f"http://127.0.0.1:5000/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"
    for asset in ("candidate_model", "backtest", "champion"):
        assert metadata(asset)["mlflow_run"].value == url
    assert "backtest_candidate_roc_auc" in run.data.metrics
    artifacts = home.home / "mlflow" / "artifacts"
    # the registered model is the raw-records pyfunc, logged as code: skops inside, no pickle
    assert list(artifacts.rglob("pipeline.skops")) and not list(artifacts.rglob("*.pkl"))
    for curve in ("reliability.png", "roc.png", "precision_recall.png"):
        assert list(artifacts.rglob(curve)), curve
    # the gates' verdicts are tags of the version and its run; the model card its description
    version = models.client().get_model_version(models.model_name, "1")
    assert version.tags["gate_outcome"] == "passed" == run.data.tags["gate.calibration"]
    assert {f"gate.{g}" for g in report(home)["gates"]} <= set(version.tags)
    assert version.description.startswith("**lending-dev v1**: passed every gate")
    assert "| calibration | PASS | observed/expected positives" in version.description


def test_a_worse_candidate_fails_the_gates_and_the_champion_stays(trained):
    home = trained
    worse = train(home, model={"estimator": "dummy"})
    assert not worse.success
    verdicts = checks(worse)
    assert verdicts["absolute_floor"] is False and verdicts["beats_champion"] is False
    # a refusal is not a crash: the candidate's run ends FINISHED, tagged with the failed gates
    models, refused = registry(home), report(home)["candidate"]
    run = models.client().get_run(refused["run_id"])
    assert run.info.status == "FINISHED"
    assert {"absolute_floor", "beats_champion"} <= set(
        run.data.tags["refused_by_gates"].split(", ")
    )
    version = models.client().get_model_version(models.model_name, str(refused["version"]))
    assert (
        version.tags["gate_outcome"] == "refused"
        and version.tags["gate.absolute_floor"] == "failed"
    )
    assert "refused by absolute_floor" in version.description
    materialized = {e.asset_key.path[-1] for e in worse.get_asset_materialization_events()}
    assert "champion" not in materialized
    assert registry(home).champion_version() == 1
    reason = report(home)["gates"]["absolute_floor"]["reason"]
    assert re.match(r"candidate AUC 0\.(49|50)\d\d \[0\.\d+, 0\.\d+\]: its lower bound", reason)


def test_a_better_candidate_is_promoted_and_rollback_restores_the_previous(home, capsys):
    # three full-step stumps (AUC ~0.68, calibrated); the estimator fixed: `auto` may pick a
    # logistic regression, which the boosting parameters do not weaken. (At learning rate 0.1
    # their squeezed scores come out under-confident, slope 1.66 [1.37, 1.94], and are refused.)
    stumps = {"max_iter": 3, "max_depth": 1, "learning_rate": 1.0}
    weak = {"estimator": "hist_gradient_boosting", "params": stumps}
    assert train(home, model=weak, training={"as_of": "2025-02-01"}).success  # labels to 01-25
    better = train(home)  # the weak recipe is refitted on the same folds and loses on them
    assert better.success, failed_gates(report(home)["gates"])
    comparison = report(home)["comparison"]
    assert comparison["auc_difference"]["low"] > 0 and comparison["rows"] > 1000
    assert report(home)["champion_recipe"]["params"]["max_iter"] == 3
    reg = registry(home)
    assert reg.champion_version() == 2
    assert reg.version_tags(2)["previous_champion"] == "1"
    # `mlops rollback` is a Dagster run of the champion and the deployment, with its reason
    assert main(["--home", str(home.home), "rollback", "--reason", "v2 misprices"]) == 0
    assert "lending-dev v1 (was v2): v2 misprices" in capsys.readouterr().out
    assert reg.champion_version() == 1
    instance = instance_for(home)
    (run,) = instance.get_runs(filters=dg.RunsFilter(job_name="lending_rollback"))
    assert run.status == dg.DagsterRunStatus.SUCCESS
    for asset in ("champion", "deployment"):
        event = instance.get_latest_materialization_event(dg.AssetKey(["lending", asset]))
        assert event.run_id == run.run_id
        meta = event.asset_materialization.metadata
        assert meta["reason"].value == "v2 misprices" and meta["action"].value == "rollback"
        assert meta["operator"].value  # the user who ran it
    champion = json.loads((home.lake / "lending" / "champion" / "data.json").read_text())
    assert champion["version"] == 1 and champion["previous_version"] == 2
    # a refused rollback is a failed run, and a clear error
    assert main(["--home", str(home.home), "rollback"]) == 2
    assert "first champion: nothing to roll back to" in capsys.readouterr().err
    assert reg.champion_version() == 1


def test_the_training_set_for_a_day_holds_no_label_observed_after_it(home):
    as_of = "2025-01-31"  # day 30: outcomes up to here cover applications up to 2025-01-24
    assert train(home, training={"as_of": as_of}).success
    frame = pl.read_parquet(home.lake / "lending" / "training_set" / "data.parquet")
    assert str(frame["_label_day"].max()) == as_of
    assert str(frame["_day"].max()) == "2025-01-24"
    later = pl.concat(
        [
            pl.read_csv(p)
            for p in (home.home / "landing" / "lending_outcomes").glob("*.csv")
            if p.stem > as_of
        ]
    )
    assert frame.join(later, on="application_id").height == 0
    earlier = pl.concat(
        [
            pl.read_csv(p)
            for p in (home.home / "landing" / "lending_outcomes").glob("*.csv")
            if p.stem <= as_of
        ]
    )
    assert set(frame["application_id"]) <= set(earlier["application_id"])


def test_release_copies_a_gated_champion_through_test_to_prod(home, monkeypatch):
    from mlops_assets.config.spec import load_spec
    from mlops_assets.defs.release import release

    spec = load_spec(home.dataset_spec, home=home.home)
    profiles = home.home / "profiles.yaml"  # three environments on one tracking store
    store, artifacts = f"sqlite:///{home.home}/mlflow/mlflow.db", home.home / "mlflow" / "artifacts"
    profiles.write_text(
        "".join(
            f"{env}:\n  tracking_uri: {store}\n  artifact_location: {artifacts}\n"
            f"  registry_suffix: {env}\n"
            for env in ("dev", "test", "prod")
        )
    )
    monkeypatch.setenv("MLOPS_PROFILES", str(profiles))
    home = Settings.resolve(home=home.home)  # settings are resolved once: again, on these
    with pytest.raises(ValueError, match="lending-dev has no champion"):
        release(home, spec, "test")
    assert train(home).success
    assert release(home, spec, "test") == {
        "from": "lending-dev/1",
        "to": "lending-test/1",
        "copied": True,
    }
    assert release(home, spec, "test")["copied"] is False  # idempotent
    # `mlops release` is a Dagster run of the release job, with its reason
    assert main(["--home", str(home.home), "release", "--to", "prod", "--reason", "QA ok"]) == 0
    (run,) = instance_for(home).get_runs(filters=dg.RunsFilter(job_name="lending_release"))
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert run.run_config["ops"]["lending__release"]["config"]["reason"] == "QA ok"
    assert release(home, spec, "prod") == {
        "from": "lending-test/1",
        "to": "lending-prod/1",
        "copied": False,
    }
    client = registry(home).client()
    assert str(client.get_model_version_by_alias("lending-prod", "champion").version) == "1"

    # a champion whose gates did not all pass is never released
    assert not train(home, model={"estimator": "dummy"}).success
    client.set_registered_model_alias("lending-dev", "champion", "2")
    with pytest.raises(ValueError, match="v2 failed the gates: absolute_floor"):
        release(home, spec, "test")
    assert str(client.get_model_version_by_alias("lending-test", "champion").version) == "1"


def test_reproduce_retrains_a_run_to_byte_identical_scores_and_notices_a_changed_lake(
    trained, capsys
):
    # `mlops run` decided the training days after the model was trained on them: decisions made
    # after the outcomes landed, which must not censor the rebuilt training set
    home = trained
    run_id = report(home)["candidate"]["run_id"]
    assert main(["--home", str(home.home), "reproduce", run_id]) == 0
    out = capsys.readouterr().out
    assert out.startswith("REPRODUCED: lending-dev v1") and "byte-identical scores" in out
    assert "from the same lake partitions" in out
    # a features partition rewritten since: the fingerprint and the scores tell
    path = home.lake / "lending" / "features" / "2025-01-20.parquet"
    pl.read_parquet(path).with_columns(pl.col("credit_score") * 0.9).write_parquet(path)
    assert main(["--home", str(home.home), "reproduce", run_id, "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert not result["same_data"] and not result["identical_scores"]
    assert main(["--home", str(home.home), "reproduce", "no-such-run"]) == 2
    assert "MLflow run no-such-run" in capsys.readouterr().err
