"""Drift check: `no_major_drift` on each day's drift report. The drift asset computes the
report and yields this check's result with it (`dg.asset(check_specs=...)`), so both come from
one pass over the day's rows."""

import dagster as dg

NO_MAJOR_DRIFT = "no_major_drift"


def no_major_drift_spec(key: dg.AssetKey) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        NO_MAJOR_DRIFT,
        asset=key,
        description="Warns on moderate drift; fails (ERROR) when a feature, the score or the "
        "domain classifier shows major drift.",
    )


def no_major_drift_result(summary: dict) -> dg.AssetCheckResult:
    """The check's verdict on a drift summary (`defs.assets.drift_summary.drift_summary`)."""
    severity = summary["severity"]
    return dg.AssetCheckResult(
        check_name=NO_MAJOR_DRIFT,
        passed=severity == "none",
        severity=dg.AssetCheckSeverity.ERROR if severity == "major" else dg.AssetCheckSeverity.WARN,
        metadata={
            "severity": severity,
            "drifted_columns": ", ".join(summary["drifted_columns"]) or "none",
            "domain_auc": summary["domain_auc"],
        },
    )


def no_reference_result(reason: str) -> dg.AssetCheckResult:
    """Passes, with the reason: a day with too little history to compare against."""
    return dg.AssetCheckResult(
        check_name=NO_MAJOR_DRIFT,
        passed=True,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"note": reason},
    )
