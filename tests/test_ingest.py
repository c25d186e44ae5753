"""Landing files are typed to the schema, or rejected with a reason that names the problem."""

import datetime as dt

import polars as pl
import pytest

from mlops_assets.compute.ingest import DAY, IngestError, coerce, infer_schema, read_landing
from mlops_assets.config.settings import BUILTIN_SPEC
from mlops_assets.config.spec import load_spec


@pytest.fixture
def spec(tmp_path):
    return load_spec(BUILTIN_SPEC, home=tmp_path)


FRAME = pl.DataFrame(
    {
        "application_id": ["a", "b", "c"],
        "income": ["1000", "2000.5", None],
        "term_months": ["36", "60", "36"],
        "region": ["north", "south", None],
        "channel": ["online", "branch", "broker"],
        "age_band": ["18-25", "26-35", "65+"],
        **{
            c: ["1", "2", "3"]
            for c in (
                "debt_to_income",
                "loan_amount",
                "employment_years",
                "credit_score",
                "credit_history_years",
                "open_accounts",
                "delinquencies_2y",
            )
        },
        "home_ownership": ["rent", "own", "own"],
        "purpose": ["car", "car", "other"],
    }
)


def test_schema_is_inferred_from_content_and_spec(spec):
    schema = infer_schema(FRAME, spec)
    assert schema["application_id"] == "str"
    assert schema["income"] == "float" and schema["term_months"] == "int"
    typed = coerce(FRAME, schema, spec, dt.date(2025, 1, 1))
    assert typed["income"].to_list() == [1000.0, 2000.5, None]
    assert typed[DAY].unique().to_list() == [dt.date(2025, 1, 1)]


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda f: f.drop("income"), "missing columns: income"),
        (lambda f: f.with_columns(bonus=pl.lit("1")), "unexpected columns: bonus"),
        (
            lambda f: f.with_columns(income=pl.Series(["1", "lots", "2"])),
            "column 'income': 1 values are not float (e.g. 'lots')",
        ),
    ],
)
def test_bad_frames_are_rejected_with_a_reason(spec, mutate, reason):
    schema = infer_schema(FRAME, spec)
    with pytest.raises(IngestError) as error:
        coerce(mutate(FRAME), schema, spec)
    assert reason in error.value.reason


def test_target_with_a_third_class_is_rejected(tmp_path):
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text(
        "name: t\nlanding: l\nformat: csv\ntarget: {column: y, positive: 1}\n"
        "decision: {action: a, otherwise: b, threshold: auto}\n"
        "value: {action_positive: 0, action_negative: 0, otherwise_positive: 0, "
        "otherwise_negative: 0}\n"
    )
    spec = load_spec(spec_path)
    frame = pl.DataFrame({"x": ["1", "2", "3"], "y": ["0", "1", "2"]})
    with pytest.raises(
        IngestError, match=r"target column 'y' has 3 values \[0, 1, 2\]; expected two classes"
    ):
        coerce(frame, infer_schema(frame, spec), spec)


def test_unreadable_and_empty_files_are_named(tmp_path):
    corrupt = tmp_path / "2025-01-01.parquet"
    corrupt.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(IngestError, match="cannot read 2025-01-01.parquet as parquet"):
        read_landing(corrupt, "parquet")
    empty = tmp_path / "2025-01-02.csv"
    empty.write_text("a,b\n")
    with pytest.raises(IngestError, match="2025-01-02.csv has no rows"):
        read_landing(empty, "csv")
