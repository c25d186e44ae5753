"""Benchmark: is a first model on little data promoted, and is it right when it is?

    uv run python bench/bench_first_model.py [--seeds 16] [--rows 100,150,400] [--days 30]

For each daily volume and seed, the lending simulator lands `--days` days (labels 7 days late,
so the first `days - 7` days are labelled, as `mlops run` would see them on the last day); the
platform's own functions then do what the train job does: `fit_model` on the labelled days
(capacity and calibration chosen on held-out day blocks), the walk-forward backtest with the
backtest asset's defaults (3 folds of 7 days, gap 7, at least 7 training days) and the gates
(`evaluate_gates`, no champion yet). A promoted model is then judged against the truth on 20,000
fresh applications of the days after: expected defaults by the truth over those by the model
and the calibration slope against the true probabilities (both within the gate's tolerance
[1/1.15, 1.15]), and its AUC next to the oracle's.

Prints, per volume: promoted (with a Wilson interval), the gate that refused the others, and the
promoted models' median O/E, slope, AUC and the estimators they chose.
"""

from __future__ import annotations

import argparse
import collections
import time

import bench_gates  # noqa: E402  (bench/ is on the path when run as a script)
import numpy as np
import polars as pl

from mlops_assets.compute.backtest import run_backtest, walk_forward_folds
from mlops_assets.compute.calibration import platt_fit
from mlops_assets.compute.features import LABEL, FeatureColumns
from mlops_assets.compute.fitting import fit_model
from mlops_assets.compute.gates import evaluate_gates, failed_gates
from mlops_assets.compute.ingest import DAY
from mlops_assets.compute.intervals import auc_interval, wilson
from mlops_assets.compute.training import Recipe, model_matrix
from mlops_assets.config.settings import BUILTIN_SPEC
from mlops_assets.config.spec import load_spec

DELAY = 7


def first_model(rows: int, days: int, seed: int, spec, columns, recipe: Recipe) -> dict:
    frame = bench_gates.labelled_days(0, days - DELAY, seed=seed, rows=rows)

    def fit(train: pl.DataFrame):
        model, _ = fit_model(train, columns, recipe)
        return lambda r: model.predict_proba(model_matrix(r, columns))[:, 1]

    folds = walk_forward_folds(sorted(frame[DAY].unique().to_list()), 3, 7, DELAY, 7)
    report, _ = run_backtest(frame, folds, fit, spec)
    report["gates"] = evaluate_gates(report, spec.gates)
    failed = failed_gates(report["gates"])
    model, info = fit_model(frame, columns, recipe)
    fresh = bench_gates.labelled_days(days, 10, seed=seed + 50_000, rows=2000)
    scores = model.predict_proba(model_matrix(fresh, columns))[:, 1]
    y, truth = fresh[LABEL].to_numpy(), fresh["true_default_probability"].to_numpy()
    # the calibration slope against the true probabilities themselves (a fractional-response
    # fit: no sampling noise of drawn outcomes)
    (_, slope), _ = platt_fit(truth, scores)
    return {
        "promoted": not failed,
        "failed": sorted(failed),
        "observed_to_expected": float(truth.sum() / scores.sum()),
        "slope": float(slope),
        "auc": auc_interval(y, scores).estimate,
        "oracle_auc": auc_interval(y, truth).estimate,
        "estimator": info["estimator"],
    }


def within(value: float, tolerance: float) -> bool:
    return 1 / (1 + tolerance) <= value <= 1 + tolerance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--rows", default="100,150,400")
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    spec = load_spec(BUILTIN_SPEC, home="/tmp/unused")  # its paths are never read here
    columns = FeatureColumns(bench_gates.NUMERIC, bench_gates.CATEGORICAL, ("age_band",))
    tolerance = spec.gates.calibration_tolerance
    started = time.perf_counter()
    print(f"first model on {args.days} days (labels {DELAY} days late), {args.seeds} seeds each")
    print(
        f"{'rows/day':>8} {'promoted (95% CI)':>22} {'refused by':>24} {'O/E vs truth':>13} "
        f"{'slope':>6} {'within':>7} {'AUC':>6} {'oracle':>7}  estimators"
    )
    for rows in (int(r) for r in args.rows.split(",")):
        results = [
            first_model(rows, args.days, seed, spec, columns, Recipe())
            for seed in range(args.seeds)
        ]
        promoted = [r for r in results if r["promoted"]]
        interval = wilson(len(promoted), len(results))
        refused = collections.Counter(g for r in results for g in r["failed"])
        ok = sum(
            within(r["observed_to_expected"], tolerance) and within(r["slope"], tolerance)
            for r in promoted
        )

        def median(key: str, among=promoted) -> float:
            return float(np.median([r[key] for r in among])) if among else float("nan")

        estimators = collections.Counter(r["estimator"] for r in promoted)
        print(
            f"{rows:>8} {len(promoted):>3}/{len(results)} ({interval.low:.0%}-{interval.high:.0%})"
            f"{'':>5} {', '.join(f'{g} {n}' for g, n in refused.items()) or '-':>24} "
            f"{median('observed_to_expected'):>13.3f} {median('slope'):>6.3f} "
            f"{ok:>3}/{len(promoted):<3} {median('auc'):>6.3f} {median('oracle_auc'):>7.3f}  "
            + ", ".join(f"{e} {n}" for e, n in estimators.items()),
            flush=True,
        )
    print(f"\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
