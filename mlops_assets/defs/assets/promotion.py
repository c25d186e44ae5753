"""Promotion: the champion alias moves to the candidate only when every gate passed, or when an
operator rolls back or promotes (`mlops rollback`, `mlops promote`), always through this asset."""

import getpass
from typing import Literal

import dagster as dg

from mlops_assets.compute.gates import failed_gates, failed_gates_reason
from mlops_assets.config.spec import DatasetSpec
from mlops_assets.defs.registry import RegistriesResource, RegistryResource, mlflow_run_link
from mlops_assets.defs.resources import DatasetsResource

GROUP = "deployment"


class ChampionConfig(dg.Config):
    """`gates`: the backtested candidate, if every gate passed (the train job). `rollback`: the
    champion before the current one. `promote`: `version`, else the challenger. `reason` and
    `operator` are recorded on the materialization."""

    action: Literal["gates", "rollback", "promote"] = "gates"
    version: int | None = None
    reason: str = ""
    operator: str = ""


def build_promotion_assets(spec: DatasetSpec) -> list:
    """`<dataset>/champion`."""

    @dg.asset(
        key=[spec.name, "champion"],
        deps=[dg.AssetKey([spec.name, "backtest"])],
        group_name=GROUP,
        kinds={"mlflow"},
        description="The registry alias `champion`. Moves to the candidate only if every gate on "
        "the backtest passed (blocking checks); otherwise the champion stays and the run says why."
        " In a canary or shadow rollout a passing candidate becomes the `challenger` instead, "
        "served beside the champion until `mlops promote`. Operator actions (rollback, promote) "
        "are runs of this asset too, with their reason and operator.",
    )
    def champion(
        context: dg.AssetExecutionContext,
        config: ChampionConfig,
        datasets: DatasetsResource,
        registries: RegistriesResource,
    ) -> dg.MaterializeResult:
        dataset, registry = datasets.of(spec), registries.of(spec)
        if config.action == "gates":
            card = _gated(context, dataset.document("backtest"), registry, spec)
        else:
            card = _operated(config, registry, spec.serving.rollout)
        card["operator"] = config.operator or (
            getpass.getuser() if config.action != "gates" else "platform"
        )
        context.log.info(
            f"champion {registry.model_name}: v{card['previous_version']} -> v{card['version']} "
            f"({card['action']}: {card['reason']})"
        )
        version = card["version"]
        link = mlflow_run_link(registry, registry.run_id(version)) if version else {}
        return dg.MaterializeResult(
            value=card,
            metadata={
                "champion": f"{registry.model_name} v{card['version']}",
                **link,
                "previous_champion": f"v{card['previous_version']}"
                if card["previous_version"]
                else "none",
                "challenger": f"v{card['challenger_version']}"
                if card["challenger_version"]
                else "none",
                "action": card["action"],
                "reason": card["reason"],
                "operator": card["operator"],
                "rollout": card["rollout"],
                **{
                    k: card[k]
                    for k in ("backtest_roc_auc", "decision_threshold")
                    if card.get(k) is not None
                },
            },
        )

    return [champion]


def _gated(context, backtest: dict, registry: RegistryResource, spec: DatasetSpec) -> dict:
    """Promote the backtested candidate if every gate passed (or make it the challenger)."""
    candidate = backtest["candidate"]["version"]
    failed = failed_gates(backtest["gates"])
    if failed:  # the blocking checks stop this first; this guards direct materializations
        raise dg.Failure(
            f"{registry.model_name} v{candidate} not promoted: {failed_gates_reason(failed)}",
            metadata={"failed_gates": dg.MetadataValue.json(failed)},
            allow_retries=False,
        )
    auc = backtest["overall"]["candidate"]["roc_auc"]
    current = registry.champion_version()
    rollout = spec.serving.rollout
    reason = f"gates passed; backtest AUC {auc}"
    if rollout != "champion" and current is not None and current != candidate:
        registry.set_challenger(candidate)
        context.log.info(
            f"{rollout} rollout: {registry.model_name} v{candidate} is the challenger next to "
            f"champion v{current}; promote it with `mlops promote`"
        )
        version, previous, challenger = current, None, candidate
        reason = f"{reason}; challenger in a {rollout} rollout"
    else:
        previous = registry.promote(candidate, reason=reason)
        version, challenger = candidate, registry.challenger_version()
    return {
        **_card(registry, version, previous, challenger, "gates", reason, rollout),
        "backtest_roc_auc": auc,
        "decision_threshold": backtest["decision"]["threshold"],
    }


def _operated(config: ChampionConfig, registry: RegistryResource, rollout: str) -> dict:
    """An operator's rollback or promotion; a refused one fails with the registry's reason."""
    try:
        if config.action == "rollback":
            previous, version = registry.rollback()
        else:
            version = config.version or registry.challenger_version()
            if version is None:
                raise ValueError(f"{registry.model_name} has no challenger: pass --version N")
            previous = registry.promote(version, reason=config.reason or "operator promotion")
    except ValueError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from None
    reason = config.reason or f"operator {config.action}"
    challenger = registry.challenger_version()
    return _card(registry, version, previous, challenger, config.action, reason, rollout)


def _card(registry, version, previous, challenger, action, reason, rollout) -> dict:
    return {
        "model_name": registry.model_name,
        "version": version,
        "previous_version": previous,
        "challenger_version": challenger,
        "action": action,
        "reason": reason,
        "rollout": rollout,
    }
