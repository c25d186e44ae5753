"""The simulator's story of a home folder: rows a day, seed, scenario and day effect, kept so
that a resumed `mlops up` continues it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mlops_assets.sources.simulator import Scenario


@dataclass(frozen=True)
class SimulatorConfig:
    """Simulator settings of a home folder, kept in `simulator.json` so that a resumed
    `mlops up` continues the same story (same seed, same scenario)."""

    rows: int = 2000
    seed: int = 7
    scenario: str = "none"
    drift_day: int = 30
    day_effect: float = 1.0  # scale of day-to-day variation (day_effect.DAY_*_SD); 0: none

    @classmethod
    def resolve(cls, home: Path, **given) -> SimulatorConfig:
        """Explicit values, else those saved in the home folder, else the defaults."""
        path = home / "simulator.json"
        saved = json.loads(path.read_text()) if path.exists() else {}
        if saved:
            saved.setdefault("day_effect", 0.0)  # a story begun before day effects goes on so
        values = {**saved, **{k: v for k, v in given.items() if v is not None}}
        config = cls(**{k: values[k] for k in cls.__dataclass_fields__ if k in values})
        if config.rows < 1:
            raise ValueError(f"--rows {config.rows} must be >= 1")
        config.as_scenario()  # validates
        return config

    def save(self, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        (home / "simulator.json").write_text(json.dumps(self.__dict__, indent=2) + "\n")

    def as_scenario(self) -> Scenario:
        return Scenario(self.scenario, self.drift_day, self.day_effect)

    def describe(self) -> str:
        drift = f" from day {self.drift_day}" if self.scenario != "none" else ""
        return (
            f"{self.rows} rows/day, seed {self.seed}, scenario {self.scenario}{drift}, "
            f"day effect {self.day_effect:g}"
        )
