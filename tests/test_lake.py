"""The lake's functions on a local folder and on an fsspec URL (`memory://`), without Dagster."""

import datetime as dt
import json
import uuid

import dagster as dg
import polars as pl
import pytest

from mlops_assets.config.storage import as_location, is_local
from mlops_assets.defs.lake import (
    read_document,
    read_frame,
    read_partitions,
    write_bytes,
    write_frame,
    write_json,
)

KEY = dg.AssetKey(["lending", "raw"])
DAYS = ["2025-01-01", "2025-01-02", "2025-01-03"]


@pytest.fixture(params=["local", "memory"])
def root(request, tmp_path):
    if request.param == "local":
        yield as_location(tmp_path / "lake")
        return
    location = as_location(f"memory://lake-{uuid.uuid4().hex}/lake")
    yield location
    if location.exists():
        location.fs.rm(location.parent.path, recursive=True)


def frame(day: int) -> pl.DataFrame:
    return pl.DataFrame({"id": [f"{day}-{i}" for i in range(3)], "x": [day * 1.5, None, 2.0]})


def files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_locations_are_paths_or_upaths(tmp_path):
    assert is_local(as_location(tmp_path)) and is_local(as_location(f"file://{tmp_path}"))
    assert as_location(f"file://{tmp_path}") == tmp_path
    assert str(as_location("s3://bucket/prefix/lake")) == "s3://bucket/prefix/lake"
    assert not is_local(as_location("memory://bucket/lake"))


def test_writes_are_atomic_and_leave_no_temp_files(root):
    for k, day in enumerate(DAYS):
        write_frame(frame(k), root / "lending" / "raw" / f"{day}.parquet")
    write_json({"version": 1}, root / "lending" / "champion" / "data.json")
    expected = ["lending/champion/data.json", *(f"lending/raw/{d}.parquet" for d in DAYS)]
    assert files(root) == expected  # no temp files left beside them
    assert read_document(root, dg.AssetKey(["lending", "champion"])) == {"version": 1}


def test_same_frame_same_bytes_and_a_rewrite_overwrites(root, tmp_path):
    path = root / "lending" / "raw" / "2025-01-01.parquet"
    write_frame(frame(1), path)
    first = path.read_bytes()
    write_frame(frame(1), path)
    assert path.read_bytes() == first
    local = write_frame(frame(1), tmp_path / "elsewhere.parquet")
    assert local.read_bytes() == first  # the same bytes on every backend
    write_frame(frame(2), path)
    assert read_frame(root, KEY, "2025-01-01").equals(frame(2))


def test_exclusive_write_keeps_the_first(root):
    path = root / "lending" / "_schema.json"
    assert write_json({"first": True}, path, exclusive=True) == path
    assert write_json({"first": False}, path, exclusive=True) is None
    assert write_bytes(b"{}", path) == path  # a plain write overwrites
    assert path.read_text() == "{}"


def test_missing_partition_error_names_the_path(root):
    with pytest.raises(FileNotFoundError, match="partition 2025-01-09 is not in the lake") as err:
        read_frame(root, KEY, "2025-01-09")
    assert str(root / "lending" / "raw" / "2025-01-09.parquet") in str(err.value)
    with pytest.raises(FileNotFoundError, match="materialize it first"):
        read_document(root, dg.AssetKey(["lending", "champion"]))


def test_partitions_are_scanned_lazily_and_missing_ones_skipped(root):
    write_frame(frame(0), root / "lending" / "raw" / f"{DAYS[0]}.parquet")
    write_frame(frame(2), root / "lending" / "raw" / f"{DAYS[2]}.parquet")
    scan = read_partitions(root, KEY, [*DAYS, "2025-01-04"])
    assert isinstance(scan, pl.LazyFrame)
    assert scan.collect().equals(pl.concat([frame(0), frame(2)]))
    assert read_partitions(root, KEY, ["2025-02-01"]).collect().is_empty()
    assert read_partitions(root, KEY, []).collect().is_empty()


def test_partitions_listing_and_quarantine_beside_the_lake(root, tmp_path, monkeypatch):
    from mlops_assets.config.settings import BUILTIN_SPEC
    from mlops_assets.defs.resources import DatasetResource

    monkeypatch.delenv("MLOPS_LAKE", raising=False)
    dataset = DatasetResource(spec_path=str(BUILTIN_SPEC), home=str(tmp_path), lake=str(root))
    assert dataset.partitions("raw") == []
    for day in (DAYS[2], DAYS[0]):
        write_frame(frame(0), root / "lending" / "raw" / f"{day}.parquet")
    write_json({}, root / "lending" / "raw" / "notes.json")
    assert dataset.partitions("raw") == [DAYS[0], DAYS[2]]
    assert dataset.exists("raw", DAYS[0]) and not dataset.exists("raw", DAYS[1])
    landed = tmp_path / "2025-01-05.csv"
    landed.write_bytes(b"id,x\n1,2\n")
    target = dataset.quarantine(landed, "bad file")
    assert target == root.parent / "quarantine" / "lending" / "2025-01-05.csv"
    assert target.read_bytes() == landed.read_bytes()
    assert '"reason": "bad file"' in target.with_name(target.name + ".reason.json").read_text()


def test_the_accepted_history_is_the_trailing_window_of_days_with_features(root, tmp_path):
    from mlops_assets.config.settings import BUILTIN_SPEC
    from mlops_assets.defs.resources import DatasetResource

    dataset = DatasetResource(spec_path=str(BUILTIN_SPEC), home=str(tmp_path), lake=str(root))
    window = dataset.spec.quality.history_days
    days = [str(dt.date(2025, 1, 1) + dt.timedelta(days=i)) for i in range(window + 3)]
    for day in days[:-2] + days[-1:]:  # the day before the last: rejected, no features
        write_frame(frame(0), root / "lending" / "features" / f"{day}.parquet")
    assert dataset.accepted_history(days[-1]) == days[2:-2]  # the window's days, before the day
    assert dataset.accepted_history(days[0]) == []


