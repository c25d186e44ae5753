"""The promotion gates: each a verdict (passed, reason, evidence) read from a backtest report's
95% intervals. `failed_gates` is the one reading of a verdict that every caller shares."""

from __future__ import annotations

from mlops_assets.config.spec import Gates

GATES = ("absolute_floor", "beats_champion", "calibration", "fairness", "segments")


def superior(auc_difference: dict | None, value_difference: dict, margin: float) -> bool:
    """The candidate is better than the champion: the AUC difference's lower bound exceeds
    `margin`, and the value per application is not worse beyond noise."""
    return (
        auc_difference is not None
        and auc_difference["low"] > margin
        and value_difference["high"] >= 0
    )


def non_inferior(
    auc_difference: dict | None, value_difference: dict, margin: float, newer_data: bool
) -> bool:
    """The candidate, trained on newer data, is not worse than the deployed champion (the weekly
    retrain: equal quality, fresher data; a signal-driven retrain: the champion was shown to be
    off). Either its AUC difference's lower bound exceeds -`margin` and its value per
    application is not worse beyond noise, or its value is better beyond noise and its AUC not
    worse beyond noise: a drift moves the value at the threshold before the ranking as a whole.
    Each route is a one-sided test at 2.5%."""
    if not newer_data or auc_difference is None:
        return False
    ranks_as_well = auc_difference["low"] > -margin and value_difference["high"] >= 0
    earns_more = value_difference["low"] > 0 and auc_difference["high"] >= 0
    return ranks_as_well or earns_more


def evaluate_gates(report: dict, gates: Gates, rule: str = "better") -> dict[str, dict]:
    """Verdict per gate: {"passed", "reason", "evidence"}; every interval is 95%. Without a
    champion the relative gates pass. `rule`: "better" (superiority: `gates.margin`) or
    "not_worse" (non-inferiority on newer data: `gates.non_inferiority_margin`; the report's
    comparison names both training windows' last days)."""
    auc = report["candidate_auc"]
    evidence = {"rows": report["overall"]["candidate"]["rows"]}
    verdicts = {
        "absolute_floor": _verdict(
            auc is not None and auc["low"] >= gates.min_auc,
            f"candidate AUC {_interval(auc, signed=False)}: its lower bound must reach the "
            f"floor {gates.min_auc}",
            {**evidence, "auc": auc},
        ),
        "calibration": _calibration(
            report["calibration"], gates.calibration_tolerance, report.get("comparison"), rule
        ),
    }
    comparison = report.get("comparison")
    if comparison is None:
        for name in ("beats_champion", "fairness", "segments"):
            verdicts[name] = _verdict(True, "no champion yet: nothing to compare with", {})
        return {g: verdicts[g] for g in GATES}
    counts = {k: comparison[k] for k in ("rows", "positives", "days")}
    if "auc_difference" not in comparison:
        reason = (
            f"only {counts['rows']} comparison rows with both classes: no out-of-time evidence "
            "to judge the candidate against the champion by (against a deployed champion only "
            "the folds trained on data at least as new as its own compare)"
        )
        for name in ("beats_champion", "fairness", "segments"):
            verdicts[name] = _verdict(False, reason, counts)
        return {g: verdicts[g] for g in GATES}
    where = (
        f"on {counts['rows']} rows ({counts['positives']} positives, {counts['days']} days) "
        f"scored by both: {comparison.get('baseline', 'the same rows')}"
    )
    verdicts["beats_champion"] = _beats_champion(comparison, gates, rule, counts, where)
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


