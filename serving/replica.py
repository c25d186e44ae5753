"""One replica of the endpoint: the models it serves, the control target it follows, the action
log it writes. `serving.app.build_app` puts it behind the FastAPI routes of the deployment.

Each replica holds the champion (and, in a canary or shadow rollout, the challenger) in memory
and scores concurrent requests together (`@serve.batch`), in the same process that parses them:
no second hop. `set_target` loads the new versions beside the old ones, then swaps a reference;
the other replicas follow within `POLL_SECONDS`.
"""

import asyncio
import datetime as dt
import hmac
import time
import uuid
from typing import Any

from fastapi import Request, Response
from ray import serve

from serving.client import API_KEY_HEADER
from serving.control import control_actor, control_name
from serving.model import score_and_decide
from serving.outcomes import OutcomeRoute
from serving.policy import CHALLENGER, CHAMPION
from serving.rollout import RolloutTarget
from serving.schema import RequestError, RequestSchema
from serving.standard_routes import StandardRoutes
from serving.standard_routes import json_response as _json

POLL_SECONDS = 0.5


class ModelServer(StandardRoutes, OutcomeRoute):
    """One replica's state and behaviour: its models, the control target it follows, its action
    log; the standard protocols' handlers come from `StandardRoutes`, the outcome API from
    `OutcomeRoute`. `build_app` wraps it in
    the FastAPI ingress deployment."""

    async def start(self, config: dict[str, Any]) -> None:
        from mlops_assets.config.spec import load_spec
        from serving.action_log import ActionLog

        self.config = config
        self.request_schema = RequestSchema(
            config["input_schema"], config["required_inputs"], config["max_records"]
        )
        self._score.set_max_batch_size(config["max_batch_size"])
        self._batch_wait_s = config["batch_wait_ms"] / 1000
        self._in_flight = 0  # requests of this replica between parsing and their answer

        self.spec = load_spec(config["spec_path"], home=config["home"])
        self.replica = serve.get_replica_context().replica_id.unique_id
        self.control = control_actor(control_name(self.config["app_name"]))
        self.loaded: dict[int, Any] = {}
        generation, target = await self.control.get.remote()
        self.models = await asyncio.to_thread(self._load, RolloutTarget(**target))
        self.generation, self.target = generation, RolloutTarget(**target)
        self.log = ActionLog(self.config["action_log_dir"], writer=f"replica-{self.replica}")
        self.api_key = self.config.get("api_key")
        await self.control.report.remote(self.replica, generation, None)
        self._follower = asyncio.get_running_loop().create_task(self._follow_control())

    # --- HTTP routes -------------------------------------------------------------------

    async def predict(self, request: Request) -> Response:
        """Score records and decide; every decision is logged to the action log."""
        denied = self._deny(request)
        if denied:
            return denied
        try:
            frame, given_ids = self.request_schema.parse(await request.body())
        except RequestError as exc:
            return _json({"detail": exc.detail}, exc.status)
        champion, request_id, predictions = await self._decide(frame, given_ids)
        return _json(
            {
                "model": {"name": champion.name, "version": champion.version, "alias": CHAMPION},
                "request_id": request_id,
                "predictions": predictions,
            }
        )

    async def _decide(self, frame, given_ids: list) -> tuple[Any, str, list[dict]]:
        """Score, decide and log validated records: (the champion, the request id, one
        prediction per record). Every route that scores goes through here."""
        request_id = uuid.uuid4().hex
        ids = [
            f"{request_id}-{i}" if given is None else str(given)
            for i, given in enumerate(given_ids)
        ]
        # a batch waits for others only while others are in flight: a lone request goes at once
        self._in_flight += 1
        self._score.set_batch_wait_timeout_s(self._batch_wait_s if self._in_flight > 1 else 0.0)
        try:
            decided = await self._score((frame, ids, request_id))
        finally:
            self._in_flight -= 1
        fields = ("id", "score", "decision", "model_version", "decided_by", "control")
        predictions = [dict(zip(fields, row, strict=True)) for row in decided["rows"]]
        return decided["champion"], request_id, predictions

    async def health(self) -> dict:
        """Liveness, and the versions this replica serves."""
        return {"status": "ok", **self._serving()}

    async def model(self, request: Request) -> Response:
        """The served model: name, version, input schema, training window, backtest."""
        denied = self._deny(request)
        if denied:
            return denied
        champion = self.models[CHAMPION]
        challenger = self.models.get(CHALLENGER)
        return _json(
            {
                **champion.describe(),
                "alias": CHAMPION,
                "input_schema": {
                    "required": self.config["required_inputs"],
                    "columns": self.config["input_schema"],
                    "max_records": self.config["max_records"],
                },
                "challenger": challenger.describe() if challenger else None,
                **self._serving(),
            }
        )

    async def set_target(self, target: RolloutTarget, request: Request) -> Response:
        """Serve other versions: load them here first (409 with the reason if they fail,
        nothing changes), then publish to every replica and wait until all serve them."""
        denied = self._deny(request)
        if denied:
            return denied
        started = time.perf_counter()
        try:
            models = await asyncio.to_thread(self._load, target)
        except Exception as exc:
            return _json({"detail": str(exc), "serving": self._serving()}, 409)
        generation = await self.control.set.remote(target.model_dump())
        self._swap(generation, target, models)
        await self.control.report.remote(self.replica, generation, None)
        replicas = await self._wait_for_replicas(generation, timeout=60.0)
        failed = {r: s for r, s in replicas.items() if s["error"]}
        status = (
            200
            if not failed and all(s["generation"] >= generation for s in replicas.values())
            else 502
        )
        return _json(
            {
                "generation": generation,
                "replicas": replicas,
                "seconds": round(time.perf_counter() - started, 3),
                **self._serving(),
            },
            status,
        )

    # --- scoring -------------------------------------------------------------------------

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.002)  # set from the config in start
    async def _score(self, requests: list[tuple]) -> list[dict]:
        import polars as pl

        models, target = self.models, self.target  # one consistent pair for the batch
        frames = [r[0] for r in requests]
        frame = frames[0] if len(frames) == 1 else pl.concat(frames)
        ids = [i for r in requests for i in r[1]]
        champion = models[CHAMPION]
        decided = score_and_decide(models, frame, ids, target, self.spec.decision)
        now = dt.datetime.now(dt.UTC)
        request_ids = [r[2] for r in requests for _ in range(r[0].height)]
        self.log.append(
            decided.with_columns(
                pl.Series("request_id", request_ids),
                pl.lit(now).alias("time"),
                pl.lit(now.date().isoformat()).alias("day"),
                pl.lit(champion.name).alias("model_name"),
                frame.to_struct("inputs"),
            )
        )
        rows = decided.select(
            "id", "score", "decision", "model_version", "model_role", "control"
        ).rows()
        out, start = [], 0
        for r in requests:
            end = start + r[0].height
            out.append({"champion": champion, "rows": rows[start:end]})
            start = end
        return out

    # --- model lifecycle -----------------------------------------------------------------

    def _load(self, target: RolloutTarget) -> dict[str, Any]:
        """Models of `target` by role; versions already in memory are reused."""
        from serving.model import ModelLoadError, load_model

        models = {}
        for role, version in ((CHAMPION, target.champion), (CHALLENGER, target.challenger)):
            if version is None:
                continue
            if version not in self.loaded:
                model = load_model(
                    self.config["tracking_uri"],
                    self.config["model_name"],
                    version,
                    self.spec.decision.threshold,
                )
                if model.schema != self.config["input_schema"]:
                    raise ModelLoadError(
                        f"{model.name} v{version} expects other inputs than the served "
                        "schema; restart the endpoint (`mlops serve`) to change its schema"
                    )
                self.loaded[version] = model
            models[role] = self.loaded[version]
        return models

    def _swap(self, generation: int, target: RolloutTarget, models: dict) -> None:
        self.models, self.target, self.generation = models, target, generation
        keep = {m.version for m in models.values()}
        self.loaded = {v: m for v, m in self.loaded.items() if v in keep}

    async def _follow_control(self) -> None:
        """Apply targets published by other replicas; flush the action log; heartbeat."""
        last_flush = time.monotonic()
        while True:
            await asyncio.sleep(POLL_SECONDS)
            error = None
            try:
                generation, target = await self.control.get.remote()
                if generation > self.generation:
                    target = RolloutTarget(**target)
                    try:
                        models = await asyncio.to_thread(self._load, target)
                        self._swap(generation, target, models)
                    except Exception as exc:
                        error = str(exc)
                await self.control.report.remote(self.replica, self.generation, error)
            except Exception:  # the control actor restarting: keep serving, retry
                pass
            if time.monotonic() - last_flush >= 1.0:
                last_flush = time.monotonic()
                await asyncio.to_thread(self.log.flush)

    async def _wait_for_replicas(self, generation: int, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            replicas = await self.control.replicas.remote()
            done = all(s["generation"] >= generation or s["error"] for s in replicas.values())
            if done or time.monotonic() > deadline:
                return replicas
            await asyncio.sleep(0.1)

    def _serving(self) -> dict:
        challenger = self.models.get(CHALLENGER)
        return {
            "model": {
                "name": self.models[CHAMPION].name,
                "version": self.models[CHAMPION].version,
                "alias": CHAMPION,
            },
            "challenger": {"version": challenger.version} if challenger else None,
            "rollout": self.target.rollout,
            "canary_share": self.target.canary_share,
            "control_share": self.target.control_share,
            "explore_share": self.target.explore_share,
            "explore_band": self.target.explore_band,
            "generation": self.generation,
            "replica": self.replica,
        }

    def _deny(self, request: Request) -> Response | None:
        if not self.api_key:
            return None
        given = request.headers.get(API_KEY_HEADER, "")
        if hmac.compare_digest(given.encode(), self.api_key.encode()):
            return None
        return _json({"detail": [{"field": API_KEY_HEADER, "msg": "missing or wrong"}]}, 401)

    def __del__(self):
        if hasattr(self, "log"):  # not when `start` failed before opening it
            self.log.flush()
