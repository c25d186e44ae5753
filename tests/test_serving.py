"""The real endpoint: Ray Serve on 127.0.0.1 (HAProxy ingress), real MLflow registry, real
Dagster assets. One endpoint serves the whole module (conftest `endpoint`); each test leaves it
serving the champion v1 again."""

import datetime as dt
import json
import socket
import threading
import time
import urllib.request
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest

from mlops_assets.commands.execution import instance_for
from mlops_assets.compute.features import feature_exprs
from mlops_assets.config.settings import Settings
from mlops_assets.defs.platform import build_definitions
from serving.action_log import read_actions
from serving.client import Client, EndpointError
from serving.compiled import pipeline_scorer
from serving.loadgen import run_load
from serving.model import load_model
from tests.conftest import registry

pytestmark = pytest.mark.slow
DAY = "2025-02-14"  # the last landed day of the serving home


@pytest.fixture
def client(endpoint):
    """The endpoint's client; after the test the endpoint serves v1 alone again."""
    yield Client(endpoint.url)
    Client(endpoint.url).set_target({"champion": 1, "rollout": "champion", "control_share": 0.05})


def records(settings, day=DAY, n=None, with_ids=True):
    """Raw typed rows of a landed day as request records (ids = application ids)."""
    raw = pl.read_parquet(settings.lake / "lending" / "raw" / f"{day}.parquet")
    raw = raw.head(n) if n else raw
    rows = raw.drop("_day", "application_id").to_dicts()
    if with_ids:
        for row, app in zip(rows, raw["application_id"], strict=True):
            row["id"] = app
    return raw, rows


def test_predictions_equal_the_models_in_process_scores(serving_home, client):
    raw, rows = records(serving_home, n=200)
    answer = client.predict(rows)
    assert answer["model"] == {"name": "lending-dev", "version": 1, "alias": "champion"}
    served = np.array([p["score"] for p in answer["predictions"]])
    model = load_model(registry(serving_home).tracking_uri, "lending-dev", 1, None)
    assert model.compiled  # the fast scorer is in use, and it agrees with scikit-learn:
    np.testing.assert_allclose(served, model.score(raw), rtol=0, atol=1e-12)
    features = raw.select(feature_exprs(model.profile, model.columns))
    np.testing.assert_allclose(
        served, pipeline_scorer(model.pipeline, model.columns)(features), rtol=0, atol=1e-9
    )
    assert [p["id"] for p in answer["predictions"]] == raw["application_id"].to_list()
    assert {p["decision"] for p in answer["predictions"]} <= {"approve", "decline"}


