"""Replay landed history day by day through the platform's own jobs and sensors (accelerated).

For scenario tests and benchmarks: the first champion is trained as of `train_day`; then, on a
simulated clock, every `step` days the platform decides the new days (batch decisions), writes
the drift report, measures the realized performance the landed labels allow, and evaluates the
drift and performance sensors through Dagster's sensor API. A run request they make is executed
(the train job: training set -> candidate -> backtest -> gates -> champion -> deployment) with
the training set as of that day. Returns what happened, for the caller to judge.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import dagster as dg

from mlops_assets.definitions import build_definitions
from mlops_assets.jobs import decide_job_name, drift_job_name, performance_job_name, train_job_name
from mlops_assets.registry import registry_for
from mlops_assets.runner import QUIET, instance_for
from mlops_assets.settings import Settings
from mlops_assets.spec import load_spec


def replay(
    settings: Settings,
    train_day: str,
    last_day: str,
    step: int = 3,
    progress: Callable[[str], None] = lambda _: None,
) -> dict:
    spec = load_spec(settings.dataset_spec, home=settings.home)
    defs, instance = build_definitions(settings), instance_for(settings)
    registry = registry_for(settings, spec)
    first = _train(defs, instance, spec, train_day, tags={}, run_config={})
    if not first.success:
        raise RuntimeError(f"the first model as of {train_day} was not promoted")
    history: dict = {
        "first_champion": registry.champion_version(),
        "checkpoints": [],
        "retrains": [],
    }
    delay = dt.timedelta(days=spec.target.delay_days)
    start = dt.date.fromisoformat(train_day) + dt.timedelta(days=1)
    end = dt.date.fromisoformat(last_day)
    decided_until = start - dt.timedelta(days=1)
    day = start
    while day <= end:
        day = min(day + dt.timedelta(days=step - 1), end)
        _run(
            defs,
            instance,
            decide_job_name(spec),
            tags={
                "dagster/asset_partition_range_start": (
                    decided_until + dt.timedelta(days=1)
                ).isoformat(),
                "dagster/asset_partition_range_end": day.isoformat(),
            },
        )
        decided_until = day
        _run(defs, instance, drift_job_name(spec), partition=day.isoformat())
        labelled = day - delay
        if spec.delayed_labels and labelled >= start:
            _run(defs, instance, performance_job_name(spec), partition=labelled.isoformat())
        checkpoint = {"day": day.isoformat(), "champion": registry.champion_version()}
        for sensor_name in (f"{spec.name}_drift_sensor", f"{spec.name}_performance_sensor"):
            if sensor_name not in {s.name for s in defs.sensors}:
                continue
            sensor = defs.resolve_sensor_def(sensor_name)
            context = dg.build_sensor_context(
                instance=instance, resources=defs.resources, definitions=defs
            )
            result = sensor.evaluate_tick(context)
            checkpoint[sensor_name] = (
                result.skip_message if not result.run_requests else "requested"
            )
            for request in result.run_requests or []:
                outcome = _train(
                    defs, instance, spec, day.isoformat(), request.tags, request.run_config
                )
                retrain = {
                    "day": day.isoformat(),
                    "trigger": request.tags["mlops/trigger"],
                    "reason": request.tags.get("mlops/reason"),
                    "promoted": outcome.success,
                    "champion": registry.champion_version(),
                }
                history["retrains"].append(retrain)
                progress(
                    f"{day}: {retrain['trigger']} retrain -> champion v{retrain['champion']}"
                    f" ({'promoted' if outcome.success else 'not promoted'})"
                )
        history["checkpoints"].append(checkpoint)
        progress(f"{day}: champion v{checkpoint['champion']}")
        day += dt.timedelta(days=1)
    history["last_champion"] = registry.champion_version()
    return history


def _train(defs, instance, spec, as_of: str, tags: dict, run_config: dict):
    """The train job as the daemon would run it, with the training set as of `as_of`."""
    ops = {
        **run_config.get("ops", {}),
        f"{spec.name}__training_set": {"config": {"as_of": as_of}},
    }
    return defs.resolve_job_def(train_job_name(spec)).execute_in_process(
        instance=instance,
        run_config={**QUIET, **run_config, "ops": ops},
        tags=tags,
        raise_on_error=False,
    )


def _run(defs, instance, job: str, partition: str | None = None, tags: dict | None = None):
    return defs.resolve_job_def(job).execute_in_process(
        instance=instance,
        partition_key=partition,
        run_config=QUIET,
        tags=tags or {},
        raise_on_error=False,
    )
