"""Serving: the endpoint follows the champion, and every landed application gets a decision."""

import time
import warnings

import dagster as dg
import polars as pl

from mlops_assets.compute.ingest import DAY
from mlops_assets.compute.selective import OUTCOME_KNOWN, mark_known_outcomes
from mlops_assets.config.spec import DatasetSpec
from mlops_assets.defs.registry import TRANSIENT, RegistriesResource
from mlops_assets.defs.resources import DatasetsResource, ServingResource
from serving.client import EndpointError
from serving.rollout import RolloutTarget, desired_target

DEPLOY_GROUP = "deployment"
DECISIONS_GROUP = "decisions"


def build_serving_assets(spec: DatasetSpec, partitions: dg.PartitionsDefinition) -> list:
    """`<dataset>/deployment` and `<dataset>/decisions`."""
    return [_deployment(spec), _decisions(spec, partitions)]


def _deployment(spec: DatasetSpec) -> dg.AssetsDefinition:
    @dg.asset(
        key=[spec.name, "deployment"],
        retry_policy=TRANSIENT,
        deps=[dg.AssetKey([spec.name, "champion"])],
        group_name=DEPLOY_GROUP,
        kinds={"ray", "fastapi"},
        description="What the Ray Serve endpoint serves: the registry's champion (and challenger "
        "in a canary or shadow rollout). Loads the versions inside the running replicas and swaps "
        "them in without dropping a request; if they fail to load, the old ones keep serving and "
        "this fails with the reason. With no endpoint running, records the target that "
        "`mlops serve` will pick up.",
    )
    def deployment(
        context: dg.AssetExecutionContext,
        datasets: DatasetsResource,
        registries: RegistriesResource,
        serving: ServingResource,
    ) -> dg.MaterializeResult:
        dataset, registry = datasets.of(spec), registries.of(spec)
        champion = dataset.document("champion") if dataset.exists("champion") else {}
        why = {k: champion.get(k) for k in ("action", "reason", "operator")}
        try:
            target = desired_target(registry, spec.serving)
        except Exception as exc:  # the registry is a remote service: any failure stops here
            raise dg.Failure(
                f"the model registry at {registry.display_uri} did not answer, so nothing was "
                f"deployed and the endpoint keeps serving what it serves: "
                f"{type(exc).__name__}: {str(exc)[:300]}",
                metadata={"tracking_uri": registry.display_uri},
            ) from None
        client, url = serving.client(spec.name, timeout=10), serving.url_of(spec.name)
        try:
            before = client.health()
        except EndpointError as exc:
            context.log.warning(f"{exc}; `mlops serve` will serve v{target.champion}")
            return _deployment_result(target, served=False, endpoint=url, **why)
        try:
            answer = client.set_target(target.model_dump())
        except EndpointError as exc:
            raise dg.Failure(
                f"the endpoint kept serving v{before['model']['version']}: {exc}",
                metadata={
                    "endpoint": url,
                    "target": dg.MetadataValue.json(target.model_dump()),
                },
                allow_retries=False,
            ) from None
        context.log.info(
            f"{url} now serves v{answer['model']['version']} "
            f"(was v{before['model']['version']}; {len(answer['replicas'])} replica(s), "
            f"{answer['seconds']} s)"
        )
        return _deployment_result(
            target,
            served=True,
            endpoint=url,
            previous=before["model"]["version"],
            replicas=len(answer["replicas"]),
            swap_seconds=answer["seconds"],
            **why,
        )

    return deployment