def post(url: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{url}/v1/predict", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_bad_inputs_get_422_or_413_with_the_field_named(serving_home, endpoint):
    _, rows = records(serving_home, n=1, with_ids=False)
    good = rows[0]
    cases = {
        b"{oops": (422, "body"),
        json.dumps({"records": []}).encode(): (422, "records"),
        json.dumps({"records": [good] * 1001}).encode(): (413, "records"),
        json.dumps({"records": [{**good, "colour": "red"}]}).encode(): (422, "colour"),
        json.dumps({"records": [{k: v for k, v in good.items() if k != "income"}]}).encode(): (
            422,
            "income",
        ),
        json.dumps({"records": [{**good, "credit_score": "high"}]}).encode(): (422, "credit_score"),
        json.dumps({"records": [{**good, "region": 7}]}).encode(): (422, "region"),
        json.dumps({"records": [{**good, "income": float("nan")}]}).encode(): (422, "income"),
    }
    for body, (status, field) in cases.items():
        got, answer = post(endpoint.url, body)
        assert (got, answer["detail"][0]["field"]) == (status, field), body[:80]
    assert post(endpoint.url, json.dumps({"records": [good]}).encode())[0] == 200


def test_model_health_and_openapi_describe_the_served_model(client, endpoint):
    model = client.model()
    assert model["version"] == 1 and model["alias"] == "champion"
    assert "income" in model["input_schema"]["required"]
    assert "age_band" not in model["input_schema"]["required"]  # optional: protected, not a feature
    assert model["training_window"].startswith("2025-01") and 0 < model["threshold"] < 1
    assert model["backtest"]["roc_auc"] > 0.6
    assert client.health()["status"] == "ok"
    with urllib.request.urlopen(f"{endpoint.url}/openapi.json", timeout=10) as response:
        paths = json.loads(response.read())["paths"]
    assert {"/v1/predict", "/v1/health", "/v1/model"} <= set(paths)
    with urllib.request.urlopen(f"{endpoint.url}/docs", timeout=10) as response:
        assert response.status == 200


def test_status_shows_what_the_endpoint_serves_beside_the_champion(serving_home, client):
    from mlops_assets.commands.status import collect_status, format_status

    serving = collect_status(serving_home)["serving"]
    assert (serving["answering"], serving["version"], serving["in_sync"]) == (True, 1, True)
    client.set_target({"champion": 2, "rollout": "champion", "control_share": 0.05})
    status = collect_status(serving_home)  # the registry's champion is still v1
    assert (status["serving"]["version"], status["serving"]["in_sync"]) == (2, False)
    assert "serves v2, but the champion is v1" in format_status(status)


def test_a_promotion_under_traffic_drops_and_stalls_nothing(serving_home, client, endpoint):
    _, rows = records(serving_home, n=400, with_ids=False)
    bodies = [json.dumps({"records": [row]}).encode() for row in rows]
    swapped = {}

    def promote():
        time.sleep(1.0)  # traffic is flowing
        swapped.update(client.set_target({"champion": 2, "control_share": 0.05}))

    swapper = threading.Thread(target=promote)
    swapper.start()
    load = run_load(f"{endpoint.url}/v1/predict", lambda i: bodies[i % 400], 2400, 8, True)
    swapper.join()
    print(f"promotion under traffic: {load.summary()}")
    assert load.failed == 0
    assert load.latencies.max() < 1.0, load.summary()
    versions = [b["model"]["version"] for b in load.bodies]
    assert versions[0] == 1 and versions[-1] == 2 and set(versions) == {1, 2}
    assert swapped["model"]["version"] == 2 and swapped["replicas"]
    assert all(r["generation"] == swapped["generation"] for r in swapped["replicas"].values())
    assert client.health()["model"]["version"] == 2


def test_a_version_that_fails_to_load_leaves_the_old_one_serving(serving_home, client):
    with pytest.raises(EndpointError) as refused:
        client.set_target({"champion": 3})
    assert refused.value.status == 409 and "v3 failed to load" in str(refused.value)
    assert client.health()["model"]["version"] == 1
    _, rows = records(serving_home, n=3)
    assert client.predict(rows)["model"]["version"] == 1


def test_the_deployment_asset_fails_with_the_reason_and_the_endpoint_keeps_serving(
    serving_home, client
):
    models = registry(serving_home)
    models.client().set_registered_model_alias("lending-dev", "champion", "3")
    try:
        result = materialize(serving_home, "deployment")
    finally:
        models.client().set_registered_model_alias("lending-dev", "champion", "1")
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "kept serving v1" in failure.step_failure_data.user_failure_data.description
    assert client.health()["model"]["version"] == 1


def test_canary_sends_about_its_share_to_the_challenger(serving_home, client):
    client.set_target({"champion": 1, "challenger": 2, "rollout": "canary", "canary_share": 0.25})
    decided_by = []
    for day in ("2025-02-10", "2025-02-11", "2025-02-12", "2025-02-13", "2025-02-14"):
        _, rows = records(serving_home, day)
        for i in range(0, len(rows), 100):
            answer = client.predict(rows[i : i + 100])
            decided_by += [p["decided_by"] for p in answer["predictions"]]
            assert answer["model"]["version"] == 1  # the champion is still the champion
    share = decided_by.count("challenger") / len(decided_by)
    assert len(decided_by) >= 1500 and abs(share - 0.25) < 0.04, share


def test_shadow_scores_every_request_with_both_models_and_logs_both(serving_home, client):
    client.set_target({"champion": 1, "challenger": 2, "rollout": "shadow"})
    raw, rows = records(serving_home, "2025-02-13", n=150)
    for row in rows:
        row["id"] = f"shadow-{row['id']}"
    answer = client.predict(rows)
    assert {p["decided_by"] for p in answer["predictions"]} == {"champion"}
    logged = wait_for_actions(serving_home, {r["id"] for r in rows})
    assert logged["challenger_score"].null_count() == 0
    assert (logged["champion_score"] != logged["challenger_score"]).any()
    assert set(logged["model_version"]) == {1}
    inputs = logged.unnest("inputs")
    assert inputs["income"].to_list()[:1] and "region" in inputs.columns


def test_batch_decisions_equal_online_decisions_for_the_same_rows(serving_home, client):
    deployed = materialize(serving_home, "deployment")
    assert deployed.success
    check = deployed.get_asset_check_evaluations()[0]
    assert check.check_name == "serves_target" and check.passed
    assert materialize(serving_home, "decisions", partition=DAY).success
    batch = pl.read_parquet(serving_home.lake / "lending" / "decisions" / f"{DAY}.parquet")
    _, rows = records(serving_home)
    online = pl.DataFrame(client.predict(rows)["predictions"])
    joined = batch.join(online, on="id", suffix="_online")
    assert joined.height == batch.height == online.height
    assert (joined["decision"] == joined["decision_online"]).all()
    assert (joined["control"] == joined["control_online"]).all() and joined["control"].any()
    np.testing.assert_allclose(joined["score"], joined["score_online"], rtol=0, atol=1e-12)


def materialize(settings, asset: str, partition: str | None = None):
    defs = build_definitions(settings)
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        instance=instance_for(settings),
        asset_selection=[dg.AssetKey(["lending", asset])],
        partition_key=partition,
        raise_on_error=False,
    )


