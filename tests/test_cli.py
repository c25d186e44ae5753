"""The `mlops` command line, run as users run it: in a subprocess."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

MLOPS = [str(Path(sys.executable).parent / "mlops")]


def mlops(*args, home: Path, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [*MLOPS, "--home", str(home), *args], capture_output=True, text=True, timeout=600
    )
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_simulate_is_idempotent_and_explains_itself(tmp_path):
    first = mlops("simulate", "--days", "3", "--rows", "50", home=tmp_path)
    assert "6 files written" in first.stdout
    again = mlops("simulate", "--days", "3", home=tmp_path)  # settings are remembered
    assert "0 files written" in again.stdout and "50 rows/day" in again.stdout
    assert "day effect 1" in again.stdout
    quiet = mlops("simulate", "--days", "3", "--day-effect", "0", home=tmp_path)
    assert "day effect 0" in quiet.stdout and "files written" in quiet.stdout


def test_bad_arguments_and_specs_exit_2_with_the_reason(tmp_path):
    bad = mlops(
        "simulate",
        "--days",
        "2",
        "--scenario",
        "both",
        "--drift-day",
        "-1",
        home=tmp_path,
        check=False,
    )
    assert bad.returncode == 2 and "drift day -1" in bad.stderr
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: x\n")
    result = mlops("run", "--dataset", str(spec), home=tmp_path, check=False)
    assert result.returncode == 2
    assert "key 'landing': missing required key" in result.stderr


@pytest.mark.slow
def test_run_json_summarizes_partitions_quarantine_and_checks(tmp_path):
    mlops("simulate", "--days", "8", "--rows", "200", home=tmp_path)
    (tmp_path / "landing" / "lending" / "2025-01-09.csv").write_text("not,a\nvalid")
    result = mlops("run", "--json", home=tmp_path)
    summary = json.loads(result.stdout)
    assert summary["raw"]["materialized"] == 8
    assert "2025-01-09" in summary["raw"]["quarantined"]
    assert summary["raw_outcomes"]["materialized"] == 1
    assert summary["raw"]["checks"]["lending/raw:schema"] == {"passed": 8, "failed": 0}
    # one labelled day is not enough to backtest: no model, and the summary says why
    assert "not enough labelled days" in summary["model"]["not_promoted"]
    assert "champion" not in summary["model"]
    status = json.loads(mlops("status", "--json", home=tmp_path).stdout)
    assert status["materialized"]["features"]["partitions"] == 8
    assert "2025-01-09.csv" in status["quarantined"]


def test_rollback_without_a_champion_is_a_clear_error(tmp_path):
    result = mlops("rollback", home=tmp_path, check=False)
    assert result.returncode == 2 and "lending-dev has no champion to roll back" in result.stderr


def test_a_second_stop_signal_does_not_cut_the_stopping_short():
    """`uv run` relays SIGTERM to `mlops up`, which the process group also receives: the second
    signal must not interrupt the stopping of the children that the first one began."""
    from mlops_assets.commands.up import Platform

    platform = Platform(settings=None, args=None, simulator=None)
    with pytest.raises(KeyboardInterrupt):
        platform._on_signal()
    assert platform._on_signal() is None and platform.stopping


def test_a_bad_port_variable_stops_up_before_anything_starts_and_nothing_else(tmp_path):
    env = {**os.environ, "MLOPS_DAGSTER_PORT": "30x0"}
    up = subprocess.run(
        [*MLOPS, "--home", str(tmp_path / "home"), "up"], env=env, capture_output=True, text=True
    )
    assert up.returncode == 2 and "MLOPS_DAGSTER_PORT='30x0' is not a port" in up.stderr
    assert not (tmp_path / "home").exists()
    simulate = subprocess.run(
        [*MLOPS, "--home", str(tmp_path / "h2"), "simulate", "--days", "1", "--rows", "20"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert simulate.returncode == 0, simulate.stderr