def test_a_run_reads_the_pinned_schema_once(tmp_path, monkeypatch):
    """Every step of a run asks for the schema; a dataset opened for the run reads its document
    once (a request each on an object store), a dataset opened later reads it again."""
    from mlops_assets.compute.ingest import read_landing
    from mlops_assets.config.settings import Settings
    from mlops_assets.defs.resources import DatasetResource
    from tests.conftest import land, landing_file

    monkeypatch.delenv("MLOPS_LAKE", raising=False)
    settings = Settings.resolve(home=tmp_path / "home")
    land(settings, range(1), rows=50)
    first = read_landing(landing_file(settings, 0), "csv")

    def opened() -> DatasetResource:
        return DatasetResource(spec_path=str(settings.dataset_spec), home=str(settings.home))

    run = opened()
    columns = run.schema(first=first)
    document = json.loads(run.schema_path.read_text())
    renamed = {**document, "columns": {f"{c}_renamed": k for c, k in columns.items()}}
    run.schema_path.write_text(json.dumps(renamed))
    assert run.schema() == columns  # this run's schema
    assert opened().schema() == renamed["columns"]  # the next run reads the document again


def test_the_lake_follows_the_profile_and_mlops_lake(tmp_path, monkeypatch):
    from mlops_assets.config.settings import Settings

    monkeypatch.delenv("MLOPS_LAKE", raising=False)
    settings = Settings.resolve(home=tmp_path / "home")
    assert settings.lake == tmp_path / "home" / "lake"
    assert settings.quarantine == tmp_path / "home" / "quarantine"
    monkeypatch.setenv("MLOPS_LAKE", "s3://bucket/prefix/lake")
    assert settings.lake == tmp_path / "home" / "lake"  # resolved once
    settings = Settings.resolve(home=tmp_path / "home")
    assert str(settings.lake) == "s3://bucket/prefix/lake"
    assert str(settings.quarantine) == "s3://bucket/prefix/quarantine"


def test_the_schema_is_pinned_once_on_an_object_store(tmp_path, monkeypatch):
    from mlops_assets.compute.ingest import read_landing
    from mlops_assets.config.settings import Settings
    from mlops_assets.defs.resources import DatasetResource
    from tests.conftest import land, landing_file

    monkeypatch.setenv("MLOPS_LAKE", f"memory://schema-{uuid.uuid4().hex}/lake")
    settings = Settings.resolve(home=tmp_path / "home")
    land(settings, range(1), rows=50)
    first = read_landing(landing_file(settings, 0), "csv")
    dataset = DatasetResource(spec_path=str(settings.dataset_spec), home=str(settings.home))
    assert not is_local(dataset.schema_path)
    columns = dataset.schema(first=first)
    pinned = dataset.schema_path.read_bytes()
    other = DatasetResource(spec_path=str(settings.dataset_spec), home=str(settings.home))
    assert other.schema(first=first.head(5)) == columns and other.schema() == columns
    assert dataset.schema_path.read_bytes() == pinned  # learned once, not rewritten
    # a learner that found no schema (before and under the lock), then lost the race: its
    # conditional put keeps the first, and it reads that one again
    reads = []

    def pinned_after_two_misses(self, fresh=False):
        reads.append(fresh)
        return json.loads(self.schema_path.read_text()) if len(reads) > 2 else None

    monkeypatch.setattr(DatasetResource, "_pinned", pinned_after_two_misses)
    racer = DatasetResource(spec_path=str(settings.dataset_spec), home=str(settings.home))
    assert racer.schema(first=first.head(5)) == columns
    assert reads == [False, True, True]
    assert dataset.schema_path.read_bytes() == pinned
    assert not (tmp_path / "home" / "lake").exists()


def test_outputs_go_through_dagsters_upath_io_manager(tmp_path):
    """Frames per partition (a single run over a range of days: one file per day), documents as
    JSON, loaded back through Dagster."""
    import datetime as dt

    from mlops_assets.compute.ingest import DAY
    from mlops_assets.defs.lake import ParquetIOManager

    daily = dg.DailyPartitionsDefinition(start_date="2025-01-01")

    @dg.asset(key_prefix="lending", partitions_def=daily)
    def decided(context: dg.AssetExecutionContext) -> pl.DataFrame:
        days = [dt.date.fromisoformat(k) for k in context.partition_keys]
        return pl.DataFrame({DAY: days, "x": list(range(len(days)))})

    @dg.asset(key_prefix="lending")
    def card() -> dict:
        return {"version": 1}

    io_manager = ParquetIOManager(root=str(tmp_path / "lake"))
    assert isinstance(io_manager.create_io_manager(None), dg.UPathIOManager)
    defs = dg.Definitions(assets=[decided, card], resources={"io_manager": io_manager})
    days = {
        "dagster/asset_partition_range_start": DAYS[0],
        "dagster/asset_partition_range_end": DAYS[2],
    }
    assert dg.materialize([decided], resources={"io_manager": io_manager}, tags=days).success
    assert dg.materialize([card], resources={"io_manager": io_manager}).success

    assert files(tmp_path / "lake") == [
        "lending/card/data.json",
        *(f"lending/decided/{d}.parquet" for d in DAYS),
    ]
    assert defs.load_asset_value(["lending", "card"]) == {"version": 1}
    second = defs.load_asset_value(["lending", "decided"], partition_key=DAYS[1])
    assert second["x"].to_list() == [1]
