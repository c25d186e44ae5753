"""Headless runs: the daily chain for every landed day, then training, through Dagster on the
home folder's instance."""

from __future__ import annotations

import time
from collections.abc import Callable

import dagster as dg

from mlops_assets.commands.days import run_days
from mlops_assets.commands.execution import QUIET, execute, first_failure, instance_for
from mlops_assets.compute.gates import failed_gates, failed_gates_reason
from mlops_assets.config.settings import Settings
from mlops_assets.config.spec import DatasetSpec, SpecError
from mlops_assets.defs.assets.performance import labelled
from mlops_assets.defs.jobs import daily_assets, daily_job_name, train_job_name
from mlops_assets.defs.partitions import ingestible_days, landed_days
from mlops_assets.defs.platform import build_definitions


def run_pipeline(
    settings: Settings,
    only_new: bool = False,
    progress: Callable[[str], None] = lambda _: None,
    train: bool = True,
) -> dict:
    """Run the daily chain for every landed day (or, with `only_new`, the files not yet
    ingested), one Dagster run per day in date order, in this process (so Great Expectations is
    imported once); then, with `train`, the train job once, and the monitoring a new champion
    needs. Returns a JSON-ready summary."""
    started = time.perf_counter()
    spec = settings.spec
    days = landed_days(spec.landing, spec.format)
    if not days:
        raise SpecError(
            f"dataset {spec.name!r}: landing folder {spec.landing} has no "
            f"YYYY-MM-DD.{spec.format} files"
        )
    defs = build_definitions(settings)
    instance = instance_for(settings)
    landed = {"raw": ingestible_days(spec, days)}
    if spec.delayed_labels:
        landed["raw_outcomes"] = ingestible_days(spec, landed_days(spec.outcomes, spec.format))
    if only_new:
        for asset, files in landed.items():
            done = instance.get_materialized_partitions(dg.AssetKey([spec.name, asset]))
            landed[asset] = {d: p for d, p in files.items() if d not in done}
    summary = {"dataset": spec.name, "home": str(settings.home), "landed_days": len(days)}
    summary.update(run_days(defs, instance, spec, landed, progress))
    if train:
        summary["model"] = train_and_report(defs, instance, spec, settings, progress)
        if "deployment" in summary["model"]:
            summary["decisions"] = _decide(defs, instance, spec, progress)
        if instance.get_latest_materialization_event(dg.AssetKey([spec.name, "decisions"])):
            summary["monitoring"] = _monitor(defs, instance, spec, progress)
        else:
            summary["monitoring"] = _drift_before_champion(instance, spec)
    summary["runtime_seconds"] = round(time.perf_counter() - started, 2)
    return summary


