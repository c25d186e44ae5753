"""The Great Expectations layer on a real file Data Context: saved suites with parameters, a
checkpoint per asset, kept validation results and Data Docs pages."""

import json
from pathlib import Path
from urllib.parse import urlparse

import polars as pl
import pytest

from asset_checks.data_docs_site import data_docs_folder, docs_link
from asset_checks.expectations import Expect, Param, Suite, validate

FRAME = pl.DataFrame({"age": [30, None, 52], "income": [1.5, 2.0, None], "city": ["a", "b", None]})


def rows_suite(low: int, high: int) -> Suite:
    return Suite(
        "people.raw",
        {
            "volume": [
                Expect(
                    "ExpectTableRowCountToBeBetween",
                    {"min_value": Param("min_rows", low), "max_value": Param("max_rows", high)},
                )
            ],
            "types": [
                Expect("ExpectColumnValuesToBeOfType", {"column": c, "type_": kind})
                for c, kind in (("age", "int"), ("income", "float"), ("city", "str"))
            ],
        },
    )


def page(url: str) -> str:
    return Path(urlparse(url).path).read_text()


def test_a_saved_suite_takes_its_learned_values_as_parameters(tmp_path):
    passed = validate(FRAME, rows_suite(2, 4), tmp_path, run_name="2025-01-01")
    saved = tmp_path / "gx" / "expectations" / "people" / "raw.json"
    written = saved.stat().st_mtime_ns
    failed = validate(FRAME, rows_suite(5, 9), tmp_path, run_name="2025-01-02")

    assert [o.success for o in passed.outcomes["volume"]] == [True]
    assert [o.success for o in failed.outcomes["volume"]] == [False]
    assert failed.outcomes["volume"][0].observed["observed_value"] == 3
    stored = json.loads(saved.read_text())["expectations"][0]["kwargs"]
    assert stored["min_value"] == {"$PARAMETER": "min_rows"}
    assert saved.stat().st_mtime_ns == written  # same expectations: the suite is not rewritten
    assert len(list((tmp_path / "gx" / "uncommitted" / "validations").rglob("*.json"))) == 2


def test_every_validation_has_its_data_docs_page(tmp_path):
    validation = validate(FRAME, rows_suite(5, 9), tmp_path, run_name="2025-01-02")
    html = page(validation.docs_url)
    assert validation.docs_url.startswith(data_docs_folder(tmp_path).as_uri())
    assert "2025-01-02" in validation.docs_url and "people.raw" in html
    assert (data_docs_folder(tmp_path) / "index.html").exists()


def test_only_the_latest_results_and_their_pages_stay(tmp_path):
    other = Suite("people.features", {"volume": rows_suite(2, 4).checks["volume"]})
    validate(FRAME, other, tmp_path, run_name="2025-01-01", keep=1)
    pages = [
        validate(FRAME, rows_suite(2, 4), tmp_path, run_name=f"2025-01-0{day}", keep=2).docs_url
        for day in range(1, 5)
    ]
    results = tmp_path / "gx" / "uncommitted" / "validations"
    kept = sorted(
        p.relative_to(results).parts[2] for p in (results / "people" / "raw").rglob("*.json")
    )
    assert kept == ["2025-01-03", "2025-01-04"]  # the latest two of this suite
    assert len(list((results / "people" / "features").rglob("*.json"))) == 1  # another suite's
    assert all("people.raw" in page(url) for url in pages[-2:])  # the kept ones' pages open
    assert not Path(urlparse(pages[0]).path).exists()  # GX removed the forgotten one's page


def test_value_types_are_expectations_that_fail_on_a_mistyped_column(tmp_path):
    mistyped = FRAME.with_columns(pl.col("age").cast(pl.String))
    outcomes = validate(mistyped, rows_suite(2, 4), tmp_path, run_name="day").outcomes["types"]
    assert [(o.expect.kwargs["column"], o.success) for o in outcomes] == [
        ("age", False),
        ("income", True),
        ("city", True),
    ]
    assert outcomes[0].observed["observed_value"] == "str"


def test_changed_expectations_update_the_saved_suite(tmp_path):
    validate(FRAME, rows_suite(2, 4), tmp_path, run_name="day")
    fewer = Suite("people.raw", {"volume": rows_suite(2, 4).checks["volume"]})
    validation = validate(FRAME, fewer, tmp_path, run_name="day")
    saved = json.loads((tmp_path / "gx" / "expectations" / "people" / "raw.json").read_text())
    assert len(saved["expectations"]) == 1 and list(validation.outcomes) == ["volume"]


def test_a_published_site_is_linked_over_http(tmp_path, monkeypatch):
    local = (data_docs_folder(tmp_path) / "validations" / "x.html").as_uri()
    assert docs_link(local, tmp_path) == local
    monkeypatch.setenv("MLOPS_DATA_DOCS_URL", "http://127.0.0.1:3001/")
    assert docs_link(local, tmp_path) == "http://127.0.0.1:3001/validations/x.html"


def test_a_process_follows_the_suites_another_process_added(tmp_path):
    """Runs of several processes share the home's context: one whose context was loaded before
    another added a suite (and its data asset) reloads it instead of failing or undoing it."""
    from asset_checks import expectations

    features = Suite("people.features", {"volume": rows_suite(2, 4).checks["volume"]})
    validate(FRAME, rows_suite(2, 4), tmp_path, run_name="day-1")
    ours = expectations._CONTEXTS.pop(tmp_path.resolve())
    validate(FRAME, features, tmp_path, run_name="day-1")  # another process's context
    expectations._CONTEXTS[tmp_path.resolve()] = ours  # this process's, loaded before

    outcomes = Suite("people.outcomes", features.checks)  # a suite of its own, added by this one
    assert validate(FRAME, outcomes, tmp_path, run_name="day-2").outcomes["volume"][0].success
    assert validate(FRAME, features, tmp_path, run_name="day-2").outcomes["volume"][0].success
    config = (tmp_path / "gx" / "great_expectations.yml").read_text()
    assert all(f"people.{name}:" in config for name in ("raw", "features", "outcomes")), config


def test_a_parameter_with_two_values_is_an_error():
    twice = Suite(
        "people.raw",
        {"volume": [Expect("A", {"v": Param("rows", 1)}), Expect("B", {"v": Param("rows", 2)})]},
    )
    with pytest.raises(ValueError, match="parameter rows has two values"):
        twice.parameters()
