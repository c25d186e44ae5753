"""Business KPIs: what each day's decisions mean for the business, against the spec's targets."""

import datetime as dt

import dagster as dg
import polars as pl

from mlops_assets.compute.ingest import DAY
from mlops_assets.compute.monitoring import business_kpis
from mlops_assets.config.spec import DatasetSpec
from mlops_assets.defs.automation import monitoring_automation
from mlops_assets.defs.resources import DatasetsResource

GROUP = "monitoring"


def build_kpi_assets(spec: DatasetSpec, partitions: dg.PartitionsDefinition) -> list:
    """`<dataset>/kpis`."""

    @dg.asset(
        key=[spec.name, "kpis"],
        automation_condition=monitoring_automation(spec),
        deps=[dg.AssetKey([spec.name, "decisions"])],
        partitions_def=partitions,
        output_required=False,
        group_name=GROUP,
        kinds={"polars"},
        description="Business KPIs of a day's decisions: applications, approval rate, portfolio "
        "size, expected value from the calibrated scores (realized value comes with "
        "`performance`), the model's policy against the control group as its scores expect it "
        "(realized: `impact`), and the targets "
        "in the spec's `monitoring:` section.",
    )
    def kpis(context: dg.AssetExecutionContext, datasets: DatasetsResource):
        dataset = datasets.of(spec)
        day = context.partition_key
        if not dataset.exists("decisions", day):
            context.log.info(f"no decisions for {day} (nothing deployed then): no KPIs")
            return
        decisions = dataset.read("decisions", day)
        earlier = [d for d in dataset.partitions("decisions") if d < day]
        portfolio = sum(
            dataset.read("decisions", d)
            .filter(pl.col("decision") == spec.decision.otherwise)
            .height
            for d in earlier
        )
        result = business_kpis(decisions, spec, portfolio)
        flat = {k: v for k, v in result.items() if not isinstance(v, dict)}
        yield dg.MaterializeResult(
            value=pl.DataFrame([{**flat, DAY: dt.date.fromisoformat(day)}]),
            metadata={
                **{k: v for k, v in flat.items() if v is not None},
                # as the champion's own scores expect it; realized: the `impact` asset
                "policy_vs_control_expected": dg.MetadataValue.json(
                    {"policy": result["policy"], "control": result["control"]}
                ),
                "targets": dg.MetadataValue.json(result["targets"]),
            },
        )

    return [kpis]
