"""Shared fixtures: throwaway home folders with simulated landing files."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import polars as pl
import psutil
import pytest

from mlops_assets.config.settings import Settings
from mlops_assets.sources.simulator import land_day

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
# No endpoint listens on port 1: the deployment asset records its target without serving, unless
# a test starts a real endpoint and points this at it.
os.environ["MLOPS_SERVING_URL"] = "http://127.0.0.1:1"

ROWS = 300  # small simulated days keep the suite quick; volume checks scale with them


STORES = ("sqlite", "postgres")


# The longest modules first (`make test` keeps this order: --no-loadscope-reorder), so that the
# workers end together. The two retraining scenarios go to two workers (the second copies the
# days the first replays for both) and the README's `make up` to the third. What starts Ray
# holds `ray_lock` only while it runs, and the other workers run modules without Ray meanwhile.
LONGEST_FIRST = (
    "test_retraining_none.py",
    "test_readme.py",
    "test_retraining_scenario.py",
    "test_serving.py",
    "test_models.py",
    "test_sweep.py",
    "test_stores.py",
    "test_pipeline.py",
    "test_serve_config.py",
    "test_object_store_lake.py",
    "test_ray_cluster.py",
    "test_monitoring.py",
    "test_ui_browser.py",
    "test_real_data_gates.py",
    "test_cli.py",
    "test_custom_dataset.py",
    "test_faults.py",
    "test_spec_against_data.py",
    "test_alerts.py",
    "test_notebooks.py",
    "test_dg_project.py",
    "test_deploy.py",
)


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


TIMELINE = os.environ.get("MLOPS_TEST_TIMELINE")  # a file: each test's phases and lock waits


def timeline(what: str, started: float, stopped: float) -> None:
    """One line of the suite's timeline (worker, start, stop, what, the worker's CPU seconds
    so far: its own and its finished children's), when it is asked for."""
    if TIMELINE:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        used = psutil.Process().cpu_times()
        cpu = used.user + used.system + used.children_user + used.children_system
        with open(TIMELINE, "a") as out:
            out.write(f"{worker}\t{started:.1f}\t{stopped:.1f}\t{what}\t{cpu:.1f}\n")


def pytest_runtest_logreport(report):
    if TIMELINE and not hasattr(report, "node"):  # on the worker, not xdist's controller
        import time

        stopped = time.time()
        timeline(f"{report.when} {report.nodeid}", stopped - report.duration, stopped)


@contextlib.contextmanager
def ray_lock():
    """`make test` runs two pytest-xdist workers, one test module per unit (`--dist loadfile`);
    what starts Ray holds this lock so that two Ray clusters never run at once (their ports,
    and this machine's two cores)."""
    import fcntl
    import tempfile
    import time

    with open(Path(tempfile.gettempdir()) / "mlops-tests-ray.lock", "w") as lock:
        waiting = time.time()
        fcntl.flock(lock, fcntl.LOCK_EX)
        timeline("waited for the Ray lock", waiting, time.time())
        yield


@pytest.fixture(scope="module")
def ray_exclusive():
    """`ray_lock` for a whole module (its tests share a Ray cluster)."""
    with ray_lock():
        yield


def pytest_generate_tests(metafunc):
    """Tests marked `stores` run once per store: SQLite files and a PostgreSQL server."""
    if metafunc.definition.get_closest_marker("stores") and "settings" in metafunc.fixturenames:
        metafunc.parametrize("settings", STORES, indirect=True)


@pytest.fixture
def settings(request, tmp_path: Path, monkeypatch) -> Settings:
    """A fresh home folder on the built-in lending spec; with the `postgres` parameter, the
    prod profile on fresh Dagster and MLflow databases of the test PostgreSQL server."""
    if getattr(request, "param", "sqlite") == "postgres":
        for var, db in (("MLOPS_DAGSTER_DB", "dagster"), ("MLFLOW_TRACKING_URI", "mlflow")):
            url = request.getfixturevalue("fresh_database")(db)
            # a password, as in production (the test server trusts loopback and ignores it)
            monkeypatch.setenv(var, url.replace("://postgres@", f"://postgres:{PASSWORD}@"))
        monkeypatch.setenv("MLOPS_ENV", "prod")
        monkeypatch.setenv("MLOPS_ARTIFACTS", str(tmp_path / "artifacts"))
    return Settings.resolve(home=tmp_path / "home")


PASSWORD = "pw-never-in-files-or-run-config"


def postgres_server() -> str:
    """The test PostgreSQL server (`MLOPS_TEST_POSTGRES`, started by `scripts/postgres.sh`)."""
    url = os.environ.get("MLOPS_TEST_POSTGRES")
    if not url:
        reason = "MLOPS_TEST_POSTGRES is not set (scripts/postgres.sh start prints the URL)"
        if os.environ.get("CI"):
            pytest.fail(f"CI runs the PostgreSQL tests for real: {reason}")
        pytest.skip(reason)
    return url


