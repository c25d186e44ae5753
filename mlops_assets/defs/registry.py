"""Experiment tracking and the model registry (MLflow), behind one typed resource.

The registered model `<dataset>-<env>` holds every candidate as a version; the alias `champion`
points at the version that serves. Each promotion records the version it replaced in the tag
`previous_champion`, which `rollback` follows. MLflow is imported on first use (~4 s).
"""

import datetime as dt
import json
import re
from pathlib import Path

import dagster as dg

from mlops_assets.compute.training import Recipe, recipe_from_params
from mlops_assets.config.profiles import registered_model_name
from serving.model import read_json_artifact, training_window

# The registry and the endpoint are services: the steps that read or write them idempotently
# (candidate, backtest, drift, deployment, decisions) retry a failure with backoff; a refusal
# (a version that fails to load, failed gates, missing data) raises `dg.Failure(allow_retries=
# False)` and fails at once. The champion step does not retry: a rollback is not idempotent.
TRANSIENT = dg.RetryPolicy(max_retries=2, delay=1, backoff=dg.Backoff.EXPONENTIAL)

CHAMPION = "champion"
CHALLENGER = "challenger"  # passed the gates, not yet champion (canary and shadow rollouts)


class RegistryResource(dg.ConfigurableResource):
    """MLflow tracking URI, experiment and registered model name of one dataset/profile: every
    MLflow call of the code location goes through it (the train job's run itself is carried by
    dagster-mlflow, `defs/tracking.py`). The tracking URI is a `dg.EnvVar` when the profile
    takes it from the environment, so that a password in it is never shown as config."""

    tracking_uri: str
    model_name: str
    experiment: str
    artifact_location: str | None = None  # None: the tracking server's default
    ui_url: str | None = None  # the MLflow UI, for links from Dagster (None: no links)

    def _mlflow(self):
        """The mlflow module, pointed at this registry (its fluent API: logging a model)."""
        import mlflow

        mlflow.set_tracking_uri(self.tracking_uri)
        return mlflow

    @property
    def display_uri(self) -> str:
        """The tracking URI without its password, for messages and metadata."""
        return redacted(self.tracking_uri)

    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri)

    def run_url(self, run_id: str) -> str | None:
        """The MLflow UI page of a run (None without a UI address)."""
        if not self.ui_url:
            return None
        experiment = self.client().get_run(run_id).info.experiment_id
        return f"{self.ui_url.rstrip('/')}/#/experiments/{experiment}/runs/{run_id}"

    def artifact_url(self, run_id: str, path: str) -> str | None:
        """A run's artifact opened in the MLflow UI (None without a UI address)."""
        run = self.run_url(run_id)
        return f"{run}/artifactPath/{path}" if run else None

    def log_to_run(self, run_id: str, metrics: dict, texts: dict, figures: dict) -> None:
        """Add metrics, text artifacts and matplotlib figures to an existing run (a candidate's
        run, evaluated later, possibly by another Dagster run)."""
        import time

        from mlflow.entities import Metric

        client, now = self.client(), int(time.time() * 1000)
        client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()])
        for path, text in texts.items():
            client.log_text(run_id, text, path)
        for path, figure in figures.items():
            client.log_figure(run_id, figure, path)

    def load_dict(self, run_id: str, path: str) -> dict:
        """A JSON artifact of a run."""
        return read_json_artifact(self.client(), run_id, path)

    def log_and_register(self, model, inputs_card: dict, raw_example, decision: dict) -> int:
        """Log the pipeline as the raw-records pyfunc (`serving/raw_model.py`: code, the skops
        pipeline, its serving inputs and the `decision` rule) in the active run and register a
        new version."""
        import tempfile

        import sklearn
        import skops
        import skops.io

        from serving import raw_model
        from serving.model import raw_signature

        mlflow = self._mlflow()
        trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
        with tempfile.TemporaryDirectory() as folder:
            files = {
                "pipeline": Path(folder) / "pipeline.skops",
                "inputs": Path(folder) / "inputs.json",
                "decision": Path(folder) / "decision.json",  # not model_config: MLflow would
            }  # log that as the run's params, which hold the recipe
            skops.io.dump(model, files["pipeline"])
            files["inputs"].write_text(json.dumps(inputs_card))
            files["decision"].write_text(json.dumps({**decision, "skops_trusted_types": trusted}))
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=raw_model.__file__,
                artifacts={k: str(v) for k, v in files.items()},
                signature=raw_signature(inputs_card),
                input_example=raw_example.head(3),
                registered_model_name=self.model_name,
                pip_requirements=[
                    f"scikit-learn=={sklearn.__version__}",
                    f"skops=={skops.__version__}",
                    "mlops-assets",  # the feature code and the calibration step
                ],
            )
        return int(info.registered_model_version)

    def champion_version(self) -> int | None:
        return self._alias_version(CHAMPION)

    def challenger_version(self) -> int | None:
        return self._alias_version(CHALLENGER)

    def _alias_version(self, alias: str) -> int | None:
        """The version `alias` points at; None if the alias or the model does not exist. A
        registry that does not answer raises: "no champion" would let any candidate through."""
        from mlflow.exceptions import MlflowException

        try:
            return int(self.client().get_model_version_by_alias(self.model_name, alias).version)
        except MlflowException as exc:
            if exc.error_code in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"):
                return None
            raise

    def set_challenger(self, version: int) -> None:
        """Point `challenger` at a version that passed the gates (canary/shadow rollouts)."""
        self.client().set_registered_model_alias(self.model_name, CHALLENGER, str(version))

    def load(self, version: int):
        """The sklearn pipeline of a registered version (pinned by number)."""
        from serving.model import unwrap_pipeline

        uri = f"models:/{self.model_name}/{version}"
        return unwrap_pipeline(self._mlflow().pyfunc.load_model(uri))

    def training_window_end(self, version: int) -> dt.date | None:
        """Last application day in the training data of a registered version."""
        window = training_window(self.client().get_run(self.run_id(version)))
        return dt.date.fromisoformat(window.split("..")[-1]) if ".." in window else None

    def recipe(self, version: int) -> Recipe:
        """How a registered version was trained, from its MLflow run's parameters (logged by the
        candidate_model asset), so that the backtest can refit it on the candidate's folds."""
        return recipe_from_params(self.client().get_run(self.run_id(version)).data.params)

    def run_id(self, version: int) -> str:
        """The MLflow run that trained a registered version."""
        return self.client().get_model_version(self.model_name, str(version)).run_id

    def version_tags(self, version: int) -> dict[str, str]:
        return dict(self.client().get_model_version(self.model_name, str(version)).tags)

    def record_gates(self, version: int, run_id: str, verdicts: dict[str, bool], card: str):
        """A candidate's gate verdicts as tags of its version and its run (`gate.<name>`:
        passed | failed, `gate_outcome`: passed | refused, and on a refused candidate's run
        `refused_by_gates`), and its model card as the version's description."""
        client, name = self.client(), self.model_name
        failed = [g for g, passed in verdicts.items() if not passed]
        tags = {f"gate.{g}": "passed" if ok else "failed" for g, ok in verdicts.items()}
        tags["gate_outcome"] = "refused" if failed else "passed"
        for key, value in tags.items():
            client.set_model_version_tag(name, str(version), key, value)
            client.set_tag(run_id, key, value)
        if failed:
            client.set_tag(run_id, "refused_by_gates", ", ".join(failed))
        client.update_model_version(name, str(version), description=card)

    def promote(self, version: int, reason: str) -> int | None:
        """Point `champion` at `version`; returns the version it replaced."""
        client, previous = self.client(), self.champion_version()
        if previous == version:
            return previous
        if previous is not None:
            client.set_model_version_tag(
                self.model_name, str(version), "previous_champion", str(previous)
            )
        client.set_model_version_tag(
            self.model_name, str(version), "promoted_at", dt.datetime.now(dt.UTC).isoformat()
        )
        client.set_model_version_tag(self.model_name, str(version), "promotion_reason", reason)
        client.set_registered_model_alias(self.model_name, CHAMPION, str(version))
        if self.challenger_version() == version:
            client.delete_registered_model_alias(self.model_name, CHALLENGER)
        return previous

    def rollback(self) -> tuple[int, int]:
        """Move `champion` back to the version it replaced; returns (from, to)."""
        current = self.champion_version()
        if current is None:
            raise ValueError(f"{self.model_name} has no champion to roll back")
        previous = self.version_tags(current).get("previous_champion")
        if previous is None:
            raise ValueError(
                f"{self.model_name} v{current} is the first champion: nothing to roll back to"
            )
        client = self.client()
        client.set_registered_model_alias(self.model_name, CHAMPION, previous)
        client.set_model_version_tag(
            self.model_name, str(current), "rolled_back_at", dt.datetime.now(dt.UTC).isoformat()
        )
        return current, int(previous)


