"""Promotion: the champion alias moves to the candidate only when every gate passed."""

import dagster as dg

from mlops_assets.registry import RegistryResource
from mlops_assets.spec import DatasetSpec

GROUP = "deployment"


def build_promotion_assets(spec: DatasetSpec) -> list:
    """`<dataset>/champion`."""

    @dg.asset(
        key=[spec.name, "champion"],
        ins={"backtest": dg.AssetIn(dg.AssetKey([spec.name, "backtest"]))},
        group_name=GROUP,
        kinds={"mlflow"},
        description="The registry alias `champion`. Moves to the candidate only if every gate on "
        "the backtest passed (blocking checks); otherwise the champion stays and the run says why.",
    )
    def champion(
        context: dg.AssetExecutionContext, backtest: dict, registry: RegistryResource
    ) -> dg.MaterializeResult:
        candidate = backtest["candidate"]["version"]
        failed = {g: v["reason"] for g, v in backtest["gates"].items() if not v["passed"]}
        if failed:  # the blocking checks stop this first; this guards direct materializations
            raise dg.Failure(
                f"{registry.model_name} v{candidate} not promoted: gates failed: "
                + "; ".join(f"{g} ({r})" for g, r in failed.items()),
                metadata={"failed_gates": dg.MetadataValue.json(failed)},
                allow_retries=False,
            )
        auc = backtest["overall"]["candidate"]["roc_auc"]
        previous = registry.promote(candidate, reason=f"gates passed; backtest AUC {auc}")
        context.log.info(f"champion: {registry.model_name} v{previous} -> v{candidate}")
        card = {
            "model_name": registry.model_name,
            "version": candidate,
            "previous_version": previous,
            "backtest_roc_auc": auc,
            "decision_threshold": backtest["decision"]["threshold"],
        }
        return dg.MaterializeResult(
            value=card,
            metadata={
                "champion": f"{registry.model_name} v{candidate}",
                "previous_champion": f"v{previous}" if previous else "none",
                "backtest_roc_auc": auc,
                "decision_threshold": backtest["decision"]["threshold"],
            },
        )

    return [champion]
