"""The Parquet lake: one file per asset partition, written atomically, read back as polars;
Dagster's `UPathIOManager` writes the assets' outputs.

`<root>/<asset key path>/<partition>.parquet` (or `data.parquet` when unpartitioned). The root is
a local folder or any fsspec URL (`mlops_assets.config.storage`); per backend:

| guarantee      | local folder                      | object store (s3://, any fsspec URL)    |
|----------------|-----------------------------------|-----------------------------------------|
| atomic write   | temp file + rename in the folder  | the bytes in one PUT (S3: `PutObject`,  |
|                |                                   | up to 5 GiB, no multipart); no rename   |
| readers see    | the old file or the new one       | the old object or the new one           |
| idempotent     | same frame, same bytes; a re-materialization overwrites (both)              |
| schema pinned  | `fcntl` lock beside `_schema.json`| conditional PUT (`If-None-Match: *`):   |
| once           |                                   | first learner wins, others read it      |
| partitions     | `scan_parquet` on the files       | one listing, then `scan_parquet` on the |
| read           |                                   | objects: range requests, column pushdown|
| quarantine     | `<root>/../quarantine/<dataset>/`, beside the lake (both)                   |
"""

import datetime as dt
import io
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import dagster as dg
import polars as pl
from upath import UPath

from mlops_assets.compute.ingest import DAY
from mlops_assets.config.storage import as_location, is_local, readable, scan_options

# s3fs's chunksize: an object under min(5 GiB, 2 * chunksize) goes in one PutObject (5 GiB is
# S3's limit for one PUT), never as a multipart upload
SINGLE_PUT = {"s3": 5 * 2**30, "s3a": 5 * 2**30}


class LakeError(OSError):
    """A lake write or read that failed for a reason outside the data (disk, permissions)."""


def partition_path(
    root: Path | UPath, key: dg.AssetKey, partition: str | None, suffix: str = ".parquet"
) -> Path | UPath:
    return root.joinpath(*key.path) / f"{partition or 'data'}{suffix}"


def write_frame(frame: pl.DataFrame, path: Path | UPath) -> Path | UPath:
    """Write `frame` to `path` atomically; deterministic bytes."""
    buffer = io.BytesIO()  # encoded in memory: a full disk is then a plain OS error
    frame.write_parquet(buffer, compression="zstd", statistics=True)
    return write_bytes(buffer.getvalue(), path)


def write_json(data: dict, path: Path | UPath, exclusive: bool = False) -> Path | UPath | None:
    """Write a small JSON document atomically. `exclusive`: only if `path` does not exist yet
    (None if it does): a conditional PUT on an object store; locally an existence check, free of
    races under the caller's lock."""
    text = json.dumps(data, indent=2, default=str).encode()
    return write_bytes(text, path, exclusive)


def write_bytes(data: bytes, path: Path | UPath, exclusive: bool = False) -> Path | UPath | None:
    """`data` to `path` atomically: local temp file + rename, or one PUT on an object store.
    A full disk, a read-only or forbidden location is a `LakeError` naming the path."""
    try:
        if is_local(path):
            return None if exclusive and path.exists() else _write_atomically(path, data)
        return _put(path, data, exclusive)
    except OSError as exc:
        raise LakeError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _put(path: UPath, data: bytes, exclusive: bool) -> UPath | None:
    """One PUT of the whole object (`exclusive`: `If-None-Match: *`, None if one exists)."""
    limit = SINGLE_PUT.get(path.protocol)
    options = {"chunksize": limit} if limit else {}
    try:
        path.fs.pipe_file(path.path, data, mode="create" if exclusive else "overwrite", **options)
    except FileExistsError:
        return None
    return path


