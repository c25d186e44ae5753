"""QuantileBins: the estimator's own unweighted binning, found once per column."""

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import make_pipeline

from mlops_assets.compute.binning import QuantileBins, bin_thresholds, to_bins


def data(rng, n: int, spread: float = 1.0) -> np.ndarray:
    """Continuous, integer, rounded, binary and constant columns, with missing values."""
    x = np.column_stack(
        [
            rng.normal(size=n) * spread,
            rng.integers(-5, 60, n).astype(float),
            np.round(rng.lognormal(size=n), 2),
            rng.integers(0, 2, n).astype(float),
            np.full(n, 3.0),
        ]
    )
    x[rng.random(n) < 0.05, 0] = np.nan
    return x


def test_unweighted_the_model_is_the_estimators_own_to_the_last_bit():
    rng = np.random.default_rng(0)
    x, new = data(rng, 20_000), data(rng, 5_000, spread=3.0)  # new: values beyond the range
    y = (rng.random(len(x)) < 1 / (1 + np.exp(2 - x[:, 1] / 20 - np.nan_to_num(x[:, 0])))).astype(
        int
    )

    def boosting():
        return HistGradientBoostingClassifier(max_iter=60, early_stopping=False, random_state=0)

    own = boosting().fit(x, y)
    binned = make_pipeline(QuantileBins(), boosting()).fit(x, y)
    for rows in (x, new):
        assert np.array_equal(own.predict_proba(rows), binned.predict_proba(rows))


def test_bins_keep_missing_values_and_order_and_stay_under_max_bins():
    rng = np.random.default_rng(1)
    column = rng.normal(size=10_000)
    column[::10] = np.nan
    thresholds = bin_thresholds(column)
    assert len(thresholds) == 254 and np.all(np.diff(thresholds) > 0)
    bins = to_bins(column, thresholds)
    assert np.isnan(bins[::10]).all() and not np.isnan(bins[1::10]).any()
    present = ~np.isnan(column)
    order = np.argsort(column[present])
    assert np.all(np.diff(bins[present][order]) >= 0)  # monotone in the value
    assert set(np.unique(bins[present])) == set(range(255))
    assert to_bins(np.array([-1e9, 1e9]), thresholds).tolist() == [0.0, 254.0]
    assert bin_thresholds(np.array([2.0, 2.0, np.nan])).size == 0  # constant: one bin


def test_the_platforms_boosting_pipeline_bins_its_numeric_columns():
    from mlops_assets.compute.features import FeatureColumns
    from mlops_assets.compute.training import build_model

    pipeline = build_model(FeatureColumns(("income",), ("region",), ()))
    numeric = dict(
        (name, step) for name, step, _ in pipeline.named_steps["preprocess"].transformers
    )
    assert isinstance(numeric["numeric"], QuantileBins)


def test_the_compiled_scorer_serves_models_with_and_without_bins():
    """A version registered before `QuantileBins` (numeric columns passed through) keeps the
    compiled scorer, as does one with bins."""
    import polars as pl

    from mlops_assets.compute.features import FeatureColumns
    from mlops_assets.compute.training import build_model, model_matrix
    from serving.compiled import compile_scorer

    rng = np.random.default_rng(2)
    columns = FeatureColumns(("income",), ("region",), ())
    frame = pl.DataFrame(
        {
            "income": rng.normal(size=2_000),
            "income__missing": np.zeros(2_000),
            "region": rng.choice(["north", "south"], 2_000),
        }
    )
    y = (rng.random(2_000) < 1 / (1 + np.exp(-frame["income"].to_numpy()))).astype(int)
    binned = build_model(columns, params={"max_iter": 20})
    passthrough = build_model(columns, params={"max_iter": 20})
    passthrough.named_steps["preprocess"].transformers[0] = (
        "numeric",
        "passthrough",
        ["income", "income__missing"],
    )
    for pipeline in (binned, passthrough):
        pipeline.fit(model_matrix(frame, columns), y)
        assert compile_scorer(pipeline, columns, frame.head(50)) is not None
