"""A registry version ready to score raw records: pipeline, feature profile, threshold.

Serving and batch scoring both load models through `load_model` and score through
`ServedModel.score`, so a record gets the same features and the same score on either path.
"""

from __future__ import annotations

import functools
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from mlops_assets.compute.features import FeatureColumns, feature_exprs
from mlops_assets.compute.profile import FeatureProfile, profile_from_dict
from serving.compiled import compile_scorer, pipeline_scorer, probe_rows

INPUTS_ARTIFACT = "serving/inputs.json"  # written by the candidate_model asset


class ModelLoadError(RuntimeError):
    """A registry version that cannot be served; the message says which and why."""


@dataclass(frozen=True)
class ServedModel:
    name: str
    version: int
    pipeline: object  # the scikit-learn Pipeline
    scorer: Callable[[pl.DataFrame], np.ndarray]  # model inputs -> P(positive)
    compiled: bool  # True: the verified fast path of `serving.compiled`
    columns: FeatureColumns
    profile: FeatureProfile
    schema: dict[str, str]  # raw input column -> int | float | str | bool
    threshold: float
    training_window: str
    metrics: dict[str, float]

    def score(self, raw: pl.DataFrame) -> np.ndarray:
        """Probability of the positive class for each raw record."""
        return self.scorer(raw.select(self.feature_exprs))

    @functools.cached_property
    def feature_exprs(self) -> list[pl.Expr]:
        """The model inputs' expressions, built once per model (not per request)."""
        return feature_exprs(self.profile, self.columns)

    def describe(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "threshold": self.threshold,
            "compiled_scorer": self.compiled,
            "training_window": self.training_window,
            "backtest": {
                k.removeprefix("backtest_candidate_"): v
                for k, v in self.metrics.items()
                if k.startswith("backtest_candidate_")
            },
        }


@functools.lru_cache(maxsize=4)
def load_model(
    tracking_uri: str, model_name: str, version: int, fixed_threshold: float | None
) -> ServedModel:
    """Load `model_name` v`version` from the registry, or raise `ModelLoadError` saying why.

    The decision threshold is `fixed_threshold` when the spec fixes one, else the one the
    version's decision rule carries (a version registered before the raw-records pyfunc: the one
    its backtest logged). A registered version never changes: a process loads it once (a day's
    decisions and drift report share it; a backfill's days do too); a failure is not kept.
    """
    import mlflow

    try:
        client = mlflow.MlflowClient(tracking_uri=tracking_uri)
        model_version = client.get_model_version(model_name, str(version))
        run = client.get_run(model_version.run_id)
        with tempfile.TemporaryDirectory() as folder:
            stored = mlflow.artifacts.download_artifacts(
                client.get_model_version_download_uri(model_name, str(version)),
                dst_path=folder,
                tracking_uri=tracking_uri,
            )
            loaded = mlflow.pyfunc.load_model(stored)
        pipeline, raw_model = unwrap_pipeline(loaded), _raw_records_model(loaded)
        # a version registered before the raw-records pyfunc: its inputs are its run's artifact
        inputs = raw_model.inputs if raw_model else read_inputs(client, model_version.run_id)
    except Exception as exc:  # MLflow raises many kinds; the reason is what matters
        raise ModelLoadError(f"{model_name} v{version} failed to load: {_reason(exc)}") from exc
    metrics = dict(run.data.metrics)
    threshold = fixed_threshold
    if threshold is None:
        threshold = raw_model.threshold if raw_model else metrics.get("decision_threshold")
    if threshold is None:
        raise ModelLoadError(
            f"{model_name} v{version} has no decision threshold: its backtest never ran"
        )
    listed = inputs["columns"]
    columns = FeatureColumns(
        tuple(listed["numeric"]), tuple(listed["categorical"]), tuple(listed["passthrough"])
    )
    profile = profile_from_dict(inputs["profile"])
    probe = probe_rows(profile, columns).select(feature_exprs(profile, columns))
    compiled = compile_scorer(pipeline, columns, probe)
    return ServedModel(
        name=model_name,
        version=int(version),
        pipeline=pipeline,
        scorer=compiled or pipeline_scorer(pipeline, columns),
        compiled=compiled is not None,
        columns=columns,
        profile=profile,
        schema=inputs["schema"],
        threshold=float(threshold),
        training_window=training_window(run),
        metrics=metrics,
    )


