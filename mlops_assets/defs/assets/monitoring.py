"""Monitoring: daily data drift against the champion's training data, and the champion's
performance once labels land (estimated from its calibrated scores before they do)."""

import datetime as dt
import time

import dagster as dg
import polars as pl

from mlops_assets.compute.drift import (
    Reference,
    Thresholds,
    alpha_per_test,
    column_drift,
    domain_auc_threshold,
    domain_classifier_auc,
    fit_reference,
    load_reference,
    save_reference,
    tests_per_day,
)
from mlops_assets.compute.inference import calibration_evidence
from mlops_assets.compute.ingest import DAY
from mlops_assets.compute.monitoring import (
    LABEL,
    business_kpis,
    estimated_performance,
    observed_outcomes,
    realized_performance,
)
from mlops_assets.config.spec import DatasetSpec
from mlops_assets.defs.assets.plots import bar_png, lines_png, markdown_image
from mlops_assets.defs.registry import RegistryResource
from mlops_assets.defs.resources import DatasetResource

GROUP = "monitoring"
SCORE = "__score__"  # the champion's score, monitored as one more column


def build_monitoring_assets(spec: DatasetSpec, partitions: dg.PartitionsDefinition) -> list:
    """`<dataset>/drift_report` and `<dataset>/performance` (when labels lag)."""
    drift_key = dg.AssetKey([spec.name, "drift_report"])

    @dg.asset(
        key=drift_key,
        deps=[dg.AssetKey([spec.name, "raw"]), dg.AssetKey([spec.name, "deployment"])],
        partitions_def=partitions,
        group_name=GROUP,
        kinds={"polars", "html"},
        check_specs=[
            dg.AssetCheckSpec(
                "no_major_drift",
                asset=drift_key,
                description="Warns on moderate drift; fails (ERROR) when a feature, the score "
                "or the domain classifier shows major drift.",
            )
        ],
        description="The day's applications against the deployed champion's training data (before"
        " a first champion: the accepted days of the trailing history window): per feature a "
        "location test and a shape test at a per-test alpha sized for the day's rows, new nulls,"
        " unseen categories, PSI and KS; the champion's score, a domain classifier's AUC, and the"
        " label-free performance estimate (CBPE) of the day. HTML report under <home>/reports/.",
    )
    def drift_report(
        context: dg.AssetExecutionContext, dataset: DatasetResource, registry: RegistryResource
    ):
        from serving.model import load_model

        started = time.perf_counter()
        day = context.partition_key
        raw = dataset.read("raw", day)
        columns = dataset.feature_columns()
        categorical = list(columns.categorical)
        if dataset.exists("deployment"):
            version = dataset.document("deployment")["target"]["champion"]
            model = load_model(
                registry.tracking_uri, registry.model_name, version, spec.decision.threshold
            )
            numeric = [*columns.numeric, SCORE]
            reference, reference_rows = _reference(dataset, registry, model, numeric, categorical)
            current = raw.with_columns(pl.Series(SCORE, model.score(raw)))
            basis = f"the training data of champion v{version}"
        else:
            version, model, numeric = None, None, list(columns.numeric)
            history = dataset.accepted_history(day)
            basis = f"the {len(history)} accepted days before {day} (no champion yet)"
            if len(history) < spec.quality.min_history_days:
                return _no_reference_yet(day, raw, basis, spec.quality.min_history_days)
            reference_rows = dataset.frame("raw", history)
            reference = fit_reference(reference_rows, numeric, categorical)
            current = raw
        table = column_drift(reference, current)
        alpha, tests = alpha_per_test(reference), tests_per_day(reference)
        auc = domain_classifier_auc(
            reference_rows, current, [*columns.numeric, *columns.categorical], categorical
        )
        auc_limit = domain_auc_threshold(
            reference_rows.height, current.height, alpha, spec.monitoring.domain_auc
        )
        estimate = (
            estimated_performance(current[SCORE].to_numpy(), model.threshold, spec) if model else {}
        )
        monitoring = spec.monitoring
        major = table.filter((pl.col("severity") == "major") & (pl.col("column") != SCORE))
        score_rows = table.filter(pl.col("column") == SCORE).to_dicts()
        score_row = score_rows[0] if score_rows else {"psi": None, "severity": "none"}
        signal_today = major.height >= monitoring.drift_columns or auc >= auc_limit
        earlier = _earlier_signals(context, drift_key, monitoring.drift_confirm_days - 1, version)
        # a retrain needs a champion to replace: before one, drift is reported, not acted on
        signal = signal_today and all(earlier) and version is not None
        severity = (
            "major"
            if signal_today or score_row["severity"] == "major"
            else "moderate"
            if table["drifted"].any()
            else "none"
        )
        png = bar_png(
            dict(zip(table["column"], table["psi"], strict=True)),
            f"{spec.name} {day}: PSI per column (against {basis})",
            0.1,
            0.25,
        )
        html = _write_html(dataset, day, table, auc, estimate, png, basis)
        summary = {
            "reference": basis,
            "champion_version": version,
            "drifted_columns": table.filter(pl.col("drifted"))["column"].to_list(),
            "major_drift_columns": major["column"].to_list(),
            "new_nulls_columns": table.filter(pl.col("new_nulls"))["column"].to_list(),
            "unseen_category_columns": table.filter(pl.col("unseen_categories"))[
                "column"
            ].to_list(),
            "score_psi": _rounded(score_row["psi"]),
            "domain_auc": round(auc, 4),
            "domain_auc_threshold": round(auc_limit, 4),
            "rows": current.height,
            "reference_rows": reference_rows.height,
            "tests": tests,
            "alpha_per_test": alpha,
            "rule": f"a test rejects at {alpha:.2g} ({Thresholds().alpha} a day over {tests} "
            "tests) and its effect clears the floor; retrain when "
            f"{monitoring.drift_columns}+ features drift majorly or the domain AUC reaches "
            f"{auc_limit:.3f}, on {monitoring.drift_confirm_days} consecutive days",
            "signal_today": signal_today,
            "severity": severity,
            "retrain_signal": signal,
            "estimate": estimate,
        }
        return dg.MaterializeResult(
            value=table.with_columns(pl.lit(dt.date.fromisoformat(day)).alias(DAY)),
            metadata={
                "summary": dg.MetadataValue.json(summary),
                "severity": severity,
                "signal_today": signal_today,
                "retrain_signal": signal,
                "domain_auc": round(auc, 4),
                "domain_auc_threshold": round(auc_limit, 4),
                "score_psi": _rounded(score_row["psi"]),
                "expected_roc_auc": estimate.get("expected_roc_auc"),
                "drift": dg.MetadataValue.md(_markdown(table)),
                "psi_plot": dg.MetadataValue.md(markdown_image(png, "PSI per column")),
                "report": dg.MetadataValue.path(str(html)),
                "runtime_seconds": round(time.perf_counter() - started, 2),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name="no_major_drift",
                    passed=severity == "none",
                    severity=dg.AssetCheckSeverity.ERROR
                    if severity == "major"
                    else dg.AssetCheckSeverity.WARN,
                    metadata={
                        "severity": severity,
                        "drifted_columns": ", ".join(summary["drifted_columns"]) or "none",
                        "domain_auc": round(auc, 4),
                    },
                )
            ],
        )

    @dg.asset(
        key=[spec.name, "kpis"],
        deps=[dg.AssetKey([spec.name, "decisions"])],
        partitions_def=partitions,
        output_required=False,
        group_name=GROUP,
        kinds={"polars"},
        description="Business KPIs of a day's decisions: applications, approval rate, portfolio "
        "size, expected value from the calibrated scores (realized value comes with "
        "`performance`), the model's policy against the control group (A/B), and the targets "
        "in the spec's `monitoring:` section.",
    )
    def kpis(context: dg.AssetExecutionContext, dataset: DatasetResource):
        day = context.partition_key
        if not dataset.exists("decisions", day):
            context.log.info(f"no decisions for {day} (nothing deployed then): no KPIs")
            return
        decisions = dataset.read("decisions", day)
        earlier = [d for d in dataset.partitions("decisions") if d < day]
        portfolio = sum(
            dataset.read("decisions", d)
            .filter(pl.col("decision") == spec.decision.otherwise)
            .height
            for d in earlier
        )
        result = business_kpis(decisions, spec, portfolio)
        flat = {k: v for k, v in result.items() if not isinstance(v, dict)}
        yield dg.MaterializeResult(
            value=pl.DataFrame([{**flat, DAY: dt.date.fromisoformat(day)}]),
            metadata={
                **{k: v for k, v in flat.items() if v is not None},
                "policy_vs_control": dg.MetadataValue.json(
                    {"policy": result["policy"], "control": result["control"]}
                ),
                "targets": dg.MetadataValue.json(result["targets"]),
            },
        )

    @dg.asset(
        key=[spec.name, "pipeline_health"],
        deps=[dg.AssetKey([spec.name, a]) for a in ("raw", "features", "decisions")],
        group_name=GROUP,
        kinds={"dagster"},
        description="The pipeline itself, read from the Dagster instance: runs, failures and "
        "runtime per job; input and output volumes (rows per day of raw, features and "
        "decisions) over time.",
    )
    def pipeline_health(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        instance = context.instance
        runs = []
        for record in instance.get_run_records(limit=5000):
            run = record.dagster_run
            if not run.job_name.startswith(f"{spec.name}_"):
                continue
            seconds = (
                record.end_time - record.start_time
                if record.end_time and record.start_time
                else None
            )
            runs.append(
                {
                    "job": run.job_name,
                    "status": run.status.value,
                    "seconds": seconds,
                    "partition": run.tags.get("dagster/partition"),
                }
            )
        frame = pl.DataFrame(
            runs,
            schema={
                "job": pl.String,
                "status": pl.String,
                "seconds": pl.Float64,
                "partition": pl.String,
            },
        )
        jobs = (
            frame.group_by("job")
            .agg(
                runs=pl.len(),
                failures=(pl.col("status") == "FAILURE").sum(),
                mean_seconds=pl.col("seconds").mean().round(2),
                max_seconds=pl.col("seconds").max().round(2),
            )
            .sort("job")
        )
        volumes = {}
        for asset in ("raw", "features", "decisions"):
            events = instance.fetch_materializations(
                dg.AssetKey([spec.name, asset]), limit=5000
            ).records
            volumes[asset] = {
                e.asset_materialization.partition: e.asset_materialization.metadata[
                    "dagster/row_count"
                ].value
                for e in events
                if e.asset_materialization.partition
                and "dagster/row_count" in e.asset_materialization.metadata
            }
        png = lines_png(volumes, f"{spec.name}: rows per day", "rows")
        table = (
            "| job | runs | failures | mean s | max s |\n|---|---:|---:|---:|---:|\n"
            + "\n".join(
                f"| {r['job']} | {r['runs']} | {r['failures']} | {r['mean_seconds']} | "
                f"{r['max_seconds']} |"
                for r in jobs.iter_rows(named=True)
            )
        )
        return dg.MaterializeResult(
            value=jobs,
            metadata={
                "runs": frame.height,
                "failures": int((frame["status"] == "FAILURE").sum()) if frame.height else 0,
                "jobs": dg.MetadataValue.md(table),
                "volumes": dg.MetadataValue.md(markdown_image(png, "rows per day")),
                "days_ingested": len(volumes["raw"]),
            },
        )

    assets = [drift_report, kpis, pipeline_health]
    if spec.delayed_labels:
        delay = spec.target.delay_days

        labelled_day = dg.TimeWindowPartitionMapping(start_offset=-delay, end_offset=-delay)

        @dg.asset(
            key=[spec.name, "performance"],
            deps=[
                dg.AssetKey([spec.name, "raw_outcomes"]),
                *(
                    dg.AssetDep(dg.AssetKey([spec.name, a]), partition_mapping=labelled_day)
                    for a in ("decisions", "raw")
                ),
            ],
            partitions_def=partitions,
            output_required=False,
            group_name=GROUP,
            kinds={"polars"},
            description=f"Realized performance of the decisions that the day's outcomes label "
            f"(made {delay} days earlier): ROC AUC, ECE, profit and loss and segments, on the "
            "control group (unbiased) and on the applications the model approved (what a naive "
            "monitor sees); declined applications have no observable outcome. Also pooled over "
            "the trailing days: the performance sensor's signal. Partitioned by the day the "
            "outcomes landed.",
        )
        def performance(context: dg.AssetExecutionContext, dataset: DatasetResource):
            decided_on = labelled(context.partition_key, delay)
            if not dataset.exists("decisions", decided_on):
                context.log.info(f"no decisions for {decided_on}: nothing to evaluate")
                return
            decisions, raw = dataset.read("decisions", decided_on), dataset.read("raw", decided_on)
            raw_outcomes = dataset.read("raw_outcomes", context.partition_key)
            segments = [c for c in spec.segments if c in raw.columns]
            decided = decisions.join(
                raw.select(pl.col(spec.id_column).cast(pl.String).alias("id"), *segments),
                on="id",
                how="left",
            )
            rows = observed_outcomes(decided, raw_outcomes, spec)
            day = realized_performance(rows, spec)
            earlier = _trailing_observed(dataset, context.partition_key)
            pooled = pl.concat([rows, *earlier], how="diagonal_relaxed")
            trailing = realized_performance(pooled, spec)
            expected = estimated_performance(pooled["score"].to_numpy(), 0.5, spec)
            # observed / predicted positives with a 99% interval: the performance signal
            # needs the interval to exclude 1 (the day's noise alone never fires it)
            calibration = (
                calibration_evidence(
                    pooled[LABEL].to_numpy(), pooled["score"].to_numpy(), confidence=0.99
                )["observed_to_expected"]
                if pooled.height
                else None
            )
            yield dg.MaterializeResult(
                value=rows,
                metadata={
                    "decided_on": decided_on,
                    "dagster/row_count": rows.height,
                    "roc_auc": day["observed"]["roc_auc"],
                    "roc_auc_control": day["control"]["roc_auc"],
                    "roc_auc_approved": day["approved_by_model"]["roc_auc"],
                    "feedback_gap_auc": day["feedback_gap_auc"],
                    "ece": day["observed"]["ece"],
                    "realized_value": day["realized_value"],
                    "trailing_days": len(earlier) + 1,
                    "trailing_rows": pooled.height,
                    "trailing_roc_auc": trailing["observed"]["roc_auc"],
                    "trailing_roc_auc_control": trailing["control"]["roc_auc"],
                    # what the same rows would show if the model were still right (CBPE)
                    "trailing_expected_roc_auc": expected.get("expected_roc_auc"),
                    "trailing_calibration_ratio": calibration["estimate"] if calibration else None,
                    "trailing_calibration_interval": dg.MetadataValue.json(calibration),
                    "models": dg.MetadataValue.json(
                        sorted(int(v) for v in rows["model_version"].unique())
                    ),
                    "performance": dg.MetadataValue.json(day),
                },
            )

        assets.append(performance)
    return assets


def _reference(
    dataset: DatasetResource, registry: RegistryResource, model, numeric, categorical
) -> tuple[Reference, pl.DataFrame]:
    """The champion's training rows (raw) and their summary, computed once per version (with
    the champion's scores) and then read from `<lake>/<dataset>/drift_reference/`."""
    first, last = model.training_window.split("..")
    days = [d for d in dataset.partitions("raw") if first <= d <= last]
    rows = dataset.frame("raw", days)
    path = dataset.lake_root / dataset.spec.name / "drift_reference" / f"v{model.version}.npz"
    if path.exists():
        return load_reference(path), rows
    reference = fit_reference(
        rows.with_columns(pl.Series(SCORE, model.score(rows))), numeric, categorical
    )
    save_reference(reference, path)
    return reference, rows


def labelled(outcome_day: str, delay: int) -> str:
    """The decision day that outcomes landed on `outcome_day` label."""
    return (dt.date.fromisoformat(outcome_day) - dt.timedelta(days=delay)).isoformat()


def _trailing_observed(dataset: DatasetResource, day: str) -> list[pl.DataFrame]:
    """Observed outcomes of the `monitoring.trailing_days - 1` outcome days before `day` whose
    decisions exist, rebuilt from decisions and outcomes (no other performance run needed)."""
    spec = dataset.spec
    if spec.monitoring.trailing_days <= 1:
        return []
    decided = set(dataset.partitions("decisions"))
    delay = spec.target.delay_days
    days = [
        d for d in dataset.partitions("raw_outcomes") if d < day and labelled(d, delay) in decided
    ][-(spec.monitoring.trailing_days - 1) :]
    return [
        observed_outcomes(
            dataset.read("decisions", labelled(d, delay)), dataset.read("raw_outcomes", d), spec
        )
        for d in days
    ]


def _earlier_signals(context, key: dg.AssetKey, days: int, version: int) -> list[bool]:
    """Whether each of the `days` drift reports before this partition signalled against the
    same champion's reference (a missing report, or one against another champion, counts as
    no signal)."""
    today = dt.date.fromisoformat(context.partition_key)
    partitions = [(today - dt.timedelta(days=k)).isoformat() for k in range(1, days + 1)]
    signalled = []
    for partition in partitions:
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
        ).records
        meta = records[0].asset_materialization.metadata if records else {}
        summary = meta["summary"].value if "summary" in meta else {}
        same_champion = summary.get("champion_version") == version
        signal = meta.get("signal_today")
        signalled.append(bool(signal and signal.value and same_champion))
    return signalled


