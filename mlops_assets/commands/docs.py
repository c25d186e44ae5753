"""The asset and check tables of docs/engineers.md, generated from the definitions (`make docs`).

Group, asset, partitioning, description and the checks on each asset (blocking or not) come from
the code location itself, so the page cannot drift from the code; a test compares the two.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import dagster as dg

BEGIN, END = "<!-- asset-table:begin -->", "<!-- asset-table:end -->"
GROUPS = (
    "ingestion",
    "features",
    "training",
    "evaluation",
    "deployment",
    "decisions",
    "monitoring",
)


def asset_table(defs: dg.Definitions) -> str:
    """A markdown table: one row per asset, in lifecycle order."""
    graph = defs.resolve_asset_graph()
    checks: dict[dg.AssetKey, list[str]] = {}
    for check_key in sorted(graph.asset_check_keys, key=lambda k: k.name):
        spec = graph.get_check_spec(check_key)
        kind = "blocking" if spec.blocking else "non-blocking"
        checks.setdefault(check_key.asset_key, []).append(f"`{check_key.name}` ({kind})")
    rows = []
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if not node.is_materializable:
            continue
        rows.append(
            (
                GROUPS.index(node.group_name) if node.group_name in GROUPS else len(GROUPS),
                node.group_name,
                key.path[-1],
                "daily" if node.partitions_def else "—",
                " ".join((node.description or "").split()).replace("|", "\\|"),
                ", ".join(checks.get(key, [])) or "—",
            )
        )
    lines = [
        "| group | asset | partitions | what it is | checks (blocking: downstream does not run) |",
        "|---|---|---|---|---|",
        *(
            f"| {group} | `{name}` | {' | '.join(rest)} |"
            for _, group, name, *rest in sorted(rows, key=lambda r: (r[0], r[2]))
        ),
        "",
        "| check | on | blocking | what it verifies |",
        "|---|---|---|---|",
    ]
    for check_key in sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.path, k.name)):
        spec = graph.get_check_spec(check_key)
        text = " ".join((spec.description or "").split()).replace("|", "\\|")
        lines.append(
            f"| `{check_key.name}` | `{check_key.asset_key.path[-1]}` | "
            f"{'yes' if spec.blocking else 'no'} | {text} |"
        )
    return "\n".join(lines)


def builtin_table() -> str:
    """The table for the built-in lending dataset (one simulated day lands in a scratch home)."""
    from mlops_assets.config.settings import Settings
    from mlops_assets.defs.platform import build_definitions
    from mlops_assets.sources.simulator import land_day

    with tempfile.TemporaryDirectory() as home:
        settings = Settings.resolve(home=home)
        land_day(settings.simulator_plan(), 0, rows=50)
        return asset_table(build_definitions(settings)).replace(str(settings.home), "<home>")


def update(page: Path, table: str) -> bool:
    """Put `table` between the markers of `page`; True if the page changed."""
    text = page.read_text()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{page} has no {BEGIN} ... {END} markers")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{BEGIN}\n{table}\n{END}{tail}"
    if new == text:
        return False
    page.write_text(new)
    return True


if __name__ == "__main__":
    page = Path(__file__).resolve().parents[2] / "docs" / "engineers.md"
    print(f"{page}: {'updated' if update(page, builtin_table()) else 'already up to date'}")
