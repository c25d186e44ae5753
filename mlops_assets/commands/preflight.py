"""`mlops check`: a dataset spec read against its first landing files, touching nothing.

`check_dataset` reports every column with its inferred type and roles, and every problem: a
column the spec names that the data lacks, a target without exactly two classes or whose
positive class is not among them, duplicate ids, a categorical column with thousands of values,
outcome files that do not arrive `delay_days` after their applications, a value matrix under
which acting can never pay. `mlops run` and `mlops up` run it first and stop on blocking
problems; duplicates and wide categoricals only warn there (the daily checks handle them).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from mlops_assets.commands.check_report import Report, format_report
from mlops_assets.compute.features import feature_columns
from mlops_assets.compute.ingest import IngestError, check_positive, infer_kind, read_landing
from mlops_assets.compute.metrics import break_even_threshold
from mlops_assets.config.spec import DatasetSpec, SpecError
from mlops_assets.defs.partitions import ingestible_days, landed_days

FIRST_FILES = 3  # landing (and outcome) files read
MAX_CATEGORIES = 1000  # distinct values above which a categorical column is a problem
MIN_ID_MATCH = 0.5  # share of an outcomes file's ids found in the applications delay_days before


def check_dataset(spec: DatasetSpec) -> Report:
    """Read the spec's first landing (and outcome) files and list every problem."""
    report = Report(spec)
    _check_value_matrix(report)
    days = ingestible_days(spec, landed_days(spec.landing, spec.format))
    if not days:
        report.add(
            "landing",
            f"{spec.landing} has no YYYY-MM-DD.{spec.format} files to check yet",
            blocking=spec.start_date is None,  # with start_date, files may land later
        )
        return report
    frame = _read_first(report, list(days.values())[:FIRST_FILES], "landing")
    if frame is None:
        return report
    report.rows = frame.height
    _describe_columns(report, frame)
    if spec.id_column in frame.columns:
        _check_duplicates(report, frame)
    if not spec.delayed_labels and spec.target.column in frame.columns:
        _check_target(report, frame, "the first landing files")
    if spec.delayed_labels:
        _check_outcomes(report, days)
    return report


def _read_first(report: Report, paths: list[Path], key: str) -> pl.DataFrame | None:
    """The files concatenated; a file that cannot be read is a problem of its day (the pipeline
    quarantines it), blocking only when no file reads."""
    frames = []
    for path in paths:
        try:
            frame = read_landing(path, report.spec.format)
        except IngestError as exc:
            report.add(key, exc.reason, blocking=False)
            continue
        if frames and set(frame.columns) != set(frames[0].columns) - {"_file"}:
            differ = sorted(set(frame.columns) ^ (set(frames[0].columns) - {"_file"}))
            report.add(key, f"{path.name} differs from {paths[0].name} in columns {differ}", False)
        frames.append(frame.with_columns(_file=pl.lit(path.name)))
    report.files += paths
    if not frames:
        report.add(key, f"none of {', '.join(p.name for p in paths)} could be read")
        return None
    return pl.concat(frames, how="diagonal_relaxed")


def _describe_columns(report: Report, frame: pl.DataFrame) -> None:
    spec = report.spec
    data_columns = [c for c in frame.columns if c != "_file"]
    text = {spec.id_column, *(spec.categorical or ())}
    schema = {c: "str" if c in text else infer_kind(frame[c]) for c in data_columns}
    named = {
        "id_column": [spec.id_column] if spec.id_column else [],
        "target.column": [] if spec.delayed_labels else [spec.target.column],
        "features": list(spec.features or ()),
        "categorical": list(spec.categorical or ()),
        "segments": list(spec.segments),
        "protected": list(spec.protected),
    }
    for key, columns in named.items():
        for column in columns:
            if column not in schema and column not in report.columns:
                report.columns[column] = {"type": "-", "roles": [key.split(".")[0]]}
                report.add(column, f"named in '{key}' but not in {report.files[0].name}")
    roles = feature_columns(spec, schema | {c: "missing" for c in report.columns})
    for column, kind in schema.items():
        col_roles = []
        if column == spec.id_column:
            col_roles.append("id")
        if column == spec.target.column:
            col_roles.append(f"target (positive {spec.target.positive!r})")
        if column in roles.numeric or column in roles.categorical:
            col_roles.append("feature")
        if column in roles.categorical:
            col_roles.append("categorical")
            _check_cardinality(report, frame[column])
        col_roles += [
            role
            for role, columns in (("segment", spec.segments), ("protected", spec.protected))
            if column in columns
        ]
        report.columns[column] = {
            "type": kind,
            "roles": col_roles or ["ignored"],
            "nulls": round(frame[column].null_count() / frame.height, 3),
        }


def _check_cardinality(report: Report, series: pl.Series) -> None:
    distinct = series.n_unique()
    if distinct >= MAX_CATEGORIES:
        report.add(
            series.name,
            f"categorical with {distinct} distinct values in {series.len()} rows: an identifier or "
            "free text? declare it the id_column, or list 'features' without it",
            blocking=False,
        )


