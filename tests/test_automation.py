"""Declarative automation: `pipeline_health` is requested once per tick of
`monitoring.health_cron`, evaluated by Dagster's own automation-condition engine on the
platform's definitions (what the dataset's automation sensor runs under the daemon)."""

import datetime as dt
from pathlib import Path

import dagster as dg

from mlops_assets.config.settings import Settings
from mlops_assets.defs.platform import build_definitions

HEALTH = dg.AssetKey(["lending", "pipeline_health"])


def requested(result) -> int:
    return result.get_num_requested(HEALTH)


def test_pipeline_health_is_requested_once_per_cron_tick(tmp_path):
    defs = build_definitions(Settings.resolve(home=tmp_path))  # every 15 minutes by default
    instance = dg.DagsterInstance.ephemeral()
    start = dt.datetime(2026, 1, 5, 9, 1, tzinfo=dt.UTC)
    cursor, counts = None, []
    for minutes in (0, 5, 16, 20, 31):
        result = dg.evaluate_automation_conditions(
            defs=defs,
            instance=instance,
            cursor=cursor,
            evaluation_time=start + dt.timedelta(minutes=minutes),
        )
        cursor = result.cursor
        counts.append(requested(result))
    assert counts == [0, 0, 1, 0, 1]  # ticks at 9:15 and 9:30, each requested once


def test_monitoring_follows_a_parent_materialized_on_its_own(tmp_path):
    """A day's `decisions` re-materialized outside the daily job (a UI backfill) brings the
    latest day's `kpis` up to date: the condition is Dagster's `eager`."""
    defs = build_definitions(Settings.resolve(home=tmp_path))
    kpis, decisions = (dg.AssetKey(["lending", name]) for name in ("kpis", "decisions"))
    now = dt.datetime(2026, 1, 5, 9, 1, tzinfo=dt.UTC)
    day = defs.resolve_assets_def(kpis).partitions_def.get_partition_keys(current_time=now)[-1]
    instance = dg.DagsterInstance.ephemeral()
    quiet = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=now)
    instance.report_runless_asset_event(dg.AssetMaterialization(decisions, partition=day))
    after = dg.evaluate_automation_conditions(
        defs=defs,
        instance=instance,
        cursor=quiet.cursor,
        evaluation_time=now + dt.timedelta(minutes=1),
    )
    assert quiet.get_num_requested(kpis) == 0
    assert after.get_requested_partitions(kpis) == {day}


def test_a_dataset_whose_labels_do_not_lag_automates_the_monitoring_it_has(tmp_path):
    spec = Path(__file__).parent / "data" / "anes96" / "anes96.yaml"  # outcomes with the rows
    defs = build_definitions(Settings.resolve(home=tmp_path, dataset=str(spec)))
    sensor = defs.resolve_sensor_def("anes96_automation_sensor")
    targeted = sensor.asset_selection.resolve(defs.resolve_asset_graph())
    assert {key.path[-1] for key in targeted} == {"pipeline_health", "drift_report", "kpis"}


def test_a_replay_runs_the_weekly_retrain_on_its_ticks_only(tmp_path):
    """`commands.replay` with `schedules` runs the weekly retrain on the days its cron ticks,
    as the daemon would (Mondays 03:00 UTC by default)."""
    from mlops_assets.commands.replay import tick_on

    defs = build_definitions(Settings.resolve(home=tmp_path))
    weekly = defs.resolve_schedule_def("lending_weekly_retrain")
    week = [dt.date(2025, 2, 17) + dt.timedelta(days=d) for d in range(7)]  # Monday first
    ticks = {day: tick_on(weekly, day) for day in week}
    assert ticks[week[0]] == dt.datetime(2025, 2, 17, 3, tzinfo=dt.UTC)
    assert all(ticks[day] is None for day in week[1:])
