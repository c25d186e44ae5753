"""Drift: each day's applications against the deployed champion's training data (before a first
champion: against the trailing accepted days), with the retrain signal the drift sensor reads.

The daily report is the view of one day. The retrain signal is one test of the pooled last
`monitoring.drift_pool_days` days newer than the champion's training data: a drift that persists
is found with the power of all their rows (a 10-point share shift at 350 rows a day: nearly
every window, where two consecutive single-day alarms came together on half the days), and the
null of that test allows for the reference's own day-to-day variation (`compute.drift`), so its
false-alarm rate holds at any daily volume (bench/bench_decisions.py)."""

import datetime as dt
import time

import dagster as dg
import polars as pl

from asset_checks.drift import no_major_drift_result, no_major_drift_spec, no_reference_result
from mlops_assets.compute.domain import domain_classifier_auc
from mlops_assets.compute.drift import (
    Reference,
    column_drift,
    fit_reference,
)
from mlops_assets.compute.ingest import DAY
from mlops_assets.compute.reference_store import load_reference, reference_bytes
from mlops_assets.config.spec import DatasetSpec
from mlops_assets.defs.assets.drift_summary import (
    SCORE,
    Comparison,
    PooledWindow,
    drift_summary,
)
from mlops_assets.defs.assets.metadata import table as table_metadata
from mlops_assets.defs.assets.plots import bar_png, write_drift_html
from mlops_assets.defs.automation import monitoring_automation
from mlops_assets.defs.lake import write_bytes
from mlops_assets.defs.registry import TRANSIENT, RegistriesResource, RegistryResource
from mlops_assets.defs.resources import DatasetResource, DatasetsResource

GROUP = "monitoring"


def build_drift_assets(spec: DatasetSpec, partitions: dg.PartitionsDefinition) -> list:
    """`<dataset>/drift_report`, with its `no_major_drift` check."""
    drift_key = dg.AssetKey([spec.name, "drift_report"])

    @dg.asset(
        key=drift_key,
        automation_condition=monitoring_automation(spec),
        retry_policy=TRANSIENT,
        deps=[dg.AssetKey([spec.name, "raw"]), dg.AssetKey([spec.name, "deployment"])],
        partitions_def=partitions,
        group_name=GROUP,
        kinds={"polars", "html"},
        check_specs=[no_major_drift_spec(drift_key)],
        description="The day's applications against the deployed champion's training data (before"
        " a first champion: the accepted days of the trailing history window): per feature a "
        "location test and a shape test at a per-test alpha sized for the day's rows, new nulls,"
        " unseen categories, PSI and KS; the champion's score, a domain classifier's AUC, and the"
        " label-free performance estimate (CBPE) of the day; the retrain signal from the same "
        "tests on the pooled last `monitoring.drift_pool_days` days, their null allowing for "
        "day-to-day variation. HTML report under <home>/reports/.",
    )
    def drift_report(
        context: dg.AssetExecutionContext,
        datasets: DatasetsResource,
        registries: RegistriesResource,
    ):
        dataset, registry = datasets.of(spec), registries.of(spec)
        started = time.perf_counter()
        day = context.partition_key
        raw = dataset.read("raw", day)
        compared = _comparison(dataset, registry, day, raw)
        if compared is None:
            basis = f"the {len(dataset.accepted_history(day))} accepted days before {day}"
            return _no_reference_yet(day, raw, basis, spec.quality.min_history_days)
        columns = dataset.feature_columns()
        table = column_drift(compared.reference, compared.current)
        auc = domain_classifier_auc(
            compared.reference_rows,
            compared.current,
            [*columns.numeric, *columns.categorical],
            list(columns.categorical),
        )
        pooled = _pooled_window(dataset, day, compared)
        summary = drift_summary(spec, table, compared, auc, pooled)
        png = bar_png(
            dict(zip(table["column"], table["psi"], strict=True)),
            f"{spec.name} {day}: PSI per column (against {compared.basis})",
            0.1,
            0.25,
        )
        html = write_drift_html(dataset, day, table, auc, summary["estimate"], png, compared.basis)
        return _result(day, table, summary, html, started)

    return [drift_report]


# The UI's table: each column's verdict and effect sizes (every statistic: the lake's table and
# the HTML report)
TABLE = ("column", "kind", "severity", "w", "psi", "ks", "p_shape", "p_location")


