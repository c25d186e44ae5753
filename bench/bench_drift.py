"""Benchmark: the drift report on 1,000,000 reference + 1,000,000 current rows x 25 columns.

    uv run python bench/bench_drift.py [--rows 1000000]

Writes the two frames (20 numeric columns with nulls, 5 categorical; 3 columns shifted) to
Parquet, then measures in a fresh process: reading them, summarizing the reference (done once per
champion), the per-column report (PSI, KS, Wasserstein, JS, chi-square / Cramér's V) and the
domain classifier, with wall time per stage and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

NUMERIC = [f"x{i}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(5)]
SHIFTED = {"x3", "x11", "c2"}


def frame(n: int, shifted: set[str], seed: int) -> pl.DataFrame:
    r = np.random.default_rng(seed)
    data = {}
    for i, name in enumerate(NUMERIC):
        values = r.normal(10 + i, 1 + i / 10, size=n) + (
            0.5 * (1 + i / 10) if name in shifted else 0
        )
        data[name] = pl.Series(name, values).set(pl.Series(r.random(n) < 0.02), None)
    for name in CATEGORICAL:
        shares = [0.2, 0.3, 0.2, 0.3] if name in shifted else [0.4, 0.3, 0.2, 0.1]
        data[name] = r.choice(["a", "b", "c", "d"], size=n, p=shares)
    return pl.DataFrame(data)


def measure(folder: Path) -> None:
    from mlops_assets.compute.domain import domain_classifier_auc
    from mlops_assets.compute.drift import column_drift, fit_reference

    timings = {}
    started = time.perf_counter()
    reference = pl.read_parquet(folder / "reference.parquet")
    current = pl.read_parquet(folder / "current.parquet")
    timings["read"] = time.perf_counter() - started
    t = time.perf_counter()
    summary = fit_reference(reference, NUMERIC, CATEGORICAL)
    timings["reference summary (once per champion)"] = time.perf_counter() - t
    t = time.perf_counter()
    table = column_drift(summary, current)
    timings["per-column report"] = time.perf_counter() - t
    t = time.perf_counter()
    auc = domain_classifier_auc(reference, current, NUMERIC + CATEGORICAL, CATEGORICAL)
    timings["domain classifier"] = time.perf_counter() - t
    timings["report (per-column + classifier)"] = (
        timings["per-column report"] + timings["domain classifier"]
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "timings": timings,
                "peak_rss_mb": peak_mb,
                "flagged": sorted(table.filter(pl.col("drifted"))["column"]),
                "domain_auc": auc,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(Path(args.measure))
        return
    with tempfile.TemporaryDirectory() as tmp:
        print(f"writing {args.rows:,} + {args.rows:,} rows x 25 columns...", flush=True)
        frame(args.rows, set(), 1).write_parquet(Path(tmp) / "reference.parquet")
        frame(args.rows, SHIFTED, 2).write_parquet(Path(tmp) / "current.parquet")
        result = subprocess.run(
            [sys.executable, __file__, "--measure", tmp], capture_output=True, text=True, check=True
        )
    out = json.loads(result.stdout.strip().splitlines()[-1])
    for stage, seconds in out["timings"].items():
        print(f"  {stage:40s} {seconds:6.2f} s")
    print(
        f"  peak RSS of the measuring process       {out['peak_rss_mb']:6.0f} MB "
        "(includes both frames in memory)"
    )
    print(
        f"  flagged columns: {out['flagged']} (shifted: {sorted(SHIFTED)}); "
        f"domain classifier AUC {out['domain_auc']:.3f}"
    )


if __name__ == "__main__":
    main()
