"""Evaluation: the walk-forward backtest of the candidate, next to the current champion."""

import json
import time
from dataclasses import asdict, dataclass
from typing import Literal

import dagster as dg
import polars as pl

from mlops_assets.compute.backtest import run_backtest, walk_forward_folds
from mlops_assets.compute.features import LABEL
from mlops_assets.compute.fitting import recipe_fitter
from mlops_assets.compute.gates import evaluate_gates
from mlops_assets.compute.ingest import DAY
from mlops_assets.compute.training import Recipe, model_matrix
from mlops_assets.config.spec import DatasetSpec
from mlops_assets.defs.assets.metadata import table
from mlops_assets.defs.assets.plots import (
    close_figures,
    curve_figures,
    reliability_figure,
)
from mlops_assets.defs.registry import (
    TRANSIENT,
    RegistriesResource,
    RegistryResource,
    mlflow_run_link,
    plot_links,
)
from mlops_assets.defs.resources import DatasetsResource

GROUP = "evaluation"
PLOTS = {  # the backtest's figures in the candidate's MLflow run, linked from the metadata
    "reliability": "backtest/reliability.png",
    "roc": "backtest/roc.png",
    "precision_recall": "backtest/precision_recall.png",
}


class BacktestConfig(dg.Config):
    folds: int = 3  # test windows, the most recent last
    fold_days: int = 7  # days per test window
    min_train_days: int = 7  # a fold with fewer training days is skipped
    # days between a fold's training and test rows; None: the label delay, as in production
    # (shorter is refused: the fold would learn from labels not yet landed)
    gap_days: int | None = None
    # what the candidate must beat: "recipe", the champion's recipe refitted on the same folds
    # (paired, matched horizons), or "deployed", the serving champion as it is, on the folds
    # trained on data at least as new as its own (weekly and signal-driven retrains)
    compare_with: Literal["recipe", "deployed"] = "recipe"
    # how the candidate must compare: "better" (superiority), or "not_worse" (non-inferiority
    # on newer data, the weekly retrain of an unchanged recipe; needs compare_with: deployed)
    promote_if: Literal["better", "not_worse"] = "better"


def build_evaluation_assets(spec: DatasetSpec) -> list:
    """`<dataset>/backtest`."""

    @dg.asset(
        key=[spec.name, "backtest"],
        retry_policy=TRANSIENT,
        deps=[
            dg.AssetKey([spec.name, "candidate_model"]),
            dg.AssetKey([spec.name, "training_set"]),
        ],
        group_name=GROUP,
        kinds={"scikitlearn", "mlflow"},
        description="Walk-forward, out-of-time backtest: the candidate's recipe and the "
        "champion's are refitted on each fold's past (labels known by then) and score the "
        "fold's rows, so both are judged on the same rows at the same horizon. AUC and value "
        "differences with intervals, calibration (observed/expected, slope), segments, "
        "equalized odds, stability, the break-even threshold, and the gates' verdicts.",
    )
    def backtest(
        context: dg.AssetExecutionContext,
        config: BacktestConfig,
        datasets: DatasetsResource,
        registries: RegistriesResource,
    ) -> dg.MaterializeResult:
        dataset, registry = datasets.of(spec), registries.of(spec)
        started = time.perf_counter()
        if config.promote_if == "not_worse" and config.compare_with != "deployed":
            raise dg.Failure(
                "promote_if: not_worse needs compare_with: deployed (the champion's recipe "
                "refitted on the same folds is the candidate itself when the recipes are equal)",
                allow_retries=False,
            )
        candidate_model = dataset.document("candidate_model")
        training_set = dataset.read("training_set")
        columns = dataset.feature_columns()
        folds, gap = _folds(sorted(training_set[DAY].unique().to_list()), config, spec)
        recipe = Recipe(
            candidate_model["estimator"],
            candidate_model["params"],
            candidate_model["seed"],
            candidate_model.get("recency_half_life_days"),
            calibration=candidate_model.get("calibration_method", "platt"),
        )
        fit = recipe_fitter(columns, recipe)
        versus = _baseline(registry, candidate_model["version"], recipe, fit, columns, config)
        report, rows = run_backtest(training_set, folds, fit, spec, versus.fit, versus.after)
        if report["comparison"] is not None:
            report["comparison"]["baseline"] = versus.description
            report["comparison"]["against"] = config.compare_with
            report["comparison"]["training_windows_end"] = {
                "candidate": candidate_model["training_window"].split("..")[-1],
                "champion": str(registry.training_window_end(versus.version)),
            }
        report["gates"] = evaluate_gates(report, spec.gates, config.promote_if)
        report["candidate"] = candidate_model
        report["champion_version"] = versus.version
        report["champion_recipe"] = asdict(versus.recipe) if versus.recipe else None
        _log_to_mlflow(registry, spec, report, rows, versus.version)
        return dg.MaterializeResult(
            value=report,
            metadata={
                **_metadata(report, len(folds), gap),
                **plot_links(registry, candidate_model["run_id"], PLOTS),
                **mlflow_run_link(registry, candidate_model["run_id"]),
                "runtime_seconds": round(time.perf_counter() - started, 2),
            },
        )

    return [backtest]


