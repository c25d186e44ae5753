"""Serving's pure parts: request validation, the decision policy, the action log, the compiled
scorer, and what Ray reads when our code imports it. No Ray runs here; `test_serving.py` runs the
real endpoint."""

import json

import numpy as np
import polars as pl
import pytest

from serving.action_log import ActionLog, action_days, read_actions
from serving.policy import Policy, Scored, decide, unit_hash
from serving.schema import RequestError, RequestSchema

SCHEMA = {"income": "float", "term": "int", "region": "str", "flag": "bool", "age_band": "str"}
REQUIRED = ["income", "term", "region", "flag"]
GOOD = {"income": 1.5, "term": 36, "region": "north", "flag": True}


def body(records) -> bytes:
    return json.dumps({"records": records}).encode()


@pytest.fixture
def schema():
    return RequestSchema(SCHEMA, REQUIRED, max_records=5)


def test_valid_records_become_a_typed_frame_with_their_ids(schema):
    frame, ids = schema.parse(
        body([{**GOOD, "id": "a"}, {**GOOD, "income": None, "region": None, "age_band": "26-35"}])
    )
    assert ids == ["a", None]
    assert frame.columns == list(SCHEMA)
    assert frame["income"].to_list() == [1.5, None] and frame["term"].dtype == pl.Float64
    assert frame["age_band"].to_list() == [None, "26-35"]  # optional passthrough column


@pytest.mark.parametrize(
    ("raw", "status", "field", "kind"),
    [
        (b"{not json", 422, "body", "json_invalid"),
        (b"[]", 422, "body", "dict_type"),
        (b"{}", 422, "records", "missing"),
        (body([]), 422, "records", "too_short"),
        (body([GOOD] * 6), 413, "records", "invalid"),
        (body([{k: v for k, v in GOOD.items() if k != "term"}]), 422, "term", "missing"),
        (body([{**GOOD, "colour": "red"}]), 422, "colour", "extra_forbidden"),
        (body([{**GOOD, "income": "12"}]), 422, "income", "float_type"),
        (body([{**GOOD, "income": True}]), 422, "income", "float_type"),
        (body([{**GOOD, "region": 3}]), 422, "region", "string_type"),
        (body([{**GOOD, "flag": "yes"}]), 422, "flag", "bool_type"),
        (
            b'{"records": [{"income": NaN, "term": 1, "region": "n", "flag": true}]}',
            422,
            "income",
            "finite_number",
        ),
        (
            b'{"records": [{"income": Infinity, "term": 1, "region": "n", "flag": true}]}',
            422,
            "income",
            "finite_number",
        ),
    ],
)
def test_each_kind_of_bad_input_is_refused_with_the_field_named(schema, raw, status, field, kind):
    with pytest.raises(RequestError) as error:
        schema.parse(raw)
    assert error.value.status == status
    first = error.value.detail[0]
    assert (first["field"], first["type"]) == (field, kind)


def test_a_huge_body_is_refused_before_parsing(schema):
    with pytest.raises(RequestError) as error:
        schema.parse(b" " * (5 * 4096 + 2048))
    assert error.value.status == 413


def test_the_openapi_schema_inlines_the_record_and_marks_required_fields(schema):
    described = schema.json_schema()
    record = described["properties"]["records"]["items"]
    assert set(record["required"]) == set(REQUIRED)
    assert record["additionalProperties"] is False
    assert described["properties"]["records"]["maxItems"] == 5


def test_unit_hash_is_stable_uniform_and_salted():
    ids = [f"app-{i}" for i in range(20_000)]
    first = unit_hash(ids, "control")
    assert np.array_equal(first, unit_hash(ids, "control"))
    assert first.min() >= 0 and first.max() < 1
    assert abs(first.mean() - 0.5) < 0.01
    assert np.corrcoef(first, unit_hash(ids, "canary"))[0, 1] < 0.02


def scored(version, threshold, scores):
    return Scored(version, threshold, np.asarray(scores, dtype=float))


