"""Scale-out on a two-node Ray cluster (a head and a worker started as separate `ray start`
processes on this machine, loopback only, one CPU each): a sweep's trials run on both nodes; the
endpoint puts one replica per node, and killing the worker node's raylet under traffic loses the
replica on it, and requests recover on the other."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psutil
import pytest

from serving.client import Client
from serving.launcher import wait_until_healthy
from tests.conftest import stop_started
from tests.test_serving import records

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
GCS_PORT, SERVE_PORT = 16379, 18100
MARKER = "MLOPS_TEST_RAY_CLUSTER"
HEAD = ["--head", f"--port={GCS_PORT}", "--include-dashboard=false"]
NODE_PORTS = {  # every listener of a node, so that two nodes on one host do not collide
    "head": 16380,
    "worker": 16580,
}


def node_flags(role: str) -> list[str]:
    base = NODE_PORTS[role]
    return [
        "--node-ip-address=127.0.0.1",
        "--num-cpus=1",
        f"--node-manager-port={base}",
        f"--object-manager-port={base + 1}",
        f"--dashboard-agent-listen-port={base + 2}",
        f"--dashboard-agent-grpc-port={base + 3}",
        f"--metrics-export-port={base + 4}",
        f"--runtime-env-agent-port={base + 5}",
        f"--min-worker-port={base + 20}",
        f"--max-worker-port={base + 99}",
    ]


def raylet(role: str) -> psutil.Process:
    port = f"--node_manager_port={NODE_PORTS[role]}"
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == "raylet" and port in (process.info["cmdline"] or []):
            return process
    raise AssertionError(f"no raylet of the {role} node")


def replicas_per_node() -> dict[str, int]:
    counts = {}
    for role in NODE_PORTS:
        children = raylet(role).children(recursive=True)
        counts[role] = sum("ServeReplica" in " ".join(c.cmdline()) for c in children)
    return counts


def start_nodes(env: dict, marker: str) -> str:
    """`ray start` a head and a worker node; returns the cluster's address. `ray start` waits a
    fixed 30 s for its raylet to register: on a loaded 2-core machine it may miss that, so a
    failed start is cleaned up and tried once more."""
    ray = str(BIN / "ray")
    address = f"127.0.0.1:{GCS_PORT}"
    commands = (
        [ray, "start", *HEAD, *node_flags("head")],
        [ray, "start", f"--address={address}", *node_flags("worker")],
    )
    for attempt in (1, 2):
        try:
            for command in commands:
                subprocess.run(command, env=env, check=True)
            return address
        except subprocess.CalledProcessError:
            stop_started(None, MARKER, marker, signal.SIGKILL)
            forget_the_cluster()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def nodes(serving_home, ray_exclusive):
    """A head and a worker node of one CPU each, shared by the module's tests; every process
    they started is stopped after them. Yields the cluster's address and the environment its
    drivers need: every node and driver share the cluster's token (Ray authenticates its
    RPCs), and workers run this venv's Python directly, not through `uv run` (Ray's default
    under uv)."""
    marker = uuid.uuid4().hex
    token = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": uuid.uuid4().hex}
    env = {**os.environ, **serving_home.env(), **token, MARKER: marker}
    env["RAY_ENABLE_UV_RUN_RUNTIME_ENV"] = "0"
    env.pop("RAY_ADDRESS", None)
    try:
        address = start_nodes(env, marker)
        yield address, {**env, "RAY_ADDRESS": address}
    finally:
        stop_started(None, MARKER, marker, signal.SIGTERM)
        forget_the_cluster()


SWEEP_ON_THE_CLUSTER = """
import json, os, sys, time
import ray
from mlops_assets.compute.sweep import (
    SweepData, draw_recipes, score_baseline, split_holdout, sweep_folds
)
from mlops_assets.config.settings import Settings
from mlops_assets.config.spec import load_spec
from mlops_assets.defs.resources import DatasetResource
from mlops_assets.defs.sweep_runner import run_trials

settings = Settings.resolve()
spec = load_spec(settings.dataset_spec, home=settings.home)
dataset = DatasetResource(spec_path=str(spec.source), home=str(settings.home))
frame, _ = split_holdout(dataset.read("training_set"), spec.experiments.holdout_days)
recipes = draw_recipes(spec.experiments, 2, seed=0)
folds = sweep_folds(frame, spec, 3, 7, 7)
data = SweepData(frame, folds, dataset.feature_columns(), spec, comparisons=2)
# both nodes' CPUs free in the scheduler's view first: a worker node that has registered may
# not have reported its resources yet, and a trial then waits for the head's CPU (one run, CI)
ray.init(address=os.environ["RAY_ADDRESS"], logging_level="WARNING")
deadline = time.monotonic() + 60
while ray.available_resources().get("CPU", 0) < 2:
    assert time.monotonic() < deadline, ray.available_resources()
    time.sleep(0.5)
