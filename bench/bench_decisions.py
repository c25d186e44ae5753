"""Error rates of the platform's automatic decisions, over many simulated trials.

Drift alarms: the lending simulator's days without drift (its day effects on: every day draws its
own base rate and applicant mix) are compared with a 28-day reference of the same daily volume,
through the drift report's own functions (`column_drift`, the domain classifier and its
size-aware threshold); a day is flagged when any column drifts or the domain classifier's AUC
clears its threshold. Two views: the daily report (one day), and the retrain signal's pooled
window (the `monitoring.drift_pool_days` 3 days ending on the day, tested as one sample whose null
allows for the reference's own day-to-day variation). Detection: one numeric column shifted by 0.3
of its standard deviation, or 10 points of one category's share moved to another, on every day of
the window. The same on real data without drift: the 944 rows of `tests/data/anes96` shuffled,
700 as the reference and 100 as the day (integer scales with heavy ties, text categories).

    uv run python bench/bench_decisions.py [--windows 300] [--large-windows 300]
                                           [--volumes 100,350,2000,20000] [--day-effect 1]

Prints each rate with its trial count (a fresh reference every 10 windows of 3 new days; the
daily view is the windows' first days), the rows per day, the reference's rows, and a 95% Wilson
interval of the false-alarm rates.

Recorded in the README (Benchmarks: "the drift alarms' error rates"): the full run, 300 windows
per volume.
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
from mlops_assets.compute.intervals import wilson
from mlops_assets.config.spec import Monitoring
from mlops_assets.sources.simulator import Scenario, applications

DAY_EFFECT = 1.0  # the simulator's default; --day-effect sets it

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
    """One simulated day, with its `_day` as ingestion writes it."""
    date = START + dt.timedelta(days=index)
    frame, _ = applications(index, date, rows, seed, Scenario(day_effect=DAY_EFFECT))
    return frame.with_columns(pl.lit(date).alias("_day"))


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
    reference,
    reference_rows,
    current,
    domain: bool,
    numeric=NUMERIC,
    categorical=CATEGORICAL,
    days: int = 1,
) -> tuple[bool, set[str]]:
    """Columns that drift (shape, location, new nulls, unseen categories), and the domain
    classifier at the spec's default floor, as the drift report decides (`days`: how many days
    `current` pools)."""
    table = column_drift(reference, current, days=days)
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


def drift_rates(volume: int, windows: int, domain: bool, pool: int) -> dict:
    """A fresh 28-day reference every `PER_REFERENCE` windows of `pool` new days (windows
    compared with one reference are correlated through it); the daily view is each window's
    first day."""
    references = max(1, windows // PER_REFERENCE)
    counts = dict.fromkeys(
        ("quiet_day", "numeric_day", "category_day", "quiet", "numeric", "category"), 0
    )
    for r in range(references):
        rows = pl.concat([day(d, volume, seed=100 + r) for d in range(REFERENCE_DAYS)])
        reference = fit_reference(rows, NUMERIC, CATEGORICAL)
        sd = rows["credit_score"].drop_nulls().std()
        for t in range(PER_REFERENCE):
            first = REFERENCE_DAYS + t * pool
            days = [day(first + k, volume, seed=1000 * (r + 1)) for k in range(pool)]
            for current, n, suffix in ((days[0], 1, "_day"), (pl.concat(days), pool, "")):
                counts["quiet" + suffix] += flagged(reference, rows, current, domain, days=n)[0]
                shifted = shift_numeric(current, "credit_score", sd, 0.3)
                found = flagged(reference, rows, shifted, False, days=n)[1]
                counts["numeric" + suffix] += "credit_score" in found
                moved = shift_category(current, "channel", 0.10, seed=t)
                found = flagged(reference, rows, moved, False, days=n)[1]
                counts["category" + suffix] += "channel" in found
    n = references * PER_REFERENCE
    return {
        "rows_per_day": volume,
        "reference_rows": rows.height,
        "trials": n,
        **{key: value / n for key, value in counts.items()},
        "quiet_day_interval": wilson(counts["quiet_day"], n),
        "quiet_interval": wilson(counts["quiet"], n),
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
    global DAY_EFFECT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=300, help="windows per volume (300)")
    parser.add_argument(
        "--large-windows", type=int, default=300, help="windows at 20,000+ rows a day (300)"
    )
    parser.add_argument("--volumes", default="100,350,2000,20000")
    parser.add_argument("--pool", type=int, default=Monitoring().drift_pool_days)
    parser.add_argument("--day-effect", type=float, default=DAY_EFFECT)
    parser.add_argument("--no-domain", action="store_true", help="skip the domain classifier")
    args = parser.parse_args()
    DAY_EFFECT = args.day_effect
    print(f"drift alarms, simulator day effect {DAY_EFFECT:g} (family alpha 0.01; flagged by any")
    print("column or the domain classifier; found = the shifted column itself is flagged)")
    print(f"daily report (1 day) | retrain signal (pooled window of {args.pool} days)")
    print(
        f"{'rows/day':>9} {'reference':>10} {'trials':>7} | {'no-drift flagged (95% CI)':>25} "
        f"{'0.3SD':>6} {'10pt':>6} | {'no-drift flagged (95% CI)':>25} {'0.3SD':>6} {'10pt':>6} "
        f"{'s':>5}"
    )
    for volume in (int(v) for v in args.volumes.split(",")):
        started = time.perf_counter()
        windows = args.large_windows if volume >= 20_000 else args.windows
        r = drift_rates(volume, windows, not args.no_domain, args.pool)
        views = []
        for suffix in ("_day", ""):
            i = r[f"quiet{suffix}_interval"]
            views.append(
                f"{r['quiet' + suffix]:>9.1%} ({i.low:.1%}-{i.high:.1%}){'':>4} "
                f"{r['numeric' + suffix]:>6.1%} {r['category' + suffix]:>6.1%}"
            )
        print(
            f"{r['rows_per_day']:>9,} {r['reference_rows']:>10,} {r['trials']:>7} | "
            f"{views[0]} | {views[1]} {time.perf_counter() - started:>5.0f}",
            flush=True,
        )
    real = shuffled_real_data(200)
    print(
        f"anes96 shuffled (no drift; reference 700 rows, day 100 rows): {real['flagged']:.1%} of "
        f"{real['trials']} days flagged"
    )


if __name__ == "__main__":
    main()
