"""`mlops status`: what is landed, materialized and quarantined, at a glance."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from mlops_assets.commands.execution import instance_for
from mlops_assets.config.settings import Settings
from mlops_assets.defs.partitions import landed_days


def collect_status(settings: Settings) -> dict:
    """A JSON-ready snapshot of one dataset under one home folder."""
    spec = settings.spec
    instance = instance_for(settings)
    landed = landed_days(spec.landing, spec.format)
    status: dict = {
        "dataset": spec.name,
        "home": str(settings.home),
        "landing": {
            "folder": str(spec.landing),
            "days": len(landed),
            "first": next(iter(landed), None),
            "last": next(reversed(landed), None),
        },
    }
    if spec.delayed_labels:
        status["outcomes_landing"] = {
            "folder": str(spec.outcomes),
            "days": len(landed_days(spec.outcomes, spec.format)),
        }
    assets = ["raw", "features"] + (["raw_outcomes"] if spec.delayed_labels else [])
    status["materialized"] = {}
    for asset in assets:
        done = sorted(instance.get_materialized_partitions(dg.AssetKey([spec.name, asset])))
        status["materialized"][asset] = {
            "partitions": len(done),
            "last": done[-1] if done else None,
        }
    status["champion"] = _champion(settings, spec)
    status["serving"] = _serving(settings, spec, instance, status["champion"])
    status["drift"] = _latest(
        instance, spec, "drift_report", ("severity", "retrain_signal", "domain_auc", "score_psi")
    )
    status["performance"] = _latest(
        instance, spec, "performance", ("roc_auc", "trailing_roc_auc", "feedback_gap_auc")
    )
    status["impact"] = _latest(
        instance,
        spec,
        "impact",
        ("uplift_per_application", "policy_approval_rate", "control_approval_rate"),
    )
    quarantine = settings.quarantine / spec.name
    reasons = sorted(quarantine.glob("*.reason.json")) if quarantine.is_dir() else []
    status["quarantined"] = {
        p.name.removesuffix(".reason.json"): json.loads(p.read_text())["reason"] for p in reasons
    }
    return status


def _champion(settings: Settings, spec) -> dict | None:
    from mlops_assets.defs.registry import registry_for

    registry = registry_for(settings, spec)
    local_store = registry.tracking_uri.startswith("sqlite:///")
    if local_store and not Path(registry.tracking_uri.removeprefix("sqlite:///")).exists():
        return None  # nothing trained yet; do not create an empty store
    version = registry.champion_version()
    return {"name": registry.model_name, "version": version} if version else None


def _serving(settings: Settings, spec, instance, champion: dict | None) -> dict:
    """What the endpoint answers it serves (`GET /v1/health`), beside what the deployment asset
    last recorded and the registry's champion, and whether they agree."""
    from mlops_assets.config.catalog import route_prefix
    from serving.client import Client, EndpointError

    recorded = _latest(instance, spec, "deployment", ("served", "endpoint", "champion"))
    explicit = os.environ.get("MLOPS_SERVING_URL") or os.environ.get("MLOPS_SERVE_PORT")
    url = settings.serving_url if explicit else (recorded or {}).get("endpoint")
    url = url or settings.serving_url
    if url == settings.serving_url:
        url += route_prefix(spec.name)
    serving: dict = {"endpoint": url, "recorded": recorded, "answering": False}
    client = Client(url, os.environ.get(spec.serving.api_key_env) or None, timeout=3)
    try:
        health = client.health()
        name, served = health["model"]["name"], health["model"]["version"]
    except (EndpointError, ValueError, KeyError, TypeError) as exc:
        serving["error"] = str(exc)
        return serving
    if champion and name != champion["name"]:
        serving["error"] = f"{url} serves another model, {name}"
        return serving
    wanted = champion["version"] if champion else None
    serving.update(
        answering=True,
        version=served,
        challenger=(health.get("challenger") or {}).get("version"),
        rollout=health.get("rollout"),
        champion=wanted,
        in_sync=served == wanted,
    )
    return serving


def _latest(instance, spec, asset: str, keys: tuple[str, ...]) -> dict | None:
    """Selected metadata of the asset's latest materialization (and its partition)."""
    event = instance.get_latest_materialization_event(dg.AssetKey([spec.name, asset]))
    if event is None:
        return None
    materialization = event.asset_materialization
    meta = {k: v.value for k, v in materialization.metadata.items() if k in keys}
    return {"partition": materialization.partition, **meta}


def format_status(status: dict) -> str:
    """Human-readable lines for `mlops status`."""
    land = status["landing"]
    lines = [
        f"dataset {status['dataset']}  (home {status['home']})",
        f"  landed        {land['days']} days  {land['first'] or '-'} .. {land['last'] or '-'}",
    ]
    if "outcomes_landing" in status:
        lines.append(f"  outcomes      {status['outcomes_landing']['days']} days landed")
    for asset, info in status["materialized"].items():
        lines.append(
            f"  {asset:<14}{info['partitions']} partitions materialized, last {info['last'] or '-'}"
        )
    champion = status["champion"]
    lines.append(
        f"  champion      {champion['name']} v{champion['version']}"
        if champion
        else "  champion      none yet"
    )
    lines.append(f"  {'serving':<14}{_serving_line(status['serving'])}")
    for name in ("drift", "performance"):
        info = status.get(name)
        text = ", ".join(f"{k} {v}" for k, v in info.items() if v is not None) if info else "-"
        lines.append(f"  {name:<14}{text}")
    lines.append(f"  {'impact':<14}{_impact_line(status.get('impact'))}")
    lines.append(f"  quarantined   {len(status['quarantined'])} files")
    lines += [f"    {name}: {reason}" for name, reason in status["quarantined"].items()]
    return "\n".join(lines)


def _impact_line(impact: dict | None) -> str:
    uplift = (impact or {}).get("uplift_per_application")
    if not uplift:
        return "-"
    return (
        f"policy - control {uplift['estimate']:+.2f} per application "
        f"[{uplift['low']:+.2f}, {uplift['high']:+.2f}] up to {impact['partition']}, approval "
        f"{impact['policy_approval_rate']} (policy) vs {impact['control_approval_rate']} (control)"
    )


def _serving_line(serving: dict) -> str:
    recorded = serving["recorded"]
    if recorded:
        verb = "served it" if recorded.get("served") else "did not serve it"
        last = f"the last deployment targeted {recorded.get('champion')} and {verb}"
    else:
        last = "no deployment recorded"
    if not serving["answering"]:
        if "serves another model" in serving.get("error", ""):
            return f"{serving['error']}; {last}"
        return f"no endpoint answering at {serving['endpoint']}; {last}"
    line = f"{serving['endpoint']} serves v{serving['version']}"
    if serving.get("challenger"):
        line += f" (challenger v{serving['challenger']}, {serving['rollout']} rollout)"
    if serving["in_sync"]:
        return f"{line}, the champion"
    return (
        f"{line}, but the champion is v{serving['champion']}: the endpoint is behind "
        f"(restart `mlops serve` to serve the champion); {last}"
    )
