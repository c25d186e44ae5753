"""Freshness: raw data and decisions updated within `monitoring.freshness_hours`, the champion
within `monitoring.champion_max_days` (Dagster's last-update freshness checks, warnings shown on
each asset), evaluated by a sensor of their own; a failure is alerted (`defs/alerts.py`).

Dagster 1.12 marks these checks superseded by `FreshnessPolicy`, which open-source Dagster
evaluates only as a preview behind a dagster.yaml flag, and whose state is not an asset check
that a sensor can read and alert on; the checks are, so they stay (their warning silenced)."""

import datetime as dt
import warnings

import dagster as dg

from mlops_assets.config.spec import DatasetSpec


def build_freshness_checks(spec: DatasetSpec) -> list[dg.AssetChecksDefinition]:
    monitoring = spec.monitoring
    daily = [dg.AssetKey([spec.name, asset]) for asset in ("raw", "decisions")]
    champion = dg.AssetKey([spec.name, "champion"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        return [
            *dg.build_last_update_freshness_checks(
                assets=daily, lower_bound_delta=dt.timedelta(hours=monitoring.freshness_hours)
            ),
            *dg.build_last_update_freshness_checks(
                assets=[champion],
                lower_bound_delta=dt.timedelta(days=monitoring.champion_max_days),
            ),
        ]


def build_freshness_sensor(spec: DatasetSpec, checks: list) -> dg.SensorDefinition:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        return dg.build_sensor_for_freshness_checks(
            freshness_checks=checks,
            name=f"{spec.name}_freshness_sensor",
            minimum_interval_seconds=60,
            default_status=dg.DefaultSensorStatus.RUNNING,
        )
