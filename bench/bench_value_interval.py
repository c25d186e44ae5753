"""Benchmark: does the paired value-difference interval cover the truth under selective labels?

    uv run python bench/bench_value_interval.py [--trials 200] [--all-outcomes]

The two models of `bench_gates.py` ("equal": the platform's recipe trained on two samples of 28
days of 2,000 applications) are compared on fresh days (1, 3 or 7 of 2,000 rows), decided by the
deployed one with the 5% control group, approved rows observed and weighted back to the
population, the roles alternating between trials. Their true value difference per application
is computed once, in expectation under the true default probabilities of 200,000 held-out rows.
Prints how often each interval's lower bound lies above the truth (the candidate looks better
than it is) and its upper bound below it (nominal 2.5% each), and the median width: the
bootstrap of the observed rows alone (`intervals.mean_difference`), and the platform's
(`selective.value_difference`); and the same for the paired AUC difference: DeLong's clustered
interval alone (`intervals.auc_difference`) and the platform's (`selective.auc_difference`),
against the true AUC difference. `--all-outcomes`: every row observed, for comparison.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import bench_gates  # noqa: E402  (bench/ is on the path when run as a script)
import numpy as np  # noqa: E402

from mlops_assets.compute.features import LABEL, FeatureColumns  # noqa: E402
from mlops_assets.compute.ingest import DAY  # noqa: E402
from mlops_assets.compute.intervals import (  # noqa: E402
    auc_difference,
    auc_interval,
    clusters_of,
    mean_difference,
)
from mlops_assets.compute.metrics import decision_threshold, row_values  # noqa: E402
from mlops_assets.compute.selective import (  # noqa: E402
    auc_difference as platform_auc_difference,
)
from mlops_assets.compute.selective import resampling_units, value_difference  # noqa: E402
from mlops_assets.config.settings import BUILTIN_SPEC  # noqa: E402
from mlops_assets.config.spec import load_spec  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--all-outcomes", action="store_true", help="no selective labels")
    args = parser.parse_args()
    spec = load_spec(BUILTIN_SPEC, home="/tmp/unused")  # its paths are never read here
    columns = FeatureColumns(bench_gates.NUMERIC, bench_gates.CATEGORICAL, ("age_band",))
    first = bench_gates.scorer(bench_gates.labelled_days(0, 28, seed=1), columns)
    second = bench_gates.scorer(bench_gates.labelled_days(0, 28, seed=2), columns)
    holdout = bench_gates.labelled_days(500, 100, seed=3)
    threshold, v = decision_threshold(spec)["threshold"], spec.value
    p = holdout["true_default_probability"].to_numpy()
    truth = float(
        row_values(p, first(holdout), threshold, v).mean()
        - row_values(p, second(holdout), threshold, v).mean()
    )
    held = holdout[LABEL].to_numpy()
    auc_truth = (
        auc_interval(held, first(holdout)).estimate - auc_interval(held, second(holdout)).estimate
    )
    print(
        f"true differences first - second: value {truth:+.4f} per application, AUC {auc_truth:+.4f}"
    )
    print(f"{'days':>5} {'interval':>16} {'low > truth':>12} {'high < truth':>13} {'width':>7}")
    for days in (1, 3, 7):
        names = ("value: bootstrap", "value: platform", "AUC: DeLong", "AUC: platform")
        misses = {name: [0, 0, []] for name in names}
        for t in range(args.trials):
            rows = bench_gates.labelled_days(1000 + 30 * t, days, seed=10_000 + 100 * days + t)
            candidate, champion, sign = (second, first, -1) if t % 2 == 0 else (first, second, 1)
            if not args.all_outcomes:
                rows = bench_gates.selective(rows, champion, spec, t)
            cand, champ = candidate(rows), champion(rows)
            units, y = resampling_units(rows, rows[DAY].to_numpy()), rows[LABEL].to_numpy()
            intervals = {
                "value: bootstrap": mean_difference(
                    units, row_values(y, cand, threshold, v), row_values(y, champ, threshold, v)
                ),
                "value: platform": value_difference(rows, cand, champ, threshold, v, units),
                "AUC: DeLong": auc_difference(y, cand, champ, clusters_of(units)),
                "AUC: platform": platform_auc_difference(rows, cand, champ, units),
            }
            for name, i in intervals.items():
                true = sign * (auc_truth if name.startswith("AUC") else truth)
                misses[name][0] += i.low > true
                misses[name][1] += i.high < true
                misses[name][2].append(i.high - i.low)
        for name, (low, high, widths) in misses.items():
            print(
                f"{days:>5} {name:>16} {low / args.trials:>12.1%} {high / args.trials:>13.1%} "
                f"{np.median(widths):>7.4g}",
                flush=True,
            )


if __name__ == "__main__":
    main()
