"""`mlops reproduce RUN_ID`: retrain a registered model from its MLflow run's record and check
that the retrained model scores the same rows with the same bytes.

The run records the recipe (its parameters), and its training input the day the training set was
known on (`as_of`), its window and the fingerprint of the lake partitions it was built from.
The training set is rebuilt from the lake as of that day (`build_training_set`), the recipe
refitted on it (`fit_model`: seeded, capacity and calibration chosen the same way), and both
models score the rebuilt rows: reproduced when the data fingerprint matches and the scores are
byte-identical.
"""

from __future__ import annotations

import datetime as dt
import time

import numpy as np

from mlops_assets.config.settings import Settings


def reproduce(settings: Settings, run_id: str, progress=lambda _: None) -> dict:
    """Retrain the model of MLflow run `run_id` and compare it with the registered one."""
    from mlops_assets.compute.fitting import fit_model
    from mlops_assets.compute.training import files_fingerprint, model_matrix, recipe_from_params
    from mlops_assets.defs.assets.training_set import build_training_set
    from mlops_assets.defs.registry import registry_for

    started = time.perf_counter()
    spec = settings.spec
    registry = registry_for(settings, spec)
    client = registry.client()
    run = client.get_run(run_id)
    versions = client.search_model_versions(f"run_id = '{run_id}'")
    if not versions:
        raise ValueError(f"MLflow run {run_id} registered no model version of {spec.name}")
    version = int(versions[0].version)
    record = _training_record(run)
    as_of = dt.date.fromisoformat(record["as_of"])
    progress(f"rebuilding the training set as of {as_of} ({record['window_days']} days)")
    dataset = settings.dataset()
    frame, used = build_training_set(dataset, as_of, int(record["window_days"]))
    fingerprint = files_fingerprint(used)
    recipe = recipe_from_params(run.data.params)
    progress(f"refitting {recipe.estimator} {recipe.params} (seed {recipe.seed})")
    columns = dataset.feature_columns()
    retrained, _ = fit_model(frame, columns, recipe)
    progress(f"scoring {frame.height} rows with the retrained model and v{version}")
    inputs = model_matrix(frame, columns)
    new = retrained.predict_proba(inputs)[:, 1]
    old = registry.load(version).predict_proba(inputs)[:, 1]
    same_data = fingerprint == record["data_fingerprint"]
    identical = new.tobytes() == old.tobytes()
    return {
        "run_id": run_id,
        "model": f"{registry.model_name} v{version}",
        "as_of": str(as_of),
        "rows": frame.height,
        "same_data": same_data,
        "data_fingerprint": {"recorded": record["data_fingerprint"], "rebuilt": fingerprint},
        "identical_scores": identical,
        "max_abs_difference": float(np.max(np.abs(new - old))) if len(new) else 0.0,
        "reproduced": same_data and identical,
        "runtime_seconds": round(time.perf_counter() - started, 1),
    }


def _training_record(run) -> dict:
    """The run's training input tags: as_of, window_days, data_fingerprint."""
    from mlops_assets.defs.assets.training_set import WINDOW_DAYS
    from serving.model import training_input_tags

    tags = training_input_tags(run)
    if tags is None:
        raise ValueError(f"MLflow run {run.info.run_id} logged no training input: not a candidate")
    return {"window_days": str(WINDOW_DAYS), **tags}  # runs before window_days was logged


def format_reproduction(result: dict) -> str:
    verdict = "REPRODUCED" if result["reproduced"] else "NOT REPRODUCED"
    data = (
        "the same lake partitions"
        if result["same_data"]
        else "the lake changed since: data fingerprint "
        f"{result['data_fingerprint']['rebuilt'][:12]}, recorded "
        f"{result['data_fingerprint']['recorded'][:12]}"
    )
    scores = (
        "byte-identical scores"
        if result["identical_scores"]
        else f"scores differ by up to {result['max_abs_difference']:.3g}"
    )
    return (
        f"{verdict}: {result['model']} (run {result['run_id']}), retrained as of "
        f"{result['as_of']} on {result['rows']} rows from {data}: {scores} "
        f"({result['runtime_seconds']} s)"
    )
