"""Business impact from realized outcomes: the model's policy against the control group.

The control group is a random share of applications (a hash of the id) that always gets the
`otherwise` action, so the two arms are comparable populations: the difference of their realized
value per application is the policy's uplift, without any model score in it. A declined
application is worth the action's value (its outcome is never observed; when that value depends
on the outcome, its expectation under the deciding model's calibrated score). An approved one is
worth its observed outcome's value.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from mlops_assets.compute.intervals import CONFIDENCE, Interval, z_value

ARMS = ("policy", "control")
SUMS = ("applications", "approvals", "valued", "value", "value_squared")


def daily_arms(decided: pl.DataFrame, outcomes: pl.DataFrame, spec) -> pl.DataFrame:
    """One row per arm of a day's decisions (`id`, `decision`, `control`, `score`) joined with
    the outcomes that landed for them: the sums that value per application, approval rates and
    the uplift's interval are built from (`SUMS`)."""
    v, approve = spec.value, spec.decision.otherwise
    labels = outcomes.select(
        pl.col(spec.id_column).cast(pl.String).alias("id"),
        spec.target.label().alias("_label"),
    )
    rows = decided.join(labels, on="id", how="left")
    approved = pl.col("decision") == approve
    declined_value = pl.col("score") * v.action_positive + (1 - pl.col("score")) * v.action_negative
    value = (
        pl.when(approved & (pl.col("_label") == 1))
        .then(v.otherwise_positive)
        .when(approved & (pl.col("_label") == 0))
        .then(v.otherwise_negative)
        .when(~approved)
        .then(declined_value)
        .cast(pl.Float64)
    )
    arm = pl.when(pl.col("control")).then(pl.lit("control")).otherwise(pl.lit("policy"))
    summed = (
        rows.with_columns(_value=value, arm=arm)
        .group_by("arm")
        .agg(
            pl.len().alias("applications"),
            approved.sum().alias("approvals"),
            pl.col("_value").is_not_null().sum().alias("valued"),
            pl.col("_value").sum().alias("value"),
            (pl.col("_value") ** 2).sum().alias("value_squared"),
        )
    )
    frame = pl.DataFrame({"arm": list(ARMS)}).join(summed, on="arm", how="left")
    return frame.with_columns(
        pl.col("applications", "approvals", "valued").fill_null(0).cast(pl.Int64),
        pl.col("value", "value_squared").fill_null(0.0).cast(pl.Float64),
    )


def impact_summary(days: pl.DataFrame, spec, confidence: float = CONFIDENCE) -> dict:
    """Per arm over the days in `days` (the `daily_arms` rows of each day, with a `day`): value
    per application and approval rate; the uplift, policy minus control value per application,
    with Welch's interval (the arms are independent random shares of the same days); and the
    spec's business targets against the policy arm."""
    totals = days.group_by("arm").agg(pl.col(SUMS).sum())
    arms = {row["arm"]: row for row in totals.iter_rows(named=True)}
    out: dict = {"days": int(days["day"].n_unique()) if days.height else 0}
    moments = {}
    for name in ARMS:
        row = arms.get(name, dict.fromkeys(SUMS, 0))
        n, valued = row["applications"], row["valued"]
        mean = row["value"] / valued if valued else None
        var = (
            max(row["value_squared"] / valued - mean**2, 0.0) * valued / (valued - 1)
            if valued > 1
            else None
        )
        moments[name] = (mean, var, valued)
        out[name] = {
            "applications": int(n),
            "approval_rate": round(row["approvals"] / n, 4) if n else None,
            "value_per_application": round(mean, 4) if mean is not None else None,
            "unvalued": int(n - valued),
        }
    out["uplift"] = _uplift(moments, confidence)
    m, policy = spec.monitoring, out["policy"]
    out["targets"] = {
        "approval_rate": m.target_approval_rate,
        "approval_rate_met": _met(policy["approval_rate"], m.target_approval_rate),
        "value_per_application": m.target_value_per_application,
        "value_per_application_met": _met(
            policy["value_per_application"], m.target_value_per_application
        ),
    }
    return out


def _uplift(moments: dict, confidence: float) -> dict | None:
    (mp, vp, np_), (mc, vc, nc) = moments["policy"], moments["control"]
    if mp is None or mc is None or vp is None or vc is None:
        return None
    half = z_value(confidence) * np.sqrt(vp / np_ + vc / nc)
    return Interval(mp - mc, mp - mc - half, mp - mc + half).as_dict()


def _met(value, target) -> bool | None:
    return None if target is None or value is None else value >= target


def cumulative_uplift(days: pl.DataFrame, spec) -> pl.DataFrame:
    """The uplift and its interval over every day up to each day (for the plot)."""
    ordered = sorted(days["day"].unique().to_list())
    rows = []
    for k, day in enumerate(ordered):
        uplift = impact_summary(days.filter(pl.col("day").is_in(ordered[: k + 1])), spec)["uplift"]
        if uplift is not None:
            rows.append({"day": day, **uplift})
    return pl.DataFrame(rows)