def _write_atomically(path: Path, data: bytes) -> Path:
    """`data` to a temp file, renamed over `path`: readers see the old file or the new one,
    never a part. Temp files a killed writer left for this path are removed first; a failed
    write leaves nothing behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        Path(tmp).write_bytes(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


SUFFIXES = (".parquet", ".json")  # frames, and small documents (model cards, reports)
# object stores polars reads itself (object_store): lazily, with range requests
POLARS_STORES = ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "http", "https")


def read_frame(root: Path | UPath, key: dg.AssetKey, partition: str | None) -> pl.DataFrame:
    """One partition of `key` (or its unpartitioned frame); a clear error if it is missing."""
    path = partition_path(root, key, partition)
    if not path.exists():
        raise FileNotFoundError(
            f"{key.to_user_string()} {f'partition {partition} ' if partition else ''}is not in "
            f"the lake ({path}): materialize it first"
        )
    return pl.read_parquet(readable(path))


def read_document(root: Path | UPath, key: dg.AssetKey) -> dict:
    """The JSON document of an unpartitioned asset; a clear error if it is missing."""
    path = partition_path(root, key, None, ".json")
    if not path.exists():
        raise FileNotFoundError(
            f"{key.to_user_string()} is not in the lake ({path}): materialize it first"
        )
    return json.loads(path.read_text())


def read_partitions(
    root: Path | UPath, key: dg.AssetKey, partitions: Iterable[str]
) -> pl.LazyFrame:
    """Lazily scan the partitions of `key` that exist (missing ones are skipped). On an object
    store polars reads the objects itself, with range requests: only the columns (and row
    groups) a query needs are fetched."""
    paths = [partition_path(root, key, k) for k in partitions]
    options = None
    if is_local(root):
        sources = [p for p in paths if p.exists()]
    else:  # one listing of the asset's folder tells which partitions exist
        present = set(_listing(root.joinpath(*key.path)))
        existing = [p for p in paths if p.path in present]
        if root.protocol in POLARS_STORES:
            sources, options = [str(p) for p in existing], scan_options(root)
        else:  # a store polars cannot read itself (memory://, ...): fetched through fsspec
            fetched = root.fs.cat([p.path for p in existing]) if existing else {}
            sources = [fetched[p.path] for p in existing]
    if not sources:
        return pl.LazyFrame()
    scans = [pl.scan_parquet(s, storage_options=options) for s in sources]
    return pl.concat(scans, how="diagonal_relaxed")


def _listing(folder: UPath) -> list[str]:
    try:
        return folder.fs.ls(folder.path, detail=False)
    except FileNotFoundError:
        return []


class LakeIOManager(dg.UPathIOManager):
    """Dagster's `UPathIOManager` over the lake: polars frames as Parquet, one file per partition
    (`<root>/<asset key>/<partition>.parquet`, `data.parquet` unpartitioned), written atomically.
    Two additions: small JSON documents (dicts: model cards, reports) as `data.json`, and a single
    run over a range of days (`BackfillPolicy.single_run`) written one file per day."""

    extension = ".parquet"

    def __init__(self, root: Path | UPath):
        super().__init__(base_path=root)
        self.root = root

    def get_asset_relative_path(self, context: dg.InputContext | dg.OutputContext) -> UPath:
        key = UPath(*context.asset_key.path)
        return key if context.has_asset_partitions else key / "data"

    def make_directory(self, path: UPath) -> None:
        """Nothing: a local write makes its folder, and an object store has none."""

    def dump_to_path(self, context: dg.OutputContext, obj: pl.DataFrame, path: UPath) -> None:
        if not isinstance(obj, pl.DataFrame):
            raise TypeError(
                f"{context.asset_key.to_user_string()}: expected a polars DataFrame or a dict, "
                f"got {type(obj).__name__}"
            )
        write_frame(obj, path)

    def load_from_path(self, context: dg.InputContext, path: UPath) -> pl.DataFrame:
        return pl.read_parquet(readable(path))

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame | dict | None) -> None:
        if obj is None or not context.has_asset_key:  # an op's result (a release) stays in the run
            return
        key = context.asset_key
        if isinstance(obj, dict):
            partition = context.partition_key if context.has_partition_key else None
            path = write_json(obj, partition_path(self.root, key, partition, ".json"))
        elif (
            isinstance(obj, pl.DataFrame)
            and context.has_asset_partitions
            and len(context.asset_partition_keys) > 1
        ):
            for day in context.asset_partition_keys:  # split on the `_day` column
                path = write_frame(
                    obj.filter(pl.col(DAY) == dt.date.fromisoformat(day)),
                    partition_path(self.root, key, day),
                )
        else:
            super().handle_output(context, obj)
            return
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> pl.DataFrame | dict:
        """For `defs.load_asset_value` and ad-hoc reads; assets read through `DatasetResource`,
        with the same functions. Several partitions load as one frame, scanned lazily."""
        key = context.asset_key
        if not context.has_asset_partitions:
            if partition_path(self.root, key, None, ".json").exists():
                return read_document(self.root, key)
            return read_frame(self.root, key, None)
        keys = context.asset_partition_keys
        if len(keys) == 1:
            return read_frame(self.root, key, keys[0])
        return read_partitions(self.root, key, keys).collect()


class ParquetIOManager(dg.ConfigurableIOManagerFactory):
    """The lake's IO manager, configured by its root (a folder or an fsspec URL)."""

    root: str

    def create_io_manager(self, context: dg.InitResourceContext) -> LakeIOManager:
        return LakeIOManager(as_location(self.root))
