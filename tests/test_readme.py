"""The README's commands, typed as a new user types them.

"Many datasets on one platform" in a fresh clone: `mlops datasets add` of a second dataset, then
`make up`. The clone gets its own `.venv` (installed from the lock through `uv`) and its own
`.mlops` home. Only the ports move, through the variables the README documents. The test waits
for the Dagster UI, the MLflow server, each dataset's `/<name>/v1/health` and one live lending day
ingested by the sensor, reads both graphs and both registered models, then sends SIGTERM to the
command's process group (as a service manager would) and checks that no process of the clone is
left. `make up`
again in the same clone resumes on its home (nothing landed or ingested twice), and Ctrl-C
(SIGINT to the process group, as a terminal sends it) stops every process.

"Bring your own data in five minutes": its four lines, as written, from the repository.
"""

import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.conftest import check_metadata, processes_with, ray_lock

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
PORTS = {
    "MLOPS_DAGSTER_PORT": 13400,
    "MLOPS_MLFLOW_PORT": 15400,
    "MLOPS_SERVE_PORT": 18400,
    "MLOPS_DOCS_PORT": 13450,
}
GRAPH = """{ assetNodes { assetKey { path } groupName
             partitionStats { numMaterialized } } }"""
BACKFILL_DAYS = 60  # `mlops up`'s default, as the README says
SECOND = "breast_cancer"  # the dataset the README registers beside lending
FEATURES = '{ assetNodeOrError(assetKey: {path: ["lending", "features"]}) { ... on AssetNode { partitionStats { numMaterialized } } } }'  # noqa: E501


def readme_commands(section: str) -> list[str]:
    """The lines of the first bash block under the README heading `section`, without comments."""
    readme = (REPO / "README.md").read_text()
    block = re.search(rf"## {re.escape(section)}.*?```bash\n(.*?)```", readme, re.S)
    assert block, f"README has no bash block under '## {section}'"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines()]


def user_environment() -> dict[str, str]:
    """The caller's environment without this checkout's virtualenv or any mlops setting, with
    `uv` on the PATH (the Makefile bootstraps it into the system Python) and the ports moved."""
    venv = str(REPO / ".venv")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLOPS_", "DAGSTER_", "RAY_", "PYTEST_", "VIRTUAL_ENV", "UV_PROJECT"))
    }
    path = [p for p in env["PATH"].split(os.pathsep) if venv not in p]
    uv = subprocess.run(
        ["python3", "-c", "import uv; print(uv.find_uv_bin())"],
        env=env | {"PATH": os.pathsep.join(path)},
        capture_output=True,
        text=True,
    ).stdout.strip()
    if uv:
        path.append(str(Path(uv).parent))
    return env | {"PATH": os.pathsep.join(path)} | {k: str(v) for k, v in PORTS.items()}


