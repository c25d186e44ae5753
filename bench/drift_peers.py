"""The peer libraries' drift reports for `bench_drift.py`, each run in its own fresh process on
the same Parquet files (the `bench-peers` dependency group: NannyML 0.13.1, Evidently 0.7.23).

Both at their documented defaults, the whole current frame against the whole reference:

- NannyML: `UnivariateDriftCalculator` with Kolmogorov-Smirnov and Jensen-Shannon on numeric
  columns, chi-square and Jensen-Shannon on categorical ones, one chunk (the whole frame), default
  thresholds (for KS and JS: the reference chunks' mean + 3 standard deviations; chi-square:
  p < 0.05). A column drifts when any of its methods alerts. With one chunk the reference is one
  chunk too, so those thresholds are the reference's distance to itself: 0 (the bench prints them).
- Evidently: `Report([DataDriftPreset()], include_tests=True)`, which picks each column's test by
  its type and size (here: normed Wasserstein >= 0.1 on numeric columns, Jensen-Shannon >= 0.1
  on categorical ones); a column drifts when its "Value Drift" test fails.

Each returns the timings (import, read, report), the per-column verdicts and a few scores.
"""

from __future__ import annotations

import time
from pathlib import Path

# Neither library may try the network (there is none here): their usage telemetry is switched off
# with the variables each documents.
TELEMETRY_OFF = {"NML_DISABLE_USAGE_LOGGING": "1", "DO_NOT_TRACK": "1"}


def read(folder: Path):
    import pandas as pd

    return tuple(pd.read_parquet(folder / f"{side}.parquet") for side in ("reference", "current"))


def timings(started: float, imported: float, loaded: float, done: float) -> dict:
    return {"import": imported - started, "read": loaded - imported, "report": done - loaded}


def nannyml(folder: Path, numeric: list[str], categorical: list[str]) -> dict:
    started = time.perf_counter()
    import nannyml as nml

    imported = time.perf_counter()
    reference, current = read(folder)
    loaded = time.perf_counter()
    calculator = nml.UnivariateDriftCalculator(
        column_names=numeric + categorical,
        treat_as_categorical=categorical,
        chunk_number=1,
        continuous_methods=["kolmogorov_smirnov", "jensen_shannon"],
        categorical_methods=["chi2", "jensen_shannon"],
    )
    calculator.fit(reference)
    table = calculator.calculate(current).filter(period="analysis").to_df()
    done = time.perf_counter()
    verdicts, scores, thresholds = {}, {}, {}
    for column in numeric + categorical:
        methods = calculator.continuous_method_names
        if column in categorical:
            methods = calculator.categorical_method_names
        verdicts[column] = any(bool(table[(column, m, "alert")].iloc[0]) for m in methods)
        scores[column] = {m: float(table[(column, m, "value")].iloc[0]) for m in methods}
        for m in methods:  # chi-square has none: it alerts at p < 0.05
            upper = table[(column, m, "upper_threshold")].iloc[0]
            if upper is not None and upper == upper:
                thresholds.setdefault(m, set()).add(float(upper))
    return {
        "timings": timings(started, imported, loaded, done),
        "verdicts": verdicts,
        "scores": scores,
        "thresholds": {m: sorted(values) for m, values in thresholds.items()},
    }


def evidently(folder: Path, numeric: list[str], categorical: list[str]) -> dict:
    started = time.perf_counter()
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    imported = time.perf_counter()
    reference, current = read(folder)
    loaded = time.perf_counter()
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    snapshot = Report([DataDriftPreset()], include_tests=True).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    result = snapshot.dict()
    done = time.perf_counter()
    prefix = "Value Drift for column "
    verdicts = {
        test["name"][len(prefix) :]: str(getattr(test["status"], "value", test["status"])) == "FAIL"
        for test in result["tests"]
        if test["name"].startswith(prefix)
    }
    scores = {
        metric["config"]["column"]: {metric["config"]["method"]: float(metric["value"])}
        for metric in result["metrics"]
        if metric["config"].get("type", "").endswith("ValueDrift")
    }
    return {
        "timings": timings(started, imported, loaded, done),
        "verdicts": verdicts,
        "scores": scores,
    }
