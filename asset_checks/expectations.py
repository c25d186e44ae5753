"""A thin layer over Great Expectations 1.x: build expectations, validate a polars frame.

Great Expectations takes ~10 s to import, so it is imported on first use, once per process.
Expectations are described as plain `Expect` tuples (a GX class name and its arguments), so that
suites can be built and inspected without importing GX.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import polars as pl


@dataclass(frozen=True)
class Expect:
    """One expectation: the GX class name (e.g. `ExpectColumnValuesToBeUnique`) and kwargs."""

    kind: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        column = self.kwargs.get("column")
        return f"{self.kind}({column})" if column else self.kind


@dataclass(frozen=True)
class Outcome:
    """The result of one expectation on one frame."""

    expect: Expect
    success: bool
    observed: dict[str, Any]

    def summary(self) -> str:
        detail = ", ".join(f"{k}={v}" for k, v in self.observed.items())
        return f"{'ok' if self.success else 'FAILED'} {self.expect.label}: {detail}"


_OBSERVED_KEYS = (
    "observed_value",
    "details",
    "unexpected_count",
    "unexpected_percent",
    "partial_unexpected_list",
)


@cache
def _batch_definition():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("mlops")
    return source.add_dataframe_asset("frame").add_batch_definition_whole_dataframe("whole")


def validate(frame: pl.DataFrame, expectations: list[Expect]) -> list[Outcome]:
    """Run `expectations` as one GX suite on `frame`; outcomes in the same order."""
    if not expectations:
        return []
    import great_expectations as gx
    import great_expectations.expectations as gxe

    batch_definition = _batch_definition()  # also makes the ephemeral context current
    suite = gx.ExpectationSuite(name="partition")
    # A suite keeps one of several equal expectations, and unsaved ones have no id: tag each
    # distinct expectation with its index and map the results back through it.
    index_of: dict[str, int] = {}
    for e in expectations:
        if repr(e) not in index_of:
            index_of[repr(e)] = len(index_of)
            suite.add_expectation(
                getattr(gxe, e.kind)(**e.kwargs, meta={"index": index_of[repr(e)]})
            )
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame.to_pandas()})
    # BASIC: the fields read below, without SUMMARY's value counts (~35% faster per suite)
    result = batch.validate(suite, result_format="BASIC")
    by_index = {r.expectation_config.meta["index"]: r for r in result.results}
    outcomes = []
    for expect in expectations:
        r = by_index[index_of[repr(expect)]]
        observed = {k: _plain(r.result[k]) for k in _OBSERVED_KEYS if k in r.result}
        if "partial_unexpected_list" in observed:
            observed["partial_unexpected_list"] = observed["partial_unexpected_list"][:5]
        if r.exception_info and r.exception_info.get("raised_exception"):
            observed["error"] = r.exception_info.get("exception_message")
        outcomes.append(Outcome(expect, bool(r.success), observed))
    return outcomes


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, list):
        return [_plain(v) for v in value[:30]]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value if isinstance(value, int | str | bool | type(None)) else str(value)