def _beats_champion(comparison: dict, gates: Gates, rule: str, counts: dict, where: str) -> dict:
    """The `beats_champion` verdict under the promotion rule (see `evaluate_gates`)."""
    auc_diff, value_diff = comparison["auc_difference"], comparison["value_difference"]
    value = f"value per application {_interval(value_diff)} (must not be worse beyond noise)"
    if rule == "not_worse":
        windows = comparison["training_windows_end"]
        newer = windows["candidate"] > windows["champion"]
        passed = non_inferior(auc_diff, value_diff, gates.non_inferiority_margin, newer)
        reason = (
            f"non-inferiority on newer data (training ends {windows['candidate']} vs the "
            f"champion's {windows['champion']}{'' if newer else ': not newer'}): AUC "
            f"candidate - champion {_interval(auc_diff)} (lower bound must exceed "
            f"-{gates.non_inferiority_margin}) and {value}, or the value's lower bound above 0 "
            f"and the AUC's upper bound at least 0 {where}"
        )
    elif rule == "better":
        passed = superior(auc_diff, value_diff, gates.margin)
        reason = (
            f"AUC candidate - champion {_interval(auc_diff)} (lower bound must exceed "
            f"{gates.margin}); {value} {where}"
        )
    else:
        raise ValueError(f"promotion rule {rule!r} is not 'better' or 'not_worse'")
    return _verdict(
        passed,
        reason,
        {**counts, "rule": rule, "auc_difference": auc_diff, "value_difference": value_diff},
    )


def _calibration(
    evidence: dict, tolerance: float, comparison: dict | None = None, rule: str = "better"
) -> dict:
    """Calibrated within `tolerance`. Against the deployed champion as it is, two more routes
    (a drift the monitors caught leaves the candidate's folds outside the band, and the
    champion off too): its probabilities better than the champion's on the same rows (log
    loss lower beyond noise); or, under the retrain rule (`not_worse`), the champion shown off
    the band on those rows and the candidate's log loss not worse beyond noise: it replaces
    a miscalibrated model with one no worse."""
    low, high = 1 / (1 + tolerance), 1 + tolerance
    off = _off_band(evidence, low, high)
    ratio, slope = evidence["observed_to_expected"], evidence["slope"]
    reason = (
        f"observed/expected positives {ratio['estimate']:.3f} [{ratio['low']:.3f}, "
        f"{ratio['high']:.3f}], calibration slope {slope['estimate']:.3f} [{slope['low']:.3f}, "
        f"{slope['high']:.3f}] on {evidence['rows']} rows ({evidence['positives']} positives"
        f"{_folds(evidence)}): fails only when an interval lies wholly outside "
        f"[{low:.3f}, {high:.3f}]"
    )
    if not off:
        return _verdict(True, reason, evidence)
    comparison = comparison or {}
    log_loss = comparison.get("log_loss_difference")
    if comparison.get("against") != "deployed" or not log_loss:
        return _verdict(False, f"{reason}; off: {', '.join(off)}", evidence)
    loss = f"log loss candidate - champion {_interval(log_loss, digits=6)}"
    where = (
        f"on the comparison rows ({comparison['rows']}, the folds trained on data at least as "
        "new as its own)"
    )
    champion_off = _off_band(comparison.get("champion_calibration"), low, high)
    if log_loss["high"] < 0:
        route = (
            f"its probabilities beat the deployed champion's {where}: {loss} (upper bound below 0)"
        )
    elif rule == "not_worse" and champion_off and log_loss["low"] <= 0:
        route = (
            f"the deployed champion is off too {where} ({', '.join(champion_off)}) and the "
            f"candidate's probabilities are not worse beyond noise: {loss} (lower bound at most 0)"
        )
    else:
        return _verdict(False, f"{reason}; off: {', '.join(off)}; {loss}", evidence)
    return _verdict(
        True,
        f"{reason}; off: {', '.join(off)}, but {route}",
        {**evidence, "log_loss_difference": log_loss},
    )


def _off_band(evidence: dict | None, low: float, high: float) -> list[str]:
    """The calibration measures whose interval lies wholly outside [low, high]."""
    if not evidence:
        return []
    measures = (("observed/expected", "observed_to_expected"), ("slope", "slope"))
    return [
        name for name, key in measures if evidence[key]["low"] > high or evidence[key]["high"] < low
    ]


def _folds(evidence: dict) -> str:
    if "folds" not in evidence:
        return ""
    scope = (
        ", those trained on data at least as new as the deployed champion's"
        if evidence.get("comparable_folds_only")
        else ""
    )
    return f"; folds {', '.join(map(str, evidence['folds']))}{scope}"


def _interval(i: dict | None, signed: bool = True, digits: int = 4) -> str:
    if i is None:
        return "n/a (one class only)"
    f = f"+.{digits}f" if signed else f".{digits}f"
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
