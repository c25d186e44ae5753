"""Selective labels: which outcomes a lender can observe, and how much each observed row stands for.

With `decision.selective_labels`, an application's outcome exists only when it got the
`otherwise` action (approve): the policy approved it, or it was in the control group, which is
approved whatever its score. So the probability that a row's outcome is observed follows from the
logged decision (its `observed_probability`, or from the score for a log without it):
- the deciding model's score was below its threshold (the policy approves): 1;
- the policy would have declined it: the control share (only control rows are approved), plus,
  near the threshold, what exploration approves (`serving.explore_share`).
Each observed row is weighted by the inverse of that probability: the weighted observed rows
estimate the whole applicant population without bias. A row declined outside the control group is
unobservable; an outcome that a source holds for it anyway is never used. Days with no logged
decision were decided before the platform (the legacy policy): their rows weigh 1, and so do rows
decided after their outcome had landed (`OUTCOME_KNOWN`: a backfill over history censored nothing).
"""

from __future__ import annotations

import numpy as np
import polars as pl

WEIGHT = "_weight"  # 1 / P(outcome observed | the logged decision)
UNIT = "_unit"  # the observed row a copy in `population_rows` stands for
OUTCOME_KNOWN = "outcome_known"  # decision log: the row's outcome had landed when it was decided
OBSERVED = "observed_probability"  # decision log: P(the policy gives the row `otherwise`)
_LOGGED = ("decision", "control", "score", "threshold")


def mark_known_outcomes(decided: pl.DataFrame, landed_ids: pl.Series | None) -> pl.DataFrame:
    """The decision log `decided` with `OUTCOME_KNOWN`: whether each row's id is among
    `landed_ids`, the outcomes that had landed before it was decided (None: none had). Such a
    decision, made after the fact (e.g. the first champion deciding the days it was trained on),
    made no outcome unobservable."""
    known = (
        pl.col("id").is_in(landed_ids.cast(pl.String).implode())
        if landed_ids is not None and landed_ids.len()
        else pl.lit(False)
    )
    return decided.with_columns(known.alias(OUTCOME_KNOWN))


