"""`mlops`: the platform's command line. Every command works on one home folder."""

from __future__ import annotations

import argparse
import json
import os
import sys

from mlops_assets.config.settings import Settings
from mlops_assets.config.spec import load_spec
from mlops_assets.sources.simulator import SCENARIOS, SimulatorConfig, land_day


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    settings = Settings.resolve(args.home, getattr(args, "dataset", None))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        return args.command(args, settings)
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError) as exc:  # SpecError, IngestError, LakeError, bad arguments
        print(f"mlops: error: {exc}", file=sys.stderr)
        return 2


PORTS = (  # `mlops up` flag, the environment variable that moves it, default, what listens
    ("--dagster-port", "MLOPS_DAGSTER_PORT", 3000, "Dagster UI port"),
    ("--mlflow-port", "MLOPS_MLFLOW_PORT", 5000, "MLflow server port"),
    ("--serve-port", "MLOPS_SERVE_PORT", 8000, "Ray Serve endpoint port"),
)


def _port(given: int | None, variable: str, default: int) -> int:
    """A port from its flag, else its environment variable, else the default."""
    if given is not None:
        return given
    value = os.environ.get(variable)
    if not value:
        return default
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ValueError(f"{variable}={value!r} is not a port number (1-65535)")
    return int(value)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops", description="An asset-based MLOps platform on Dagster."
    )
    parser.add_argument("--home", help="state folder (default: $MLOPS_HOME or ./.mlops)")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    def dataset(p):
        p.add_argument(
            "--dataset",
            metavar="SPEC",
            help="dataset spec YAML (default: the built-in lending simulator)",
        )

    def simulation(p):
        p.add_argument("--rows", type=int, help="mean applications a day (2000)")
        p.add_argument("--scenario", choices=SCENARIOS, help="drift scenario (none)")
        p.add_argument("--drift-day", type=int, help="day index drift starts (30)")
        p.add_argument("--seed", type=int, help="random seed (7)")

    up = sub.add_parser(
        "up", help="start Dagster, MLflow, Ray Serve and the simulator; Ctrl-C stops all"
    )
    dataset(up)
    simulation(up)
    up.add_argument("--backfill-days", type=int, default=60, help="history to land first (60)")
    up.add_argument(
        "--interval",
        type=float,
        default=20.0,
        help="seconds between simulated days after the backfill (20)",
    )
    for flag, variable, default, what in PORTS:
        up.add_argument(flag, type=int, help=f"{what} (${variable}, else {default})")
    up.set_defaults(command=_up)

    sim = sub.add_parser("simulate", help="write simulator landing and outcome files")
    sim.add_argument("--days", type=int, required=True, help="number of days to write")
    sim.add_argument("--first-day", type=int, default=0, help="index of the first day (0)")
    simulation(sim)
    sim.set_defaults(command=_simulate)

    check = sub.add_parser(
        "check", help="read the spec against its first landing files and list every problem"
    )
    dataset(check)
    check.set_defaults(command=_check)

    run = sub.add_parser("run", help="materialize every landed day through Dagster, headless")
    dataset(run)
    run.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    run.add_argument("--only-new", action="store_true", help="skip days already materialized")
    run.set_defaults(command=_run)

    def reason(p):
        p.add_argument("--reason", help="why, recorded on the Dagster run and the champion")

    rollback = sub.add_parser(
        "rollback", help="move the champion back to the previous one (a Dagster run)"
    )
    dataset(rollback)
    reason(rollback)
    rollback.set_defaults(command=_rollback)

    promote = sub.add_parser(
        "promote", help="make the challenger (or --version N) the champion (a Dagster run)"
    )
    dataset(promote)
    reason(promote)
    promote.add_argument("--version", type=int, help="registry version (default: the challenger)")
    promote.set_defaults(command=_promote)

    release = sub.add_parser(
        "release",
        help="copy the previous environment's champion into --to's registry as its champion "
        "(dev -> test -> prod), if its gates passed",
    )
    dataset(release)
    reason(release)
    release.add_argument("--to", required=True, choices=("test", "prod"))
    release.set_defaults(command=_release)

    serve = sub.add_parser("serve", help="serve the champion on Ray Serve until Ctrl-C")
    dataset(serve)
    serve.add_argument("--host", default="127.0.0.1", help="bind address (127.0.0.1)")
    serve.add_argument(
        "--port",
        type=int,
        help="endpoint port ($MLOPS_SERVE_PORT, else 8000)",
    )
    serve.add_argument(
        "--ingress",
        choices=("auto", "haproxy", "python"),
        default="auto",
        help="HTTP ingress: HAProxy (fast) or Serve's Python proxy; auto = HAProxy if present",
    )
    serve.add_argument(
        "--replicas", type=int, help="replicas (default: the spec's serving.replicas)"
    )
    serve.add_argument(
        "--max-replicas-per-node",
        type=int,
        help="spread replicas over the cluster (default: serving.max_replicas_per_node)",
    )
    serve.add_argument(
        "--proxy-location",
        choices=("EveryNode", "HeadOnly"),
        default="EveryNode",
        help="HTTP proxies on every Ray node (default) or the head only (nodes sharing a host)",
    )
    serve.set_defaults(command=_serve)

    predict = sub.add_parser("predict", help="score a CSV or JSON file of records (- = stdin)")
    predict.add_argument("file", metavar="FILE", help="CSV, JSON list or {'records': [...]}")
    predict.add_argument(
        "--url", help="endpoint (default: $MLOPS_SERVING_URL, else :$MLOPS_SERVE_PORT or :8000)"
    )
    predict.add_argument("--batch", type=int, default=1000, help="records per request (1000)")
    predict.add_argument("--json", action="store_true", help="print the responses as JSON")
    predict.set_defaults(command=_predict)

    status = sub.add_parser("status", help="what is landed, materialized, promoted")
    dataset(status)
    status.add_argument("--json", action="store_true")
    status.set_defaults(command=_status)
    return parser


