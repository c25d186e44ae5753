"""The Parquet lake: one file per asset partition, written atomically, read back as polars.

`<root>/<asset key path>/<partition>.parquet` (or `data.parquet` when unpartitioned). A write goes
to a temporary file in the same folder and is renamed over the target, so a reader sees either the
old file or the new one, never half of one. Same frame, same bytes.
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

from mlops_assets.compute.ingest import DAY


class LakeError(OSError):
    """A lake write or read that failed for a reason outside the data (disk, permissions)."""


def partition_path(
    root: Path, key: dg.AssetKey, partition: str | None, suffix: str = ".parquet"
) -> Path:
    return root.joinpath(*key.path) / f"{partition or 'data'}{suffix}"


def write_frame(frame: pl.DataFrame, path: Path) -> Path:
    """Write `frame` to `path` atomically (temp file + rename); deterministic bytes."""
    buffer = io.BytesIO()  # encoded in memory: a full disk is then a plain OS error
    frame.write_parquet(buffer, compression="zstd", statistics=True)
    return _write_atomically(path, lambda tmp: Path(tmp).write_bytes(buffer.getvalue()))


def write_json(data: dict, path: Path) -> Path:
    """Write a small JSON document atomically."""
    return _write_atomically(
        path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=2, default=str))
    )


def _write_atomically(path: Path, write) -> Path:
    """`write(tmp)` then rename over `path`: readers see the old file or the new one, never a
    part. Temp files a killed writer left for this path are removed first. A full disk, a
    read-only or forbidden folder is a `LakeError` naming the path, and leaves nothing behind."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f".{path.name}.*.tmp"):
            stale.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            write(tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as exc:
        raise LakeError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path


SUFFIXES = (".parquet", ".json")  # frames, and small documents (model cards, reports)


def read_frame(root: Path, key: dg.AssetKey, partition: str | None) -> pl.DataFrame:
    """One partition of `key` (or its unpartitioned frame); a clear error if it is missing."""
    path = partition_path(root, key, partition)
    if not path.exists():
        raise FileNotFoundError(
            f"{key.to_user_string()} {f'partition {partition} ' if partition else ''}is not in "
            f"the lake ({path}): materialize it first"
        )
    return pl.read_parquet(path)


def read_document(root: Path, key: dg.AssetKey) -> dict:
    """The JSON document of an unpartitioned asset; a clear error if it is missing."""
    path = partition_path(root, key, None, ".json")
    if not path.exists():
        raise FileNotFoundError(
            f"{key.to_user_string()} is not in the lake ({path}): materialize it first"
        )
    return json.loads(path.read_text())


def read_partitions(root: Path, key: dg.AssetKey, partitions: Iterable[str]) -> pl.LazyFrame:
    """Lazily scan the partitions of `key` that exist (missing ones are skipped)."""
    paths = [p for p in (partition_path(root, key, k) for k in partitions) if p.exists()]
    if not paths:
        return pl.LazyFrame()
    return pl.concat([pl.scan_parquet(p) for p in paths], how="diagonal_relaxed")


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores polars frames as Parquet files in the lake (several partitions load concatenated),
    and small JSON documents (dicts: model cards, reports) as JSON files."""

    root: str

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame | dict | None) -> None:
        if obj is None or not context.has_asset_key:  # an op's result (a release) stays in the run
            return
        partition = context.partition_key if context.has_partition_key else None
        if isinstance(obj, dict):
            path = write_json(
                obj, partition_path(Path(self.root), context.asset_key, partition, ".json")
            )
        elif isinstance(obj, pl.DataFrame) and context.has_asset_partitions and partition is None:
            # a single run over a range of days: one file per day, split on the `_day` column
            for day in context.asset_partition_keys:
                path = write_frame(
                    obj.filter(pl.col(DAY) == dt.date.fromisoformat(day)),
                    partition_path(Path(self.root), context.asset_key, day),
                )
        elif isinstance(obj, pl.DataFrame):
            path = write_frame(obj, partition_path(Path(self.root), context.asset_key, partition))
        else:
            raise TypeError(
                f"{context.asset_key.to_user_string()}: expected a polars DataFrame or a dict, "
                f"got {type(obj).__name__}"
            )
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> pl.DataFrame | dict:
        """For `defs.load_asset_value` and ad-hoc reads; assets read through `DatasetResource`,
        with the same functions."""
        root, key = Path(self.root), context.asset_key
        if not context.has_asset_partitions:
            if partition_path(root, key, None, ".json").exists():
                return read_document(root, key)
            return read_frame(root, key, None)
        keys = context.asset_partition_keys
        if len(keys) == 1:
            return read_frame(root, key, keys[0])
        return read_partitions(root, key, keys).collect()
