"""`mlops`: the platform's command line. Every command works on one home folder."""

from __future__ import annotations

import json
import os
import sys

from mlops_assets.commands.parser import PORTS, build_parser, resolve_port
from mlops_assets.config.settings import Settings
from mlops_assets.sources.simulator import land_day
from mlops_assets.sources.story import SimulatorConfig


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings.resolve(args.home, getattr(args, "dataset", None))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        return HANDLERS[args.command](args, settings)
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError) as exc:  # SpecError, IngestError, LakeError, bad arguments
        print(f"mlops: error: {exc}", file=sys.stderr)
        return 2


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
        day_effect=args.day_effect,
    )


def _check(args, settings: Settings) -> int:
    from mlops_assets.commands.check_report import format_report
    from mlops_assets.commands.preflight import check_dataset

    report = check_dataset(settings.spec)
    print(format_report(report))
    return 2 if report.problems else 0


def _run(args, settings: Settings) -> int:
    from mlops_assets.commands.preflight import require_fit
    from mlops_assets.commands.runner import run_pipeline

    progress = (lambda line: print(line, file=sys.stderr)) if args.json else print
    require_fit(settings.spec, progress)
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
        for day, failure in summary["daily"]["failed"].items():
            print(f"daily chain {day}: {failure}")
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
    return 1 if failed or summary["daily"]["failed"] else 0


def _datasets(args, settings: Settings) -> int:
    from mlops_assets.commands.datasets import datasets_command

    return datasets_command(args)


def _status(args, settings: Settings) -> int:
    """One dataset's status (a JSON object); several: each in turn (`{"datasets": [...]}`)."""
    from mlops_assets.commands.status import collect_status, format_status

    statuses = [collect_status(settings.one(spec)) for spec in settings.datasets]
    if args.json:
        print(
            json.dumps(
                statuses[0] if len(statuses) == 1 else {"datasets": statuses}, sort_keys=True
            )
        )
    else:
        print("\n\n".join(format_status(status) for status in statuses))
    return 0


def _rollback(args, settings: Settings) -> int:
    return _operate(settings, "rollback", reason=args.reason)


def _promote(args, settings: Settings) -> int:
    return _operate(settings, "promote", reason=args.reason, version=args.version)


def _operate(settings: Settings, action: str, **config) -> int:
    """Launch the rollback or promote job (champion, then deployment) and wait for it."""
    from mlops_assets.commands.execution import operate
    from mlops_assets.defs.jobs import operator_config, operator_job_name

    spec = settings.spec
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
    from mlops_assets.commands.execution import operate
    from mlops_assets.defs.release import release_job_name

    spec = settings.spec
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

    port = resolve_port(args.port, "MLOPS_SERVE_PORT", 8000)
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
        if len(endpoint.applications) > 1:
            for name, url in endpoint.applications.items():
                print(f"serving {name} at {url} (docs at {url}/docs)", flush=True)
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
        setattr(args, dest, resolve_port(getattr(args, dest), variable, default))
    return Platform(settings, args, _simulator_config(args, settings)).run()


def _reproduce(args, settings: Settings) -> int:
    from mlflow.exceptions import MlflowException

    from mlops_assets.commands.reproduce import format_reproduction, reproduce

    try:
        result = reproduce(
            settings, args.run_id, progress=lambda line: print(line, file=sys.stderr)
        )
    except MlflowException as exc:
        raise ValueError(f"MLflow run {args.run_id}: {exc.message}") from exc
    print(json.dumps(result) if args.json else format_reproduction(result))
    return 0 if result["reproduced"] else 1


def _sweep(args, settings: Settings) -> int:
    from mlops_assets.commands.sweep import format_sweep, run_sweep

    if args.trials is not None and args.trials < 1:
        raise ValueError("--trials must be >= 1")
    summary = run_sweep(
        settings,
        trials=args.trials,
        seed=args.seed,
        train=not args.no_train,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(json.dumps(summary, default=str) if args.json else format_sweep(summary))
    model = summary.get("model")
    return 1 if model and not model["success"] and "not_promoted" not in model else 0


HANDLERS = {
    "up": _up,
    "simulate": _simulate,
    "check": _check,
    "run": _run,
    "status": _status,
    "datasets": _datasets,
    "rollback": _rollback,
    "promote": _promote,
    "release": _release,
    "reproduce": _reproduce,
    "sweep": _sweep,
    "serve": _serve,
    "predict": _predict,
}


if __name__ == "__main__":
    sys.exit(main())