def _simulate(args, settings: Settings) -> int:
    if args.days < 1 or args.first_day < 0:
        raise ValueError("--days must be >= 1 and --first-day >= 0")
    config = _simulator_config(args, settings)
    plan = settings.simulator_plan()
    changed = 0
    for day in range(args.first_day, args.first_day + args.days):
        changed += len(land_day(plan, day, config.rows, config.seed, config.as_scenario()))
    config.save(settings.home)
    print(
        f"simulated days {args.first_day}..{args.first_day + args.days - 1} "
        f"({config.describe()}): {changed} files written to {plan.landing.parent}"
    )
    return 0


def _simulator_config(args, settings: Settings) -> SimulatorConfig:
    return SimulatorConfig.resolve(
        settings.home,
        rows=args.rows,
        seed=args.seed,
        scenario=args.scenario,
        drift_day=args.drift_day,
    )


def _check(args, settings: Settings) -> int:
    from mlops_assets.commands.preflight import check_dataset, format_report

    report = check_dataset(load_spec(settings.dataset_spec, home=settings.home))
    print(format_report(report))
    return 2 if report.problems else 0


def _run(args, settings: Settings) -> int:
    from mlops_assets.commands.preflight import require_fit
    from mlops_assets.commands.runner import run_pipeline

    progress = (lambda line: print(line, file=sys.stderr)) if args.json else print
    require_fit(load_spec(settings.dataset_spec, home=settings.home), progress)
    summary = run_pipeline(settings, only_new=args.only_new, progress=progress)
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    else:
        for asset in ("raw", "raw_outcomes"):
            if asset in summary:
                s = summary[asset]
                print(
                    f"{asset}: {s['materialized']} materialized, {len(s['quarantined'])} "
                    f"quarantined, {len(s['blocked'])} blocked, {len(s['failed'])} failed"
                )
        model = summary.get("model", {})
        if "candidate" in model:
            c = model["candidate"]
            print(
                f"candidate {c['name']} v{c['version']}: backtest AUC {c['backtest']['roc_auc']}, "
                f"threshold {c['decision']['threshold']} ({c['decision']['basis']})"
            )
        for gate, verdict in model.get("gates", {}).items():
            print(f"  {'PASS' if verdict['passed'] else 'FAIL'} {gate}: {verdict['reason']}")
        if "champion" in model:
            print(f"model: promoted {model['champion']['name']} v{model['champion']['version']}")
        elif "not_promoted" in model:
            print(f"model: not promoted — {model['not_promoted']}")
    failed = any(summary[a]["failed"] for a in ("raw", "raw_outcomes") if a in summary)
    return 1 if failed else 0


