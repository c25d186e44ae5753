"""Resources: the datasets (their specs and where their data lives) and the endpoint, shared by
every dataset of the code location; `DatasetsResource.of(spec)` is one dataset."""

import contextlib
import datetime as dt
import fcntl
import json
import os
from functools import cached_property
from pathlib import Path

import dagster as dg
import polars as pl
from upath import UPath

from mlops_assets.compute.features import FeatureColumns, feature_columns
from mlops_assets.compute.ingest import IngestError, infer_schema
from mlops_assets.compute.profile import FeatureProfile, fit_profile
from mlops_assets.config.catalog import route_prefix
from mlops_assets.config.profiles import load_profile
from mlops_assets.config.spec import DatasetSpec, load_spec
from mlops_assets.config.storage import as_location, is_local, lake_location
from mlops_assets.defs.lake import (
    SUFFIXES,
    LakeError,
    partition_path,
    read_document,
    read_frame,
    read_partitions,
    write_bytes,
    write_json,
)


class DatasetResource(dg.ConfigurableResource):
    """One dataset: its validated spec, its lake, quarantine and pinned schema."""

    spec_path: str
    home: str
    lake: str = ""  # the lake's root, a folder or an fsspec URL; empty: the profile's

    @cached_property
    def spec(self) -> DatasetSpec:
        return load_spec(self.spec_path, home=self.home)

    @cached_property
    def lake_root(self) -> Path | UPath:
        if self.lake:
            return as_location(self.lake)
        return lake_location(Path(self.home), load_profile(Path(self.home)).lake)

    @property
    def quarantine_dir(self) -> Path | UPath:
        return self.lake_root.parent / "quarantine" / self.spec.name

    @property
    def schema_path(self) -> Path | UPath:
        return self.lake_root / self.spec.name / "_schema.json"

    def key(self, asset: str) -> dg.AssetKey:
        return dg.AssetKey([self.spec.name, asset])

    def landing_file(self, day: str, outcomes: bool = False) -> Path:
        folder = self.spec.outcomes if outcomes else self.spec.landing
        return folder / f"{day}.{self.spec.format}"

    def schema(self, first: pl.DataFrame | None = None) -> dict[str, str]:
        """The pinned schema; learned from `first` (and pinned) when there is none yet, or when
        the spec keys that shaped it (`schema_basis`) changed since. A schema learned under an
        earlier spec is kept beside it as `_schema.<time>.json`; partitions are never touched.
        A column pinned as float stays float when it is learned again (a day of whole numbers
        must not narrow it to int)."""
        pinned = self._pinned()
        if pinned and (first is None or pinned.get("spec") == self._basis):
            return pinned["columns"]
        if first is None:
            raise IngestError(f"no schema pinned yet for {self.spec.name} ({self.schema_path})")
        with self._schema_lock():  # concurrent runs learn it once
            pinned = self._pinned(fresh=True)
            if pinned and pinned.get("spec") == self._basis:
                return pinned["columns"]
            columns = infer_schema(first, self.spec)
            earlier = pinned["columns"] if pinned else {}
            columns = {
                c: "float" if kind == "int" and earlier.get(c) == "float" else kind
                for c, kind in columns.items()
            }
            now = dt.datetime.now(dt.UTC)
            if pinned:
                stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
                self.schema_path.rename(self.schema_path.with_name(f"_schema.{stamp}.json"))
            document = {"columns": columns, "spec": self._basis, "learned_at": now.isoformat()}
            if write_json(document, self.schema_path, exclusive=True) is None:
                return self._pinned(fresh=True)["columns"]  # another learner pinned it first
            self._schema_document["pinned"] = document
        return columns

    @contextlib.contextmanager
    def _schema_lock(self):
        """Locally an exclusive `fcntl` lock beside the schema. An object store has no lock: the
        schema is written with a conditional put (`exclusive`), so the first learner wins."""
        if not is_local(self.schema_path):
            yield
            return
        path = self.schema_path.with_name("_schema.lock")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            lock = open(path, "w")  # noqa: SIM115 - closed by the `with` below
        except OSError as exc:
            raise LakeError(f"cannot write {path}: {exc.strerror or exc}") from exc
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _pinned(self, fresh: bool = False) -> dict | None:
        """The pinned schema document, read once per run (it changes only with the spec): every
        step asks for it, and each read is a request on an object store."""
        if fresh or self._schema_document.get("pinned") is None:
            path = self.schema_path
            self._schema_document["pinned"] = (
                json.loads(path.read_text()) if path.exists() else None
            )
        return self._schema_document["pinned"]

    @cached_property
    def _schema_document(self) -> dict[str, dict | None]:
        return {}

    @property
    def _basis(self) -> dict:
        return schema_basis(self.spec)

    def feature_columns(self) -> FeatureColumns:
        return feature_columns(self.spec, self.schema())

    def read(self, asset: str, day: str | None = None) -> pl.DataFrame:
        """One partition of `asset` (`day` None: the unpartitioned frame)."""
        return read_frame(self.lake_root, self.key(asset), day)

    def scan(self, asset: str, days: list[str]) -> pl.LazyFrame:
        """The partitions of `asset` for `days` that exist, concatenated lazily."""
        return read_partitions(self.lake_root, self.key(asset), days)

    def frame(self, asset: str, days: list[str]) -> pl.DataFrame:
        return self.scan(asset, days).collect()

    def exists(self, asset: str, day: str | None = None) -> bool:
        """Whether the lake holds `asset` (its partition `day`, or its document or frame)."""
        key = self.key(asset)
        if day is not None:
            return partition_path(self.lake_root, key, day).exists()
        return any(partition_path(self.lake_root, key, None, s).exists() for s in SUFFIXES)

    def partitions(self, asset: str) -> list[str]:
        """Days of `asset` present in the lake, in order."""
        folder = self.lake_root.joinpath(*self.key(asset).path)
        return sorted(p.stem for p in folder.glob("????-??-??.parquet")) if folder.is_dir() else []

    def partition_files(self, asset: str, days: list[str]) -> list[Path | UPath]:
        return [partition_path(self.lake_root, self.key(asset), d) for d in days]

    def document(self, asset: str) -> dict:
        """The JSON document of an unpartitioned asset (model card, backtest report)."""
        return read_document(self.lake_root, self.key(asset))

    def accepted_history(self, day: str) -> list[str]:
        """Days in the trailing window before `day` whose data passed every blocking check.

        A day counts once its features partition exists: features are written only after the
        raw partition's blocking checks passed, so rejected days never shape "normal".
        """
        first = dt.date.fromisoformat(day) - dt.timedelta(days=self.spec.quality.history_days)
        # one listing, not a request per day of the window (on an object store)
        return [d for d in self.partitions("features") if first.isoformat() <= d < day]

    @cached_property
    def _profiles(self) -> dict[str, FeatureProfile]:
        return {}

    def history_profile(self, day: str) -> FeatureProfile:
        """Profile of the raw rows of the accepted days before `day`, computed once per run
        (the raw checks, the features and the feature checks of a day all use it)."""
        if day not in self._profiles:
            self._profiles[day] = self._fit_history_profile(day)
        return self._profiles[day]

    def _fit_history_profile(self, day: str) -> FeatureProfile:
        days = self.accepted_history(day)
        if not days:
            return FeatureProfile()
        columns = self.feature_columns()
        schema = self.schema()
        numeric = [
            c
            for c, kind in schema.items()
            if kind in ("int", "float") and c not in (self.spec.id_column, self.spec.target.column)
        ]
        categorical = sorted(
            set(columns.categorical)
            | {
                c
                for c, kind in schema.items()
                if kind in ("str", "bool")
                and c not in (self.spec.id_column, self.spec.target.column)
            }
        )
        history = self.scan("raw", days)
        return fit_profile(history, numeric, categorical)

    def quarantine(self, source: Path, reason: str) -> Path | UPath:
        """Copy a rejected landing file to quarantine with a `.reason.json` beside it."""
        target = self.quarantine_dir / source.name
        write_bytes(source.read_bytes(), target)
        write_json(
            {
                "file": str(source),
                "reason": reason,
                "quarantined_at": dt.datetime.now(dt.UTC).isoformat(),
            },
            target.with_name(target.name + ".reason.json"),
        )
        return target


