"""Benchmark: the drift report on 1,000,000 reference + 1,000,000 current rows x 25 columns, beside
NannyML's and Evidently's on the same frames, and ours out of core on 10,000,000 + 10,000,000.

    UV_COMPILE_BYTECODE=1 uv run --group bench-peers python bench/bench_drift.py
        [--rows 1000000] [--stream-rows 10000000] [--skip-stream] [--json FILE]
    uv run python bench/bench_drift.py --skip-peers [--skip-stream]      # ours only

The peers are the `bench-peers` dependency group of pyproject.toml (NannyML 0.13.1, Evidently
0.7.23, in the project's lock): `uv run --group bench-peers` installs them into .venv (`make
install` leaves them out, and its `uv sync` removes them again; compiled bytecode only shortens
their imports, which are timed apart). `bench/drift_peers.py` says how each is configured: their
documented defaults, the whole current frame against the whole reference.

Writes the two frames (20 numeric columns with 2% nulls, 5 categorical; x3, x11 and c2 shifted)
to Parquet, then runs each library in a fresh process, one after the other, so that each peak
RSS is that library's alone: the time to read both files, the time of the report from the raw
frames (ours: the reference summary, the per-column report and the domain classifier), and the
verdict per column. Then writes 10M + 10M rows chunk by chunk and runs our report streamed from
the files (`pl.scan_parquet`, read a column at a time), with its peak RSS.
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
from importlib.util import find_spec
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

NUMERIC = [f"x{i}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(5)]
COLUMNS = NUMERIC + CATEGORICAL
SHIFTED = {"x3", "x11", "c2"}
CHUNK = 1_000_000  # rows generated at a time for the out-of-core files


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


def write_frames(folder: Path, rows: int) -> None:
    """Reference and current, `CHUNK` rows at a time: one row group each, never all in memory."""
    import pyarrow.parquet as pq

    for name, shifted, seed in (("reference", set(), 1), ("current", SHIFTED, 2)):
        writer = None
        for k, start in enumerate(range(0, rows, CHUNK)):
            table = frame(min(CHUNK, rows - start), shifted, seed + 1000 * k).to_arrow()
            writer = writer or pq.ParquetWriter(folder / f"{name}.parquet", table.schema)
            writer.write_table(table)
        writer.close()


def ours(folder: Path, streamed: bool) -> dict:
    from mlops_assets.compute.domain import domain_classifier_auc
    from mlops_assets.compute.drift import column_drift, fit_reference

    timings = {}
    t = time.perf_counter()
    load = pl.scan_parquet if streamed else pl.read_parquet  # streamed: each stage reads its own
    reference, current = load(folder / "reference.parquet"), load(folder / "current.parquet")
    if not streamed:
        timings["read"] = time.perf_counter() - t
    t = time.perf_counter()
    summary = fit_reference(reference, NUMERIC, CATEGORICAL)
    timings["reference summary"] = time.perf_counter() - t
    t = time.perf_counter()
    table = column_drift(summary, current)
    timings["per-column report"] = time.perf_counter() - t
    t = time.perf_counter()
    auc = domain_classifier_auc(reference, current, COLUMNS, CATEGORICAL)
    timings["domain classifier"] = time.perf_counter() - t
    timings["report"] = sum(timings[k] for k in list(timings)[-3:])
    return {
        "timings": timings,
        "verdicts": dict(zip(table["column"], table["drifted"], strict=True)),
        "domain_auc": auc,
    }


def measure(library: str, folder: Path) -> None:
    """In the fresh process: run one library, print its result and this process's peak RSS."""
    import drift_peers

    if library in ("ours", "ours-streamed"):
        out = ours(folder, streamed=library == "ours-streamed")
    else:
        out = getattr(drift_peers, library)(folder, NUMERIC, CATEGORICAL)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def run(library: str, folder: Path) -> dict:
    import drift_peers

    print(f"  {library}: running in a fresh process...", flush=True)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, __file__, "--measure", library, str(folder)],
        capture_output=True,
        text=True,
        env={**os.environ, **drift_peers.TELEMETRY_OFF},
    )
    if result.returncode != 0:
        sys.exit(f"{library} failed:\n{result.stderr[-4000:]}")
    out = json.loads(result.stdout.strip().splitlines()[-1])
    out["process_s"] = time.perf_counter() - started
    out["flagged"] = sorted(c for c, drifted in out["verdicts"].items() if drifted)
    for stage, seconds in out["timings"].items():
        print(f"    {stage:20s} {seconds:7.2f} s")
    print(
        f"    peak RSS {out['peak_rss_mb']:,.0f} MB, whole process {out['process_s']:.1f} s; "
        f"flagged {len(out['flagged'])}: {', '.join(out['flagged'])}",
        flush=True,
    )
    if out.get("thresholds"):  # NannyML's, from the metric's spread over the reference's chunks
        limits = ", ".join(f"{m} {max(v):.2g}" for m, v in out["thresholds"].items())
        print(f"    alert thresholds (upper, at most): {limits}")
    return out


