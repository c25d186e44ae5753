"""The model's capacity and calibration: chosen on held-out day blocks, applied by a public step
(`CalibratedClassifier`), with a solver that either converges or says so. No Dagster, no MLflow."""

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy.special import expit, logit

from mlops_assets.compute.calibration import (
    CalibratedClassifier,
    CalibrationError,
    PlattCalibration,
    platt_fit,
    ridge_for,
)
from mlops_assets.compute.features import LABEL, FeatureColumns
from mlops_assets.compute.fitting import BOOSTING_ROUNDS, _day_blocks, fit_model
from mlops_assets.compute.ingest import DAY
from mlops_assets.compute.selective import WEIGHT
from mlops_assets.compute.training import Recipe, model_matrix

COLUMNS = FeatureColumns(("x", "z"), ("c",), ())


def frame_of(days: int, rows: int, seed: int, first: int = 0, base: float = -2.0):
    """Days of rows whose true probability is a logistic function of x and c (z is noise)."""
    rng = np.random.default_rng(seed)
    n = days * rows
    x, z = rng.normal(0, 1, n), rng.normal(0, 1, n)
    c = rng.choice(["u", "v", "w"], n)
    truth = expit(base + 0.9 * x + np.where(c == "w", 0.6, 0.0))
    return pl.DataFrame(
        {
            DAY: [dt.date(2025, 1, 1) + dt.timedelta(days=first + i // rows) for i in range(n)],
            "x": x,
            "z": z,
            "x__missing": np.zeros(n),
            "z__missing": np.zeros(n),
            "c": c,
            "truth": truth,
            LABEL: (rng.random(n) < truth).astype(int),
        }
    )


def against_truth(model, fresh: pl.DataFrame) -> tuple[float, float]:
    """Observed/expected defaults (true over predicted) and the calibration slope of the model's
    scores against the true probabilities."""
    p = model.predict_proba(model_matrix(fresh, COLUMNS))[:, 1]
    truth = fresh["truth"].to_numpy()
    (_, slope), _ = platt_fit(fresh[LABEL].to_numpy(), p)
    return float(truth.sum() / p.sum()), float(slope)


@pytest.mark.parametrize("rows", [120, 400])
def test_a_first_model_on_small_data_comes_out_calibrated_against_the_truth(rows):
    train, fresh = frame_of(23, rows, seed=rows), frame_of(10, 2000, seed=99, first=40)
    model, fitted = fit_model(train, COLUMNS, Recipe())
    ratio, slope = against_truth(model, fresh)
    assert 0.87 < ratio < 1.15, fitted
    assert 0.85 < slope < 1.18, fitted
    assert fitted["calibration"]["method"] == "platt"
    assert fitted["calibration"]["positives"] == int(train[LABEL].sum())


def test_boosting_rounds_are_chosen_on_held_out_days():
    # a linear truth on a few thousand rows: far fewer rounds than the most allowed are best
    train = frame_of(20, 150, seed=1)
    _, fitted = fit_model(train, COLUMNS, Recipe("hist_gradient_boosting"))
    assert fitted["estimator"] == "hist_gradient_boosting"
    assert 1 <= fitted["params"]["max_iter"] < BOOSTING_ROUNDS
    # auto also tries a regularized logistic regression below 1,000 positives
    _, auto = fit_model(train, COLUMNS, Recipe())
    assert auto["searched"] > fitted["searched"]
    assert auto["held_out_log_loss"] <= fitted["held_out_log_loss"]


def test_the_calibration_step_is_the_public_map_of_the_inner_model():
    train = frame_of(20, 300, seed=2)
    model, fitted = fit_model(train, COLUMNS, Recipe("logistic_regression"))
    step = model.named_steps["model"]
    assert isinstance(step, CalibratedClassifier)
    assert isinstance(step.calibration, PlattCalibration)
    x = model_matrix(train, COLUMNS)
    inner = model.named_steps["preprocess"].transform(x)
    raw = step.estimator.predict_proba(inner)[:, 1]
    expected = expit(step.calibration.intercept + step.calibration.slope * logit(raw))
    np.testing.assert_allclose(model.predict_proba(x)[:, 1], expected, rtol=1e-12)
    assert fitted["calibration"]["slope"] == step.calibration.slope


def test_isotonic_only_with_a_thousand_positives():
    small, large = frame_of(20, 150, seed=3), frame_of(20, 900, seed=4)
    assert small[LABEL].sum() < 1000 < large[LABEL].sum()
    recipe = Recipe("logistic_regression", calibration="isotonic")
    assert fit_model(small, COLUMNS, recipe)[1]["calibration"]["method"] == "platt"
    model, fitted = fit_model(large, COLUMNS, recipe)
    assert fitted["calibration"]["method"] == "isotonic"
    p = model.predict_proba(model_matrix(large, COLUMNS))[:, 1]
    assert p.min() > 0 and p.max() < 1


def test_day_blocks_are_whole_contiguous_days():
    frame = frame_of(9, 50, seed=5)
    blocks = _day_blocks(frame)
    per_day = frame.with_columns(block=pl.Series(blocks)).group_by(DAY).agg(pl.col("block"))
    assert all(len(set(b)) == 1 for b in per_day["block"])  # a day is never split
    order = frame.with_columns(block=pl.Series(blocks)).sort(DAY)["block"].to_numpy()
    assert (np.diff(order) >= 0).all() and order.max() == 2
    assert _day_blocks(frame.filter(pl.col(DAY) == frame[DAY].min())) is None


def test_platt_fit_refuses_to_diverge():
    # (that it recovers a known map: test_model_math) separable scores: the unpenalized fit has
    # no finite optimum; it raises rather than return a slope of 2e10, and a ridge gives a
    # finite one
    separable = np.array([0.1] * 50 + [0.9] * 50)
    labels = np.array([0] * 50 + [1] * 50)
    with pytest.raises(CalibrationError, match="did not converge"):
        platt_fit(labels, separable)
    (_, slope), _ = platt_fit(labels, separable, ridge=ridge_for(50))
    assert 1 < slope < 100


def test_untruncated_weights_enter_the_calibration_fit():
    # rows weighted 20 (control rows the policy would have declined) are the risky ones: a
    # calibration fit that truncated their weights would understate risk
    train = frame_of(20, 300, seed=7)
    risky = (train["truth"] > 0.25).to_numpy()
    rng = np.random.default_rng(7)
    kept = ~risky | (rng.random(train.height) < 0.05)
    weighted = train.filter(pl.Series(kept)).with_columns(
        pl.when(pl.Series(risky[kept])).then(20.0).otherwise(1.0).alias(WEIGHT)
    )
    model, _ = fit_model(weighted, COLUMNS, Recipe("logistic_regression"))
    ratio, _ = against_truth(model, frame_of(10, 2000, seed=98, first=40))
    assert 0.85 < ratio < 1.18


def test_a_spec_fixes_the_estimator_and_a_run_config_overrides_it(tmp_path):
    import yaml

    from mlops_assets.config.settings import BUILTIN_SPEC
    from mlops_assets.config.spec import load_spec, parse_spec
    from mlops_assets.defs.assets.training import ModelConfig, model_recipe

    raw = yaml.safe_load(Path(BUILTIN_SPEC).read_text())
    raw["model"] = {"estimator": "logistic_regression", "params": {"C": 0.5}}
    spec = parse_spec(raw, base=tmp_path, home=tmp_path)
    assert model_recipe(ModelConfig(), spec) == Recipe("logistic_regression", {"C": 0.5})
    run = ModelConfig(estimator="hist_gradient_boosting", params={}, calibration="isotonic")
    assert model_recipe(run, spec) == Recipe("hist_gradient_boosting", calibration="isotonic")
    default = load_spec(BUILTIN_SPEC, home=tmp_path)
    assert model_recipe(ModelConfig(), default) == Recipe()
