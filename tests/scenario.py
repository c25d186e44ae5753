"""The end-to-end retraining scenarios' shared part: 85 simulated days (the scenario from day
40), each landed and replayed day by day through the platform's daily chain, training the first
champion on day 34, with the sensors (`mlops_assets.commands.replay`: real Dagster instance,
sensors evaluated through Dagster's sensor API, real MLflow). Each scenario is its own test
module, so that the two run on separate xdist workers."""

import datetime as dt

from mlops_assets.commands.replay import replay
from mlops_assets.config.settings import Settings
from mlops_assets.sources.simulator import Scenario, land_day

ROWS, DAYS, DRIFT_DAY = 1000, 85, 40
START = dt.date(2025, 1, 1)


def replayed(tmp_path, scenario: str) -> tuple[Settings, dict]:
    """Each day lands just before it runs, so its outcomes exist only for the applications that
    the platform's decisions approved (selective labels, the control group included)."""
    settings = Settings.resolve(home=tmp_path / scenario)
    plan = settings.simulator_plan()

    def land(day: str) -> None:
        index = (dt.date.fromisoformat(day) - START).days
        land_day(plan, index, rows=ROWS, scenario=Scenario(scenario, DRIFT_DAY))

    history = replay(
        settings,
        train_day=str(START + dt.timedelta(days=DRIFT_DAY - 6)),
        last_day=str(START + dt.timedelta(days=DAYS - 1)),
        land=land,
    )
    return settings, history


def signal_retrains(history: dict) -> list[dict]:
    return [r for r in history["retrains"] if r["trigger"] in ("drift", "performance")]
