"""The notebooks (`notebooks/*.py`, marimo) run headless top to bottom on a trained home, as a
user runs them: `python notebooks/<name>.py` with MLOPS_HOME set."""

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import registry

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"
PAIRED = [
    f"{name}_{bound}"
    for name in ("auc_difference", "value_difference")
    for bound in ("estimate", "lower", "upper")
]


def run_notebook(name: str, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_DATASET"}  # the built-in spec
    env |= {"MLOPS_HOME": str(home), "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, str(NOTEBOOKS / f"{name}.py")],
        env=env,
        cwd=NOTEBOOKS.parent,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"{name}.py failed:\n{result.stderr[-5000:]}"
    return result


def test_marimo_check_finds_no_problem():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "marimo"), "check", "--strict", str(NOTEBOOKS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_explore_runs_headless(trained_home):
    run_notebook("explore", trained_home.home)


def test_experiment_logs_a_run_and_registers_nothing(trained_home):
    models = registry(trained_home)
    client = models.client()

    def versions():
        return sorted(
            int(v.version) for v in client.search_model_versions(f"name='{models.model_name}'")
        )

    before, champion = versions(), models.champion_version()
    run_notebook("experiment", trained_home.home)

    experiment = client.get_experiment_by_name(models.experiment)
    runs = client.search_runs(
        [experiment.experiment_id], filter_string="tags.source = 'notebooks/experiment.py'"
    )
    assert len(runs) == 1
    logged = runs[0]
    assert logged.info.status == "FINISHED"
    assert logged.data.params["estimator"] == "logistic_regression"
    assert set(PAIRED) <= set(logged.data.metrics), sorted(logged.data.metrics)
    metrics = logged.data.metrics
    for name in ("auc_difference", "value_difference"):
        assert metrics[f"{name}_lower"] <= metrics[f"{name}_estimate"] <= metrics[f"{name}_upper"]
    assert "backtest_candidate_roc_auc" in metrics and "backtest_champion_roc_auc" in metrics
    assert versions() == before and models.champion_version() == champion  # nothing registered
    assert models.challenger_version() is None
