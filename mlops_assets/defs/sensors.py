"""Sensors and schedules: new landing files become runs (each file version once); drift and
performance signals, or the weekly schedule, retrain the model under guardrails."""

import datetime as dt
import json

import dagster as dg

from mlops_assets.config.spec import DatasetSpec, Monitoring
from mlops_assets.defs.assets.ingestion import fingerprint
from mlops_assets.defs.assets.performance import labelled
from mlops_assets.defs.jobs import daily_assets
from mlops_assets.defs.partitions import landed_days
from mlops_assets.defs.registry import RegistriesResource
from mlops_assets.defs.resources import DatasetResource, DatasetsResource
from mlops_assets.defs.signals import drift_signal, performance_signal


def build_landing_sensor(
    spec: DatasetSpec, partitions: dg.DailyPartitionsDefinition, daily_job
) -> dg.SensorDefinition:
    """Request one run of the daily chain per day with new or changed landing files.

    The run covers the part of the chain that what landed starts (applications, outcomes, or
    both). The cursor remembers the fingerprint (size, mtime) of every file already requested;
    run keys carry it too, so a file version is never ingested twice. On its first tick the
    sensor adopts days already materialized (by `mlops run`, say) instead of requesting them
    again.
    """
    sources = [("raw", spec.landing)]
    if spec.delayed_labels:
        sources.append(("raw_outcomes", spec.outcomes))
    first_day = partitions.start.date()

    @dg.sensor(
        name=f"{spec.name}_landing_sensor",
        job=daily_job,
        minimum_interval_seconds=5,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Watches {spec.landing} (and outcomes) for YYYY-MM-DD.{spec.format} files; "
        "one run of the daily chain per landed day.",
    )
    def landing_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        cursor = json.loads(context.cursor) if context.cursor else {}
        today = dt.datetime.now(dt.UTC).date()
        landed: dict[str, dict[str, str]] = {}  # day -> asset -> file version
        skipped = []
        for asset, folder in sources:
            seen = cursor.setdefault(asset, {})
            adopt = (
                set()
                if seen
                else context.instance.get_materialized_partitions(dg.AssetKey([spec.name, asset]))
            )
            for day, path in landed_days(folder, spec.format).items():
                version = fingerprint(path)
                if seen.get(day) == version:
                    continue
                if not first_day <= dt.date.fromisoformat(day) < today:
                    skipped.append(path.name)  # today's file: again once the day is over
                    continue
                seen[day] = version
                if day in adopt:
                    continue
                landed.setdefault(day, {})[asset] = version
        if skipped:
            context.log.warning(
                f"outside the partition range {first_day}..yesterday, "
                f"not ingested: {', '.join(skipped[:10])}"
            )
        requests = [
            dg.RunRequest(
                run_key=f"{day}:" + ",".join(f"{a}={v}" for a, v in sorted(files.items())),
                partition_key=day,
                asset_selection=daily_assets(
                    spec, applications="raw" in files, outcomes="raw_outcomes" in files
                ),
                tags={"mlops/landed": ",".join(sorted(files))},
            )
            for day, files in sorted(landed.items())
        ]
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor, sort_keys=True))

    return landing_sensor


def retrain_guard(
    day: dt.date, earlier: list[dt.date], new_labels: int, monitoring: Monitoring
) -> str | None:
    """Why a retrain signal of business day `day` must not start a run, or None if it may.

    `earlier`: signal days of the retrains already requested; `new_labels`: labelled rows that
    landed after the champion's training window.
    """
    recent = [d for d in earlier if d <= day]
    if recent and (day - max(recent)).days < monitoring.cooldown_days:
        return f"cooldown: retrained for {max(recent)}, {monitoring.cooldown_days} days apart"
    week = [d for d in recent if (day - d).days < 7]
    if len(week) >= monitoring.max_retrains_per_week:
        return f"{len(week)} retrains in the last 7 days (max {monitoring.max_retrains_per_week})"
    if new_labels < monitoring.min_new_labels:
        return f"only {new_labels} new labelled rows since the champion's window " + (
            f"(min {monitoring.min_new_labels})"
        )
    return None


def signal_retrain_config(spec: DatasetSpec) -> dict:
    """Run config of a drift- or performance-driven retrain: recency-weighted training, and a
    backtest on the latest labelled days (`monitoring.retrain_*`) against the deployed champion
    as it is, promoted when not worse (non-inferiority on newer data, as the weekly retrain):
    the signal is a test at a stated false-alarm rate that the champion is off, so the question
    is whether the fresh model is at least as good, not better by a margin in ranking (a
    concept drift mostly moves calibration and value, which the other gates read)."""
    m = spec.monitoring
    return {
        "ops": {
            f"{spec.name}__candidate_model": {
                "config": {"recency_half_life_days": m.retrain_half_life_days}
            },
            f"{spec.name}__backtest": {
                "config": {
                    "folds": m.retrain_folds,
                    "fold_days": m.retrain_fold_days,
                    "compare_with": "deployed",
                    "promote_if": "not_worse",
                }
            },
        }
    }


