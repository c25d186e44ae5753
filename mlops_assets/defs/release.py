"""Release: the deploy stage's promotion through the environments' registries, dev -> test -> prod.

Each profile (MLOPS_ENV) registers models as `<dataset>-<env>`. Releasing to an environment copies
the champion of the stage before it into that environment's registered model and makes the copy
its champion, but only if every promotion gate passed on the version's backtest and the version
loads as serving would load it. Releasing the same version twice changes nothing.
"""

import getpass
from typing import Literal

import dagster as dg

from mlops_assets.compute.gates import failed_gates
from mlops_assets.defs.registry import RegistryResource, registry_for
from mlops_assets.defs.resources import DatasetsResource

STAGES = ("dev", "test", "prod")


class ReleaseConfig(dg.Config):
    to: Literal["test", "prod"]
    reason: str = ""
    operator: str = ""


def release_job_name(spec) -> str:
    return f"{spec.name}_release"


def build_release_job(spec) -> dg.JobDefinition:
    """`<dataset>_release`: `release` as a Dagster run, with its reason and operator."""

    @dg.op(name=f"{spec.name}__release", tags={"kind": "mlflow"})
    def release_op(
        context: dg.OpExecutionContext, config: ReleaseConfig, datasets: DatasetsResource
    ):
        from mlops_assets.config.settings import Settings

        dataset = datasets.of(spec)
        settings = Settings.resolve(dataset.home, dataset.spec_path)
        moved = release(settings, dataset.spec, config.to)
        operator = config.operator or getpass.getuser()
        context.log.info(
            f"{'released' if moved['copied'] else 'already released'}: {moved['from']} -> "
            f"{moved['to']} by {operator} ({config.reason or 'no reason given'})"
        )
        return dg.Output(
            moved, metadata={**moved, "operator": operator, "reason": config.reason or "none"}
        )

    @dg.job(
        name=release_job_name(spec),
        description="Copy the previous environment's champion into the target environment's "
        "registry as its champion, if every gate passed on its backtest (dev -> test -> prod).",
    )
    def release_job():
        release_op()

    return release_job


def release(settings, spec, to: str) -> dict:
    """Copy the previous stage's champion into stage `to` as its champion; returns what moved."""
    from serving.model import load_model

    if to not in STAGES[1:]:
        raise ValueError(f"release goes to one of {', '.join(STAGES[1:])}, not {to!r}")
    frm = STAGES[STAGES.index(to) - 1]
    source, target = (registry_for(settings, spec, stage) for stage in (frm, to))
    if source.tracking_uri != target.tracking_uri:
        raise ValueError(
            f"profiles {frm!r} and {to!r} use different tracking servers ({source.display_uri}, "
            f"{target.display_uri}): a release copies a version within one registry"
        )
    version = source.champion_version()
    if version is None:
        raise ValueError(f"{source.model_name} has no champion to release")
    client = source.client()
    try:
        gates = source.load_dict(source.run_id(version), "backtest/report.json")["gates"]
    except Exception as exc:  # no backtest report: never evaluated
        raise ValueError(f"{source.model_name} v{version} has no backtest report: {exc}") from exc
    failed = sorted(failed_gates(gates))
    if failed:
        raise ValueError(f"{source.model_name} v{version} failed the gates: {', '.join(failed)}")
    origin = f"{source.model_name}/{version}"
    for existing in client.search_model_versions(f"name='{target.model_name}'"):
        if existing.tags.get("released_from") == origin:
            if target.champion_version() != int(existing.version):
                target.promote(int(existing.version), reason=f"released from {origin}")
            return _moved(origin, target, int(existing.version), copied=False)
    load_model(source.tracking_uri, source.model_name, version, spec.decision.threshold)
    copy = client.copy_model_version(f"models:/{origin}", target.model_name)
    client.set_model_version_tag(target.model_name, copy.version, "released_from", origin)
    target.promote(int(copy.version), reason=f"released from {origin}")
    return _moved(origin, target, int(copy.version), copied=True)


def _moved(origin: str, target: RegistryResource, version: int, copied: bool) -> dict:
    return {"from": origin, "to": f"{target.model_name}/{version}", "copied": copied}
