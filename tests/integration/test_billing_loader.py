"""Loading the billing database from a data set folder, and applying a delta to it."""

from __future__ import annotations

import csv
import hashlib
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from simulator import billing_loader
from simulator.billing_loader import BillingLoadError, load_billing, upsert_billing
from warehouse.contract import BILLING_TABLES, FINANCE_TABLES, Entity

pytestmark = pytest.mark.integration

TABLES = BILLING_TABLES + FINANCE_TABLES
SCHEMA = {"billing": "public", "finance": "finance"}

BILLING_ROWS: dict[str, list[list[str]]] = {
    "products": [
        ["1", "Widget, large", "hardware", "2026-01-01T00:00:00Z"],
        ["2", 'The "pro" plan', "saas", "2026-01-01T03:00:00+03:00"],
    ],
    "invoices": [
        [
            "10",
            "C10",
            "INV-10",
            "2026-01-05T10:00:00+03:00",
            "2026-02-04T10:00:00+03:00",
            "EUR",
            "issued",
            "2026-01-05T10:00:00+03:00",
        ],
        ["11", "c1", "INV-11", "", "", "USD", "draft", "2026-01-06T09:00:00Z"],
        [
            "12",
            "C9",
            "INV-12",
            "2026-01-07T00:00:00-05:00",
            "2026-02-06T00:00:00-05:00",
            "RUB",
            "paid",
            "2026-01-09T12:30:00.123456+00:00",
        ],
    ],
    "invoice_lines": [
        ["100", "10", "1", "3", "10.50", "31.50", "20.00", "2026-01-05T07:00:00Z"],
        ["101", "10", "2", "1.5", "1000.00", "1500.00", "0.00", "2026-01-05T07:00:00Z"],
        ["102", "12", "2", "2", "99999999999.99", "199999999999.98", "1.01", "2026-01-07T05:00:00Z"],
    ],
    "credit_notes": [["200", "12", "2026-01-08T00:00:00Z", "10.00", "", "2026-01-08T00:00:00Z"]],
    "payments": [
        ["300", "12", "2026-01-09T12:30:00+00:00", "199999999999.98", "RUB", "2026-01-09T12:30:00Z"],
    ],
    "fx_rates": [
        ["EUR", "2026-01-05", "1.000000", "2026-01-05T00:00:00Z"],
        ["USD", "2026-01-05", "0.921234", "2026-01-05T00:00:00Z"],
        ["USD", "2026-01-06", "0.92", "2026-01-06T00:00:00Z"],
    ],
}
FINANCE_ROWS: dict[str, list[list[str]]] = {
    "compensation": [["M1", "2025-01-01", "60000.00", "EUR"], ["M1", "2026-01-01", "66000.00", "EUR"]],
    "revenue_targets": [["M1", "2026-01-01", "100000.00"]],
    "plan_assignments": [["M1", "standard-2026", "2026-01-01"]],
    "month_closes": [["2025-12-01", "2026-01-03T18:00:00+03:00", "cfo@example.com"]],
}

DELTA_ROWS: dict[str, list[list[str]]] = {
    "invoices": [
        [
            "11",
            "c1",
            "INV-11",
            "2026-01-10T09:00:00Z",
            "2026-02-09T09:00:00Z",
            "USD",
            "issued",
            "2026-01-10T09:00:00Z",
        ],
        ["13", "C10", "INV-13", "", "", "EUR", "draft", "2026-01-10T10:00:00+03:00"],
    ],
    "invoice_lines": [["103", "13", "1", "1", "5.00", "5.00", "1.00", "2026-01-10T07:00:00Z"]],
    "fx_rates": [["USD", "2026-01-06", "0.93", "2026-01-10T00:00:00Z"]],
    "month_closes": [["2026-01-01", "2026-02-03T18:00:00+03:00", "cfo@example.com"]],
}


def contract_table(name: str) -> Entity:
    return next(t for t in TABLES if t.name == name)


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)


def write_folder(folder: Path, tables: dict[str, list[list[str]]]) -> Path:
    for name, rows in tables.items():
        table = contract_table(name)
        write_csv(folder / table.source / f"{name}.csv", table.columns, rows)
    return folder


