"""Sweeps: recipes drawn from the spec's search space (`experiments:`), each scored by the same
walk-forward backtest as a candidate and paired with the champion's recipe on the same rows; the
winner chosen by a noise-aware rule and re-checked on the last days, which no trial saw. Plain
functions (`defs/sweep_runner.py` runs the trials on Ray Tune)."""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from mlops_assets.compute.backtest import Fold, run_backtest, walk_forward_folds
from mlops_assets.compute.features import FeatureColumns
from mlops_assets.compute.fitting import recipe_fitter
from mlops_assets.compute.gates import superior
from mlops_assets.compute.ingest import DAY
from mlops_assets.compute.metrics import decision_threshold
from mlops_assets.compute.selective import auc_difference, resampling_units, value_difference
from mlops_assets.compute.training import Recipe, build_model
from mlops_assets.config.spec import DatasetSpec
from mlops_assets.config.spec_types import Experiments, ParamRange


def draw_recipes(experiments: Experiments, trials: int, seed: int) -> list[Recipe]:
    """`trials` recipes, the estimator families taken in turn, each parameter drawn from its
    range; the same seed draws the same recipes. A parameter its estimator does not have is a
    `ValueError` naming the spec key."""
    _check_parameters(experiments)
    rng = np.random.default_rng(seed)
    families = list(experiments.search)
    recipes = []
    for i in range(trials):
        family = families[i % len(families)]
        params = {name: _draw(r, rng) for name, r in experiments.search[family].items()}
        recipes.append(Recipe(family, params, seed=seed))
    return recipes


def _draw(r: ParamRange, rng: np.random.Generator):
    if r.values:
        return r.values[int(rng.integers(len(r.values)))]
    if r.log:
        value = math.exp(rng.uniform(math.log(r.low), math.log(r.high)))
    else:
        value = rng.uniform(r.low, r.high)
    return int(round(value)) if r.integer else float(f"{value:.4g}")


def _check_parameters(experiments: Experiments) -> None:
    for family, params in experiments.search.items():
        known = build_model(FeatureColumns((), (), ()), family).named_steps["model"].get_params()
        for name in params:
            if name not in known:
                raise ValueError(
                    f"experiments.search.{family}.{name}: not a parameter of {family} "
                    f"(it has {', '.join(sorted(known))})"
                )


@dataclass(frozen=True)
class SweepData:
    """What every trial reads: shipped once to the workers."""

    frame: pl.DataFrame  # the training set without its holdout days
    folds: list[Fold]
    columns: FeatureColumns
    spec: DatasetSpec
    comparisons: int  # trials compared with the baseline (Bonferroni)


@dataclass(frozen=True)
class Baseline:
    """The baseline recipe on the folds: what every trial is paired with."""

    rows: pl.DataFrame  # the folds' test rows: label, day, and its out-of-time `candidate` score
    result: dict  # its own row of the comparison


def split_holdout(frame: pl.DataFrame, holdout_days: int) -> tuple[pl.DataFrame, dt.date | None]:
    """The rows before the last `holdout_days` days, and the holdout's first day (None: 0)."""
    if holdout_days == 0:
        return frame, None
    first = frame[DAY].max() - dt.timedelta(days=holdout_days - 1)
    return frame.filter(pl.col(DAY) < first), first


def sweep_folds(
    frame: pl.DataFrame, spec: DatasetSpec, folds: int, fold_days: int, min_train_days: int
) -> list[Fold]:
    """The backtest's walk-forward folds over the searched days (gap: the label delay)."""
    days = sorted(frame[DAY].unique().to_list())
    found = walk_forward_folds(days, folds, fold_days, spec.target.delay_days, min_train_days)
    if not found:
        need = min_train_days + spec.target.delay_days + fold_days
        raise ValueError(
            f"not enough labelled days to sweep: {len(days)} before the holdout, at least "
            f"{need} needed (min_train_days + label delay + fold_days)"
        )
    return found


def score_baseline(data: SweepData, recipe: Recipe) -> Baseline:
    """The baseline recipe's backtest on the folds; its own row is paired with itself."""
    result, rows = _backtest(data, recipe)
    baseline = Baseline(rows, result)
    own = pair_with_baseline(result, rows["candidate"].to_numpy(), baseline, data)
    return replace(baseline, result=own)


def backtest_recipe(data: SweepData, recipe: Recipe) -> tuple[dict, np.ndarray]:
    """One trial's own work, which needs no baseline: the recipe's walk-forward backtest. Its
    summary, and its pooled out-of-time scores for `pair_with_baseline`."""
    result, rows = _backtest(data, recipe)
    return result, rows["candidate"].to_numpy()


def score_recipe(data: SweepData, recipe: Recipe, baseline: Baseline) -> dict:
    """One trial, paired with the baseline (as the trials on Ray Tune are, one after the other)."""
    return pair_with_baseline(*backtest_recipe(data, recipe), baseline, data)


