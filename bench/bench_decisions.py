"""Error rates of the platform's automatic decisions, over many simulated trials.

Drift alarms: the lending simulator's days without drift are compared with a 28-day reference of
the same daily volume, through the drift report's own functions (`column_drift`, the domain
classifier and its size-aware threshold); a day is flagged when any column drifts or the domain
classifier's AUC clears its threshold. Detection: one numeric column shifted by 0.3 of its
standard deviation, or 10 points of one category's share moved to another. The same on real data
without drift: the 944 rows of `tests/data/anes96` shuffled, 700 as the reference and 100 as the
day (integer scales with heavy ties, text categories).

    uv run python bench/bench_decisions.py [--trials 1000] [--large-trials 200]
                                           [--volumes 100,350,2000,20000]

Prints each rate with its trial count (a fresh reference every 10 days), the rows per day, the
reference's rows, and a 95% Wilson interval of the false-alarm rate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import numpy as np
import polars as pl

from mlops_assets.compute.domain import domain_auc_threshold, domain_classifier_auc
from mlops_assets.compute.drift import alpha_per_test, column_drift, fit_reference
from mlops_assets.compute.inference import wilson
from mlops_assets.config.spec import Monitoring
from mlops_assets.sources.simulator import Scenario, applications

NUMERIC = [
    "income",
    "debt_to_income",
    "loan_amount",
    "term_months",
    "employment_years",
    "credit_score",
    "credit_history_years",
    "open_accounts",
    "delinquencies_2y",
]
CATEGORICAL = ["home_ownership", "purpose", "region", "channel", "age_band"]
REFERENCE_DAYS = 28
PER_REFERENCE = 10  # days compared with one reference
ANES = Path(__file__).parents[1] / "tests" / "data" / "anes96" / "landing"
START = dt.date(2025, 1, 1)


def day(index: int, rows: int, seed: int) -> pl.DataFrame:
    frame, _ = applications(index, START + dt.timedelta(days=index), rows, seed, Scenario())
    return frame


def shift_numeric(frame: pl.DataFrame, column: str, sd: float, by: float) -> pl.DataFrame:
    return frame.with_columns(pl.col(column) + by * sd)


def shift_category(frame: pl.DataFrame, column: str, points: float, seed: int) -> pl.DataFrame:
    """Move `points` of the rows' share from the most frequent category to the second."""
    counts = frame[column].value_counts(sort=True)
    first, second = counts[column][0], counts[column][1]
    share = counts["count"][0] / frame.height
    move = np.random.default_rng(seed).random(frame.height) < points / share
    return frame.with_columns(
        pl.when((pl.col(column) == first) & pl.Series(move))
        .then(pl.lit(second))
        .otherwise(pl.col(column))
        .alias(column)
    )


def flagged(
    reference, reference_rows, current, domain: bool, numeric=NUMERIC, categorical=CATEGORICAL
) -> tuple[bool, set[str]]:
    """Columns that drift (shape, location, new nulls, unseen categories), and the domain
    classifier at the spec's default floor, as the drift report decides."""
    table = column_drift(reference, current)
    columns = set(table.filter(pl.col("drifted"))["column"])
    if domain:
        auc = domain_classifier_auc(reference_rows, current, numeric + categorical, categorical)
        limit = domain_auc_threshold(
            reference_rows.height,
            current.height,
            alpha_per_test(reference),
            Monitoring().domain_auc,
        )
        if auc >= limit:
            columns.add("<domain classifier>")
    return bool(columns), columns


def drift_rates(volume: int, trials: int, domain: bool) -> dict:
    """A fresh 28-day reference every `PER_REFERENCE` trials (days compared with one reference
    are correlated through it)."""
    per_reference = PER_REFERENCE
    references = max(1, trials // per_reference)
    quiet = numeric_hits = category_hits = 0
    for r in range(references):
        rows = pl.concat([day(d, volume, seed=100 + r) for d in range(REFERENCE_DAYS)])
        reference = fit_reference(rows, NUMERIC, CATEGORICAL)
        sd = rows["credit_score"].drop_nulls().std()
        for t in range(per_reference):
            current = day(REFERENCE_DAYS + t, volume, seed=1000 * (r + 1) + t)
            quiet += flagged(reference, rows, current, domain)[0]
            shifted = shift_numeric(current, "credit_score", sd, 0.3)
            numeric_hits += "credit_score" in flagged(reference, rows, shifted, False)[1]
            moved = shift_category(current, "channel", 0.10, seed=t)
            category_hits += "channel" in flagged(reference, rows, moved, False)[1]
    n = references * per_reference
    return {
        "rows_per_day": volume,
        "reference_rows": rows.height,
        "trials": n,
        "references": references,
        "no_drift_days_flagged": quiet / n,
        "no_drift_interval": wilson(quiet, n),
        "mean_shift_0.3sd_detected": numeric_hits / n,
        "category_shift_10pt_detected": category_hits / n,
    }


def shuffled_real_data(trials: int) -> dict:
    rows = pl.concat([pl.read_csv(p) for p in sorted(ANES.glob("*.csv"))])
    categorical = ["party_id", "education"]
    numeric = [c for c in rows.columns if c not in (*categorical, "respondent", "vote")]
    flagged_days = 0
    for t in range(trials):
        shuffled = rows.sample(fraction=1.0, shuffle=True, seed=t)
        reference_rows, current = shuffled.head(700), shuffled.slice(700, 100)
        reference = fit_reference(reference_rows, numeric, categorical)
        flagged_days += flagged(reference, reference_rows, current, True, numeric, categorical)[0]
    return {"trials": trials, "flagged": flagged_days / trials}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000, help="days per volume (1000)")
    parser.add_argument(
        "--large-trials", type=int, default=200, help="days at 20,000+ rows a day (200)"
    )
    parser.add_argument("--volumes", default="100,350,2000,20000")
    parser.add_argument("--no-domain", action="store_true", help="skip the domain classifier")
    args = parser.parse_args()
    print("drift alarms (family alpha per day 0.01; a day is flagged by any column or the domain")
    print("classifier; detection = the shifted column itself is flagged)")
    print(
        f"{'rows/day':>9} {'reference':>10} {'trials':>7} {'no-drift flagged (95% CI)':>26} "
        f"{'0.3 SD shift found':>19} {'10-pt share found':>18} {'s':>6}"
    )
    for volume in (int(v) for v in args.volumes.split(",")):
        started = time.perf_counter()
        trials = args.large_trials if volume >= 20_000 else args.trials
        r = drift_rates(volume, trials, not args.no_domain)
        low, high = r["no_drift_interval"].low, r["no_drift_interval"].high
        print(
            f"{r['rows_per_day']:>9,} {r['reference_rows']:>10,} {r['trials']:>7} "
            f"{r['no_drift_days_flagged']:>10.1%} ({low:.1%}-{high:.1%}){'':>5} "
            f"{r['mean_shift_0.3sd_detected']:>19.1%} "
            f"{r['category_shift_10pt_detected']:>18.1%} {time.perf_counter() - started:>6.0f}",
            flush=True,
        )
    real = shuffled_real_data(args.large_trials)
    print(
        f"anes96 shuffled (no drift; reference 700 rows, day 100 rows): {real['flagged']:.1%} of "
        f"{real['trials']} days flagged"
    )


if __name__ == "__main__":
    main()
