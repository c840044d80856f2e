"""Extract and load against a live billing DB and CRM API: full, incremental, faults, a killed worker, rejects."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql

from simulator.billing_loader import upsert_billing
from simulator.crm_server import Faults
from simulator.dataset import read_entity
from warehouse.contract import BILLING_TABLES, CRM_ENTITIES, entity
from warehouse.extract import billing, crm
from warehouse.quality import parse_instant
from warehouse.raw import PG_TYPES

pytestmark = pytest.mark.integration

FAST_RETRIES = crm.RetryPolicy(max_attempts=30, base_delay_s=0.01, max_delay_s=0.05)
LOOK_BACK = billing.DEFAULT_LOOK_BACK
OVERLAP = timedelta(minutes=10)


def extract_everything(sources, warehouse: str, run_id: str, client: crm.CrmClient | None = None) -> dict:
    client = client or crm.CrmClient(sources.api, FAST_RETRIES)
    stats = {}
    for e in CRM_ENTITIES:
        stats[f"crm.{e.name}"] = crm.extract_entity(client, warehouse, e.name, run_id, overlap=OVERLAP)
    snapshot = billing.hold_snapshot(sources.billing)
    try:
        for t in BILLING_TABLES:
            stats[f"billing.{t.name}"] = billing.extract_table(
                sources.billing, warehouse, t.name, run_id, snapshot, look_back=LOOK_BACK
            )
    finally:
        billing.release_snapshot(sources.billing, snapshot)
    return stats


def latest_crm_records(folder, entity_name: str) -> dict[str, dict]:
    latest: dict[str, dict] = {}
    for record in read_entity(folder, entity("crm", entity_name)):
        seen = latest.get(record["id"])
        if seen is None or parse_instant(record["updated_at"]) > parse_instant(seen["updated_at"]):
            latest[record["id"]] = record
    return latest


def billing_checksum(url: str, schema: str, table: str) -> tuple[int, str]:
    e = entity("billing", table)
    columns = sql.SQL(", ").join(
        sql.SQL("{}::{}").format(sql.Identifier(f.name), sql.SQL(PG_TYPES[f.type])) for f in e.fields
    )
    key = sql.SQL(", ").join(map(sql.Identifier, e.key))
    query = sql.SQL(
        "select count(*), coalesce(md5(string_agg(t::text, '|' order by {key})), '') "
        "from (select {columns} from {schema}.{table}) t"
    ).format(key=key, columns=columns, schema=sql.Identifier(schema), table=sql.Identifier(table))
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchone()


def assert_raw_equals_source(sources, warehouse: str) -> None:
    with psycopg.connect(warehouse) as conn:
        for e in CRM_ENTITIES:
            raw = {
                r[0]: r[1]
                for r in conn.execute(
                    sql.SQL("select id, _record from raw_crm.{}").format(sql.Identifier(e.name))
                )
            }
            assert raw == latest_crm_records(sources.data, e.name), f"raw_crm.{e.name} differs from the CRM"
    for t in BILLING_TABLES:
        assert billing_checksum(warehouse, "raw_billing", t.name) == billing_checksum(
            sources.billing, "public", t.name
        ), f"raw_billing.{t.name} differs from the billing source"


def watermarks(warehouse: str) -> dict[str, datetime]:
    with psycopg.connect(warehouse) as conn:
        return {
            f"{s}.{e}": w
            for s, e, w in conn.execute("select source, entity, watermark from raw_meta.extract_state")
        }


def test_full_load_equals_the_sources(sources, warehouse):
    stats = extract_everything(sources, warehouse, "run-1")
    assert_raw_equals_source(sources, warehouse)
    assert all(s.mode == "full" for s in stats.values())
    assert stats["crm.clients"].rows_merged == len(latest_crm_records(sources.data, "clients"))
    assert (
        stats["billing.invoice_lines"].rows_read
        == billing_checksum(sources.billing, "public", "invoice_lines")[0]
    )


def test_second_run_without_changes_merges_nothing(sources, warehouse):
    extract_everything(sources, warehouse, "run-1")
    again = extract_everything(sources, warehouse, "run-2")
    assert {k: s.rows_merged for k, s in again.items()} == {k: 0 for k in again}
    assert_raw_equals_source(sources, warehouse)


def test_incremental_run_after_a_day_of_changes_reads_the_look_back_and_merges_the_changes(
    sources, warehouse
):
    extract_everything(sources, warehouse, "run-1")
    before = watermarks(warehouse)
    first_loaded_before = first_loaded(warehouse)
    from simulator.changes import apply_day_of_changes

    changed = apply_day_of_changes(sources.data, seed=7)
    delta = max((sources.data / "_delta").iterdir())
    upsert_billing(sources.billing, delta)
    sources.crm.reload()

    stats = extract_everything(sources, warehouse, "run-2")

    assert_raw_equals_source(sources, warehouse)
    with psycopg.connect(sources.billing) as conn:
        for t in BILLING_TABLES:
            expected_read = conn.execute(
                sql.SQL("select count(*) from public.{} where updated_at >= %s").format(
                    sql.Identifier(t.name)
                ),
                (before[f"billing.{t.name}"] - LOOK_BACK,),
            ).fetchone()[0]
            assert stats[f"billing.{t.name}"].rows_read == expected_read, t.name
            assert stats[f"billing.{t.name}"].rows_merged == changed.get(f"billing.{t.name}", 0), t.name
            assert stats[f"billing.{t.name}"].mode == "incremental"
    for e in CRM_ENTITIES:
        since = before[f"crm.{e.name}"] - OVERLAP
        expected_read = sum(
            1 for r in read_entity(sources.data, e) if parse_instant(r["updated_at"]) >= since
        )
        assert stats[f"crm.{e.name}"].rows_read == expected_read, e.name
        assert stats[f"crm.{e.name}"].rows_merged == changed.get(f"crm.{e.name}", 0), e.name
    assert sum(changed.values()) > 0
    # a merge keeps when a row was first loaded; a new row's first load is its load
    first_loaded_after = first_loaded(warehouse)
    assert {k: first_loaded_after[k][0] for k in first_loaded_before} == {
        k: v[0] for k, v in first_loaded_before.items()
    }
    new_rows = first_loaded_after.keys() - first_loaded_before.keys()
    assert new_rows and all(first_loaded_after[k][0] == first_loaded_after[k][1] for k in new_rows)


def first_loaded(warehouse: str) -> dict[tuple, tuple]:
    """(table, key...) -> (_first_loaded_at, _loaded_at) of every CRM and billing raw row."""
    rows = {}
    with psycopg.connect(warehouse) as conn:
        for e in (*CRM_ENTITIES, *BILLING_TABLES):
            query = sql.SQL("select {}, _first_loaded_at, _loaded_at from {}.{}").format(
                sql.SQL(", ").join(map(sql.Identifier, e.key)),
                sql.Identifier(f"raw_{e.source}"),
                sql.Identifier(e.name),
            )
            for *key, first, loaded in conn.execute(query):
                rows[(e.name, *key)] = (first, loaded)
    return rows


def test_a_raw_table_from_before_first_loaded_at_gets_the_column(warehouse):
    from warehouse.raw import ensure_raw_layer

    with psycopg.connect(warehouse, autocommit=True) as conn:
        ensure_raw_layer(conn)
        conn.execute("alter table raw_billing.products drop column _first_loaded_at")
        conn.execute(
            "insert into raw_billing.products (id, name, updated_at, _run_id) values (1, 'old', now(), 'r0')"
        )
        ensure_raw_layer(conn)
        conn.execute(
            "insert into raw_billing.products (id, name, updated_at, _run_id) values (2, 'new', now(), 'r1')"
        )
        rows = conn.execute(
            "select id, _first_loaded_at is null from raw_billing.products order by id"
        ).fetchall()
    assert rows == [(1, True), (2, False)]


def test_every_raw_table_reads_the_rows_loaded_since_a_point_through_an_index(warehouse):
    from warehouse.contract import ALL_ENTITIES
    from warehouse.raw import ensure_raw_layer

    with psycopg.connect(warehouse, autocommit=True) as conn:
        ensure_raw_layer(conn)
        conn.execute("drop index raw_billing.invoice_lines__loaded_at")
        ensure_raw_layer(conn)  # an existing warehouse gets the index on its next extract
        indexed = {
            (schema, table)
            for schema, table in conn.execute(
                "select schemaname, tablename from pg_indexes"
                " where schemaname like 'raw\\_%' and indexdef like '%(_loaded_at)'"
            )
        }
    assert indexed == {(f"raw_{e.source}", e.name) for e in ALL_ENTITIES}


def test_faults_do_not_change_the_result(sources, warehouse):
    sources.crm.set_faults(
        Faults(error_rate=0.15, drop_rate=0.05, rate_limit_rate=0.05, retry_after=0, seed=3)
    )
    client = crm.CrmClient(sources.api, FAST_RETRIES, page_limit=20)

    extract_everything(sources, warehouse, "run-faulty", client)

    counters = sources.crm.stats.snapshot()
    assert counters["5xx"] > 0 and counters["dropped"] > 0 and counters["429"] > 0, counters
    assert_raw_equals_source(sources, warehouse)


KILLABLE_EXTRACT = """
import sys
from warehouse.connections import CrmApi
from warehouse.extract import crm
api = CrmApi("crm_api", sys.argv[1], sys.argv[2])
client = crm.CrmClient(api, crm.RetryPolicy(max_attempts=1000, base_delay_s=0.2, max_delay_s=0.2), page_limit=5)
crm.extract_entity(client, sys.argv[3], "activities", "run-killed", batch_records=10)
"""


def test_a_worker_killed_mid_load_then_rerun_loses_and_duplicates_nothing(sources, warehouse):
    from tests.integration.conftest import TOKEN

    sources.crm.set_faults(Faults(rate_limit_rate=0.5, retry_after=1, seed=5))  # slow enough to kill mid-way
    worker = subprocess.Popen(
        [sys.executable, "-c", KILLABLE_EXTRACT, sources.crm.url, TOKEN, warehouse],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    deadline = time.monotonic() + 120
    committed = 0
    with psycopg.connect(warehouse, autocommit=True) as conn:
        while committed == 0 and worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
            with contextlib.suppress(psycopg.errors.UndefinedTable):
                committed = conn.execute("select count(*) from raw_crm.activities").fetchone()[0]
    assert worker.poll() is None, "the worker finished before it could be killed"
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    total = len(latest_crm_records(sources.data, "activities"))
    assert 0 < committed < total

    sources.crm.set_faults(Faults())
    extract_everything(sources, warehouse, "run-after-kill")

    assert_raw_equals_source(sources, warehouse)


def test_records_that_break_the_contract_go_to_rejects_and_the_rest_loads(sources, warehouse):
    clients_file = sources.data / "crm" / "clients.jsonl"
    good = [json.loads(line) for line in clients_file.read_text().splitlines()]
    template = good[0]
    bad = [
        {**template, "id": 12345},
        {**template, "id": "BAD-TS", "created_at": "yesterday"},
        {**template, "id": "BAD-ENUM", "segment": "enterprise"},
        {**template, "id": "BAD-NULL", "name": None},
        {**template, "id": "BAD-MONEY", "wallet_estimate": 1234.567},
    ]
    # legal shapes the generator never writes: money as a JSON number with cents, and
    # timestamps with more fraction digits than PostgreSQL keeps (7 and 9), after a comma or a point
    legal = [
        {**template, "id": "NUMBER-MONEY", "wallet_estimate": 1234.5},
        {
            **template,
            "id": "LONG-FRACTION",
            "wallet_estimate": "500.00",
            "created_at": "2025-03-31T23:59:59.9999999+03:00",
            "updated_at": "2025-04-01T10:00:00,123456789Z",
        },
    ]
    with clients_file.open("a") as out:
        for record in bad + legal:
            out.write(json.dumps(record) + "\n")
    sources.crm.reload()
    client = crm.CrmClient(sources.api, FAST_RETRIES)

    first = crm.extract_entity(client, warehouse, "clients", "run-1")
    again = crm.extract_entity(client, warehouse, "clients", "run-2", overlap=timedelta(days=10000))

    assert first.rows_rejected == 5 and first.rows_merged == len(good) + len(legal)
    assert again.rows_rejected == 5 and again.rows_merged == 0
    with psycopg.connect(warehouse) as conn:
        rejects = dict(
            conn.execute("select record_id, reason from raw_meta.rejects where entity = 'clients'")
        )
        loaded = conn.execute("select count(*) from raw_crm.clients").fetchone()[0]
        legal_rows = conn.execute(
            "select id, wallet_estimate, created_at, updated_at from raw_crm.clients"
            " where id in ('NUMBER-MONEY', 'LONG-FRACTION') order by id"
        ).fetchall()
    assert rejects == {
        "12345": "wrong type for id: expected a string, got number",
        "BAD-TS": 'unparsable timestamp for created_at: "yesterday" (ISO 8601 with a UTC offset expected)',
        "BAD-ENUM": "unknown value for segment: 'enterprise' (expected one of b2b, b2c)",
        "BAD-NULL": "missing value for name",
        "BAD-MONEY": "wrong type for wallet_estimate: expected a decimal string or a number with at most"
        " 2 decimals, got 1234.567",
    }
    assert loaded == len(good) + len(legal)
    assert legal_rows == [
        (
            "LONG-FRACTION",
            Decimal("500.00"),
            datetime(2025, 3, 31, 20, 59, 59, 999999, tzinfo=UTC),  # cut, not rounded to 21:00
            datetime(2025, 4, 1, 10, 0, 0, 123456, tzinfo=UTC),
        ),
        (
            "NUMBER-MONEY",
            Decimal("1234.5"),
            parse_instant(template["created_at"]),
            parse_instant(template["updated_at"]),
        ),
    ]


def test_a_wrong_token_fails_at_once_naming_the_connection(sources, warehouse):
    from warehouse.connections import CrmApi

    api = CrmApi(conn_id="crm_api", base_url=sources.crm.url, token="wrong")
    with pytest.raises(crm.CrmAuthError, match=r"connection crm_api.*refused the token: HTTP 401"):
        crm.extract_entity(crm.CrmClient(api, FAST_RETRIES), warehouse, "clients", "run-1")
    assert sources.crm.stats.snapshot()["401"] == 1


def test_a_full_refresh_reloads_each_billing_table_whole(sources, warehouse):
    extract_everything(sources, warehouse, "run-1")
    snapshot = billing.hold_snapshot(sources.billing)
    try:
        stats = [
            billing.extract_table(
                sources.billing, warehouse, t.name, "run-refresh", snapshot, full_refresh=True
            )
            for t in BILLING_TABLES
        ]
    finally:
        billing.release_snapshot(sources.billing, snapshot)

    assert_raw_equals_source(sources, warehouse)
    for t, s in zip(BILLING_TABLES, stats, strict=True):
        source_rows = billing_checksum(sources.billing, "public", t.name)[0]
        assert (s.mode, s.rows_read, s.rows_merged) == ("full_refresh", source_rows, source_rows), t.name
    with psycopg.connect(warehouse) as conn:
        run_ids = conn.execute("select distinct _run_id from raw_billing.invoice_lines").fetchall()
    assert run_ids == [("run-refresh",)]