def _folds(days: list, config: BacktestConfig, spec: DatasetSpec) -> tuple[list, int]:
    """Walk-forward folds over the labelled days, with a gap of at least the label delay."""
    gap = spec.target.delay_days if config.gap_days is None else config.gap_days
    if gap < spec.target.delay_days:
        raise dg.Failure(
            f"gap_days {gap} is shorter than the label delay ({spec.target.delay_days} days):"
            " each fold would train on labels that had not landed when its test rows were "
            "decided",
            allow_retries=False,
        )
    folds = walk_forward_folds(days, config.folds, config.fold_days, gap, config.min_train_days)
    if not folds:
        need = config.min_train_days + gap + config.fold_days
        raise dg.Failure(
            f"not enough labelled days for a walk-forward backtest: {len(days)} in the "
            f"training set, at least {need} needed (min_train_days {config.min_train_days}"
            f" + gap {gap} + fold_days {config.fold_days})",
            allow_retries=False,
        )
    return folds, gap


@dataclass
class Baseline:
    """What the candidate is compared with, on each fold."""

    version: int | None = None
    fit: object = None
    recipe: Recipe | None = None
    after: object = None  # the deployed champion's window end (`compute.backtest.comparable_folds`)
    description: str | None = None


def _baseline(registry, candidate: int, recipe: Recipe, fit, columns, config) -> Baseline:
    """The champion's recipe refitted on the same folds (paired, matched horizons), or the
    deployed champion as it is on the folds trained on data at least as new as its own
    (`compare_with: deployed`, `compute.backtest.comparable_folds`)."""
    version = _comparison_version(registry, candidate)
    if version is None:
        return Baseline()
    if config.compare_with == "deployed":
        deployed = registry.load(version)
        after = registry.training_window_end(version)

        def fit_deployed(train: pl.DataFrame):
            return lambda rows: deployed.predict_proba(model_matrix(rows, columns))[:, 1]

        return Baseline(
            version,
            fit_deployed,
            after=after,
            description=f"the deployed champion v{version} as it is (training window ends "
            f"{after}), on the folds trained on data at least as new",
        )
    champion_recipe = registry.recipe(version)
    return Baseline(
        version,
        fit if champion_recipe == recipe else recipe_fitter(columns, champion_recipe),
        champion_recipe,
        description=f"v{version}'s recipe refitted on the same folds (same horizon)",
    )


def _metadata(report: dict, folds: int, gap: int) -> dict:
    """The backtest's materialization metadata: headline metrics, comparison, gates."""
    overall, comparison = report["overall"], report["comparison"] or {}
    kept = (
        "baseline",
        "against",
        "rows",
        "positives",
        "days",
        "auc_difference",
        "value_difference",
        "log_loss_difference",
    )
    return {
        "folds": folds,
        "gap_days": gap,
        "candidate": dg.MetadataValue.json(overall["candidate"]),
        "candidate_auc": dg.MetadataValue.json(report["candidate_auc"]),
        "calibration": dg.MetadataValue.json(report["calibration"]),
        "comparison_with_champion": dg.MetadataValue.json(
            {k: v for k, v in comparison.items() if k in kept}
        ),
        "champion_version": report["champion_version"] or "none",
        "roc_auc": overall["candidate"]["roc_auc"],
        "ece": overall["candidate"]["ece"],
        "decision": dg.MetadataValue.json(report["decision"]),
        "gates": table(
            pl.DataFrame(
                [
                    {"gate": g, "verdict": "PASS" if v["passed"] else "FAIL", "reason": v["reason"]}
                    for g, v in report["gates"].items()
                ],
                schema={"gate": pl.String, "verdict": pl.String, "reason": pl.String},
            )
        ),
        "underperforming_segments": dg.MetadataValue.json(report["underperforming_segments"]),
        "fairness": dg.MetadataValue.json(report["fairness"]["candidate"]),
    }


def _comparison_version(registry: RegistryResource, candidate: int) -> int | None:
    """The champion to compare with: the alias, or the one it replaced if that is the candidate
    itself (a backtest re-run after promotion)."""
    version = registry.champion_version()
    if version != candidate:
        return version
    previous = registry.version_tags(version).get("previous_champion")
    return int(previous) if previous else None


def _log_to_mlflow(registry: RegistryResource, spec, report: dict, rows, champion_version):
    """The backtest's metrics, report, reliability diagram and ROC and precision-recall curves,
    in the candidate's MLflow run (linked from the asset's metadata: `PLOTS`)."""
    deployed = (report["comparison"] or {}).get("against") == "deployed"
    champion = f"champion v{champion_version} " + (
        "(as deployed, every fold: in-sample on its own window's rows)"
        if deployed
        else "(its recipe on the same folds)"
    )
    reliability = {
        (champion if m == "champion" else m): t for m, t in report["reliability"].items()
    }
    figure = reliability_figure(reliability, f"{spec.name}: reliability (backtest)")
    curves = curve_figures(
        rows[LABEL].to_numpy(),
        {m: rows[m].to_numpy() for m in report["overall"]},
        f"{spec.name} backtest",
    )
    metrics = {
        f"backtest_{model}_{k}": v
        for model, values in report["overall"].items()
        for k, v in values.items()
        if isinstance(v, int | float)
    }
    metrics["decision_threshold"] = report["decision"]["threshold"]
    metrics["backtest_value_per_application"] = report["decision"]["value_per_application"][
        "candidate"
    ]
    registry.log_to_run(
        report["candidate"]["run_id"],
        metrics,
        texts={"backtest/report.json": json.dumps(report, indent=2, default=str)},
        figures={"backtest/reliability.png": figure, **curves},
    )
    close_figures([figure, *curves.values()])
