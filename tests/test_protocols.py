"""The standard protocols' bodies (`serving.protocols`): every MLflow scoring format and OIP v2
tensors become the records of `/v1/predict`; malformed bodies name the problem. No Ray here;
`test_serving.py` speaks them to the real endpoint with MLflow's and Triton's own clients."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serving.protocols import (
    ProtocolError,
    mlflow_records,
    v2_metadata,
    v2_records,
    v2_response,
)

ROWS = [{"income": 1.5, "region": "north"}, {"income": None, "region": "south"}]


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_records": ROWS},
        {
            "dataframe_split": {
                "columns": ["income", "region"],
                "data": [[1.5, "north"], [None, "south"]],
            }
        },
        {"instances": ROWS},
        {"inputs": {"income": [1.5, None], "region": ["north", "south"]}},
        {"inputs": ROWS},
    ],
)
def test_every_mlflow_format_gives_the_same_records(body):
    assert mlflow_records(body) == ROWS


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([1, 2], "JSON object"),
        ({"records": ROWS}, "exactly one of"),
        ({"dataframe_records": ROWS, "instances": ROWS}, "it holds dataframe_records, instances"),
        ({"dataframe_split": {"columns": ["a", "b"], "data": [[1]]}}, "one value per column"),
        ({"inputs": {"income": [1.5], "region": ["n", "s"]}}, "all of one length"),
        ({"instances": [1.5, 2.0]}, "list of records"),
    ],
)
def test_malformed_mlflow_bodies_name_the_problem(body, problem):
    with pytest.raises(ProtocolError, match=problem):
        mlflow_records(body)


def test_v2_tensors_become_records_and_predictions_become_tensors():
    body = {
        "id": "req-1",
        "inputs": [
            {"name": "income", "shape": [2], "datatype": "FP64", "data": [1.5, None]},
            {
                "name": "region",
                "shape": [2, 1],
                "datatype": "BYTES",
                "data": [["north"], ["south"]],
            },
        ],
    }
    assert v2_records(body) == (ROWS, "req-1")
    rows = [
        {
            "id": "a",
            "score": 0.2,
            "decision": "decline",
            "model_version": 3,
            "decided_by": "champion",
            "control": False,
        }
    ]
    answer = v2_response("lending-dev", 3, "req-1", rows)
    assert answer["model_version"] == "3" and answer["id"] == "req-1"
    score = next(o for o in answer["outputs"] if o["name"] == "score")
    assert score == {"name": "score", "datatype": "FP64", "shape": [1], "data": [0.2]}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"inputs": []}, "non-empty `inputs`"),
        ({"inputs": [{"shape": [1], "data": [1]}]}, "needs a `name`"),
        ({"inputs": [{"name": "x", "shape": [2], "data": [1.0]}]}, r"shape \[2\] but 1 values"),
        ({"inputs": [{"name": "x", "shape": [1, 3], "data": [[1, 2, 3]]}]}, r"\[n\] or \[n, 1\]"),
    ],
)
def test_malformed_v2_bodies_name_the_problem(body, problem):
    with pytest.raises(ProtocolError, match=problem):
        v2_records(body)


def test_v2_metadata_lists_one_tensor_per_raw_column():
    meta = v2_metadata(
        "lending-dev", 2, {"income": "float", "term": "int", "flag": "bool"}, ["income"]
    )
    assert meta["versions"] == ["2"]
    inputs = {i["name"]: i for i in meta["inputs"]}
    assert inputs["income"]["datatype"] == "FP64" and inputs["income"]["parameters"]["required"]
    assert inputs["term"]["datatype"] == "FP64" and inputs["flag"]["datatype"] == "BOOL"
    assert {o["name"] for o in meta["outputs"]} >= {"score", "decision"}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "inputs",
                    "instances",
                    "dataframe_split",
                    "columns",
                    "data",
                    "name",
                    "shape",
                    "datatype",
                    "id",
                    "x",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=500, deadline=None)
@given(body=JSON)
def test_any_json_body_gives_records_or_a_protocol_error(body):
    """What reaches the request schema is a list of records keyed by names; nothing else
    escapes but `ProtocolError` (a 400 with the protocol's error shape)."""
    for parse in (mlflow_records, lambda b: v2_records(b)[0]):
        try:
            records = parse(body)
        except ProtocolError:
            continue
        assert isinstance(records, list)
        assert all(isinstance(r, dict) and all(isinstance(k, str) for k in r) for r in records)
