"""Replay landed history day by day through the platform's own jobs and sensors (accelerated).

For scenario tests and benchmarks: each landed day runs the daily chain, as the landing sensor
would have it run (ingest, decide, drift, KPIs, outcomes, performance); the first champion is
trained on `train_day`, with the training set as of that day; every day after it (or every
`step` days), the drift and performance sensors are evaluated through Dagster's sensor API and
the train job they request is run (training set -> candidate -> backtest -> gates -> champion
-> deployment). Returns what happened, for the caller to judge.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import dagster as dg

from mlops_assets.commands.execution import execute, instance_for
from mlops_assets.config.settings import Settings
from mlops_assets.defs.jobs import daily_assets, daily_job_name, train_job_name
from mlops_assets.defs.partitions import landed_days
from mlops_assets.defs.platform import build_definitions


def replay(
    settings: Settings,
    train_day: str,
    last_day: str,
    step: int = 1,
    progress: Callable[[str], None] = lambda _: None,
    land: Callable[[str], None] | None = None,
    first_day: str | None = None,
    history: dict | None = None,
    until: Callable[[dict], bool] | None = None,
    schedules: bool = False,
) -> dict:
    """Run the daily chain for each landed day up to `last_day`, train the first champion on
    `train_day`, and every `step` days after it (1: daily, as the daemon would) evaluate the
    retrain sensors; with `schedules`, also run the weekly retrain on its ticks after it (as
    of the day before each tick).

    `land`: called with each day from the spec's `start_date` before the day runs, to land its
    files then (a business that reacts to the platform's decisions, as the simulator's); None:
    every file is landed already. `first_day` and `history`: resume a replay whose days before
    `first_day` ran already on this home, with what happened in them (a fork of a scenario).
    `until`: stop after the first checkpoint at which it holds on the history so far."""
    spec = settings.spec
    defs, instance = build_definitions(settings), instance_for(settings)
    registry = defs.resources["registries"].of(spec)
    if land is None and (
        train_day not in landed_days(spec.landing, spec.format) or train_day > last_day
    ):
        raise ValueError(f"the training day {train_day} has no landing file up to {last_day}")
    history = history or {"checkpoints": [], "retrains": [], "sensor_seconds": 0.0}
    for day in _days(spec, last_day, land):
        if first_day is not None and day < first_day:
            continue
        if land is not None:
            land(day)
        applications = landed_days(spec.landing, spec.format)
        outcomes = landed_days(spec.outcomes, spec.format) if spec.delayed_labels else {}
        if day not in applications and day not in outcomes:
            continue
        assets = daily_assets(spec, day in applications, day in outcomes)
        execute(defs, instance, daily_job_name(spec), day, assets)
        if day == train_day:
            if not _train(defs, instance, spec, train_day, tags={}, run_config={}).success:
                raise RuntimeError(f"the first model as of {train_day} was not promoted")
            history["first_champion"] = registry.champion_version()
        offset = (dt.date.fromisoformat(day) - dt.date.fromisoformat(train_day)).days
        if schedules and offset > 0:
            _weekly_retrain(defs, instance, spec, dt.date.fromisoformat(day), history, progress)
        if offset > 0 and (offset % step == 0 or day == last_day):
            history["checkpoints"].append(
                _sensors(defs, instance, spec, dt.date.fromisoformat(day), history, progress)
            )
            if until is not None and until(history):
                break
    history["last_champion"] = registry.champion_version()
    return history


def _days(spec, last_day: str, land) -> list[str]:
    """The days to replay: every landed one up to `last_day`, or, when the replay lands them,
    each day from the spec's `start_date`."""
    if land is None:
        applications = landed_days(spec.landing, spec.format)
        outcomes = landed_days(spec.outcomes, spec.format) if spec.delayed_labels else {}
        return sorted(d for d in {*applications, *outcomes} if d <= last_day)
    if spec.start_date is None:
        raise ValueError(f"dataset {spec.name!r}: a replay that lands days needs start_date")
    count = (dt.date.fromisoformat(last_day) - spec.start_date).days + 1
    return [str(spec.start_date + dt.timedelta(days=i)) for i in range(count)]