@pytest.fixture
def fresh_database():
    """Creates uniquely named databases on the test server; drops them after the test."""
    import uuid

    import psycopg2

    server, created = postgres_server(), []
    conn = psycopg2.connect(server)
    conn.autocommit = True  # CREATE DATABASE cannot run in a transaction

    def create(prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        conn.cursor().execute(f"CREATE DATABASE {name}")
        created.append(name)
        return server.rsplit("/", 1)[0] + "/" + name

    yield create
    for name in created:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    conn.close()


def land(settings: Settings, days: range, rows: int = ROWS) -> None:
    plan = settings.simulator_plan()
    for day in days:
        land_day(plan, day, rows=rows)


def landing_file(settings: Settings, day: int) -> Path:
    plan = settings.simulator_plan()
    import datetime as dt

    return plan.landing / f"{plan.start + dt.timedelta(days=day)}.csv"


def processes_with(variable: str, value: str) -> list[int]:
    """Live processes whose environment has `variable=value` (children inherit it)."""
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if proc.environ().get(variable) == value:
                found.append(proc.pid)
    return found


def stop_started(process, variable: str, value: str, sig: int) -> None:
    """Stop what a test started: `process`'s group with `sig` (then SIGKILL after 60 s), and
    every process left with `variable=value` in its environment; asserts none is left."""
    import signal
    import subprocess

    if process is not None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    left = [psutil.Process(pid) for pid in processes_with(variable, value)]
    for leftover in left:
        leftover.kill()
    psutil.wait_procs(left, timeout=30)
    assert not processes_with(variable, value)


def check_metadata(home: Path, asset: str, check: str) -> dict:
    """The metadata of the latest evaluation of `asset`'s (e.g. "lending/raw") check `check`."""
    import dagster as dg

    from mlops_assets.commands.execution import instance_for

    key = dg.AssetCheckKey(dg.AssetKey(asset.split("/")), check)
    storage = instance_for(Settings.resolve(home=home)).event_log_storage
    record = storage.get_latest_asset_check_execution_by_key([key])[key]
    return record.event.dagster_event.asset_check_evaluation_data.metadata


def lake_partition(settings: Settings, asset: str, day: str) -> Path:
    return settings.lake / "lending" / asset / f"{day}.parquet"


def read_landing(settings: Settings, day: int) -> pl.DataFrame:
    return pl.read_csv(landing_file(settings, day), infer_schema=False)


def train(settings: Settings, model: dict | None = None, training: dict | None = None):
    """Run the train job in-process (candidate -> backtest -> gates -> champion -> deployment);
    returns the Dagster result."""
    from mlops_assets.commands.execution import QUIET, instance_for
    from mlops_assets.defs.platform import build_definitions

    ops = {}
    if model:
        ops["lending__candidate_model"] = {"config": model}
    if training:
        ops["lending__training_set"] = {"config": training}
    defs = build_definitions(settings)
    return defs.resolve_job_def("lending_train").execute_in_process(
        instance=instance_for(settings), run_config={**QUIET, "ops": ops}, raise_on_error=False
    )


def registry(settings: Settings):
    from mlops_assets.config.spec import load_spec
    from mlops_assets.defs.registry import registry_for

    return registry_for(settings, load_spec(settings.dataset_spec, home=settings.home))


SERVING_PORT = 18000  # not 8000: a developer's own `mlops serve` may be running


def shared_folder(tmp_path_factory) -> Path:
    """A folder every pytest-xdist worker of this run shares (the run's own base temp folder,
    fresh each run); without xdist, the session's."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def built_once(tmp_path_factory, name: str, build) -> Path:
    """The home folder `name`, built by `build(settings)` once per test run: by the first worker
    that needs it, under a file lock (the others wait for it). Never mutated after: tests take
    copies (`copy_home`)."""
    import fcntl

    root = shared_folder(tmp_path_factory) / "shared-homes"
    root.mkdir(exist_ok=True)
    folder = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "built").exists():
            shutil.rmtree(folder, ignore_errors=True)  # a build that failed half-way
            build(Settings.resolve(home=folder / "home"))
            (folder / "built").touch()
    return folder / "home"


def copy_home(source: Path, target: Path) -> Settings:
    """A copy of a home folder at `target` that refers to itself only: the SQLite stores (MLflow's
    artifact locations, Dagster's event metadata) and some text files hold absolute paths,
    rewritten to the copy's. Ray Tune's experiment state of a sweep (`ray_results`, pickles that
    name the home; a sweep never restores it) is not copied."""
    import sqlite3

    shutil.copytree(source, target, ignore=shutil.ignore_patterns("ray_results"))
    old, new = str(source), str(target)
    for db in target.rglob("*.db"):
        with contextlib.closing(sqlite3.connect(db)) as conn, conn:
            tables = [
                t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for table in tables:
                for _, name, kind, *_ in conn.execute(f'PRAGMA table_info("{table}")'):
                    if "CHAR" in kind.upper() or "TEXT" in kind.upper():
                        conn.execute(
                            f'UPDATE "{table}" SET "{name}" = replace("{name}", ?, ?) '
                            f'WHERE instr("{name}", ?) > 0',
                            (old, new, old),
                        )
    for path in target.rglob("*"):  # text files (MLflow's MLmodel names its own folder)
        if path.is_file() and path.suffix != ".db" and old.encode() in path.read_bytes():
            try:
                path.write_text(path.read_text(encoding="utf-8").replace(old, new))
            except UnicodeDecodeError:
                raise AssertionError(f"a binary file of the copy names {old}: {path}") from None
    return Settings.resolve(home=target)


def ingested_base(tmp_path_factory) -> Path:
    """45 simulated days of 400 applications (labels 7 days late), ingested and checked."""
    from mlops_assets.commands.runner import run_pipeline

    def build(settings: Settings) -> None:
        land(settings, range(45), rows=400)
        run_pipeline(settings, train=False)

    return built_once(tmp_path_factory, "ingested", build)


def trained_base(tmp_path_factory) -> Path:
    """`ingested_base`, then trained (v1 champion), decided and monitored, as `mlops run` does."""
    from mlops_assets.commands.runner import run_pipeline

    def build(settings: Settings) -> None:
        copy_home(ingested_base(tmp_path_factory), settings.home)
        run_pipeline(settings, only_new=True)

    return built_once(tmp_path_factory, "trained", build)


def serving_base(tmp_path_factory) -> Path:
    """`trained_base`, then v2 (three stumps, not promoted: worse on the same folds) and v3
    whose stored model file is corrupted (it cannot load)."""

    def build(settings: Settings) -> None:
        copy_home(trained_base(tmp_path_factory), settings.home)
        stumps = {"max_iter": 3, "max_depth": 1, "learning_rate": 0.1}
        train(settings, model={"estimator": "hist_gradient_boosting", "params": stumps})
        train(settings, model={"seed": 2})
        models = registry(settings)
        assert models.champion_version() == 1
        model_id = models.client().get_model_version("lending-dev", "3").source.split("/")[-1]
        location = models.client().get_logged_model(model_id).artifact_location
        stored = next(Path(location.removeprefix("file://")).rglob("*.skops"))
        stored.write_bytes(b"not a model")

    return built_once(tmp_path_factory, "serving", build)


def swept_base(tmp_path_factory) -> Path:
    """`serving_base` whose champion is v2, three stumps (promoted by an operator, without
    gates), after `mlops sweep --trials 4` without training its winner (Ray started and stopped
    for it): a sweep can beat such a champion. The sweep's summary is `sweep.json` beside it."""
    import json

    def build(settings: Settings) -> None:
        from mlops_assets.commands.execution import operate
        from mlops_assets.commands.sweep import run_sweep
        from mlops_assets.defs.jobs import operator_config, operator_job_name

        copy_home(serving_base(tmp_path_factory), settings.home)
        spec = settings.spec
        why = "a weak champion for the sweep tests"
        operate(
            settings,
            operator_job_name(spec, "promote"),
            operator_config(spec, "promote", version=2, reason=why),
        )
        with ray_lock():
            summary = run_sweep(settings, trials=4, train=False)
        (settings.home.parent / "sweep.json").write_text(json.dumps(summary))

    return built_once(tmp_path_factory, "swept", build)


@pytest.fixture(scope="module")
def trained_home(tmp_path_factory) -> Settings:
    """A module's own copy of 45 simulated days of 400 applications, ingested, trained (v1
    champion), decided."""
    return copy_home(trained_base(tmp_path_factory), tmp_path_factory.mktemp("trained") / "home")


@pytest.fixture(scope="module")
def serving_home(tmp_path_factory) -> Settings:
    """A module's own copy of 45 simulated days, ingested and trained: v1 champion (gradient
    boosting), v2 (three stumps, not promoted: worse on the same folds), and v3 whose stored
    model file is corrupted (it cannot load)."""
    return copy_home(serving_base(tmp_path_factory), tmp_path_factory.mktemp("serving") / "home")


@pytest.fixture(scope="module")
def endpoint(serving_home, ray_exclusive):
    """The real endpoint of `serving_home` on 127.0.0.1 (Ray Serve, HAProxy ingress), shared by
    the tests of a module and stopped, with Ray, after them (before `mlops up` starts its own)."""
    from serving import launcher

    previous = os.environ["MLOPS_SERVING_URL"]
    started = launcher.start(serving_home, port=SERVING_PORT, num_cpus=2)
    os.environ["MLOPS_SERVING_URL"] = started.url
    yield started
    os.environ["MLOPS_SERVING_URL"] = previous
    launcher.stop(started.app_name)
