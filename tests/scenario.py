"""The end-to-end retraining scenarios' shared part: 85 simulated days (the scenario from day
40), each landed and replayed day by day through the platform's daily chain, training the first
champion on day 34, with the sensors (`mlops_assets.commands.replay`: real Dagster instance,
sensors evaluated through Dagster's sensor API, real MLflow). Each scenario is its own test
module, so that the two run on separate xdist workers.

Before the drift day every scenario lands the same days, so the days up to the last sensor
checkpoint before it are replayed once per test run (`FORK_DAY`, a shared home) and each
scenario replays the rest on its own copy."""

import datetime as dt
import json

from mlops_assets.commands.replay import replay
from mlops_assets.config.settings import Settings
from mlops_assets.sources.simulator import Scenario, land_day
from tests.conftest import built_once, copy_home

ROWS, DAYS, DRIFT_DAY = 1000, 85, 40
TRAIN_DAY, STEP = DRIFT_DAY - 6, 1  # sensors every day, as the daemon
FORK_DAY = DRIFT_DAY - 1 - (DRIFT_DAY - 1 - TRAIN_DAY) % STEP  # the last checkpoint before it
START = dt.date(2025, 1, 1)


def replayed(
    tmp_path_factory, scenario: str, until=None, last_day: int = DAYS - 1
) -> tuple[Settings, dict]:
    """Each day lands just before it runs, so its outcomes exist only for the applications that
    the platform's decisions approved (selective labels, the control group included). `until`:
    stop the replay at the first checkpoint where it holds (see `commands.replay.replay`)."""
    fork = built_once(tmp_path_factory, "scenario-fork", _replay_until_the_fork)
    settings = copy_home(fork, tmp_path_factory.mktemp(scenario) / "home")
    history = json.loads((fork.parent / "history.json").read_text())
    history = _replay(
        settings, scenario, first_day=FORK_DAY + 1, last_day=last_day, history=history, until=until
    )
    return settings, history


def _replay_until_the_fork(settings: Settings) -> None:
    history = _replay(settings, "none", first_day=0, last_day=FORK_DAY)
    assert FORK_DAY < DRIFT_DAY and history["checkpoints"][-1]["day"] == _date(FORK_DAY)
    (settings.home.parent / "history.json").write_text(json.dumps(history))


def _replay(
    settings: Settings, scenario: str, first_day: int, last_day: int, history=None, until=None
):
    plan = settings.simulator_plan()

    def land(day: str) -> None:
        index = (dt.date.fromisoformat(day) - START).days
        land_day(plan, index, rows=ROWS, scenario=Scenario(scenario, DRIFT_DAY))

    return replay(
        settings,
        train_day=_date(TRAIN_DAY),
        last_day=_date(last_day),
        step=STEP,
        land=land,
        first_day=_date(first_day),
        history=history,
        until=until,
    )


def _date(day: int) -> str:
    return str(START + dt.timedelta(days=day))


def signal_retrains(history: dict) -> list[dict]:
    return [r for r in history["retrains"] if r["trigger"] in ("drift", "performance")]


def promoted_by_a_signal(history: dict) -> bool:
    return any(r["promoted"] for r in signal_retrains(history))
