"""Declarative automation: `pipeline_health` is requested once per tick of
`monitoring.health_cron`, evaluated by Dagster's own automation-condition engine on the
platform's definitions (what the dataset's automation sensor runs under the daemon)."""

import datetime as dt

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
