"""Headless runs: materialize every landed day through Dagster on the home folder's instance."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable

import dagster as dg

from mlops_assets.definitions import build_definitions
from mlops_assets.jobs import (
    decide_job_name,
    drift_job_name,
    ingest_job_name,
    outcomes_job_name,
    performance_job_name,
    score_job_name,
    train_job_name,
)
from mlops_assets.partitions import ingestible_days, landed_days
from mlops_assets.resources import DatasetResource
from mlops_assets.settings import Settings
from mlops_assets.spec import DatasetSpec, SpecError, load_spec

# The event log keeps every event; the console shows only warnings (progress lines say the rest).
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def instance_for(settings: Settings) -> dg.DagsterInstance:
    """The Dagster instance (SQLite by default) under the home folder."""
    return dg.DagsterInstance.from_config(str(settings.prepare_dagster_home()))


def cancel_queued_runs(instance: dg.DagsterInstance) -> int:
    """Cancel runs still queued from an earlier session; the caller redoes their days."""
    queued = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED]))
    for run in queued:
        instance.report_run_canceled(run, message="cancelled by `mlops up` on restart")
    return len(queued)


def run_pipeline(
    settings: Settings,
    only_new: bool = False,
    progress: Callable[[str], None] = lambda _: None,
    train: bool = True,
) -> dict:
    """Materialize every landed day (or, with `only_new`, the days not yet materialized).

    Days run in date order, one Dagster run per day and job, in this process (so Great
    Expectations is imported once); then, with `train`, the train job runs once. Returns a
    JSON-ready summary.
    """
    started = time.perf_counter()
    spec = load_spec(settings.dataset_spec, home=settings.home)
    days = landed_days(spec.landing, spec.format)
    if not days:
        raise SpecError(
            f"dataset {spec.name!r}: landing folder {spec.landing} has no "
            f"YYYY-MM-DD.{spec.format} files"
        )
    defs = build_definitions(settings)
    instance = instance_for(settings)
    jobs = [("raw", ingest_job_name(spec), days)]
    if spec.delayed_labels:
        jobs.append(
            ("raw_outcomes", outcomes_job_name(spec), landed_days(spec.outcomes, spec.format))
        )
    summary = {"dataset": spec.name, "home": str(settings.home), "landed_days": len(days)}
    for asset, job_name, files in jobs:
        job = defs.resolve_job_def(job_name)
        done = (
            instance.get_materialized_partitions(dg.AssetKey([spec.name, asset]))
            if only_new
            else set()
        )
        todo = [d for d in ingestible_days(spec, files) if d not in done]
        summary[asset] = _run_days(job, instance, todo, progress)
    if train:
        summary["model"] = _train(defs, instance, spec, settings, progress)
        if "deployment" in summary["model"]:
            summary["decisions"] = _decide(defs, instance, spec, progress)
        if instance.get_latest_materialization_event(dg.AssetKey([spec.name, "decisions"])):
            summary["monitoring"] = _monitor(defs, instance, spec, progress)
        else:
            summary["monitoring"] = _drift_before_champion(defs, instance, spec)
    summary["runtime_seconds"] = round(time.perf_counter() - started, 2)
    return summary


def _train(defs, instance, spec: DatasetSpec, settings: Settings, progress) -> dict:
    """Run the train job once: training set -> candidate -> backtest (gates) -> champion."""
    progress(f"{train_job_name(spec)}: training, backtesting and gating a candidate...")
    result = defs.resolve_job_def(train_job_name(spec)).execute_in_process(
        instance=instance, run_config=QUIET, raise_on_error=False
    )
    model: dict = {"run_id": result.run_id, "success": result.success}
    dataset = DatasetResource(spec_path=str(settings.dataset_spec), home=str(settings.home))
    materialized = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    if "backtest" in materialized:
        report = dataset.document("backtest")
        model["candidate"] = {
            "name": report["candidate"]["model_name"],
            "version": report["candidate"]["version"],
            "backtest": report["overall"]["candidate"],
            "decision": report["decision"],
        }
        model["gates"] = report["gates"]
        comparison = report["comparison"] or {}
        model["compared_with_champion"] = {
            "version": report["champion_version"],
            **{k: v for k, v in comparison.items() if k not in ("fairness", "segments")},
        }
    if "champion" in materialized:
        champion = dataset.document("champion")
        model["champion"] = {
            "name": champion["model_name"],
            "version": champion["version"],
            "promoted": champion["version"] == model["candidate"]["version"],
            "previous_version": champion["previous_version"],
            "challenger_version": champion["challenger_version"],
        }
    if "deployment" in materialized:
        deployment = dataset.document("deployment")
        model["deployment"] = {
            k: deployment.get(k) for k in ("target", "served", "endpoint", "swap_seconds")
        }
    elif not result.success:
        failed = {g: v["reason"] for g, v in model.get("gates", {}).items() if not v["passed"]}
        model["not_promoted"] = (
            "gates failed: " + "; ".join(f"{g} ({r})" for g, r in failed.items())
            if failed
            else _failure(result)[0]
        )
    progress(
        f"{train_job_name(spec)}: "
        + (
            f"champion is now v{model['champion']['version']}"
            if "champion" in model
            else f"no promotion — {model.get('not_promoted', 'failed')}"
        )
    )
    return model


def _decide(defs, instance, spec: DatasetSpec, progress) -> dict:
    """Batch decisions for every day with a raw partition, in one run, by the deployed models."""
    days = sorted(instance.get_materialized_partitions(dg.AssetKey([spec.name, "raw"])))
    if not days:
        return {"days": 0}
    progress(f"{decide_job_name(spec)}: deciding {len(days)} days ({days[0]}..{days[-1]})")
    result = defs.resolve_job_def(decide_job_name(spec)).execute_in_process(
        instance=instance,
        run_config=QUIET,
        raise_on_error=False,
        tags={
            "dagster/asset_partition_range_start": days[0],
            "dagster/asset_partition_range_end": days[-1],
        },
    )
    if not result.success:
        return {"days": 0, "failed": _failure(result)[0]}
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    return {
        "days": len(days),
        "rows": metadata["dagster/row_count"].value,
        "control_rows": metadata["control_rows"].value,
        f"{spec.decision.action}_rate": metadata[f"{spec.decision.action}_rate"].value,
    }


def _monitor(defs, instance, spec: DatasetSpec, progress) -> dict:
    """Drift report of the latest decided day and realized performance of the latest
    `monitoring.trailing_days` days whose labels landed."""
    decided = sorted(instance.get_materialized_partitions(dg.AssetKey([spec.name, "decisions"])))
    out: dict = {}
    latest = decided[-1]
    result = _run_one(defs, instance, score_job_name(spec), latest)
    if result is not None:
        out["drift"] = {"day": latest, **_metadata(result, "drift_report", "summary")}
        kpis = _metadata(result, "kpis")
        out["kpis"] = {
            "day": latest,
            **{
                k: kpis[k]
                for k in (
                    "applications",
                    "approval_rate",
                    "portfolio_size",
                    "expected_value_per_application",
                )
                if k in kpis
            },
        }
    if spec.delayed_labels:
        labelled = sorted(
            instance.get_materialized_partitions(dg.AssetKey([spec.name, "raw_outcomes"]))
        )
        delay = dt.timedelta(days=spec.target.delay_days)
        ready = [
            d for d in decided if (dt.date.fromisoformat(d) + delay).isoformat() in set(labelled)
        ][-spec.monitoring.trailing_days :]
        performance = None
        for day in ready:
            performance = _run_one(defs, instance, performance_job_name(spec), day) or performance
        if performance is not None:
            meta = _metadata(performance, "performance")
            out["performance"] = {
                "day": ready[-1],
                **{
                    k: meta[k]
                    for k in (
                        "roc_auc",
                        "roc_auc_control",
                        "roc_auc_approved",
                        "feedback_gap_auc",
                        "ece",
                        "realized_value",
                        "trailing_roc_auc",
                        "trailing_rows",
                    )
                },
            }
    health = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance,
        asset_selection=[dg.AssetKey([spec.name, "pipeline_health"])],
        run_config=QUIET,
        raise_on_error=False,
    )
    if health.success:
        meta = _metadata(health, "pipeline_health")
        out["pipeline"] = {k: meta[k] for k in ("runs", "failures", "days_ingested")}
    progress(
        "monitoring: "
        + (f"drift {out['drift']['severity']} on {latest}" if "drift" in out else "no drift report")
        + (
            f"; trailing AUC {out['performance']['trailing_roc_auc']}"
            if "performance" in out
            else ""
        )
    )
    return out


def _drift_before_champion(defs, instance, spec: DatasetSpec) -> dict:
    """Without a champion, the latest ingested day's drift against the trailing accepted days."""
    ingested = sorted(instance.get_materialized_partitions(dg.AssetKey([spec.name, "raw"])))
    if not ingested:
        return {}
    result = _run_one(defs, instance, drift_job_name(spec), ingested[-1])
    if result is None:
        return {}
    return {"drift": {"day": ingested[-1], **_metadata(result, "drift_report", "summary")}}


