"""The standard inference protocols the endpoint speaks beside its own `/v1/predict`.

- MLflow's scoring protocol (`POST /invocations`, as `mlflow models serve` answers): a JSON body
  with exactly one of `dataframe_records`, `dataframe_split`, `instances` or `inputs`; the answer
  is `{"predictions": [...]}`, one record per input row; errors are
  `{"error_code": "BAD_REQUEST", "message": ...}` with status 400.
- The Open Inference Protocol v2 (KServe, MLServer, Triton): tensors by name, one per raw input
  column, in `{"inputs": [{"name", "shape", "datatype", "data"}]}`; the answer holds one output
  tensor per prediction field; errors are `{"error": ...}` with status 400.

Both turn into the records of `/v1/predict` and go through its request schema, scoring, decision
and action log: every protocol gets the same validation, scores and decisions.
"""

from __future__ import annotations

from typing import Any

MLFLOW_FORMATS = ("dataframe_records", "dataframe_split", "instances", "inputs")
OUTPUTS = {  # prediction field -> OIP v2 datatype
    "id": "BYTES",
    "score": "FP64",
    "decision": "BYTES",
    "model_version": "INT64",
    "decided_by": "BYTES",
    "control": "BOOL",
}
V2_DATATYPES = {"int": "FP64", "float": "FP64", "str": "BYTES", "bool": "BOOL"}


class ProtocolError(ValueError):
    """A body that does not follow the protocol; the message says what is wrong."""


def mlflow_records(body: Any) -> list[dict]:
    """The records of an MLflow scoring request (see the module docstring)."""
    if not isinstance(body, dict):
        raise ProtocolError("the body must be a JSON object")
    given = [k for k in MLFLOW_FORMATS if k in body]
    if len(given) != 1:
        raise ProtocolError(
            f"the body must hold exactly one of {', '.join(MLFLOW_FORMATS)}; it holds "
            f"{', '.join(given) or 'none'}"
        )
    key = given[0]
    data = body[key]
    if key == "dataframe_split":
        columns = data.get("columns") if isinstance(data, dict) else None
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise ProtocolError("dataframe_split needs `columns` (names) and `data` (rows)")
        rows = data.get("data")
        if not isinstance(rows, list) or not all(
            isinstance(r, list) and len(r) == len(data["columns"]) for r in rows
        ):
            raise ProtocolError("dataframe_split: every row of `data` needs one value per column")
        return [dict(zip(data["columns"], row, strict=True)) for row in rows]
    if isinstance(data, dict):  # `inputs`/`instances` as columns: {column: [values]}
        return _columns_to_records(data, key)
    if isinstance(data, list) and all(isinstance(r, dict) for r in data):
        return data
    raise ProtocolError(f"{key} must be a list of records or an object of equal-length columns")


def mlflow_predictions(rows: list[dict]) -> dict:
    return {"predictions": rows}


def mlflow_error(message: str) -> dict:
    return {"error_code": "BAD_REQUEST", "message": message}


def v2_records(body: Any) -> tuple[list[dict], str | None]:
    """(records, the request's id) of an OIP v2 inference request."""
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list) or not body["inputs"]:
        raise ProtocolError("the body must be an object with a non-empty `inputs` list")
    columns = {}
    for tensor in body["inputs"]:
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise ProtocolError("every input needs a `name`, `shape`, `datatype` and `data`")
        name, shape, data = tensor["name"], tensor.get("shape"), tensor.get("data")
        if not isinstance(data, list) or not isinstance(shape, list):
            raise ProtocolError(f"input {name}: `shape` and `data` must be lists")
        if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
            raise ProtocolError(f"input {name}: shape must be [n] or [n, 1], not {shape}")
        values = [v[0] if isinstance(v, list) and len(v) == 1 else v for v in data]
        if len(values) != shape[0]:
            raise ProtocolError(f"input {name}: shape {shape} but {len(values)} values")
        columns[name] = values
    request_id = body.get("id")
    return _columns_to_records(columns, "inputs"), str(request_id) if request_id else None


def v2_response(model: str, version: int, request_id: str, rows: list[dict]) -> dict:
    outputs = [
        {
            "name": field,
            "datatype": datatype,
            "shape": [len(rows)],
            "data": [row[field] for row in rows],
        }
        for field, datatype in OUTPUTS.items()
    ]
    return {
        "model_name": model,
        "model_version": str(version),
        "id": request_id,
        "outputs": outputs,
    }


def v2_metadata(model: str, version: int, schema: dict[str, str], required: list[str]) -> dict:
    """The model metadata of `GET /v2/models/<name>`: one input tensor per raw column."""
    inputs = [
        {
            "name": column,
            "datatype": V2_DATATYPES[kind],
            "shape": [-1],
            "parameters": {"required": column in required},
        }
        for column, kind in schema.items()
    ]
    return {
        "name": model,
        "versions": [str(version)],
        "platform": "mlops-assets",
        "inputs": [{"name": "id", "datatype": "BYTES", "shape": [-1]}, *inputs],
        "outputs": [{"name": f, "datatype": d, "shape": [-1]} for f, d in OUTPUTS.items()],
    }


def v2_error(message: str) -> dict:
    return {"error": message}


def _columns_to_records(columns: dict, key: str) -> list[dict]:
    lengths = {len(v) if isinstance(v, list) else -1 for v in columns.values()}
    if not columns or len(lengths) != 1 or -1 in lengths:
        raise ProtocolError(f"{key}: every column must be a list, all of one length")
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]
