"""The simulator is deterministic, realistic enough, and keeps the truth apart."""

import hashlib

import polars as pl

from mlops_assets.sources.simulator import Scenario, applications, labelled_truth, land_day
from tests.conftest import land


def digest(folder):
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_identical_files(tmp_path, settings):
    land(settings, range(10))
    first = digest(settings.home / "landing")
    mtimes = {p: p.stat().st_mtime_ns for p in (settings.home / "landing").rglob("*.csv")}
    land(settings, range(10))
    assert digest(settings.home / "landing") == first
    # identical files are not rewritten, so the landing sensor does not see a new version
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes


def test_outcomes_arrive_delay_days_later_for_that_days_applications(settings):
    land(settings, range(9))
    plan = settings.simulator_plan()
    outcomes = sorted(plan.outcomes_landing.glob("*.csv"))
    assert [p.stem for p in outcomes] == ["2025-01-08", "2025-01-09"]
    labels = pl.read_csv(outcomes[0])
    apps = pl.read_csv(plan.landing / "2025-01-01.csv")
    assert labels.columns == ["application_id", "defaulted"]
    assert labels["application_id"].to_list() == apps["application_id"].to_list()


def test_ground_truth_is_written_outside_the_landing_folder(settings):
    land(settings, range(1))
    plan = settings.simulator_plan()
    truth = pl.read_parquet(next(plan.ground_truth.glob("*.parquet")))
    assert not plan.ground_truth.is_relative_to(plan.landing.parent)
    assert "true_default_probability" not in pl.read_csv(plan.landing / "2025-01-01.csv").columns
    assert truth["true_default_probability"].is_between(0, 1).all()


def test_realistic_columns_with_missing_values():
    apps, truth = applications(0, __import__("datetime").date(2025, 1, 1), 5000, 1, Scenario())
    for column in (
        "income",
        "debt_to_income",
        "loan_amount",
        "term_months",
        "employment_years",
        "age_band",
        "region",
        "channel",
        "credit_score",
    ):
        assert column in apps.columns
    assert apps["employment_years"].null_count() > 0 and apps["credit_score"].null_count() > 0
    assert 0.05 < truth["true_default_probability"].mean() < 0.2


def test_data_drift_moves_inputs_and_concept_drift_moves_only_the_relationship():
    import datetime as dt

    day = dt.date(2025, 3, 1)
    base_apps, base = labelled_truth(40, day, 20_000, 3, Scenario("none", 30))
    data_apps, _ = labelled_truth(40, day, 20_000, 3, Scenario("data_drift", 30))
    concept_apps, concept = labelled_truth(40, day, 20_000, 3, Scenario("concept_drift", 30))
    assert data_apps["income"].median() < 0.9 * base_apps["income"].median()
    assert concept_apps.equals(base_apps)  # same applicants...
    assert concept["true_default_probability"].mean() > base["true_default_probability"].mean()
    before, _ = labelled_truth(29, day, 2000, 3, Scenario("both", 30))
    assert before.equals(labelled_truth(29, day, 2000, 3, Scenario("none", 30))[0])


def test_land_day_reports_only_changed_files(settings):
    plan = settings.simulator_plan()
    assert len(land_day(plan, 0, rows=100)) == 2  # applications + ground truth
    assert land_day(plan, 0, rows=100) == []


def decide(settings, day: str, ids: list[str], decisions: list[str], control: list[bool]):
    """Write the platform's decisions of `day` where the lake keeps them."""
    folder = settings.lake / "lending" / "decisions"
    folder.mkdir(parents=True, exist_ok=True)
    pl.DataFrame({"id": ids, "decision": decisions, "control": control}).write_parquet(
        folder / f"{day}.parquet"
    )