def _markdown(table: pl.DataFrame) -> str:
    head = (
        "| column | kind | w | p (shape) | location | p (location) | PSI | KS | new nulls "
        "| unseen | severity |\n|---|---|---:|---:|---:|---:|---:|---:|---|---:|---|\n"
    )

    def f(v, digits=3):
        return "" if v is None else f"{v:.{digits}f}"

    def p(v):
        return "" if v is None else f"{v:.1e}"

    return head + "\n".join(
        f"| {r['column']} | {r['kind']} | {f(r['w'])} | {p(r['p_shape'])} | {f(r['location'])} "
        f"| {p(r['p_location'])} | {f(r['psi'])} | {f(r['ks'])} "
        f"| {'yes' if r['new_nulls'] else ''} | {f(r['unseen_share'])} | {r['severity']} |"
        for r in table.sort("w", descending=True).iter_rows(named=True)
    )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


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
            "retrain_signal": False,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="no_major_drift",
                passed=True,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"note": reason},
            )
        ],
    )


def _write_html(dataset, day, table, auc, estimate, png, basis):
    import base64
    import html
    import os

    folder = dataset.lake_root.parent / "reports" / dataset.spec.name / "drift"
    folder.mkdir(parents=True, exist_ok=True)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row.values()) + "</tr>"
        for row in table.sort("psi", descending=True).iter_rows(named=True)
    )
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    body = (
        f"<html><head><meta charset='utf-8'><title>{dataset.spec.name} drift {day}</title>"
        "<style>td,th{padding:2px 8px;text-align:right}</style></head><body>"
        f"<h1>{dataset.spec.name}: drift on {day}</h1>"
        f"<p>Reference: {html.escape(basis)}. Domain classifier AUC "
        f"{auc:.3f}. Estimated ROC AUC (CBPE) {estimate.get('expected_roc_auc')}.</p>"
        f"<img src='data:image/png;base64,{base64.b64encode(png).decode()}'/>"
        f"<table><tr>{head}</tr>{rows}</table></body></html>"
    )
    path = folder / f"{day}.html"
    temporary = folder / f".{day}.html.tmp"
    temporary.write_text(body)
    os.replace(temporary, path)
    return path
