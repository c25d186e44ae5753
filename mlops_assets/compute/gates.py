"""The promotion gates: each a verdict (passed, reason, evidence) read from a backtest report's
95% intervals. `failed_gates` is the one reading of a verdict that every caller shares."""

from __future__ import annotations

from mlops_assets.config.spec import Gates

GATES = ("absolute_floor", "beats_champion", "calibration", "fairness", "segments")


def evaluate_gates(report: dict, gates: Gates) -> dict[str, dict]:
    """Verdict per gate: {"passed", "reason", "evidence"}; every interval is 95%. Without a
    champion the relative gates pass."""
    auc = report["candidate_auc"]
    evidence = {"rows": report["overall"]["candidate"]["rows"]}
    verdicts = {
        "absolute_floor": _verdict(
            auc is not None and auc["low"] >= gates.min_auc,
            f"candidate AUC {_interval(auc, signed=False)}: its lower bound must reach the "
            f"floor {gates.min_auc}",
            {**evidence, "auc": auc},
        ),
        "calibration": _calibration(report["calibration"], gates.calibration_tolerance),
    }
    comparison = report.get("comparison")
    if comparison is None:
        for name in ("beats_champion", "fairness", "segments"):
            verdicts[name] = _verdict(True, "no champion yet: nothing to compare with", {})
        return {g: verdicts[g] for g in GATES}
    counts = {k: comparison[k] for k in ("rows", "positives", "days")}
    if "auc_difference" not in comparison:
        reason = (
            f"only {counts['rows']} comparison rows with both classes after the champion's "
            "training window: no out-of-time evidence that the candidate is better"
        )
        for name in ("beats_champion", "fairness", "segments"):
            verdicts[name] = _verdict(False, reason, counts)
        return {g: verdicts[g] for g in GATES}
    where = (
        f"on {counts['rows']} rows ({counts['positives']} positives, {counts['days']} days) "
        f"scored by both: {comparison.get('baseline', 'the same rows')}"
    )
    auc_diff, value_diff = comparison["auc_difference"], comparison["value_difference"]
    better = auc_diff is not None and auc_diff["low"] > gates.margin
    not_worse = value_diff["high"] >= 0
    verdicts["beats_champion"] = _verdict(
        better and not_worse,
        f"AUC candidate - champion {_interval(auc_diff)} (lower bound must exceed "
        f"{gates.margin}); value per application {_interval(value_diff)} (must not be "
        f"worse beyond noise) {where}",
        {**counts, "auc_difference": auc_diff, "value_difference": value_diff},
    )
    worse = [
        f"{column} {kind} {_interval(rise)}"
        for column, rises in comparison["fairness"].items()
        for kind, rise in rises.items()
        if rise is not None and rise["low"] > gates.fairness_tolerance
    ]
    verdicts["fairness"] = _verdict(
        not worse,
        (
            f"equalized-odds spread rose beyond {gates.fairness_tolerance}: " + "; ".join(worse)
            if worse
            else f"no equalized-odds spread (action rate among negatives, among positives) rose "
            f"beyond {gates.fairness_tolerance} {where}"
        ),
        {**counts, "spread_rises": comparison["fairness"]},
    )
    dropped = [
        f"{column}={value} {_interval(d)}"
        for column, values in comparison["segments"].items()
        for value, d in values.items()
        if d["high"] < -gates.segment_tolerance
    ]
    compared = sum(len(v) for v in comparison["segments"].values())
    verdicts["segments"] = _verdict(
        not dropped,
        (
            f"segment AUC fell beyond {gates.segment_tolerance}: " + "; ".join(dropped)
            if dropped
            else f"no segment's AUC fell beyond {gates.segment_tolerance} ({compared} segments "
            "of enough rows, Bonferroni-corrected)"
        ),
        {**counts, "auc_differences": comparison["segments"]},
    )
    return {g: verdicts[g] for g in GATES}


def _calibration(evidence: dict, tolerance: float) -> dict:
    ratio, slope = evidence["observed_to_expected"], evidence["slope"]
    low, high = 1 / (1 + tolerance), 1 + tolerance
    off = [
        name
        for name, i in (("observed/expected", ratio), ("slope", slope))
        if i["low"] > high or i["high"] < low
    ]
    return _verdict(
        not off,
        f"observed/expected positives {ratio['estimate']:.3f} [{ratio['low']:.3f}, "
        f"{ratio['high']:.3f}], calibration slope {slope['estimate']:.3f} [{slope['low']:.3f}, "
        f"{slope['high']:.3f}] on {evidence['rows']} rows ({evidence['positives']} positives): "
        f"fails only when an interval lies wholly outside [{low:.3f}, {high:.3f}]"
        + (f"; off: {', '.join(off)}" if off else ""),
        evidence,
    )


def _interval(i: dict | None, signed: bool = True) -> str:
    if i is None:
        return "n/a (one class only)"
    f = "+.4f" if signed else ".4f"
    return f"{i['estimate']:{f}} [{i['low']:{f}}, {i['high']:{f}}]"


def _verdict(passed: bool, reason: str, evidence: dict) -> dict:
    return {"passed": bool(passed), "reason": reason, "evidence": evidence}


def failed_gates(gates: dict) -> dict[str, str]:
    """The gates that failed in a backtest report's `gates`, with their reasons: the one reading
    of a verdict that promotion, release and `mlops run` share."""
    return {gate: verdict["reason"] for gate, verdict in gates.items() if not verdict["passed"]}


def failed_gates_reason(failed: dict[str, str]) -> str:
    """`failed_gates` in one line: why a candidate was not promoted."""
    return "gates failed: " + "; ".join(f"{gate} ({reason})" for gate, reason in failed.items())