def _result(day, table, summary, html, started) -> dg.MaterializeResult:
    """The drift report's table, metadata (every number of the rule) and check result."""
    estimate = summary["estimate"]
    return dg.MaterializeResult(
        value=table.with_columns(pl.lit(dt.date.fromisoformat(day)).alias(DAY)),
        metadata={
            "summary": dg.MetadataValue.json(summary),
            **{
                k: summary[k]
                for k in (
                    "severity",
                    "signal_today",
                    "pooled_signal",
                    "retrain_signal",
                    "domain_auc",
                    "domain_auc_threshold",
                    "score_psi",
                )
            },
            "expected_roc_auc": estimate.get("expected_roc_auc"),
            "drift": table_metadata(table.select(TABLE).sort("w", descending=True), digits=3),
            "report": dg.MetadataValue.path(str(html)),  # the table with its PSI plot
            "runtime_seconds": round(time.perf_counter() - started, 2),
        },
        check_results=[no_major_drift_result(summary)],
    )


def _comparison(
    dataset: DatasetResource, registry: RegistryResource, day: str, raw: pl.DataFrame
) -> Comparison | None:
    """The deployed champion's training data, else the trailing accepted days (None when there
    are too few of them)."""
    from serving.model import load_model

    spec, columns = dataset.spec, dataset.feature_columns()
    categorical = list(columns.categorical)
    if dataset.exists("deployment"):
        version = dataset.document("deployment")["target"]["champion"]
        model = load_model(
            registry.tracking_uri, registry.model_name, version, spec.decision.threshold
        )
        numeric = [*columns.numeric, SCORE]
        reference, rows = _reference(dataset, model, numeric, categorical)
        current = raw.with_columns(pl.Series(SCORE, model.score(raw)))
        return Comparison(
            version, model, reference, rows, current, f"the training data of champion v{version}"
        )
    history = dataset.accepted_history(day)
    if len(history) < spec.quality.min_history_days:
        return None
    rows = dataset.frame("raw", history)
    reference = fit_reference(rows, list(columns.numeric), categorical)
    basis = f"the {len(history)} accepted days before {day} (no champion yet)"
    return Comparison(None, None, reference, rows, raw, basis)


def _pooled_window(dataset: DatasetResource, day: str, compared: Comparison) -> PooledWindow | None:
    """The last `monitoring.drift_pool_days` landed days up to `day` that are newer than the
    champion's training data, tested as one sample; None before a champion, or while fewer
    such days have landed."""
    wanted = dataset.spec.monitoring.drift_pool_days
    if compared.model is None:
        return None
    last_trained = compared.model.training_window.split("..")[1]
    days = [d for d in dataset.partitions("raw") if last_trained < d <= day][-wanted:]
    if len(days) < wanted:
        return None
    rows = dataset.frame("raw", days)
    current = rows.with_columns(pl.Series(SCORE, compared.model.score(rows)))
    columns = dataset.feature_columns()
    auc = domain_classifier_auc(
        compared.reference_rows,
        current,
        [*columns.numeric, *columns.categorical],
        list(columns.categorical),
    )
    table = column_drift(compared.reference, current, days=len(days))
    return PooledWindow(days, current.height, table, auc)


def _reference(
    dataset: DatasetResource, model, numeric, categorical
) -> tuple[Reference, pl.DataFrame]:
    """The champion's training rows (raw) and their summary, computed once per version (with
    the champion's scores) and then read from `<lake>/<dataset>/drift_reference/`."""
    first, last = model.training_window.split("..")
    days = [d for d in dataset.partitions("raw") if first <= d <= last]
    rows = dataset.frame("raw", days)
    path = dataset.lake_root / dataset.spec.name / "drift_reference" / f"v{model.version}.npz"
    stored = load_reference(path.read_bytes()) if path.exists() else None
    if stored is not None:  # None: none yet, or of an older format
        return stored, rows
    reference = fit_reference(
        rows.with_columns(pl.Series(SCORE, model.score(rows))), numeric, categorical
    )
    write_bytes(reference_bytes(reference), path)
    return reference, rows


def _no_reference_yet(day: str, raw: pl.DataFrame, basis: str, needed: int):
    """The report of a day with too little accepted history to compare against."""
    reason = f"no reference yet: {basis}, at least {needed} needed"
    return dg.MaterializeResult(
        value=pl.DataFrame({"column": [], DAY: []}, schema={"column": pl.String, DAY: pl.Date}),
        metadata={
            "summary": dg.MetadataValue.json(
                {"reference": basis, "rows": raw.height, "severity": "none", "note": reason}
            ),
            "severity": "none",
            "signal_today": False,
            "pooled_signal": False,
            "retrain_signal": False,
        },
        check_results=[no_reference_result(reason)],
    )
