"""Monitoring assets on a trained home: the drift report and realized performance."""

import json

import dagster as dg
import polars as pl
import pytest

from mlops_assets.commands.execution import execute, instance_for
from mlops_assets.defs.platform import build_definitions

pytestmark = pytest.mark.slow


def run(settings, assets: tuple[str, ...], day: str):
    """The daily chain's `assets` for `day`, as the landing sensor would run them."""
    return execute(
        build_definitions(settings),
        instance_for(settings),
        "lending_daily",
        day,
        [dg.AssetKey(["lending", a]) for a in assets],
    )


def metadata(result, asset: str) -> dict:
    event = next(
        e
        for e in result.get_asset_materialization_events()
        if e.materialization.asset_key.path[-1] == asset
    )
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_drift_report_of_an_undrifted_day_is_quiet_and_reports_everything(trained_home):
    result = run(trained_home, ("drift_report",), "2025-02-14")
    assert result.success
    meta = metadata(result, "drift_report")
    assert meta["severity"] in ("none", "moderate") and meta["retrain_signal"] is False
    assert 0.4 < meta["domain_auc"] < 0.65 < meta["domain_auc_threshold"]
    summary = meta["summary"]  # every number of the rule, in the metadata (and `run --json`)
    assert summary["alpha_per_test"] == pytest.approx(0.01 / summary["tests"])
    assert "pooled last 3 days" in summary["rule"] and summary["signal_today"] is False
    # the retrain signal's window: the last 3 days newer than the champion's training data
    assert summary["pooled_days"] == ["2025-02-12", "2025-02-13", "2025-02-14"]
    assert 2.5 * summary["rows"] < summary["pooled_rows"] < 3.5 * summary["rows"]
    assert summary["pooled_signal"] is False and meta["pooled_signal"] is False
    assert summary["pooled_domain_auc"] < summary["pooled_domain_auc_threshold"]
    assert summary["rows"] > 300 and summary["reference_rows"] > 10 * summary["rows"]
    assert 0.6 < meta["expected_roc_auc"] < 0.9  # CBPE from the calibrated scores
    table = pl.read_parquet(trained_home.lake / "lending" / "drift_report" / "2025-02-14.parquet")
    assert {"income", "region", "__score__"} <= set(table["column"])
    numeric = table.filter(pl.col("kind") == "numeric").height
    categorical = table.filter(pl.col("kind") == "categorical").height
    # numeric: shape, location, nulls; categorical: shape, nulls, unseen; the domain classifier
    assert summary["tests"] == 3 * numeric + 3 * categorical + 1
    check = result.get_asset_check_evaluations()[0]
    assert check.check_name == "no_major_drift"
    assert (trained_home.home / "reports" / "lending" / "drift" / "2025-02-14.html").exists()
    assert list((trained_home.lake / "lending" / "drift_reference").glob("v1.npz"))


def test_performance_of_a_labelled_day_separates_control_and_approved(trained_home):
    result = run(trained_home, ("performance",), "2025-02-14")  # labels decisions of 02-07
    assert result.success
    meta = metadata(result, "performance")
    assert 0.55 < meta["roc_auc"] < 0.95 and meta["decided_on"] == "2025-02-07"
    rows = pl.read_parquet(trained_home.lake / "lending" / "performance" / "2025-02-14.parquet")
    decisions = pl.read_parquet(trained_home.lake / "lending" / "decisions" / "2025-02-07.parquet")
    declined = decisions.filter(~pl.col("control") & (pl.col("decision") == "decline"))
    # a declined application has no observable outcome
    assert not set(rows["id"]) & set(declined["id"])
    assert rows["control"].any() and (~rows["control"]).any()
    assert json.loads(json.dumps(meta["performance"]))["control"]["rows"] == rows["control"].sum()


def sensor(settings, name: str):
    defs = build_definitions(settings)
    return defs.resolve_sensor_def(name), defs


def evaluate(settings, name: str):
    definition, defs = sensor(settings, name)
    with dg.build_sensor_context(
        instance=instance_for(settings), resources=defs.resources, definitions=defs
    ) as context:
        return list(definition.evaluate_tick(context).run_requests or []), definition


