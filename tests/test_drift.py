"""Drift statistics: against scipy on the same data, and on synthetic shifts of known columns."""

import numpy as np
import polars as pl
import pytest
from scipy import stats

from mlops_assets.compute.drift import (
    chi_square,
    column_drift,
    domain_classifier_auc,
    fit_reference,
    jensen_shannon,
    ks_statistic,
    wasserstein,
)

rng = np.random.default_rng(3)


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.5])
def test_ks_and_wasserstein_equal_scipy(shift):
    a = rng.normal(size=5000)
    b = np.round(rng.normal(shift, 1.2, size=3000), 2)  # ties included
    ks = ks_statistic(np.sort(a), np.sort(b))
    assert ks == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-9)
    assert wasserstein(np.sort(a), np.sort(b)) == pytest.approx(
        stats.wasserstein_distance(a, b), abs=1e-9
    )


def test_chi_square_and_cramers_v_equal_scipy_and_js_matches_scipy():
    expected = np.array([500, 300, 150, 50], dtype=float)
    observed = np.array([420, 330, 190, 60], dtype=float)
    chi2, v = chi_square(expected, observed)
    reference = stats.chi2_contingency(np.vstack([expected, observed]), correction=False)
    assert chi2 == pytest.approx(reference.statistic, abs=1e-9)
    assert v == pytest.approx(np.sqrt(reference.statistic / (expected.sum() + observed.sum())))
    from scipy.spatial.distance import jensenshannon

    assert jensen_shannon(expected, observed) == pytest.approx(
        jensenshannon(expected / expected.sum(), observed / observed.sum(), base=2), abs=1e-9
    )


def synthetic(n: int, shifted: set[str], seed: int) -> pl.DataFrame:
    """20 numeric and 5 categorical columns; `shifted` ones move by a known amount."""
    r = np.random.default_rng(seed)
    data = {}
    for i in range(20):
        name = f"x{i}"
        values = r.normal(10 + i, 1 + i / 10, size=n)
        if name in shifted:
            values = values + 0.5 * (1 + i / 10)  # half a standard deviation
        data[name] = np.where(r.random(n) < 0.02, np.nan, values)
    for i in range(5):
        name = f"c{i}"
        shares = np.array([0.4, 0.3, 0.2, 0.1])
        if name in shifted:
            shares = np.array([0.2, 0.3, 0.2, 0.3])
        data[name] = r.choice(["a", "b", "c", "d"], size=n, p=shares)
    return pl.DataFrame(data).with_columns(pl.col(f"x{i}").fill_nan(None) for i in range(20))


@pytest.mark.parametrize("n", [20_000, 300_000])  # exact and quantile-sketch paths
def test_a_known_shift_in_three_of_25_columns_flags_exactly_those_three(n):
    shifted = {"x3", "x11", "c2"}
    reference = synthetic(n, set(), seed=1)
    current = synthetic(n, shifted, seed=2)
    numeric = [f"x{i}" for i in range(20)]
    categorical = [f"c{i}" for i in range(5)]
    table = column_drift(fit_reference(reference, numeric, categorical), current)
    assert set(table.filter(pl.col("drifted"))["column"]) == shifted
    x3 = table.row(by_predicate=pl.col("column") == "x3", named=True)
    assert x3["ks"] == pytest.approx(
        stats.ks_2samp(reference["x3"].drop_nulls(), current["x3"].drop_nulls()).statistic,
        abs=1e-9 if n <= 200_000 else 2e-3,
    )
    assert x3["severity"] in ("moderate", "major")
    unshifted = synthetic(n, set(), seed=3)
    quiet = column_drift(fit_reference(reference, numeric, categorical), unshifted)
    assert not quiet["drifted"].any()


def test_the_domain_classifier_sees_multivariate_drift_and_not_its_absence():
    numeric = [f"x{i}" for i in range(20)]
    categorical = [f"c{i}" for i in range(5)]
    reference = synthetic(8000, set(), seed=1)
    same = domain_classifier_auc(
        reference, synthetic(8000, set(), 2), numeric + categorical, categorical
    )
    moved = domain_classifier_auc(
        reference, synthetic(8000, {"x3", "x11", "c2"}, 2), numeric + categorical, categorical
    )
    assert 0.45 < same < 0.55 and moved > 0.6