def merged(base: dict[str, list[list[str]]], delta: dict[str, list[list[str]]]) -> dict[str, list[list[str]]]:
    """The rows of `base` with the rows of `delta` replacing or added by key."""
    result = {}
    for name, rows in base.items():
        table = contract_table(name)
        positions = [table.columns.index(k) for k in table.key]
        by_key = {tuple(row[p] for p in positions): row for row in rows}
        by_key.update({tuple(row[p] for p in positions): row for row in delta.get(name, [])})
        result[name] = list(by_key.values())
    return result


# -- comparing a database with CSV files -------------------------------------------------------


def typed(value: str, type_: str) -> Any:
    if value == "":
        return None
    if type_ in ("bigint", "integer"):
        return int(value)
    if type_ == "numeric":
        return Decimal(value)
    if type_ == "boolean":
        return value.lower() in ("t", "true", "1", "yes")
    if type_ == "date":
        return date.fromisoformat(value)
    if type_ == "timestamptz":
        return datetime.fromisoformat(value)
    return value


def canonical(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return repr(value)


def checksum(table: Entity, rows: list[tuple[Any, ...]]) -> tuple[int, str]:
    positions = [table.columns.index(k) for k in table.key]
    ordered = sorted(rows, key=lambda row: tuple(row[p] for p in positions))
    text = "\n".join("|".join(canonical(v) for v in row) for row in ordered)
    return len(rows), hashlib.md5(text.encode()).hexdigest()


def csv_checksum(folder: Path, table: Entity) -> tuple[int, str]:
    path = folder / table.source / f"{table.name}.csv"
    if not path.exists():
        return checksum(table, [])
    with path.open(newline="", encoding="utf-8") as stream:
        records = list(csv.DictReader(stream))
    rows = [tuple(typed(r[f.name], f.type) for f in table.fields) for r in records]
    return checksum(table, rows)


def db_checksum(conn: psycopg.Connection, table: Entity) -> tuple[int, str]:
    query = sql.SQL("select {} from {}.{}").format(
        sql.SQL(", ").join(map(sql.Identifier, table.columns)),
        sql.Identifier(SCHEMA[table.source]),
        sql.Identifier(table.name),
    )
    return checksum(table, conn.execute(query).fetchall())


def db_fingerprint(dsn: str) -> dict[str, tuple[int, str]]:
    """Per table, the row count and an md5 of its rows as text in key order, computed by PostgreSQL."""
    result = {}
    with psycopg.connect(dsn) as conn:
        for table in TABLES:
            query = sql.SQL(
                "select count(*), md5(coalesce(string_agg(t::text, E'\\n' order by {}), '')) from {}.{} t"
            )
            row = conn.execute(
                query.format(
                    sql.SQL(", ").join(map(sql.Identifier, table.key)),
                    sql.Identifier(SCHEMA[table.source]),
                    sql.Identifier(table.name),
                )
            ).fetchone()
            assert row is not None
            result[f"{table.source}.{table.name}"] = (row[0], row[1])
    return result


def assert_database_equals_folder(dsn: str, folder: Path) -> None:
    with psycopg.connect(dsn) as conn:
        for table in TABLES:
            assert db_checksum(conn, table) == csv_checksum(folder, table), table.name


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dsn(pg_cluster: Any) -> Iterator[str]:
    """A database of its own, so these tests leave the shared `billing` database alone."""
    name = "billing_loader_test"
    with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    yield pg_cluster.url(name)
    with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "full", {**BILLING_ROWS, **FINANCE_ROWS})


# -- tests ---------------------------------------------------------------------------------


def test_load_matches_the_csv_files(dsn: str, folder: Path) -> None:
    counts = load_billing(dsn, folder)
    assert counts == {f"{t.source}.{t.name}": len({**BILLING_ROWS, **FINANCE_ROWS}[t.name]) for t in TABLES}
    assert_database_equals_folder(dsn, folder)