def train_and_report(
    defs, instance, spec: DatasetSpec, settings: Settings, progress, run_config=None
) -> dict:
    """Run the train job once: training set -> candidate -> backtest (gates) -> champion."""
    progress(f"{train_job_name(spec)}: training, backtesting and gating a candidate...")
    result = execute(defs, instance, train_job_name(spec), run_config=run_config)
    model: dict = {"run_id": result.run_id, "success": result.success}
    dataset = settings.dataset()
    materialized = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    if "backtest" in materialized:
        report = dataset.document("backtest")
        model["candidate"] = {
            "name": report["candidate"]["model_name"],
            "version": report["candidate"]["version"],
            "estimator": report["candidate"].get("fitted", {}).get("estimator"),
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
        failed = failed_gates(model.get("gates", {}))
        model["not_promoted"] = failed_gates_reason(failed) if failed else first_failure(result)[0]
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
    """Batch decisions for every day with a raw partition, in one run over the range, by the
    deployed models (the daily chain's `decisions`, which decides nothing before a champion and
    keeps the rows a day has logged already)."""
    days = sorted(instance.get_materialized_partitions(dg.AssetKey([spec.name, "raw"])))
    if not days:
        return {"days": 0}
    progress(f"{daily_job_name(spec)}: deciding {len(days)} days ({days[0]}..{days[-1]})")
    result = execute(
        defs,
        instance,
        daily_job_name(spec),
        assets=daily_assets(spec, only=("decisions",)),
        tags={
            "dagster/asset_partition_range_start": days[0],
            "dagster/asset_partition_range_end": days[-1],
        },
    )
    if not result.success:
        return {"days": 0, "failed": first_failure(result)[0]}
    metadata = _metadata(result, "decisions")
    return {
        "days": len(days),
        "rows": metadata["dagster/row_count"],
        "control_rows": metadata["control_rows"],
        f"{spec.decision.action}_rate": metadata[f"{spec.decision.action}_rate"],
    }


def _monitor(defs, instance, spec: DatasetSpec, progress) -> dict:
    """After a promotion: the latest decided day's drift report against the new champion and
    its KPIs (of the decisions logged for it), and the realized performance of the latest
    `monitoring.trailing_days` outcome days whose decisions exist."""
    decided = sorted(instance.get_materialized_partitions(dg.AssetKey([spec.name, "decisions"])))
    latest = decided[-1]
    daily = daily_job_name(spec)
    out: dict = {}
    result = execute(
        defs, instance, daily, latest, daily_assets(spec, only=("drift_report", "kpis"))
    )
    if result.success:
        out["drift"] = {"day": latest, **_metadata(result, "drift_report", "summary")}
        kpis = _metadata(result, "kpis")
        keep = ("applications", "approval_rate", "portfolio_size", "expected_value_per_application")
        out["kpis"] = {"day": latest, **{k: kpis[k] for k in keep if k in kpis}}
    if spec.delayed_labels:
        outcome_days = sorted(
            instance.get_materialized_partitions(dg.AssetKey([spec.name, "raw_outcomes"]))
        )
        decided_days = set(decided)
        ready = [d for d in outcome_days if labelled(d, spec.target.delay_days) in decided_days]
        performance = None
        for day in ready[-spec.monitoring.trailing_days :]:
            assets = daily_assets(spec, only=("performance", "impact"))
            result = execute(defs, instance, daily, day, assets)
            performance = result if result.success else performance
        if performance is not None and _materialized(performance, "impact"):
            out["impact"] = _impact(performance)
            meta = _metadata(performance, "performance")
            keep = (
                "decided_on",
                "roc_auc",
                "roc_auc_control",
                "roc_auc_approved",
                "feedback_gap_auc",
                "ece",
                "realized_value",
                "trailing_roc_auc",
                "trailing_rows",
                "calibration_cusum",
            )
            out["performance"] = {"day": ready[-1], **{k: meta[k] for k in keep}}
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


def _impact(result) -> dict:
    """The realized impact (policy vs control) up to the run's day, for the summary."""
    meta = _metadata(result, "impact")
    keep = (
        "uplift_per_application",
        "policy_value_per_application",
        "control_value_per_application",
        "policy_approval_rate",
        "control_approval_rate",
        "cumulative_days",
        "targets",
    )
    return {"decided_on": meta["decided_on"], **{k: meta[k] for k in keep if k in meta}}


def _drift_before_champion(instance, spec: DatasetSpec) -> dict:
    """Without a champion: the latest drift report, against the trailing accepted days (the
    daily chain wrote it with the day)."""
    event = instance.get_latest_materialization_event(dg.AssetKey([spec.name, "drift_report"]))
    if event is None:
        return {}
    meta = event.asset_materialization.metadata
    return {"drift": {"day": event.asset_materialization.partition, **meta["summary"].value}}


def _materialized(result, asset: str) -> bool:
    return any(
        e.materialization.asset_key.path[-1] == asset
        for e in result.get_asset_materialization_events()
    )


def _metadata(result, asset: str, key: str | None = None):
    """Metadata (or one entry of it) of an asset materialized by `result`."""
    event = next(
        e
        for e in result.get_asset_materialization_events()
        if e.materialization.asset_key.path[-1] == asset
    )
    meta = {k: v.value for k, v in event.materialization.metadata.items()}
    return meta[key] if key else meta
