"""The endpoint deployed from its Serve config file (`deploy/serve.yaml`) by Ray's own CLI: a
`ray start --head` of its own (loopback, its own ports and temp dir), then `serve run` of the file
(port moved, tracking URI given through a named variable); `GET /v1/health` answers with the
champion. Every process the test started is stopped after it, by an environment marker."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psutil
import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

from serving.builder import ServeArgs, resolve
from serving.launcher import HAPROXY_ENV, wait_until_healthy
from serving.rollout import ServingError
from tests.conftest import registry, stop_started

BIN = Path(sys.executable).parent
CONFIG = Path(__file__).parents[1] / "deploy" / "serve.yaml"
GCS_PORT, NODE_PORT, SERVE_PORT = 16679, 16680, 18300  # beside test_ray_cluster's and conftest's
STATS_PORT = 18704
HOOK = "serving.haproxy_loopback.patch"
MARKER = "MLOPS_TEST_SERVE_CONFIG"
URI_VARIABLE = "MLOPS_TEST_TRACKING_URI"


def application(config: dict) -> dict:
    return next(a for a in config["applications"] if a["name"] == "mlops-lending")


def test_the_config_file_is_a_serve_config_whose_args_the_builder_accepts():
    config = yaml.safe_load(CONFIG.read_text())
    schema = ServeDeploySchema.model_validate(config)
    assert (schema.http_options.host, schema.http_options.port) == ("127.0.0.1", 8000)
    app = application(config)
    assert app["import_path"] == "serving.builder:app_builder" and app["route_prefix"] == "/"
    assert ServeArgs.model_validate(app["args"]).alias == "champion"


def test_args_refuse_a_password_an_unknown_key_and_an_unset_variable(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="holds a password"):
        ServeArgs(tracking_uri="postgresql://mlops:secret@db:5432/mlflow")
    with pytest.raises(ValueError, match="replica"):
        ServeArgs.model_validate({"replica": 2})
    monkeypatch.delenv(URI_VARIABLE, raising=False)
    with pytest.raises(ServingError, match=f"names {URI_VARIABLE}, which is not set"):
        resolve(ServeArgs(home=str(tmp_path), tracking_uri_env=URI_VARIABLE))


def ray_head(temp_dir: str) -> list[str]:
    """`ray start --head` on loopback with every listener moved off Ray's defaults."""
    return [
        str(BIN / "ray"),
        *("start", "--head", f"--port={GCS_PORT}", "--include-dashboard=false"),
        *(f"--temp-dir={temp_dir}", "--node-ip-address=127.0.0.1", "--num-cpus=2"),
        f"--ray-client-server-port={NODE_PORT}",
        f"--node-manager-port={NODE_PORT + 1}",
        f"--object-manager-port={NODE_PORT + 2}",
        f"--dashboard-agent-listen-port={NODE_PORT + 3}",
        f"--dashboard-agent-grpc-port={NODE_PORT + 4}",
        f"--metrics-export-port={NODE_PORT + 5}",
        f"--runtime-env-agent-port={NODE_PORT + 6}",
        f"--min-worker-port={NODE_PORT + 20}",
        f"--max-worker-port={NODE_PORT + 99}",
    ]


def haproxy(env: dict) -> list[str]:
    """The serving image's ingress: HAProxy on the node, its side listeners moved off Ray's
    defaults here and kept on loopback by the worker setup hook in the driver's runtime env."""
    env.update(HAPROXY_ENV)
    env["RAY_SERVE_HAPROXY_STATS_PORT"] = str(STATS_PORT)
    env["RAY_SERVE_HAPROXY_METRICS_PORT"] = str(STATS_PORT + 1)
    return ["--runtime-env-json", json.dumps({"worker_process_setup_hook": HOOK})]


def listeners(port: int) -> set[str]:
    return {c.laddr.ip for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == port}


@pytest.mark.slow
def test_serve_run_of_the_config_file_serves_the_champion(trained_home, ray_exclusive, tmp_path):
    """As the serving image runs it: HAProxy ingress, listeners kept on loopback. (Serve's
    Python proxy, the other ingress, is what `mlops serve` falls back to: test_serving.)"""
    config = yaml.safe_load(CONFIG.read_text())
    config["http_options"]["port"] = SERVE_PORT
    application(config)["args"]["tracking_uri_env"] = URI_VARIABLE
    moved = tmp_path / "serve.yaml"
    moved.write_text(yaml.safe_dump(config))
    marker, temp_dir = uuid.uuid4().hex, tempfile.mkdtemp(prefix="ray-cfg-")
    env = {
        **os.environ,
        "MLOPS_HOME": str(trained_home.home),
        "MLOPS_DATASET": str(trained_home.dataset_spec),
        URI_VARIABLE: registry(trained_home).tracking_uri,
        "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0",  # workers run this venv's Python as it is
        # `ray start` clusters authenticate their RPCs: the node and `serve run` share a token
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": uuid.uuid4().hex,
        MARKER: marker,
    }
    env.pop("RAY_ADDRESS", None)
    driver = haproxy(env)
    log = tmp_path / "serve.log"
    served = None
    try:
        subprocess.run(ray_head(temp_dir), env=env, check=True, capture_output=True)
        with log.open("w") as output:
            served = subprocess.Popen(
                [
                    *(str(BIN / "serve"), "run", "--address", f"127.0.0.1:{GCS_PORT}"),
                    *(str(moved), *driver),
                ],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            health = wait_until_healthy(f"http://127.0.0.1:{SERVE_PORT}", timeout=240)
        except ServingError as exc:
            raise AssertionError(f"{exc}\n{log.read_text()[-3000:]}") from exc
        champion = registry(trained_home).champion_version()
        assert health["model"] == {"name": "lending-dev", "version": champion, "alias": "champion"}
        assert listeners(SERVE_PORT) and listeners(STATS_PORT) == {"127.0.0.1"}
    finally:
        # `serve run` shuts Serve down on Ctrl-C
        stop_started(served, MARKER, marker, signal.SIGINT)
        shutil.rmtree(temp_dir, ignore_errors=True)
