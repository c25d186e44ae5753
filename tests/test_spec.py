"""The spec loader accepts the documented keys and names the key of every problem."""

from pathlib import Path

import pytest
import yaml

from mlops_assets.config.settings import BUILTIN_SPEC
from mlops_assets.config.spec import SpecError, load_spec

VALID = {
    "name": "churn",
    "landing": "landing",
    "format": "csv",
    "id_column": "customer",
    "target": {"column": "churned", "positive": "yes"},
    "decision": {"action": "call", "otherwise": "wait", "threshold": 0.3},
    "value": {
        "action_positive": 50,
        "action_negative": -5,
        "otherwise_positive": -200,
        "otherwise_negative": 0,
    },
}


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def with_change(path: str, value):
    data = yaml.safe_load(yaml.safe_dump(VALID))
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return data


def test_valid_spec_resolves_paths_relative_to_its_folder(tmp_path):
    spec = load_spec(write(tmp_path, VALID))
    assert spec.name == "churn"
    assert spec.landing == (tmp_path / "landing").resolve()
    assert spec.features is None and spec.categorical is None  # auto
    assert spec.decision.threshold == 0.3
    assert spec.target.delay_days == 0 and not spec.delayed_labels


def test_builtin_spec_lands_under_the_home_folder(tmp_path):
    spec = load_spec(BUILTIN_SPEC, home=tmp_path)
    assert spec.landing == tmp_path / "landing" / "lending"
    assert spec.delayed_labels and spec.outcomes == tmp_path / "landing" / "lending_outcomes"
    assert spec.decision.threshold is None  # auto


@pytest.mark.parametrize(
    ("change", "value", "named"),
    [
        ("colour", "blue", "'colour': unknown key"),
        ("name", ..., "'name': missing required key"),
        ("landing", ..., "'landing': missing required key"),
        ("target", ..., "'target': missing required key"),
        ("target.column", ..., "'target.column': missing required key"),
        ("target.label", "x", "'target.label': unknown key"),
        ("target.delay_days", -1, "'target.delay_days'"),
        ("target.delay_days", 3, "'outcomes': required when target.delay_days is 3"),
        ("outcomes", "out", "'outcomes': only allowed when target.delay_days > 0"),
        ("format", "xlsx", "'format': 'xlsx' is not one of csv, parquet"),
        ("name", "Bad Name", "'name'"),
        ("decision.threshold", 1.5, "'decision.threshold'"),
        ("decision.otherwise", "call", "'decision.otherwise': must differ"),
        ("value.otherwise_positive", "lots", "'value.otherwise_positive'"),
        ("features", "some", "'features': must be a list"),
        ("features", ["churned"], "'features': must not contain the id or target"),
        ("segments", ["a", "a"], "'segments': lists a column twice"),
        ("quality", {"max_null_fraction": 2}, "'quality.max_null_fraction'"),
        ("quality", {"typo": 1}, "'quality.typo': unknown key"),
        ("quality", {"keep_validations": -1}, "'quality.keep_validations'"),
        ("start_date", "yesterday", "'start_date'"),
        ("serving", {"rollout": "blue_green"}, "'serving.rollout': 'blue_green' is not one of"),
        ("serving", {"canary_share": 1.5}, "'serving.canary_share'"),
        ("serving", {"explore_share": -0.1}, "'serving.explore_share'"),
        ("serving", {"explore_band": 0.8}, "'serving.explore_band': 0.8 must be a number >= 1"),
        ("serving", {"replicas": 0}, "'serving.replicas'"),
        ("serving", {"port": 8000}, "'serving.port': unknown key"),
        ("monitoring", {"auc_drop": -0.1}, "'monitoring.auc_drop'"),
        ("monitoring", {"weekly_retrain": "mondays"}, "'monitoring.weekly_retrain'"),
        ("monitoring", {"cooldown_days": 1.5}, "'monitoring.cooldown_days'"),
        ("gates", {"max_ece": 0.05}, "'gates.max_ece': replaced by gates.calibration_tolerance"),
        ("monitoring", {"retrain_gap_days": 3}, "'monitoring.retrain_gap_days': replaced by"),
        ("model", {"estimator": "xgboost"}, "'model.estimator': 'xgboost' is not one of auto"),
        ("model", {"calibration": "beta"}, "'model.calibration': 'beta' is not one of"),
        ("model", {"params": [1]}, "'model.params': must be a mapping"),
        ("monitoring", {"drift_confirm_days": 2}, "replaced by monitoring.drift_pool_days"),
        ("monitoring", {"drift_pool_days": 0}, "'monitoring.drift_pool_days'"),
    ],
)
def test_bad_spec_names_the_key(tmp_path, change, value, named):
    with pytest.raises(SpecError, match=None) as error:
        load_spec(write(tmp_path, with_change(change, value)))
    assert named in str(error.value)
    assert "spec.yaml" in str(error.value)


def test_missing_file_and_bad_yaml_are_named(tmp_path):
    with pytest.raises(SpecError, match="no such file"):
        load_spec(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(bad)
