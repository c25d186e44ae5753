"""Serving check: the live endpoint serves what the deployment asset says it should."""

import dagster as dg

from mlops_assets.config.spec import DatasetSpec
from mlops_assets.defs.resources import DatasetsResource, ServingResource
from serving.client import EndpointError


def build_serving_checks(spec: DatasetSpec) -> list:
    key = dg.AssetKey([spec.name, "deployment"])

    @dg.asset_check(
        asset=key,
        name="serves_target",
        description="Calls the live endpoint (`GET /v1/health`) and confirms it serves the "
        "champion (and challenger) the deployment asset deployed. Warns when no endpoint runs.",
    )
    def serves_target(datasets: DatasetsResource, serving: ServingResource) -> dg.AssetCheckResult:
        dataset = datasets.of(spec)
        target = dataset.document("deployment")["target"]
        try:
            health = serving.client(spec.name, timeout=10).health()
        except EndpointError as exc:
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"reason": str(exc), "expected_champion": target["champion"]},
            )
        served = health["model"]["version"]
        challenger = (health.get("challenger") or {}).get("version")
        passed = served == target["champion"] and challenger == target["challenger"]
        return dg.AssetCheckResult(
            passed=passed,
            metadata={
                "reason": f"serves v{served}"
                + (f" + challenger v{challenger}" if challenger else "")
                + ("" if passed else f"; expected v{target['champion']}"),
                "served_champion": served,
                "expected_champion": target["champion"],
                "rollout": health["rollout"],
            },
        )

    return [serves_target]
