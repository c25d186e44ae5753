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
        "the backtest passed (blocking checks); otherwise the champion stays and the run says why."
        " In a canary or shadow rollout a passing candidate becomes the `challenger` instead, "
        "served beside the champion until `mlops promote`.",
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
        current = registry.champion_version()
        rollout = spec.serving.rollout
        if rollout != "champion" and current is not None and current != candidate:
            registry.set_challenger(candidate)
            context.log.info(
                f"{rollout} rollout: {registry.model_name} v{candidate} is the challenger next to "
                f"champion v{current}; promote it with `mlops promote`"
            )
            champion_version, challenger, previous = current, candidate, None
        else:
            previous = registry.promote(candidate, reason=f"gates passed; backtest AUC {auc}")
            context.log.info(f"champion: {registry.model_name} v{previous} -> v{candidate}")
            champion_version, challenger = candidate, registry.challenger_version()
        card = {
            "model_name": registry.model_name,
            "version": champion_version,
            "previous_version": previous,
            "challenger_version": challenger,
            "rollout": rollout,
            "backtest_roc_auc": auc,
            "decision_threshold": backtest["decision"]["threshold"],
        }
        return dg.MaterializeResult(
            value=card,
            metadata={
                "champion": f"{registry.model_name} v{champion_version}",
                "previous_champion": f"v{previous}" if previous else "none",
                "challenger": f"v{challenger}" if challenger else "none",
                "rollout": rollout,
                "backtest_roc_auc": auc,
                "decision_threshold": backtest["decision"]["threshold"],
            },
        )

    return [champion]