def unwrap_pipeline(loaded):
    """The scikit-learn pipeline of a loaded registry version (`mlflow.pyfunc.load_model`): the
    raw-records pyfunc's (`serving/raw_model.py`), or, for a version registered before it (the
    sklearn flavor), the model itself."""
    raw_model = _raw_records_model(loaded)
    return raw_model.pipeline if raw_model else loaded.get_raw_model()


def _raw_records_model(loaded):
    from mlflow.exceptions import MlflowException

    try:
        return loaded.unwrap_python_model()
    except MlflowException:
        return None


def training_window(run) -> str:
    """`first..last` application day of the training set a run logged, or '' if it logged
    none."""
    return (training_input_tags(run) or {}).get(WINDOW_TAG, "")


def training_input_tags(run) -> dict[str, str] | None:
    """The tags of the training set a run logged (its MLflow dataset input with context
    `training`: window, as_of, data_fingerprint, window_days), or None if it logged none."""
    for item in run.inputs.dataset_inputs if run.inputs else []:
        tags = {t.key: t.value for t in item.tags}
        if tags.get("mlflow.data.context") == "training":
            return tags
    return None


WINDOW_TAG = "window"  # on the training dataset input: `first..last` application day


def read_inputs(client, run_id: str) -> dict:
    """A version's serving inputs (schema, feature columns, profile), through an MlflowClient."""
    return read_json_artifact(client, run_id, INPUTS_ARTIFACT)


def read_json_artifact(client, run_id: str, path: str) -> dict:
    """A JSON artifact of a run, through an MlflowClient (its tracking URI, no global)."""
    with tempfile.TemporaryDirectory() as folder:
        return json.loads(Path(client.download_artifacts(run_id, path, folder)).read_text())


def _reason(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:300]}" if lines else type(exc).__name__


def score_and_decide(
    models: dict[str, ServedModel], raw: pl.DataFrame, ids: list[str], target, decision
) -> pl.DataFrame:
    """Score raw records with the served models and decide (see `serving.policy.decide`).

    `models` maps role (champion, challenger) to model, `target` is the rollout in force and
    `decision` the spec's decision rule. Online serving and batch scoring both call this.
    """
    from serving.policy import CHALLENGER, CHAMPION, Policy, Scored, decide

    champion = models[CHAMPION]
    challenger = models.get(CHALLENGER) if target.rollout != CHAMPION else None
    return decide(
        ids,
        Scored(champion.version, champion.threshold, champion.score(raw)),
        Scored(challenger.version, challenger.threshold, challenger.score(raw))
        if challenger
        else None,
        Policy(
            decision.action,
            decision.otherwise,
            target.rollout,
            target.canary_share,
            target.control_share,
            target.explore_share,
            target.explore_band,
        ),
    )


def raw_signature(inputs_card: dict):
    """The pyfunc's signature: the raw input columns (features required, segment and protected
    columns optional; integers as doubles, so that a missing value is never a schema error),
    and `score` and `decision` out."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    kinds = {"int": "double", "float": "double", "str": "string", "bool": "boolean"}
    optional = set(inputs_card["columns"]["passthrough"])
    inputs = Schema(
        [
            ColSpec(kinds[kind], column, required=column not in optional)
            for column, kind in inputs_card["schema"].items()
        ]
    )
    outputs = Schema([ColSpec("double", "score"), ColSpec("string", "decision")])
    return ModelSignature(inputs=inputs, outputs=outputs)
