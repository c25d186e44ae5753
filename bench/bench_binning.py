"""Benchmark: a weighted gradient-boosting fit, scikit-learn's own binning against QuantileBins.

    uv run python bench/bench_binning.py [--rows 120000] [--repeats 3]

The platform's fits are weighted (inverse-propensity weights of the control group, recency).
Given weights, scikit-learn 1.9 finds each of a numeric column's 254 bin edges in a pass of its
own; `mlops_assets.compute.binning.QuantileBins` finds them in one. Same data, same estimator
settings as the platform's default recipe (200 rounds), in this process; prints the median of
`--repeats` fits of each and the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from mlops_assets.compute.binning import QuantileBins  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=120_000, help="rows (60 days of 2,000)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.rows, 18))
    y = (rng.random(args.rows) < 1 / (1 + np.exp(2 - x[:, 0]))).astype(int)
    weights = np.where(rng.random(args.rows) < 0.05, 1 / 0.05, 1.0)  # a 5% control group

    def estimator():
        return HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.05, max_leaf_nodes=15, early_stopping=False
        )

    def fit(binned: bool) -> float:
        started = time.perf_counter()
        if binned:
            make_pipeline(QuantileBins(), estimator()).fit(
                x, y, histgradientboostingclassifier__sample_weight=weights
            )
        else:
            estimator().fit(x, y, sample_weight=weights)
        return time.perf_counter() - started

    own = statistics.median(fit(False) for _ in range(args.repeats))
    ours = statistics.median(fit(True) for _ in range(args.repeats))
    print(f"weighted fit of {args.rows:,} rows x 18 columns, median of {args.repeats}:")
    print(f"  scikit-learn's binning  {own:6.2f} s")
    print(f"  QuantileBins            {ours:6.2f} s   ({own / ours:.1f}x faster)")


if __name__ == "__main__":
    main()
