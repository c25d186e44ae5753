"""The registered datasets: each is a folder `mlops_assets/defs/<name>/` whose `defs.yaml` is an
instance of `mlops_assets.components.DatasetComponent` naming its spec (relative to the folder).
Read as plain YAML: a command learns the platform's datasets without loading the code location."""

from __future__ import annotations

from pathlib import Path

import yaml

DEFS = Path(__file__).resolve().parents[1] / "defs"
COMPONENT = "mlops_assets.components.DatasetComponent"


def registered_datasets() -> dict[str, Path]:
    """Every registered dataset: its name (the folder's) and its spec's path."""
    found = {}
    for file in sorted(DEFS.glob("*/defs.yaml")):
        document = yaml.safe_load(file.read_text()) or {}
        if document.get("type") != COMPONENT:
            continue
        spec = (document.get("attributes") or {}).get("spec")
        if not spec:
            raise ValueError(f"{file}: a {COMPONENT} needs `attributes: {{spec: PATH}}`")
        found[file.parent.name] = (file.parent / spec).resolve()
    return found


def spec_of(dataset: str) -> Path:
    """The spec of `dataset`: a registered dataset's name, or the path of a spec file."""
    registered = registered_datasets()
    if dataset in registered:
        return registered[dataset]
    path = Path(dataset).expanduser()
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path.resolve()
    names = ", ".join(registered) or "none"
    raise ValueError(
        f"no dataset {dataset!r}: give a registered dataset's name ({names}; `mlops datasets "
        "list`) or the path of a spec YAML"
    )


def route_prefix(dataset: str) -> str:
    """Where a dataset's application answers on the endpoint: `/<name>` for a registered
    dataset when several are registered; the root otherwise (one dataset, or a one-off spec)."""
    registered = registered_datasets()
    return f"/{dataset}" if dataset in registered and len(registered) > 1 else ""
