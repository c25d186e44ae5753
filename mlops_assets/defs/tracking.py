"""The train job's MLflow run, carried by dagster-mlflow.

dagster-mlflow's `mlflow_tracking` resource opens one MLflow run per Dagster run (found again by
its `dagster_run_id` tag in every step) and its `end_mlflow_on_run_finished` hook closes it when
the job's last step succeeds, or marks it failed when a step fails. Both are wrapped here only so
that MLflow (~2 s to import) is imported when a run uses them, not when the code location
loads, and so that the experiment is created first with the profile's artifact location
(dagster-mlflow would create it with the server's default).
"""

from __future__ import annotations

import warnings

import dagster as dg

from mlops_assets.defs.registry import RegistryResource, experiment_id

TRACKING = "mlflow"  # the resource key dagster-mlflow's hook requires


@dg.resource(
    config_schema={
        "experiment_name": dg.Field(dg.StringSource),
        "mlflow_tracking_uri": dg.Field(dg.StringSource),
        "artifact_location": dg.Field(dg.Noneable(dg.StringSource), default_value=None),
        "dagster_url": dg.Field(dg.Noneable(str), default_value=None),
    },
    description="dagster-mlflow's `mlflow_tracking`: the MLflow run of this Dagster run.",
)
def mlflow_tracking(context: dg.InitResourceContext):
    if context.dagster_run is None:  # a sensor's or schedule's resources: no run to carry
        yield None
        return
    from dagster_mlflow import mlflow_tracking as dagster_mlflow_tracking
    from mlflow import MlflowClient

    config = context.resource_config
    client = MlflowClient(tracking_uri=config["mlflow_tracking_uri"])
    experiment_id(client, config["experiment_name"], config["artifact_location"])
    with warnings.catch_warnings():  # dagster-mlflow is marked beta: pinned, and tested here
        warnings.simplefilter("ignore", dg.BetaWarning)
        runs = dagster_mlflow_tracking.resource_fn(context)
        mlflow = next(runs)
    if config["dagster_url"]:
        url = f"{config['dagster_url'].rstrip('/')}/runs/{context.run_id}"
        mlflow.set_tag("dagster_run_url", url)
    yield mlflow
    yield from runs  # dagster-mlflow's clean-up: a failed step's run ends FAILED


def tracking_resource(settings, registry: RegistryResource) -> dg.ResourceDefinition:
    """The tracking resource of the code location's registry; the tracking URI stays a
    reference to its environment variable when the profile names one."""
    variable = settings.profile().tracking_uri_env
    return mlflow_tracking.configured(
        {
            "experiment_name": registry.experiment,
            "mlflow_tracking_uri": {"env": variable} if variable else registry.tracking_uri,
            "artifact_location": registry.artifact_location,
            "dagster_url": settings.dagster_url,
        }
    )


def end_mlflow_on_run_finished() -> dg.HookDefinition:
    """dagster-mlflow's hook of that name, imported when it first runs, except that a candidate
    refused by the model gates (a blocking check failed) ends its MLflow run FINISHED, tagged
    `refused_by_gates` by the check, rather than FAILED like a crash."""

    def end_run(context, event_list):
        from dagster_mlflow import end_mlflow_on_run_finished as hook

        if any(_refused_by_gates(event) for event in event_list):
            context.resources.mlflow.end_run()  # FINISHED
            return dg.HookExecutionResult(hook_name="end_mlflow_on_run_finished")
        return hook.hook_fn(context, event_list)

    return dg.HookDefinition(
        name="end_mlflow_on_run_finished", hook_fn=end_run, required_resource_keys={TRACKING}
    )


def _refused_by_gates(event) -> bool:
    """A step that failed because a blocking asset check failed (a refusal, not a crash)."""
    if not event.is_step_failure:
        return False
    error = event.step_failure_data.error
    return error is not None and error.cls_name == "DagsterAssetCheckFailedError"
