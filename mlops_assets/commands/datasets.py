"""`mlops datasets add SPEC` and `mlops datasets list`: the datasets the platform runs.

A registered dataset is a `DatasetComponent` instance, `mlops_assets/defs/<name>/defs.yaml`,
scaffolded by dg; `mlops up`, `mlops status` and the code location take every registered one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mlops_assets.config.catalog import COMPONENT, DEFS, registered_datasets
from mlops_assets.config.spec import load_spec


def add_dataset(spec_file: str) -> dict:
    """Register the dataset of `spec_file` (through `dg scaffold defs`); returns what it wrote."""
    path = Path(spec_file).expanduser().resolve()
    if not path.is_file():
        raise ValueError(f"no dataset spec at {path}")
    spec = load_spec(path)
    registered = registered_datasets()
    if spec.name in registered:
        raise ValueError(
            f"a dataset {spec.name!r} is registered already ({registered[spec.name]}): remove "
            f"{DEFS / spec.name} first to register another spec under that name"
        )
    scaffold = [
        str(Path(sys.executable).parent / "dg"),
        *("scaffold", "defs", COMPONENT, spec.name),
        *("--json-params", json.dumps({"spec": str(path)})),
    ]
    done = subprocess.run(scaffold, cwd=DEFS.parents[1], capture_output=True, text=True)
    if done.returncode != 0:
        raise ValueError(f"dg scaffold defs failed:\n{(done.stderr or done.stdout).strip()}")
    return {"name": spec.name, "spec": str(path), "defs": str(DEFS / spec.name / "defs.yaml")}


def list_datasets() -> list[dict]:
    return [{"name": name, "spec": str(spec)} for name, spec in registered_datasets().items()]


def format_datasets(datasets: list[dict]) -> str:
    width = max((len(d["name"]) for d in datasets), default=4)
    return "\n".join(f"{d['name']:<{width}}  {d['spec']}" for d in datasets) or "none"


def datasets_command(args) -> int:
    """`mlops datasets add SPEC` / `mlops datasets list` (`--json`)."""
    if args.action == "add":
        added = add_dataset(args.spec)
        done = f"registered {added['name']} ({added['spec']}): {added['defs']}"
        print(json.dumps(added) if args.json else done)
        return 0
    datasets = list_datasets()
    print(json.dumps(datasets) if args.json else format_datasets(datasets))
    return 0
