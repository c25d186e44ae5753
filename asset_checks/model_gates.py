"""Model gates: blocking checks on the backtest. A failed gate keeps the champion in place. The
verdicts are also recorded in the registry: tags on the candidate's version and MLflow run, and
its model card as the version's description (`compute.model_card`)."""

import dagster as dg

from mlops_assets.compute.gates import GATES
from mlops_assets.compute.model_card import model_card
from mlops_assets.config.spec import DatasetSpec
from mlops_assets.defs.registry import RegistriesResource
from mlops_assets.defs.resources import DatasetsResource

DESCRIPTIONS = {  # every interval is 95%, from the same backtest rows (see compute/backtest)
    "absolute_floor": "The lower bound of the candidate's backtest ROC AUC (DeLong) reaches "
    "gates.min_auc (also for a first model).",
    "beats_champion": "On the same rows, at the same horizon, the AUC gain over the champion's "
    "recipe exceeds gates.margin at its lower bound, and the value per application is not worse "
    "beyond noise. Weekly and signal-driven retrains (`promote_if: not_worse`): against the "
    "deployed champion on the folds trained on data at least as new as its own, with newer "
    "training data, either the AUC "
    "difference's lower bound exceeds -gates.non_inferiority_margin and the value is not worse "
    "beyond noise, or the value is better beyond noise and the AUC not worse beyond noise.",
    "calibration": "Neither observed/expected positives nor the calibration slope lies wholly "
    "outside [1/(1+t), 1+t], t = gates.calibration_tolerance (against the deployed champion: "
    "on the folds trained on data at least as new as its own); or, against the deployed "
    "champion as it is (retrains), the paired log-loss difference lies wholly below 0 (its "
    "probabilities beat the champion's on the same rows), or, under promote_if: not_worse, the "
    "champion is off the band too on those rows and the difference's lower bound is at most 0.",
    "fairness": "No equalized-odds spread (action rate among negatives, among positives) over a "
    "protected column's groups rises beyond gates.fairness_tolerance above the champion's.",
    "segments": "No segment's ROC AUC falls beyond gates.segment_tolerance below the champion's "
    "(paired, Bonferroni-corrected).",
}


def build_model_gate_checks(spec: DatasetSpec) -> list:
    key = dg.AssetKey([spec.name, "backtest"])
    specs = [
        dg.AssetCheckSpec(g, asset=key, blocking=True, description=DESCRIPTIONS[g]) for g in GATES
    ]

    @dg.multi_asset_check(specs=specs, name=f"{spec.name}_model_gates")
    def model_gates(datasets: DatasetsResource, registries: RegistriesResource):
        dataset, registry = datasets.of(spec), registries.of(spec)
        report = dataset.document("backtest")
        candidate = f"v{report['candidate']['version']}"
        registry.record_gates(
            report["candidate"]["version"],
            report["candidate"]["run_id"],
            {gate: verdict["passed"] for gate, verdict in report["gates"].items()},
            model_card(report),
        )
        for gate, verdict in report["gates"].items():
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name=gate,
                passed=verdict["passed"],
                metadata={
                    "reason": verdict["reason"],
                    "evidence": dg.MetadataValue.json(verdict.get("evidence", {})),
                    "candidate": candidate,
                    "champion": f"v{report['champion_version']}"
                    if report["champion_version"]
                    else "none",
                },
            )

    return [model_gates]
