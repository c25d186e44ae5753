"""`POST /v1/outcomes`: outcomes reported against the decisions the endpoint logged.

Each outcome names the id of a decision in the action log and the target's value. They are
written into the dataset's outcome landing file of the day they are reported
(`<outcomes>/<YYYY-MM-DD>.csv`; a dataset whose landing format is Parquet
cannot take posted outcomes), where the landing sensor ingests them the next day like
any landed file, so that the performance and impact assets see them. The whole post is checked
before anything is written, then the day's file is rewritten atomically (temporary file and
rename) under a lock: nothing is ever half-written, and a repeated post changes nothing.
"""

# No `from __future__ import annotations`: FastAPI resolves the routes' annotations (`Request`)
# from the functions themselves.

import contextlib
import fcntl
import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
from fastapi import Request, Response

MAX_OUTCOMES = 10_000


class OutcomeError(ValueError):
    """A refused post: `status` (404 unknown ids, 409 a different outcome already recorded,
    422 a malformed body or an unobservable outcome) and `detail`, one entry per problem."""

    def __init__(self, status: int, detail: list[dict]):
        super().__init__(detail[0]["msg"])
        self.status, self.detail = status, detail


def parse_outcomes(body: bytes, target: str) -> list[tuple[str, str]]:
    """(decision id, value as the landing file writes it) per outcome of a request body
    `{"outcomes": [{"id": ..., "<target>": ...}, ...]}`."""
    try:
        outcomes = json.loads(body)["outcomes"]
    except (ValueError, TypeError, KeyError):
        raise OutcomeError(422, [_problem(None, 'the body must be {"outcomes": [...]}')]) from None
    if not isinstance(outcomes, list) or not 0 < len(outcomes) <= MAX_OUTCOMES:
        raise OutcomeError(422, [_problem(None, f"outcomes: a list of 1 to {MAX_OUTCOMES}")])
    parsed, problems = [], []
    for item in outcomes:
        given = item.get("id") if isinstance(item, dict) else None
        value = item.get(target) if isinstance(item, dict) else None
        if not isinstance(given, str | int) or isinstance(given, bool):
            problems.append(_problem(given, "each outcome needs an `id` (text or integer)"))
        elif set(item) != {"id", target} or not _scalar(value):
            problems.append(_problem(given, f"each outcome needs exactly `id` and `{target}`"))
        else:
            parsed.append((str(given), _text(value)))
    values: dict[str, set] = {}
    for key, value in parsed:
        values.setdefault(key, set()).add(value)
    problems += [
        _problem(k, "two different outcomes in one post") for k, v in values.items() if len(v) > 1
    ]
    if problems:
        raise OutcomeError(422, problems)
    return list(dict.fromkeys(parsed))  # a pair repeated in the post counts once


def record_outcomes(
    folder: Path,
    day: str,
    columns: tuple[str, str],
    outcomes: list[tuple[str, str]],
    decisions: dict[str, str],
    unobservable: str | None,
) -> dict[str, Any]:
    """Write the new outcomes into `folder/<day>.csv`; refuse the whole post if an id has no
    logged decision (`decisions`: id -> decision), was decided `unobservable` (with selective
    labels, the action whose outcome the business never sees), or already has another value.
    `columns`: the id column and the target column of the landing files."""
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder / ".outcomes.lock"):
        recorded = _recorded(folder, columns)
        unknown = [
            _problem(k, "no decision with this id in the action log")
            for k, _ in outcomes
            if k not in decisions
        ]
        if unknown:
            raise OutcomeError(404, unknown)
        refused = [
            _problem(k, f"decided {unobservable!r}: its outcome cannot be observed")
            for k, _ in outcomes
            if unobservable is not None and decisions[k] == unobservable
        ]
        if refused:
            raise OutcomeError(422, refused)
        conflicts = [
            _problem(k, f"already recorded as {recorded[k]!r}")
            for k, v in outcomes
            if k in recorded and recorded[k] != v
        ]
        if conflicts:
            raise OutcomeError(409, conflicts)
        new = [(k, v) for k, v in outcomes if k not in recorded]
        path = folder / f"{day}.csv"
        if new:
            _append(path, columns, new)
    return {"recorded": len(new), "already_recorded": len(outcomes) - len(new), "file": str(path)}


def _recorded(folder: Path, columns: tuple[str, str]) -> dict[str, str]:
    """Every outcome in the landing folder, id -> value as text."""
    recorded: dict[str, str] = {}
    for path in sorted(folder.glob("????-??-??.csv")):
        frame = pl.read_csv(path, infer_schema=False).select(columns)
        recorded.update(zip(*(frame[c].to_list() for c in columns), strict=True))
    return recorded


def _append(path: Path, columns: tuple[str, str], new: list[tuple[str, str]]) -> None:
    rows = pl.DataFrame(new, schema=list(columns), orient="row")
    if path.exists():
        rows = pl.concat([pl.read_csv(path, infer_schema=False), rows], how="diagonal")
    buffer = io.BytesIO()
    rows.write_csv(buffer)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        handle.write(buffer.getvalue())
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _scalar(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | int | bool)


def _text(value) -> str:
    """The value as a CSV landing file holds it (1.0 -> "1", True -> "true")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _problem(given, msg: str) -> dict:
    return {"id": given, "msg": msg}


class OutcomeRoute:
    """Mixed into `serving.replica.ModelServer`: it provides `_deny`, `spec`, `log` and
    `config`."""

    async def outcomes(self, request: Request) -> Response:
        """Outcomes by decision id (`{"outcomes": [{"id": ..., "<target>": ...}]}`), written
        into the day's outcome landing file; a repeated post changes nothing."""
        import asyncio
        import datetime as dt

        from serving.action_log import logged_decisions
        from serving.standard_routes import json_response

        denied = self._deny(request)
        if denied:
            return denied
        spec = self.spec
        if spec.outcomes is None or spec.format != "csv":
            reason = (
                "its labels come with its records (target.delay_days 0)"
                if spec.outcomes is None
                else "its landing files are Parquet: land outcome files instead"
            )
            return json_response({"detail": [_problem(None, f"{spec.name}: {reason}")]}, 404)
        try:
            posted = parse_outcomes(await request.body(), spec.target.column)
            await asyncio.to_thread(self.log.flush)  # this replica's latest decisions too
            decisions = await asyncio.to_thread(
                logged_decisions, self.config["action_log_dir"], [k for k, _ in posted]
            )
            result = await asyncio.to_thread(
                record_outcomes,
                spec.outcomes,
                dt.datetime.now(dt.UTC).date().isoformat(),
                (spec.id_column, spec.target.column),
                posted,
                decisions,
                spec.decision.action if spec.decision.selective_labels else None,
            )
        except OutcomeError as exc:
            return json_response({"detail": exc.detail}, exc.status)
        return json_response(result)


def outcome_routes(api) -> type:
    """`POST /v1/outcomes` on the ingress's FastAPI app, as a class to mix into the deployment
    (see `serving.standard_routes.protocol_routes`)."""

    class OutcomeRoutes:
        @api.post(
            "/v1/outcomes",
            responses={
                404: {"description": "An id with no logged decision"},
                409: {"description": "Another outcome is already recorded for an id"},
                422: {"description": "Malformed, or an outcome that cannot be observed"},
            },
        )
        async def outcomes(self, request: Request) -> Response:
            """Outcomes by decision id (`{"outcomes": [{"id": ..., "<target>": ...}]}`),
            written into the day's outcome landing file; a repeated post changes nothing."""
            return await OutcomeRoute.outcomes(self, request)

    return OutcomeRoutes
