"""Benchmark: the performance signal as a sequential test (no Dagster): detection delay under
concept drift, false alarms without drift, and the average run length (ARL) between them.

    uv run python bench/bench_monitoring.py                 # all three parts, default sizes
    uv run python bench/bench_monitoring.py --part delay --seeds 5
    uv run python bench/bench_monitoring.py --part quiet --quiet-days 1000
    uv run python bench/bench_monitoring.py --part arl --runs 200 --arl-days 3000

delay, quiet: the simulator's applications (its day effects included), a champion fitted with the
platform's recipe on days 0-27 (every outcome known: the legacy policy approved everyone), which
decides from day 28 with the break-even threshold and a 5% control group. Outcomes land
`delay_days` (7) later, for approved and control rows only; each outcome day feeds the
performance asset's statistics (`compute.sequential`: the calibration CUSUM over the champion's
outcome days, the AUC rule on the trailing 7 outcome days) and the sensor's rule
(`performance_signal`) is read every day.
- delay: concept drift from day 40 at `--rows` (1,000) a day: days from onset to the first
  signal, per seed and the median.
- quiet: no drift for `--quiet-days` decided days per seed: signals (each would request a retrain).
arl: synthetic calibrated scores (logit ~ N(-2.6, 0.9)), the same observation policy, a day
effect of sd 0.1 on the log-odds; the alarm rate per day (Wilson interval) and the ARL, at
150 and 1,000 rows a day, for the CUSUM and for the AUC rule.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from scipy.special import expit  # noqa: E402

from mlops_assets.compute.features import LABEL, build_features, feature_columns  # noqa: E402
from mlops_assets.compute.fitting import fit_model
from mlops_assets.compute.ingest import DAY  # noqa: E402
from mlops_assets.compute.intervals import wilson  # noqa: E402
from mlops_assets.compute.metrics import break_even_threshold  # noqa: E402
from mlops_assets.compute.monitoring import estimated_performance  # noqa: E402
from mlops_assets.compute.profile import fit_profile  # noqa: E402
from mlops_assets.compute.sequential import auc_shortfall, calibration_cusum, day_sums  # noqa: E402
from mlops_assets.compute.training import Recipe, model_matrix
from mlops_assets.config.settings import Settings  # noqa: E402
from mlops_assets.config.spec import load_spec  # noqa: E402
from mlops_assets.defs.signals import performance_signal  # noqa: E402
from mlops_assets.sources.simulator import Scenario, labelled_truth  # noqa: E402

START = dt.date(2025, 1, 1)
TRAIN, FIRST_DECIDED, DRIFT_DAY = range(0, 28), 28, 40


def simulated(day: int, rows: int, seed: int, scenario: Scenario) -> pl.DataFrame:
    apps, truth = labelled_truth(day, START + dt.timedelta(days=day), rows, seed, scenario)
    return apps.join(truth, on="application_id").with_columns(
        pl.lit(START + dt.timedelta(days=day)).alias(DAY)
    )


class Monitor:
    """The performance asset's statistics and the sensor's rule, one outcome day at a time."""

    def __init__(self, spec):
        self.spec, self.days, self.pool = spec, [], []

    def outcome_day(self, y: np.ndarray, p: np.ndarray) -> str | None:
        m = self.spec.monitoring
        self.days.append(day_sums(y, p, m.calibration_ratio))
        self.pool = [*self.pool, (y, p)][-m.trailing_days :]
        ys, ps = (np.concatenate(v) for v in zip(*self.pool, strict=True))
        expected = estimated_performance(ps, 0.5, self.spec)["expected_roc_auc"]
        meta = {
            "calibration_cusum": calibration_cusum(
                self.days, m.cusum_arl_days, m.day_effect_sd
            ).as_dict(),
            "trailing_auc_test": auc_shortfall(ys, ps, expected, m.auc_drop),
        }
        return performance_signal(meta, m)


def champion_run(spec, rows: int, seed: int, scenario: Scenario, decided_days: int) -> list:
    """(outcome day, reason) of every signal over the decided days, without retraining."""
    train = pl.concat([simulated(d, rows, seed, scenario) for d in TRAIN])
    schema = {c: ("str" if t == pl.String else "num") for c, t in train.schema.items()}
    columns = feature_columns(spec, schema)
    profile = fit_profile(train, list(columns.numeric), list(columns.categorical))

    def features(frame):
        return build_features(frame, profile, columns, spec).with_columns(
            pl.Series(LABEL, frame["defaulted"].to_numpy())
        )

    train = features(train)
    model, _ = fit_model(train, columns, Recipe())
    threshold = break_even_threshold(spec.value)
    share = spec.serving.control_share
    monitor, signals = Monitor(spec), []
    delay = spec.target.delay_days
    for decided in range(FIRST_DECIDED, FIRST_DECIDED + decided_days):
        frame = simulated(decided, rows, seed, scenario)
        p = model.predict_proba(model_matrix(features(frame), columns))[:, 1]
        rng = np.random.default_rng([seed, decided, 9])
        observed = (p < threshold) | (rng.random(len(p)) < share)
        reason = monitor.outcome_day(frame["defaulted"].to_numpy()[observed], p[observed])
        if reason:
            signals.append((decided + delay, reason))
            monitor = Monitor(spec)  # a retrain would follow: count the next run afresh
    return signals


def part_delay(spec, args) -> None:
    print(f"concept drift from day {DRIFT_DAY}, {args.rows} rows/day, label delay 7 days")
    delays = []
    for seed in range(1, args.seeds + 1):
        signals = champion_run(spec, args.rows, seed, Scenario("concept_drift", DRIFT_DAY), 30)
        after = [(d, r) for d, r in signals if d >= DRIFT_DAY]
        before = len(signals) - len(after)
        delay = after[0][0] - DRIFT_DAY if after else None
        delays.append(delay if delay is not None else float("inf"))
        first = after[0][1] if after else "no signal"
        print(f"  seed {seed}: delay {delay} days, signals before onset {before}; {first}")
    print(f"median detection delay over {len(delays)} seeds: {statistics.median(delays)} days")


def part_quiet(spec, args) -> None:
    total, alarms = 0, []
    for seed in range(1, args.quiet_seeds + 1):
        started = time.perf_counter()
        signals = champion_run(spec, args.rows, seed, Scenario("none"), args.quiet_days)
        total += args.quiet_days
        alarms += signals
        print(
            f"  seed {seed}: {args.quiet_days} no-drift days, {len(signals)} signals "
            f"({time.perf_counter() - started:.0f} s) {signals[:3]}",
            flush=True,
        )
    rate = wilson(len(alarms), total)
    print(
        f"no drift, {args.rows} rows/day: {len(alarms)} signals (retrain requests) over {total} "
        f"days; rate per day {rate.estimate:.5f} [95% Wilson {rate.low:.5f}, {rate.high:.5f}]"
    )


def part_arl(spec, args) -> None:
    """Synthetic calibrated scores with a day effect: alarms per day of the CUSUM (run length:
    days to the first alarm, restarted after it) and of the AUC rule."""
    m = spec.monitoring
    threshold, share = break_even_threshold(spec.value), spec.serving.control_share
    for rows in (150, 1000):
        rng = np.random.default_rng(rows)
        cusum_alarms = auc_alarms = auc_days = 0
        started = time.perf_counter()
        for _ in range(args.runs):
            cusum, pool = None, []
            for day in range(args.arl_days):
                z = rng.normal(-2.6, 0.9, rows)
                p = expit(z)
                observed = (p < threshold) | (rng.random(rows) < share)
                y = rng.random(rows) < expit(z + rng.normal(0, 0.1))
                y, p = y[observed], p[observed]
                today = [day_sums(y, p, m.calibration_ratio)]
                cusum = calibration_cusum(today, m.cusum_arl_days, m.day_effect_sd, cusum)
                if cusum.alarm:
                    cusum_alarms += 1
                    cusum = None
                if day % 7 == 0 and day < args.auc_days:  # weekly: non-overlapping windows
                    if pool:
                        ys, ps = (np.concatenate(v) for v in zip(*pool, strict=True))
                        expected = estimated_performance(ps, 0.5, spec)["expected_roc_auc"]
                        auc_alarms += auc_shortfall(ys, ps, expected, m.auc_drop)["fires"]
                        auc_days += 1
                    pool = []
                pool.append((y, p))
        total = args.runs * args.arl_days
        rate = wilson(cusum_alarms, total)
        arl = total / cusum_alarms if cusum_alarms else float("inf")
        print(
            f"{rows} rows/day, day effect sd 0.1: CUSUM {cusum_alarms} alarms in {total} days "
            f"({args.runs} runs); rate per day {rate.estimate:.6f} [95% Wilson {rate.low:.6f}, "
            f"{rate.high:.6f}]: ARL {arl:.0f} days (>= {1 / rate.high:.0f} at 95%; stated "
            f"{m.cusum_arl_days:g}) ({time.perf_counter() - started:.0f} s)"
        )
        auc = wilson(auc_alarms, auc_days)
        print(
            f"  AUC rule on 7-day pools: {auc_alarms} of {auc_days} windows fire "
            f"({auc.estimate:.5f} [95% Wilson {auc.low:.5f}, {auc.high:.5f}])",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("delay", "quiet", "arl", "all"), default="all")
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quiet-days", type=int, default=1000)
    parser.add_argument("--quiet-seeds", type=int, default=1)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--arl-days", type=int, default=2000)
    parser.add_argument("--auc-days", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        spec = load_spec(Settings.resolve(home=Path(tmp)).dataset_spec, home=Path(tmp))
    m = spec.monitoring
    print(
        f"calibration CUSUM: odds x{m.calibration_ratio} either way, stated ARL "
        f"{m.cusum_arl_days:g} days, day effect sd {m.day_effect_sd}; AUC rule: 99% interval "
        f"below expected - {m.auc_drop}"
    )
    for part in ("delay", "quiet", "arl"):
        if args.part in (part, "all"):
            print(f"\n== {part}", flush=True)
            globals()[f"part_{part}"](spec, args)


if __name__ == "__main__":
    main()