def _status(args, settings: Settings) -> int:
    from mlops_assets.commands.status import collect_status, format_status

    status = collect_status(settings)
    print(json.dumps(status, sort_keys=True) if args.json else format_status(status))
    return 0


def _rollback(args, settings: Settings) -> int:
    return _operate(settings, "rollback", reason=args.reason)


def _promote(args, settings: Settings) -> int:
    return _operate(settings, "promote", reason=args.reason, version=args.version)


def _operate(settings: Settings, action: str, **config) -> int:
    """Launch the rollback or promote job (champion, then deployment) and wait for it."""
    from mlops_assets.commands.runner import operate
    from mlops_assets.defs.jobs import operator_config, operator_job_name

    spec = load_spec(settings.dataset_spec, home=settings.home)
    config = {k: v for k, v in config.items() if v is not None}
    result = operate(
        settings, operator_job_name(spec, action), operator_config(spec, action, **config)
    )
    events = {
        e.asset_key.path[-1]: {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }
    champion, deployment = events["champion"], events.get("deployment", {})
    print(
        f"champion {champion['champion']} (was {champion['previous_champion']}): "
        f"{champion['reason']} — by {champion['operator']}, Dagster run {result.run_id}"
    )
    if deployment.get("served"):
        print(f"{deployment['endpoint']} now serves {deployment['champion']}")
    else:
        print(f"no endpoint at {settings.serving_url}; `mlops serve` will serve the new champion")
    return 0


def _release(args, settings: Settings) -> int:
    from mlops_assets.commands.runner import operate
    from mlops_assets.defs.release import release_job_name

    spec = load_spec(settings.dataset_spec, home=settings.home)
    config = {"to": args.to, **({"reason": args.reason} if args.reason else {})}
    result = operate(
        settings,
        release_job_name(spec),
        {"ops": {f"{spec.name}__release": {"config": config}}},
    )
    moved = result.output_for_node(f"{spec.name}__release")
    verb = "released" if moved["copied"] else "already released"
    print(f"{verb}: {moved['from']} -> {moved['to']} (champion), Dagster run {result.run_id}")
    return 0


def _serve(args, settings: Settings) -> int:
    import signal
    import threading

    from serving import launcher

    port = _port(args.port, "MLOPS_SERVE_PORT", 8000)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        endpoint = launcher.start(
            settings,
            args.host,
            port,
            args.ingress,
            args.replicas,
            progress=print,
            max_replicas_per_node=args.max_replicas_per_node,
            proxy_location=args.proxy_location,
        )
        print(
            f"serving v{endpoint.target.champion} ({endpoint.target.rollout} rollout) at "
            f"{endpoint.url} ({endpoint.ingress} ingress; ready in {endpoint.startup_seconds} s); "
            f"docs at {endpoint.url}/docs. Ctrl-C stops.",
            flush=True,
        )
        stop.wait()
    finally:
        print("stopping the endpoint...", flush=True)
        launcher.stop()
    return 0


def _predict(args, settings: Settings) -> int:
    from serving.client import Client, EndpointError
    from serving.records import read_records

    client = Client(args.url or settings.serving_url, os.environ.get("MLOPS_API_KEY"))
    try:
        schema = client.model()["input_schema"]["columns"]
        records = read_records(sys.stdin if args.file == "-" else args.file, schema)
        if args.batch < 1:
            raise ValueError("--batch must be >= 1")
        responses = [
            client.predict(records[i : i + args.batch]) for i in range(0, len(records), args.batch)
        ]
    except EndpointError as exc:
        print(f"mlops: error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(responses))
        return 0
    print("id,score,decision,model_version,decided_by,control")
    for response in responses:
        for p in response["predictions"]:
            print(
                f"{p['id']},{p['score']:.6f},{p['decision']},{p['model_version']},"
                f"{p['decided_by']},{str(p['control']).lower()}"
            )
    return 0


def _up(args, settings: Settings) -> int:
    from mlops_assets.commands.up import Platform

    for flag, variable, default, _ in PORTS:
        dest = flag.removeprefix("--").replace("-", "_")
        setattr(args, dest, _port(getattr(args, dest), variable, default))
    return Platform(settings, args, _simulator_config(args, settings)).run()


if __name__ == "__main__":
    sys.exit(main())
