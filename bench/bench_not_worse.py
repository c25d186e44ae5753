"""Benchmark: the retrain rule (`promote_if: not_worse`) against the deployed champion, over
many simulated trials under selective labels.

    uv run python bench/bench_not_worse.py [--trials 200]

The deployed champion is `bench_gates.py`'s full model; it decides fresh days with the 5% control
group, and only approved rows are observed, weighted back to the population. On those rows a
retrain candidate with newer training data is judged by `compute.gates.non_inferior` (AUC
non-inferiority with the value not worse, or the value better with the AUC not worse):
- "0.01 worse": the weaker recipe whose true AUC is 0.01 below the champion's (`bench_gates`):
  promoting it is the error the rule bounds (at most 2.5% per route);
- "equal": the same recipe trained on another sample: promoting it is right (fresher data).
Comparison windows as the platform has them at 1,000 applications a day: 6 days (a
signal-driven retrain: `retrain_folds` x `retrain_fold_days`), and 7, 14 and 21 days (a weekly
retrain two, three and four weeks after the champion's window: one, two and three of its 7-day
folds trained on data at least as new, `compute.backtest.comparable_folds`). Prints each rate
with a 95% Wilson interval.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import bench_gates  # noqa: E402  (bench/ is on the path when run as a script)

from mlops_assets.compute.features import LABEL, FeatureColumns  # noqa: E402
from mlops_assets.compute.intervals import auc_interval  # noqa: E402
from mlops_assets.compute.metrics import decision_threshold, row_values  # noqa: E402
from mlops_assets.config.settings import BUILTIN_SPEC  # noqa: E402
from mlops_assets.config.spec import load_spec  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    args = parser.parse_args()
    started = time.perf_counter()
    spec = load_spec(BUILTIN_SPEC, home="/tmp/unused")  # its paths are never read here
    columns = FeatureColumns(bench_gates.NUMERIC, bench_gates.CATEGORICAL, ("age_band",))
    first = bench_gates.labelled_days(0, 28, seed=1)
    champion = bench_gates.scorer(first, columns)
    equal = bench_gates.scorer(bench_gates.labelled_days(0, 28, seed=2), columns)
    weak = bench_gates.scorer(first, columns, {"max_iter": 40})
    holdout = bench_gates.labelled_days(500, 100, seed=3)
    y = holdout[LABEL].to_numpy()
    auc = {
        name: auc_interval(y, model(holdout)).estimate
        for name, model in (("champion", champion), ("equal", equal), ("weak", weak))
    }
    threshold = decision_threshold(spec)["threshold"]
    p = holdout["true_default_probability"].to_numpy()
    value = {
        name: float(row_values(p, model(holdout), threshold, spec.value).mean())
        for name, model in (("champion", champion), ("equal", equal), ("weak", weak))
    }
    for name, label in (("equal", "equal"), ("weak", "0.01 worse")):
        print(
            f"{label} minus the champion, true: AUC {auc[name] - auc['champion']:+.4f}, value "
            f"{value[name] - value['champion']:+.3f} per application"
        )
    print(f"\nnot_worse against the deployed champion, {args.trials} trials each")
    print(f"{'days x rows':>12} {'0.01 worse promoted (95% CI)':>30} {'equal promoted':>24}")
    for days in (6, 7, 14, 21):
        worse = same = 0
        for t in range(args.trials):
            rows = bench_gates.labelled_days(
                2000 + 30 * t, days, seed=20_000 + 100 * days + t, rows=1000
            )
            seen = bench_gates.selective(rows, champion, spec, t)
            worse += bench_gates.promoted(seen, weak, champion, spec, "not_worse")
            same += bench_gates.promoted(seen, equal, champion, spec, "not_worse")
        print(
            f"{f'{days} x 1,000':>12} {bench_gates.rate(worse, args.trials):>30} "
            f"{bench_gates.rate(same, args.trials):>24}",
            flush=True,
        )
    print(f"\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
