"""Alerts to a webhook: a failed run, and a failed blocking check or freshness check, each a
Slack-compatible message (`{"text": ...}`) posted to the URL in `MLOPS_ALERT_WEBHOOK`. Without
it the sensors skip, saying so. One pair of sensors watches every dataset of the location."""

from __future__ import annotations

import json
import os
import urllib.request

import dagster as dg

WEBHOOK_ENV = "MLOPS_ALERT_WEBHOOK"
FRESHNESS_CHECK = "freshness_check"  # the name Dagster gives a last-update freshness check


def post_alert(text: str) -> bool:
    """Post `text` to the webhook; False when none is configured. A webhook that refuses it
    raises (the sensor's tick fails, visible in the UI, and the next tick tries again)."""
    url = os.environ.get(WEBHOOK_ENV)
    if not url:
        return False
    request = urllib.request.Request(
        url,
        data=json.dumps({"text": text}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10):
        return True


def _run_url(run_id: str) -> str:
    base = os.environ.get("MLOPS_DAGSTER_URL", "http://127.0.0.1:3000").rstrip("/")
    return f"{base}/runs/{run_id}"


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    minimum_interval_seconds=10,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=f"Posts every failed run to the webhook in ${WEBHOOK_ENV}.",
)
def alert_on_run_failure(context: dg.RunFailureSensorContext):
    run = context.dagster_run
    reason = context.failure_event.message or "no message"
    text = f"Dagster run of {run.job_name} failed: {reason} ({_run_url(run.run_id)})"
    if not post_alert(text):
        return dg.SkipReason(f"{WEBHOOK_ENV} is not set: no alert sent")
    return None


def alerting(graph, key: dg.AssetCheckKey) -> bool:
    """Whether a check's failure is alerted: it blocks what follows, or it is a freshness check."""
    return key.name == FRESHNESS_CHECK or graph.get_check_spec(key).blocking


@dg.sensor(
    name="alert_on_failed_checks",
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=f"Posts every new failure of a blocking or freshness check to ${WEBHOOK_ENV}.",
)
def alert_on_failed_checks(context: dg.SensorEvaluationContext):
    """The latest evaluation of each alerting check; those after the cursor that failed are
    posted (on the first tick: every alerting check that is failing now)."""
    graph = context.repository_def.asset_graph
    keys = [key for key in graph.asset_check_keys if alerting(graph, key)]
    latest = context.instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    seen = int(context.cursor or 0)
    failed = [
        r
        for r in sorted(latest.values(), key=lambda r: r.id)
        if r.id > seen and r.evaluation is not None and not r.evaluation.passed
    ]
    for record in failed:
        key, evaluation = record.key, record.evaluation
        where = f" partition {record.partition}" if record.partition else ""
        text = (
            f"check {key.name} of {key.asset_key.to_user_string()}{where} failed "
            f"({evaluation.severity.value}): {evaluation.description or 'no description'} "
            f"({_run_url(record.run_id)})"
        )
        if not post_alert(text):
            return dg.SkipReason(f"{WEBHOOK_ENV} is not set: {len(failed)} failures not sent")
    context.update_cursor(str(max((r.id for r in latest.values()), default=seen)))
    return dg.SkipReason(f"{len(failed)} failed checks alerted" if failed else "no new failures")
