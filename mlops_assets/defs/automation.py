"""Declarative automation: what the automation sensor keeps up to date by itself.

The daily job materializes a day's monitoring assets with the day; their condition covers what
a run of the job does not: a parent re-materialized on its own (a `decisions` backfill from the
UI, a late outcomes file) updates the monitoring of the latest day. `pipeline_health` refreshes
on its cron (`defs/assets/health.py`). The landing, drift and performance sensors stay sensors:
they read files and statistics that no condition can.
"""

import dagster as dg

from mlops_assets.config.spec import DatasetSpec
from mlops_assets.defs.jobs import daily_assets

MONITORING = ("drift_report", "kpis", "performance", "impact")


def monitoring_automation(spec: DatasetSpec) -> dg.AutomationCondition:
    """Eager after its parents (latest day only, none running or missing) once their blocking
    checks passed (a day held back by a failed check stays held back); a new deployment alone
    does not redo a day's drift report."""
    condition = dg.AutomationCondition.eager() & (
        dg.AutomationCondition.all_deps_blocking_checks_passed()
    )
    return condition.ignore(dg.AssetSelection.assets([spec.name, "deployment"]))


def build_automation_sensor(spec: DatasetSpec) -> dg.AutomationConditionSensorDefinition:
    """The sensor that evaluates the dataset's automation conditions (on by default)."""
    monitoring = daily_assets(spec, only=MONITORING)  # performance, impact: labels that lag
    return dg.AutomationConditionSensorDefinition(
        f"{spec.name}_automation_sensor",
        target=dg.AssetSelection.assets(dg.AssetKey([spec.name, "pipeline_health"]), *monitoring),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=30,
    )
