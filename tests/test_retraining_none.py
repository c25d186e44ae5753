"""End to end, accelerated: the 70 days of the concept-drift scenario without the drift trigger no
drift- or performance-driven retrain (tests/scenario.py)."""

import pytest

from tests.scenario import replayed, signal_retrains

pytestmark = pytest.mark.slow


def test_the_same_days_without_drift_retrain_nothing(tmp_path):
    settings, history = replayed(tmp_path, "none")
    assert signal_retrains(history) == [], history["retrains"]
    assert history["last_champion"] == history["first_champion"]
    assert all(
        "no drift signal" in c.get("lending_drift_sensor", "no drift signal")
        or "no drift_report" in c.get("lending_drift_sensor", "")
        for c in history["checkpoints"]
    )