def test_decision_rule_threshold_and_control_group():
    ids = [f"id-{i}" for i in range(10_000)]
    scores = np.linspace(0, 1, len(ids))
    policy = Policy("decline", "approve", control_share=0.05)
    decided = decide(ids, scored(3, 0.5, scores), None, policy)
    control = decided["control"].to_numpy()
    assert abs(control.mean() - 0.05) < 0.01
    assert (decided.filter(pl.col("control"))["decision"] == "approve").all()
    normal = decided.filter(~pl.col("control"))
    expected = np.where(normal["score"].to_numpy() >= 0.5, "decline", "approve")
    assert (normal["decision"].to_numpy() == expected).all()
    assert (
        set(decided["model_version"]) == {3} and decided["challenger_score"].null_count() == 10_000
    )
    # the same ids get the same treatment on every call (online, batch, retries)
    assert decide(ids, scored(3, 0.5, scores), None, policy).equals(decided)


def test_exploration_approves_its_share_near_the_threshold_only_and_logs_the_chances():
    ids = [f"id-{i}" for i in range(20_000)]
    scores = np.linspace(0, 1, len(ids))
    policy = Policy("decline", "approve", control_share=0.05, explore_share=0.3, explore_band=1.4)
    decided = decide(ids, scored(3, 0.5, scores), None, policy)
    explored = decided.filter(pl.col("explored"))
    assert (explored["decision"] == "approve").all() and not explored["control"].any()
    assert explored["score"].min() >= 0.5 and explored["score"].max() < 0.7
    near = decided.filter((pl.col("score") >= 0.5) & (pl.col("score") < 0.7) & ~pl.col("control"))
    assert abs(near["explored"].mean() - 0.3) < 0.03
    chance = decided["observed_probability"].to_numpy()
    assert (chance[scores < 0.5] == 1.0).all()
    assert np.allclose(chance[(scores >= 0.5) & (scores < 0.7)], 0.05 + 0.95 * 0.3)
    assert np.allclose(chance[scores >= 0.7], 0.05)
    # the same ids are explored on every call; without exploration nothing is
    assert decide(ids, scored(3, 0.5, scores), None, policy).equals(decided)
    plain = decide(ids, scored(3, 0.5, scores), None, Policy("decline", "approve"))
    assert not plain["explored"].any() and (plain["observed_probability"] <= 1).all()


def test_the_specs_exploration_reaches_every_decision_through_the_rollout_target():
    from types import SimpleNamespace

    from mlops_assets.config.spec_types import Serving
    from serving.model import score_and_decide
    from serving.rollout import desired_target

    registry = SimpleNamespace(champion_version=lambda: 4, challenger_version=lambda: None)
    target = desired_target(registry, Serving(explore_share=0.3, explore_band=2.0))
    assert (target.explore_share, target.explore_band) == (0.3, 2.0)
    model = SimpleNamespace(version=4, threshold=0.4, score=lambda raw: np.linspace(0, 1, 5000))
    rule = SimpleNamespace(action="decline", otherwise="approve")
    ids = [f"id-{i}" for i in range(5000)]
    decided = score_and_decide({"champion": model}, pl.DataFrame(), ids, target, rule)
    explored = decided.filter(pl.col("explored"))
    assert explored.height > 0 and explored["score"].max() < 0.8  # within 2 x the threshold
    assert (explored["decision"] == "approve").all()


def test_canary_sends_its_share_to_the_challenger_with_the_challengers_threshold():
    ids = [f"id-{i}" for i in range(10_000)]
    policy = Policy("decline", "approve", rollout="canary", canary_share=0.2)
    decided = decide(
        ids, scored(1, 0.9, np.full(10_000, 0.5)), scored(2, 0.1, np.full(10_000, 0.5)), policy
    )
    by_challenger = decided["model_role"] == "challenger"
    assert abs(by_challenger.mean() - 0.2) < 0.015
    assert (decided.filter(by_challenger)["decision"] == "decline").all()  # 0.5 >= 0.1
    assert (decided.filter(~by_challenger)["decision"] == "approve").all()  # 0.5 < 0.9
    assert set(decided.filter(by_challenger)["model_version"]) == {2}


def test_shadow_keeps_both_scores_and_the_champion_decides():
    ids = [f"id-{i}" for i in range(1000)]
    policy = Policy("decline", "approve", rollout="shadow", canary_share=0.5)
    decided = decide(
        ids, scored(1, 0.5, np.full(1000, 0.2)), scored(2, 0.5, np.full(1000, 0.8)), policy
    )
    assert (decided["model_role"] == "champion").all()
    assert (decided["champion_score"] == 0.2).all() and (decided["challenger_score"] == 0.8).all()
    assert (decided["decision"] == "approve").all()


