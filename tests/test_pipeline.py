"""Landing files through Dagster on a real instance, with real Great Expectations checks."""

import datetime as dt
import hashlib
import json
import shutil
import urllib.parse
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from mlops_assets.commands.execution import instance_for
from mlops_assets.commands.runner import run_pipeline
from mlops_assets.defs.platform import build_definitions
from tests.conftest import check_metadata, lake_partition, land, landing_file, read_landing

# `stores`: the tests whose outcome the stores keep (runs, check results, sensor cursors) run on
# SQLite and on PostgreSQL; the data-quality rules and the lake's bytes are the same on both,
# so their tests run on SQLite only
stores = pytest.mark.stores

BAD_DAY = "2025-01-05"  # day index 4, after 4 clean days of history


def materialized(settings, asset):
    return instance_for(settings).get_materialized_partitions(dg.AssetKey(["lending", asset]))


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def clean_history(settings):
    land(settings, range(4))
    return settings


@stores
def test_clean_days_flow_from_raw_to_features_with_every_check_green(settings):
    land(settings, range(9))
    summary = run_pipeline(settings)
    raw = summary["raw"]
    assert raw["materialized"] == 9 and not raw["quarantined"] and not raw["blocked"]
    assert all(c["failed"] == 0 and c["passed"] == 9 for c in raw["checks"].values())
    assert {
        "lending/raw:volume",
        "lending/raw:duplicate_ids",
        "lending/features:completeness",
        "lending/raw:value_ranges",
    } <= set(raw["checks"])
    assert summary["raw_outcomes"]["materialized"] == 2  # outcome files of days 7 and 8
    assert materialized(settings, "features") == {f"2025-01-0{d}" for d in range(1, 10)}
    features = pl.read_parquet(lake_partition(settings, "features", "2025-01-09"))
    assert features["income"].null_count() == 0 and "employment_years__missing" in features.columns


def test_each_check_links_its_great_expectations_data_docs_page(settings):
    land(settings, range(6))
    run_pipeline(settings, train=False)
    docs = check_metadata(settings.home, "lending/raw", "volume")["data_docs"].url
    page = Path(urllib.parse.urlparse(docs).path)
    assert docs.startswith("file://") and "2025-01-06" in docs and page.exists()
    html = page.read_text()  # GX's page: the suite's expectations with their learned values
    assert "lending.raw" in html and "values must be of type" in html and "rows." in html
    suites = settings.home / "gx" / "expectations" / "lending"
    # until quality.min_history_days, the learned checks pass: a suite of their own; then all
    assert {p.name for p in suites.iterdir()} >= {"raw.json", "raw", "features.json"}
    saved = json.loads((suites / "raw.json").read_text())["expectations"]
    volume = next(e for e in saved if e["type"] == "expect_table_row_count_to_be_between")
    assert volume["kwargs"]["min_value"] == {"$PARAMETER": "volume_min"}


def test_rematerializing_a_day_gives_identical_parquet_bytes(settings):
    land(settings, range(5))
    run_pipeline(settings)
    paths = [lake_partition(settings, a, "2025-01-05") for a in ("raw", "features")]
    before = [sha(p) for p in paths]
    run_pipeline(settings)
    assert [sha(p) for p in paths] == before


def bad_day(settings, write):
    """Land a bad file as day 4 after 4 clean days, run everything, return the summary."""
    write(landing_file(settings, 4))
    return run_pipeline(settings)["raw"]


def assert_nothing_downstream(settings, quarantined: bool):
    assert not lake_partition(settings, "features", BAD_DAY).exists()
    assert BAD_DAY not in materialized(settings, "features")
    if quarantined:
        assert not lake_partition(settings, "raw", BAD_DAY).exists()
        assert BAD_DAY not in materialized(settings, "raw")
        reason = settings.quarantine / "lending" / f"{BAD_DAY}.csv.reason.json"
        assert reason.exists() and (settings.quarantine / "lending" / f"{BAD_DAY}.csv").exists()


def test_corrupt_file_is_quarantined_with_a_reason(clean_history):
    s = clean_history
    raw = bad_day(s, lambda p: p.write_bytes(b'\x00\x01garbage\n\xff\xfe,"unclosed\n'))
    assert BAD_DAY in raw["quarantined"], raw
    assert raw["materialized"] == 4
    assert_nothing_downstream(s, quarantined=True)


