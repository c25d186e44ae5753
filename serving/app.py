"""The Ray Serve application: one FastAPI ingress deployment that validates, scores, decides, logs.

The replicas are `serving.replica.ModelServer`s: each holds the champion (and, in a canary or
shadow rollout, the challenger) and follows the `ServingControl` actor's target. `PUT
/v1/admin/target` loads the new versions beside the old ones, then swaps a reference; requests
keep flowing to the old model during the load, and a version that fails to load is refused with
the reason while the old one keeps serving.
"""

from typing import Any

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel
from ray import serve

from serving.outcomes import outcome_routes
from serving.replica import ModelServer
from serving.rollout import RolloutTarget
from serving.schema import RequestSchema
from serving.standard_routes import protocol_routes


class ModelRef(BaseModel):
    name: str
    version: int
    alias: str


class Prediction(BaseModel):
    id: str
    score: float
    decision: str
    model_version: int
    decided_by: str  # champion | challenger
    control: bool  # exploration control group: the default action regardless of the score


class PredictResponse(BaseModel):
    model: ModelRef
    request_id: str
    predictions: list[Prediction]


def build_app(config: dict[str, Any]) -> serve.Application:
    """The application for one dataset. `config`: see `serving.builder.app_config`."""
    api = FastAPI(
        title=f"{config['dataset']} model endpoint",
        version="1",
        description="Scores records with the champion model of the MLflow registry and decides.",
    )
    request_schema = RequestSchema(
        config["input_schema"], config["required_inputs"], config["max_records"]
    )
    autoscaling = (
        {
            "min_replicas": config["replicas"],
            "max_replicas": config["max_replicas"],
            "target_ongoing_requests": config["max_batch_size"],
        }
        if config.get("max_replicas")
        else None
    )

    @serve.deployment(
        name="ModelServer",
        num_replicas=None if autoscaling else config["replicas"],
        autoscaling_config=autoscaling,
        max_replicas_per_node=config.get("max_replicas_per_node"),
        max_ongoing_requests=config["max_ongoing_requests"],
        ray_actor_options={
            "num_cpus": config["replica_cpus"],
            "runtime_env": {"env_vars": {"OMP_NUM_THREADS": "1"}},
        },
        health_check_period_s=5,
    )
    @serve.ingress(api)
    class Endpoint(ModelServer, protocol_routes(api), outcome_routes(api)):
        """The HTTP routes of `ModelServer`, with the dataset's request schema in the docs; the
        standard protocols' routes and the outcome API's come from the mixed-in classes."""

        async def __init__(self):
            await self.start(config)

        @api.post(
            "/v1/predict",
            response_model=PredictResponse,
            openapi_extra={
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": request_schema.json_schema()}},
                }
            },
            responses={413: {"description": "Too many records"}, 422: {"description": "Invalid"}},
        )
        async def predict(self, request: Request) -> Response:
            """Score records and decide; every decision is logged to the action log."""
            return await ModelServer.predict(self, request)

        @api.get("/v1/health")
        async def health(self) -> dict:
            """Liveness, and the versions this replica serves."""
            return await ModelServer.health(self)

        @api.get("/v1/model")
        async def model(self, request: Request) -> Response:
            """The served model: name, version, input schema, training window, backtest."""
            return await ModelServer.model(self, request)

        @api.put("/v1/admin/target")
        async def set_target(self, target: RolloutTarget, request: Request) -> Response:
            """Serve other versions: load them here first (409 with the reason if they fail,
            nothing changes), then publish to every replica and wait until all serve them."""
            return await ModelServer.set_target(self, target, request)

    return Endpoint.bind()
