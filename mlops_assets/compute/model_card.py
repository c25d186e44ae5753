"""A registry version's model card: what it was trained on, how its walk-forward backtest went
(with intervals), the decision threshold, fairness, and each gate's verdict with its reason. A
plain function of the backtest report; `asset_checks/model_gates.py` writes it as the MLflow
model version's description."""

from __future__ import annotations


def model_card(report: dict) -> str:
    """Markdown for the MLflow UI's model version page."""
    candidate, overall = report["candidate"], report["overall"]["candidate"]
    fitted = candidate.get("fitted", {})
    gates, calibration = report["gates"], report["calibration"]
    failed = [g for g, v in gates.items() if not v["passed"]]
    lines = [
        f"**{candidate['model_name']} v{candidate['version']}**: "
        + ("passed every gate" if not failed else f"refused by {', '.join(failed)}"),
        "",
        f"- Trained on {candidate['training_window']} ({candidate['rows']:,} labelled rows, as of "
        f"{candidate['as_of']}; data fingerprint `{candidate['data_fingerprint'][:12]}`), "
        f"recipe {candidate['estimator']} -> {fitted.get('estimator', candidate['estimator'])} "
        f"{fitted.get('params', candidate['params'])}, calibration "
        f"{fitted.get('calibration', {}).get('method', candidate.get('calibration_method'))}.",
        f"- Backtest ({len(report['folds'])} walk-forward folds, {overall['rows']:,} rows out of "
        f"time): ROC AUC {_interval(report['candidate_auc'])}, PR AUC {overall['pr_auc']:.4f}, "
        f"log loss {overall['log_loss']:.4f}, ECE {overall['ece']:.4f}.",
        f"- Calibration: observed/expected {_interval(calibration['observed_to_expected'])}, "
        f"slope {_interval(calibration['slope'])}.",
        f"- Decision: {report['decision']['rule']}, threshold {report['decision']['threshold']:.4f}"
        f" ({report['decision']['basis']}); value per application "
        f"{report['decision']['value_per_application']['candidate']:.2f}.",
    ]
    comparison = report.get("comparison")
    if comparison:
        lines.append(
            f"- Against champion v{report['champion_version']} on the same {comparison['rows']:,}"
            f" rows: AUC difference {_interval(comparison.get('auc_difference'))}, value "
            f"difference {_interval(comparison.get('value_difference'))}."
        )
    for column, groups in (report.get("fairness") or {}).get("candidate", {}).items():
        lines.append(
            f"- Fairness ({column}): equalized-odds spread {groups['spread_negatives']:.3f} "
            f"among negatives, {groups['spread_positives']:.3f} among positives."
        )
    lines += ["", "| gate | verdict | reason |", "|---|---|---|"]
    lines += [
        f"| {g} | {'PASS' if v['passed'] else 'FAIL'} | {v['reason'].replace('|', '/')} |"
        for g, v in gates.items()
    ]
    return "\n".join(lines)


def _interval(i: dict | None) -> str:
    if not i:
        return "n/a"
    return f"{i['estimate']:.4f} [{i['low']:.4f}, {i['high']:.4f}]"
