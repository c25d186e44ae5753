"""The endpoint as a Ray Serve application builder with typed arguments.

`deploy/serve.yaml` names `serving.builder:app_builder`; `serve run deploy/serve.yaml`, `serve
deploy deploy/serve.yaml` and a KubeRay RayService (`serveConfigV2`) call it with the file's `args`,
which Serve validates as `ServeArgs`. It resolves the dataset spec, the registry of the profile,
the target (the alias `champion`, plus `challenger` in a canary or shadow rollout) and the
champion's input schema, starts the `ServingControl` actor, and returns the application.
`mlops serve` (`serving.launcher.start`) builds through the same `resolve` and `application`.

The builder runs where Serve builds applications (a task on the cluster), so unset arguments
come from that process's environment: `MLOPS_HOME`, `MLOPS_DATASET`, `MLOPS_ENV`.
"""

# No `from __future__ import annotations`: Serve reads `app_builder`'s annotation as a class.
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator
from ray import serve

from serving.rollout import RolloutTarget, ServingError, desired_target

APP_PREFIX = "mlops"
CHAMPION = "champion"


class ServeArgs(BaseModel):
    """The `args` of the application in a Serve config file; every one is optional."""

    model_config = ConfigDict(extra="forbid")

    dataset_spec: str | None = None  # default: $MLOPS_DATASET, else the built-in lending spec
    home: str | None = None  # default: $MLOPS_HOME, else ./.mlops
    profile: str | None = None  # dev | test | prod; default: $MLOPS_ENV, else dev
    tracking_uri: str | None = None  # default: the profile's; never one with a password
    tracking_uri_env: str | None = None  # the NAME of a variable holding the tracking URI
    alias: str = CHAMPION  # the registry alias to serve; rollouts apply to `champion` only
    replicas: int | None = Field(None, ge=1)  # overrides of the spec's `serving:` section
    max_replicas: int | None = Field(None, ge=1)
    max_replicas_per_node: int | None = Field(None, ge=1)
    replica_cpus: float = Field(1.0, gt=0)

    @field_validator("tracking_uri")
    @classmethod
    def _no_password(cls, uri: str | None) -> str | None:
        if uri and urlsplit(uri).password:
            raise ValueError(
                "holds a password: put the URI in an environment variable and name it in "
                "tracking_uri_env instead (Serve logs the args and the config file is shared)"
            )
        return uri


@dataclass(frozen=True)
class Resolved:
    """What the application is built from: its plain-dict config and the target it serves."""

    config: dict
    target: RolloutTarget
    model_name: str


def app_builder(args: ServeArgs) -> serve.Application:
    """The endpoint's application, for Serve config files (`import_path`)."""
    return application(resolve(args))


def application(resolved: Resolved) -> serve.Application:
    """Start the control actor with the target, then bind the app (needs a Ray connection)."""
    from serving.app import build_app
    from serving.control import start_control

    start_control(resolved.config["app_name"], resolved.target)
    return build_app(resolved.config)


def resolve(args: ServeArgs) -> Resolved:
    """Spec, registry, target and input schema; reads MLflow, starts nothing."""
    from mlops_assets.config.settings import Settings
    from mlops_assets.defs.registry import RegistryResource, registry_for

    uri = tracking_uri(args)
    settings = Settings.resolve(home=args.home, dataset=args.dataset_spec)
    spec = settings.spec
    registry = registry_for(settings, spec, env=args.profile)
    if uri:
        registry = RegistryResource(
            tracking_uri=uri,
            model_name=registry.model_name,
            experiment=registry.experiment,
            artifact_location=registry.artifact_location,
        )
    target = target_for(registry, spec.serving, args.alias)
    config = app_config(settings, spec, registry, target, args.replica_cpus)
    overrides = {
        "replicas": args.replicas,
        "max_replicas": args.max_replicas,
        "max_replicas_per_node": args.max_replicas_per_node,
    }
    config.update({k: v for k, v in overrides.items() if v is not None})
    return Resolved(config, target, registry.model_name)


def tracking_uri(args: ServeArgs) -> str | None:
    """The URI the args give (literally or by variable name), else None: the profile's."""
    if args.tracking_uri_env:
        uri = os.environ.get(args.tracking_uri_env)
        if not uri:
            raise ServingError(
                f"tracking_uri_env names {args.tracking_uri_env}, which is not set in the "
                "environment of the process that builds the application"
            )
        return uri
    return args.tracking_uri


def target_for(registry, serving, alias: str) -> RolloutTarget:
    """The spec's rollout for `champion`; another alias's version alone otherwise."""
    from mlflow.exceptions import MlflowException

    if alias == CHAMPION:
        return desired_target(registry, serving)
    try:
        version = registry.client().get_model_version_by_alias(registry.model_name, alias).version
    except MlflowException as exc:
        raise ServingError(f"{registry.model_name} has no version with alias {alias!r}") from exc
    return RolloutTarget(
        champion=int(version),
        control_share=serving.control_share,
        explore_share=serving.explore_share,
        explore_band=serving.explore_band,
    )


def app_name(dataset: str) -> str:
    return f"{APP_PREFIX}-{dataset}"


def action_log_dir(settings, spec):
    return settings.home / "actions" / spec.name


def app_config(settings, spec, registry, target: RolloutTarget, replica_cpus: float = 1.0) -> dict:
    """The plain-dict configuration the deployment is built from."""
    import mlflow

    from serving.model import read_inputs

    client = mlflow.MlflowClient(tracking_uri=registry.tracking_uri)
    run_id = client.get_model_version(registry.model_name, str(target.champion)).run_id
    inputs = read_inputs(client, run_id)
    columns = inputs["columns"]
    serving = spec.serving
    return {
        "dataset": spec.name,
        "app_name": app_name(spec.name),
        "spec_path": str(settings.dataset_spec),
        "home": str(settings.home),
        "tracking_uri": registry.tracking_uri,
        "model_name": registry.model_name,
        "input_schema": inputs["schema"],
        "required_inputs": columns["numeric"] + columns["categorical"],
        "max_records": serving.max_records,
        "replicas": serving.replicas,
        "max_replicas": serving.max_replicas,
        "max_replicas_per_node": serving.max_replicas_per_node,
        "replica_cpus": replica_cpus,
        "max_batch_size": serving.max_batch_size,
        "max_ongoing_requests": max(4 * serving.max_batch_size, 64),
        "batch_wait_ms": serving.batch_wait_ms,
        "action_log_dir": str(action_log_dir(settings, spec)),
        "api_key": os.environ.get(serving.api_key_env) or None,
    }
