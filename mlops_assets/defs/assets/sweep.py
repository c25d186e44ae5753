"""Experiments: a sweep of recipes on Ray Tune, tracked in MLflow (one parent run, a child run
per trial), whose confirmed winner the next candidate trains with (`ModelConfig.from_sweep`)."""

import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import dagster as dg

from mlops_assets.compute.ingest import DAY
from mlops_assets.compute.sweep import (
    SweepData,
    choose_winner,
    comparison_table,
    draw_recipes,
    recheck_on_holdout,
    score_baseline,
    split_holdout,
    sweep_folds,
)
from mlops_assets.compute.training import Recipe
from mlops_assets.config.spec import DatasetSpec
from mlops_assets.defs.assets.training import ModelConfig, model_recipe
from mlops_assets.defs.provenance import code_provenance
from mlops_assets.defs.registry import RegistriesResource, RegistryResource, mlflow_run_link
from mlops_assets.defs.resources import DatasetResource, DatasetsResource

GROUP = "experiments"
TABLE_COLUMNS = {  # the comparison table's columns and their types in the Dagster UI
    "trial": "int",
    "estimator": "string",
    "params": "string",
    "roc_auc": "float",
    "auc_diff": "float",
    "auc_diff_low": "float",
    "auc_diff_high": "float",
    "value_per_app": "float",
    "value_diff_low": "float",
    "value_diff_high": "float",
    "calibration_slope": "float",
    "seconds": "float",
    "winner": "bool",
}


class SweepConfig(dg.Config):
    trials: int | None = None  # recipes drawn; None: the spec's experiments.trials
    seed: int | None = None  # of the draws and the fits; None: the spec's experiments.seed
    holdout_days: int | None = None  # None: the spec's experiments.holdout_days
    folds: int = 3  # the walk-forward backtest's, as the candidate's (BacktestConfig)
    fold_days: int = 7
    min_train_days: int = 7


def build_sweep_assets(spec: DatasetSpec) -> list:
    """`<dataset>/sweep`."""

    @dg.asset(
        key=[spec.name, "sweep"],
        deps=[dg.AssetKey([spec.name, "training_set"])],
        group_name=GROUP,
        kinds={"ray", "mlflow", "scikitlearn"},
        description="A sweep: recipes from the spec's `experiments.search`, each a Ray Tune "
        "trial scored by the walk-forward backtest before the training set's holdout days, "
        "paired with the champion's recipe on the same rows (Bonferroni over the trials). The "
        "winner passes the gates' superiority rule with the best AUC lower bound and is "
        "re-checked on the holdout. An MLflow parent run (data fingerprint, commit, lock hash, "
        "seeds), a child run per trial; `candidate_model` trains it with `from_sweep`.",
    )
    def sweep(
        context: dg.AssetExecutionContext,
        config: SweepConfig,
        datasets: DatasetsResource,
        registries: RegistriesResource,
        mlflow: dg.ResourceParam[Any],
    ) -> dg.MaterializeResult:
        from mlops_assets.defs.sweep_runner import run_trials

        dataset, registry = datasets.of(spec), registries.of(spec)
        started = time.perf_counter()
        plan = _plan(config, spec)
        training_set = dataset.read("training_set")
        baseline_recipe, baseline_name = _baseline(registry, spec)
        try:
            recipes = [
                replace(r, calibration=spec.model.calibration)
                for r in draw_recipes(spec.experiments, plan["trials"], plan["seed"])
            ]
            searched, holdout_first = split_holdout(training_set, plan["holdout_days"])
            folds = sweep_folds(
                searched, spec, config.folds, config.fold_days, config.min_train_days
            )
        except ValueError as exc:
            raise dg.Failure(str(exc), allow_retries=False) from exc
        parent = mlflow.active_run().info
        _track_parent(mlflow, context, dataset, training_set, {**plan, "folds": len(folds)})
        mlflow.set_tag("baseline", baseline_name)
        data = SweepData(searched, folds, dataset.feature_columns(), spec, len(recipes))
        client = registry.client()
        context.log.info(f"scoring the baseline ({baseline_name}) while Ray starts the trials")
        baseline, results = run_trials(
            data,
            lambda: score_baseline(data, baseline_recipe),
            recipes,
            storage=Path(dataset.home) / "ray_results",
            name=f"{spec.name}-sweep-{context.run.run_id[:8]}",
            on_result=lambda i, r: _log_trial(client, parent, i + 1, r, recipes[i]),
        )
        _log_trial(client, parent, 0, baseline.result, baseline_recipe, baseline_name)
        winner = choose_winner(results, spec.gates.margin)
        holdout = None
        if winner is not None and holdout_first is not None:
            holdout = recheck_on_holdout(
                training_set, holdout_first, data.columns, spec, recipes[winner], baseline_recipe
            )
        proposed = winner is not None and (holdout is None or holdout["confirmed"])
        table = comparison_table(baseline.result, results, winner)
        report = {
            "mlflow_run_id": parent.run_id,
            "baseline": {"recipe": asdict(baseline_recipe), "name": baseline_name},
            "trials": table,
            "winner": winner + 1 if winner is not None else None,
            "holdout": holdout,
            "proposed_recipe": asdict(recipes[winner]) if proposed else None,
            "nodes": sorted({r["node"] for r in results}),
            "seconds": round(time.perf_counter() - started, 2),
        }
        mlflow.log_dict(report, "sweep/report.json")
        mlflow.log_table({k: [row[k] for row in table] for k in TABLE_COLUMNS}, "sweep/trials.json")
        mlflow.set_tag("winner", str(report["winner"]))
        context.log.info(_verdict(report))
        return dg.MaterializeResult(value=report, metadata=_metadata(report, table, registry))

    return [sweep]


