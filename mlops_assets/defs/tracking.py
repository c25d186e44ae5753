"""The train job's MLflow run, carried by dagster-mlflow.

dagster-mlflow's `mlflow_tracking` resource opens one MLflow run per Dagster run (found again by
its `dagster_run_id` tag in every step) and its `end_mlflow_on_run_finished` hook closes it when
the job's last step succeeds, or marks it failed when a step fails. Both are wrapped here only so
that MLflow (~2 s to import) is imported when a run uses them, not when the code location
loads, so that the experiment is created first with the profile's artifact location
(dagster-mlflow would create it with the server's default), and so that one resource serves
every dataset: the run's experiment is its dataset's (the job's `DATASET_TAG`, else the dataset
of the assets it materializes).
"""

from __future__ import annotations

import warnings

import dagster as dg

from mlops_assets.defs.registry import RegistriesResource, experiment_id, experiment_name

TRACKING = "mlflow"  # the resource key dagster-mlflow's hook requires
DATASET_TAG = "mlops/dataset"  # on the jobs that track an MLflow run: whose experiment


@dg.resource(
    config_schema={
        "profile": dg.Field(str),
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

    config = dict(context.resource_config)
    config["experiment_name"] = experiment_name(_dataset_of(context.dagster_run), config["profile"])
    client = MlflowClient(tracking_uri=config["mlflow_tracking_uri"])
    experiment_id(client, config["experiment_name"], config["artifact_location"])
    with warnings.catch_warnings():  # dagster-mlflow is marked beta: pinned, and tested here
        warnings.simplefilter("ignore", dg.BetaWarning)
        runs = dagster_mlflow_tracking.resource_fn(_WithConfig(context, config))
        mlflow = next(runs)
    if config["dagster_url"]:
        url = f"{config['dagster_url'].rstrip('/')}/runs/{context.run_id}"
        mlflow.set_tag("dagster_run_url", url)
    yield mlflow
    yield from runs  # dagster-mlflow's clean-up: a failed step's run ends FAILED


class _WithConfig:
    """`context` as dagster-mlflow reads it, with the run's experiment in its config."""

    def __init__(self, context: dg.InitResourceContext, config: dict):
        self.log, self.dagster_run, self.run_id = context.log, context.dagster_run, context.run_id
        self.resource_config = config


def _dataset_of(run) -> str:
    """The dataset whose experiment a run tracks into."""
    if DATASET_TAG in run.tags:
        return run.tags[DATASET_TAG]
    datasets = {key.path[0] for key in run.asset_selection or ()}
    if len(datasets) != 1:
        raise dg.Failure(f"run {run.run_id} tracks to MLflow but is not one dataset's run")
    return datasets.pop()


def tracking_resource(settings, registries: RegistriesResource) -> dg.ResourceDefinition:
    """The tracking resource of the code location's registries; the tracking URI stays a
    reference to its environment variable when the profile names one."""
    variable = settings.profile().tracking_uri_env
    return mlflow_tracking.configured(
        {
            "profile": registries.profile,
            "mlflow_tracking_uri": {"env": variable} if variable else registries.tracking_uri,
            "artifact_location": registries.artifact_location,
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
