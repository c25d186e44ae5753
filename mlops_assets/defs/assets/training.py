"""Training: a candidate model tracked in MLflow and registered (the training set it learns from:
`training_set.py`)."""

import time
import warnings
from typing import Any

import dagster as dg

from mlops_assets.compute.features import LABEL
from mlops_assets.compute.fitting import fit_model
from mlops_assets.compute.ingest import DAY
from mlops_assets.compute.selective import WEIGHT, effective_sample_size
from mlops_assets.compute.training import (
    Recipe,
    model_matrix,
)
from mlops_assets.config.spec import DatasetSpec
from mlops_assets.defs.assets.serving_inputs import decision_rule, raw_example, serving_inputs
from mlops_assets.defs.assets.training_set import GROUP, WINDOW_DAYS, training_set_asset
from mlops_assets.defs.lake import partition_path
from mlops_assets.defs.provenance import git_commit
from mlops_assets.defs.registry import (
    TRANSIENT,
    RegistriesResource,
    mlflow_run_link,
)
from mlops_assets.defs.resources import DatasetsResource
from serving.model import INPUTS_ARTIFACT, WINDOW_TAG


class ModelConfig(dg.Config):
    # auto | hist_gradient_boosting | logistic_regression | dummy (a baseline); None: the spec's
    # `model.estimator` (default auto), and likewise for params and calibration
    estimator: str | None = None
    params: dict[str, Any] | None = None
    calibration: str | None = None  # platt | isotonic
    seed: int = 0
    # rows weigh half as much every this many days back (None: equal); set by drift and
    # performance retrains so that the new regime dominates
    recency_half_life_days: float | None = None
    # train the recipe the last sweep (`<dataset>/sweep`) proposed, instead of the above
    from_sweep: bool = False


def build_training_assets(spec: DatasetSpec) -> list:
    """`<dataset>/training_set` and `<dataset>/candidate_model`."""
    return [training_set_asset(spec), _candidate_model(spec)]


def _candidate_model(spec: DatasetSpec) -> dg.AssetsDefinition:
    @dg.asset(
        key=[spec.name, "candidate_model"],
        retry_policy=TRANSIENT,
        deps=[dg.AssetKey([spec.name, "training_set"])],
        group_name=GROUP,
        kinds={"scikitlearn", "mlflow"},
        description="A seeded scikit-learn pipeline trained on the training set, its capacity "
        "(boosting rounds, or a regularized logistic regression on small data) chosen and its "
        "calibration (Platt, or isotonic with 1,000 positives) fitted on cross-fitted scores of "
        "held-out day blocks, logged to MLflow (params, metrics, what the fit chose, signature, "
        "input example, lineage tags) and registered as a new version of `<dataset>-<env>`: an "
        "MLflow pyfunc on raw records (the feature expressions, the skops-serialized pipeline "
        "and the decision rule), logged as code.",
    )
    def candidate_model(
        context: dg.AssetExecutionContext,
        config: ModelConfig,
        datasets: DatasetsResource,
        registries: RegistriesResource,
        mlflow: dg.ResourceParam[Any],
    ) -> dg.MaterializeResult:
        dataset, registry = datasets.of(spec), registries.of(spec)
        started = time.perf_counter()
        training_set = dataset.read("training_set")
        columns = dataset.feature_columns()
        inputs, labels = model_matrix(training_set, columns), training_set[LABEL].to_numpy()
        sweep = dataset.document("sweep") if config.from_sweep else None
        recipe = model_recipe(config, spec, sweep)
        model, fitted = fit_model(training_set, columns, recipe)
        scores = model.predict_proba(inputs)[:, 1]
        source = context.instance.get_latest_materialization_event(
            dataset.key("training_set")
        ).asset_materialization.metadata
        window = f"{training_set[DAY].min()}..{training_set[DAY].max()}"
        fingerprint = source["data_fingerprint"].value
        run = mlflow.active_run()  # dagster-mlflow's run of this Dagster run
        commit = git_commit()
        mlflow.set_tags({"mlflow.runName": f"candidate {window}", "dataset": spec.name})
        mlflow.set_tag("mlflow.source.git.commit", commit)
        if sweep:
            mlflow.set_tag("sweep_run_id", sweep["mlflow_run_id"])
        _log_training_input(mlflow, dataset, training_set, window, fingerprint, source)
        inputs_card = serving_inputs(dataset, training_set[DAY].max())
        _log_candidate(mlflow, recipe, training_set, labels, scores, fitted, inputs_card)
        link = mlflow_run_link(registry, run.info.run_id)
        example = raw_example(dataset, inputs_card, training_set[DAY].max())
        version = registry.log_and_register(model, inputs_card, example, decision_rule(spec))
        card = {
            "model_name": registry.model_name,
            "version": version,
            "run_id": run.info.run_id,
            "estimator": recipe.estimator,
            "params": recipe.params,
            "calibration_method": recipe.calibration,
            "seed": recipe.seed,
            "recency_half_life_days": recipe.recency_half_life_days,
            "training_window": window,
            "rows": training_set.height,
            "fitted": fitted,
            "dagster_run_id": context.run.run_id,
            "data_fingerprint": fingerprint,
            "as_of": source["as_of"].value,
        }
        context.log.info(f"registered {registry.model_name} v{version} (run {run.info.run_id})")
        return dg.MaterializeResult(
            value=card,
            metadata={
                "model": f"{registry.model_name} v{version}",
                "mlflow_run_id": run.info.run_id,
                **link,
                "training_window": window,
                "data_fingerprint": fingerprint,
                "chosen_estimator": fitted["estimator"],
                "fitted": dg.MetadataValue.json(fitted),
                "runtime_seconds": round(time.perf_counter() - started, 2),
            },
        )

    return candidate_model


