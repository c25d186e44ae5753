"""The `mlops` argument parser: every command, its flags and their defaults.

Each subcommand sets `command` to its name; `mlops_assets.commands.cli` runs the handler.
"""

from __future__ import annotations

import argparse
import os

from mlops_assets.sources.simulator import SCENARIOS

PORTS = (  # `mlops up` flag, the environment variable that moves it, default, what listens
    ("--dagster-port", "MLOPS_DAGSTER_PORT", 3000, "Dagster UI port"),
    ("--mlflow-port", "MLOPS_MLFLOW_PORT", 5000, "MLflow server port"),
    ("--serve-port", "MLOPS_SERVE_PORT", 8000, "Ray Serve endpoint port"),
    ("--docs-port", "MLOPS_DOCS_PORT", 3001, "Great Expectations Data Docs site port"),
)


def resolve_port(given: int | None, variable: str, default: int) -> int:
    """A port from its flag, else its environment variable, else the default."""
    if given is not None:
        return given
    value = os.environ.get(variable)
    if not value:
        return default
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ValueError(f"{variable}={value!r} is not a port number (1-65535)")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops", description="An asset-based MLOps platform on Dagster."
    )
    parser.add_argument("--home", help="state folder (default: $MLOPS_HOME or ./.mlops)")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    _platform_commands(sub)
    _model_commands(sub)
    _serving_commands(sub)
    return parser


def _dataset(p: argparse.ArgumentParser, default: str = "the lending simulator") -> None:
    p.add_argument(
        "--dataset",
        metavar="NAME|SPEC",
        help=f"a registered dataset's name or a spec YAML (default: {default})",
    )


def _simulation(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rows", type=int, help="mean applications a day (2000)")
    p.add_argument("--scenario", choices=SCENARIOS, help="drift scenario (none)")
    p.add_argument("--drift-day", type=int, help="day index drift starts (30)")
    p.add_argument("--seed", type=int, help="random seed (7)")
    p.add_argument(
        "--day-effect",
        type=float,
        help="scale of the day-to-day variation of base rate and applicant mix (1; 0: none)",
    )


def _reason(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reason", help="why, recorded on the Dagster run and the champion")


def _platform_commands(sub) -> None:
    """up, simulate, check, run, status."""
    up = sub.add_parser(
        "up", help="start Dagster, MLflow, Ray Serve and the simulator; Ctrl-C stops all"
    )
    _dataset(up, default="every registered dataset")
    _simulation(up)
    up.add_argument("--backfill-days", type=int, default=60, help="history to land first (60)")
    up.add_argument(
        "--interval",
        type=float,
        default=20.0,
        help="seconds between simulated days after the backfill (20)",
    )
    for flag, variable, default, what in PORTS:
        up.add_argument(flag, type=int, help=f"{what} (${variable}, else {default})")
    up.set_defaults(command="up")

    sim = sub.add_parser("simulate", help="write simulator landing and outcome files")
    sim.add_argument("--days", type=int, required=True, help="number of days to write")
    sim.add_argument("--first-day", type=int, default=0, help="index of the first day (0)")
    _simulation(sim)
    sim.set_defaults(command="simulate")

    check = sub.add_parser(
        "check", help="read the spec against its first landing files and list every problem"
    )
    _dataset(check)
    check.set_defaults(command="check")

    run = sub.add_parser("run", help="materialize every landed day through Dagster, headless")
    _dataset(run)
    run.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    run.add_argument("--only-new", action="store_true", help="skip days already materialized")
    run.set_defaults(command="run")

    status = sub.add_parser("status", help="what is landed, materialized, promoted")
    _dataset(status, default="every registered dataset")
    status.add_argument("--json", action="store_true")
    status.set_defaults(command="status")

    datasets = sub.add_parser("datasets", help="the datasets the platform runs: add, list")
    action = datasets.add_subparsers(required=True, metavar="ACTION", dest="action")
    add = action.add_parser(
        "add", help="register a dataset: scaffold mlops_assets/defs/<name>/defs.yaml (dg)"
    )
    add.add_argument("spec", metavar="SPEC", help="the dataset spec YAML")
    listed = action.add_parser("list", help="every registered dataset and its spec")
    for p in (add, listed):
        p.add_argument("--json", action="store_true", help="print JSON")
    datasets.set_defaults(command="datasets")


def _model_commands(sub) -> None:
    """rollback, promote, release: operator actions, each a Dagster run; reproduce, sweep."""
    rollback = sub.add_parser(
        "rollback", help="move the champion back to the previous one (a Dagster run)"
    )
    _dataset(rollback)
    _reason(rollback)
    rollback.set_defaults(command="rollback")

    promote = sub.add_parser(
        "promote", help="make the challenger (or --version N) the champion (a Dagster run)"
    )
    _dataset(promote)
    _reason(promote)
    promote.add_argument("--version", type=int, help="registry version (default: the challenger)")
    promote.set_defaults(command="promote")

    release = sub.add_parser(
        "release",
        help="copy the previous environment's champion into --to's registry as its champion "
        "(dev -> test -> prod), if its gates passed",
    )
    _dataset(release)
    _reason(release)
    release.add_argument("--to", required=True, choices=("test", "prod"))
    release.set_defaults(command="release")

    reproduce = sub.add_parser(
        "reproduce",
        help="retrain a registered model from its MLflow run's record and check that it scores "
        "the same rows with the same bytes (exit 1 if not)",
    )
    _dataset(reproduce)
    reproduce.add_argument("run_id", metavar="RUN_ID", help="the MLflow run of the candidate")
    reproduce.add_argument("--json", action="store_true", help="the result as one JSON object")
    reproduce.set_defaults(command="reproduce")

    sweep = sub.add_parser(
        "sweep",
        help="Ray Tune trials of recipes from the spec's experiments.search against the "
        "champion's recipe (MLflow: a parent run, a child run per trial); the confirmed winner "
        "is then trained through the gates",
    )
    _dataset(sweep)
    sweep.add_argument("--trials", type=int, help="recipes drawn (default: experiments.trials)")
    sweep.add_argument("--seed", type=int, help="of the draws (default: experiments.seed)")
    sweep.add_argument(
        "--no-train", action="store_true", help="only the sweep: do not train its winner"
    )
    sweep.add_argument("--json", action="store_true", help="the result as one JSON object")
    sweep.set_defaults(command="sweep")


def _serving_commands(sub) -> None:
    """serve, predict."""
    serve = sub.add_parser("serve", help="serve the champion on Ray Serve until Ctrl-C")
    _dataset(serve)
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
    serve.set_defaults(command="serve")

    predict = sub.add_parser("predict", help="score a CSV or JSON file of records (- = stdin)")
    predict.add_argument("file", metavar="FILE", help="CSV, JSON list or {'records': [...]}")
    predict.add_argument(
        "--url", help="endpoint (default: $MLOPS_SERVING_URL, else :$MLOPS_SERVE_PORT or :8000)"
    )
    predict.add_argument("--batch", type=int, default=1000, help="records per request (1000)")
    predict.add_argument("--json", action="store_true", help="print the responses as JSON")
    predict.set_defaults(command="predict")
