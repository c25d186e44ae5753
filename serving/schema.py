"""The request schema of `POST /v1/predict`, derived from the served model's input schema.

Features are required keys (a value may be null: the features fill it as in training); segment
and protected columns that are not features are optional; any other key is an error. Numbers are
strict: text, booleans, NaN and infinities are rejected with the field named.
"""

from __future__ import annotations

from typing import Annotated, Any, NotRequired, Required

import polars as pl
from pydantic import ConfigDict, Field, StrictBool, StrictInt, StrictStr, TypeAdapter, with_config
from typing_extensions import TypedDict

from mlops_assets.compute.ingest import SERVED_DTYPES

_TYPES = {"int": float, "float": float, "str": StrictStr, "bool": StrictBool}
ID = "id"


class RequestError(ValueError):
    """A client mistake: `status` is 422 or 413, `detail` names the field and the problem."""

    def __init__(self, status: int, detail: list[dict]):
        super().__init__(detail[0]["msg"] if detail else "invalid request")
        self.status = status
        self.detail = detail


class RequestSchema:
    """Validates request bodies and turns their records into a typed polars frame."""

    def __init__(self, schema: dict[str, str], required: list[str], max_records: int):
        self.schema = schema
        self.max_records = max_records
        fields: dict[str, Any] = {ID: NotRequired[StrictStr | StrictInt]}
        for column, kind in schema.items():
            value = _TYPES[kind] | None
            fields[column] = Required[value] if column in required else NotRequired[value]
        config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
        record = with_config(config)(TypedDict("Record", fields))  # type: ignore[operator]
        body = with_config(ConfigDict(extra="forbid"))(
            TypedDict(
                "PredictRequest",
                {"records": Annotated[list[record], Field(min_length=1, max_length=max_records)]},
            )
        )
        self._adapter = TypeAdapter(body)
        self.polars_schema = {c: SERVED_DTYPES[k] for c, k in schema.items()}

    def parse(self, body: bytes) -> tuple[pl.DataFrame, list[Any]]:
        """(records as a frame in schema order, the ids given or None per record)."""
        from pydantic import ValidationError

        if len(body) > self.max_records * 4096 + 1024:
            raise RequestError(413, [_detail(("body",), f"body of {len(body)} bytes is too large")])
        try:
            records = self._adapter.validate_json(body)["records"]
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_context=False)
            too_long = [e for e in errors if e["type"] == "too_long" and e["loc"] == ("records",)]
            if too_long:
                raise RequestError(
                    413, [_detail(("records",), f"at most {self.max_records} records per request")]
                ) from None
            details = [_detail(e["loc"], e["msg"], e["type"]) for e in errors]
            raise RequestError(422, details) from None
        ids = [r.pop(ID, None) for r in records]
        frame = pl.from_dicts(records, schema=self.polars_schema)
        return frame, ids

    def json_schema(self) -> dict:
        """The request body's JSON schema with the record schema inlined (for OpenAPI)."""
        schema = self._adapter.json_schema()
        definitions = schema.pop("$defs", {})
        items = schema["properties"]["records"]["items"]
        if "$ref" in items:
            schema["properties"]["records"]["items"] = definitions[items["$ref"].split("/")[-1]]
        return schema


def _detail(loc: tuple, msg: str, kind: str = "invalid") -> dict:
    """One problem: where (`loc`), which `field` and record, and what is wrong."""
    loc = tuple(loc)
    record = loc[1] if len(loc) > 1 and loc[0] == "records" and isinstance(loc[1], int) else None
    field = next((str(p) for p in reversed(loc) if isinstance(p, str)), "body")
    if kind == "json_invalid":
        field = "body"
    return {"loc": list(loc), "field": field, "record": record, "msg": msg, "type": kind}
