"""A sweep's trials on Ray Tune: one CPU each, on the Ray cluster `RAY_ADDRESS` names, else on
a local Ray started for the sweep and stopped after it. Tune prints its progress table; each
finished trial is handed to `on_result` at once (the MLflow child runs). Imported only when a
sweep runs (Ray Tune takes seconds to import)."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from ray import tune

from mlops_assets.compute.sweep import (
    Baseline,
    SweepData,
    backtest_recipe,
    longest_first,
    pair_with_baseline,
)
from mlops_assets.compute.training import Recipe


def run_trials(
    data: SweepData,
    baseline: Callable[[], Baseline],
    recipes: list[Recipe],
    storage: Path,
    name: str,
    on_result: Callable[[int, dict], None] = lambda i, r: None,
    num_cpus: int | None = None,
) -> tuple[Baseline, list[dict]]:
    """Backtest every recipe (`compute.sweep.backtest_recipe`) as a Tune trial on `data`, the
    likely slowest first; `baseline()` runs in a thread meanwhile (while Ray starts and the first
    trials run), and each trial is paired with it as it finishes. Returns the baseline and the
    paired results in the recipes' order, each with the node it ran on. A failed trial raises
    with its error."""
    import ray

    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(baseline)
        started_here = not ray.is_initialized()
        if started_here:
            local = not os.environ.get("RAY_ADDRESS")
            ray.init(
                address=os.environ.get("RAY_ADDRESS") or "local",
                num_cpus=num_cpus if local else None,
                include_dashboard=False,
                logging_level="WARNING",
            )
        finished = _Finished(
            lambda result, scores: pair_with_baseline(result, scores, pending.result(), data),
            on_result,
        )
        try:
            spread = sum(node["Alive"] for node in ray.nodes()) > 1
            grid = _tuner(data, recipes, storage, name, finished, reuse_actors=not spread).fit()
        finally:
            if started_here:
                ray.shutdown()
    scored = pending.result()  # a failed baseline raises its own error, not a trial's
    for result in grid:
        if result.error:
            raise RuntimeError(f"trial {result.config['trial'] + 1} failed: {result.error}")
    return scored, [finished.results[i] for i in range(len(recipes))]


def _tuner(
    data, recipes, storage: Path, name: str, finished: tune.Callback, reuse_actors: bool
) -> tune.Tuner:
    """Actors are reused on one node (no import per trial); not across nodes: Tune hands a
    trial whose actor is still starting on another node to a finished trial's actor, so a
    cluster's trials would crowd onto the first node that frees a CPU."""
    trainable = tune.with_resources(
        tune.with_parameters(_trial, data=data, recipes=recipes), {"cpu": 1}
    )
    return tune.Tuner(
        trainable,
        param_space={"trial": tune.grid_search(longest_first(recipes))},  # in this order
        tune_config=tune.TuneConfig(reuse_actors=reuse_actors),
        run_config=tune.RunConfig(
            name=name,
            storage_path=str(storage),
            verbose=1,
            callbacks=[finished],
            failure_config=tune.FailureConfig(fail_fast=True),
        ),
    )


def _trial(config: dict, data: SweepData, recipes: list[Recipe]) -> None:
    """One Tune trial: backtest its recipe; report the headline figures (Tune's table), the
    summary as JSON and the out-of-time scores (float64, base64) for the driver's pairing."""
    import ray

    result, scores = backtest_recipe(data, recipes[config["trial"]])
    result["node"] = ray.get_runtime_context().get_node_id()
    tune.report(
        {
            "roc_auc": result["roc_auc"],
            "value_per_app": result["value_per_application"],
            "result": json.dumps(result),
            "scores": base64.b64encode(scores.astype("<f8").tobytes()).decode(),
        }
    )


class _Finished(tune.Callback):
    """Pairs each finished trial with the baseline (`pair`), in the driver, as it finishes;
    keeps the result and hands it to `on_result`."""

    def __init__(self, pair: Callable, on_result: Callable[[int, dict], None]):
        self.pair, self.on_result = pair, on_result
        self.results: dict[int, dict] = {}

    def __getstate__(self) -> dict:
        """Tune pickles its callbacks to restore an experiment, which a sweep never does: the
        pending baseline and the MLflow client stay in the driver."""
        return {"results": {}}

    def on_trial_complete(self, iteration, trials, trial, **info):
        reported = trial.last_result
        scores = np.frombuffer(base64.b64decode(reported["scores"]), dtype="<f8")
        i = trial.config["trial"]
        self.results[i] = self.pair(json.loads(reported["result"]), scores)
        self.on_result(i, self.results[i])
