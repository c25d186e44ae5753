"""The daily chain for each landed day, headless: one Dagster run per day, and per landing file
what happened to it (materialized, quarantined, blocked by a check, failed)."""

from __future__ import annotations

from collections import Counter

import dagster as dg

from mlops_assets.commands.execution import execute, step_failures
from mlops_assets.config.spec import DatasetSpec
from mlops_assets.defs.jobs import daily_assets, daily_job_name


def run_days(defs, instance, spec: DatasetSpec, landed: dict[str, dict], progress) -> dict:
    """One run of the daily chain per day, for what landed that day. Per landing asset (`raw`,
    `raw_outcomes`): days materialized, quarantined, blocked by a check, failed; and failures
    further down the chain (decisions, drift, KPIs, performance) under `daily`."""
    days = sorted(set().union(*landed.values()))
    summary: dict = {
        a: {"materialized": 0, "quarantined": {}, "blocked": {}, "failed": {}} for a in landed
    }
    checks: dict[str, Counter] = {a: Counter() for a in landed}
    downstream: dict[str, str] = {}
    for i, day in enumerate(days, 1):
        kinds = [a for a in landed if day in landed[a]]
        result = execute(
            defs,
            instance,
            daily_job_name(spec),
            day,
            daily_assets(spec, applications="raw" in kinds, outcomes="raw_outcomes" in kinds),
        )
        failures = step_failures(result)
        failed_checks: dict[str, list] = {a: [] for a in kinds}
        for evaluation in result.get_asset_check_evaluations():
            owner = LANDING_ASSET.get(evaluation.asset_key.path[-1])
            if owner not in failed_checks:
                continue
            name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            checks[owner][(name, "passed" if evaluation.passed else "failed")] += 1
            if not evaluation.passed:
                reason = evaluation.metadata.get("reason")
                blocking = evaluation.severity == dg.AssetCheckSeverity.ERROR
                failed_checks[owner].append(
                    (f"{name} ({reason.value if reason else 'failed'})", blocking)
                )
        materialized = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
        lines = []
        for asset in kinds:
            status = _landing_status(asset, day, failures, failed_checks[asset], materialized)
            outcome = summary[asset]
            if status[0] == "ok":
                outcome["materialized"] += 1
            else:
                outcome[status[0]][day] = status[1]
            warnings = [n for n, _ in failed_checks[asset]] if status[0] == "ok" else []
            lines.append(
                f"{asset} {status[0]}"
                + (f" — {status[1]}" if status[0] != "ok" else "")
                + (f" — warnings: {'; '.join(warnings)}" if warnings else "")
            )
        later = {a: m for a, (m, _) in failures.items() if a not in LANDING_ASSET}
        if later:
            downstream[day] = "; ".join(f"{a}: {m}" for a, m in later.items())
            lines.append(f"failed {downstream[day]}")
        progress(f"[{i}/{len(days)}] {daily_job_name(spec)} {day}: " + ", ".join(lines))
    for asset in landed:
        summary[asset]["checks"] = _check_table(checks[asset])
    summary["daily"] = {"runs": len(days), "failed": downstream}
    return summary


# the landing asset whose day a step's or a check's failure belongs to
LANDING_ASSET = {"raw": "raw", "features": "raw", "raw_outcomes": "raw_outcomes"}


def _landing_status(asset, day, failures, failed_checks, materialized) -> tuple[str, object]:
    """(status, detail) of a landing asset's day: quarantined, blocked, failed or ok."""
    mine = {a: f for a, f in failures.items() if LANDING_ASSET.get(a) == asset}
    for message, metadata in mine.values():
        if "quarantined_to" in metadata:
            return "quarantined", message
    blocking = [name for name, is_blocking in failed_checks if is_blocking]
    if blocking:
        return "blocked", blocking
    if mine:
        return "failed", next(iter(mine.values()))[0]
    if asset not in materialized:
        return "failed", f"{asset} {day} was not materialized"
    return "ok", None


def _check_table(counts: Counter) -> dict:
    table: dict = {}
    for (name, verdict), n in sorted(counts.items()):
        table.setdefault(name, {"passed": 0, "failed": 0})[verdict] = n
    return table
