"""Benchmark: the lake on a local folder and on S3 (a moto server on 127.0.0.1, started here).

uv run python bench/bench_lake.py [--days 60] [--rows 1000] [--repeats 5]

Per backend, the median over `--repeats` of: writing `--days` daily partitions (one
`write_frame` each), listing them, scanning them all (`read_partitions(...).collect()`, one
missing day included) and reading one (`read_frame`). moto answers in-process, so the S3 numbers
are the client's cost (s3fs, one request per object, one concurrent batch per scan), not a real
network's latency.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import socket
import statistics
import tempfile
import time

import dagster as dg
import numpy as np
import polars as pl

from mlops_assets.config.storage import as_location
from mlops_assets.defs.lake import partition_path, read_frame, read_partitions, write_frame

KEY = dg.AssetKey(["bench", "features"])


def frame(day: int, rows: int) -> pl.DataFrame:
    rng = np.random.default_rng(day)
    columns = {f"x{i}": rng.normal(size=rows) for i in range(20)}
    return pl.DataFrame({"id": [f"{day}-{i}" for i in range(rows)], **columns})


def measure(root, days: list[str], frames: list[pl.DataFrame]) -> dict[str, float]:
    timings = {}
    started = time.perf_counter()
    for day, data in zip(days, frames, strict=True):
        write_frame(data, partition_path(root, KEY, day))
    timings["write all"] = time.perf_counter() - started
    started = time.perf_counter()
    listed = sorted(p.stem for p in root.joinpath(*KEY.path).glob("????-??-??.parquet"))
    timings["list"] = time.perf_counter() - started
    assert listed == days
    started = time.perf_counter()
    scanned = read_partitions(root, KEY, [*days, "2099-01-01"]).collect()
    timings["scan all"] = time.perf_counter() - started
    assert scanned.height == sum(f.height for f in frames)
    started = time.perf_counter()
    read_frame(root, KEY, days[-1])
    timings["read one"] = time.perf_counter() - started
    return timings


def moto_root() -> tuple[object, str]:
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
    )
    import boto3

    boto3.client("s3").create_bucket(Bucket="bench")
    return server, "s3://bench/lake"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    start = dt.date(2025, 1, 1)
    days = [str(start + dt.timedelta(days=k)) for k in range(args.days)]
    frames = [frame(k, args.rows) for k in range(args.days)]
    server, url = moto_root()
    try:
        with tempfile.TemporaryDirectory() as folder:
            print(f"{args.days} partitions of {args.rows} rows, median of {args.repeats} runs")
            for name, location in (("local", folder), ("s3 (moto)", url)):
                runs = [
                    measure(as_location(f"{location}/run{r}"), days, frames)
                    for r in range(args.repeats)
                ]
                cells = "  ".join(
                    f"{step} {statistics.median(r[step] for r in runs) * 1000:8.1f} ms"
                    for step in runs[0]
                )
                print(f"{name:10} {cells}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
