"""Benchmark: time per daily partition, landing file -> raw -> features, with every check.

    uv run python bench/bench_ingest.py            # 5k and 50k rows a day
    uv run python bench/bench_ingest.py --rows 5000 --history 5

For each size it lands `history` days plus one, then measures in this run:
  warm    per-day time inside one process (Dagster run + GX suites + Parquet writes), days 2..N
  cold    one new day through `mlops run --only-new` in a fresh process: start-up, imports
          (Dagster, Great Expectations), definitions, the run
  floor   the same day read from CSV and written to Parquet by polars alone (the baseline)
and prints each as seconds and as a ratio to the floor.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import polars as pl  # noqa: E402

from mlops_assets.commands.runner import run_pipeline  # noqa: E402
from mlops_assets.config.settings import Settings  # noqa: E402
from mlops_assets.sources.simulator import land_day  # noqa: E402


def measure(rows: int, history: int, root: Path) -> dict:
    settings = Settings.resolve(home=root / f"rows{rows}")
    plan = settings.simulator_plan()
    for day in range(history + 1):
        land_day(plan, day, rows=rows)
    last = sorted(plan.landing.glob("*.csv"))[-1]
    last.rename(last.with_suffix(".hold"))  # keep the last day back for the cold run

    per_day = []
    summary = run_pipeline(settings, progress=lambda _: per_day.append(time.perf_counter()))
    assert summary["raw"]["materialized"] == history, summary["raw"]
    warm = [b - a for a, b in zip(per_day[:history], per_day[1:history], strict=False)]

    last.with_suffix(".hold").rename(last)
    started = time.perf_counter()
    subprocess.run(
        [
            str(Path(sys.executable).parent / "mlops"),
            "--home",
            str(settings.home),
            "run",
            "--only-new",
            "--json",
        ],
        check=True,
        capture_output=True,
    )
    cold = time.perf_counter() - started

    started = time.perf_counter()
    pl.read_csv(last).write_parquet(root / "floor.parquet")
    floor = time.perf_counter() - started
    return {"rows": rows, "warm": sum(warm) / len(warm), "cold": cold, "floor": floor}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[5000, 50000])
    parser.add_argument("--history", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = [measure(rows, args.history, Path(tmp)) for rows in args.rows]
    print(f"\n{' '.join(sys.argv)}  (history {args.history} days, {os.cpu_count()} cores)")
    print(
        f"{'rows/day':>9} {'warm s/day':>11} {'cold s/day':>11} {'floor s':>8} "
        f"{'warm/floor':>11} {'cold/floor':>11}"
    )
    for r in results:
        print(
            f"{r['rows']:>9} {r['warm']:>11.2f} {r['cold']:>11.2f} {r['floor']:>8.3f} "
            f"{r['warm'] / r['floor']:>10.0f}x {r['cold'] / r['floor']:>10.0f}x"
        )


if __name__ == "__main__":
    main()