def build_retrain_sensors(spec: DatasetSpec, train_job) -> list[dg.SensorDefinition]:
    """A drift sensor and a performance sensor that request the train job.

    They read what the monitoring assets recorded (materialization metadata in the instance; a
    failed check fires no run-failure sensor), and every request passes `retrain_guard`. Run keys
    name the signal and its day, so one signal triggers one run. The gates still decide.
    """
    monitoring = spec.monitoring

    @dg.sensor(
        name=f"{spec.name}_drift_sensor",
        job=train_job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Retrains when the latest drift report's pooled window (the last "
        f"{monitoring.drift_pool_days} days newer than the champion's training data) shows major "
        f"drift in {monitoring.drift_columns}+ features, or a domain classifier AUC over its "
        f"size-aware threshold (at least {monitoring.domain_auc}); guarded by cooldown, new "
        "labels and a weekly cap.",
    )
    def drift_sensor(context, registries: RegistriesResource, datasets: DatasetsResource):
        dataset, registry = datasets.of(spec), registries.of(spec)
        return _evaluate(
            spec, train_job, context, "drift", "drift_report", drift_signal, registry, dataset
        )

    sensors = [drift_sensor]
    if spec.delayed_labels:

        @dg.sensor(
            name=f"{spec.name}_performance_sensor",
            job=train_job,
            minimum_interval_seconds=30,
            default_status=dg.DefaultSensorStatus.RUNNING,
            description="Retrains when the calibration CUSUM of the observed rows alarms "
            f"(odds off by {monitoring.calibration_ratio}x either way, at least "
            f"{monitoring.cusum_arl_days:g} days between false alarms), or the trailing "
            "realized ROC AUC's whole 99% interval lies more than "
            f"{monitoring.auc_drop} below the AUC expected on the same rows from the calibrated "
            "scores; same guardrails.",
        )
        def performance_sensor(context, registries: RegistriesResource, datasets: DatasetsResource):
            dataset, registry = datasets.of(spec), registries.of(spec)
            return _evaluate(
                spec,
                train_job,
                context,
                "performance",
                "performance",
                performance_signal,
                registry,
                dataset,
            )

        sensors.append(performance_sensor)
    return sensors


def _evaluate(
    spec: DatasetSpec, train_job, context, kind: str, asset: str, fired, registry, dataset
):
    """A retrain request from the latest materialization of `asset`, if it signals and the
    guardrails allow one; else the reason to skip."""
    event = context.instance.get_latest_materialization_event(dg.AssetKey([spec.name, asset]))
    if event is None or event.asset_materialization.partition is None:
        return dg.SkipReason(f"no {asset} yet")
    day = event.asset_materialization.partition
    champion = registry.champion_version()
    window_end = registry.training_window_end(champion) if champion else None
    decided_on = labelled(day, spec.target.delay_days) if kind == "performance" else day
    if kind == "performance" and window_end and decided_on <= str(window_end):
        return dg.SkipReason(
            f"{asset} {day} evaluates decisions of {decided_on}, inside the champion's "
            "training window"
        )
    meta = {k: v.value for k, v in event.asset_materialization.metadata.items()}
    reason = fired(meta, spec.monitoring)
    if reason is None:
        return dg.SkipReason(f"{asset} {day}: no {kind} signal")
    earlier = [
        dt.date.fromisoformat(r.tags["mlops/signal_day"])
        for r in context.instance.get_runs(
            filters=dg.RunsFilter(job_name=train_job.name, tags={"mlops/automated": "true"})
        )
    ]
    new_labels = _labels_since(dataset, window_end)
    blocked = retrain_guard(dt.date.fromisoformat(day), earlier, new_labels, spec.monitoring)
    if blocked:
        return dg.SkipReason(f"{kind} signal on {day} ({reason}) held back: {blocked}")
    context.log.info(f"{kind} signal on {day}: {reason}; requesting {train_job.name}")
    return dg.RunRequest(
        run_key=f"{kind}:{day}",
        run_config=signal_retrain_config(spec),
        tags={
            "mlops/automated": "true",
            "mlops/trigger": kind,
            "mlops/signal_day": day,
            "mlops/reason": reason[:200],
        },
    )


def build_weekly_retrain(spec: DatasetSpec, train_job) -> dg.ScheduleDefinition:
    """Regular retraining, whatever the signals say: the same recipe on newer data, promoted when
    it is not worse than the deployed champion (`weekly_retrain_config`); the other gates are
    unchanged."""
    return dg.ScheduleDefinition(
        name=f"{spec.name}_weekly_retrain",
        job=train_job,
        cron_schedule=spec.monitoring.weekly_retrain,
        run_config=weekly_retrain_config(spec),
        tags={"mlops/trigger": "schedule"},
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Regular retrain: training set -> candidate -> backtest against the deployed "
        "champion on the folds trained on data at least as new as its own -> gates "
        "(non-inferiority within "
        f"{spec.gates.non_inferiority_margin} AUC on newer data; calibration, fairness and "
        "segment gates unchanged).",
    )


def weekly_retrain_config(spec: DatasetSpec) -> dict:
    """Run config of the weekly retrain: an unchanged recipe refitted on the champion's own folds
    would tie it exactly ([0, 0]) and never pass a superiority gate, so slow drift under the
    alarms would never be corrected. The candidate is compared with the deployed champion as it
    is, on the backtest folds trained on data at least as new as its own, and promoted when not
    worse."""
    return {
        "ops": {
            f"{spec.name}__backtest": {
                "config": {"compare_with": "deployed", "promote_if": "not_worse"}
            }
        }
    }


def _labels_since(dataset: DatasetResource, window_end: dt.date | None) -> int:
    """Labelled rows whose outcomes landed after the champion's training window; with selective
    labels, only outcomes the logged decisions left observable."""
    import polars as pl

    from mlops_assets.compute.selective import observable

    spec = dataset.spec
    asset = "raw_outcomes" if spec.delayed_labels else "raw"
    days = [d for d in dataset.partitions(asset) if window_end is None or d > str(window_end)]
    rows = dataset.scan(asset, days)
    if spec.decision.selective_labels:
        decisions = dataset.scan("decisions", dataset.partitions("decisions"))
        rows = observable(rows, decisions, spec, spec.id_column)
    return rows.select(pl.len()).collect().item()