def _sensors(defs, instance, spec, day: dt.date, history: dict, progress) -> dict:
    """Evaluate the retrain sensors as the daemon would, and run the train job they request."""
    registry = defs.resources["registries"].of(spec)
    checkpoint = {"day": day.isoformat(), "champion": registry.champion_version()}
    for sensor_name in (f"{spec.name}_drift_sensor", f"{spec.name}_performance_sensor"):
        if sensor_name not in {s.name for s in defs.sensors}:
            continue
        sensor = defs.resolve_sensor_def(sensor_name)
        started = time.perf_counter()
        with dg.build_sensor_context(
            instance=instance, resources=defs.resources, definitions=defs
        ) as context:  # a context manager: some resources are generators (MLflow tracking)
            result = sensor.evaluate_tick(context)
        history["sensor_seconds"] += time.perf_counter() - started
        checkpoint[sensor_name] = result.skip_message if not result.run_requests else "requested"
        for request in result.run_requests or []:
            as_of = day.isoformat()
            outcome = _train(defs, instance, spec, as_of, request.tags, request.run_config)
            retrain = _retrain(day, request.tags, outcome, registry)
            history["retrains"].append(retrain)
            progress(
                f"{day}: {retrain['trigger']} retrain -> champion v{retrain['champion']}"
                f" ({'promoted' if outcome.success else 'not promoted'})"
            )
    progress(f"{day}: champion v{registry.champion_version()}")
    return checkpoint


def tick_on(schedule: dg.ScheduleDefinition, day: dt.date) -> dt.datetime | None:
    """The schedule's first tick on `day` (in its execution timezone), or None."""
    from zoneinfo import ZoneInfo

    from dagster._utils.schedules import cron_string_iterator  # no public API lists the ticks

    zone = schedule.execution_timezone or "UTC"
    midnight = dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(zone))
    tick = next(cron_string_iterator(midnight.timestamp(), schedule.cron_schedule, zone))
    return tick if tick.date() == day else None


def _weekly_retrain(defs, instance, spec, day: dt.date, history: dict, progress) -> None:
    """Run the weekly retrain schedule's request if it ticks on the day after `day`, as the
    daemon would then: with what landed up to `day` (the tick comes before that day's files)."""
    schedule = defs.resolve_schedule_def(f"{spec.name}_weekly_retrain")
    tick = tick_on(schedule, day + dt.timedelta(days=1))
    if tick is None:
        return
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=tick) as context:
        requests = schedule.evaluate_tick(context).run_requests or []
    registry = defs.resources["registries"].of(spec)
    for request in requests:
        tags = {**schedule.tags, **request.tags}
        outcome = _train(defs, instance, spec, day.isoformat(), tags, request.run_config)
        retrain = _retrain(day, tags, outcome, registry)
        history["retrains"].append(retrain)
        progress(
            f"{day}: weekly retrain -> champion v{retrain['champion']}"
            f" ({'promoted' if outcome.success else 'not promoted'})"
        )


def _retrain(day: dt.date, tags: dict, outcome, registry) -> dict:
    """What a retrain run (its `tags`) did: promoted or not, and the reasons of the gates that
    refused it."""
    return {
        "day": day.isoformat(),
        "trigger": tags["mlops/trigger"],
        "reason": tags.get("mlops/reason", "weekly retrain"),
        "promoted": outcome.success,
        "champion": registry.champion_version(),
        "refused_by": {
            e.check_name: e.metadata["reason"].value
            for e in outcome.get_asset_check_evaluations()
            if not e.passed and "reason" in e.metadata
        },
    }


def _train(defs, instance, spec, as_of: str, tags: dict, run_config: dict):
    """The train job as the daemon would run it, with the training set as of `as_of`."""
    ops = {
        **run_config.get("ops", {}),
        f"{spec.name}__training_set": {"config": {"as_of": as_of}},
    }
    return execute(
        defs, instance, train_job_name(spec), tags=tags, run_config={**run_config, "ops": ops}
    )
