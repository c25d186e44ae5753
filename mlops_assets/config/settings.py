"""Where the platform keeps its state: one home folder, laid out the same on every machine.

Everything (landing files, the Parquet lake, quarantine, the Dagster instance, the MLflow store)
lives under one home folder: `--home DIR`, else `MLOPS_HOME`, else `./.mlops`. The lake (with the
quarantine and reports beside it) may move to object storage: the profile's `lake`, e.g.
`MLOPS_LAKE=s3://bucket/prefix/lake` (`mlops_assets.config.storage`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from upath import UPath

from mlops_assets.config.storage import lake_location

if TYPE_CHECKING:
    from mlops_assets.config.profiles import EnvironmentProfile
    from mlops_assets.config.spec import DatasetSpec
    from mlops_assets.defs.resources import DatasetResource

BUILTIN_SPEC = Path(__file__).parent / "datasets" / "lending.yaml"

_HEADER = "# Written by mlops"
STORAGE_URL_ENV = "MLOPS_DAGSTER_STORAGE_URL"  # set by mlops from the profile's dagster_storage
_DAGSTER_YAML = """\
# Written by mlops from the profile (MLOPS_ENV): SQLite under the home, or the profile's
# dagster_storage (PostgreSQL). Remove this line to keep your own edits.
telemetry:
  enabled: false
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: {max_runs}
"""


@dataclass(frozen=True)
class Settings:
    """Resolved locations of the platform's state, the dataset in use and the datasets served.

    `dataset_spec` is the dataset a single-dataset command works on; `datasets` are those the
    code location and `mlops up` build: the one named (`--dataset`, `MLOPS_DATASET`: a registered
    name or a spec path), else every registered dataset (`mlops datasets list`).

    Resolved once: the spec, the profile (from `MLOPS_ENV` and `MLOPS_PROFILES` as they were
    when first asked) and the lake are read on first use and kept; a changed environment takes a
    new `Settings.resolve()`."""

    home: Path
    dataset_spec: Path
    datasets: tuple[Path, ...] = ()
    named: bool = False  # a dataset was named: the platform is narrowed to it

    @classmethod
    def resolve(cls, home: str | os.PathLike | None = None, dataset: str | None = None) -> Settings:
        """Settings from explicit arguments, then the environment, then defaults."""
        from mlops_assets.config.catalog import registered_datasets, spec_of

        home_dir = Path(home or os.environ.get("MLOPS_HOME") or ".mlops").expanduser().resolve()
        named = dataset or os.environ.get("MLOPS_DATASET")
        if named:
            spec = spec_of(str(named))
            return cls(home=home_dir, dataset_spec=spec, datasets=(spec,), named=True)
        registered = tuple(registered_datasets().values())
        builtin = BUILTIN_SPEC.resolve()
        spec = builtin if builtin in registered or not registered else registered[0]
        return cls(home=home_dir, dataset_spec=spec, datasets=registered or (spec,))

    @property
    def uses_simulator(self) -> bool:
        return self.dataset_spec == BUILTIN_SPEC.resolve()

    def one(self, spec: Path) -> Settings:
        """These settings narrowed to the dataset `spec` (a command over each dataset)."""
        return Settings(home=self.home, dataset_spec=spec, datasets=(spec,), named=True)

    @cached_property
    def spec(self) -> DatasetSpec:
        """The validated spec of `dataset_spec`."""
        from mlops_assets.config.spec import load_spec

        return load_spec(self.dataset_spec, home=self.home)

    @cached_property
    def specs(self) -> tuple[DatasetSpec, ...]:
        """The validated specs of `datasets`, in order."""
        from mlops_assets.config.spec import load_spec

        return tuple(
            self.spec if p == self.dataset_spec else load_spec(p, home=self.home)
            for p in self.datasets
        )

    def dataset(self) -> DatasetResource:
        """The dataset in use, on this home's lake (a command's view; runs get theirs from the
        `datasets` resource)."""
        from mlops_assets.defs.resources import DatasetResource

        return DatasetResource(
            spec_path=str(self.dataset_spec), home=str(self.home), lake=str(self.lake)
        )

    @cached_property
    def lake(self) -> Path | UPath:
        """The Parquet lake: `<home>/lake`, or the profile's `lake` (a folder or fsspec URL)."""
        return lake_location(self.home, self.profile().lake)

    @property
    def quarantine(self) -> Path | UPath:
        """Rejected landing files, beside the lake (`<home>/quarantine` by default)."""
        return self.lake.parent / "quarantine"

    @property
    def ground_truth(self) -> Path:
        return self.home / "ground_truth"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    def env(self) -> dict[str, str]:
        """Environment for child processes (webserver, daemon, run workers) of this home."""
        return {
            "MLOPS_HOME": str(self.home),
            **({"MLOPS_DATASET": str(self.dataset_spec)} if self.named else {}),
            "DAGSTER_HOME": str(self.dagster_home),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
            "MLOPS_ENV": os.environ.get("MLOPS_ENV", "dev"),
            "MLOPS_SERVING_URL": self.serving_url,
            "MLOPS_MLFLOW_URL": self.mlflow_url,
            "MLOPS_DAGSTER_URL": self.dagster_url,
            **self._storage_env(),
        }

    def _storage_env(self) -> dict[str, str]:
        """`STORAGE_URL_ENV`: the profile's Dagster storage URL in the dialect dagster-postgres
        needs (psycopg2: its NOTIFY fails under SQLAlchemy's psycopg 3 dialect), for the
        dagster.yaml's `env:` reference; empty when storage is SQLite."""
        storage = self.profile().dagster_storage
        if not storage:
            return {}
        return {STORAGE_URL_ENV: "postgresql+psycopg2://" + storage.split("://", 1)[1]}

    @property
    def serving_url(self) -> str:
        """The model endpoint: `MLOPS_SERVING_URL`, else loopback at `MLOPS_SERVE_PORT` (8000)."""
        port = os.environ.get("MLOPS_SERVE_PORT") or "8000"
        return os.environ.get("MLOPS_SERVING_URL") or f"http://127.0.0.1:{port}"

    @property
    def mlflow_url(self) -> str:
        """The MLflow UI, for links from Dagster: `MLOPS_MLFLOW_URL`, else loopback at 5000
        (where `mlops up` serves it)."""
        return os.environ.get("MLOPS_MLFLOW_URL") or "http://127.0.0.1:5000"

    @property
    def dagster_url(self) -> str:
        """The Dagster UI, for links from MLflow: `MLOPS_DAGSTER_URL`, else loopback at 3000."""
        return os.environ.get("MLOPS_DAGSTER_URL") or "http://127.0.0.1:3000"

    @property
    def mlflow_dir(self) -> Path:
        return self.home / "mlflow"

    def profile(self, env: str | None = None) -> EnvironmentProfile:
        """The deployment profile `env` (default: MLOPS_ENV's, read once) for this home."""
        from mlops_assets.config.profiles import load_profile

        return self._profile if env is None else load_profile(self.home, env)

    @cached_property
    def _profile(self) -> EnvironmentProfile:
        from mlops_assets.config.profiles import load_profile

        return load_profile(self.home)

    def simulator_plan(self):
        """Where the built-in simulator lands its files; only for the built-in spec."""
        from mlops_assets.sources.simulator import plan_for

        if not self.uses_simulator:
            raise ValueError(
                f"the simulator writes the built-in lending dataset only, not {self.dataset_spec}"
            )
        return plan_for(self.spec, self.ground_truth, self.lake)

    def prepare_dagster_home(self, max_concurrent_runs: int = 2) -> Path:
        """Create the project-local DAGSTER_HOME with its dagster.yaml: run, event log and schedule
        storage in SQLite, or in the profile's PostgreSQL database. A dagster.yaml without our
        header line is the user's own and is kept."""
        self.dagster_home.mkdir(parents=True, exist_ok=True)
        config = self.dagster_home / "dagster.yaml"
        if config.exists() and not config.read_text().startswith(_HEADER):
            return self.dagster_home
        text = _DAGSTER_YAML.format(max_runs=max_concurrent_runs)
        if self.profile().dagster_storage:
            # a reference to the variable, never the URL: it may carry a password
            os.environ.update(self._storage_env())
            text += f"storage:\n  postgres:\n    postgres_url:\n      env: {STORAGE_URL_ENV}\n"
        if not config.exists() or config.read_text() != text:
            config.write_text(text)
        return self.dagster_home
