"""The Parquet lake: one file per asset partition, written atomically, read back as polars.

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
| partitions     | `scan_parquet` on the files       | existing objects fetched in one         |
| read           |                                   | concurrent `cat`, scanned in memory     |
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
from mlops_assets.config.storage import as_location, is_local, readable

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
    """Lazily scan the partitions of `key` that exist (missing ones are skipped)."""
    paths = [partition_path(root, key, k) for k in partitions]
    if is_local(root):
        sources = [p for p in paths if p.exists()]
    elif paths:  # one concurrent fetch; a missing object is left out
        fetched = root.fs.cat([p.path for p in paths], on_error="omit")
        sources = [fetched[p.path] for p in paths if p.path in fetched]
    else:
        sources = []
    if not sources:
        return pl.LazyFrame()
    return pl.concat([pl.scan_parquet(s) for s in sources], how="diagonal_relaxed")


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores polars frames as Parquet files in the lake (several partitions load concatenated),
    and small JSON documents (dicts: model cards, reports) as JSON files."""

    root: str

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame | dict | None) -> None:
        if obj is None or not context.has_asset_key:  # an op's result (a release) stays in the run
            return
        partition = context.partition_key if context.has_partition_key else None
        root = as_location(self.root)
        if isinstance(obj, dict):
            path = write_json(obj, partition_path(root, context.asset_key, partition, ".json"))
        elif isinstance(obj, pl.DataFrame) and context.has_asset_partitions and partition is None:
            # a single run over a range of days: one file per day, split on the `_day` column
            for day in context.asset_partition_keys:
                path = write_frame(
                    obj.filter(pl.col(DAY) == dt.date.fromisoformat(day)),
                    partition_path(root, context.asset_key, day),
                )
        elif isinstance(obj, pl.DataFrame):
            path = write_frame(obj, partition_path(root, context.asset_key, partition))
        else:
            raise TypeError(
                f"{context.asset_key.to_user_string()}: expected a polars DataFrame or a dict, "
                f"got {type(obj).__name__}"
            )
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> pl.DataFrame | dict:
        """For `defs.load_asset_value` and ad-hoc reads; assets read through `DatasetResource`,
        with the same functions."""
        root, key = as_location(self.root), context.asset_key
        if not context.has_asset_partitions:
            if partition_path(root, key, None, ".json").exists():
                return read_document(root, key)
            return read_frame(root, key, None)
        keys = context.asset_partition_keys
        if len(keys) == 1:
            return read_frame(root, key, keys[0])
        return read_partitions(root, key, keys).collect()