def observable(rows: pl.LazyFrame, decisions: pl.LazyFrame | None, spec, id_column: str | None):
    """`rows` (with labels) whose outcome the business could observe, with `WEIGHT`.

    `decisions`: the platform's decision log (`id` and `_LOGGED`, and `OUTCOME_KNOWN` when
    logged) for the rows' days, or None. Without selective labels every row is observable and
    weighs 1; so is a row whose outcome had landed before its decision.
    """
    if not spec.decision.selective_labels or decisions is None:
        return rows.with_columns(pl.lit(1.0).alias(WEIGHT))
    schema = decisions.lazy().collect_schema()
    if "id" not in schema:  # nothing decided yet: legacy days
        return rows.with_columns(pl.lit(1.0).alias(WEIGHT))
    logged = [*_LOGGED, *(c for c in (OUTCOME_KNOWN, OBSERVED) if c in schema)]
    censoring = ~pl.col(OUTCOME_KNOWN).fill_null(False) if OUTCOME_KNOWN in schema else pl.lit(True)
    # the chance of being observed; a day logged before it was: from the score (no exploration)
    from_score = (
        pl.when(pl.col("score") >= pl.col("threshold"))
        .then(spec.serving.control_share)
        .otherwise(1.0)
    )
    probability = pl.col(OBSERVED).fill_null(from_score) if OBSERVED in schema else from_score
    declined = pl.col("decision") == spec.decision.action
    joined = rows.with_columns(pl.col(id_column).cast(pl.String).alias("_decided_id")).join(
        decisions.lazy().select(pl.col("id").alias("_decided_id"), *logged),
        on="_decided_id",
        how="left",
        maintain_order="left",
    )
    return (
        joined.filter((~(declined & ~pl.col("control") & censoring)).fill_null(True))
        .with_columns(
            pl.when(censoring & pl.col("decision").is_not_null())
            .then(1.0 / probability)
            .otherwise(1.0)
            .alias(WEIGHT)
        )
        .drop("_decided_id", *logged)
    )


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size, (sum w)^2 / sum w^2: how many unweighted rows the weighted
    rows are worth."""
    w = np.asarray(weights, dtype=float)
    return float(w.sum() ** 2 / (w**2).sum()) if len(w) and (w**2).sum() > 0 else 0.0


def population_rows(frame: pl.DataFrame, seed: int = 0) -> pl.DataFrame:
    """The weighted rows as the applicant population they stand for: each row repeated `WEIGHT`
    times (a non-integer weight is rounded up or down at random, unbiased, seeded).

    Evaluation runs unchanged on the result; its intervals resample whole days (or, with few
    days, `resampling_units`), so the copies of a row move together and never count as
    independent evidence. Each copy's `UNIT` names its row (`seed` keeps folds apart).
    """
    if WEIGHT not in frame.columns:
        return frame
    w = frame[WEIGHT].to_numpy()
    whole = np.floor(w)
    extra = np.random.default_rng(seed).random(len(w)) < (w - whole)
    copies = (whole + extra).astype(np.int64)
    index = np.repeat(np.arange(frame.height), copies)
    return frame[index].with_columns(pl.Series(UNIT, seed * 1_000_000_000 + index))


def resampling_units(rows: pl.DataFrame, days: np.ndarray) -> np.ndarray:
    """What an interval resamples: the days when there are enough of them, else the rows, a row
    and its copies (`UNIT`, from `population_rows`) as one."""
    from mlops_assets.compute.intervals import MIN_CLUSTERS

    if len(np.unique(days)) >= MIN_CLUSTERS or UNIT not in rows.columns:
        return days
    return rows[UNIT].to_numpy()


def unique_rows(frame: pl.DataFrame) -> int:
    """How many observed rows `frame` holds: copies of one row (`population_rows`) count once.
    Minimum counts (segments, fairness groups) are evidence, so they count rows, not copies."""
    return frame[UNIT].n_unique() if UNIT in frame.columns else frame.height


def unique_count(condition: pl.Expr, columns: list[str]) -> pl.Expr:
    """`unique_rows` of the rows where `condition` holds, as an aggregation expression."""
    if UNIT in columns:
        return pl.col(UNIT).filter(condition).n_unique()
    return condition.sum()


def collapse_copies(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per observed row, its copies summed into `WEIGHT` (the inverse of
    `population_rows`): what weighted, cluster-robust evidence is computed on."""
    if UNIT not in frame.columns:
        return frame.with_columns(pl.lit(1.0).alias(WEIGHT))
    return frame.group_by(UNIT, maintain_order=True).agg(
        pl.all().exclude(WEIGHT).first(), pl.len().cast(pl.Float64).alias(WEIGHT)
    )


def value_difference(
    rows: pl.DataFrame,
    candidate: np.ndarray,
    champion: np.ndarray,
    threshold: float,
    value,
    units: np.ndarray,
    comparisons: int = 1,
):
    """Candidate minus champion value per application on the same rows: the bootstrap interval
    over `units` (days, or rows: `resampling_units`; `intervals.mean_difference`). Under
    selective labels (rows standing for several, `population_rows`) its lower bound goes down to
    at least that of a normal interval of the outcome and selection noise.

    The rows where the candidate approves what the champion declined are seen only through the
    control group, a few rows weighted by 1 / control share; a bootstrap of those few rows cannot
    see the defaults they happened not to include, so the candidate looks better than it is and
    the lower bound sits above the truth far more often than 2.5% (the upper bound does not miss
    more than nominal, and stays). The normal interval's variance does not depend on which
    outcomes happened to be seen: each observed row stands for its copies (Horvitz-Thompson), and
    its outcome's variance is taken from the two models' mean probability.
    """
    from mlops_assets.compute.features import LABEL
    from mlops_assets.compute.intervals import Interval, mean_difference, z_value
    from mlops_assets.compute.metrics import row_values

    y = rows[LABEL].to_numpy()
    booted = mean_difference(
        units,
        row_values(y, candidate, threshold, value),
        row_values(y, champion, threshold, value),
        comparisons=comparisons,
    )
    copies = _copies(rows)
    if copies is None:
        return booted
    # one term per observed row, weighing as many copies as it has; its difference as a
    # function of its outcome: d0 when negative, d1 when positive
    first, w = copies
    a, b = np.asarray(candidate)[first], np.asarray(champion)[first]
    d0, d1 = (
        row_values(outcome, a, threshold, value) - row_values(outcome, b, threshold, value)
        for outcome in (np.zeros(len(w)), np.ones(len(w)))
    )
    m = np.clip((a + b) / 2, 0.0, 1.0)
    mean, square = (1 - m) * d0 + m * d1, (1 - m) * d0**2 + m * d1**2
    variance = float(np.sum(w * (w * square - mean**2)))
    half = z_value(comparisons=comparisons) * np.sqrt(max(variance, 0.0)) / max(len(y), 1)
    return Interval(booted.estimate, min(booted.low, booted.estimate - half), booted.high)


