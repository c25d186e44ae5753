"""docs/engineers.md's asset and check tables are what the definitions say (`make docs`)."""

from pathlib import Path

from mlops_assets.commands.docs import BEGIN, END, builtin_table

PAGE = Path(__file__).resolve().parents[1] / "docs" / "engineers.md"


def test_the_engineers_page_tables_match_the_definitions():
    text = PAGE.read_text()
    documented = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert documented == builtin_table(), "docs/engineers.md is stale: run `make docs`"


def test_the_tables_name_every_check_and_whether_it_blocks():
    table = builtin_table()
    volume = "| `volume` | `raw` | yes | Row count within quality.volume_tolerance x the trailing"
    assert volume in table
    assert "| `no_major_drift` | `drift_report` | no |" in table
    assert "| deployment | `champion` | — |" in table
