"""Faults on the way to the lake: a run killed mid-materialization and re-run gives the same bytes;
a full or read-only disk gives an error naming the file, and leaves no partial file."""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.commands.execution import execute, instance_for
from mlops_assets.commands.runner import run_pipeline
from mlops_assets.config.settings import Settings
from mlops_assets.defs.platform import build_definitions
from tests.conftest import land

pytestmark = pytest.mark.slow
MLOPS = str(Path(sys.executable).parent / "mlops")


def lake_files(settings: Settings) -> dict[str, str]:
    """Every file in the lake (temp files included) with its SHA-256."""
    return {
        str(p.relative_to(settings.lake)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(settings.lake.rglob("*"))
        if p.is_file()
    }


def test_a_run_killed_mid_materialization_and_rerun_gives_identical_outputs(tmp_path):
    clean = Settings.resolve(home=tmp_path / "clean")
    land(clean, range(8))
    killed = Settings.resolve(home=tmp_path / "killed")
    shutil.copytree(clean.home / "landing", killed.home / "landing")
    run_pipeline(clean, train=False)

    env = {**os.environ, **killed.env()}
    run = subprocess.Popen(
        [MLOPS, "--home", str(killed.home), "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    features = killed.lake / "lending" / "features"
    deadline = time.monotonic() + 180
    while len(list(features.glob("*.parquet"))) < 3:  # some days done, others in flight
        assert run.poll() is None and time.monotonic() < deadline, "the run ended before the kill"
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    interrupted = len(list(features.glob("*.parquet")))
    assert interrupted < 8

    rerun = subprocess.run(
        [MLOPS, "--home", str(killed.home), "run"], env=env, capture_output=True, text=True
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    expected = {k: v for k, v in lake_files(clean).items() if "/features/" in k or "/raw/" in k}
    actual = {k: v for k, v in lake_files(killed).items() if "/features/" in k or "/raw/" in k}
    assert actual == expected, f"killed after {interrupted} feature days"
    assert not [k for k in lake_files(killed) if k.endswith(".tmp")]


def test_ctrl_c_stops_a_headless_run_mid_backfill(tmp_path):
    """Dagster records a SIGINT inside a step as an interrupted step; `mlops run` must stop
    there, not go on to the next day."""
    settings = Settings.resolve(home=tmp_path / "home")
    land(settings, range(8))
    run = subprocess.Popen(
        [MLOPS, "--home", str(settings.home), "run"],
        env={**os.environ, **settings.env()},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    raw = settings.lake / "lending" / "raw"
    deadline = time.monotonic() + 180
    while len(list(raw.glob("*.parquet"))) < 2:  # inside the backfill
        assert run.poll() is None and time.monotonic() < deadline, "the run ended before Ctrl-C"
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGINT)
    assert run.wait(timeout=60) == 130
    assert len(list(raw.glob("*.parquet"))) < 8


@pytest.fixture
def small_disk(settings):
    """The lake on a 2 MB tmpfs (needs the right to mount, as root in CI)."""
    settings.lake.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(settings.lake)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    yield settings
    subprocess.run(["umount", "-l", str(settings.lake)], check=True)


def ingest(settings: Settings, day: str):
    assets = [dg.AssetKey(["lending", a]) for a in ("raw", "features")]
    return execute(
        build_definitions(settings), instance_for(settings), "lending_daily", day, assets
    )


def failure_message(result) -> str:
    """The step failure's message with the messages of its causes."""
    error = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error
    messages = []
    while error is not None:
        messages.append(error.message)
        error = error.cause
    return " <- ".join(messages)


def test_a_full_disk_names_the_file_and_leaves_no_partial_partition(small_disk):
    land(small_disk, range(1))
    # leave 8 KB free: less than a day's raw partition
    (small_disk.lake / "filler").write_bytes(b"\0" * (2 * 1024 * 1024 - 8 * 1024))
    result = ingest(small_disk, "2025-01-01")
    assert not result.success
    message = failure_message(result)
    assert "cannot write" in message and "2025-01-01.parquet" in message, message
    assert "No space left on device" in message, message
    assert not list(small_disk.lake.rglob("*.parquet")) and not list(small_disk.lake.rglob("*.tmp"))
    assert not instance_for(small_disk).get_materialized_partitions(dg.AssetKey(["lending", "raw"]))


def test_a_read_only_lake_names_the_file(small_disk):
    land(small_disk, range(1))
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk.lake)], check=True)
    result = ingest(small_disk, "2025-01-01")
    assert not result.success
    message = failure_message(result)
    assert "cannot write" in message and "Read-only file system" in message, message
