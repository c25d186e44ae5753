"""`mlops sweep`: the sweep job (Ray Tune trials against the champion's recipe, tracked in
MLflow), then, when it proposes a winner, the train job on it: the same gates as any candidate."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable

import dagster as dg

from mlops_assets.commands.execution import execute, first_failure, instance_for
from mlops_assets.commands.runner import train_and_report
from mlops_assets.config.settings import Settings
from mlops_assets.defs.jobs import sweep_job_name
from mlops_assets.defs.platform import build_definitions


def run_sweep(
    settings: Settings,
    trials: int | None = None,
    seed: int | None = None,
    train: bool = True,
    progress: Callable[[str], None] = lambda _: None,
) -> dict:
    """Run `<dataset>_sweep` in this process (Ray Tune's progress table goes to stderr), then
    with `train` the train job with `from_sweep` if the sweep proposed a recipe. Returns the
    sweep's report and, if trained, the train job's summary (as `mlops run` prints it)."""
    spec = settings.spec
    defs, instance = build_definitions(settings), instance_for(settings)
    config = {k: v for k, v in {"trials": trials, "seed": seed}.items() if v is not None}
    progress(
        f"{sweep_job_name(spec)}: {trials or spec.experiments.trials} trials on Ray Tune "
        "against the champion's recipe..."
    )
    with contextlib.redirect_stdout(sys.stderr):
        result = execute(
            defs,
            instance,
            sweep_job_name(spec),
            run_config={"ops": {f"{spec.name}__sweep": {"config": config}}},
        )
    if not result.success:
        raise ValueError(
            f"{sweep_job_name(spec)} failed (run {result.run_id}): {first_failure(result)[0]}"
        )
    summary = {"sweep": settings.dataset().document("sweep")}
    if train and summary["sweep"]["proposed_recipe"]:
        summary["model"] = train_sweep_winner(settings, progress, defs, instance)
    return summary


def train_sweep_winner(
    settings: Settings,
    progress: Callable[[str], None] = lambda _: None,
    defs: dg.Definitions | None = None,
    instance: dg.DagsterInstance | None = None,
) -> dict:
    """The train job on the recipe the last sweep proposed (`from_sweep`): the same gates as
    any candidate. Returns its summary (as `mlops run` prints it)."""
    spec = settings.spec
    return train_and_report(
        defs or build_definitions(settings),
        instance or instance_for(settings),
        spec,
        settings,
        progress,
        run_config={"ops": {f"{spec.name}__candidate_model": {"config": {"from_sweep": True}}}},
    )


def format_sweep(summary: dict) -> str:
    """The comparison table, the winner, its holdout re-check and what the gates decided."""
    report = summary["sweep"]
    lines = [
        f"sweep (MLflow run {report['mlflow_run_id']}): {len(report['trials']) - 1} trials "
        f"against {report['baseline']['name']} (trial 0), on {len(report['nodes'])} Ray node(s)",
        f"{'trial':>5}  {'estimator':<22} {'AUC':>6}  {'AUC diff [low, high]':<26} "
        f"{'value/app':>9}  {'value diff [low, high]':<22} params",
    ]
    for row in report["trials"]:
        auc = (
            f"{row['auc_diff']:+.4f} [{row['auc_diff_low']:+.4f}, {row['auc_diff_high']:+.4f}]"
            if row["auc_diff"] is not None
            else "-"
        )
        value = f"[{row['value_diff_low']:+.2f}, {row['value_diff_high']:+.2f}]"
        mark = "*" if row["winner"] else " "
        lines.append(
            f"{row['trial']:>4}{mark}  {row['estimator']:<22} {row['roc_auc'] or 0:6.4f}  "
            f"{auc:<26} {row['value_per_app']:9.2f}  {value:<22} {row['params']}"
        )
    holdout = report["holdout"]
    if report["winner"] is None:
        lines.append("no trial beat the baseline beyond noise: nothing proposed")
    elif holdout is not None:
        lines.append(
            f"trial {report['winner']} on the holdout days {holdout['days']} (no trial saw "
            f"them): AUC difference {holdout['auc_difference']}, value difference "
            f"{holdout['value_difference']}: "
            + ("confirmed" if holdout["confirmed"] else "not confirmed")
        )
    model = summary.get("model")
    if model:
        champion = model.get("champion")
        lines.append(
            f"candidate v{model.get('candidate', {}).get('version')}: "
            + (
                f"promoted, champion v{champion['version']}"
                if champion and champion["promoted"]
                else f"not promoted ({model.get('not_promoted', 'see the gates')})"
            )
        )
    return "\n".join(lines)