def compare(results: dict) -> None:
    """Ratios to ours, and each library's verdicts on the shifted and the unshifted columns."""
    print(
        f"\n{'':10s} {'report':>9s} {'read+report':>12s} {'peak RSS':>9s} "
        f"{'shifted flagged':>16s} {'unshifted flagged':>18s}"
    )
    for library, out in results.items():
        t = out["timings"]
        shifted = [c for c in sorted(SHIFTED) if out["verdicts"][c]]
        unshifted = [c for c in out["flagged"] if c not in SHIFTED]
        print(
            f"{library:10s} {t['report']:8.2f}s {t['read'] + t['report']:11.2f}s "
            f"{out['peak_rss_mb']:6,.0f} MB {len(shifted):>12d} of 3 "
            f"{len(unshifted):>10d} of {len(COLUMNS) - len(SHIFTED)}"
        )
    base = results["ours"]["timings"]
    univariate = base["reference summary"] + base["per-column report"]
    print(f"(ours without the domain classifier, which the peers do not run: {univariate:.2f} s)")
    for library, out in results.items():
        if library == "ours":
            continue
        t = out["timings"]
        agree = all(out["verdicts"][c] == results["ours"]["verdicts"][c] for c in SHIFTED)
        print(
            f"{library} / ours: report {t['report'] / base['report']:.1f}x "
            f"({t['report'] / univariate:.1f}x without our classifier), read + report "
            f"{(t['read'] + t['report']) / (base['read'] + base['report']):.1f}x; verdicts on "
            f"{', '.join(sorted(SHIFTED))} {'agree' if agree else 'DIFFER'} with ours"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per side (1,000,000)")
    parser.add_argument("--stream-rows", type=int, default=10_000_000, help="out of core, per side")
    parser.add_argument("--skip-peers", action="store_true", help="ours only, no NannyML/Evidently")
    parser.add_argument("--skip-stream", action="store_true", help="no out-of-core run")
    parser.add_argument("--json", type=Path, help="also write every result to this file")
    parser.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure[0], Path(args.measure[1]))
        return
    peers = [] if args.skip_peers else ["nannyml", "evidently"]
    missing = [p for p in peers if find_spec(p) is None]
    if missing:
        sys.exit(
            f"not installed: {', '.join(missing)}. Run `uv run --group bench-peers python "
            "bench/bench_drift.py`, or pass --skip-peers."
        )
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        print(f"writing {args.rows:,} + {args.rows:,} rows x 25 columns to Parquet...", flush=True)
        write_frames(Path(tmp), args.rows)
        for library in ["ours", *peers]:
            results[library] = run(library, Path(tmp))
    compare(results)
    if not args.skip_stream:
        with tempfile.TemporaryDirectory() as tmp:
            n = args.stream_rows
            print(f"writing {n:,} + {n:,} rows, {CHUNK:,} at a time, to Parquet...", flush=True)
            write_frames(Path(tmp), n)
            print("ours, out of core (pl.scan_parquet, a column at a time):", flush=True)
            results["ours-streamed"] = run("ours-streamed", Path(tmp))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