def clone_environment() -> dict[str, str]:
    """`user_environment` for the fresh clone, whose `make up` creates its own virtualenv: its
    modules are byte-compiled as they are first imported instead of all 23,000 files up front
    (the Makefile's default, ~90 CPU-s on two cores; CI's own `make test` in a fresh clone
    installs that way)."""
    env = user_environment() | {"UV_COMPILE_BYTECODE": "0"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


class Output:
    """Lines a process prints, each with the seconds since start, read on a thread."""

    def __init__(self, process: subprocess.Popen):
        self.started, self.lines = time.monotonic(), []
        threading.Thread(target=self._read, args=(process,), daemon=True).start()

    def _read(self, process):
        for line in process.stdout:
            self.lines.append((round(time.monotonic() - self.started, 1), line.rstrip()))

    def seconds_until(self, text: str) -> float | None:
        return next((t for t, line in self.lines if text in line), None)

    def tail(self, n: int = 60) -> str:
        return "\n".join(f"{t:7.1f} {line}" for t, line in self.lines[-n:])


def answers(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body = response.read()
            return json.loads(body) if body.startswith(b"{") else {}
    except OSError:
        return None


def graphql(query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORTS['MLOPS_DAGSTER_PORT']}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def live_features() -> int:
    node = graphql(FEATURES)["assetNodeOrError"]
    return (node.get("partitionStats") or {}).get("numMaterialized", 0)


def processes_of(clone: Path) -> list[psutil.Process]:
    """Live processes started from the clone: its home in their environment, or its files in
    their command line or working directory."""
    marker, found = str(clone), []
    for proc in psutil.process_iter():
        try:
            env_home = proc.environ().get("MLOPS_HOME", "")
            if (
                env_home.startswith(marker)
                or proc.cwd().startswith(marker)
                or any(marker in part for part in proc.cmdline())
            ):
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


def start(line: str, cwd: Path, env: dict) -> tuple[subprocess.Popen, "Output"]:
    """A command line typed in a shell, in a session of its own, its output read as it comes."""
    process = subprocess.Popen(
        line,
        shell=True,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    return process, Output(process)


def wait_until(condition, what: str, process, output: Output, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process.poll() is not None:
            pytest.fail(f"exited ({process.returncode}) before {what}:\n{output.tail()}")
        time.sleep(2)
    pytest.fail(f"no {what} after {timeout:.0f} s:\n{output.tail()}")


@pytest.fixture(scope="module")
def made_up(tmp_path_factory) -> dict:
    """`make up` typed in a fresh clone, stopped with SIGTERM once a live day is ingested: what
    it served and printed (the tests below judge it; the second resumes on the same clone)."""
    command = readme_commands("Two commands")[0]
    *register, up = [line for line in readme_commands("Many datasets on one platform") if line]
    assert up == command, (up, command)
    clone = tmp_path_factory.mktemp("readme") / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    env = clone_environment()
    for line in register:
        typed = subprocess.run(line, shell=True, cwd=clone, env=env, capture_output=True, text=True)
        assert typed.returncode == 0, f"{line}:\n{typed.stdout}{typed.stderr[-3000:]}"
    with ray_lock():  # `make up` starts Ray Serve once its backfill is done
        process, output = start(command, clone, env)
        seen: dict = {"command": command, "clone": clone, "registered": typed.stdout}
        try:
            ui = f"http://127.0.0.1:{PORTS['MLOPS_DAGSTER_PORT']}/server_info"
            mlflow = f"http://127.0.0.1:{PORTS['MLOPS_MLFLOW_PORT']}"
            endpoint = f"http://127.0.0.1:{PORTS['MLOPS_SERVE_PORT']}"
            wait_until(lambda: answers(ui) is not None, "Dagster UI", process, output, 600)
            ui_seconds = round(time.monotonic() - output.started, 1)
            health = f"{mlflow}/health"
            wait_until(lambda: answers(health) is not None, "MLflow", process, output, 120)
            seen["served"] = {
                name: wait_until(
                    lambda name=name: answers(f"{endpoint}/{name}/v1/health"),
                    f"{name} endpoint health",
                    process,
                    output,
                    1800,  # 60 days ingested, trained and served: ~900 s on a loaded 2-core box
                )
                for name in ("lending", SECOND)
            }
            seen["root"] = answers(f"{endpoint}/v1/health")
            endpoint_seconds = round(time.monotonic() - output.started, 1)
            seen["models"] = answers(f"{mlflow}/api/2.0/mlflow/registered-models/search")
            daemon = "Dagster daemon"  # the backfill is done, the landing sensor is on
            wait_until(lambda: output.seconds_until(daemon), daemon, process, output, 300)
            seen["graph"] = graphql(GRAPH)["assetNodes"]
            docs = check_metadata(clone / ".mlops", "lending/raw", "schema")["data_docs"].url
            with urllib.request.urlopen(docs, timeout=10) as page:  # on the Data Docs server
                seen["data_docs"] = (docs, page.read().decode())
            backfilled = live_features()
            wait_until(lambda: live_features() > backfilled, "live day", process, output, 300)
            print(
                f"\nfresh clone `{command}`: UI after {ui_seconds} s, first champion after "
                f"{output.seconds_until('champion is now v1')} s, endpoint answering after "
                f"{endpoint_seconds} s, first live day ingested after "
                f"{round(time.monotonic() - output.started, 1)} s"
            )
        finally:
            with contextlib.suppress(ProcessLookupError):  # already gone: `make up` failed
                os.killpg(process.pid, signal.SIGTERM)
            seen["left"] = outlived(clone, timeout=150)
        seen["output"] = output
    status = subprocess.run(
        "uv run --frozen mlops status --json", shell=True, cwd=clone, env=env, capture_output=True
    )
    seen["status"] = json.loads(status.stdout) if status.returncode == 0 else status.stderr
    return seen


def test_make_up_in_a_fresh_clone_serves_both_datasets_and_stops_cleanly(made_up):
    assert made_up["command"] == "make up"
    listed = [line.split()[0] for line in made_up["registered"].splitlines()]
    assert listed == [SECOND, "lending"], made_up["registered"]
    nodes = made_up["graph"]
    groups = {n["groupName"] for n in nodes}
    keys = {"/".join(n["assetKey"]["path"]): n for n in nodes}
    assert {"ingestion", "features", "training", "deployment", "decisions"} <= groups
    assert keys["lending/features"]["partitionStats"]["numMaterialized"] == BACKFILL_DAYS
    assert keys[f"{SECOND}/features"]["partitionStats"]["numMaterialized"] == 19  # every day
    for name in ("lending", SECOND):  # each its own first champion, in one MLflow
        assert made_up["served"][name]["model"]["version"] == 1
    models = {m["name"] for m in made_up["models"]["registered_models"]}
    assert models == {"lending-dev", f"{SECOND}-dev"}
    assert made_up["root"] is None  # two datasets: each under its own prefix only
    docs, page = made_up["data_docs"]
    assert docs.startswith(f"http://127.0.0.1:{PORTS['MLOPS_DOCS_PORT']}/validations/lending/raw/")
    assert "Expectation Validation Result" in page and "lending.raw" in page, docs  # GX's page
    statuses = {s["dataset"]: s for s in made_up["status"]["datasets"]}  # `mlops status`: all
    assert {name: s["champion"]["version"] for name, s in statuses.items()} == {
        "lending": 1,
        SECOND: 1,
    }
    output = made_up["output"]
    assert "stopping ray-serve" in "\n".join(line for _, line in output.lines), output.tail()
    assert made_up["left"] == [], made_up["left"]


def test_make_up_again_resumes_the_same_home_and_ctrl_c_stops_everything(made_up):
    clone = made_up["clone"]
    home = clone / ".mlops"
    landed = len(list((home / "landing" / "lending").glob("*.csv")))
    with ray_lock():
        process, output = start(made_up["command"], clone, clone_environment())
        try:
            daemon = "Dagster daemon"
            wait_until(lambda: output.seconds_until(daemon), daemon, process, output, 600)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in the terminal
            left = outlived(clone, timeout=150)
    printed = "\n".join(line for _, line in output.lines)
    assert f"{landed} days landed ({landed} already there)" in printed, output.tail()
    assert "stopping dagster-daemon" in printed and "stopping ray-serve" in printed, output.tail()
    assert left == [], "child processes outlived Ctrl-C: " + str(left)
    counts = ingestions_per_partition(home)
    assert counts and max(counts.values()) == 1, counts  # no day was ingested twice


def ingestions_per_partition(home: Path) -> dict[str, int]:
    import dagster as dg

    from mlops_assets.commands.execution import instance_for
    from mlops_assets.config.settings import Settings

    records = (
        instance_for(Settings.resolve(home=home))
        .fetch_materializations(dg.AssetKey(["lending", "raw"]), limit=10_000)
        .records
    )
    counts: dict[str, int] = {}
    for record in records:
        key = record.asset_materialization.partition
        counts[key] = counts.get(key, 0) + 1
    return counts


def outlived(clone: Path, timeout: float) -> list[str]:
    """Wait until every process of the clone exited; those still alive after `timeout` are
    returned (and killed, so that the test leaves nothing behind)."""
    deadline = time.monotonic() + timeout
    while processes_of(clone) and time.monotonic() < deadline:
        time.sleep(1)
    left = []
    for proc in processes_of(clone):
        with contextlib.suppress(psutil.Error):
            left.append(f"{proc.pid} {' '.join(proc.cmdline())[:120]}")
            proc.kill()
    return left


def test_bring_your_own_data_walkthrough_runs_as_written(tmp_path):
    check, run, serve, predict = readme_commands("Bring your own data in five minutes")
    assert serve.endswith("&")
    env = user_environment() | {"MLOPS_HOME": str(tmp_path / "home")}

    def typed(line: str, **kwargs):
        return subprocess.run(
            line, shell=True, cwd=REPO, env=env, capture_output=True, text=True, **kwargs
        )

    checked = typed(check, timeout=300)
    assert checked.returncode == 0 and "no problems" in checked.stdout, checked.stdout
    assert "target (positive 'Dole')" in checked.stdout
    ran = typed(run, timeout=900)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "model: promoted anes96-dev v1" in ran.stdout, ran.stdout[-2000:]
    with ray_lock():  # only the endpoint needs Ray
        endpoint, output = start(serve.removesuffix("&"), REPO, env)
        try:
            health = f"http://127.0.0.1:{PORTS['MLOPS_SERVE_PORT']}/v1/health"
            served = wait_until(lambda: answers(health), "endpoint health", endpoint, output, 300)
            assert served["model"] == {"name": "anes96-dev", "version": 1, "alias": "champion"}
            scored = typed(predict, timeout=120)
            assert scored.returncode == 0, scored.stderr
            lines = scored.stdout.strip().splitlines()
            assert lines[0] == "id,score,decision,model_version,decided_by,control"
            assert [line.split(",")[0] for line in lines[1:]] == [
                "r0062", "r0088", "r0163", "r0191", "r0210"
            ]  # fmt: skip
            assert {line.split(",")[2] for line in lines[1:]} <= {"mail_reminder", "skip"}
        finally:
            os.killpg(endpoint.pid, signal.SIGINT)
            endpoint.wait(timeout=120)
    assert "stopping the endpoint" in "\n".join(line for _, line in output.lines)
    assert processes_with("MLOPS_HOME", str(tmp_path / "home")) == []
