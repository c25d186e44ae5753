"""Benchmark: a partition's data-quality suite, in-memory validation against the saved checkpoint.

    uv run python bench/bench_quality.py [--rows 400] [--repeats 5]

The checks run a Great Expectations checkpoint per partition (`asset_checks/expectations.py`):
saved suite, kept validation result, Data Docs page. This prints the CPU seconds per partition of
a lending-like raw suite (types, nulls, unique ids, volume, ranges, category sets), median of
`--repeats` interleaved rounds in this process, for:
  in-memory      an ephemeral context's `batch.validate` (no result kept, no page): the baseline
  checkpoint     `validate()`: the checkpoint run, its result kept and its Data Docs page built
  page (GX)      building that validation's page with GX's own views
  page (ours)    the same page with `asset_checks.data_docs`' views (templates compiled once)
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from asset_checks.data_docs_site import DATA_DOCS_SITE  # noqa: E402
from asset_checks.expectations import (  # noqa: E402
    Expect,
    Param,
    Suite,
    _context,
    validate,
)


def lending_like(rows: int) -> tuple[pl.DataFrame, Suite]:
    rng = np.random.default_rng(0)
    numeric = {f"x{i}": rng.normal(size=rows) for i in range(8)}
    categories = {f"c{i}": rng.choice(["a", "b", "c", "d"], rows) for i in range(5)}
    frame = pl.DataFrame({"id": [f"r{i}" for i in range(rows)], **numeric, **categories})
    checks = {
        "schema": [Expect("ExpectTableColumnsToMatchOrderedList", {"column_list": frame.columns})]
        + [
            Expect("ExpectColumnValuesToBeOfType", {"column": c, "type_": t})
            for c, t in zip(frame.columns, ["str"] + ["float"] * 8 + ["str"] * 5, strict=True)
        ],
        "missing_values": [
            Expect("ExpectColumnValuesToNotBeNull", {"column": c, "mostly": 0.9})
            for c in frame.columns
        ],
        "duplicate_ids": [Expect("ExpectColumnValuesToBeUnique", {"column": "id"})],
        "volume": [
            Expect(
                "ExpectTableRowCountToBeBetween",
                {
                    "min_value": Param("min_rows", rows // 2),
                    "max_value": Param("max_rows", rows * 2),
                },
            )
        ],
        "value_ranges": [
            Expect(
                "ExpectColumnValuesToBeBetween",
                {
                    "column": c,
                    "min_value": Param(f"min_{c}", -5),
                    "max_value": Param(f"max_{c}", 5),
                },
            )
            for c in numeric
        ],
        "category_sets": [
            Expect(
                "ExpectColumnValuesToBeInSet",
                {"column": c, "value_set": Param(f"v_{c}", list("abcd"))},
            )
            for c in categories
        ],
    }
    return frame, Suite("bench.raw", checks)


def in_memory(frame: pl.DataFrame, suite: Suite):
    """The pre-checkpoint path: an ephemeral context, the suite rebuilt, values inlined."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("bench")
        .add_dataframe_asset("frame")
        .add_batch_definition_whole_dataframe("whole")
    )
    values = suite.parameters()

    def run() -> None:
        saved = gx.ExpectationSuite(name="bench")
        for e in suite.expectations():
            kwargs = {
                k: values[v["$PARAMETER"]] if isinstance(v, dict) else v
                for k, v in e.saved().items()
            }
            saved.add_expectation(getattr(gxe, e.kind)(**kwargs))
        frame_pd = frame.to_pandas(use_pyarrow_extension_array=True)
        batch.get_batch(batch_parameters={"dataframe": frame_pd}).validate(
            saved, result_format="BASIC"
        )

    return run


def cpu(run) -> float:
    started = time.process_time()
    run()
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400, help="rows in the partition")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    frame, suite = lending_like(args.rows)
    home = Path(tempfile.mkdtemp(prefix="bench-quality-"))
    validate(frame, suite, home, "warm-up")
    context = _context(home.resolve())
    gx_views = {k: v for k, v in DATA_DOCS_SITE.items() if k != "site_section_builders"}
    gx_views["site_index_builder"] = {"class_name": "DefaultSiteIndexBuilder"}
    gx_views["store_backend"] = {**gx_views["store_backend"], "base_directory": "gx_site/"}
    context.add_data_docs_site("gx_views", gx_views)
    baseline = in_memory(frame, suite)
    baseline()
    key = context.validation_results_store.list_keys()[0]
    times: dict[str, list[float]] = {}
    for day in range(args.repeats):
        for name, run in (
            ("in-memory", baseline),
            ("checkpoint", lambda day=day: validate(frame, suite, home, f"day-{day}")),
            ("page (GX)", lambda: context.build_data_docs(["gx_views"], [key])),
            ("page (ours)", lambda: context.build_data_docs(["local_site"], [key])),
        ):
            times.setdefault(name, []).append(cpu(run))
    medians = {name: statistics.median(t) for name, t in times.items()}
    print(f"{args.rows} rows, {len(suite.expectations())} expectations, median of {args.repeats}")
    for name, seconds in medians.items():
        print(f"  {name:12s} {seconds:6.3f} s CPU")
    print(f"checkpoint / in-memory: {medians['checkpoint'] / medians['in-memory']:.2f}x")
    print(f"page, GX's views / ours: {medians['page (GX)'] / medians['page (ours)']:.2f}x")


if __name__ == "__main__":
    main()
