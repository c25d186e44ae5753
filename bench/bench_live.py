"""Benchmark: does the live platform keep up with its own clock?

    uv run python bench/bench_live.py                 # 30 minutes of `mlops up`, defaults
    uv run python bench/bench_live.py --minutes 10 --rows 500

Runs `mlops up` (default interval, backfill and rows) on a scratch home and loopback ports for
`--minutes`, then stops it with Ctrl-C (SIGINT) and reads the Dagster instance. For every day the
simulator landed live (after the backfill), it prints how many seconds after the landing file
appeared the day's `drift_report`, `kpis` and `performance` (of the outcomes that landed with it)
were materialized, whether that lag grows (median of the first third of the live days against
the last third), and where the time of a day's run goes: the sensor's pickup, the launch of the
run process, its start-up (imports) and each step.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import dagster as dg

from mlops_assets.config.settings import Settings

ASSETS = ("drift_report", "kpis", "performance")
PORTS = {"--dagster-port": 3310, "--mlflow-port": 5310, "--serve-port": 8310}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="live time after start (30)")
    parser.add_argument("--rows", type=int, help="applications a day (mlops up's default)")
    parser.add_argument("--backfill-days", type=int, help="history first (mlops up's default)")
    parser.add_argument("--home", help="home folder (default: a scratch folder)")
    parser.add_argument(
        "--report-only", action="store_true", help="only read the instance of --home's last run"
    )
    args = parser.parse_args()
    home = Path(args.home or tempfile.mkdtemp(prefix="bench-live-")) / "home"
    if args.report_only:
        report(Settings.resolve(home=home))
        return
    command = [str(Path(sys.executable).parent / "mlops"), "--home", str(home), "up"]
    command += [str(x) for pair in PORTS.items() for x in pair]
    for flag, value in (("--rows", args.rows), ("--backfill-days", args.backfill_days)):
        if value:
            command += [flag, str(value)]
    print(f"$ {' '.join(command)}  (for {args.minutes:g} min)", flush=True)
    run_platform(command, args.minutes * 60)
    report(Settings.resolve(home=home))


def run_platform(command: list[str], seconds: float) -> None:
    """Run `mlops up` for `seconds` after its daemon started, then stop it as Ctrl-C would."""
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    started: list[float] = []

    def read() -> None:
        for line in process.stdout:
            if "Dagster daemon" in line and not started:
                started.append(time.time())
                print(line.rstrip(), flush=True)
            if "error" in line.lower() or "backfill done" in line:
                print(line.rstrip(), flush=True)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        while not started and process.poll() is None:  # the backfill and servers first
            time.sleep(2)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(5)
        if process.poll() is not None:
            raise SystemExit(f"mlops up exited with status {process.returncode}")
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=180)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        reader.join(timeout=10)
    if not started:
        raise SystemExit("the platform never started its daemon")


def report(settings: Settings) -> None:
    """Lags of the days the landing sensor picked up (landing time: the file's mtime)."""
    instance = dg.DagsterInstance.from_config(str(settings.dagster_home))
    spec_name = "lending"
    live = {
        r.tags["dagster/partition"]
        for r in instance.get_runs(dg.RunsFilter(job_name=f"{spec_name}_daily"))
        if "mlops/landed" in r.tags and "raw" in r.tags["mlops/landed"]
    }
    folder = settings.home / "landing" / spec_name
    landed = {d: (folder / f"{d}.csv").stat().st_mtime for d in live}
    days = sorted(landed)
    print(f"\n{len(days)} days landed live and picked up by the landing sensor")
    done = {a: _first_materialized(instance, [spec_name, a]) for a in ASSETS}
    lags = {a: {d: done[a][d] - landed[d] for d in days if d in done[a]} for a in ASSETS}
    print("day          " + "".join(f"{a:>14}" for a in ASSETS))
    for day in days:
        cells = "".join(
            f"{lags[a][day]:>13.1f}s" if day in lags[a] else f"{'-':>14}" for a in ASSETS
        )
        print(f"{day}   {cells}")
    for asset in ASSETS:
        values = [lags[asset][d] for d in days if d in lags[asset]]
        missing = len(days) - len(values)
        if not values:
            print(f"{asset}: none materialized")
            continue
        third = max(1, len(values) // 3)
        print(
            f"{asset}: median {statistics.median(values):.1f} s, max {max(values):.1f} s, "
            f"within 60 s {sum(v <= 60 for v in values)}/{len(values)}; first third median "
            f"{statistics.median(values[:third]):.1f} s, last third "
            f"{statistics.median(values[-third:]):.1f} s; {missing} not yet materialized at stop"
        )
    _time_per_run(instance, f"{spec_name}_daily", landed)


def _first_materialized(instance, key: list[str]) -> dict[str, float]:
    records = instance.fetch_materializations(dg.AssetKey(key), limit=10_000).records
    first: dict[str, float] = {}
    for record in records:
        partition = record.asset_materialization.partition
        if partition and (partition not in first or record.timestamp < first[partition]):
            first[partition] = record.timestamp
    return first


def _time_per_run(instance, job: str, landed: dict[str, float]) -> None:
    """Medians over the live days' daily runs: pickup, launch, start-up and each step."""
    parts: dict[str, list[float]] = {}
    for record in instance.get_run_records(dg.RunsFilter(job_name=job)):
        run = record.dagster_run
        day = run.tags.get("dagster/partition")
        if day not in landed or not record.start_time or not record.end_time:
            continue
        steps = instance.get_run_step_stats(run.run_id)
        first_step = min((s.start_time for s in steps if s.start_time), default=None)
        timings = {
            "sensor pickup (landing -> run created)": record.create_timestamp.timestamp()
            - landed[day],
            "launch (created -> run process started)": record.start_time
            - record.create_timestamp.timestamp(),
            "start-up (process start -> first step)": (first_step or record.end_time)
            - record.start_time,
            "whole run": record.end_time - record.start_time,
        }
        for step in steps:
            if step.start_time and step.end_time:
                timings[f"step {step.step_key}"] = step.end_time - step.start_time
        for name, seconds in timings.items():
            parts.setdefault(name, []).append(seconds)
    if not parts:
        print("no live daily runs finished")
        return
    print(f"\nwhere a live day's time goes (median over {len(parts['whole run'])} runs):")
    for name, values in parts.items():
        print(f"  {name:<52} {statistics.median(values):7.2f} s")


if __name__ == "__main__":
    main()
