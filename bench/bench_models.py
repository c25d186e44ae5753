"""Benchmark: the champion's quality next to the oracle (the simulator's true probabilities).

    uv run python bench/bench_models.py                 # 60 days x 2000 applications
    uv run python bench/bench_models.py --days 60 --rows 2000 --scenario none

Lands the simulator's days, runs the whole graph headless (ingest, features, training set,
candidate, walk-forward backtest, gates, champion), then scores the applications whose labels
have not landed yet (the last `delay_days` days: out of time for every model) with the champion
and compares, on the same rows and realized outcomes, with the oracle's true default
probabilities: ROC AUC, ECE, and the value of the decision rule at each one's optimal threshold.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import polars as pl  # noqa: E402

from mlops_assets.commands.runner import run_pipeline  # noqa: E402
from mlops_assets.compute.metrics import classification_metrics, optimal_threshold  # noqa: E402
from mlops_assets.compute.training import model_matrix  # noqa: E402
from mlops_assets.config.settings import Settings  # noqa: E402
from mlops_assets.defs.registry import registry_for  # noqa: E402
from mlops_assets.defs.resources import DatasetResource  # noqa: E402
from mlops_assets.sources.simulator import Scenario, land_day  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--scenario", default="none")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.resolve(home=Path(tmp) / "home")
        plan = settings.simulator_plan()
        for day in range(args.days):
            land_day(plan, day, rows=args.rows, seed=args.seed, scenario=Scenario(args.scenario))
        started = time.perf_counter()
        summary = run_pipeline(settings)
        elapsed = time.perf_counter() - started
        dataset = DatasetResource(spec_path=str(settings.dataset_spec), home=str(settings.home))
        spec = dataset.spec
        registry = registry_for(settings, spec)
        version = registry.champion_version()
        model = registry.load(version)
        unlabelled = dataset.partitions("features")[-spec.target.delay_days :]
        rows = pl.concat([dataset.read("features", d) for d in unlabelled])
        truth = pl.concat([pl.read_parquet(plan.ground_truth / f"{d}.parquet") for d in unlabelled])
        rows = rows.join(truth, on="application_id")
        score = model.predict_proba(model_matrix(rows, dataset.feature_columns()))[:, 1]
        y, oracle = rows["defaulted"].to_numpy(), rows["true_default_probability"].to_numpy()
        ours, best = classification_metrics(y, score), classification_metrics(y, oracle)
        value_ours = optimal_threshold(y, score, spec.value)
        value_oracle = optimal_threshold(y, oracle, spec.value)

    backtest = summary["model"]["candidate"]["backtest"]
    print(
        f"\nbench/bench_models.py --days {args.days} --rows {args.rows} "
        f"--scenario {args.scenario} --seed {args.seed}"
    )
    print(f"whole graph headless: {elapsed:.0f} s; champion {registry.model_name} v{version}")
    print(
        f"walk-forward backtest (candidate): AUC {backtest['roc_auc']:.4f}  "
        f"ECE {backtest['ece']:.4f}  on {backtest['rows']} rows"
    )
    print(f"out of time, {len(unlabelled)} unlabelled days, {len(y)} applications:")
    print(f"{'':>10} {'ROC AUC':>8} {'ECE':>7} {'Brier':>7} {'value/app':>10} {'threshold':>10}")
    for name, m, v in (("champion", ours, value_ours), ("oracle", best, value_oracle)):
        print(
            f"{name:>10} {m['roc_auc']:>8.4f} {m['ece']:>7.4f} {m['brier']:>7.4f} "
            f"{v['value_per_row']:>10.2f} {v['threshold']:>10.4f}"
        )
    print(
        f"{'gap':>10} {ours['roc_auc'] - best['roc_auc']:>+8.4f} "
        f"{ours['ece'] - best['ece']:>+7.4f} {ours['brier'] - best['brier']:>+7.4f} "
        f"{value_ours['value_per_row'] - value_oracle['value_per_row']:>+10.2f}"
    )


if __name__ == "__main__":
    main()
