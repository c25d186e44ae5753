"""Running the platform's jobs in this process, on the home folder's instance, as the daemon
would launch them: results, step failures and their reasons."""

from __future__ import annotations

import dagster as dg

from mlops_assets.config.settings import Settings
from mlops_assets.defs.platform import build_definitions

# The event log keeps every event; the console shows only warnings (progress lines say the rest).
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def instance_for(settings: Settings) -> dg.DagsterInstance:
    """The Dagster instance (SQLite by default) under the home folder."""
    return dg.DagsterInstance.from_config(str(settings.prepare_dagster_home()))


def cancel_queued_runs(instance: dg.DagsterInstance) -> int:
    """Cancel runs still queued from an earlier session; the caller redoes their days."""
    queued = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED]))
    for run in queued:
        instance.report_run_canceled(run, message="cancelled by `mlops up` on restart")
    return len(queued)


def execute(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    job_name: str,
    partition: str | None = None,
    assets: list[dg.AssetKey] | None = None,
    tags: dict | None = None,
    run_config: dict | None = None,
) -> dg.ExecuteInProcessResult:
    """One run of a job (the part of it in `assets`), in this process, as the daemon would
    launch it; failures are in the result, not raised, except Ctrl-C (which Dagster records as
    an interrupted step): that stops the caller."""
    result = defs.resolve_job_def(job_name).execute_in_process(
        instance=instance,
        partition_key=partition,
        asset_selection=assets,
        run_config={**QUIET, **(run_config or {})},
        tags=tags or {},
        raise_on_error=False,
    )
    if not result.success and any(
        e.is_step_failure
        and e.step_failure_data.error
        and e.step_failure_data.error.cls_name == "DagsterExecutionInterruptedError"
        for e in result.all_events
    ):
        raise KeyboardInterrupt
    return result


def operate(settings: Settings, job: str, run_config: dict) -> dg.ExecuteInProcessResult:
    """Run an operator job (rollback, promote, release) and wait; a refused action raises a
    ValueError with the reason, after the run recorded it."""
    defs, instance = build_definitions(settings), instance_for(settings)
    result = execute(defs, instance, job, run_config=run_config)
    if not result.success:
        raise ValueError(f"{job} failed (run {result.run_id}): {first_failure(result)[0]}")
    return result


def step_failures(result) -> dict[str, tuple[str, dict]]:
    """Each failed asset step's asset name, with the failure's description and `dg.Failure`
    metadata (a failed check step shows in the check evaluations instead)."""
    failures = {}
    for event in result.all_events:
        if event.is_step_failure and "__" in event.step_key:  # asset steps: <dataset>__<asset>
            failures[event.step_key.split("__")[-1]] = _describe(event.step_failure_data)
    return failures


def _describe(data) -> tuple[str, dict]:
    if data.user_failure_data and data.user_failure_data.description:
        return data.user_failure_data.description, dict(data.user_failure_data.metadata)
    error = data.error
    while error and error.cause:
        error = error.cause
    return (error.message.strip().splitlines()[0] if error else "step failed"), {}


def first_failure(result) -> tuple[str, dict]:
    """The first step failure of a run: its description and the metadata of a `dg.Failure`."""
    failures = step_failures(result)
    return next(iter(failures.values())) if failures else ("run failed", {})
