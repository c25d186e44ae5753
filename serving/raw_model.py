"""The registered model: an MLflow pyfunc on raw records, logged as code (MLflow's "models from
code": this file is copied into the model, nothing is pickled).

Its artifacts are the calibrated scikit-learn pipeline (skops format, loaded with the types
trusted when it was logged), the serving inputs (raw input schema, feature columns, feature
profile) and the decision rule (threshold, action, otherwise). So
`mlflow.pyfunc.load_model("models:/<name>@champion").predict(raw_records)`, `mlflow models
serve` and the endpoint give a record the same features, score and decision (the endpoint also
draws its exploration control group, which gets `otherwise` whatever the score). It needs the
`mlops-assets` package installed (the feature code and the calibration step are its own).
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd


class RawRecordsModel(mlflow.pyfunc.PythonModel):
    """Raw records in (a pandas frame of the raw input columns), `score` and `decision` out."""

    def load_context(self, context) -> None:
        import skops.io

        from mlops_assets.compute.features import FeatureColumns
        from mlops_assets.compute.profile import profile_from_dict

        config = json.loads(Path(context.artifacts["decision"]).read_text())
        self.pipeline = skops.io.load(
            context.artifacts["pipeline"], trusted=config["skops_trusted_types"]
        )
        self.inputs = inputs = json.loads(Path(context.artifacts["inputs"]).read_text())
        listed = inputs["columns"]
        self.columns = FeatureColumns(
            tuple(listed["numeric"]), tuple(listed["categorical"]), tuple(listed["passthrough"])
        )
        self.profile = profile_from_dict(inputs["profile"])
        self.schema: dict[str, str] = inputs["schema"]
        self.threshold = float(config["threshold"])
        self.action, self.otherwise = config["action"], config["otherwise"]

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        scores = self.score(model_input)
        decisions = np.where(scores >= self.threshold, self.action, self.otherwise)
        return pd.DataFrame({"score": scores, "decision": decisions})

    def score(self, raw: pd.DataFrame) -> np.ndarray:
        """P(positive) of each raw record, through the same feature expressions as serving."""
        import polars as pl

        from mlops_assets.compute.features import feature_exprs
        from mlops_assets.compute.ingest import SERVED_DTYPES
        from mlops_assets.compute.training import model_matrix

        given = pl.from_pandas(raw)
        frame = given.select(
            pl.col(c).cast(SERVED_DTYPES[k], strict=True)
            if c in given.columns
            else pl.lit(None, SERVED_DTYPES[k]).alias(c)  # optional columns
            for c, k in self.schema.items()
        )
        features = frame.select(feature_exprs(self.profile, self.columns))
        return self.pipeline.predict_proba(model_matrix(features, self.columns))[:, 1]


mlflow.models.set_model(RawRecordsModel())
