"""A spec is read against the data, not against YAML's guesses: boolean-looking values in the
YAML and in the CSV, for the target, the id and category values, are either accepted with their
meaning or refused with exit 2 naming the key; none quarantines a file. And `mlops check` lists
every problem of a spec against its first landing files, touching nothing."""

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from mlops_assets.commands.preflight import check_dataset
from mlops_assets.commands.runner import run_pipeline
from mlops_assets.config.settings import Settings
from mlops_assets.config.spec import load_spec

MLOPS = str(Path(sys.executable).parent / "mlops")
START = dt.date(2024, 3, 1)
SPEC = """\
name: club
landing: drops
format: csv
id_column: {id_column}
target: {{column: renewed, positive: {positive}{delay}}}
{outcomes}
segments: [member]
decision: {{action: {action}, otherwise: {otherwise}, threshold: 0.5}}
value:
  {{action_positive: {gain}, action_negative: -5, otherwise_positive: 0, otherwise_negative: 0}}
"""


def write_spec(folder: Path, **overrides) -> Path:
    fields = {
        "id_column": "on",  # YAML 1.1 would read a column named `on` as true
        "positive": "Yes",
        "delay": "",
        "outcomes": "",
        "action": "yes",  # action names that look boolean
        "otherwise": "no",
        "gain": 40,
    } | overrides
    path = folder / "club.yaml"
    path.write_text(SPEC.format(**fields))
    (folder / "drops").mkdir(exist_ok=True)
    return path


def write_days(
    folder: Path, days: int, rows: int = 60, labels=("Yes", "No"), seed: int = 0, **columns
) -> None:
    """Daily CSVs: ids that look boolean or numeric, a Yes/No category, a text label."""
    rng = np.random.default_rng(seed)
    for day in range(days):
        visits = rng.integers(0, 30, rows)
        renewed = rng.random(rows) < 1 / (1 + np.exp(-(visits - 15) / 4))
        frame = pl.DataFrame(
            {
                "on": (["TRUE", "no", "01"] if day == 0 else [f"b{day}-{i}" for i in range(3)])
                + [f"m{day}-{i}" for i in range(rows - 3)],
                "visits": visits,
                "member": rng.choice(["Yes", "No"], rows),
                "renewed": np.where(renewed, *labels),
                **{name: make(day, rows) for name, make in columns.items()},
            }
        )
        frame.write_csv(folder / "drops" / f"{START + dt.timedelta(days=day)}.csv")


def mlops(*args, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [MLOPS, "--home", str(home), *args], capture_output=True, text=True, timeout=600
    )


def test_yaml_keeps_the_text_of_yes_no_on_off(tmp_path):
    spec = load_spec(write_spec(tmp_path))
    assert spec.id_column == "on" and spec.target.positive == "Yes"
    assert (spec.decision.action, spec.decision.otherwise) == ("yes", "no")
    assert load_spec(write_spec(tmp_path, positive="true")).target.positive is True


@pytest.mark.parametrize(
    ("labels", "positive", "meaning"),
    [
        (("Yes", "No"), "Yes", "Yes"),
        (("Yes", "No"), "yes", "Yes"),
        (("Yes", "No"), "true", "Yes"),  # YAML's boolean true, over a Yes/No column
        (("No", "Yes"), "No", "No"),  # the positive class may be the "no" one
        (("TRUE", "FALSE"), "on", True),  # a true/false column is typed boolean
        (("1", "0"), "yes", 1),  # a 1/0 column is typed integer
        (("1", "0"), "1", 1),
        (("churn", "stay"), "'churn'", "churn"),
        (("Y", "N"), "true", None),  # refused: true is not Y
        (("good", "bad"), "yes", None),
        (("1", "0"), "2", None),
    ],
)
def test_a_boolean_looking_positive_is_matched_by_text_or_refused(
    tmp_path, labels, positive, meaning
):
    spec = write_spec(tmp_path, positive=positive)
    write_days(tmp_path, 3, labels=labels)
    result = mlops("check", "--dataset", str(spec), home=tmp_path / "home")
    if meaning is None:
        assert result.returncode == 2, result.stdout
        assert "target.positive" in result.stdout and "quoted" in result.stdout
        assert f"'{labels[0]}'" in result.stdout and f"'{labels[1]}'" in result.stdout
    else:
        assert result.returncode == 0, result.stdout + result.stderr
        frame = pl.read_csv(tmp_path / "drops" / f"{START}.csv")
        loaded = load_spec(spec)
        typed = frame["renewed"].to_list()
        assert {v for v in typed if loaded.target.is_positive(v)} == {meaning}
    assert not (tmp_path / "home").exists()  # check touches nothing