def test_action_log_writes_whole_files_per_day_and_reads_them_back(tmp_path):
    log = ActionLog(tmp_path, writer="w1")
    log.append(pl.DataFrame({"day": ["2025-01-01", "2025-01-02"], "time": [1, 2], "x": [1, 2]}))
    log.append(pl.DataFrame({"day": ["2025-01-01"], "time": [3], "x": [3]}))
    written = log.flush()
    assert len(written) == 2 and log.flush() == []
    assert action_days(tmp_path) == ["2025-01-01", "2025-01-02"]
    assert read_actions(tmp_path, "2025-01-01")["x"].to_list() == [1, 3]
    assert read_actions(tmp_path)["x"].to_list() == [1, 2, 3]
    assert not list(tmp_path.rglob("*.tmp"))  # no temporary file is left behind
    assert read_actions(tmp_path / "nothing").is_empty()


def test_retrain_guardrails_cooldown_weekly_cap_and_new_labels():
    import datetime as dt

    from mlops_assets.config.spec import Monitoring
    from mlops_assets.defs.sensors import retrain_guard

    rules = Monitoring(cooldown_days=3, max_retrains_per_week=2, min_new_labels=100)
    day = dt.date(2025, 3, 10)
    assert retrain_guard(day, [], 500, rules) is None
    assert "cooldown" in retrain_guard(day, [day - dt.timedelta(days=2)], 500, rules)
    assert retrain_guard(day, [day - dt.timedelta(days=3)], 500, rules) is None
    cap = Monitoring(cooldown_days=0, max_retrains_per_week=2, min_new_labels=100)
    assert "2 retrains" in retrain_guard(
        day, [day - dt.timedelta(days=d) for d in (1, 5)], 500, cap
    )
    assert retrain_guard(day, [day - dt.timedelta(days=d) for d in (1, 8)], 500, cap) is None
    assert "new labelled rows" in retrain_guard(day, [], 99, rules)


def test_datasets_on_a_local_ray_share_its_cpus_without_overcommitting():
    from types import SimpleNamespace

    from serving.launcher import _share_cpus

    for cpus, replicas in ((2, [2, 2]), (2, [2, 1]), (2, [1]), (8, [2, 2])):
        apps = [SimpleNamespace(config={"replicas": n}) for n in replicas]
        _share_cpus(apps, cpus)
        asked = sum(a.config["replica_cpus"] * a.config["replicas"] for a in apps)
        assert asked <= cpus and all(0 < a.config["replica_cpus"] <= 1 for a in apps)
        assert asked > 0.99 * min(cpus, sum(replicas))  # and not much less than there is


def test_a_lone_request_is_scored_at_once_and_concurrent_ones_wait_to_batch():
    """The replica's batch waits `batch_wait_ms` for more only while other requests are in
    flight (its `@serve.batch` queue stands in here, recording the wait each request set)."""
    import asyncio

    from serving.replica import ModelServer

    class Batch:
        def __init__(self):
            self.waits = []

        def set_batch_wait_timeout_s(self, seconds):
            self.wait = seconds

        async def __call__(self, request):
            self.waits.append(self.wait)
            await asyncio.sleep(0.01)  # the batch being scored: others arrive meanwhile
            return {
                "champion": None,
                "rows": [(i, 0.1, "a", 1, "champion", False) for i in request[1]],
            }

    server = ModelServer.__new__(ModelServer)
    server._batch_wait_s, server._in_flight, server._score = 0.002, 0, Batch()
    frame = pl.DataFrame({"income": [1.0]})

    async def concurrently():
        await asyncio.gather(server._decide(frame, [None]), server._decide(frame, [None]))

    asyncio.run(server._decide(frame, ["lone"]))
    asyncio.run(concurrently())
    assert server._score.waits == [0.0, 0.0, 0.002]
    assert server._in_flight == 0


@pytest.mark.parametrize("first", ["serving.app", "mlops_assets.defs.sweep_runner"])
def test_ray_imported_by_our_code_ships_nothing_to_its_workers(first):
    """Ray's hook for drivers under `uv run` (on by default, read when Ray is imported) would
    ship the working directory to every worker and build a virtualenv for them: our packages turn
    it off before they import Ray, whichever imports Ray first."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "RAY_ENABLE_UV_RUN_RUNTIME_ENV"}
    probe = (
        f"import {first}; from ray._private import ray_constants as c; "
        "print(c.RAY_ENABLE_UV_RUN_RUNTIME_ENV)"
    )
    printed = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert printed.strip() == "False", printed
