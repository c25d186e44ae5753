"""Model gates: blocking checks on the backtest. A failed gate keeps the champion in place."""

import dagster as dg

from mlops_assets.compute.backtest import GATES
from mlops_assets.resources import DatasetResource
from mlops_assets.spec import DatasetSpec

DESCRIPTIONS = {
    "absolute_floor": "Candidate backtest ROC AUC at least gates.min_auc (also for a first model).",
    "beats_champion": "Candidate ROC AUC beats the champion's on the same folds by gates.margin.",
    "calibration": "Candidate expected calibration error at most gates.max_ece.",
    "fairness": "No fairness gap (demographic parity, equal opportunity) on a protected column "
    "rises more than gates.fairness_tolerance above the champion's.",
    "segments": "No segment's ROC AUC falls more than gates.segment_tolerance below the "
    "champion's.",
}


def build_model_gate_checks(spec: DatasetSpec) -> list:
    key = dg.AssetKey([spec.name, "backtest"])
    specs = [
        dg.AssetCheckSpec(g, asset=key, blocking=True, description=DESCRIPTIONS[g]) for g in GATES
    ]

    @dg.multi_asset_check(specs=specs, name=f"{spec.name}_model_gates")
    def model_gates(dataset: DatasetResource):
        report = dataset.document("backtest")
        candidate = f"v{report['candidate']['version']}"
        for gate, verdict in report["gates"].items():
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name=gate,
                passed=verdict["passed"],
                metadata={
                    "reason": verdict["reason"],
                    "candidate": candidate,
                    "champion": f"v{report['champion_version']}"
                    if report["champion_version"]
                    else "none",
                },
            )

    return [model_gates]
