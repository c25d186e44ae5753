"""Experiment tracking and the model registry (MLflow), behind one typed resource.

The registered model `<dataset>-<env>` holds every candidate as a version; the alias `champion`
points at the version that serves. Each promotion records the version it replaced in the tag
`previous_champion`, which `rollback` follows. MLflow is imported on first use (~4 s).
"""

import ast
import datetime as dt
import subprocess
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from mlops_assets.compute.training import Recipe

CHAMPION = "champion"
CHALLENGER = "challenger"  # passed the gates, not yet champion (canary and shadow rollouts)


class RegistryResource(dg.ConfigurableResource):
    """MLflow tracking URI, experiment and registered model name of one dataset/profile."""

    tracking_uri: str
    model_name: str
    experiment: str
    artifact_location: str | None = None  # None: the tracking server's default

    def _mlflow(self):
        import mlflow

        mlflow.set_tracking_uri(self.tracking_uri)
        return mlflow

    def client(self):
        import mlflow

        return mlflow.MlflowClient(tracking_uri=self.tracking_uri)

    @contextmanager
    def start_run(self, run_name: str, tags: dict[str, str]):
        """An MLflow run in this dataset's experiment."""
        mlflow = self._mlflow()
        experiment = mlflow.get_experiment_by_name(self.experiment)
        experiment_id = (
            experiment.experiment_id
            if experiment
            else mlflow.create_experiment(self.experiment, artifact_location=self.artifact_location)
        )
        with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags) as run:
            yield run

    @contextmanager
    def resume_run(self, run_id: str):
        """Reopen an existing run (to add evaluation results); yields the mlflow module."""
        mlflow = self._mlflow()
        with mlflow.start_run(run_id=run_id):
            yield mlflow

    def log_and_register(self, model, inputs, outputs) -> int:
        """Log an sklearn model (skops format) in the active run and register a new version."""
        import sklearn
        import skops
        import skops.io
        from mlflow.models import infer_signature

        mlflow = self._mlflow()
        trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
        requirements = [f"scikit-learn=={sklearn.__version__}", f"skops=={skops.__version__}"]
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            serialization_format="skops",
            skops_trusted_types=trusted,
            signature=infer_signature(inputs, outputs),
            input_example=inputs.head(3),
            registered_model_name=self.model_name,
            pip_requirements=requirements,
        )
        return int(info.registered_model_version)

    def champion_version(self) -> int | None:
        return self._alias_version(CHAMPION)

    def challenger_version(self) -> int | None:
        return self._alias_version(CHALLENGER)

    def _alias_version(self, alias: str) -> int | None:
        from mlflow.exceptions import MlflowException

        try:
            return int(self.client().get_model_version_by_alias(self.model_name, alias).version)
        except MlflowException:
            return None

    def set_challenger(self, version: int) -> None:
        """Point `challenger` at a version that passed the gates (canary/shadow rollouts)."""
        self.client().set_registered_model_alias(self.model_name, CHALLENGER, str(version))

    def load(self, version: int):
        """The sklearn pipeline of a registered version (pinned by number)."""
        return self._mlflow().sklearn.load_model(f"models:/{self.model_name}/{version}")

    def training_window_end(self, version: int) -> dt.date | None:
        """Last application day in the training data of a registered version."""
        client = self.client()
        run_id = client.get_model_version(self.model_name, str(version)).run_id
        window = client.get_run(run_id).data.tags.get("partition_window", "")
        return dt.date.fromisoformat(window.split("..")[-1]) if ".." in window else None

    def recipe(self, version: int) -> Recipe:
        """How a registered version was trained, from its MLflow run's parameters (logged by the
        candidate_model asset), so that the backtest can refit it on the candidate's folds."""
        client = self.client()
        run_id = client.get_model_version(self.model_name, str(version)).run_id
        params = {k: _literal(v) for k, v in client.get_run(run_id).data.params.items()}
        half_life = params.pop("recency_half_life_days", None)
        return Recipe(
            estimator=params.pop("estimator", "hist_gradient_boosting"),
            seed=int(params.pop("seed", 0)),
            recency_half_life_days=float(half_life) if half_life is not None else None,
            params={k: v for k, v in params.items() if k not in RUN_ONLY_PARAMS},
        )

    def version_tags(self, version: int) -> dict[str, str]:
        return dict(self.client().get_model_version(self.model_name, str(version)).tags)

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


def registry_for(settings, spec, env: str | None = None) -> RegistryResource:
    """The registry resource of a dataset in profile `env` (default: MLOPS_ENV's)."""
    from mlops_assets.config.profiles import load_profile

    profile = load_profile(settings.home, env)
    return RegistryResource(
        tracking_uri=profile.tracking_uri,
        model_name=profile.registry_name(spec.name),
        experiment=f"{spec.name}-{profile.name}",
        artifact_location=profile.artifact_location,
    )


def git_commit() -> str:
    """The commit of the code that trains, or 'unknown' outside a git checkout."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


RUN_ONLY_PARAMS = ("rows",)  # logged with a version's parameters, not part of its recipe


def _literal(text: str):
    """A logged parameter back to its Python value ("200" -> 200, "None" -> None)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
