"""The report of `mlops check`: the columns it saw, the problems it found, and how it prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlops_assets.config.spec import DatasetSpec


@dataclass(frozen=True)
class Problem:
    where: str  # a column or a spec key
    text: str
    blocking: bool = True  # False: `run` and `up` warn and go on


@dataclass
class Report:
    spec: DatasetSpec
    files: list[Path] = field(default_factory=list)
    rows: int = 0
    columns: dict[str, dict] = field(default_factory=dict)  # name -> type, roles
    problems: list[Problem] = field(default_factory=list)
    break_even: float | None = None  # score above which acting pays, from the value matrix

    @property
    def blocking(self) -> list[Problem]:
        return [p for p in self.problems if p.blocking]

    def add(self, where: str, text: str, blocking: bool = True) -> None:
        self.problems.append(Problem(where, text, blocking))


def format_report(report: Report) -> str:
    """The table of columns, then every problem."""
    spec = report.spec
    lines = [f"dataset {spec.name}  (spec {spec.source})"]
    if report.files:
        names = [p.name for p in report.files]
        lines.append(f"read {', '.join(names)} ({report.rows} rows in the landing files)")
    if report.columns:
        width = max(len(c) for c in report.columns) + 2
        lines.append(f"\n{'column':<{width}}{'type':<7}{'nulls':>6}  roles")
        for name, info in report.columns.items():
            nulls = f"{info['nulls']:.0%}" if "nulls" in info else "-"
            problems = [p.text for p in report.problems if p.where == name]
            lines.append(
                f"{name:<{width}}{info['type']:<7}{nulls:>6}  {', '.join(info['roles'])}"
                + "".join(f"\n{'':<{width}}  ! {text}" for text in problems)
            )
    if report.break_even is not None:
        lines.append(
            f"\n'{spec.decision.action}' pays above a calibrated score of {report.break_even:.4f} "
            "(the value matrix's break-even)"
        )
    if report.problems:
        lines.append(f"\n{len(report.problems)} problem(s):")
        lines += [
            f"  {p.where}: {p.text}" + ("" if p.blocking else " (warning)") for p in report.problems
        ]
    else:
        lines.append("\nno problems")
    return "\n".join(lines)