def _decisions(spec: DatasetSpec, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    with warnings.catch_warnings():  # `backfill_policy` is marked beta
        warnings.simplefilter("ignore", dg.BetaWarning)
        decisions_asset = dg.asset(
            key=[spec.name, "decisions"],
            retry_policy=TRANSIENT,
            deps=[dg.AssetKey([spec.name, "raw"]), dg.AssetKey([spec.name, "deployment"])],
            partitions_def=partitions,
            backfill_policy=dg.BackfillPolicy.single_run(),  # a range of days is one run
            output_required=False,
            group_name=DECISIONS_GROUP,
            kinds={"polars", "parquet"},
            description="Batch decisions for every landed application, by the deployed models and "
            "rollout, through the same scoring and decision code as the endpoint: the same record "
            "gets the same score, decision, control-group flag and deciding model on either path. "
            "Before a first deployment there is nothing to decide with, and the day has none. "
            f"`{OUTCOME_KNOWN}` marks a row whose outcome had landed before it was decided (a "
            "backfill over history): that decision made no outcome unobservable. A logged "
            "decision is what happened: re-materializing a day keeps its logged rows as they "
            "are and decides only applications it has not decided.",
        )

    @decisions_asset
    def decisions(
        context: dg.AssetExecutionContext,
        datasets: DatasetsResource,
        registries: RegistriesResource,
    ):
        from serving.model import load_model
        from serving.policy import CHALLENGER, CHAMPION

        dataset, registry = datasets.of(spec), registries.of(spec)
        if not dataset.exists("deployment"):
            context.log.info("no deployed model yet: nothing decides these days")
            return
        started = time.perf_counter()
        raw = dataset.frame("raw", context.partition_keys)
        target = RolloutTarget(**dataset.document("deployment")["target"])
        models = {
            role: load_model(
                registry.tracking_uri, registry.model_name, version, spec.decision.threshold
            )
            for role, version in ((CHAMPION, target.champion), (CHALLENGER, target.challenger))
            if version is not None
        }
        decided, decided_now = _decide(dataset, spec, models, target, raw, context.partition_keys)
        action = decided["decision"] == spec.decision.action
        yield dg.MaterializeResult(
            value=decided,
            metadata={
                "dagster/row_count": decided.height,
                "decided_now": decided_now,  # the rest were logged before and kept
                "days": len(context.partition_keys),
                "champion": f"v{target.champion}",
                "challenger": f"v{target.challenger}" if target.challenger else "none",
                "rollout": target.rollout,
                f"{spec.decision.action}_rate": round(float(action.mean()), 4),
                "control_rows": int(decided["control"].sum()),
                "outcome_known_rows": int(decided[OUTCOME_KNOWN].fill_null(False).sum())
                if OUTCOME_KNOWN in decided.columns
                else 0,
                "mean_score": round(float(decided["score"].mean()), 4),
                "runtime_seconds": round(time.perf_counter() - started, 2),
            },
        )

    return decisions


def _decide(dataset, spec: DatasetSpec, models, target, raw: pl.DataFrame, days: list[str]):
    """The days' decision log: rows logged before, kept as they are, then decisions for the
    applications no log holds (by id; without ids, whole days). Returns it and how many rows
    were decided now."""
    from serving.model import score_and_decide

    logged_days = [d for d in days if dataset.exists("decisions", d)]
    logged = dataset.frame("decisions", logged_days) if logged_days else None
    if logged is not None:
        logged_keys = logged["id"] if spec.id_column else logged[DAY].unique()
        key = raw[spec.id_column].cast(pl.String) if spec.id_column else raw[DAY]
        raw = raw.filter(~key.is_in(logged_keys.implode()))
    if logged is not None and raw.height == 0:
        return logged, 0
    ids = (
        raw[spec.id_column].cast(pl.String).to_list()
        if spec.id_column
        else [f"{d}-{i}" for i, d in enumerate(raw[DAY].cast(pl.String))]
    )
    decided = mark_known_outcomes(
        score_and_decide(models, raw, ids, target, spec.decision).with_columns(raw[DAY]),
        _known_before_deciding(dataset, spec, days),
    )
    if logged is not None:
        decided = pl.concat([logged, decided], how="diagonal_relaxed").sort(
            DAY, maintain_order=True
        )
    return decided, raw.height


def _known_before_deciding(dataset, spec: DatasetSpec, days: list[str]) -> pl.Series | None:
    """Ids whose outcome landed before any platform decision (selective, delayed labels with
    ids): the outcomes in the lake that landed on or after the first of the days being decided.
    (A row logged before keeps its logged mark: logged rows are never decided again.)"""
    if not (spec.decision.selective_labels and spec.delayed_labels and spec.id_column):
        return None
    landed_days = [d for d in dataset.partitions("raw_outcomes") if d >= min(days)]
    if not landed_days:
        return None
    landed = dataset.scan("raw_outcomes", landed_days).select(pl.col(spec.id_column))
    return landed.collect().to_series().cast(pl.String)


def _deployment_result(
    target: RolloutTarget, served: bool, endpoint: str, **extra
) -> dg.MaterializeResult:
    document = {"target": target.model_dump(), "served": served, "endpoint": endpoint, **extra}
    return dg.MaterializeResult(
        value=document,
        metadata={
            "champion": f"v{target.champion}",
            "challenger": f"v{target.challenger}" if target.challenger else "none",
            "rollout": target.rollout,
            "served": served,
            "endpoint": dg.MetadataValue.url(endpoint) if served else endpoint,
            **{k: v for k, v in extra.items() if v is not None},
        },
    )
