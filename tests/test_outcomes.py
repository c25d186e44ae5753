"""The outcome API's checks and writes (`serving.outcomes`), without Ray: a whole post is
checked before anything is written, the day's landing file is replaced atomically, and a
repeated post changes nothing. `test_serving.py` posts to the real endpoint."""

import json

import pytest

from serving.outcomes import OutcomeError, parse_outcomes, record_outcomes

COLUMNS = ("application_id", "defaulted")
DECISIONS = {"a": "approve", "b": "approve", "c": "decline", "d": "approve"}


def body(*outcomes) -> bytes:
    return json.dumps({"outcomes": [{"id": i, "defaulted": v} for i, v in outcomes]}).encode()


def record(folder, posted, day="2026-12-06"):
    return record_outcomes(folder, day, COLUMNS, posted, DECISIONS, unobservable="decline")


def test_new_outcomes_land_in_the_days_file_and_a_repeat_changes_nothing(tmp_path):
    posted = parse_outcomes(body(("a", 1), ("b", 0.0), ("a", 1)), "defaulted")
    assert posted == [("a", "1"), ("b", "0")]  # the repeated pair counts once; 0.0 is "0"
    assert record(tmp_path, posted) == {
        "recorded": 2,
        "already_recorded": 0,
        "file": str(tmp_path / "2026-12-06.csv"),
    }
    path = tmp_path / "2026-12-06.csv"
    assert path.read_text() == "application_id,defaulted\na,1\nb,0\n"
    stamp = path.stat().st_mtime_ns
    assert record(tmp_path, posted)["already_recorded"] == 2
    assert path.stat().st_mtime_ns == stamp  # not rewritten
    # a later post appends to the day's file; an earlier day's outcome counts as recorded
    assert record(tmp_path, [("d", "1"), ("a", "1")], day="2026-12-07")["recorded"] == 1
    assert (tmp_path / "2026-12-07.csv").read_text() == "application_id,defaulted\nd,1\n"


@pytest.mark.parametrize(
    ("posted", "status", "message"),
    [
        ([("a", "1"), ("zz", "1")], 404, "no decision with this id"),
        ([("a", "1"), ("c", "0")], 422, "decided 'decline': its outcome cannot be observed"),
        ([("b", "1")], 409, "already recorded as '0'"),
    ],
)
def test_a_bad_outcome_refuses_the_whole_post_and_writes_nothing(tmp_path, posted, status, message):
    record(tmp_path, [("b", "0")])
    before = {p.name: p.read_bytes() for p in tmp_path.glob("*.csv")}
    with pytest.raises(OutcomeError, match=message) as refused:
        record(tmp_path, posted, day="2026-12-07")
    assert refused.value.status == status
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.csv")} == before


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{oops", "must be"),
        (b'{"outcomes": []}', "a list of 1 to"),
        (body(("a", None)), "exactly `id` and `defaulted`"),
        (json.dumps({"outcomes": [{"id": "a", "defaulted": 1, "x": 2}]}).encode(), "exactly"),
        (json.dumps({"outcomes": [{"defaulted": 1}]}).encode(), "needs an `id`"),
        (body(("a", 1), ("a", 0)), "two different outcomes"),
        (b'{"outcomes": [{"id": "a", "defaulted": Infinity}]}', "exactly"),
    ],
)
def test_malformed_posts_name_the_problem(raw, message):
    with pytest.raises(OutcomeError, match=message) as refused:
        parse_outcomes(raw, "defaulted")
    assert refused.value.status == 422