def wait_for_actions(settings, ids: set[str], timeout: float = 10.0) -> pl.DataFrame:
    """Logged actions of `ids`, once every one of them has been flushed."""
    deadline = time.monotonic() + timeout
    while True:
        actions = read_actions(settings.home / "actions" / "lending")
        found = actions.filter(pl.col("id").is_in(list(ids))) if actions.height else actions
        if found.height == len(ids) or time.monotonic() > deadline:
            assert found.height == len(ids)
            return found
        time.sleep(0.3)


def test_mlops_predict_scores_a_csv_file_against_the_endpoint(
    serving_home, endpoint, tmp_path, capsys
):
    from mlops_assets.commands.cli import main

    raw, _ = records(serving_home, n=5)
    landing = pl.read_csv(serving_home.home / "landing" / "lending" / f"{DAY}.csv").head(5)
    landing.drop("application_id").with_columns(id=landing["application_id"]).write_csv(
        tmp_path / "apps.csv"
    )
    assert main(["predict", "--url", endpoint.url, str(tmp_path / "apps.csv")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "id,score,decision,model_version,decided_by,control"
    assert [line.split(",")[0] for line in lines[1:]] == raw["application_id"].to_list()
    (tmp_path / "bad.csv").write_text("id,colour\na,red\n")
    assert main(["predict", "--url", endpoint.url, str(tmp_path / "bad.csv")]) == 1
    assert "colour" in capsys.readouterr().err


def test_generated_bad_inputs_from_the_openapi_schema_get_no_server_error(endpoint):
    """Schemathesis reads the endpoint's OpenAPI document and sends schema-violating and
    schema-conforming bodies (bounded); every answer must be a client error or a success."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_url(f"{endpoint.url}/openapi.json")
    predict = schema["/v1/predict"]["POST"]
    statuses: list[int] = []
    strategy = predict.as_strategy(schemathesis.GenerationMode.NEGATIVE) | predict.as_strategy()

    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def send(case):
        response = case.call(base_url=endpoint.url, timeout=10)
        statuses.append(response.status_code)
        assert response.status_code < 500, (case.body, response.text[:300])

    send()
    print(f"generated requests: {len(statuses)}; statuses: {sorted(set(statuses))}")
    assert len(statuses) >= 100 and 422 in statuses


def test_with_the_tracking_server_stopped_the_endpoint_serves_and_deployment_fails_clearly(
    serving_home, client, tmp_path, monkeypatch
):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from mlops_assets.commands.servers import MLFLOW_SERVER_ENV

    port = 15500
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            *("server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
            *("--backend-store-uri", f"sqlite:///{serving_home.home / 'mlflow' / 'mlflow.db'}"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, **MLFLOW_SERVER_ENV},
    )
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(f"dev:\n  tracking_uri: http://127.0.0.1:{port}\n  registry_suffix: dev\n")
    monkeypatch.setenv("MLOPS_PROFILES", str(profiles))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    # settings are resolved once: these, on the tracking server's profile
    through_server = Settings.resolve(home=serving_home.home)
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        assert materialize(through_server, "deployment").success  # through the server: fine
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    result = materialize(through_server, "deployment")
    assert not result.success
    # a registry that does not answer may be a blip: retried twice with backoff, then it fails
    assert sum(e.is_step_up_for_retry for e in result.all_events) == 2
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.user_failure_data.description
    assert f"model registry at http://127.0.0.1:{port}" in message, message
    _, rows = records(serving_home, n=5)
    assert client.predict(rows)["model"]["version"] == 1  # the endpoint never needed it
    # the backtest, too, retries, then fails: it never judges a candidate against "no champion"
    result = materialize(through_server, "backtest")
    assert sum(e.is_step_up_for_retry for e in result.all_events) == 2 and not result.success
    assert not any(e.is_step_success for e in result.all_events)


def complete_rows(serving_home, n=50):
    """Raw rows without missing values (a tensor has no null), as records without ids."""
    raw, _ = records(serving_home)
    raw = raw.drop_nulls().head(n)
    return raw, raw.drop("_day", "application_id").to_dicts()


def test_mlflow_scoring_protocol_with_mlflows_own_client(serving_home, client, endpoint):
    """`POST /invocations` as `mlflow models serve` answers it, through MLflow's own client:
    the same scores and decisions as `/v1/predict`, in every input format."""
    import requests
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    raw, rows = complete_rows(serving_home)
    expected = client.predict(rows)["predictions"]
    host, port = endpoint.url.removeprefix("http://").split(":")
    mlflow_client = ScoringServerClient(host, int(port))
    mlflow_client.wait_server_ready(timeout=30)
    answer = mlflow_client.invoke(raw.drop("_day", "application_id").to_pandas())
    predictions = answer.get_predictions()  # a pandas frame, one row per record
    np.testing.assert_allclose(
        predictions["score"], [p["score"] for p in expected], rtol=0, atol=1e-12
    )
    for got, p in zip(predictions.to_dict("records"), expected, strict=True):
        # without ids, each request draws its own exploration control group
        assert got["control"] or p["control"] or got["decision"] == p["decision"]
    for body in (
        {"dataframe_records": rows},
        {"instances": rows},
        {"inputs": {k: [r[k] for r in rows] for k in rows[0]}},
    ):
        got = requests.post(f"{endpoint.url}/invocations", json=body, timeout=30)
        assert got.status_code == 200, got.text
        assert [p["score"] for p in got.json()["predictions"]] == [p["score"] for p in expected]
    bad = requests.post(
        f"{endpoint.url}/invocations",
        json={"dataframe_records": [{**rows[0], "credit_score": "high"}]},
        timeout=30,
    )
    assert bad.status_code == 400
    assert bad.json()["error_code"] == "BAD_REQUEST" and "credit_score" in bad.json()["message"]


def test_open_inference_protocol_v2_with_tritons_client(serving_home, client, endpoint):
    """KServe's/Triton's protocol through `tritonclient[http]`: one tensor per raw column in,
    score and decision tensors out, equal to `/v1/predict`'s; errors in the protocol's shape."""
    import tritonclient.http as triton
    from tritonclient.utils import InferenceServerException

    raw, rows = complete_rows(serving_home)
    expected = client.predict(rows)["predictions"]
    server = triton.InferenceServerClient(url=endpoint.url.removeprefix("http://"))
    assert server.is_server_live() and server.is_server_ready()
    assert server.is_model_ready("lending-dev")
    metadata = server.get_model_metadata("lending-dev")
    assert metadata["versions"] == ["1"]
    kinds = {i["name"]: i["datatype"] for i in metadata["inputs"]}
    tensors = []
    for column in rows[0]:
        values = raw[column].to_list()
        array = np.array(values, dtype=np.object_ if kinds[column] == "BYTES" else np.float64)
        tensor = triton.InferInput(column, [len(values)], kinds[column])
        tensor.set_data_from_numpy(array, binary_data=False)
        tensors.append(tensor)
    names = ("score", "decision", "control")
    outputs = [triton.InferRequestedOutput(n, binary_data=False) for n in names]
    result = server.infer("lending-dev", tensors, outputs=outputs, request_id="oip-1")
    np.testing.assert_allclose(
        result.as_numpy("score"), [p["score"] for p in expected], rtol=0, atol=1e-12
    )
    decisions = [d.decode() if isinstance(d, bytes) else d for d in result.as_numpy("decision")]
    control = result.as_numpy("control")
    for decision, in_control, p in zip(decisions, control, expected, strict=True):
        assert in_control or p["control"] or decision == p["decision"]  # each draws its own
    assert result.get_response()["id"] == "oip-1"
    with pytest.raises(InferenceServerException, match="unknown model 'churn'"):
        server.infer("churn", tensors)
    short = triton.InferInput(tensors[0].name(), [1], tensors[0].datatype())
    short.set_data_from_numpy(np.array([1.0]), binary_data=False)  # one value, the others 50
    with pytest.raises(InferenceServerException, match="all of one length"):
        server.infer("lending-dev", [short, *tensors[1:]])
    server.close()


def post_json(url: str, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_outcomes_posted_against_logged_decisions_land_where_the_platform_ingests(
    serving_home, client, endpoint
):
    from mlops_assets.compute.ingest import coerce, outcomes_schema, read_landing
    from mlops_assets.config.spec import load_spec

    raw, rows = records(serving_home, n=60)  # ids: the applications' ids
    decided = {p["id"]: p["decision"] for p in client.predict(rows)["predictions"]}
    approved = [i for i, d in decided.items() if d == "approve"][:10]
    outcomes = {"outcomes": [{"id": i, "defaulted": k % 2} for k, i in enumerate(approved)]}
    url = f"{endpoint.url}/v1/outcomes"
    deadline = time.monotonic() + 15
    while (answer := post_json(url, outcomes))[0] == 404 and time.monotonic() < deadline:
        time.sleep(0.5)  # the other replica's decisions reach the log within a second
    assert answer == (200, {**answer[1], "recorded": 10, "already_recorded": 0}), answer
    path = Path(answer[1]["file"])
    try:
        spec = load_spec(serving_home.dataset_spec, home=serving_home.home)
        assert path.parent == spec.outcomes
        written = path.read_bytes()
        assert post_json(url, outcomes)[1]["already_recorded"] == 10  # a repeat: no change
        assert path.read_bytes() == written
        flipped = {"outcomes": [{"id": approved[0], "defaulted": 1}]}  # recorded as 0
        assert post_json(url, flipped)[0] == 409
        assert post_json(url, {"outcomes": [{"id": "never-decided", "defaulted": 1}]})[0] == 404
        declined = [i for i, d in decided.items() if d == "decline"]
        if declined:  # selective labels: a declined application's outcome is never seen
            assert post_json(url, {"outcomes": [{"id": declined[0], "defaulted": 1}]})[0] == 422
        assert path.read_bytes() == written
        # the raw_outcomes asset's own reading of a landing file: typed, joined by id
        frame = read_landing(path, spec.format)
        typed = coerce(frame, outcomes_schema(frame, spec), spec, dt.date.fromisoformat(path.stem))
        assert typed.height == 10 and set(typed["application_id"]) == set(approved)
        assert typed["defaulted"].to_list() == [k % 2 for k in range(10)]
    finally:
        path.unlink(missing_ok=True)  # the module's home keeps its simulated days only


def as_doubles(raw: pl.DataFrame):
    """Raw rows as a pandas frame with integers as doubles, as the model's signature and input
    example have them (MLflow refuses int64 -> float64; a missing value makes a float anyway)."""
    rows = raw.drop("_day", "application_id")
    return rows.with_columns(pl.col(pl.Int64).cast(pl.Float64)).to_pandas()


def test_the_registered_model_scores_raw_records_as_the_endpoint_does(serving_home, client):
    """`mlflow.pyfunc.load_model("models:/<name>@champion")` takes the raw records (missing
    values included) and gives the endpoint's scores and decisions."""
    import mlflow

    raw, rows = records(serving_home, n=200)
    answer = client.predict(rows)["predictions"]
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(registry(serving_home).tracking_uri)
    try:
        model = mlflow.pyfunc.load_model("models:/lending-dev@champion")
    finally:
        mlflow.set_tracking_uri(previous)
    assert raw.null_count().sum_horizontal()[0] > 0  # the rows as landed, with missing values
    got = model.predict(as_doubles(raw))
    np.testing.assert_allclose(got["score"], [p["score"] for p in answer], rtol=0, atol=1e-9)
    for decision, p in zip(got["decision"], answer, strict=True):
        assert p["control"] or decision == p["decision"]  # the control group: `otherwise`
    assert "income" in model.metadata.get_input_schema().input_names()


def test_mlflow_models_serve_answers_as_the_endpoint(serving_home, client):
    """`mlflow models serve` of the champion (MLflow's own server, this environment): raw
    records in, the endpoint's scores and decisions out."""
    import os
    import signal
    import subprocess
    import sys

    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    raw, rows = complete_rows(serving_home)
    expected = client.predict(rows)["predictions"]
    with socket.socket() as probe:  # a free port on loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            *("models", "serve", "-m", "models:/lending-dev@champion", "--env-manager", "local"),
            *("-h", "127.0.0.1", "-p", str(port)),
        ],
        env={
            **os.environ,
            "MLFLOW_TRACKING_URI": registry(serving_home).tracking_uri,
            # its uvicorn, when the tests run without `uv run` (which puts it on the PATH)
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        mlflow_client = ScoringServerClient("127.0.0.1", port)
        mlflow_client.wait_server_ready(timeout=180, scoring_server_proc=server)
        got = mlflow_client.invoke(as_doubles(raw))
        predictions = got.get_predictions()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    np.testing.assert_allclose(
        predictions["score"], [p["score"] for p in expected], rtol=0, atol=1e-9
    )
    for decision, p in zip(predictions["decision"], expected, strict=True):
        assert p["control"] or decision == p["decision"]
