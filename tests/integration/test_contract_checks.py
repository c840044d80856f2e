"""The SQL contract check on CRM records: each way a record can break the contract, with its reason."""

from __future__ import annotations

import json

import psycopg
import pytest
from psycopg import sql

from warehouse.contract import entity
from warehouse.quality import instant_text, parse_instant, record_key_sql, violation_sql

pytestmark = pytest.mark.integration

DEAL = {
    "id": "D1",
    "client_id": "C1",
    "manager_id": "M1",
    "kind": "upsell",
    "product_line": "analytics",
    "amount": "1500.00",
    "currency": "USD",
    "stage": "won",
    "created_at": "2026-01-01T10:00:00+03:00",
    "proposal_sent_at": "2026-01-05T10:00:00Z",
    "closed_at": "2026-01-20T10:00:00-04:00",
    "lost_reason": None,
    "updated_at": "2026-01-20T10:00:00Z",
    "deleted_at": None,
}


@pytest.fixture(scope="module")
def check(pg_cluster):
    conn = psycopg.connect(pg_cluster.url("warehouse"), autocommit=True)

    def violation(entity_name: str, record: object) -> str | None:
        query = sql.SQL("select {} from (select %s::jsonb as r) as x").format(
            violation_sql(entity("crm", entity_name), sql.Identifier("r"))
        )
        return conn.execute(query, (json.dumps(record),)).fetchone()[0]

    yield violation
    conn.close()


def test_a_record_that_keeps_the_contract_passes(check):
    assert check("deals", DEAL) is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": None}, "missing id"),
        ({"id": ""}, "missing id"),
        ({"id": 7}, "wrong type for id: expected a string, got number"),
        (
            {"stage": "signed"},
            "unknown value for stage: 'signed' (expected one of open, proposal_sent, won, lost)",
        ),
        (
            {"amount": 0.30000000000000004},
            "wrong type for amount: expected a decimal string or a number with at most 2 decimals,"
            " got 0.30000000000000004",
        ),
        (
            {"amount": "1,500"},
            "wrong type for amount: expected a decimal string or a number with at most 2 decimals,"
            ' got "1,500"',
        ),
        ({"amount": 1500}, None),
        ({"amount": 1500.5}, None),
        (
            {
                "created_at": "2026-01-01T10:00:00.1234567+03:00",
                "closed_at": "2026-01-20T10:00:00.123456789Z",
            },
            None,
        ),
        ({"created_at": "2026-01-01T10:00:00,5+03:00"}, None),
        (
            {"created_at": "2026-01-01T10:00:00,+03:00"},
            'unparsable timestamp for created_at: "2026-01-01T10:00:00,+03:00" (ISO 8601 with a UTC offset'
            " expected)",
        ),
        (
            {"created_at": "2026-01-01T10:00:00"},
            'unparsable timestamp for created_at: "2026-01-01T10:00:00" (ISO 8601 with a UTC offset expected)',
        ),
        (
            {"created_at": "yesterday"},
            'unparsable timestamp for created_at: "yesterday" (ISO 8601 with a UTC offset expected)',
        ),
        (
            {"closed_at": "2026-02-30T10:00:00Z"},
            'unparsable timestamp for closed_at: "2026-02-30T10:00:00Z" (ISO 8601 with a UTC offset expected)',
        ),
        ({"client_id": None}, "missing value for client_id"),
        ({"currency": 840}, "wrong type for currency: expected a string, got number"),
        ({"lost_reason": 5}, "wrong type for lost_reason: expected a string, got number"),
    ],
)
def test_each_contract_break_is_named(check, change, reason):
    assert check("deals", {**DEAL, **change}) == reason


def test_missing_fields_are_missing_values_and_nullable_ones_may_be_absent(check):
    record = {k: v for k, v in DEAL.items() if k not in ("lost_reason", "deleted_at")}
    assert check("deals", record) is None
    record.pop("manager_id")
    assert check("deals", record) == "missing value for manager_id"


def test_integers_and_booleans_are_not_interchangeable(check):
    activity = {
        "id": "A1",
        "client_id": "C1",
        "manager_id": "M1",
        "contact_id": None,
        "type": "call",
        "occurred_at": "2026-01-01T10:00:00Z",
        "duration_min": True,
        "updated_at": "2026-01-01T10:00:00Z",
        "deleted_at": None,
    }
    assert check("activities", activity) == "wrong type for duration_min: expected an integer, got true"
    assert check("activities", {**activity, "duration_min": 30.5}) == (
        "wrong type for duration_min: expected an integer, got 30.5"
    )
    assert check("activities", {**activity, "duration_min": 30}) is None


def test_a_value_that_is_not_an_object_is_named(check):
    assert check("deals", ["D1"]) == "not a JSON object: array"


def test_a_record_without_an_id_is_keyed_by_its_content(pg_cluster):
    record_id, updated_at = record_key_sql(sql.Identifier("r"))
    query = sql.SQL("select {}, {} from (select %s::jsonb as r) as x").format(record_id, updated_at)
    with psycopg.connect(pg_cluster.url("warehouse")) as conn:
        first = conn.execute(
            query, (json.dumps({"name": "x", "updated_at": "2026-01-01T00:00:00Z"}),)
        ).fetchone()
        second = conn.execute(query, (json.dumps({"name": "y"}),)).fetchone()
        named = conn.execute(
            query, (json.dumps({"id": "C1", "updated_at": "2026-01-01T00:00:00Z"}),)
        ).fetchone()
    assert first[0].startswith("md5:") and first[0] != second[0]
    assert first[1] == "2026-01-01T00:00:00Z" and second[1] == ""
    assert named == ("C1", "2026-01-01T00:00:00Z")


def test_instants_compare_across_offsets():
    assert parse_instant("2026-01-01T10:00:00+03:00") < parse_instant("2026-01-01T08:00:00Z")
    assert parse_instant("not a time") is None


@pytest.mark.parametrize(
    "text",
    [
        "2025-03-31T23:59:59.9999999+03:00",
        "2025-03-31T23:59:59,9999999+03:00",
        "2025-03-31 23:59:59.123456789-05:30",
        "2025-03-31T23:59:59.1234560+0300",
        "2025-03-31T23:59:59.999999Z",
        "2025-03-31T23:59:59,5Z",
        "2025-03-31T23:59:59.12+03",
        "2025-03-31T23:59:59Z",
        "2025-03-31T23:59Z",
    ],
)
def test_an_instant_in_sql_is_the_instant_python_reads(pg_cluster, text):
    """CRM timestamps are cast in SQL, finance ones parsed by fromisoformat: the same text, the same
    instant (fraction digits past the sixth cut, not rounded; a comma read as a point)."""
    with psycopg.connect(pg_cluster.url("warehouse")) as conn:
        cast = conn.execute(
            sql.SQL("select {}::timestamptz").format(instant_text(sql.Literal(text)))
        ).fetchone()[0]
    assert cast == parse_instant(text)
