"""The platform on an object store, by configuration only: the prod profile with the lake at
`s3://<bucket>/lake` and MLflow's artifacts at `s3://<bucket>/mlflow`, on a moto S3 server this
test starts on 127.0.0.1. Ingest, train, decide and monitor run through Dagster for real."""

import datetime as dt
import socket

import boto3
import dagster as dg
import polars as pl
import pytest

from mlops_assets.commands.runner import run_pipeline
from mlops_assets.compute.ingest import coerce, read_landing
from mlops_assets.config.settings import Settings
from mlops_assets.config.storage import as_location
from mlops_assets.defs.lake import LakeError, partition_path, read_partitions, write_frame
from mlops_assets.defs.resources import DatasetResource
from tests.conftest import land

pytestmark = pytest.mark.slow

BUCKET = "mlops-lake"
DAYS, ROWS = 28, 400  # 21 labelled days, the least a backtest needs (as tests/test_stores.py)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def s3(monkeypatch):
    """A moto S3 server on 127.0.0.1 with one bucket, and the environment pointing at it."""
    from moto.server import ThreadedMotoServer
    from s3fs import S3FileSystem

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for var, value in {
        "AWS_ENDPOINT_URL": endpoint,  # s3fs and boto3 (botocore reads it)
        "MLFLOW_S3_ENDPOINT_URL": endpoint,  # MLflow's S3 artifact store
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(var, value)
    S3FileSystem.clear_instance_cache()  # fsspec's cached instances know the last server only
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    yield client
    server.stop()


def keys(client, prefix: str) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def test_partitions_on_s3_are_scanned_by_polars_with_column_pushdown(s3):
    root = as_location(f"s3://{BUCKET}/lake")
    key = dg.AssetKey(["lending", "raw"])
    days = ["2025-01-01", "2025-01-02", "2025-01-03"]
    for i in (0, 2):
        frame = pl.DataFrame({"a": [i], "b": ["x"], "c": [0.5]})
        write_frame(frame, partition_path(root, key, days[i]))

    scan = read_partitions(root, key, days)  # the missing day is skipped

    plan = scan.select("a").explain()  # polars reads the objects itself, one column of three
    assert f"Parquet SCAN [s3://{BUCKET}/lake/lending/raw/2025-01-01.parquet]" in plan, plan
    assert "PROJECT 1/3 COLUMNS" in plan, plan
    assert scan.select("a").collect()["a"].to_list() == [0, 2]
    assert read_partitions(root, dg.AssetKey(["lending", "none"]), days).collect().is_empty()


def test_the_platform_runs_on_an_s3_lake_and_artifact_store(s3, tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("MLOPS_ENV", "prod")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home}/mlflow/mlflow.db")
    monkeypatch.setenv("MLOPS_ARTIFACTS", f"s3://{BUCKET}/mlflow")
    monkeypatch.setenv("MLOPS_LAKE", f"s3://{BUCKET}/lake")
    monkeypatch.delenv("MLOPS_DAGSTER_DB", raising=False)
    settings = Settings.resolve(home=home)
    assert str(settings.lake) == f"s3://{BUCKET}/lake"
    land(settings, range(DAYS), rows=ROWS)

    summary = run_pipeline(settings)

    assert summary["raw"]["materialized"] == DAYS and not summary["raw"]["failed"]
    assert summary["model"]["champion"]["version"] == 1, summary["model"]
    assert summary["decisions"]["days"] == DAYS
    monitoring = summary["monitoring"]
    assert {"drift", "performance", "impact"} <= set(monitoring), monitoring
    lake = set(keys(s3, "lake/"))
    drift_day, outcome_day = monitoring["drift"]["day"], monitoring["performance"]["day"]
    for asset, day in [
        ("raw", "2025-01-01"),
        ("features", "2025-01-28"),
        ("decisions", drift_day),
        ("drift_report", drift_day),
        ("performance", outcome_day),
        ("raw_outcomes", outcome_day),
    ]:
        assert f"lake/lending/{asset}/{day}.parquet" in lake, (asset, sorted(lake)[:20])
    for document in ("lending/_schema.json", "lending/champion/data.json"):
        assert f"lake/{document}" in lake
    assert "lake/lending/drift_reference/v1.npz" in lake
    assert keys(s3, f"reports/lending/drift/{drift_day}.html")  # reports beside the lake
    assert not (home / "lake").exists()  # nothing of the lake on the local disk
    assert not (home / "reports").exists()
    artifacts = keys(s3, "mlflow/")
    assert any(k.endswith("MLmodel") for k in artifacts), artifacts[:20]

    dataset = DatasetResource(spec_path=str(settings.dataset_spec), home=str(home))
    day = "2025-01-20"
    landed = read_landing(dataset.landing_file(day), dataset.spec.format)
    computed = coerce(landed, dataset.schema(), dataset.spec, dt.date.fromisoformat(day))
    assert dataset.read("raw", day).equals(computed)  # read back through s3fs
    stored = s3.get_object(Bucket=BUCKET, Key=f"lake/lending/raw/{day}.parquet")["Body"].read()
    assert stored == write_frame(computed, tmp_path / "raw.parquet").read_bytes()  # as on disk
    decided = dataset.frame("decisions", dataset.partitions("decisions"))
    assert decided.height == summary["decisions"]["rows"]

    days = dataset.partitions("decisions")  # another writer's object is listed (no stale cache)
    s3.put_object(Bucket=BUCKET, Key="lake/lending/decisions/2030-01-01.parquet", Body=stored)
    assert dataset.partitions("decisions") == [*days, "2030-01-01"]
    with pytest.raises(LakeError, match="cannot write s3://no-such-bucket/lake/x.parquet"):
        write_frame(computed, as_location("s3://no-such-bucket/lake/x.parquet"))
