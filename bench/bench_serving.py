"""Benchmark: the endpoint against what users would run instead, in one run on this machine.

    uv run python bench/bench_serving.py                  # builds a trained home (~3 min)
    uv run python bench/bench_serving.py --home .mlops    # reuse a home with a champion

Load comes from an aiohttp client on loopback (`serving.loadgen`), bounded request counts:
single-record requests at concurrency 32 and sequentially, and 100-record requests at
concurrency 32. Systems, each started, measured and stopped in turn:

- in-process: parse + score + decide on batches of 32 requests, no HTTP (the limit);
- naive Ray Serve: one replica, Serve's default Python proxy, no batching (the baseline), with
  `max_ongoing_requests=32` (at the default 5 the proxy backs off and it served ~10 req/s with a
  3.4-3.9 s median at concurrency 32 here: not a fair baseline);
- FastAPI + uvicorn: one process, no batching (same parsing and scorer as ours);
- `mlflow models serve` on the same registry version (the same raw records: the registered
  model is the raw-records pyfunc, `serving/raw_model.py`);
- MLServer with its MLflow runtime on the same registry version (`/invocations`, its defaults:
  one inference worker), from an environment of its own: its pins cannot share uv.lock
  (`bench/peers/mlserver.in`; `make bench-mlserver-env` builds `.venv-mlserver`; skipped,
  saying so, when it is missing);
- ours: `serving.launcher` (HAProxy ingress, 2 replicas, `@serve.batch`, action log on);
- ours with the champion/challenger router (shadow: both models score every record).

Prints p50/p99 and requests/s per system and load, the ratios, start-up time, memory (RSS of
the serving processes) and where the CPU went during our single-record run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

import polars as pl  # noqa: E402
import psutil  # noqa: E402

from mlops_assets.config.settings import Settings  # noqa: E402
from mlops_assets.config.spec import load_spec  # noqa: E402
from mlops_assets.defs.registry import registry_for  # noqa: E402
from serving.loadgen import run_load  # noqa: E402
from serving.model import load_model, score_and_decide  # noqa: E402
from serving.rollout import RolloutTarget  # noqa: E402
from serving.schema import RequestSchema  # noqa: E402

HERE = Path(__file__).parent
MLSERVER = "MLServer (MLflow runtime)"  # its label in the results
LOADS = {  # name -> (records per request, concurrency, requests)
    "single c32": (1, 32, 3000),
    "single seq": (1, 1, 300),
    "100 rec c32": (100, 32, 400),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--home", help="a home with a champion, used on a copy (default: build one)"
    )
    parser.add_argument("--port", type=int, default=8100, help="first of seven ports (8100)")
    parser.add_argument(
        "--mlserver-env",
        default=str(HERE.parent / ".venv-mlserver"),
        help="MLServer's environment (make bench-mlserver-env)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.home:  # a copy: benchmark traffic must not reach the home's action log
            shutil.copytree(args.home, Path(tmp) / "home", ignore=shutil.ignore_patterns("actions"))
            settings = Settings.resolve(home=Path(tmp) / "home")
        else:
            settings = build_home(Path(tmp))
        run(settings, args.port, Path(args.mlserver_env))


def build_home(tmp: Path) -> Settings:
    from mlops_assets.commands.runner import run_pipeline
    from mlops_assets.sources.simulator import land_day

    print("building a home: 45 days x 400 applications, two model versions...", flush=True)
    settings = Settings.resolve(home=tmp / "home")
    plan = settings.simulator_plan()
    for day in range(45):
        land_day(plan, day, rows=400)
    run_pipeline(settings)
    os.environ["MLOPS_SERVING_URL"] = "http://127.0.0.1:1"  # no endpoint while training
    from mlops_assets.commands.execution import QUIET, instance_for
    from mlops_assets.defs.platform import build_definitions

    build_definitions(settings).resolve_job_def("lending_train").execute_in_process(
        instance=instance_for(settings),
        run_config={**QUIET, "ops": {"lending__candidate_model": {"config": {"seed": 1}}}},
        raise_on_error=False,
    )
    return settings


def run(settings: Settings, port: int, mlserver_env: Path) -> None:
    spec = load_spec(settings.dataset_spec, home=settings.home)
    registry = registry_for(settings, spec)
    champion = registry.champion_version()
    versions = sorted(
        int(v.version)
        for v in registry.client().search_model_versions(f"name='{registry.model_name}'")
    )
    challenger = max(v for v in versions if v != champion) if len(versions) > 1 else None
    model = load_model(registry.tracking_uri, registry.model_name, champion, None)
    raw = load_rows(settings, spec)
    records = raw.drop("_day", spec.id_column).to_dicts()
    bodies = {
        n: [json.dumps({"records": records[i : i + n]}).encode() for i in range(0, 3000, n)]
        for n in (1, 100)
    }
    mlflow_bodies = {  # the same raw records: the registered model is the raw-records pyfunc
        n: [
            json.dumps({"dataframe_records": records[i : i + n]}).encode()
            for i in range(0, 3000, n)
        ]
        for n in (1, 100)
    }
    results: dict[str, dict] = {}
    print(
        f"model {registry.model_name} v{champion} (compiled scorer: {model.compiled}); "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )

    results["in-process"] = in_process(model, spec, bodies)
    show("in-process (batches of 32 requests)", results["in-process"])

    results["naive Ray Serve"] = measure_ray_naive(registry, champion, bodies, port, 32)
    results["FastAPI + uvicorn"] = measure_process(
        "FastAPI + uvicorn",
        [
            sys.executable,
            "-m",
            "uvicorn",
            "plain_fastapi:app",
            "--app-dir",
            str(HERE / "baselines"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port + 1),
            "--log-level",
            "warning",
        ],
        {
            "MODEL_TRACKING_URI": registry.tracking_uri,
            "MODEL_NAME": registry.model_name,
            "MODEL_VERSION": str(champion),
        },
        f"http://127.0.0.1:{port + 1}/v1/predict",
        bodies,
        ready=f"http://127.0.0.1:{port + 1}/docs",
    )
    results["mlflow models serve"] = measure_process(
        "mlflow models serve",
        [
            str(Path(sys.executable).parent / "mlflow"),
            "models",
            "serve",
            "-m",
            f"models:/{registry.model_name}/{champion}",
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port + 2),
        ],
        {"MLFLOW_TRACKING_URI": registry.tracking_uri},
        f"http://127.0.0.1:{port + 2}/invocations",
        mlflow_bodies,
        ready=f"http://127.0.0.1:{port + 2}/ping",
    )
    mlserver = measure_mlserver(mlserver_env, registry, champion, mlflow_bodies, port + 4)
    if mlserver:
        results[MLSERVER] = mlserver
    results["ours"], cpu, results["ours (router: shadow)"] = measure_ours(
        settings, registry, champion, challenger, bodies, port + 3
    )
    report(results, cpu)


def load_rows(settings: Settings, spec) -> pl.DataFrame:
    days = sorted((settings.lake / spec.name / "raw").glob("*.parquet"))[-10:]
    return pl.concat([pl.read_parquet(d) for d in days]).head(3000)


def in_process(model, spec, bodies) -> dict:
    schema = RequestSchema(
        model.schema, list(model.columns.numeric + model.columns.categorical), 1000
    )
    target = RolloutTarget(champion=model.version, control_share=0.05)
    out = {}
    for name, (size, _, requests) in LOADS.items():
        batch = 1 if name == "single seq" else 32
        chosen = bodies[size][: batch * max(1, requests // batch)]
        started = time.perf_counter()
        for i in range(0, len(chosen), batch):
            frames = [schema.parse(b)[0] for b in chosen[i : i + batch]]
            frame = pl.concat(frames)
            ids = [str(k) for k in range(frame.height)]
            score_and_decide({"champion": model}, frame, ids, target, spec.decision)
        seconds = time.perf_counter() - started
        out[name] = {
            "req_per_s": round(len(chosen) / seconds, 1),
            "p50_ms": None,
            "p99_ms": None,
            "rows_per_s": round(len(chosen) * size / seconds),
        }
    return out


def run_loads(url: str, bodies: dict, label: str) -> dict:
    out = {}
    for name, (size, concurrency, requests) in LOADS.items():
        pool = bodies[size]
        run_load(url, lambda i, p=pool: p[i % len(p)], min(200, requests), concurrency)  # warm up
        result = run_load(url, lambda i, p=pool: p[i % len(p)], requests, concurrency)
        summary = result.summary()
        if summary["failed"]:
            print(f"  {label} {name}: {summary['failed']} failed requests", flush=True)
        out[name] = {**summary, "rows_per_s": round(result.requests_per_second * size)}
    show(label, out)
    return out


def measure_ray_naive(
    registry, version: int, bodies: dict, port: int, max_ongoing: int = 5
) -> dict:
    import ray
    from ray import serve
    from ray.serve.config import HTTPOptions
    from ray.serve.schema import LoggingConfig

    started = time.perf_counter()
    ray.init(
        address="local",  # a cluster of its own, never one a `ray start` left behind
        num_cpus=2,
        include_dashboard=False,
        logging_level="WARNING",
        log_to_driver=False,
        _node_ip_address="127.0.0.1",
    )
    quiet = LoggingConfig(enable_access_log=False, log_level="WARNING")
    serve.start(http_options=HTTPOptions(host="127.0.0.1", port=port), logging_config=quiet)

    @serve.deployment(
        max_ongoing_requests=max_ongoing,
        ray_actor_options={"num_cpus": 1, "runtime_env": {"env_vars": {"OMP_NUM_THREADS": "1"}}},
    )
    class NaiveModel:
        def __init__(self, tracking_uri: str, name: str, version: int):
            self.model = load_model(tracking_uri, name, version, None)
            self.schema = RequestSchema(
                self.model.schema,
                list(self.model.columns.numeric + self.model.columns.categorical),
                1000,
            )

        async def __call__(self, request):
            import asyncio

            from starlette.responses import Response

            body = await request.body()
            # scored off the event loop, in the replica's thread pool
            scores = await asyncio.get_running_loop().run_in_executor(None, self.score, body)
            return Response(json.dumps({"predictions": [{"score": float(s)} for s in scores]}))

        def score(self, body: bytes):
            return self.model.score(self.schema.parse(body)[0])

    serve.run(
        NaiveModel.bind(registry.tracking_uri, registry.model_name, version),
        name="naive",
        route_prefix="/",
        logging_config=quiet,
    )
    startup = time.perf_counter() - started
    try:
        out = run_loads(f"http://127.0.0.1:{port}/", bodies, "naive Ray Serve")
        out["startup_s"], out["rss_mb"] = round(startup, 1), ray_rss_mb()
    finally:
        serve.shutdown()
        ray.shutdown()
    return out


def measure_process(label, command, env, url, bodies, ready) -> dict:
    started = time.perf_counter()
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    process = subprocess.Popen(
        command,
        env={**os.environ, "PATH": path, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                import urllib.request

                urllib.request.urlopen(ready, timeout=2).read()
                break
            except Exception:
                if process.poll() is not None:
                    error = process.stderr.read().decode()[-800:]
                    raise RuntimeError(f"{label} exited: {error}") from None
                time.sleep(0.3)
        startup = time.perf_counter() - started
        out = run_loads(url, bodies, label)
        root = psutil.Process(process.pid)
        tree = [root, *root.children(recursive=True)]
        out["startup_s"] = round(startup, 1)
        out["rss_mb"] = round(sum(p.memory_info().rss for p in tree if p.is_running()) / 2**20)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        process.wait(timeout=30)
    return out


def measure_mlserver(env: Path, registry, champion: int, bodies, port: int) -> dict | None:
    """MLServer serving the registry version through its MLflow runtime, on `port` (gRPC and
    metrics on the next two), with its defaults otherwise."""
    if not (env / "bin" / "mlserver").exists():
        print(f"\nMLServer: skipped, no environment at {env} (make bench-mlserver-env)")
        return None
    with tempfile.TemporaryDirectory() as folder:
        ports = {"http_port": port, "grpc_port": port + 1, "metrics_port": port + 2}
        (Path(folder) / "settings.json").write_text(json.dumps({"host": "127.0.0.1", **ports}))
        model = {
            "name": "champion",
            "implementation": "mlserver_mlflow.MLflowRuntime",
            "parameters": {"uri": f"models:/{registry.model_name}/{champion}"},
        }
        (Path(folder) / "model-settings.json").write_text(json.dumps(model))
        return measure_process(
            MLSERVER,
            [str(env / "bin" / "mlserver"), "start", folder],
            {"MLFLOW_TRACKING_URI": registry.tracking_uri},
            f"http://127.0.0.1:{port}/invocations",
            bodies,
            ready=f"http://127.0.0.1:{port}/v2/models/champion/ready",
        )


def measure_ours(settings, registry, champion, challenger, bodies, port):
    from serving import launcher
    from serving.client import Client, EndpointError

    try:
        endpoint = launcher.start(settings, port=port, num_cpus=2)
        url = f"{endpoint.url}/v1/predict"
        before = cpu_by_process()
        run_load(url, lambda i: bodies[1][i % len(bodies[1])], 3000, 32)
        cpu = cpu_split(before, cpu_by_process())
        out = run_loads(url, bodies, f"ours ({endpoint.ingress} ingress)")
        out["startup_s"], out["rss_mb"] = endpoint.startup_seconds, ray_rss_mb()
        router = None
        if challenger is not None:
            try:
                Client(endpoint.url).set_target(
                    {
                        "champion": champion,
                        "challenger": challenger,
                        "rollout": "shadow",
                        "control_share": 0.05,
                    }
                )
            except EndpointError as exc:  # e.g. a home whose latest version cannot load
                print(f"  router not measured: {exc}", flush=True)
            else:
                router = run_loads(url, bodies, "ours, router on (shadow: two models per record)")
    finally:
        launcher.stop()
    return out, cpu, router


def ray_rss_mb() -> int:
    """RSS of this machine's Ray and HAProxy processes (the serving footprint)."""
    total = 0
    for p in psutil.process_iter(["name", "cmdline", "memory_info"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if p.info["name"] in ("raylet", "gcs_server", "haproxy") or cmd.startswith("ray::"):
            total += p.info["memory_info"].rss
    return round(total / 2**20)


def cpu_by_process() -> dict[str, float]:
    usage: dict[str, float] = {}
    for p in psutil.process_iter(["name", "cmdline", "cpu_times"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if cmd.startswith("ray::"):
            group = cmd.split()[0]
        elif p.info["name"] in ("raylet", "gcs_server", "haproxy"):
            group = p.info["name"]
        elif p.pid == os.getpid():
            group = "load client (this process)"
        else:
            continue
        times = p.info["cpu_times"]
        usage[f"{group}#{p.pid}"] = times.user + times.system
    return usage


def cpu_split(before: dict, after: dict) -> dict[str, float]:
    spent: dict[str, float] = {}
    for key, seconds in after.items():
        group = key.split("#")[0]
        spent[group] = spent.get(group, 0.0) + seconds - before.get(key, 0.0)
    total = sum(spent.values()) or 1.0
    return {g: round(s / total, 3) for g, s in sorted(spent.items(), key=lambda x: -x[1]) if s > 0}


def show(label: str, out: dict) -> None:
    print(f"\n{label}", flush=True)
    for name in LOADS:
        r = out[name]
        p50 = f"{r['p50_ms']:7.1f}" if r.get("p50_ms") is not None else "      -"
        p99 = f"{r['p99_ms']:7.1f}" if r.get("p99_ms") is not None else "      -"
        print(
            f"  {name:12s} {r['req_per_s']:9.1f} req/s  p50 {p50} ms  p99 {p99} ms  "
            f"{r['rows_per_s']:>8} rows/s",
            flush=True,
        )


def report(results: dict, cpu: dict) -> None:
    ours = results["ours"]
    print("\n== ratios (single records, concurrency 32) ==")
    for name in ("naive Ray Serve", "FastAPI + uvicorn", "mlflow models serve", MLSERVER):
        if name not in results:  # MLServer without its environment
            continue
        ratio = ours["single c32"]["req_per_s"] / results[name]["single c32"]["req_per_s"]
        print(f"  ours / {name}: {ratio:.2f}x")
    limit = results["in-process"]["single c32"]["req_per_s"]
    print(f"  ours / in-process limit: {ours['single c32']['req_per_s'] / limit:.2f}")
    router = results.get("ours (router: shadow)")
    if router:
        ratio = (
            router["single c32"]["req_per_s"]
            / results["mlflow models serve"]["single c32"]["req_per_s"]
        )
        print(f"  ours with router (shadow) / mlflow models serve: {ratio:.2f}x")
    print(f"  ours, 100-record requests: {ours['100 rec c32']['rows_per_s']} scored rows/s")
    print("\n== start-up and memory ==")
    for name, r in results.items():
        if r and "startup_s" in r:
            print(f"  {name:22s} ready in {r['startup_s']:5.1f} s, RSS {r['rss_mb']} MB")
    print("\n== where the CPU went (ours, single records at concurrency 32) ==")
    for group, share in cpu.items():
        print(f"  {share:6.1%}  {group}")


if __name__ == "__main__":
    main()