def _log_training_input(mlflow, dataset, training_set, window, fingerprint, source) -> None:
    """The training set as an MLflow dataset: the lake file it was read from as source, the
    digest of the lake partitions it was built from, and its application-day window."""
    path = partition_path(dataset.lake_root, dataset.key("training_set"), None)
    with warnings.catch_warnings():  # "can be interpreted in multiple ways": a path is a path
        warnings.simplefilter("ignore", UserWarning)
        logged = mlflow.data.from_polars(
            training_set,
            source=str(path),
            targets=LABEL,
            name=f"{dataset.spec.name}/training_set",
            digest=fingerprint[:DIGEST_LENGTH],
        )
    mlflow.log_input(
        logged,
        context="training",
        tags={
            WINDOW_TAG: window,
            "as_of": source["as_of"].value,
            "data_fingerprint": fingerprint,
            # `mlops reproduce` rebuilds the training set from these (older runs: the default)
            "window_days": str(
                source["window_days"].value if "window_days" in source else WINDOW_DAYS
            ),
        },
    )


FITTED_ARTIFACT = "fitted.json"  # what fit_model chose: estimator, capacity, calibration


DIGEST_LENGTH = 36  # MLflow's dataset digest column holds 36 characters


def model_recipe(config: ModelConfig, spec: DatasetSpec, sweep: dict | None = None) -> Recipe:
    """The run's recipe: the sweep's proposed one (`from_sweep`), else its config where set,
    else the spec's `model` section."""
    if config.from_sweep:
        if not sweep["proposed_recipe"]:
            raise dg.Failure(
                f"from_sweep: the last sweep (MLflow run {sweep['mlflow_run_id']}) proposed no "
                "recipe: no trial beat the baseline beyond noise and on its holdout days",
                allow_retries=False,
            )
        return Recipe(**sweep["proposed_recipe"])
    return Recipe(
        estimator=config.estimator or spec.model.estimator,
        params=dict(spec.model.params if config.params is None else config.params),
        seed=config.seed,
        recency_half_life_days=config.recency_half_life_days,
        calibration=config.calibration or spec.model.calibration,
    )


def _log_candidate(mlflow, recipe, training_set, labels, scores, fitted, inputs_card) -> None:
    """Params (the recipe), metrics, what the fit chose (tags and a JSON artifact) and the
    serving inputs of a candidate, in the active MLflow run."""
    from sklearn.metrics import roc_auc_score

    mlflow.log_params(
        {
            "estimator": recipe.estimator,
            "calibration": recipe.calibration,
            "seed": recipe.seed,
            "recency_half_life_days": recipe.recency_half_life_days,
            "rows": training_set.height,
            **recipe.params,
        }
    )
    calibration = fitted["calibration"]
    mlflow.set_tags(
        {
            "chosen_estimator": fitted["estimator"],
            "calibration_method": calibration["method"],
        }
    )
    mlflow.log_dict(fitted, FITTED_ARTIFACT)
    weights = training_set[WEIGHT].to_numpy()
    mlflow.log_metrics(
        {
            "train_roc_auc": float(roc_auc_score(labels, scores, sample_weight=weights)),
            "train_positive_rate": float(labels.mean()),
            "train_effective_sample_size": effective_sample_size(weights),
            **{
                f"calibration_{k}": calibration[k]
                for k in ("intercept", "slope", "rows")
                if k in calibration
            },
            **(
                {"held_out_log_loss": fitted["held_out_log_loss"]}
                if "held_out_log_loss" in fitted
                else {}
            ),
        }
    )
    mlflow.log_dict(inputs_card, INPUTS_ARTIFACT)
