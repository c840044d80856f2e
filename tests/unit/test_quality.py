"""Contract checks on CRM records: each way a record can break the contract, with its reason."""

from __future__ import annotations

import pytest

from warehouse.contract import entity
from warehouse.quality import contract_violation, parse_instant, record_key

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


def test_a_record_that_keeps_the_contract_passes():
    assert contract_violation(entity("crm", "deals"), DEAL) is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": None}, "missing id"),
        ({"id": ""}, "missing id"),
        ({"id": 7}, "wrong type for id: expected a string, got 7"),
        (
            {"stage": "signed"},
            "unknown value for stage: 'signed' (expected one of open, proposal_sent, won, lost)",
        ),
        ({"amount": 1500.0}, "wrong type for amount: expected a decimal string, got 1500.0"),
        ({"amount": "1,500"}, "wrong type for amount: expected a decimal string, got '1,500'"),
        (
            {"created_at": "2026-01-01T10:00:00"},
            "unparsable timestamp for created_at: '2026-01-01T10:00:00' "
            "(ISO 8601 with a UTC offset expected)",
        ),
        ({"client_id": None}, "missing value for client_id"),
        ({"currency": 840}, "wrong type for currency: expected a string, got int"),
    ],
)
def test_each_contract_break_is_named(change, reason):
    assert contract_violation(entity("crm", "deals"), {**DEAL, **change}) == reason


def test_missing_fields_are_missing_values_and_nullable_ones_may_be_absent():
    record = {k: v for k, v in DEAL.items() if k not in ("lost_reason", "deleted_at")}
    assert contract_violation(entity("crm", "deals"), record) is None
    record.pop("manager_id")
    assert contract_violation(entity("crm", "deals"), record) == "missing value for manager_id"


def test_integers_and_booleans_are_not_interchangeable():
    activity = {
        "id": "A1",
        "client_id": "C1",
        "manager_id": "M1",
        "contact_id": None,
        "type": "call",
        "occurred_at": "2026-01-01T10:00:00Z",
        "duration_min": True,
        "updated_at": "2026-01-01T10:00:00Z",
    }
    assert contract_violation(entity("crm", "activities"), activity) == (
        "wrong type for duration_min: expected an integer, got bool"
    )


def test_instants_compare_across_offsets():
    assert parse_instant("2026-01-01T10:00:00+03:00") < parse_instant("2026-01-01T08:00:00Z")
    assert parse_instant("not a time") is None


def test_a_record_without_an_id_is_keyed_by_its_content():
    first, _ = record_key({"name": "x", "updated_at": "2026-01-01T00:00:00Z"})
    second, _ = record_key({"name": "y", "updated_at": "2026-01-01T00:00:00Z"})
    assert first.startswith("md5:") and first != second
    assert record_key({"id": "C1", "updated_at": "2026-01-01T00:00:00Z"}) == ("C1", "2026-01-01T00:00:00Z")
