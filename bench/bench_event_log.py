"""Event-log bytes per materialization, per asset, of a home's Dagster instance.

    uv run python bench/bench_event_log.py --home DIR

What each materialization costs the event log (the serialized event, metadata included), median
and largest per asset, heaviest first. When figures were inlined (base64 PNGs in Markdown), the
drift report's PSI plot made each of its events 48 KB; `tests/test_monitoring.py` holds every
event under 9,600 bytes.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path


def main() -> None:
    from dagster._serdes import serialize_value

    from mlops_assets.commands.execution import instance_for
    from mlops_assets.config.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="a home folder (MLOPS_HOME)")
    args = parser.parse_args()
    instance = instance_for(Settings.resolve(home=args.home))
    sizes: dict[str, list[int]] = {}
    for key in instance.get_asset_keys():
        records = instance.fetch_materializations(key, limit=10_000).records
        sizes[key.to_user_string()] = [len(serialize_value(r.event_log_entry)) for r in records]
    print(f"{'median bytes':>12} {'largest':>8} {'events':>6}  asset")
    for name, values in sorted(sizes.items(), key=lambda kv: -statistics.median(kv[1] or [0])):
        if values:
            print(f"{statistics.median(values):12.0f} {max(values):8d} {len(values):6d}  {name}")


if __name__ == "__main__":
    main()
