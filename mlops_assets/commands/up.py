"""`mlops up`: the whole platform on one machine, until Ctrl-C.

Starts the MLflow server and the Dagster webserver, lands the simulator's history and
materializes every dataset's landed days headless (training each first champion), starts Ray
Serve with the champions (one application per dataset, under `/<name>` when there are several)
and the Dagster daemon (sensors on), then lands one simulated day every `--interval` seconds. Every
child runs in its own process group and is stopped on Ctrl-C or SIGTERM. Re-running on the same
home resumes: landed days are kept, materialized days are not redone, and the sensor's cursor
lives in the Dagster instance.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
from pathlib import Path

import dagster as dg

from mlops_assets import definitions as code_location
from mlops_assets.commands.execution import cancel_queued_runs, instance_for
from mlops_assets.commands.preflight import require_fit
from mlops_assets.commands.runner import run_pipeline
from mlops_assets.commands.servers import (
    HOST,
    MLFLOW_SERVER_ENV,
    bin_path,
    data_docs_server,
    kill_session,
    require_free,
    signal_group,
    wait_http,
)
from mlops_assets.config.settings import Settings
from mlops_assets.sources.simulator import land_day, landed_count
from mlops_assets.sources.story import SimulatorConfig


class Platform:
    """The processes of one `mlops up`, and the simulated clock that feeds them."""

    def __init__(self, settings: Settings, args, simulator: SimulatorConfig):
        self.settings, self.args, self.simulator = settings, args, simulator
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.stopping = False

    def run(self) -> int:
        for port in ("dagster_port", "mlflow_port", "serve_port", "docs_port"):
            require_free(getattr(self.args, port))
        # every child (webserver, daemon, run workers) updates this endpoint on promotion, and
        # links MLflow runs and Dagster runs through these UIs
        os.environ["MLOPS_SERVING_URL"] = f"http://{HOST}:{self.args.serve_port}"
        os.environ["MLOPS_MLFLOW_URL"] = f"http://{HOST}:{self.args.mlflow_port}"
        os.environ["MLOPS_DAGSTER_URL"] = f"http://{HOST}:{self.args.dagster_port}"
        os.environ["MLOPS_DATA_DOCS_URL"] = f"http://{HOST}:{self.args.docs_port}"
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        try:
            self._start()
            return self._live()
        except KeyboardInterrupt:
            return 0
        finally:
            self.stop()

    def _start(self) -> None:
        s = self.settings
        s.prepare_dagster_home()
        s.logs.mkdir(parents=True, exist_ok=True)
        say(f"home {s.home}  datasets {', '.join(p.stem for p in s.datasets)}")
        if s.uses_simulator:
            self.plan = s.simulator_plan()
            self.simulator.save(s.home)
            first = landed_count(self.plan)
            for day in range(first, self.args.backfill_days):
                self._land(day)
            say(
                f"simulator: {self.simulator.describe()}; "
                f"{max(first, self.args.backfill_days)} days landed ({first} already there)"
            )
        for spec in s.specs:  # each spec read against its landed files, as `mlops check`
            require_fit(spec, say)
        mlflow, profile = s.home / "mlflow", s.profile()
        (mlflow / "artifacts").mkdir(parents=True, exist_ok=True)
        # the profile's database (SQLite under the home, or PostgreSQL) is the server's store
        store = profile.tracking_uri
        if not store.startswith(("sqlite:", "postgresql:", "postgres:", "mysql")):
            store = f"sqlite:///{mlflow / 'mlflow.db'}"
        self._spawn(
            "mlflow",
            [
                bin_path("mlflow"),
                "server",
                "--host",
                HOST,
                "--port",
                str(self.args.mlflow_port),
                "--artifacts-destination",
                profile.artifact_location or str(mlflow / "artifacts"),
                "--workers",
                "1",
            ],
            # by environment, not on the command line (which `ps` shows): it may carry a password
            MLFLOW_BACKEND_STORE_URI=store,
            **MLFLOW_SERVER_ENV,
        )
        self._spawn(
            "dagster-webserver",
            [
                bin_path("dagster-webserver"),
                "-h",
                HOST,
                "-p",
                str(self.args.dagster_port),
                *_code_location(),
            ],
        )
        wait_http(f"http://{HOST}:{self.args.mlflow_port}/health", "MLflow", self.children)
        say(f"MLflow server       http://{HOST}:{self.args.mlflow_port}")
        wait_http(
            f"http://{HOST}:{self.args.dagster_port}/server_info",
            "Dagster webserver",
            self.children,
        )
        say(f"Dagster UI          http://{HOST}:{self.args.dagster_port}")
        self._spawn("data-docs", data_docs_server(s.home, self.args.docs_port))
        say(f"Data Docs (GX)      http://{HOST}:{self.args.docs_port}")
        cancelled = cancel_queued_runs(instance_for(s))
        if cancelled:
            say(f"cancelled {cancelled} runs left queued by an earlier session (redone below)")
        for spec_path in s.datasets:
            self._backfill(s.one(spec_path))
        self._start_serving()
        self._spawn("dagster-daemon", [bin_path("dagster-daemon"), "run", *_code_location()])
        say("Dagster daemon      running (landing sensor on)")
        say(f"logs in {s.logs}; Ctrl-C stops everything")

    def _backfill(self, settings: Settings) -> None:
        """Materialize a dataset's landed days not yet done, training its first champion."""
        spec = settings.spec
        say(f"{spec.name}: materializing landed days not yet done (headless, through Dagster)...")
        trained = instance_for(settings).get_latest_materialization_event(
            dg.AssetKey([spec.name, "training_set"])
        )
        summary = run_pipeline(
            settings, only_new=True, train=trained is None, progress=lambda line: say("  " + line)
        )
        say(f"{spec.name}: backfill done in {summary['runtime_seconds']} s")

    def _start_serving(self) -> None:
        from mlops_assets.config.catalog import route_prefix
        from mlops_assets.defs.registry import registry_for

        s = self.settings
        served = [spec for spec in s.specs if registry_for(s, spec).champion_version() is not None]
        if not served:
            say("no champion yet (training did not promote one): Ray Serve not started")
            return
        self._spawn(
            "ray-serve",
            [bin_path("mlops"), "serve", "--port", str(self.args.serve_port)],
        )
        url = f"http://{HOST}:{self.args.serve_port}"
        for spec in served:
            app = url + route_prefix(spec.name)
            wait_http(f"{app}/v1/health", "Ray Serve", self.children, timeout=240)
            say(f"Ray Serve endpoint  {app}  (docs {app}/docs)")

    def _live(self) -> int:
        if not self.settings.uses_simulator:
            say("watching the landing folder; Ctrl-C to stop")
        while not self.stopping:
            deadline = time.monotonic() + self.args.interval
            while time.monotonic() < deadline and not self.stopping:
                self._check_children()
                time.sleep(0.5)
            if self.settings.uses_simulator and not self.stopping:
                day = landed_count(self.plan)
                self._land(day)
                date = self.plan.start + dt.timedelta(days=day)
                say(f"simulator: landed day {day} ({date})")
        return 0

    def _land(self, day: int) -> None:
        c = self.simulator
        land_day(self.plan, day, c.rows, c.seed, c.as_scenario())

    def _spawn(self, name: str, command: list[str], **extra_env: str) -> None:
        log = open(self.settings.logs / f"{name}.log", "ab")  # noqa: SIM115 - child owns it
        env = {**os.environ, **self.settings.env(), **extra_env}
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.settings.home,
            start_new_session=True,
        )
        self.children.append((name, process))

    def _check_children(self) -> None:
        for name, process in self.children:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with status {process.returncode}; "
                    f"see {self.settings.logs / (name + '.log')}"
                )

    def _on_signal(self, *_):
        """The first SIGINT or SIGTERM stops the platform; later ones (a second Ctrl-C, or the
        same signal relayed by `uv run` and sent to the process group) must not cut the
        stopping of the children short."""
        if self.stopping:
            say("already stopping: waiting for the servers to exit (up to 45 s)")
            return
        self.stopping = True
        raise KeyboardInterrupt

    def stop(self) -> None:
        """Stop every child: SIGTERM to its process group, SIGKILL after 45 s (Ray Serve takes
        longest: it drains and stops its controller, proxy and replicas)."""
        self.stopping = True
        for name, process in reversed(self.children):
            if process.poll() is None:
                say(f"stopping {name}")
                signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + 45
        for _, process in self.children:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                signal_group(process, signal.SIGKILL)
                process.wait()
            kill_session(process.pid)  # what it started and left behind (HAProxy reloads)
        self.children.clear()


def say(line: str) -> None:
    print(f"[mlops {time.strftime('%H:%M:%S')}] {line}", flush=True)


WORKSPACE = Path(code_location.__file__).resolve().parents[1] / "workspace.yaml"


def _code_location() -> list[str]:
    """The webserver's and daemon's code location: the checkout's root `workspace.yaml` (the
    compose stack loads the same file); installed from a wheel, which ships no workspace file,
    the module itself."""
    return ["-w", str(WORKSPACE)] if WORKSPACE.exists() else ["-m", code_location.__name__]
