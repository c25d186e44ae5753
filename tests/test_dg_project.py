"""The project is a dg project: `dg scaffold defs` adds to the one code location, and
`dg list defs` / `dg check defs` see the dataset's definitions next to what was scaffolded."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def dg(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": str(project),  # the copy's package, not the editable install's
        "VIRTUAL_ENV": str(BIN.parent),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "MLOPS_HOME": str(project / ".mlops"),
    }
    return subprocess.run(
        [str(BIN / "dg"), *args], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )


def test_scaffolded_asset_joins_the_code_location(tmp_path):
    project = tmp_path / "project"
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in files:
        if (ROOT / name).is_file() and not name.startswith("tests/data/"):
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, project / name)

    scaffold = dg(project, "scaffold", "defs", "dagster.asset", "scaffolded_asset.py")
    assert scaffold.returncode == 0, scaffold.stderr[-2000:]
    assert (project / "mlops_assets" / "defs" / "scaffolded_asset.py").exists()

    listed = dg(project, "list", "defs", "--json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    defs = json.loads(listed.stdout)
    keys = {a["asset_key"] for a in defs["assets"]}
    assert "scaffolded_asset" in keys
    assert {"lending/raw", "lending/champion", "lending/drift_report"} <= keys
    jobs = {j["name"] for j in defs["jobs"]}
    assert {"lending_daily", "lending_train", "lending_rollback", "lending_release"} <= jobs

    checked = dg(project, "check", "defs")
    assert checked.returncode == 0, checked.stderr[-2000:]