_, results = run_trials(
    data,
    lambda: score_baseline(data, recipes[1]),
    recipes,
    __import__("pathlib").Path(sys.argv[1]),
    "nodes",
)
print(json.dumps(results))
"""


def test_a_sweep_runs_its_trials_on_both_nodes(nodes, tmp_path):
    """Before the endpoint (its replicas take both CPUs): two one-CPU trials at once can only
    run one per node. The driver is a process of its own, as `mlops sweep` would be: Ray reads
    its authentication settings when it is imported."""
    _, env = nodes
    driver = subprocess.run(
        [sys.executable, "-c", SWEEP_ON_THE_CLUSTER, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert driver.returncode == 0, driver.stderr[-3000:]
    results = json.loads(driver.stdout.strip().splitlines()[-1])
    assert len({r["node"] for r in results}) == 2
    assert results[1]["auc_difference"]["estimate"] == 0  # the baseline's own recipe


@pytest.fixture(scope="module")
def cluster(serving_home, nodes):
    """`mlops serve` joined to the two nodes, two replicas at most one per node; stopped after."""
    _, env = nodes
    served = subprocess.Popen(
        [
            str(BIN / "mlops"),
            *("--home", str(serving_home.home), "serve", "--port", str(SERVE_PORT)),
            *("--ingress", "python", "--replicas", "2", "--max-replicas-per-node", "1"),
            *("--proxy-location", "HeadOnly"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{SERVE_PORT}"
        wait_until_healthy(url, timeout=180)
        yield url
    finally:  # the process group of `mlops serve`; the nodes' processes go with `nodes`
        os.killpg(served.pid, signal.SIGTERM)
        try:
            served.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(served.pid, signal.SIGKILL)


def forget_the_cluster() -> None:
    """`ray start --head` records its address in the temp folder's `ray/ray_current_cluster`;
    its nodes were killed, not `ray stop`ped, so remove the record: a later `ray.init()` without
    an address would try to join the dead cluster."""
    import tempfile

    record = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
    if record.exists() and record.read_text().strip().endswith(f":{GCS_PORT}"):
        record.unlink()


def test_replicas_spread_over_nodes_and_requests_recover_when_a_node_dies(serving_home, cluster):
    deadline = time.monotonic() + 60  # health answers once the first replica is up
    while replicas_per_node() != {"head": 1, "worker": 1} and time.monotonic() < deadline:
        time.sleep(1)
    assert replicas_per_node() == {"head": 1, "worker": 1}
    client = Client(cluster, timeout=10)
    _, rows = records(serving_home, n=200, with_ids=False)
    outcomes: list[tuple[float, bool]] = []
    stop = threading.Event()

    def traffic():
        i = 0
        while not stop.is_set() and i < 5000:  # bounded
            try:
                client.predict([rows[i % len(rows)]])
                outcomes.append((time.monotonic(), True))
            except Exception:
                outcomes.append((time.monotonic(), False))
            i += 1

    sender = threading.Thread(target=traffic)
    sender.start()
    while len(outcomes) < 100:
        time.sleep(0.1)
    killed_at = time.monotonic()
    raylet("worker").kill()  # the worker node dies with its replica
    deadline = killed_at + 120
    while time.monotonic() < deadline:
        after = [ok for t, ok in outcomes if t > killed_at]
        if len(after) >= 300 and all(after[-200:]):
            break
        time.sleep(0.5)
    stop.set()
    sender.join(timeout=30)

    before = [ok for t, ok in outcomes if t <= killed_at]
    after = [(t, ok) for t, ok in outcomes if t > killed_at]
    failed = sum(not ok for _, ok in after)
    recovered = next(
        (t - killed_at for i, (t, _) in enumerate(after) if all(ok for _, ok in after[i:])),
        None,
    )
    print(
        json.dumps(
            {
                "requests_before_kill": len(before),
                "requests_after_kill": len(after),
                "failed_after_kill": failed,
                "seconds_until_every_request_succeeds": recovered,
            }
        )
    )
    assert all(before)
    assert len(after) >= 300 and all(ok for _, ok in after[-200:]), f"{failed} failed"
    assert client.health()["model"]["version"] == 1