def test_load_is_idempotent(dsn: str, folder: Path) -> None:
    first = load_billing(dsn, folder)
    fingerprint = db_fingerprint(dsn)
    assert load_billing(dsn, folder) == first
    assert db_fingerprint(dsn) == fingerprint


def test_tables_are_typed_keyed_and_indexed_from_the_contract(dsn: str, folder: Path) -> None:
    load_billing(dsn, folder)
    with psycopg.connect(dsn) as conn:
        for table in TABLES:
            types = dict(
                conn.execute(
                    "select column_name, data_type from information_schema.columns"
                    " where table_schema = %s and table_name = %s order by ordinal_position",
                    (SCHEMA[table.source], table.name),
                ).fetchall()
            )
            assert list(types) == table.columns
            expected = {"timestamptz": "timestamp with time zone"}
            assert types == {f.name: expected.get(f.type, f.type) for f in table.fields}
            key = conn.execute(
                "select array_agg(a.attname order by array_position(i.indkey, a.attnum)) from pg_index i"
                " join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)"
                " where i.indisprimary and i.indrelid = %s::regclass",
                (f"{SCHEMA[table.source]}.{table.name}",),
            ).fetchone()
            assert key is not None and tuple(key[0]) == table.key
            indexes = conn.execute(
                "select indexdef from pg_indexes where schemaname = %s and tablename = %s",
                (SCHEMA[table.source], table.name),
            ).fetchall()
            has_updated_at_index = any("(updated_at)" in row[0] for row in indexes)
            assert has_updated_at_index == table.incremental, table.name


