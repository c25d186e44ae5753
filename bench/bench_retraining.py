"""Benchmark: detection delay and the value of closed-loop retraining under concept drift.

uv run python bench/bench_retraining.py [--rows 1000] [--days 70] [--drift-day 40]
    [--scenario concept_drift] [--seeds 1] [--first-seed 7] [--no-schedules]

Lands a simulator scenario (default `concept_drift`) day by day, each day just before the
platform's daily chain runs it (selective labels: outcomes land only for the applications that
the platform's decisions approved, the control group included). Trains the first champion on day
drift_day - 6 and evaluates the retrain sensors after it every day, and runs the weekly retrain
on its schedule's ticks as the daemon would (`--no-schedules`: the sensors alone;
`mlops_assets.commands.replay`). Prints
the detection delay (days from drift onset to the first retrain request), what each retrain did,
the count of signal-driven retrains, and the value per application of the final champion, of the
first champion, and of the simulator's oracle (true probabilities) on the last `delay_days`
applications (out of time for every model), each at its own value-optimal threshold.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("MLOPS_SERVING_URL", "http://127.0.0.1:1")  # no endpoint: record only

import polars as pl  # noqa: E402

from mlops_assets.commands.replay import replay  # noqa: E402
from mlops_assets.compute.metrics import optimal_threshold  # noqa: E402
from mlops_assets.config.settings import Settings  # noqa: E402
from mlops_assets.sources.simulator import Scenario, land_day  # noqa: E402
from serving.model import load_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--days", type=int, default=70)
    parser.add_argument("--drift-day", type=int, default=40)
    parser.add_argument("--scenario", default="concept_drift", help="or none, data_drift, both")
    parser.add_argument("--seeds", type=int, default=1, help="simulator seeds 7, 8, ...")
    parser.add_argument("--first-seed", type=int, default=7, help="start the seeds here")
    parser.add_argument(
        "--no-schedules", action="store_true", help="no weekly retrain: the sensors alone"
    )
    args = parser.parse_args()
    runs = [run(args, seed) for seed in range(args.first_seed, args.first_seed + args.seeds)]
    if len(runs) > 1:
        delays = [r["delay"] for r in runs if r["delay"] is not None]
        print(f"\nover {len(runs)} seeds: detection delays {[r['delay'] for r in runs]}")
        if delays:
            print(f"  median detection delay {statistics.median(delays)} days")
        shares = [r["share"] for r in runs]
        print(
            f"  final champion's share of the oracle's value per application: "
            f"{', '.join(f'{s:.0%}' for s in shares)}; median {statistics.median(shares):.0%}"
        )


def run(args, seed: int) -> dict:
    """One replay of the scenario with simulator seed `seed`: what it prints, and its figures."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.resolve(home=Path(tmp) / "home")
        plan = settings.simulator_plan()
        scenario = Scenario(args.scenario, args.drift_day)
        started = time.perf_counter()
        print(f"seed {seed}: replaying {args.days} days x {args.rows} applications...", flush=True)
        start = plan.start
        train_day = start + dt.timedelta(days=args.drift_day - 6)

        def land(day: str) -> None:  # each day lands as the business reacts to the decisions
            index = (dt.date.fromisoformat(day) - start).days
            land_day(plan, index, rows=args.rows, seed=seed, scenario=scenario)

        history = replay(
            settings,
            train_day=train_day.isoformat(),
            last_day=(start + dt.timedelta(days=args.days - 1)).isoformat(),
            progress=lambda line: print("  " + line, flush=True),
            land=land,
            schedules=not args.no_schedules,
        )
        drift_date = start + dt.timedelta(days=args.drift_day)
        signals = [r for r in history["retrains"] if r["trigger"] in ("drift", "performance")]
        print(
            f"\nreplayed in {time.perf_counter() - started:.0f} s, of which evaluating the "
            f"sensors daily {history['sensor_seconds']:.0f} s; drift began {drift_date}"
        )
        delay = None
        if signals:
            first = dt.date.fromisoformat(signals[0]["day"])
            delay = (first - drift_date).days
            print(
                f"detection delay: {delay} days "
                f"(first {signals[0]['trigger']} signal on {first}: {signals[0]['reason']})"
            )
        else:
            print("detection delay: no signal")
        after = (start + dt.timedelta(days=args.days - 1) - train_day).days
        print(
            f"signal-driven retrains over the {after} days after the first champion: {len(signals)}"
        )
        for r in history["retrains"]:
            print(
                f"  retrain {r['day']} ({r['trigger']}): "
                f"{'promoted' if r['promoted'] else 'not promoted'}, champion v{r['champion']}"
            )
            for gate, reason in r.get("refused_by", {}).items():
                print(f"    refused by {gate}: {reason}")
        share = value_table(settings, plan, history)
    return {"delay": delay, "signals": len(signals), "share": share}


def value_table(settings, plan, history) -> float:
    from mlops_assets.config.spec import load_spec
    from mlops_assets.defs.registry import registry_for

    spec = load_spec(settings.dataset_spec, home=settings.home)
    registry = registry_for(settings, spec)
    raw_days = sorted(p.stem for p in (settings.lake / spec.name / "raw").glob("*.parquet"))
    last = raw_days[-spec.target.delay_days :]
    raw = pl.concat(
        [pl.read_parquet(settings.lake / spec.name / "raw" / f"{d}.parquet") for d in last]
    )
    truth = pl.concat([pl.read_parquet(plan.ground_truth / f"{d}.parquet") for d in last])
    rows = raw.join(truth, on="application_id")
    y = rows["defaulted"].to_numpy() if "defaulted" in rows.columns else None
    if y is None:  # labels of the last days have not landed: draw them from the truth
        import numpy as np

        y = (
            np.random.default_rng(0).random(rows.height)
            < rows["true_default_probability"].to_numpy()
        ).astype(int)
    print(f"\nvalue per application on the last {len(last)} days ({rows.height} applications):")
    candidates = {
        f"first champion v{history['first_champion']}": history["first_champion"],
        f"final champion v{history['last_champion']}": history["last_champion"],
    }
    oracle = optimal_threshold(y, rows["true_default_probability"].to_numpy(), spec.value)
    for name, version in candidates.items():
        model = load_model(registry.tracking_uri, registry.model_name, version, None)
        best = optimal_threshold(y, model.score(rows), spec.value)
        share = best["value_per_row"] / oracle["value_per_row"]
        print(f"  {name:24s} {best['value_per_row']:8.2f}  ({share:.0%} of the oracle)")
    print(f"  {'oracle':24s} {oracle['value_per_row']:8.2f}")
    return share  # the final champion's


if __name__ == "__main__":
    main()
