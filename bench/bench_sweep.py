"""Benchmark: a sweep's parallel efficiency on Ray Tune, and whether its winner earns at least
the default recipe's value against the truth.

    uv run python bench/bench_sweep.py [--seeds 5] [--rows 400] [--trials 16] [--repeats 3]

1. Parallel efficiency: on seed 0's data, the `--trials` trials of `compute.sweep` (each the
   walk-forward backtest of a drawn recipe, paired with the default recipe's) are scored one
   after the other in this process, then as Ray Tune trials (`defs.sweep_runner.run_trials`,
   one CPU each, a local Ray of all this machine's cores, started and stopped inside the timed
   span, as `mlops sweep` does), `--repeats` times. Efficiency = sequential wall time / (cores x
   Tune wall time); the trials' own time inside Tune is printed beside it.
2. The winner against the truth, per seed: the lending simulator's days of `--rows`
   applications (every outcome visible), 35 labelled days as the train job sees them on day 42;
   the sweep draws `--trials` recipes with the seed, picks its winner (`choose_winner`),
   re-checks it on the 7 holdout days, and a confirmed winner goes through the backtest and the
   gates against the default recipe, as the train job would. The model that ends up serving (the
   winner if promoted, else the default) and the default recipe, both fitted on the 35 days,
   then decide 20,000 fresh applications of the days after; each decision's value is taken in
   expectation under the true default probability (no outcome noise). Prints the difference per
   seed with a 95% interval (rows resampled) and its median over seeds, and beside it what a
   naive sweep would serve: the trial with the best backtest value per application, with no
   interval, no correction, no holdout and no gates.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import bench_gates  # noqa: E402  (bench/ is on the path when run as a script)
import numpy as np  # noqa: E402

from mlops_assets.compute.backtest import run_backtest, walk_forward_folds  # noqa: E402
from mlops_assets.compute.features import FeatureColumns  # noqa: E402
from mlops_assets.compute.fitting import fit_model, recipe_fitter  # noqa: E402
from mlops_assets.compute.gates import evaluate_gates, failed_gates  # noqa: E402
from mlops_assets.compute.ingest import DAY  # noqa: E402
from mlops_assets.compute.metrics import decision_threshold, row_values  # noqa: E402
from mlops_assets.compute.sweep import (  # noqa: E402
    SweepData,
    choose_winner,
    draw_recipes,
    recheck_on_holdout,
    score_baseline,
    score_recipe,
    split_holdout,
    sweep_folds,
)
from mlops_assets.compute.training import Recipe, model_matrix  # noqa: E402
from mlops_assets.config.settings import BUILTIN_SPEC  # noqa: E402
from mlops_assets.config.spec import load_spec  # noqa: E402
from mlops_assets.defs.sweep_runner import run_trials  # noqa: E402

DELAY, LABELLED_DAYS = 7, 35
COLUMNS = FeatureColumns(bench_gates.NUMERIC, bench_gates.CATEGORICAL, ("age_band",))


def prepare(seed: int, rows: int, trials: int, spec):
    """The seed's labelled days, its holdout's first day, the sweep's data (the folds before the
    holdout) and its drawn recipes; the baseline is the default recipe."""
    frame = bench_gates.labelled_days(0, LABELLED_DAYS, seed=seed, rows=rows)
    searched, holdout_first = split_holdout(frame, spec.experiments.holdout_days)
    data = SweepData(searched, sweep_folds(searched, spec, 3, 7, 7), COLUMNS, spec, trials)
    return frame, holdout_first, data, draw_recipes(spec.experiments, trials, seed)


def efficiency(args, spec) -> None:
    _, _, data, recipes = prepare(0, args.rows, args.trials, spec)
    cores = os.cpu_count()
    print(
        f"parallel efficiency: the baseline and {args.trials} trials at {args.rows} rows a day, "
        f"{cores} cores"
    )
    ratios = []
    for repeat in range(args.repeats):
        started = time.perf_counter()
        baseline = score_baseline(data, Recipe())
        for recipe in recipes:
            score_recipe(data, recipe, baseline)
        sequential = time.perf_counter() - started
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as storage:
            _, results = run_trials(
                data, lambda: score_baseline(data, Recipe()), recipes, Path(storage), "bench"
            )
        tune = time.perf_counter() - started
        busy = sum(r["seconds"] for r in results)  # the trials' own time, inside Tune
        ratios.append(sequential / (cores * tune))
        print(
            f"  run {repeat + 1}: sequential {sequential:6.1f} s, Ray Tune {tune:6.1f} s "
            f"(trials' own time {busy:6.1f} s): efficiency {ratios[-1]:.0%}"
        )
    print(f"  median efficiency: {statistics.median(ratios):.0%} (Ray's start and stop included)")


def winner_against_truth(seed: int, args, spec) -> dict:
    frame, holdout_first, data, recipes = prepare(seed, args.rows, args.trials, spec)
    baseline = score_baseline(data, Recipe())
    results = [score_recipe(data, r, baseline) for r in recipes]
    naive = max(range(len(results)), key=lambda i: results[i]["value_per_application"])
    winner = choose_winner(results, spec.gates.margin)
    outcome, final = "no winner", Recipe()
    if winner is not None:
        holdout = recheck_on_holdout(frame, holdout_first, COLUMNS, spec, recipes[winner], Recipe())
        outcome = "not confirmed on the holdout"
        if holdout["confirmed"]:
            days = sorted(frame[DAY].unique().to_list())
            folds = walk_forward_folds(days, 3, 7, DELAY, 7)
            fit = recipe_fitter(COLUMNS, recipes[winner])
            report, _ = run_backtest(frame, folds, fit, spec, recipe_fitter(COLUMNS, Recipe()))
            report["gates"] = evaluate_gates(report, spec.gates)
            failed = failed_gates(report["gates"])
            outcome = f"refused ({', '.join(failed)})" if failed else "promoted"
            final = Recipe() if failed else recipes[winner]
    fresh = bench_gates.labelled_days(LABELLED_DAYS + DELAY, 10, seed=seed + 50_000, rows=2000)
    truth = fresh["true_default_probability"].to_numpy()
    values = {
        name: expected_values(frame, fresh, truth, r, spec)
        for name, r in (("default", Recipe()), ("final", final), ("naive", recipes[naive]))
    }
    difference = values["final"] - values["default"]
    rng = np.random.default_rng(seed)
    draws = [
        difference[rng.integers(0, len(difference), len(difference))].mean() for _ in range(500)
    ]
    return {
        "seed": seed,
        "outcome": outcome,
        "winner": f"{recipes[winner].estimator} {recipes[winner].params}"
        if winner is not None
        else "-",
        "default": float(values["default"].mean()),
        "final": float(values["final"].mean()),
        "naive": float(values["naive"].mean()),
        "difference": float(difference.mean()),
        "low": float(np.quantile(draws, 0.025)),
        "high": float(np.quantile(draws, 0.975)),
    }


def expected_values(frame, fresh, truth: np.ndarray, recipe: Recipe, spec) -> np.ndarray:
    """Each fresh application's value under the recipe's model, in expectation under the truth."""
    model, _ = fit_model(frame, COLUMNS, recipe)
    scores = model.predict_proba(model_matrix(fresh, COLUMNS))[:, 1]
    return row_values(truth, scores, decision_threshold(spec)["threshold"], spec.value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-efficiency", action="store_true")
    parser.add_argument("--skip-truth", action="store_true")
    args = parser.parse_args()
    spec = load_spec(BUILTIN_SPEC, home="/tmp/unused")  # its paths are never read here
    if not args.skip_efficiency:
        efficiency(args, spec)
    if args.skip_truth:
        return
    print(f"the sweep's winner against the truth: {args.trials} trials, {args.rows} rows a day")
    print(
        f"{'seed':>4}  {'outcome':<34} {'default':>8} {'final':>8}  {'difference [95%]':<26} "
        f"{'naive':>8}  winner"
    )
    results = []
    for seed in range(args.seeds):
        r = winner_against_truth(seed, args, spec)
        results.append(r)
        print(
            f"{r['seed']:>4}  {r['outcome']:<34} {r['default']:8.2f} {r['final']:8.2f}  "
            f"{r['difference']:+7.2f} [{r['low']:+.2f}, {r['high']:+.2f}]{'':<6} "
            f"{r['naive']:8.2f}  {r['winner']}",
            flush=True,
        )
    median = statistics.median(r["difference"] for r in results)
    worse = sum(r["high"] < 0 for r in results)
    naive = statistics.median(r["naive"] - r["default"] for r in results)
    print(
        f"median difference (final - default) per application: {median:+.2f}; "
        f"seeds worse beyond noise: {worse}/{len(results)}; the naive sweep's: {naive:+.2f}"
    )


if __name__ == "__main__":
    main()
