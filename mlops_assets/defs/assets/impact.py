"""Impact: the realized business value of the model's policy against the control group."""

import dagster as dg
import polars as pl

from mlops_assets.compute.impact import cumulative_uplift, daily_arms, impact_summary
from mlops_assets.config.spec import DatasetSpec
from mlops_assets.defs.assets.performance import labelled, outcome_day_deps
from mlops_assets.defs.assets.plots import save_plot, uplift_png
from mlops_assets.defs.automation import monitoring_automation
from mlops_assets.defs.resources import DatasetsResource

GROUP = "monitoring"


def build_impact_assets(spec: DatasetSpec, partitions: dg.PartitionsDefinition) -> list:
    """`<dataset>/impact` (when labels lag), partitioned by the day the outcomes landed."""
    if not spec.delayed_labels:
        return []
    delay = spec.target.delay_days

    @dg.asset(
        key=[spec.name, "impact"],
        automation_condition=monitoring_automation(spec),
        deps=outcome_day_deps(spec, ("decisions",)),
        partitions_def=partitions,
        output_required=False,
        group_name=GROUP,
        kinds={"polars"},
        description=f"Realized value per application of the model's policy against the control "
        f"group (a random share that is always approved), from the outcomes that landed for the "
        f"decisions of {delay} days earlier: declined applications at the action's value, "
        "approved ones at their outcome's. The cumulative uplift (policy minus control) with its "
        "interval, approval rates per arm, and the spec's business targets. No model score "
        "enters the comparison.",
    )
    def impact(context: dg.AssetExecutionContext, datasets: DatasetsResource):
        dataset = datasets.of(spec)
        decided_on = labelled(context.partition_key, delay)
        if not dataset.exists("decisions", decided_on):
            context.log.info(f"no decisions for {decided_on}: no impact to measure")
            return
        decisions = dataset.read("decisions", decided_on)
        outcomes = dataset.read("raw_outcomes", context.partition_key)
        day = daily_arms(decisions, outcomes, spec).with_columns(day=pl.lit(decided_on))
        earlier = [d for d in dataset.partitions("impact") if d < context.partition_key]
        history = pl.concat([dataset.frame("impact", earlier), day], how="diagonal_relaxed")
        today, cumulative = impact_summary(day, spec), impact_summary(history, spec)
        curve = cumulative_uplift(history, spec)
        metadata = {
            "decided_on": decided_on,
            "uplift_per_application": dg.MetadataValue.json(cumulative["uplift"]),
            "policy_value_per_application": cumulative["policy"]["value_per_application"],
            "control_value_per_application": cumulative["control"]["value_per_application"],
            "policy_approval_rate": cumulative["policy"]["approval_rate"],
            "control_approval_rate": cumulative["control"]["approval_rate"],
            "cumulative_days": cumulative["days"],
            "cumulative": dg.MetadataValue.json(cumulative),
            "day": dg.MetadataValue.json(today),
            "targets": dg.MetadataValue.json(cumulative["targets"]),
        }
        if curve.height:
            png = uplift_png(curve, f"{spec.name}: cumulative uplift, policy vs control")
            plot = save_plot(dataset, "impact", context.partition_key, png)
            metadata["uplift_plot"] = dg.MetadataValue.path(str(plot))
        yield dg.MaterializeResult(
            value=day, metadata={k: v for k, v in metadata.items() if v is not None}
        )

    return [impact]