def test_files_stream_in_chunks(dsn: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(billing_loader, "COPY_CHUNK_BYTES", 7)
    load_billing(dsn, folder)
    assert_database_equals_folder(dsn, folder)


def test_columns_may_come_in_any_order(dsn: str, folder: Path) -> None:
    table = contract_table("invoices")
    header = list(reversed(table.columns))
    reversed_rows = [list(reversed(r)) for r in BILLING_ROWS["invoices"]]
    write_csv(folder / "billing" / "invoices.csv", header, reversed_rows)
    load_billing(dsn, folder)
    with psycopg.connect(dsn) as conn:
        assert db_checksum(conn, table) == checksum(
            table,
            [
                tuple(typed(v, f.type) for v, f in zip(r, table.fields, strict=True))
                for r in BILLING_ROWS["invoices"]
            ],
        )


def test_a_missing_finance_folder_leaves_finance_tables_empty(dsn: str, folder: Path) -> None:
    shutil.rmtree(folder / "finance")
    counts = load_billing(dsn, folder)
    assert all(counts[f"finance.{t.name}"] == 0 for t in FINANCE_TABLES)
    assert_database_equals_folder(dsn, folder)


def test_upsert_of_a_delta_equals_loading_the_updated_folder(dsn: str, tmp_path: Path) -> None:
    base = {**BILLING_ROWS, **FINANCE_ROWS}
    load_billing(dsn, write_folder(tmp_path / "base", base))
    counts = upsert_billing(dsn, write_folder(tmp_path / "delta", DELTA_ROWS))
    assert counts == {f"{contract_table(n).source}.{n}": len(rows) for n, rows in DELTA_ROWS.items()}
    after_upsert = db_fingerprint(dsn)

    updated = write_folder(tmp_path / "updated", merged(base, DELTA_ROWS))
    load_billing(dsn, updated)
    assert after_upsert == db_fingerprint(dsn)
    assert_database_equals_folder(dsn, updated)


def test_a_key_twice_in_a_delta_keeps_its_latest_version(dsn: str, tmp_path: Path) -> None:
    load_billing(dsn, write_folder(tmp_path / "base", {**BILLING_ROWS, **FINANCE_ROWS}))
    newer = ["1", "Widget, renamed", "hardware", "2026-02-01T00:00:00Z"]
    older = ["1", "Widget, stale", "hardware", "2026-01-15T00:00:00Z"]
    upsert_billing(dsn, write_folder(tmp_path / "delta", {"products": [newer, older]}))
    with psycopg.connect(dsn) as conn:
        assert conn.execute("select name from products where id = 1").fetchone() == ("Widget, renamed",)


def test_an_upsert_is_one_transaction(dsn: str, tmp_path: Path) -> None:
    load_billing(dsn, write_folder(tmp_path / "base", {**BILLING_ROWS, **FINANCE_ROWS}))
    before = db_fingerprint(dsn)
    bad = {**DELTA_ROWS, "payments": [["301", "12", "not a time", "1.00", "RUB", "2026-01-10T00:00:00Z"]]}
    with pytest.raises(BillingLoadError, match=r"payments\.csv, line 2"):
        upsert_billing(dsn, write_folder(tmp_path / "delta", bad))
    assert db_fingerprint(dsn) == before


def test_a_bad_value_names_the_file_and_line(dsn: str, folder: Path) -> None:
    rows = [list(r) for r in BILLING_ROWS["invoice_lines"]]
    rows[1][5] = "12,5O"
    write_csv(folder / "billing" / "invoice_lines.csv", contract_table("invoice_lines").columns, rows)
    with pytest.raises(BillingLoadError, match=r"invoice_lines\.csv, line 3: .*numeric") as error:
        load_billing(dsn, folder)
    assert "12,5O" in str(error.value)


def test_a_duplicated_key_names_the_file(dsn: str, folder: Path) -> None:
    write_folder(folder, {"products": [*BILLING_ROWS["products"], BILLING_ROWS["products"][0]]})
    with pytest.raises(BillingLoadError, match=r"products\.csv.*duplicate"):
        load_billing(dsn, folder)


def test_a_short_row_names_the_file_and_line(dsn: str, folder: Path) -> None:
    with (folder / "billing" / "payments.csv").open("a") as stream:
        stream.write("301,12\n")
    with pytest.raises(BillingLoadError, match=r"payments\.csv, line 3"):
        load_billing(dsn, folder)


def test_a_bad_header_names_the_file(dsn: str, folder: Path) -> None:
    header = [c for c in contract_table("credit_notes").columns if c != "reason"] + ["note"]
    write_csv(folder / "billing" / "credit_notes.csv", header, [])
    expected = r"credit_notes\.csv, line 1: .*missing: reason; unknown: note"
    with pytest.raises(BillingLoadError, match=expected):
        load_billing(dsn, folder)


def test_a_missing_billing_file_is_an_error(dsn: str, folder: Path) -> None:
    (folder / "billing" / "payments.csv").unlink()
    with pytest.raises(BillingLoadError, match=r"payments\.csv: missing"):
        load_billing(dsn, folder)


def test_an_upsert_before_any_load_says_so(pg_cluster: Any, tmp_path: Path) -> None:
    with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as conn:
        conn.execute("drop database if exists billing_loader_empty")
        conn.execute("create database billing_loader_empty")
    try:
        with pytest.raises(BillingLoadError, match=r"products\.csv: no table products .*load a full folder"):
            upsert_billing(pg_cluster.url("billing_loader_empty"), write_folder(tmp_path, {"products": []}))
    finally:
        with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as conn:
            conn.execute("drop database billing_loader_empty with (force)")


def test_the_generated_data_set_loads_whole(dsn: str, tiny_dataset: Path) -> None:
    counts = load_billing(dsn, tiny_dataset)
    assert counts["billing.invoices"] > 0 and counts["finance.compensation"] > 0
    assert_database_equals_folder(dsn, tiny_dataset)


def test_a_generated_day_of_changes_upserts_to_the_updated_folder(dsn: str, dataset_copy: Path) -> None:
    changes = pytest.importorskip("simulator.changes")
    load_billing(dsn, dataset_copy)
    deltas_before = set((dataset_copy / "_delta").glob("*"))
    changes.apply_day_of_changes(dataset_copy, seed=7)
    (delta,) = set((dataset_copy / "_delta").glob("*")) - deltas_before
    upsert_billing(dsn, delta)
    after_upsert = db_fingerprint(dsn)
    load_billing(dsn, dataset_copy)
    assert db_fingerprint(dsn) == after_upsert
    assert_database_equals_folder(dsn, dataset_copy)
