"""Finance inputs loaded whole into raw_finance, from the billing DB or a CSV folder, validated first."""

from __future__ import annotations

import shutil

import psycopg
import pytest

from simulator.dataset import read_entity
from warehouse.contract import FINANCE_TABLES
from warehouse.extract import crm, finance
from warehouse.extract.finance import FinanceInputError

pytestmark = pytest.mark.integration


def load_managers(sources, warehouse: str) -> None:
    crm.extract_entity(crm.CrmClient(sources.api), warehouse, "managers", "run-1")


def raw_count(warehouse: str, table: str) -> int:
    with psycopg.connect(warehouse) as conn:
        return conn.execute(f"select count(*) from raw_finance.{table}").fetchone()[0]


def test_every_finance_table_loads_from_the_billing_db(sources, warehouse):
    load_managers(sources, warehouse)
    for table in FINANCE_TABLES:
        expected = sum(1 for _ in read_entity(sources.data, table))
        stats = finance.load_table(warehouse, table.name, "run-1", billing=sources.billing)
        assert (stats.rows_read, stats.rows_merged, stats.rows_rejected) == (expected, expected, 0)
        assert raw_count(warehouse, table.name) == expected


def test_a_row_for_a_manager_unknown_to_the_crm_goes_to_rejects_named_by_key(
    sources, warehouse, tmp_path, caplog
):
    load_managers(sources, warehouse)
    folder = tmp_path / "finance"
    shutil.copytree(sources.data / "finance", folder)
    with (folder / "compensation.csv").open("a") as out:
        out.write("M9999,2026-01-01,9876543.21,RUB\n")
    rows = sum(
        1 for _ in read_entity(sources.data, next(t for t in FINANCE_TABLES if t.name == "compensation"))
    )

    stats = finance.load_table(warehouse, "compensation", "run-1", folder=folder)
    again = finance.load_table(warehouse, "compensation", "run-2", folder=folder)

    assert (stats.rows_read, stats.rows_merged, stats.rows_rejected) == (rows + 1, rows, 1)
    assert again.rows_rejected == 1 and raw_count(warehouse, "compensation") == rows
    with psycopg.connect(warehouse) as conn:
        rejects = conn.execute(
            "select record_id, reason from raw_meta.rejects where source = 'finance'"
        ).fetchall()
    assert rejects == [
        ("M9999, 2026-01-01", f"manager unknown to the CRM (compensation.csv line {rows + 2})")
    ]
    assert "M9999, 2026-01-01" in caplog.text
    assert "9876543.21" not in caplog.text


def test_a_duplicate_key_in_the_billing_db_fails_naming_table_and_key(sources, warehouse):
    load_managers(sources, warehouse)
    loaded = finance.load_table(warehouse, "revenue_targets", "run-0", billing=sources.billing).rows_merged
    with psycopg.connect(sources.billing) as conn:
        conn.execute("alter table finance.revenue_targets drop constraint if exists revenue_targets_pkey")
        conn.execute("insert into finance.revenue_targets select * from finance.revenue_targets limit 1")
        manager_id, month = conn.execute(
            "select manager_id, month from finance.revenue_targets group by 1, 2 having count(*) > 1"
        ).fetchone()

    with pytest.raises(
        FinanceInputError, match=rf"finance.revenue_targets key \({manager_id}, {month}\).*duplicate key"
    ):
        finance.load_table(warehouse, "revenue_targets", "run-1", billing=sources.billing)

    assert raw_count(warehouse, "revenue_targets") == loaded > 0  # the last valid load stays
