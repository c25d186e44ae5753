"""The code location: every definition under `mlops_assets/defs/`, loaded by dg's convention.

Each registered dataset is a component instance, `defs/<name>/defs.yaml` (`mlops datasets
list`); `defs/platform.py` holds the resources they share. Anything scaffolded next to them
(`dg scaffold defs dagster.asset ...`) joins the same location.
"""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