def test_a_declined_application_outside_the_control_group_never_gets_an_outcome(settings):
    """The business reacts to the platform: outcomes land for approved rows (control included),
    never for a row declined outside the control group; the truth keeps every outcome apart."""
    plan = settings.simulator_plan()
    land(settings, range(1))
    ids = pl.read_csv(plan.landing / "2025-01-01.csv")["application_id"].to_list()
    decisions = ["decline" if i % 3 == 0 else "approve" for i in range(len(ids))]
    control = [i % 3 == 0 and i % 2 == 0 for i in range(len(ids))]  # half the declines: control
    decisions = ["approve" if c else d for d, c in zip(decisions, control, strict=True)]
    decide(settings, "2025-01-01", ids, decisions, control)
    land(settings, range(8))
    observed = pl.read_csv(plan.outcomes_landing / "2025-01-08.csv")["application_id"].to_list()
    declined = {i for i, d in zip(ids, decisions, strict=True) if d == "decline"}
    assert declined and not declined & set(observed)
    assert set(observed) == set(ids) - declined
    assert any(c for c in control)  # control rows (declined by score) are observed
    truth = pl.read_parquet(plan.ground_truth / "2025-01-01.parquet")
    assert truth.height == len(ids) and "defaulted" in truth.columns


def test_outcomes_of_an_undecided_day_wait_for_its_decisions_and_then_stay_final(settings):
    plan = settings.simulator_plan()
    land(settings, range(3))
    for day in ("2025-01-02", "2025-01-03"):
        ids = pl.read_csv(plan.landing / f"{day}.csv")["application_id"].to_list()
        decide(settings, day, ids, ["approve"] * len(ids), [False] * len(ids))
    land(settings, range(9))
    # 01-01 precedes the platform's first decision: the legacy policy approved everyone
    legacy = pl.read_csv(plan.outcomes_landing / "2025-01-08.csv")
    assert legacy.height == pl.read_csv(plan.landing / "2025-01-01.csv").height
    assert (plan.outcomes_landing / "2025-01-09.csv").exists()  # 01-02 was decided
    land(settings, range(10))
    assert (plan.outcomes_landing / "2025-01-10.csv").exists()  # 01-03 was decided
    ids = pl.read_csv(plan.landing / "2025-01-04.csv")["application_id"].to_list()
    land(settings, range(11))
    assert not (plan.outcomes_landing / "2025-01-11.csv").exists()  # 01-04 is not decided yet
    decide(settings, "2025-01-04", ids, ["decline"] * len(ids), [False] * len(ids))
    land(settings, range(11))
    late = plan.outcomes_landing / "2025-01-11.csv"
    assert pl.read_csv(late).height == 0  # decided now: everyone declined, nothing observed
    before = late.read_bytes()
    decide(settings, "2025-01-04", ids, ["approve"] * len(ids), [False] * len(ids))
    land(settings, range(11))
    assert late.read_bytes() == before  # a landed outcomes file is final


def test_day_effect_moves_base_rate_and_mix_from_day_to_day_and_zero_turns_it_off():
    import datetime as dt

    date = dt.date(2025, 1, 1)

    def day_means(effect):
        means = []
        for day in range(12):
            apps, truth = labelled_truth(day, date, 20_000, 5, Scenario(day_effect=effect))
            logit = truth["true_default_probability"] / (1 - truth["true_default_probability"])
            means.append(
                (
                    float(logit.log().mean()),
                    float(apps["credit_score"].mean()),
                    float((apps["channel"] == "online").mean()),
                )
            )
        return pl.DataFrame(means, schema=["logit", "score", "online"], orient="row")

    quiet, varied = day_means(0.0), day_means(1.0)
    # between-day sd beyond sampling noise (about 0.01, 0.4 and 0.0035 at 20,000 rows)
    assert varied["logit"].std() > 2 * quiet["logit"].std()
    assert varied["score"].std() > 2 * quiet["score"].std()
    assert varied["online"].std() > 2 * quiet["online"].std()
    # seeded: the same day twice is the same bytes
    first = labelled_truth(3, date, 500, 5, Scenario(day_effect=1.0))
    again = labelled_truth(3, date, 500, 5, Scenario(day_effect=1.0))
    assert first[0].equals(again[0]) and first[1].equals(again[1])


def test_day_effect_is_remembered_in_the_home_folder(tmp_path):
    from mlops_assets.sources.story import SimulatorConfig

    SimulatorConfig.resolve(tmp_path, day_effect=0.5).save(tmp_path)
    assert SimulatorConfig.resolve(tmp_path).as_scenario().day_effect == 0.5
    assert SimulatorConfig.resolve(tmp_path, day_effect=0).day_effect == 0
    with __import__("pytest").raises(ValueError, match="day effect"):
        SimulatorConfig.resolve(tmp_path, day_effect=-1)
