"""Calibration as a public step of the model: a fitted map from a classifier's scores to
probabilities, and the classifier that applies it (what the registry stores and serving runs).

The map is fitted on cross-fitted scores (`compute.training.fit_model`): each row scored by a
model that did not see its day block. Platt scaling, P = expit(a + b * logit(score)), is the
default; isotonic regression only with `ISOTONIC_MIN_POSITIVES` positives or more, where its
steps are estimated well enough to beat two parameters.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logit
from sklearn.base import BaseEstimator, ClassifierMixin

EPS = 1e-6  # scores are clipped to [EPS, 1 - EPS] before their logit
ISOTONIC_MIN_POSITIVES = 1000
# the Platt fit's prior towards no change is worth this share of the positives (at least
# `MIN_RIDGE`): it damps noise without holding back a correction the data clearly need; a
# fixed prior of 20 positives held back most of it on small data (100 positives)
RIDGE_PER_POSITIVE = 0.05
MIN_RIDGE = 2.0


class CalibrationError(RuntimeError):
    """The calibration fit did not converge: its scores must not be served."""


def ridge_for(positives: float) -> float:
    """The Platt fit's ridge for a fit on this many (unique, observed) positives."""
    return max(MIN_RIDGE, RIDGE_PER_POSITIVE * float(positives))


def platt_fit(
    y: np.ndarray,
    p: np.ndarray,
    ridge: float = 0.0,
    weights: np.ndarray | None = None,
    iterations: int = 100,
    tolerance: float = 1e-9,
) -> tuple[np.ndarray, np.ndarray]:
    """Fit P(y=1) = expit(a + b * logit(p)): (a, b) and their covariance (model-based).

    `ridge` shrinks the fit towards a = 0, b = 1: it penalizes the shift of the mean logit and
    the change of its spread, (b - 1) * sd(logit p), so squeezed scores can still stretch.
    `weights`: per-row likelihood weights, normalized to the row count (the ridge keeps its
    strength). Newton's method with step halving on the penalized log-likelihood (each step
    must not lower it) and a convergence check: `CalibrationError` if it does not converge.
    """
    y = np.asarray(y, dtype=float)
    z = logit(np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS))
    w = np.ones_like(z) if weights is None else np.asarray(weights, dtype=float)
    w = w * (len(w) / max(w.sum(), 1e-12))
    centre = float(np.average(z, weights=w))
    x = np.column_stack([np.ones_like(z), z - centre])  # fitted: a + b * centre, and b
    prior = np.array([centre, 1.0])
    spread = float(np.average((z - centre) ** 2, weights=w))
    penalty = ridge * np.diag([1.0, max(spread, 1e-12)])

    def objective(beta: np.ndarray) -> float:
        eta = x @ beta
        loglik = np.sum(w * (y * eta - np.logaddexp(0.0, eta)))
        return float(loglik - 0.5 * (beta - prior) @ penalty @ (beta - prior))

    beta, current = prior.copy(), objective(prior)
    for _ in range(iterations):
        q = expit(x @ beta)
        gradient = x.T @ (w * (y - q)) - penalty @ (beta - prior)
        hessian = (x * (w * q * (1 - q))[:, None]).T @ x + penalty
        step = np.linalg.solve(hessian + 1e-9 * np.eye(2), gradient)
        scale = 1.0
        while objective(beta + scale * step) < current - 1e-12 and scale > 1e-6:
            scale /= 2
        beta = beta + scale * step
        current = objective(beta)
        if np.abs(scale * step).max() < tolerance:
            break
    else:
        raise CalibrationError(
            f"the calibration fit did not converge in {iterations} Newton steps "
            f"(last step {np.abs(scale * step).max():.2e}, a={beta[0]:.3g}, b={beta[1]:.3g})"
        )
    q = expit(x @ beta)
    covariance = np.linalg.pinv((x * (w * q * (1 - q))[:, None]).T @ x + penalty)
    back = np.array([[1.0, -centre], [0.0, 1.0]])  # (a + b * centre, b) -> (a, b)
    return back @ beta, back @ covariance @ back.T


class PlattCalibration:
    """P = expit(intercept + slope * logit(score))."""

    method = "platt"

    def __init__(self, intercept: float = 0.0, slope: float = 1.0):
        self.intercept = float(intercept)
        self.slope = float(slope)

    def transform(self, p: np.ndarray) -> np.ndarray:
        z = logit(np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS))
        return expit(self.intercept + self.slope * z)

    def describe(self) -> dict:
        return {"method": self.method, "intercept": self.intercept, "slope": self.slope}


class IsotonicCalibration:
    """A monotone step map fitted by isotonic regression (sklearn's), clipped to (EPS, 1-EPS)."""

    method = "isotonic"

    def __init__(self, regression=None):
        self.regression = regression

    @classmethod
    def fit(cls, y: np.ndarray, p: np.ndarray, weights: np.ndarray | None = None):
        from sklearn.isotonic import IsotonicRegression

        regression = IsotonicRegression(y_min=EPS, y_max=1 - EPS, out_of_bounds="clip")
        return cls(regression.fit(np.asarray(p, dtype=float), y, sample_weight=weights))

    def transform(self, p: np.ndarray) -> np.ndarray:
        return self.regression.predict(np.asarray(p, dtype=float))

    def describe(self) -> dict:
        return {"method": self.method, "steps": int(len(self.regression.X_thresholds_))}


class CalibratedClassifier(ClassifierMixin, BaseEstimator):
    """A fitted binary classifier whose probabilities pass through a fitted calibration map.

    The last step of the registered pipeline: `predict_proba` is the calibrated probability;
    `estimator` and `calibration` stay public for the compiled scorer (`serving/compiled.py`).
    Fitting happens in `compute.training.fit_model` (cross-fitted); `fit` refits only the inner
    estimator and keeps the map.
    """

    def __init__(self, estimator=None, calibration=None):
        self.estimator = estimator
        self.calibration = calibration

    def fit(self, X, y, sample_weight=None):
        extra = {} if sample_weight is None else {"sample_weight": sample_weight}
        self.estimator.fit(X, y, **extra)
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self.estimator, "classes_")

    @property
    def classes_(self):
        return self.estimator.classes_

    def predict_proba(self, X) -> np.ndarray:
        raw = self.estimator.predict_proba(X)[:, 1]
        q = raw if self.calibration is None else self.calibration.transform(raw)
        return np.column_stack([1 - q, q])

    def predict(self, X) -> np.ndarray:
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]
