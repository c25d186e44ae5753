"""dev / test / prod profiles switch the registry and tracking store by configuration only."""

import pytest

from mlops_assets.profiles import load_profile
from mlops_assets.registry import registry_for
from mlops_assets.settings import Settings
from mlops_assets.spec import load_spec


def test_env_var_picks_the_profile(tmp_path, monkeypatch):
    settings = Settings.resolve(home=tmp_path)
    spec = load_spec(settings.dataset_spec, home=tmp_path)
    assert registry_for(settings, spec).model_name == "lending-dev"
    monkeypatch.setenv("MLOPS_ENV", "test")
    registry = registry_for(settings, spec)
    assert registry.model_name == "lending-test"
    assert registry.tracking_uri == f"sqlite:///{tmp_path}/mlflow/mlflow.db"
    assert registry.artifact_location == f"{tmp_path}/mlflow/artifacts"


def test_prod_reads_the_tracking_server_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(ValueError, match=r"needs \$\{MLFLOW_TRACKING_URI\}, which is not set"):
        load_profile(tmp_path, "prod")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")
    prod = load_profile(tmp_path, "prod")
    assert prod.tracking_uri == "http://mlflow.internal:5000"
    assert prod.registry_name("lending") == "lending-prod"


def test_unknown_profile_is_named(tmp_path):
    with pytest.raises(ValueError, match="profile 'staging' is not in"):
        load_profile(tmp_path, "staging")
