"""A sweep's trials on Ray Tune: one CPU each, on the Ray cluster `RAY_ADDRESS` names, else on
a local Ray started for the sweep and stopped after it. Tune prints its progress table; each
finished trial is handed to `on_result` at once (the MLflow child runs). Imported only when a
sweep runs (Ray Tune takes seconds to import)."""

from __future__ import annotations

import json
import os

# Before Ray is imported (it reads this then): without it, a driver under `uv run` has Ray ship
# the working directory to every worker and start each through `uv run` (serving/launcher.py)
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")

from collections.abc import Callable  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

from ray import tune  # noqa: E402

from mlops_assets.compute.sweep import SweepData, score_recipe  # noqa: E402
from mlops_assets.compute.training import Recipe  # noqa: E402


def run_trials(
    prepare: Callable[[], SweepData],
    recipes: list[Recipe],
    storage: Path,
    name: str,
    on_result: Callable[[int, dict], None] = lambda i, r: None,
    num_cpus: int | None = None,
) -> tuple[SweepData, list[dict]]:
    """Score every recipe (`compute.sweep.score_recipe`) as a Tune trial on the data that
    `prepare()` returns (the baseline's backtest), which runs in a thread while Ray starts.
    Returns that data and the results in the recipes' order, each with the node it ran on. A
    failed trial raises with its error."""
    import ray

    with ThreadPoolExecutor(1) as pool:
        prepared = pool.submit(prepare)
        started_here = not ray.is_initialized()
        if started_here:
            local = not os.environ.get("RAY_ADDRESS")
            ray.init(
                address=os.environ.get("RAY_ADDRESS") or "local",
                num_cpus=num_cpus if local else None,
                include_dashboard=False,
                logging_level="WARNING",
            )
        try:
            data = prepared.result()
            grid = _tuner(data, recipes, storage, name, on_result).fit()
        finally:
            if started_here:
                ray.shutdown()
    results: dict[int, dict] = {}
    for result in grid:
        if result.error:
            raise RuntimeError(f"trial {result.config['trial'] + 1} failed: {result.error}")
        results[result.config["trial"]] = json.loads(result.metrics["result"])
    return data, [results[i] for i in range(len(recipes))]


def _tuner(data, recipes, storage: Path, name: str, on_result) -> tune.Tuner:
    trainable = tune.with_resources(
        tune.with_parameters(_trial, data=data, recipes=recipes), {"cpu": 1}
    )
    return tune.Tuner(
        trainable,
        param_space={"trial": tune.grid_search(list(range(len(recipes))))},
        tune_config=tune.TuneConfig(reuse_actors=True),
        run_config=tune.RunConfig(
            name=name,
            storage_path=str(storage),
            verbose=1,
            callbacks=[_Finished(on_result)],
            failure_config=tune.FailureConfig(fail_fast=True),
        ),
    )


def _trial(config: dict, data: SweepData, recipes: list[Recipe]) -> None:
    """One Tune trial: score its recipe; report the headline figures (Tune's table) and the
    whole result as JSON."""
    import ray

    result = score_recipe(data, recipes[config["trial"]])
    result["node"] = ray.get_runtime_context().get_node_id()
    auc, value = result["auc_difference"] or {}, result["value_difference"]
    tune.report(
        {
            "roc_auc": result["roc_auc"],
            "auc_diff_low": auc.get("low"),
            "value_diff_low": value["low"],
            "result": json.dumps(result),
        }
    )


class _Finished(tune.Callback):
    """Hands each finished trial's result to `on_result`, in the driver, as it finishes."""

    def __init__(self, on_result: Callable[[int, dict], None]):
        self.on_result = on_result

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.on_result(trial.config["trial"], json.loads(trial.last_result["result"]))
