"""A code location for `test_alerts.py`: the platform's two alert sensors, an asset whose
blocking check fails, and a sensor that asks for one run of it (so that the daemon launches it,
as it launches the platform's runs)."""

import dagster as dg

from mlops_assets.defs.alerts import alert_on_failed_checks, alert_on_run_failure


@dg.asset(check_specs=[dg.AssetCheckSpec("positive", asset="numbers", blocking=True)])
def numbers():
    yield dg.Output([-1, 2])
    yield dg.AssetCheckResult(check_name="positive", passed=False, description="-1 is not")


numbers_job = dg.define_asset_job("numbers_job", selection=[numbers])


@dg.sensor(
    job=numbers_job, minimum_interval_seconds=5, default_status=dg.DefaultSensorStatus.RUNNING
)
def run_numbers_once(context: dg.SensorEvaluationContext):
    if context.cursor:
        return dg.SkipReason("ran once")
    context.update_cursor("requested")
    return dg.RunRequest(run_key="once")


defs = dg.Definitions(
    assets=[numbers],
    jobs=[numbers_job],
    sensors=[run_numbers_once, alert_on_run_failure, alert_on_failed_checks],
)
