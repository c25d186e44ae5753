"""The replica's handlers of the standard protocols (`serving.protocols`): MLflow's scoring
protocol and the Open Inference Protocol v2, and their routes (`protocol_routes`)."""

# No `from __future__ import annotations`: FastAPI resolves the routes' annotations (`Request`)
# from the functions themselves.

import json

from fastapi import Request, Response

from serving.policy import CHAMPION
from serving.protocols import (
    ProtocolError,
    mlflow_error,
    mlflow_predictions,
    mlflow_records,
    v2_error,
    v2_metadata,
    v2_records,
    v2_response,
)
from serving.schema import RequestError

SERVER = {"name": "mlops-assets", "version": "1", "extensions": []}


class StandardRoutes:
    """Mixed into `serving.replica.ModelServer`: it provides `_deny`, `_decide`, `models`,
    `config` and `request_schema`."""

    async def invocations(self, request: Request) -> Response:
        """MLflow's scoring protocol: `{"predictions": [...]}`, one record per input row."""
        denied = self._deny(request)
        if denied:
            return denied
        try:
            parsed = await self._parse(request, lambda body: (mlflow_records(body), None))
        except (ProtocolError, RequestError, ValueError) as exc:
            return json_response(mlflow_error(problem(exc)), _status(exc))
        _, _, predictions = await self._decide(*parsed[:2])
        return json_response(mlflow_predictions(predictions))

    async def v2_infer(self, model_name: str, request: Request) -> Response:
        """OIP v2 inference: one tensor per raw input column in, one per output field out."""
        denied = self._deny(request)
        if denied:
            return denied
        unknown = self._unknown_model(model_name)
        if unknown:
            return unknown
        try:
            frame, ids, request_id = await self._parse(request, v2_records)
        except (ProtocolError, RequestError, ValueError) as exc:
            return json_response(v2_error(problem(exc)), _status(exc))
        champion, generated, predictions = await self._decide(frame, ids)
        return json_response(
            v2_response(champion.name, champion.version, request_id or generated, predictions)
        )

    async def v2_model(self, model_name: str) -> Response:
        """OIP v2 model metadata: the input tensors (raw columns) and the outputs."""
        unknown = self._unknown_model(model_name)
        if unknown:
            return unknown
        champion = self.models[CHAMPION]
        return json_response(
            v2_metadata(
                champion.name,
                champion.version,
                self.config["input_schema"],
                self.config["required_inputs"],
            )
        )

    async def v2_model_ready(self, model_name: str) -> Response:
        return self._unknown_model(model_name) or json_response({"name": model_name, "ready": True})

    async def _parse(self, request: Request, records_of) -> tuple:
        """(frame, ids, the request's own id) of a protocol body, validated by the request
        schema of `/v1/predict`; raises ProtocolError, RequestError or ValueError."""
        records, request_id = records_of(json.loads(await request.body()))
        body = json.dumps({"records": records}).encode()
        frame, ids = self.request_schema.parse(body)
        return frame, ids, request_id

    def _unknown_model(self, model_name: str) -> Response | None:
        """404 unless `model_name` is the served model (`<dataset>-<env>`) or the dataset."""
        known = {self.models[CHAMPION].name, self.config["dataset"]}
        if model_name in known:
            return None
        message = f"unknown model {model_name!r}: serving {sorted(known)}"
        return json_response(v2_error(message), 404)


def protocol_routes(api) -> type:
    """The standard protocols' routes on the ingress's FastAPI app `api`, as a class to mix into
    the deployment. Ray Serve binds a route to the replica when its endpoint is a method of the
    deployment's class or of a base, and ships a class defined in a function with the app (as
    `build_app`'s own); the handlers are `StandardRoutes`'."""

    class ProtocolRoutes:
        @api.get("/ping")
        async def ping(self) -> dict:
            """Readiness, as MLflow's scoring server answers it."""
            return {}

        @api.post("/invocations")
        async def invocations(self, request: Request) -> Response:
            """MLflow's scoring protocol: `dataframe_records`, `dataframe_split`, `instances`
            or `inputs` in; `{"predictions": [...]}` out (one record per row)."""
            return await StandardRoutes.invocations(self, request)

        @api.get("/v2")
        async def v2_server(self) -> dict:
            return SERVER

        @api.get("/v2/health/live")
        async def v2_live(self) -> dict:
            return {"live": True}

        @api.get("/v2/health/ready")
        async def v2_ready(self) -> dict:
            return {"ready": True}

        @api.get("/v2/models/{model_name}")
        async def v2_model(self, model_name: str) -> Response:
            """The model's input tensors (one per raw column) and outputs."""
            return await StandardRoutes.v2_model(self, model_name)

        @api.get("/v2/models/{model_name}/ready")
        async def v2_model_ready(self, model_name: str) -> Response:
            return await StandardRoutes.v2_model_ready(self, model_name)

        @api.post("/v2/models/{model_name}/infer")
        async def v2_infer(self, model_name: str, request: Request) -> Response:
            """One tensor per raw input column in (shape [n]), one per output field out."""
            return await StandardRoutes.v2_infer(self, model_name, request)

    return ProtocolRoutes


def problem(exc: Exception) -> str:
    """One line naming what is wrong with a request."""
    if isinstance(exc, RequestError):
        return "; ".join(
            f"{d['field']}"
            + (f" (record {d['record']})" if d["record"] is not None else "")
            + f": {d['msg']}"
            for d in exc.detail
        )
    if isinstance(exc, json.JSONDecodeError):
        return f"malformed JSON: {exc}"
    return str(exc)


def _status(exc: Exception) -> int:
    return 413 if isinstance(exc, RequestError) and exc.status == 413 else 400


def json_response(content: dict, status: int = 200) -> Response:
    return Response(json.dumps(content), status_code=status, media_type="application/json")