def test_file_with_a_missing_column_is_quarantined_naming_it(clean_history):
    s = clean_history
    day = read_landing(s, 3).drop("income")
    raw = bad_day(s, lambda p: day.write_csv(p))
    assert "missing columns: income" in raw["quarantined"][BAD_DAY]
    assert_nothing_downstream(s, quarantined=True)


def test_file_with_duplicate_ids_fails_the_blocking_check(clean_history):
    s = clean_history
    day = read_landing(s, 3)
    raw = bad_day(s, lambda p: pl.concat([day, day.head(5)]).write_csv(p))
    assert BAD_DAY in raw["blocked"], raw
    blocked = raw["blocked"][BAD_DAY]
    assert any("duplicate_ids" in b and "ExpectColumnValuesToBeUnique" in b for b in blocked), (
        blocked
    )
    assert lake_partition(s, "raw", BAD_DAY).exists()  # the raw partition is kept for inspection
    assert_nothing_downstream(s, quarantined=False)


def test_a_tenfold_volume_drop_fails_the_volume_check(clean_history):
    s = clean_history
    day = read_landing(s, 3)
    raw = bad_day(s, lambda p: day.head(day.height // 10).write_csv(p))
    blocked = raw["blocked"][BAD_DAY]
    assert any("volume" in b and "ExpectTableRowCountToBeBetween" in b for b in blocked), blocked
    assert_nothing_downstream(s, quarantined=False)


@stores
def test_landing_sensor_requests_each_file_version_once(settings):
    land(settings, range(2))
    defs = build_definitions(settings)
    sensor = defs.resolve_sensor_def("lending_landing_sensor")
    instance = instance_for(settings)
    with dg.build_sensor_context(instance=instance, definitions=defs) as context:
        first = sensor.evaluate_tick(context)
    assert sorted(r.partition_key for r in first.run_requests) == ["2025-01-01", "2025-01-02"]
    assert {r.job_name for r in first.run_requests} == {None}  # the sensor's job: lending_daily
    names = {k.path[-1] for k in first.run_requests[0].asset_selection}
    assert names == {"raw", "features", "decisions", "drift_report", "kpis"}  # no outcomes yet

    with dg.build_sensor_context(
        instance=instance, definitions=defs, cursor=first.cursor
    ) as context:
        again = sensor.evaluate_tick(context)
    assert again.run_requests == []

    land(settings, range(3))  # a new day arrives
    path = landing_file(settings, 0)
    path.write_bytes(path.read_bytes() + b"")  # touched, same content: same size, new mtime
    with dg.build_sensor_context(
        instance=instance, definitions=defs, cursor=first.cursor
    ) as context:
        third = sensor.evaluate_tick(context)
    keys = sorted(r.partition_key for r in third.run_requests)
    assert keys == ["2025-01-01", "2025-01-03"]  # the new day, and the rewritten file
    assert len({r.run_key for r in first.run_requests + third.run_requests}) == 4


@stores
def test_a_file_landing_today_is_left_for_the_tick_after_the_day_is_over(settings):
    """Today's file may still grow (outcomes posted to the endpoint land there), and today is
    no partition yet: the sensor does not request it, nor remember it as seen, so that a tick
    after midnight requests it even if it never changes again."""
    land(settings, range(1))
    today = str(dt.datetime.now(dt.UTC).date())
    shutil.copy(landing_file(settings, 0), landing_file(settings, 0).with_stem(today))
    defs = build_definitions(settings)
    sensor = defs.resolve_sensor_def("lending_landing_sensor")
    with dg.build_sensor_context(instance=instance_for(settings), definitions=defs) as context:
        tick = sensor.evaluate_tick(context)
    assert [r.partition_key for r in tick.run_requests] == ["2025-01-01"]
    assert set(json.loads(tick.cursor)["raw"]) == {"2025-01-01"}


@stores
def test_sensor_adopts_days_already_materialized_headless(settings):
    land(settings, range(2))
    run_pipeline(settings)
    defs = build_definitions(settings)
    sensor = defs.resolve_sensor_def("lending_landing_sensor")
    with dg.build_sensor_context(instance=instance_for(settings), definitions=defs) as context:
        assert sensor.evaluate_tick(context).run_requests == []
