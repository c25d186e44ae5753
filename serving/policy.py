"""Decisions from scores: the one function that online serving and batch scoring share.

Which records form the exploration control group, which ones near the threshold are explored,
and which ones the challenger decides in a canary rollout, is a pure function of the record's id
(a salted hash mapped to [0, 1)), so the same application gets the same treatment online, in
batch, and on every retry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

CHAMPION, CHALLENGER = "champion", "challenger"
DECISION_COLUMNS = {
    "id": pl.String,
    "score": pl.Float64,
    "decision": pl.String,
    "model_version": pl.Int64,
    "model_role": pl.String,
    "control": pl.Boolean,
    "threshold": pl.Float64,
    "champion_score": pl.Float64,
    "challenger_score": pl.Float64,
    "explored": pl.Boolean,
    "observed_probability": pl.Float64,
}


@dataclass(frozen=True)
class Policy:
    """The decision rule and the rollout in force."""

    action: str  # taken when score >= threshold
    otherwise: str  # the default action; also what the control group gets
    rollout: str = "champion"  # champion | canary | shadow
    canary_share: float = 0.0
    control_share: float = 0.0
    # exploration near the threshold: this share of the records the policy would give `action`
    # with a score under `explore_band` x threshold get `otherwise` (their outcomes are observed)
    explore_share: float = 0.0
    explore_band: float = 1.0


@dataclass(frozen=True)
class Scored:
    """Scores of one model for a batch of records, with that model's decision threshold."""

    version: int
    threshold: float
    scores: np.ndarray


def unit_hash(ids: Sequence[str], salt: str) -> np.ndarray:
    """A stable uniform number in [0, 1) per id (blake2b of `salt:id`)."""
    out = np.empty(len(ids), dtype=np.float64)
    for i, key in enumerate(ids):
        digest = hashlib.blake2b(f"{salt}:{key}".encode(), digest_size=8).digest()
        out[i] = int.from_bytes(digest, "big") / 2**64
    return out


def decide(
    ids: Sequence[str], champion: Scored, challenger: Scored | None, policy: Policy
) -> pl.DataFrame:
    """One row per id: the deciding model, its score, the decision, the control and exploration
    flags, and `observed_probability`, the probability that the policy gives the record
    `otherwise` (1 under the threshold; above it the control share, and near it the exploration
    too): with selective labels, the chance that its outcome is observed.

    `champion_score` and `challenger_score` keep both scores whenever a challenger scored (canary
    and shadow), so monitoring can compare the two on the same traffic.
    """
    n = len(ids)
    control = (
        unit_hash(ids, "control") < policy.control_share
        if policy.control_share > 0
        else np.zeros(n, dtype=bool)
    )
    if challenger is not None and policy.rollout == "canary" and policy.canary_share > 0:
        by_challenger = unit_hash(ids, "canary") < policy.canary_share
    else:
        by_challenger = np.zeros(n, dtype=bool)
    score = np.where(by_challenger, challenger.scores if challenger else 0.0, champion.scores)
    threshold = np.where(
        by_challenger, challenger.threshold if challenger else 0.0, champion.threshold
    )
    above = score >= threshold
    near = above & (score < threshold * policy.explore_band)
    explored = (
        near & ~control & (unit_hash(ids, "explore") < policy.explore_share)
        if policy.explore_share > 0
        else np.zeros(n, dtype=bool)
    )
    decision = np.where(control | explored | ~above, policy.otherwise, policy.action)
    share = policy.control_share
    observed = np.where(above, share + (1 - share) * policy.explore_share * near, 1.0)
    return pl.DataFrame(
        {
            "id": list(ids),
            "score": score,
            "decision": decision,
            "model_version": np.where(
                by_challenger, challenger.version if challenger else 0, champion.version
            ),
            "model_role": np.where(by_challenger, CHALLENGER, CHAMPION),
            "control": control,
            "threshold": threshold,
            "champion_score": champion.scores,
            "challenger_score": challenger.scores if challenger else [None] * n,
            "explored": explored,
            "observed_probability": observed,
        },
        schema=DECISION_COLUMNS,
    )
