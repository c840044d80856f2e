"""The Great Expectations gate passes good tables, fails bad ones by name, and writes Data Docs."""

from __future__ import annotations

import psycopg
import pytest
import yaml

from warehouse import gate

pytestmark = pytest.mark.integration


@pytest.fixture
def cohort_only_suites(tmp_path):
    """The real cohort_retention suite alone, so the test needs one table, not every mart."""
    suites = yaml.safe_load((gate.SUITES_DIR / "marts.yml").read_text())
    folder = tmp_path / "suites"
    folder.mkdir()
    (folder / "marts.yml").write_text(yaml.safe_dump({"cohort_retention": suites["cohort_retention"]}))
    return folder


def test_the_gate_passes_good_rows_and_names_what_breaks(warehouse, tmp_path, cohort_only_suites):
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute(
            "create schema marts; "
            "create table marts.cohort_retention (cohort_month date, months_since integer, retention_rate numeric); "
            "insert into marts.cohort_retention values ('2026-01-01', 0, 1), ('2026-01-01', 1, 0.5)"
        )
    passed = gate.validate_schema(warehouse, "marts", tmp_path / "gx", cohort_only_suites)
    gate.require(passed)
    assert passed.success and passed.failures == [] and passed.data_docs.exists()

    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("insert into marts.cohort_retention values ('2026-01-01', 1, 1.5)")
    failed = gate.validate_schema(warehouse, "marts", tmp_path / "gx", cohort_only_suites)

    assert not failed.success
    assert failed.failures == [
        "marts.cohort_retention: expect_compound_columns_to_be_unique",
        "marts.cohort_retention: expect_column_values_to_be_between retention_rate",
    ]
    with pytest.raises(gate.ValidationFailed, match="marts_gate failed; nothing is published"):
        gate.require(failed)


def test_every_suite_names_a_real_expectation():
    for table, expectations in gate.load_suites("marts").items():
        for name, arguments in expectations:
            assert gate._expectation(name, arguments) is not None, f"{table}: {name}"
