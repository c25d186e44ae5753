"""The container files: the compose stack validates, and the images' commands are the ones that run
here (the code location's gRPC server starts and answers health checks on loopback)."""

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

DEPLOY = Path(__file__).parents[1] / "deploy"
BIN = Path(sys.executable).parent
CODE_SERVER_PORT = 14000


def test_the_compose_stack_validates_with_the_compose_client():
    client = shutil.which("docker-compose")
    if client is None:
        message = "docker-compose (Debian's client) is not installed (.ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run(
        [client, "-f", str(DEPLOY / "compose.yaml"), "config"],
        capture_output=True,
        text=True,
        env={**os.environ, "POSTGRES_PASSWORD": "secret", "RAY_AUTH_TOKEN": "token"},
    )
    assert result.returncode == 0, result.stderr
    stack = yaml.safe_load(result.stdout)
    assert set(stack["services"]) == {
        "postgres",
        "mlflow",
        "webserver",
        "daemon",
        "ray-head",
        "ray-worker",
    }
    for name, service in stack["services"].items():
        for port in service.get("ports", []):
            published = port if isinstance(port, str) else f"{port['host_ip']}:{port['published']}"
            assert published.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    assert "secret" in stack["services"]["webserver"]["environment"]["MLOPS_DAGSTER_DB"]
    # webserver and daemon load the root workspace.yaml, which the image copies to /app
    for name in ("webserver", "daemon"):
        command = stack["services"][name]["command"]
        command = command if isinstance(command, str) else " ".join(command)
        assert command.endswith("-w /app/workspace.yaml"), command
    assert "COPY workspace.yaml ./" in (DEPLOY / "Dockerfile").read_text()


def test_every_command_the_images_run_is_installed_here():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    commands = [c.split()[0] for c in re.findall(r'CMD \["([^"]+)"', dockerfile)]
    commands += [s["command"].split()[0] for s in compose["services"].values() if "command" in s]
    assert {"dagster", "mlflow", "dagster-webserver", "dagster-daemon", "ray"} <= set(commands)
    for command in set(commands) - {"sh"}:
        assert (BIN / command).exists(), f"{command} is not installed by the lock"


def test_the_serving_image_serve_runs_the_serve_config_on_every_interface():
    """Its CMD rewrites deploy/serve.yaml's loopback host to 0.0.0.0 (the same sed, run here),
    then `serve run`s the result with the HAProxy loopback hook in the driver's runtime env."""
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    command = json.loads(re.findall(r"^CMD (\[.*\])$", dockerfile, re.MULTILINE)[-1])[-1]
    words = shlex.split(command)
    assert "exec serve run --address auto /tmp/serve.yaml" in command
    assert (BIN / "serve").exists(), "serve is not installed by the lock"
    runtime_env = json.loads(words[words.index("--runtime-env-json") + 1])
    assert runtime_env == {"worker_process_setup_hook": "serving.haproxy_loopback.patch"}
    rewrite = re.search(r"(sed '[^']+' deploy/serve.yaml) > /tmp/serve.yaml", command).group(1)
    rewritten = subprocess.run(
        rewrite, shell=True, cwd=DEPLOY.parent, capture_output=True, text=True, check=True
    ).stdout
    container = ServeDeploySchema.model_validate(yaml.safe_load(rewritten))
    local = ServeDeploySchema.model_validate(yaml.safe_load((DEPLOY / "serve.yaml").read_text()))
    assert (local.http_options.host, container.http_options.host) == ("127.0.0.1", "0.0.0.0")
    assert container.applications == local.applications


@pytest.mark.slow
def test_the_code_location_image_command_serves_the_definitions_over_grpc(tmp_path):
    env = {**os.environ, "MLOPS_HOME": str(tmp_path / "home"), "DAGSTER_HOME": str(tmp_path)}
    server = subprocess.Popen(
        [
            str(BIN / "dagster"),
            *("code-server", "start", "-h", "127.0.0.1", "-p", str(CODE_SERVER_PORT)),
            *("-m", "mlops_assets.definitions"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            check = subprocess.run(
                [
                    str(BIN / "dagster"),
                    *("api", "grpc-health-check", "-h", "127.0.0.1", "-p", str(CODE_SERVER_PORT)),
                ],
                env=env,
                capture_output=True,
            )
            if check.returncode == 0:
                break
            assert server.poll() is None, server.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the code server did not answer in 120 s"
            time.sleep(1)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