def schema_basis(spec: DatasetSpec) -> dict:
    """The spec keys that shape the pinned schema: which columns are text (the id, the declared
    categoricals), which one is the target, and which columns the files must hold."""

    def listed(columns):
        return sorted(columns) if columns is not None else "auto"

    return {
        "id_column": spec.id_column,
        "target": spec.target.column,
        "features": listed(spec.features),
        "categorical": listed(spec.categorical),
        "segments": sorted(spec.segments),
        "protected": sorted(spec.protected),
    }


class DatasetsResource(dg.ConfigurableResource):
    """Every dataset of the platform: the home and the lake they share."""

    home: str
    lake: str = ""  # the lake's root, a folder or an fsspec URL; empty: the profile's

    @cached_property
    def _opened(self) -> dict[str, DatasetResource]:
        return {}

    def of(self, spec: DatasetSpec) -> DatasetResource:
        """The dataset of `spec`, opened once per run (its caches serve every step)."""
        if spec.name not in self._opened:
            self._opened[spec.name] = DatasetResource(
                spec_path=str(spec.source), home=self.home, lake=self.lake
            )
        return self._opened[spec.name]


class ServingResource(dg.ConfigurableResource):
    """The HTTP endpoint that serves the datasets' models (`mlops serve`, `mlops up`), each
    dataset's application at its `route_prefix`."""

    url: str = "http://127.0.0.1:8000"
    api_key_env: str = "MLOPS_API_KEY"  # the variable holding the API key, if one is required

    def url_of(self, dataset: str) -> str:
        return f"{self.url.rstrip('/')}{route_prefix(dataset)}"

    def client(self, dataset: str, timeout: float = 30.0):
        from serving.client import Client

        key = os.environ.get(self.api_key_env) or None
        return Client(self.url_of(dataset), key, timeout=timeout)