def mlflow_run_link(registry: RegistryResource, run_id: str) -> dict:
    """Materialization metadata linking a model's MLflow run (nothing without a UI address)."""
    url = registry.run_url(run_id)
    return {"mlflow_run": dg.MetadataValue.url(url)} if url else {}


def plot_links(registry: RegistryResource, run_id: str, plots: dict[str, str]) -> dict:
    """Metadata linking a run's figures (`plots`: name -> artifact path) on the MLflow server."""
    urls = {name: registry.artifact_url(run_id, path) for name, path in plots.items()}
    return {name: dg.MetadataValue.url(url) for name, url in urls.items() if url}


def experiment_id(client, name: str, artifact_location: str | None) -> str:
    """The experiment `name`, created with `artifact_location` (None: the server's) if new."""
    experiment = client.get_experiment_by_name(name)
    if experiment:
        return experiment.experiment_id
    return client.create_experiment(name, artifact_location=artifact_location)


class RegistriesResource(dg.ConfigurableResource):
    """The registries of every dataset in one profile (one MLflow server): `of(spec)` is a
    dataset's, its registered model `<dataset>-<suffix>` and experiment `<dataset>-<profile>`."""

    tracking_uri: str
    profile: str
    registry_suffix: str
    artifact_location: str | None = None
    ui_url: str | None = None

    def of(self, spec) -> RegistryResource:
        return RegistryResource(
            tracking_uri=self.tracking_uri,
            model_name=registered_model_name(spec.name, self.registry_suffix),
            experiment=experiment_name(spec.name, self.profile),
            artifact_location=self.artifact_location,
            ui_url=self.ui_url,
        )