def _run_one(defs, instance, job_name: str, day: str):
    result = defs.resolve_job_def(job_name).execute_in_process(
        partition_key=day, instance=instance, run_config=QUIET, raise_on_error=False
    )
    return result if result.success else None


def _metadata(result, asset: str, key: str | None = None):
    """Metadata (or one entry of it) of an asset materialized by `result`."""
    event = next(
        e
        for e in result.get_asset_materialization_events()
        if e.materialization.asset_key.path[-1] == asset
    )
    meta = {k: v.value for k, v in event.materialization.metadata.items()}
    return meta[key] if key else meta


def _run_days(job, instance, days: list[str], progress) -> dict:
    outcome: dict = {"materialized": 0, "quarantined": {}, "blocked": {}, "failed": {}}
    checks: Counter = Counter()
    for i, day in enumerate(days, 1):
        result = job.execute_in_process(
            partition_key=day, instance=instance, run_config=QUIET, raise_on_error=False
        )
        failed_checks = []
        for evaluation in result.get_asset_check_evaluations():
            name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            checks[(name, "passed" if evaluation.passed else "failed")] += 1
            if not evaluation.passed:
                reason = evaluation.metadata.get("reason")
                failed_checks.append(f"{name} ({reason.value if reason else 'failed'})")
        status = "ok"
        if result.success:
            outcome["materialized"] += 1
        else:
            failure, metadata = _failure(result)
            if "quarantined_to" in metadata:
                outcome["quarantined"][day] = failure
                status = "quarantined"
            elif failed_checks:
                outcome["blocked"][day] = failed_checks
                status = "blocked"
            else:
                outcome["failed"][day] = failure
                status = "failed"
        warn = [c for c in failed_checks if status == "ok"]
        progress(
            f"[{i}/{len(days)}] {job.name} {day}: {status}"
            + (f" — {outcome[status][day]}" if status not in ("ok", "blocked") else "")
            + (f" — blocked by {'; '.join(failed_checks)}" if status == "blocked" else "")
            + (f" — warnings: {'; '.join(warn)}" if warn else "")
        )
    outcome["checks"] = _check_table(checks)
    return outcome


def _failure(result) -> tuple[str, dict]:
    """The first step failure of a run: its description and the metadata of a `dg.Failure`."""
    for event in result.all_events:
        if event.is_step_failure:
            data = event.step_failure_data
            if data.user_failure_data and data.user_failure_data.description:
                return data.user_failure_data.description, dict(data.user_failure_data.metadata)
            error = data.error
            while error and error.cause:
                error = error.cause
            return (error.message.strip().splitlines()[0] if error else "step failed"), {}
    return "run failed", {}


def _check_table(counts: Counter) -> dict:
    table: dict = {}
    for (name, verdict), n in sorted(counts.items()):
        table.setdefault(name, {"passed": 0, "failed": 0})[verdict] = n
    return table