def pair_with_baseline(result: dict, scores, baseline: Baseline, data: SweepData) -> dict:
    """A trial's summary with its differences from the baseline on the same rows at the same
    horizon (AUC by DeLong, value per application by a bootstrap over days, lower bounds widened
    under selective labels as the gates' are, and Bonferroni-corrected over the trials)."""
    if len(scores) != baseline.rows.height:
        raise ValueError("the trial's rows differ from the baseline's: not the same folds")
    rows = baseline.rows
    days = resampling_units(rows, rows[DAY].to_numpy())
    base = rows["candidate"].to_numpy()
    threshold = decision_threshold(data.spec)["threshold"]
    auc = auc_difference(rows, scores, base, days, comparisons=data.comparisons)
    value = value_difference(
        rows, scores, base, threshold, data.spec.value, days, comparisons=data.comparisons
    )
    return {
        **result,
        "auc_difference": auc.as_dict() if auc else None,
        "value_difference": value.as_dict(),
    }


def longest_first(recipes: list[Recipe]) -> list[int]:
    """The recipes' indices, the likely slowest to fit first, so that parallel trials end
    together (boosting before linear models, slower learning rates first)."""

    def cost(i: int) -> tuple:
        recipe = recipes[i]
        return (recipe.estimator != "logistic_regression", -recipe.params.get("learning_rate", 1))

    return sorted(range(len(recipes)), key=cost, reverse=True)


def _backtest(data: SweepData, recipe: Recipe) -> tuple[dict, pl.DataFrame]:
    started = time.perf_counter()
    report, rows = run_backtest(
        data.frame, data.folds, recipe_fitter(data.columns, recipe), data.spec
    )
    calibration = report["calibration"]
    return {
        "estimator": recipe.estimator,
        "params": dict(recipe.params),
        "roc_auc": report["overall"]["candidate"]["roc_auc"],
        "value_per_application": report["decision"]["value_per_application"]["candidate"],
        "observed_to_expected": calibration["observed_to_expected"]["estimate"],
        "calibration_slope": calibration["slope"]["estimate"],
        "seconds": round(time.perf_counter() - started, 2),
    }, rows


def choose_winner(results: list[dict], margin: float) -> int | None:
    """The trial whose AUC difference with the baseline has the best lower bound, among those
    that pass the gates' superiority rule against it (lower bound above `margin`, value per
    application not worse beyond noise), with intervals Bonferroni-corrected over the trials;
    None when no trial beats the baseline beyond noise (the baseline stays)."""
    eligible = [
        (r["auc_difference"]["low"], i)
        for i, r in enumerate(results)
        if r.get("auc_difference") and superior(r["auc_difference"], r["value_difference"], margin)
    ]
    return max(eligible)[1] if eligible else None


def recheck_on_holdout(
    frame: pl.DataFrame,
    holdout_first: dt.date,
    columns: FeatureColumns,
    spec: DatasetSpec,
    winner: Recipe,
    baseline: Recipe,
) -> dict:
    """The winner against the baseline on the holdout days, which no trial saw (the winner's
    curse): both refitted on the days before it (less the label delay), paired on its rows.
    `confirmed` when the winner's AUC is higher there and its value per application not worse
    beyond noise."""
    gap = spec.target.delay_days
    train_last = holdout_first - dt.timedelta(days=gap + 1)
    fold = Fold(0, frame[DAY].min(), train_last, holdout_first, frame[DAY].max())
    report, _ = run_backtest(
        frame, [fold], recipe_fitter(columns, winner), spec, recipe_fitter(columns, baseline)
    )
    comparison = report["comparison"]
    auc, value = comparison.get("auc_difference"), comparison.get("value_difference")
    confirmed = bool(auc and auc["estimate"] > 0 and value["high"] >= 0)
    return {
        "days": f"{holdout_first}..{frame[DAY].max()}",
        "rows": comparison["rows"],
        "auc_difference": auc,
        "value_difference": value,
        "confirmed": confirmed,
    }


def comparison_table(baseline: dict, results: list[dict], winner: int | None) -> list[dict]:
    """One row per trial, after the baseline's (trial 0), for the Dagster metadata and the
    parent run."""
    rows = []
    for i, r in enumerate([baseline, *results]):
        auc, value = r.get("auc_difference") or {}, r["value_difference"]
        rows.append(
            {
                "trial": i,
                "estimator": r["estimator"],
                "params": ", ".join(f"{k}={v}" for k, v in sorted(r["params"].items())),
                "roc_auc": r["roc_auc"],
                "auc_diff": auc.get("estimate"),
                "auc_diff_low": auc.get("low"),
                "auc_diff_high": auc.get("high"),
                "value_per_app": r["value_per_application"],
                "value_diff_low": value["low"],
                "value_diff_high": value["high"],
                "calibration_slope": r["calibration_slope"],
                "seconds": r["seconds"],
                "winner": winner is not None and i == winner + 1,
            }
        )
    return rows