def experiment_name(dataset: str, profile: str) -> str:
    return f"{dataset}-{profile}"


def registries_for(settings, env: str | None = None, by_reference: bool = False):
    """The registries resource in profile `env` (default: MLOPS_ENV's). With `by_reference`
    (the code location's), a tracking URI that the profile takes from an environment variable
    stays a `dg.EnvVar`, read at run time: the UI and the run config show the variable's name,
    never its value (which may carry a password)."""
    profile = settings.profile(env)
    variable = profile.tracking_uri_env if by_reference else None
    return RegistriesResource(
        tracking_uri=dg.EnvVar(variable) if variable else profile.tracking_uri,
        profile=profile.name,
        registry_suffix=profile.registry_suffix,
        artifact_location=profile.artifact_location,
        ui_url=settings.mlflow_url,
    )


def registry_for(settings, spec, env: str | None = None) -> RegistryResource:
    """The registry of a dataset in profile `env` (default: MLOPS_ENV's)."""
    return registries_for(settings, env).of(spec)


def redacted(uri: str) -> str:
    """`uri` with the password of its user info (`scheme://user:password@host`) masked."""
    return re.sub(r"^([a-z0-9+.-]+://[^:/@]*):[^@/]*@", r"\1:***@", uri, flags=re.IGNORECASE)