def _track_parent(mlflow, context, dataset: DatasetResource, training_set, params: dict) -> None:
    """The sweep's MLflow run (the trials' parent): where its data and code came from."""
    source = context.instance.get_latest_materialization_event(
        dataset.key("training_set")
    ).asset_materialization.metadata
    mlflow.set_tags(
        {
            "mlflow.runName": f"sweep of {params['trials']} trials",
            "dataset": dataset.spec.name,
            "sweep": "parent",
            "data_fingerprint": source["data_fingerprint"].value,
            "training_window": f"{training_set[DAY].min()}..{training_set[DAY].max()}",
            **code_provenance(),
        }
    )
    mlflow.log_params(params)


def _plan(config: SweepConfig, spec: DatasetSpec) -> dict:
    """The run's trials, seed and holdout: its config where set, else the spec's."""
    experiments = spec.experiments
    plan = {
        "trials": experiments.trials if config.trials is None else config.trials,
        "seed": experiments.seed if config.seed is None else config.seed,
        "holdout_days": (
            experiments.holdout_days if config.holdout_days is None else config.holdout_days
        ),
    }
    if plan["trials"] < 1 or plan["holdout_days"] < 0:
        raise dg.Failure(f"a sweep needs trials >= 1 and holdout_days >= 0: {plan}")
    return plan


def _baseline(registry: RegistryResource, spec: DatasetSpec) -> tuple[Recipe, str]:
    """What every trial must beat: the champion's recipe, or the spec's before a champion."""
    version = registry.champion_version()
    if version is not None:
        return registry.recipe(version), f"champion v{version}'s recipe"
    return model_recipe(ModelConfig(), spec), "the spec's model recipe (no champion yet)"


def _log_trial(client, parent, trial: int, result: dict, recipe: Recipe, name: str = ""):
    """One trial as an MLflow child run of the sweep's run: its recipe as params, its backtest
    and paired differences as metrics."""
    from mlflow.entities import Metric, Param

    run = client.create_run(
        parent.experiment_id,
        run_name=f"trial {trial}" + (f" ({name})" if name else ""),
        tags={
            "mlflow.parentRunId": parent.run_id,
            "sweep": "trial",
            "ray_node": result.get("node", ""),
        },
    )
    params = {"estimator": recipe.estimator, "calibration": recipe.calibration, "seed": recipe.seed}
    params.update(recipe.params)
    metrics = {
        k: result[k]
        for k in ("roc_auc", "value_per_application", "calibration_slope", "seconds")
        if result.get(k) is not None
    }
    for key in ("auc_difference", "value_difference"):
        for part, v in (result.get(key) or {}).items():
            metrics[f"{key}_{part}"] = v
    now = int(time.time() * 1000)
    client.log_batch(
        run.info.run_id,
        metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()],
        params=[Param(k, str(v)) for k, v in params.items()],
    )
    client.set_terminated(run.info.run_id)


def _verdict(report: dict) -> str:
    if report["winner"] is None:
        return f"no trial beat {report['baseline']['name']} beyond noise: nothing proposed"
    holdout = report["holdout"]
    if report["proposed_recipe"] is None:
        return (
            f"trial {report['winner']} won, but not on the holdout days no trial saw "
            f"(AUC difference {holdout['auc_difference']}): nothing proposed"
        )
    return f"trial {report['winner']} won and is proposed as the next candidate's recipe"


def _metadata(report: dict, table: list[dict], registry: RegistryResource) -> dict:
    schema = dg.TableSchema(
        columns=[dg.TableColumn(name, kind) for name, kind in TABLE_COLUMNS.items()]
    )
    return {
        "trials": dg.MetadataValue.table(
            [dg.TableRecord({k: row[k] for k in TABLE_COLUMNS}) for row in table], schema=schema
        ),
        "winner": report["winner"] if report["winner"] is not None else "none",
        "verdict": _verdict(report),
        "proposed_recipe": dg.MetadataValue.json(report["proposed_recipe"] or {}),
        "holdout": dg.MetadataValue.json(report["holdout"] or {}),
        "baseline": report["baseline"]["name"],
        "ray_nodes": len(report["nodes"]),
        **mlflow_run_link(registry, report["mlflow_run_id"]),
        "runtime_seconds": report["seconds"],
    }