def auc_difference(
    rows: pl.DataFrame,
    candidate: np.ndarray,
    champion: np.ndarray,
    units: np.ndarray,
    comparisons: int = 1,
    draws: int = 200,
):
    """AUC(candidate) - AUC(champion) on the same rows: DeLong's paired interval clustered by
    `units` (`intervals.auc_difference`). Under selective labels its lower bound goes down to at
    least that of a normal interval of the outcome noise.

    As for `value_difference`, the declined region is seen through a few control rows each
    standing for 20, and a clustered DeLong variance reads only the outcomes that happened: when
    no positive was drawn among them, both the variance and the candidate's disadvantage look
    small. The normal interval's standard deviation is that of the weighted AUC difference over
    `draws` redraws of every observed row's outcome from the two models' mean probability (the
    rows themselves are not redrawn: the selection noise is DeLong's)."""
    from mlops_assets.compute.features import LABEL
    from mlops_assets.compute.intervals import Interval, clusters_of, z_value
    from mlops_assets.compute.intervals import auc_difference as delong_difference

    y = rows[LABEL].to_numpy()
    delong = delong_difference(y, candidate, champion, clusters_of(units), comparisons=comparisons)
    copies = _copies(rows)
    if delong is None or copies is None:
        return delong
    first, w = copies
    a, b = np.asarray(candidate)[first], np.asarray(champion)[first]
    m = np.clip((a + b) / 2, 0.0, 1.0)
    rng, differences = np.random.default_rng(0), []
    for start in range(0, draws, 25):  # 25 redraws at a time: memory stays small
        outcomes = rng.random((min(25, draws - start), len(m))) < m
        differences.append(_weighted_auc(a, w, outcomes) - _weighted_auc(b, w, outcomes))
    differences = np.concatenate(differences)
    if np.isfinite(differences).sum() < 2:  # redraws with one class only: no spread to read
        return delong
    half = z_value(comparisons=comparisons) * float(np.nanstd(differences))
    return Interval(delong.estimate, min(delong.low, delong.estimate - half), delong.high)


def _copies(rows: pl.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """Each observed row's first copy and its number of copies (`population_rows`), or None
    when no row stands for more than itself (no selective labels)."""
    if UNIT not in rows.columns:
        return None
    first, count = np.unique(rows[UNIT].to_numpy(), return_index=True, return_counts=True)[1:]
    return (first, count.astype(float)) if count.max(initial=0) > 1 else None


def _weighted_auc(scores: np.ndarray, weights: np.ndarray, outcomes: np.ndarray) -> np.ndarray:
    """The weighted AUC of `scores` under each row of `outcomes` (draws x rows, booleans): each
    positive's weight times the weight of negatives scored below it, ties counting half."""
    order = np.argsort(scores, kind="stable")
    s, w, positive = scores[order], weights[order].astype(float), outcomes[:, order]
    negative_w = np.where(positive, 0.0, w)
    below = np.cumsum(negative_w, axis=1)
    _, start, count = np.unique(s, return_index=True, return_counts=True)
    group = np.repeat(np.arange(len(start)), count)
    before = np.concatenate([np.zeros((len(outcomes), 1)), below], axis=1)[:, start][:, group]
    tied = below[:, start + count - 1][:, group] - before
    positive_w = np.where(positive, w, 0.0)
    pairs = positive_w.sum(axis=1) * negative_w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (positive_w * (before + tied / 2)).sum(axis=1) / pairs