def _check_duplicates(report: Report, frame: pl.DataFrame) -> None:
    column = report.spec.id_column
    dupes = frame.filter(pl.col(column).is_not_null() & pl.col(column).is_duplicated())
    if dupes.height:
        example = dupes[column][0]
        report.add(
            column,
            f"{dupes[column].n_unique()} ids occur more than once in the first files "
            f"(e.g. {example!r}); such days fail the duplicate_ids check",
            blocking=False,
        )


def _check_target(report: Report, frame: pl.DataFrame, where: str) -> None:
    target = report.spec.target
    values = frame[target.column].drop_nulls().unique().sort().to_list()
    if len(values) != 2:
        report.add(
            "target.column",
            f"'{target.column}' has {len(values)} distinct values in {where} "
            f"({', '.join(repr(v) for v in values[:5])}); expected exactly two classes",
            blocking=len(values) < 2,  # more: days with a third class are quarantined
        )
        return
    try:
        check_positive(report.spec, values, where=f"'{target.column}' in {where}")
    except SpecError as exc:
        report.add("target.positive", str(exc).removeprefix("key 'target.positive': "))


def _check_outcomes(report: Report, days: dict[str, Path]) -> None:
    spec = report.spec
    delay = spec.target.delay_days
    outcomes = landed_days(spec.outcomes, spec.format)
    first_day = dt.date.fromisoformat(next(iter(days)))
    expected = first_day + dt.timedelta(days=delay)
    if not outcomes:
        if dt.date.fromisoformat(next(reversed(days))) >= expected:
            report.add(
                "outcomes",
                f"{spec.outcomes} has no YYYY-MM-DD.{spec.format} files, but with delay_days "
                f"{delay} the labels of {first_day} should have landed on {expected}",
            )
        return
    frame = _read_first(report, list(outcomes.values())[:FIRST_FILES], "outcomes")
    if frame is None:
        return
    missing = [c for c in (spec.id_column, spec.target.column) if c not in frame.columns]
    if missing:
        report.add("outcomes", f"outcome files lack the column(s) {', '.join(missing)}")
        return
    target = frame[spec.target.column]
    report.columns[spec.target.column] = {
        "type": infer_kind(target),
        "roles": [f"target (positive {spec.target.positive!r}), in the outcome files"],
        "nulls": round(target.null_count() / frame.height, 3),
    }
    _check_target(report, frame, "the first outcome files")
    first_outcome = dt.date.fromisoformat(next(iter(outcomes)))
    if first_outcome != expected:
        report.add(
            "target.delay_days",
            f"the first outcomes file is {first_outcome}, {(first_outcome - first_day).days} "
            f"days after the first landing file ({first_day}); delay_days says {delay}",
        )
    applied = days.get((first_outcome - dt.timedelta(days=delay)).isoformat())
    if applied is None:
        return
    try:
        ids = read_landing(applied, spec.format)[spec.id_column].cast(pl.String)
    except (IngestError, pl.exceptions.ColumnNotFoundError):
        return
    labelled = frame.filter(pl.col("_file") == outcomes[first_outcome.isoformat()].name)
    share = labelled[spec.id_column].cast(pl.String).is_in(ids.implode()).mean()
    if share is not None and share < MIN_ID_MATCH:
        report.add(
            "target.delay_days",
            f"only {share:.0%} of the ids in outcomes {first_outcome} are in the applications of "
            f"{applied.stem} ({delay} days earlier): is delay_days right?",
        )


def _check_value_matrix(report: Report) -> None:
    v = report.spec.value
    gain_positive = v.action_positive - v.otherwise_positive  # what acting adds on a positive
    gain_negative = v.action_negative - v.otherwise_negative  # ... and on a negative
    action, otherwise = report.spec.decision.action, report.spec.decision.otherwise
    if gain_positive <= 0 and gain_negative <= 0:
        report.add(
            "value",
            f"'{action}' is never worth more than '{otherwise}' (on a positive it adds "
            f"{gain_positive:g}, on a negative {gain_negative:g}): no threshold can pay",
        )
    elif gain_negative >= 0 and gain_positive >= 0:
        report.add(
            "value",
            f"'{action}' pays on every row whatever its score (it adds {gain_positive:g} on a "
            f"positive, {gain_negative:g} on a negative): a model cannot add value",
            blocking=gain_negative > 0,
        )
    elif gain_positive <= gain_negative:
        report.add(
            "value",
            f"'{action}' pays on negatives and costs on positives, but it is taken when the score "
            "of the positive class is high: swap decision.action and decision.otherwise, or the "
            "positive class",
        )
    else:
        report.break_even = break_even_threshold(v)


def require_fit(spec: DatasetSpec, warn) -> Report:
    """`check_dataset`, raising `SpecError` with the whole report on a blocking problem (what
    `mlops run` and `mlops up` do first); other problems go to `warn`."""
    report = check_dataset(spec)
    if report.blocking:
        raise SpecError(
            "the spec does not fit the data; nothing was run (`mlops check` shows this too):\n"
            + format_report(report)
        )
    for problem in report.problems:
        warn(f"warning: {problem.where}: {problem.text}")
    return report