def test_no_drift_and_no_performance_drop_request_no_retrain(trained_home):
    for name in ("lending_drift_sensor", "lending_performance_sensor"):
        requests, _ = evaluate(trained_home, name)
        assert requests == [], name


def test_a_drift_signal_requests_one_retrain_with_a_run_key(trained_home):
    instance = instance_for(trained_home)
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            dg.AssetKey(["lending", "drift_report"]),
            partition="2025-02-14",
            metadata={
                "retrain_signal": True,
                "domain_auc": 0.81,
                "summary": dg.MetadataValue.json(
                    {
                        "pooled_days": ["2025-02-12", "2025-02-13", "2025-02-14"],
                        "pooled_major_drift_columns": ["income", "region"],
                        "pooled_domain_auc": 0.81,
                    }
                ),
            },
        )
    )
    requests, definition = evaluate(trained_home, "lending_drift_sensor")
    assert [r.run_key for r in requests] == ["drift:2025-02-14"]
    assert requests[0].tags["mlops/trigger"] == "drift"
    reason = requests[0].tags["mlops/reason"]
    assert reason.startswith("over 2025-02-12, 2025-02-13, 2025-02-14: major drift in income")
    assert definition.job_name == "lending_train"


def test_kpis_of_a_day_and_the_run_summary_and_status_report_monitoring(trained_home):
    result = run(trained_home, ("decisions", "drift_report", "kpis"), "2025-02-14")
    assert result.success
    kpis = metadata(result, "kpis")
    decisions = pl.read_parquet(trained_home.lake / "lending" / "decisions" / "2025-02-14.parquet")
    assert kpis["applications"] == decisions.height
    approved = (decisions["decision"] == "approve").sum()
    assert kpis["approval_rate"] == round(approved / decisions.height, 4)
    assert kpis["portfolio_size"] > approved  # earlier days' approvals count too
    arms = kpis["policy_vs_control_expected"]
    assert arms["control"]["approval_rate"] == 1.0  # the control group always gets the default
    assert arms["policy"]["approval_rate"] < 1.0

    from mlops_assets.commands.status import collect_status, format_status

    status = collect_status(trained_home)
    assert status["drift"]["partition"] == "2025-02-14"
    assert status["performance"]["trailing_roc_auc"] > 0.55
    assert status["serving"]["answering"] is False  # no endpoint runs in this module
    assert status["serving"]["recorded"]["served"] is False
    assert "no endpoint answering at http://127.0.0.1:1" in format_status(status)
    assert "drift" in format_status(status)
    # the realized impact of the decided days whose outcomes landed (mlops run measured them)
    impact = status["impact"]
    assert impact["control_approval_rate"] == 1.0
    uplift = impact["uplift_per_application"]
    assert uplift["low"] <= uplift["estimate"] <= uplift["high"]
    assert "policy - control" in format_status(status)


def test_pipeline_health_reads_runs_and_volumes_from_the_instance(trained_home):
    defs = build_definitions(trained_home)
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance_for(trained_home),
        asset_selection=[dg.AssetKey(["lending", "pipeline_health"])],
        raise_on_error=False,
    )
    assert result.success
    meta = metadata(result, "pipeline_health")
    assert meta["days_ingested"] == 45 and meta["runs"] > 45
    jobs = pl.read_parquet(trained_home.lake / "lending" / "pipeline_health" / "data.parquet")
    assert {"lending_daily", "lending_train"} <= set(jobs["job"])


def test_drift_is_monitored_from_the_first_landed_day_before_any_champion(tmp_path):
    from mlops_assets.commands.runner import run_pipeline
    from mlops_assets.config.settings import Settings
    from tests.conftest import land

    settings = Settings.resolve(home=tmp_path / "home")
    land(settings, range(12), rows=300)
    summary = run_pipeline(settings)  # too few labelled days: no model, so no champion
    assert "champion" not in summary["model"]
    drift = summary["monitoring"]["drift"]
    assert drift["day"] == "2025-01-12" and drift["champion_version"] is None
    assert drift["reference"] == "the 11 accepted days before 2025-01-12 (no champion yet)"
    assert drift["retrain_signal"] is False and drift["tests"] > 0
    first = run(settings, ("drift_report",), "2025-01-01")
    assert first.success  # the first day has a report, saying what it lacks
    assert "no reference yet" in metadata(first, "drift_report")["summary"]["note"]


