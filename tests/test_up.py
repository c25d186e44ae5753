"""`mlops up` end to end: servers on loopback, UI with the asset graph, live ingestion by the
sensor and daemon, Ctrl-C stops every process, and a second `up` resumes without duplicates."""

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.commands.execution import instance_for
from mlops_assets.config.settings import Settings
from tests.conftest import processes_with

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_exclusive")]

DAGSTER_PORT, MLFLOW_PORT, SERVE_PORT = 13000, 15000, 18080
GRAPH = """{ assetNodes { assetKey { path } groupName
             partitionStats { numMaterialized } } }"""


def start(home: Path) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).parent / "mlops"),
        "--home",
        str(home),
        "up",
        "--backfill-days",
        "30",
        "--rows",
        "1000",  # at 150-400 a day the one fold of the first model is too small to calibrate
        "--interval",
        "4",
        "--dagster-port",
        str(DAGSTER_PORT),
        "--mlflow-port",
        str(MLFLOW_PORT),
        "--serve-port",
        str(SERVE_PORT),
    ]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )


def wait_for_line(process: subprocess.Popen, text: str, timeout: float = 420) -> list[str]:
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"no line with {text!r}; output:\n{''.join(lines[-60:])}")


def graphql(query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{DAGSTER_PORT}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def processes_of(home: Path) -> list[int]:
    """Live processes whose environment points at this home folder."""
    return processes_with("MLOPS_HOME", str(home))


def stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=120)
    return out


def ingestions_per_partition(settings: Settings) -> dict[str, int]:
    records = (
        instance_for(settings)
        .fetch_materializations(dg.AssetKey(["lending", "raw"]), limit=10_000)
        .records
    )
    counts: dict[str, int] = {}
    for record in records:
        key = record.asset_materialization.partition
        counts[key] = counts.get(key, 0) + 1
    return counts


def test_up_serves_the_graph_ingests_live_and_stops_everything(tmp_path):
    home = tmp_path / "home"
    settings = Settings.resolve(home=home)
    process = start(home)
    try:
        wait_for_line(process, "Dagster daemon")
        nodes = graphql(GRAPH)["assetNodes"]
        groups = {n["groupName"] for n in nodes}
        keys = {"/".join(n["assetKey"]["path"]): n for n in nodes}
        assert {"ingestion", "features", "training", "deployment", "decisions"} <= groups
        assert keys["lending/features"]["partitionStats"]["numMaterialized"] == 30
        with urllib.request.urlopen(f"http://127.0.0.1:{MLFLOW_PORT}/health", timeout=10) as r:
            assert r.status == 200
        # the first champion, trained on the backfill, is served by Ray Serve
        with urllib.request.urlopen(f"http://127.0.0.1:{SERVE_PORT}/v1/health", timeout=10) as r:
            assert json.loads(r.read())["model"]["version"] == 1
        # the simulator keeps landing days; the sensor and daemon ingest them
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            done = instance_for(settings).get_materialized_partitions(
                dg.AssetKey(["lending", "features"])
            )
            if len(done) >= 31:
                break
            time.sleep(3)
        assert len(done) >= 31, "no live day was ingested by the sensor"
    finally:
        output = stop(process)
    assert "stopping dagster-daemon" in output and "stopping ray-serve" in output
    time.sleep(1)
    assert processes_of(home) == [], "child processes outlived Ctrl-C"

    landed = len(list((home / "landing" / "lending").glob("*.csv")))
    process = start(home)  # resume on the same home
    try:
        lines = wait_for_line(process, "Dagster daemon")
        assert any(f"{landed} days landed ({landed} already there)" in line for line in lines)
    finally:
        stop(process)
    assert processes_of(home) == []
    counts = ingestions_per_partition(settings)
    assert counts and max(counts.values()) == 1, counts
