"""The code location: every definition under `mlops_assets/defs/`, loaded by dg's convention.

`defs/dataset.py` builds the dataset's assets, checks, jobs, sensors and resources from the spec
that `MLOPS_DATASET` names (the built-in lending simulator by default); anything scaffolded next
to it (`dg scaffold defs dagster.asset ...`) joins the same location.
"""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