def test_the_event_log_holds_typed_tables_and_links_never_inline_images(trained_home):
    """Figures live in MLflow or beside the reports and are linked; tables are Dagster tables.
    Before: the drift report's inline PSI plot made each of its events 48 KB."""
    from dagster._serdes import serialize_value

    instance, heaviest = instance_for(trained_home), {}
    for key in instance.get_asset_keys():
        for record in instance.fetch_materializations(key, limit=1000).records:
            event = serialize_value(record.event_log_entry)
            assert "data:image" not in event, key
            name = key.to_user_string()
            heaviest[name] = max(heaviest.get(name, 0), len(event))
    assert {"lending/drift_report", "lending/backtest", "lending/features"} <= set(heaviest)
    assert max(heaviest.values()) < 9_600, heaviest  # at least 5x under 48 KB
    backtest = instance.fetch_materializations(dg.AssetKey(["lending", "backtest"]), limit=1)
    meta = backtest.records[0].asset_materialization.metadata
    gates = meta["gates"]
    assert [c.name for c in gates.schema.columns] == ["gate", "verdict", "reason"]
    assert {r.data["gate"] for r in gates.records} >= {"absolute_floor", "calibration"}
    assert meta["reliability"].value.endswith("/artifactPath/backtest/reliability.png")
    drift = instance.fetch_materializations(dg.AssetKey(["lending", "drift_report"]), limit=1)
    table = drift.records[0].asset_materialization.metadata["drift"]
    assert {"column", "psi", "severity"} <= {c.name for c in table.schema.columns}


def test_a_backfill_of_decisions_over_a_range_of_days_is_one_run(trained_home):
    """`decisions` declares `BackfillPolicy.single_run()`: a UI backfill of a range of days is
    one run that loads the champion once; the lake still gets one file per day."""
    defs, instance = build_definitions(trained_home), instance_for(trained_home)
    key = dg.AssetKey(["lending", "decisions"])
    assert defs.resolve_assets_def(key).backfill_policy == dg.BackfillPolicy.single_run()
    days = [f"2025-02-{d:02d}" for d in range(10, 15)]
    for day in days:  # undecided, so that the run decides them (a logged day is kept as it is)
        (trained_home.lake / "lending" / "decisions" / f"{day}.parquet").unlink()
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance,
        asset_selection=[key],
        tags={
            "dagster/asset_partition_range_start": days[0],
            "dagster/asset_partition_range_end": days[-1],
        },
        raise_on_error=False,
    )
    assert result.success
    events = result.get_asset_materialization_events()
    assert sorted(e.materialization.partition for e in events) == days
    assert metadata(result, "decisions")["decided_now"] > 1500  # five days of ~400
    for day in days:
        decided = pl.read_parquet(trained_home.lake / "lending" / "decisions" / f"{day}.parquet")
        assert decided.height > 300 and decided["_day"].cast(pl.String).unique().to_list() == [day]


def test_re_deciding_a_day_keeps_its_logged_decisions_and_decides_only_new_ones(trained_home):
    """A logged decision is what happened (it made the outcome observable or not): a day
    materialized again keeps its logged rows as they are and decides only the applications no
    log holds. Here the log lost its last 50 rows and one logged decision was flipped."""
    path = trained_home.lake / "lending" / "decisions" / "2025-02-01.parquet"
    first = pl.read_parquet(path)
    flip = (
        pl.when(pl.col("decision") == "decline")
        .then(pl.lit("approve"))
        .otherwise(pl.lit("decline"))
    )
    edited = first.head(-50).with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(flip).otherwise("decision").alias("decision")
    )
    edited.write_parquet(path)
    result = run(trained_home, ("decisions",), "2025-02-01")
    assert result.success
    again = pl.read_parquet(path)
    assert again["id"].to_list() == first["id"].to_list()
    assert again["decision"][0] != first["decision"][0]  # kept as logged, not decided again
    columns = ["id", "score", "decision", "control", "model_version"]
    assert again.tail(50).select(columns).equals(first.tail(50).select(columns))
    assert metadata(result, "decisions")["decided_now"] == 50
    first.write_parquet(path)  # the module's home as it was