def test_boolean_looking_values_ingest_with_their_meaning_and_nothing_is_quarantined(tmp_path):
    spec = write_spec(tmp_path, positive="yes")
    write_days(tmp_path, 4, flag=lambda day, rows: ["true", "FALSE"] * (rows // 2))
    settings = Settings.resolve(home=tmp_path / "home", dataset=str(spec))
    summary = run_pipeline(settings, train=False)
    assert summary["raw"]["materialized"] == 4 and not summary["raw"]["quarantined"]
    assert not (tmp_path / "home" / "quarantine").exists()
    raw = pl.read_parquet(settings.lake / "club" / "raw" / f"{START}.parquet")
    assert raw["on"].head(3).to_list() == ["TRUE", "no", "01"]  # ids keep their text
    assert raw["member"].dtype == pl.String and set(raw["member"]) == {"Yes", "No"}
    assert raw["flag"].dtype == pl.Boolean  # a true/false column is boolean
    features = pl.read_parquet(settings.lake / "club" / "features" / f"{START}.parquet")
    assert features["_label"].to_list() == (raw["renewed"] == "Yes").cast(pl.Int8).to_list()


def test_a_spec_mistake_refuses_to_run_and_quarantines_nothing(tmp_path):
    spec = write_spec(tmp_path, positive="true")
    write_days(tmp_path, 3, labels=("Y", "N"))
    home = tmp_path / "home"
    result = mlops("run", "--dataset", str(spec), home=home)
    assert result.returncode == 2
    assert "target.positive: True is not one of" in result.stderr and "'N', 'Y'" in result.stderr
    assert not home.exists()  # refused before anything ran
    # had it run anyway (the check skipped), ingestion fails the day without quarantining it
    summary = run_pipeline(Settings.resolve(home=home, dataset=str(spec)), train=False)
    assert summary["raw"]["materialized"] == 0 and not summary["raw"]["quarantined"]
    assert "target.positive" in json.dumps(summary["raw"]["failed"])
    assert not (home / "quarantine").exists()


def test_a_schema_pinned_under_an_earlier_spec_is_learned_again(tmp_path):
    spec = write_spec(tmp_path)
    write_days(tmp_path, 2, code=lambda day, rows: [str(100 + i % 7) for i in range(rows)])
    settings = Settings.resolve(home=tmp_path / "home", dataset=str(spec))
    run_pipeline(settings, train=False)
    pinned = settings.lake / "club" / "_schema.json"
    assert json.loads(pinned.read_text())["columns"]["code"] == "int"
    first_day = (settings.lake / "club" / "raw" / f"{START}.parquet").read_bytes()
    spec.write_text(spec.read_text() + "categorical: [member, code]\n")  # the user's fix
    write_days(tmp_path, 3, code=lambda day, rows: [str(100 + i % 7) for i in range(rows)])
    run_pipeline(settings, train=False, only_new=True)
    assert json.loads(pinned.read_text())["columns"]["code"] == "str"
    assert len(list(pinned.parent.glob("_schema.*.json"))) == 1  # the earlier one, kept
    assert (settings.lake / "club" / "raw" / f"{START}.parquet").read_bytes() == first_day
    day3 = pl.read_parquet(settings.lake / "club" / "raw" / "2024-03-03.parquet")
    assert day3["code"].dtype == pl.String


# `mlops check`: one test per problem it must find


def problems(tmp_path) -> dict[str, str]:
    found: dict[str, str] = {}
    for problem in check_dataset(load_spec(tmp_path / "club.yaml")).problems:
        found[problem.where] = found.get(problem.where, "") + problem.text + "\n"
    return found


def test_check_is_clean_on_a_good_spec_and_prints_the_table(tmp_path):
    spec = write_spec(tmp_path)
    write_days(tmp_path, 3)
    result = mlops("check", "--dataset", str(spec), home=tmp_path / "home")
    assert result.returncode == 0, result.stdout
    assert "no problems" in result.stdout
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert "id" in lines["on"] and "str" in lines["on"]
    assert "feature, categorical, segment" in lines["member"]
    assert "target (positive 'Yes')" in lines["renewed"] and "int" in lines["visits"]


def test_check_finds_a_missing_column(tmp_path):
    write_spec(tmp_path)
    (tmp_path / "club.yaml").write_text(
        (tmp_path / "club.yaml").read_text() + "protected: [age_band]\n"
    )
    write_days(tmp_path, 3)
    assert "named in 'protected'" in problems(tmp_path)["age_band"]


def test_check_finds_a_target_without_two_classes(tmp_path):
    write_spec(tmp_path)
    write_days(tmp_path, 3, labels=("Yes", "No"))
    frame = pl.read_csv(tmp_path / "drops" / f"{START}.csv")
    frame.with_columns(renewed=pl.lit("Maybe")).head(5).vstack(frame).write_csv(
        tmp_path / "drops" / f"{START}.csv"
    )
    assert "3 distinct values" in problems(tmp_path)["target.column"]


def test_check_finds_duplicate_ids(tmp_path):
    write_spec(tmp_path)
    write_days(tmp_path, 3)
    path = tmp_path / "drops" / f"{START}.csv"
    frame = pl.read_csv(path, infer_schema=False)
    frame.vstack(frame.head(2)).write_csv(path)
    assert "occur more than once" in problems(tmp_path)["on"]


def test_check_finds_a_categorical_with_thousands_of_values(tmp_path):
    write_spec(tmp_path)
    write_days(tmp_path, 3, rows=500, note=lambda day, rows: [f"n{day}-{i}" for i in range(rows)])
    assert "1500 distinct values" in problems(tmp_path)["note"]


def test_check_finds_outcomes_that_do_not_match_delay_days(tmp_path):
    spec = write_spec(tmp_path, delay=", delay_days: 3", outcomes="outcomes: late")
    write_days(tmp_path, 8)
    (tmp_path / "late").mkdir()
    found = problems(tmp_path)
    assert "should have landed on 2024-03-04" in found["outcomes"]
    for day in range(3):  # labels arrive 5 days after the applications, not 3
        applications = pl.read_csv(tmp_path / "drops" / f"{START + dt.timedelta(days=day)}.csv")
        applications.select("on", "renewed").write_csv(
            tmp_path / "late" / f"{START + dt.timedelta(days=day + 5)}.csv"
        )
    found = problems(tmp_path)
    assert "5 days after the first landing file" in found["target.delay_days"]
    assert "only 0% of the ids in outcomes 2024-03-06" in found["target.delay_days"]
    assert load_spec(spec).delayed_labels


def test_check_finds_a_value_matrix_under_which_acting_never_pays(tmp_path):
    spec = write_spec(tmp_path, gain=-10)
    write_days(tmp_path, 3)
    assert "no threshold can pay" in problems(tmp_path)["value"]
    result = mlops("check", "--dataset", str(spec), home=tmp_path / "home")
    assert result.returncode == 2 and "value: 'yes' is never worth more" in result.stdout


def test_check_reads_parquet_days_typed_differently_and_a_bad_day_only_warns(tmp_path):
    from mlops_assets.commands.preflight import require_fit

    spec_path = write_spec(tmp_path)
    spec_path.write_text(spec_path.read_text().replace("format: csv", "format: parquet"))
    write_days(tmp_path, 3)
    for i, csv in enumerate(sorted((tmp_path / "drops").glob("*.csv"))):
        frame = pl.read_csv(csv)  # pandas-made files: a column int one day, float the next
        frame = frame.with_columns(pl.col("visits").cast(pl.Float64)) if i == 1 else frame
        frame.write_parquet(csv.with_suffix(".parquet"))
        csv.unlink()
    (tmp_path / "drops" / f"{START}.parquet").write_bytes(b"")  # the first day is damaged
    report = require_fit(load_spec(spec_path), warn=lambda line: None)  # does not raise
    assert [p.where for p in report.problems] == ["landing"] and not report.blocking
    assert report.columns["visits"]["type"] in ("int", "float")
