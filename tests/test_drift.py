"""Drift statistics: against scipy on the same data, and on synthetic shifts of known columns."""

import dataclasses
import io
import json

import numpy as np
import polars as pl
import pytest
from scipy import stats

from mlops_assets.compute import drift, frames
from mlops_assets.compute.day_variance import moment_se
from mlops_assets.compute.domain import domain_auc_threshold, domain_classifier_auc
from mlops_assets.compute.drift import Thresholds, column_drift, fit_reference
from mlops_assets.compute.reference_store import load_reference, reference_bytes
from mlops_assets.compute.two_sample import (
    jensen_shannon,
    ks_statistic,
    rank_test,
    rao_scott,
    scale_df,
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


def test_the_shape_and_location_tests_equal_scipy_and_js_matches_scipy():
    expected = np.array([500, 300, 150, 50], dtype=float)
    observed = np.array([420, 330, 190, 60], dtype=float)
    reference = pl.DataFrame({"c": np.repeat(list("abcd"), expected.astype(int))})
    current = pl.DataFrame({"c": np.repeat(list("abcd"), observed.astype(int))})
    row = column_drift(fit_reference(reference, [], ["c"]), current).row(0, named=True)
    scipy_test = stats.chi2_contingency(np.vstack([expected, observed]), correction=False)
    assert row["p_shape"] == pytest.approx(scipy_test.pvalue, rel=1e-9)
    from scipy.spatial.distance import jensenshannon

    assert jensen_shannon(np.r_[expected, 0], np.r_[observed, 0]) == pytest.approx(
        jensenshannon(expected / expected.sum(), observed / observed.sum(), base=2), abs=1e-9
    )
    a, b = rng.normal(size=4000), rng.normal(0.1, 1, size=700)
    summary = fit_reference(pl.DataFrame({"x": a}), ["x"], []).numeric["x"]
    effect, p = rank_test(summary, np.sort(b))
    u = stats.mannwhitneyu(b, a, method="asymptotic", use_continuity=False)
    assert effect == pytest.approx(u.statistic / (len(a) * len(b)) - 0.5, abs=1e-12)
    assert p == pytest.approx(u.pvalue, rel=1e-6)


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


@pytest.mark.parametrize("exact_max", [drift.EXACT_MAX, 1000])  # exact and sketch paths
def test_a_streamed_parquet_day_gives_the_in_memory_report(tmp_path, monkeypatch, exact_max):
    monkeypatch.setattr(drift, "EXACT_MAX", exact_max)
    numeric = [f"x{i}" for i in range(20)]
    categorical = [f"c{i}" for i in range(5)]
    reference = synthetic(3000, set(), seed=1)
    current = synthetic(2500, {"x3", "x11", "c2"}, seed=2)
    reference.write_parquet(tmp_path / "reference.parquet")
    current.write_parquet(tmp_path / "current.parquet")
    lazy_reference = pl.scan_parquet(tmp_path / "reference.parquet")
    lazy_current = pl.scan_parquet(tmp_path / "current.parquet")
    in_memory = column_drift(fit_reference(reference, numeric, categorical), current)
    summary = fit_reference(lazy_reference, numeric, categorical)
    assert summary.numeric["x3"].sketched == (exact_max == 1000)
    streamed = column_drift(summary, lazy_current)
    assert streamed.equals(in_memory)
    columns = numeric + categorical
    assert domain_classifier_auc(
        lazy_reference, lazy_current, columns, categorical
    ) == domain_classifier_auc(reference, current, columns, categorical)


def test_a_lazy_sample_is_distinct_rows_of_the_frame(tmp_path):
    frame = pl.DataFrame({"i": np.arange(10_000), "x": rng.normal(size=10_000)})
    frame.write_parquet(tmp_path / "day.parquet")
    rows = frames.sample(pl.scan_parquet(tmp_path / "day.parquet"), 300, seed=4)
    assert rows.height == 300 and rows["i"].n_unique() == 300
    joined = rows.join(frame, on="i", maintain_order="left")
    assert joined["x"].equals(joined["x_right"])  # whole rows, not columns drawn apart


def lending_like(n: int, seed: int, channel=(0.3, 0.45, 0.15, 0.1), nulls=0.0) -> pl.DataFrame:
    r = np.random.default_rng(seed)
    score = r.normal(680, 60, n)
    return pl.DataFrame(
        {
            "score": np.where(r.random(n) < nulls, np.nan, score),
            "channel": r.choice(["web", "partner", "branch", "phone"], size=n, p=channel),
        }
    ).with_columns(pl.col("score").fill_nan(None))


def test_the_categorical_effect_does_not_depend_on_the_reference_size():
    shifted = lending_like(2000, 9, channel=(0.15, 0.7, 0.1, 0.05))
    effects = []
    for rows in (2_000, 84_000):
        reference = fit_reference(lending_like(rows, 1), ["score"], ["channel"])
        effects.append(column_drift(reference, shifted).row(1, named=True)["w"])
    assert effects[0] == pytest.approx(effects[1], abs=0.03)
    assert min(effects) > Thresholds().major_w  # the simulator's channel shift is major


def test_new_nulls_and_unseen_categories_are_named_signals_not_major_drift():
    reference = fit_reference(lending_like(20_000, 1), ["score"], ["channel"])
    current = lending_like(2_000, 2, nulls=0.05).with_columns(
        pl.when(pl.int_range(pl.len()) < 60)
        .then(pl.lit("kiosk"))
        .otherwise("channel")
        .alias("channel")
    )
    table = {r["column"]: r for r in column_drift(reference, current).iter_rows(named=True)}
    assert table["score"]["new_nulls"] and table["score"]["severity"] == "moderate"
    assert table["score"]["psi"] < 0.01  # 5% new nulls no longer read as PSI 0.54
    assert table["channel"]["unseen_categories"] and not table["channel"]["new_nulls"]
    assert table["channel"]["unseen_share"] == pytest.approx(0.03)


def test_the_domain_classifier_threshold_rises_on_small_days():
    alpha = 0.01 / 40
    small, large = (
        domain_auc_threshold(2_800, 100, alpha),
        domain_auc_threshold(56_000, 2_000, alpha),
    )
    assert small > large >= Thresholds().domain_auc
    assert domain_auc_threshold(56_000, 2_000, alpha, floor=0.5) < 0.6


def test_effects_stay_small_without_drift_on_small_days():
    r = np.random.default_rng(5)
    shares = np.r_[0.3, 0.2, 0.1, np.full(17, 0.4 / 17)]
    categories = [f"k{i}" for i in range(20)]

    def day(n):
        return pl.DataFrame({"x": r.normal(size=n), "c": r.choice(categories, size=n, p=shares)})

    reference = fit_reference(day(56_000), ["x"], ["c"])
    tables = [column_drift(reference, day(100)) for _ in range(50)]
    w = np.array([t.filter(pl.col("column") == "c")["w"][0] for t in tables])
    assert w.mean() < 0.15  # the plug-in w alone averages ~0.4 here
    assert not any((t["severity"] == "major").any() for t in tables)


def test_degenerate_days_give_no_error_and_no_false_drift():
    reference_rows = pl.DataFrame(
        {"x": rng.normal(size=3000), "k": np.full(3000, 7.0), "c": ["a"] * 3000}
    )
    reference = fit_reference(reference_rows, ["x", "k"], ["c"])
    empty = reference_rows.head(0)
    assert not column_drift(reference, empty)["drifted"].any()
    all_null = reference_rows.head(200).with_columns(pl.lit(None, dtype=pl.Float64).alias("x"))
    table = {r["column"]: r for r in column_drift(reference, all_null).iter_rows(named=True)}
    assert table["x"]["new_nulls"] and table["x"]["ks"] == 0.0  # named, and no NaN
    assert not table["k"]["drifted"] and not table["c"]["drifted"]  # constant, one category
    few = reference_rows.head(5)
    assert domain_classifier_auc(reference_rows, few, ["x", "k", "c"], ["c"]) == 0.5


def test_the_rank_test_corrects_for_ties_as_scipy_does():
    a = np.where(rng.random(5000) < 0.7, 36.0, 60.0)
    b = np.where(rng.random(700) < 0.65, 36.0, 60.0)
    summary = fit_reference(pl.DataFrame({"x": a}), ["x"], []).numeric["x"]
    _, p = rank_test(summary, np.sort(b))
    scipy_p = stats.mannwhitneyu(b, a, method="asymptotic", use_continuity=False).pvalue
    assert p == pytest.approx(scipy_p, rel=1e-6)


def days_with_day_effects(days: int, rows: int, seed: int, first: int = 0) -> list[pl.DataFrame]:
    """Days whose numeric mean (sd 0.05) and category log-shares (sd 0.05) move day to day."""
    r = np.random.default_rng(seed)
    shares = np.array([0.45, 0.3, 0.15, 0.1])
    out = []
    for d in range(days):
        day_shares = shares * np.exp(0.05 * r.standard_normal(4))
        out.append(
            pl.DataFrame(
                {
                    "x": r.normal(0.05 * r.standard_normal(), 1.0, rows),
                    "c": r.choice(list("abcd"), rows, p=day_shares / day_shares.sum()),
                    "_day": np.full(rows, first + d),
                }
            )
        )
    return out


def test_between_day_variance_is_estimated_from_the_reference_days_and_is_zero_without_them():
    rows = pl.concat(days_with_day_effects(28, 20_000, 1))
    reference = fit_reference(rows, ["x"], ["c"])
    assert reference.days == 28
    # one day's rank effect: 0.05 sd / (2 sqrt(pi)) = 0.0141, variance 2.0e-4
    assert 0.8e-4 < reference.numeric["x"].location_between < 4e-4
    # one day's w^2 over the shares: about 0.05^2 (1 - sum p^2) = 1.7e-3
    assert 0.7e-3 < reference.categorical_between["c"] < 3.5e-3
    quiet = fit_reference(rows.drop("_day"), ["x"], ["c"])  # no days: sampling noise only
    assert quiet.days == 1 and quiet.categorical_between == {}
    assert quiet.between(3, 1e-3, 1e-4) == {"between": 0.0, "between_se": 0.0}
    restored = load_reference(reference_bytes(reference))
    assert restored.days == 28
    assert restored.numeric["x"].location_between == reference.numeric["x"].location_between
    assert restored.numeric["x"].location_se == reference.numeric["x"].location_se
    assert restored.categorical_between == reference.categorical_between
    assert restored.categorical_se == reference.categorical_se
    # a summary of an older format (before the errors were stored) is not read: it is refitted
    payload = np.load(io.BytesIO(reference_bytes(reference)))
    meta = json.loads(bytes(payload["meta"]).decode())
    del meta["format"], meta["categorical_se"], meta["numeric"]["x"]["location_se"]
    buffer = io.BytesIO()
    np.savez(buffer, **{**payload, "meta": np.frombuffer(json.dumps(meta).encode(), np.uint8)})
    assert load_reference(buffer.getvalue()) is None


@pytest.mark.parametrize("ratio", [0.0, 0.25, 1.0, 10.0])
def test_a_between_day_variance_estimate_has_the_error_its_spread_shows(ratio):
    """Over 20,000 simulated references of 28 days (each day's statistic: sampling variance 1
    in each of 9 directions, day-to-day variance `ratio` x 2 in 2 of them), the moment
    estimate's spread is moment_se's; the error that counting 27 days x 2 directions as its
    degrees of freedom implied holds only when sampling noise is negligible."""
    rng = np.random.default_rng(1)
    days, dof, heavy, between = 28, 9, 2, ratio * 2
    scale = np.ones(dof)
    scale[:heavy] += between / heavy
    statistic = (rng.standard_normal((20_000, days, dof)) ** 2 * scale).sum(axis=2)
    spread = (statistic - dof).mean(axis=1).std()
    assert spread == pytest.approx(moment_se(between, 1.0, days, heavy, dof), rel=0.05)
    days_counted = between * np.sqrt(2 / ((days - 1) * heavy))
    assert days_counted < 0.6 * spread if ratio <= 1 else days_counted > 0.8 * spread


def test_at_high_volume_day_to_day_variation_rejects_a_sampling_test_but_not_the_pooled_one():
    rows = pl.concat(days_with_day_effects(28, 20_000, 2))
    aware = fit_reference(rows, ["x"], ["c"])
    plain = fit_reference(rows.drop("_day"), ["x"], ["c"])
    p_aware, p_plain = [], []
    for w in range(40):
        window = pl.concat(days_with_day_effects(3, 20_000, 100 + w, first=100))
        for reference, found in ((aware, p_aware), (plain, p_plain)):
            table = column_drift(reference, window, days=3)
            found += [*table["p_shape"], *table["p_location"].drop_nulls()]
    assert np.mean(np.array(p_plain) < 0.01) > 0.25  # harmless variation, many standard errors
    assert np.mean(np.array(p_aware) < 0.01) < 0.08  # a 1% test allowing for it (one reference)
    # and a real shift of the same window is still found
    window = pl.concat(days_with_day_effects(3, 20_000, 7, first=100))
    shifted = window.with_columns(pl.col("x") + 0.3)
    assert column_drift(aware, shifted, days=3).filter(pl.col("column") == "x")["drifted"][0]


def test_a_mean_moving_day_to_day_is_one_direction_and_the_shape_tests_tail_allows_for_it():
    rows = pl.concat(days_with_day_effects(28, 20_000, 4))
    reference = fit_reference(rows, ["x"], ["c"])
    assert reference.numeric["x"].shape_directions < 2.5  # the mean moves: about one direction
    assert reference.categorical_directions["c"] > 1.5  # four shares jitter independently
    restored = load_reference(reference_bytes(reference))
    assert restored.numeric["x"].shape_directions == reference.numeric["x"].shape_directions
    assert restored.categorical_directions == reference.categorical_directions
    evenly = dataclasses.replace(
        reference, numeric={"x": dataclasses.replace(reference.numeric["x"], shape_directions=0)}
    )
    second, first = [], []  # p-values of quiet single days, second- and first-order
    for w in range(60):
        day = days_with_day_effects(1, 20_000, 300 + w, first=100)[0]
        second.append(column_drift(reference, day).filter(pl.col("column") == "x")["p_shape"][0])
        first.append(column_drift(evenly, day).filter(pl.col("column") == "x")["p_shape"][0])
    assert np.mean(np.array(first) < 0.01) >= 0.05  # the same variation spread evenly: too light
    assert np.mean(np.array(second) < 0.01) < np.mean(np.array(first) < 0.01)
    assert np.mean(np.array(second) < 0.01) <= 0.034  # 2 of 60 at most, at a 1% test


def test_rao_scott_is_the_first_order_scale_when_the_variation_is_spread_evenly():
    assert rao_scott(30.0, 9, 18.0, 0) == pytest.approx((10.0, 9.0))  # 30 / (1 + 18 / 9)
    assert rao_scott(30.0, 9, 18.0, 9) == pytest.approx((10.0, 9.0))
    assert rao_scott(30.0, 9, 0.0, 1) == pytest.approx((30.0, 9.0))  # no variation: plain
    # all of it in one direction (19 chi2(1) + chi2(8)): its tail, within 25% of the exact one
    statistic, nu = rao_scott(120.0, 9, 18.0, 1)
    draws = stats.chi2.rvs(1, size=2_000_000, random_state=0) * 19 + stats.chi2.rvs(
        8, size=2_000_000, random_state=1
    )
    exact = np.mean(draws > 120.0)
    assert stats.chi2.sf(statistic, nu) == pytest.approx(exact, rel=0.25)
    assert stats.chi2.sf(120.0 / 3.0, 9) < exact / 5  # the first-order scale: far too light


def test_a_ten_point_share_shift_at_350_rows_a_day_is_found_in_a_three_day_pool():
    reference = fit_reference(pl.concat(days_with_day_effects(28, 350, 3)), [], ["c"])
    found = 0
    for w in range(30):
        window = pl.concat(days_with_day_effects(3, 350, 200 + w, first=100))
        moved = np.random.default_rng(w).random(window.height) < 0.10 / 0.45
        window = window.with_columns(
            pl.when((pl.col("c") == "a") & pl.Series(moved))
            .then(pl.lit("b"))
            .otherwise(pl.col("c"))
            .alias("c")
        )
        found += column_drift(reference, window, days=3)["drifted"][0]
    assert found >= 27


def test_the_scales_uncertainty_is_the_heavy_directions_when_they_dominate_else_the_means():
    """scale_df: variation spread evenly, or one heavy direction far above sampling: the
    per-direction degrees of freedom 2 (1 + a)^2 / se^2; a small variation in one of 9
    directions: those of the whole expectation, 2 (9 + added)^2 / se^2, 9^2 times as many."""
    assert scale_df(9, 9 * 0.5, 9 * 0.1, 0) == pytest.approx(2 * 1.5**2 / 0.1**2)
    assert scale_df(9, 500.0, 5.0, 1) == pytest.approx(2 * 501**2 / 5**2, rel=0.05)
    assert scale_df(9, 0.01, 0.01, 1) == pytest.approx(2 * 9.01**2 / 0.01**2, rel=0.05)
    assert scale_df(9, 0.5, 0.0, 1) == np.inf
