"""Data-quality asset checks: a Great Expectations checkpoint on every raw, outcomes and feature
partition, its Data Docs page linked from each check. Blocking checks stop bad data from flowing
on; the others warn.

Checks read the partition of the run (`context.partition_key`) from the lake themselves: an
input of an unpartitioned check on a partitioned asset would load every partition."""

import time

import dagster as dg

from asset_checks.expectations import Validation, validate
from asset_checks.suites import (
    FEATURE_CHECKS,
    OUTCOME_CHECKS,
    RAW_CHECKS,
    feature_suite,
    has_history,
    outcome_suite,
    raw_suite,
)
from mlops_assets.config.spec import DatasetSpec
from mlops_assets.defs.resources import DatasetsResource


def _specs(key: dg.AssetKey, checks: dict) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(name, asset=key, blocking=blocking, description=text)
        for name, (blocking, text) in checks.items()
    ]


def _results(
    key: dg.AssetKey,
    checks: dict,
    validation: Validation,
    extra: dict[str, dict],
    started: float,
):
    """One AssetCheckResult per check: passed when all of its expectations passed."""
    runtime = round(time.perf_counter() - started, 3)
    for name, (blocking, _) in checks.items():
        results = validation.outcomes.get(name, [])
        failed = [o for o in results if not o.success]
        lines = "\n".join(f"- {o.summary()}" for o in results) or "- (no expectations)"
        metadata = {
            "expectations": len(results),
            "failed": len(failed),
            "results": dg.MetadataValue.md(lines),
            "suite_runtime_seconds": runtime,
            "data_docs": dg.MetadataValue.url(validation.docs_url),
            **extra.get(name, {}),
        }
        if failed:
            metadata["reason"] = "; ".join(o.summary() for o in failed[:3])
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name=name,
            passed=not failed,
            metadata=metadata,
            severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
        )


def build_data_quality_checks(spec: DatasetSpec) -> list:
    """Checks on `<dataset>/raw`, `<dataset>/features` and (if labels lag) `raw_outcomes`."""
    raw_key, features_key = (dg.AssetKey([spec.name, a]) for a in ("raw", "features"))
    keep = spec.quality.keep_validations  # results (and pages) kept per suite

    @dg.multi_asset_check(specs=_specs(raw_key, RAW_CHECKS), name=f"{spec.name}_raw_quality")
    def raw_quality(context: dg.AssetCheckExecutionContext, datasets: DatasetsResource):
        dataset = datasets.of(spec)
        started = time.perf_counter()
        raw = dataset.read("raw", context.partition_key)
        schema = dataset.schema()
        profile = dataset.history_profile(context.partition_key)
        suite = raw_suite(dataset.spec, schema, profile)
        validation = validate(raw, suite, dataset.home, context.partition_key, keep)
        history = {
            "history_days": len(profile.days),
            "history_note": "learned from history"
            if has_history(profile, dataset.spec)
            else f"passes until {dataset.spec.quality.min_history_days} accepted days "
            f"of history exist ({len(profile.days)} now)",
        }
        extra = {
            "volume": {
                "rows": raw.height,
                "trailing_mean_rows": round(profile.mean_daily_rows or 0, 1),
                **history,
            },
            "value_ranges": history,
            "category_sets": history,
        }
        yield from _results(raw_key, RAW_CHECKS, validation, extra, started)

    @dg.multi_asset_check(
        specs=_specs(features_key, FEATURE_CHECKS), name=f"{spec.name}_feature_quality"
    )
    def feature_quality(context: dg.AssetCheckExecutionContext, datasets: DatasetsResource):
        dataset = datasets.of(spec)
        started = time.perf_counter()
        day = context.partition_key
        features = dataset.read("features", day)
        raw_rows = dataset.read("raw", day).height
        profile = dataset.history_profile(day)
        suite = feature_suite(
            dataset.spec,
            dataset.feature_columns(),
            profile,
            raw_rows,
            labelled=not dataset.spec.delayed_labels,
        )
        yield from _results(
            features_key,
            FEATURE_CHECKS,
            validate(features, suite, dataset.home, day, keep),
            {"row_count": {"raw_rows": raw_rows}},
            started,
        )

    checks = [raw_quality, feature_quality]
    if spec.delayed_labels:
        outcomes_key = dg.AssetKey([spec.name, "raw_outcomes"])

        @dg.multi_asset_check(
            specs=_specs(outcomes_key, OUTCOME_CHECKS), name=f"{spec.name}_outcome_quality"
        )
        def outcome_quality(context: dg.AssetCheckExecutionContext, datasets: DatasetsResource):
            dataset = datasets.of(spec)
            started = time.perf_counter()
            raw_outcomes = dataset.read("raw_outcomes", context.partition_key)
            suite = outcome_suite(dataset.spec)
            validation = validate(raw_outcomes, suite, dataset.home, context.partition_key, keep)
            yield from _results(outcomes_key, OUTCOME_CHECKS, validation, {}, started)

        checks.append(outcome_quality)
    return checks
