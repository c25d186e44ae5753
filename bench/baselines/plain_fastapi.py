"""Baseline: a plain FastAPI app under uvicorn (one process), scoring each request on its own.

    MODEL_TRACKING_URI=... MODEL_NAME=lending-dev MODEL_VERSION=1 \
        uvicorn plain_fastapi:app --app-dir bench/baselines --host 127.0.0.1 --port 8101

It parses and scores with the same code as the platform's endpoint (so the comparison is of the
serving architecture: no batching, no HAProxy), and logs nothing.
"""

import json
import os

from fastapi import FastAPI, Request, Response

from serving.model import load_model
from serving.schema import RequestError, RequestSchema

model = load_model(
    os.environ["MODEL_TRACKING_URI"],
    os.environ["MODEL_NAME"],
    int(os.environ["MODEL_VERSION"]),
    None,
)
schema = RequestSchema(
    model.schema, list(model.columns.numeric + model.columns.categorical), max_records=1000
)
app = FastAPI()


@app.post("/v1/predict")
async def predict(request: Request) -> Response:
    try:
        frame, _ = schema.parse(await request.body())
    except RequestError as exc:
        return Response(json.dumps({"detail": exc.detail}), status_code=exc.status)
    scores = model.score(frame)
    body = {"predictions": [{"score": float(s)} for s in scores]}
    return Response(json.dumps(body), media_type="application/json")
