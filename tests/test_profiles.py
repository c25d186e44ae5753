"""dev / test / prod profiles switch the registry and tracking store by configuration only."""

import os
from pathlib import Path

import pytest

from mlops_assets.config.profiles import load_profile
from mlops_assets.config.settings import STORAGE_URL_ENV, Settings
from mlops_assets.config.spec import load_spec
from mlops_assets.defs.registry import registry_for


def test_env_var_picks_the_profile(tmp_path, monkeypatch):
    settings = Settings.resolve(home=tmp_path)
    spec = load_spec(settings.dataset_spec, home=tmp_path)
    assert registry_for(settings, spec).model_name == "lending-dev"
    monkeypatch.setenv("MLOPS_ENV", "test")
    assert registry_for(settings, spec).model_name == "lending-dev"  # resolved once
    registry = registry_for(Settings.resolve(home=tmp_path), spec)
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


def test_the_deploy_profiles_share_one_tracking_server(tmp_path, monkeypatch):
    deploy = Path(__file__).parents[1] / "deploy" / "profiles.yaml"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    monkeypatch.delenv("MLOPS_DAGSTER_DB", raising=False)
    loaded = [load_profile(tmp_path, env, str(deploy)) for env in ("dev", "test", "prod")]
    assert {p.tracking_uri for p in loaded} == {"http://mlflow:5000"}
    assert [p.registry_name("lending") for p in loaded] == [
        "lending-dev",
        "lending-test",
        "lending-prod",
    ]
    assert loaded[2].dagster_storage is None  # ${MLOPS_DAGSTER_DB:-}: empty default


def test_a_profile_with_dagster_storage_refers_the_instance_to_it_by_variable(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("MLOPS_ENV", "prod")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    monkeypatch.setenv("MLOPS_DAGSTER_DB", "postgresql://u:s3cret@db:5432/dagster")
    monkeypatch.setenv(STORAGE_URL_ENV, "")  # restored after the test: the run sets it
    settings = Settings.resolve(home=tmp_path)
    text = (settings.prepare_dagster_home() / "dagster.yaml").read_text()
    # the password never reaches the file: the instance reads the URL from the environment
    assert "s3cret" not in text and f"postgres_url:\n      env: {STORAGE_URL_ENV}" in text
    url = "postgresql+psycopg2://u:s3cret@db:5432/dagster"
    assert os.environ[STORAGE_URL_ENV] == settings.env()[STORAGE_URL_ENV] == url
    monkeypatch.setenv("MLOPS_DAGSTER_DB", "sqlite:///nope.db")
    with pytest.raises(ValueError, match="dagster_storage needs a postgresql:// URL"):
        Settings.resolve(home=tmp_path).prepare_dagster_home()


def test_messages_show_the_tracking_uri_without_its_password():
    from mlops_assets.defs.registry import redacted

    assert (
        redacted("postgresql://mlops:s3cret@db:5432/mlflow")
        == "postgresql://mlops:***@db:5432/mlflow"
    )
    assert redacted("http://mlflow:5000") == "http://mlflow:5000"
    assert redacted("sqlite:////home/a:b@c/mlflow.db") == "sqlite:////home/a:b@c/mlflow.db"
