"""A dataset's assets as polars frames, for notebooks and scripts (`load_asset`)."""

from __future__ import annotations

import os

import polars as pl


def load_asset(
    asset: str,
    *,
    dataset: str | os.PathLike | None = None,
    home: str | os.PathLike | None = None,
    days: list[str] | None = None,
) -> pl.DataFrame | dict:
    """What the lake holds for `asset` (e.g. "features", "training_set", "backtest"): a daily
    asset's partitions concatenated in date order (`days`: only those), an unpartitioned frame,
    or an unpartitioned document (model card, backtest report) as a dict.

    `dataset`: a registered dataset's name or a spec path (default: `MLOPS_DATASET`, else the
    built-in lending simulator's);
    `home`: the home folder (default: `MLOPS_HOME`, else `./.mlops`). A missing asset is a
    `FileNotFoundError` naming it and where it was looked for.
    """
    from mlops_assets.config.settings import Settings
    from mlops_assets.defs.resources import DatasetResource

    settings = Settings.resolve(home=home, dataset=str(dataset) if dataset else None)
    lake = DatasetResource(
        spec_path=str(settings.dataset_spec), home=str(settings.home), lake=str(settings.lake)
    )
    partitions = lake.partitions(asset)
    if partitions or days:
        wanted = [d for d in partitions if days is None or d in days]
        missing = sorted(set(days or []) - set(partitions))
        if missing:
            raise FileNotFoundError(
                f"{lake.spec.name}/{asset} has no partition for {', '.join(missing)} in "
                f"{lake.lake_root}"
            )
        return lake.frame(asset, wanted)
    if not lake.exists(asset):
        raise FileNotFoundError(
            f"{lake.spec.name}/{asset} is not in the lake ({lake.lake_root / lake.spec.name}): "
            "materialize it first (mlops run)"
        )
    try:
        return lake.read(asset)
    except FileNotFoundError:
        return lake.document(asset)
