"""One day of source changes applied to a data set folder: volume, determinism, the awkward cases, the delta."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from simulator.changes import apply_day_of_changes, row_key
from simulator.dataset import entity_path, parse_ts, read_entity
from tests.conftest import TEST_END_DATE
from warehouse.contract import BILLING_TABLES, CRM_ENTITIES, Entity

TABLES = {f"{e.source}.{e.name}": e for e in (*CRM_ENTITIES, *BILLING_TABLES)}
DAY = TEST_END_DATE + timedelta(days=1)
DAY_START = datetime.combine(DAY, datetime.min.time(), UTC)


def snapshot(folder: Path) -> dict[str, dict[tuple[str, ...], dict]]:
    return {name: {row_key(e, r): r for r in read_entity(folder, e)} for name, e in TABLES.items()}


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def changed(dataset_copy: Path) -> tuple[Path, dict, dict, dict[str, int]]:
    """The tiny data set before and after one default day of changes."""
    before = snapshot(dataset_copy)
    counts = apply_day_of_changes(dataset_copy, seed=5)
    return dataset_copy, before, snapshot(dataset_copy), counts


def changed_rows(before: dict, after: dict, name: str) -> dict:
    return {k: r for k, r in after[name].items() if before[name].get(k) != r}


def test_default_day_follows_the_latest_update_and_delta_holds_exactly_what_changed(changed) -> None:
    folder, before, after, counts = changed
    delta = folder / "_delta" / DAY.isoformat()
    assert delta.is_dir()
    assert set(counts) == set(TABLES)
    for name, e in TABLES.items():
        assert set(after[name]) >= set(before[name]), name
        expected = changed_rows(before, after, name)
        in_delta = {row_key(e, r): r for r in read_entity(delta, e)}
        assert in_delta == expected, name
        assert counts[name] == len(expected) >= 1, name
    assert not (delta / "finance").exists()


def test_about_one_percent_of_each_table_is_touched(changed) -> None:
    """At least one row of every table; about 1% of the larger ones, plus the few cases made every day."""
    _, before, _, counts = changed
    for name, count in counts.items():
        size = len(before[name])
        if size >= 300 and name != "billing.fx_rates":
            assert 0.003 * size <= count <= 0.03 * size + 3, (name, count, size)


def test_changed_rows_get_a_newer_updated_at_within_the_day_or_commit_late(changed) -> None:
    _, before, after, _ = changed
    late_tables = set()
    for name in TABLES:
        newest_before = max(instant(r["updated_at"]) for r in before[name].values())
        for key, row in changed_rows(before, after, name).items():
            updated = instant(row["updated_at"])
            old = before[name].get(key)
            if old is not None:
                assert updated > instant(old["updated_at"]), (name, row)
            if updated < DAY_START:
                lateness = timedelta(hours=6) if name.startswith("billing.") else timedelta(minutes=6)
                assert newest_before - lateness < updated < newest_before, (name, row)
                late_tables.add(name)
            else:
                assert updated < DAY_START + timedelta(days=1), (name, row)
            for field in ("created_at", "occurred_at", "changed_at", "responded_at", "issued_at", "paid_at"):
                if row.get(field):
                    assert instant(row[field]) <= updated, (name, field, row)
    assert {"billing.invoices", "billing.invoice_lines", "billing.payments", "crm.activities"} <= late_tables
    assert {"billing.credit_notes", "crm.owner_changes", "crm.clients", "crm.requests"} <= late_tables


def test_new_invoices_are_issued_that_day_with_lines(changed) -> None:
    _, before, after, _ = changed
    new = [r for k, r in after["billing.invoices"].items() if k not in before["billing.invoices"]]
    assert new
    lines = Counter(
        line["invoice_id"] for line in changed_rows(before, after, "billing.invoice_lines").values()
    )
    for invoice in new:
        assert invoice["status"] == "issued" and lines[invoice["id"]] >= 1
        issued, updated = instant(invoice["issued_at"]), instant(invoice["updated_at"])
        assert updated - timedelta(hours=3) < issued <= updated
    assert any(instant(i["issued_at"]) >= DAY_START for i in new)
    for line in changed_rows(before, after, "billing.invoice_lines").values():
        exact = Decimal(line["quantity"]) * Decimal(line["unit_price"])
        assert Decimal(line["amount"]) == exact.quantize(Decimal("0.01"))


def test_invoices_are_paid_voided_and_credited(changed) -> None:
    _, before, after, _ = changed
    invoices = after["billing.invoices"]
    moved = {
        k: (before["billing.invoices"][k]["status"], r["status"])
        for k, r in changed_rows(before, after, "billing.invoices").items()
        if k in before["billing.invoices"]
    }
    assert ("issued", "paid") in moved.values() and ("issued", "void") in moved.values()
    payments = changed_rows(before, after, "billing.payments").values()
    totals: Counter[str] = Counter()
    for line in after["billing.invoice_lines"].values():
        totals[line["invoice_id"]] += Decimal(line["amount"])
    paid: Counter[str] = Counter()
    for payment in after["billing.payments"].values():
        paid[payment["invoice_id"]] += Decimal(payment["amount"])
    for payment in payments:
        invoice = invoices[(payment["invoice_id"],)]
        assert invoice["status"] == "paid" and payment["currency"] == invoice["currency"]
        assert paid[payment["invoice_id"]] == totals[payment["invoice_id"]]
    notes = changed_rows(before, after, "billing.credit_notes").values()
    assert notes
    credited: Counter[str] = Counter()
    for note in after["billing.credit_notes"].values():
        credited[note["invoice_id"]] += Decimal(note["amount"])
    oldest = min(instant(invoices[(n["invoice_id"],)]["issued_at"]) for n in notes)
    assert oldest < DAY_START - timedelta(days=60)
    for note in notes:
        invoice = invoices[(note["invoice_id"],)]
        assert invoice["status"] in ("issued", "paid")
        assert credited[note["invoice_id"]] <= totals[note["invoice_id"]]


def test_backdated_owner_change_moves_the_client(changed) -> None:
    _, before, after, _ = changed
    new_changes = changed_rows(before, after, "crm.owner_changes").values()
    backdated = [c for c in new_changes if instant(c["changed_at"]) < DAY_START - timedelta(days=13)]
    assert backdated
    for change in new_changes:
        client = after["crm.clients"][(change["client_id"],)]
        old_client = before["crm.clients"][(change["client_id"],)]
        assert change["old_owner_id"] == old_client["owner_id"] != change["new_owner_id"]
        assert client["owner_id"] == change["new_owner_id"]
        history = [c for c in after["crm.owner_changes"].values() if c["client_id"] == change["client_id"]]
        assert max(history, key=lambda c: (parse_ts(c["changed_at"]), c["id"])) == change
        manager = after["crm.managers"][(change["new_owner_id"],)]
        assert (
            instant(manager["hired_at"]) < instant(change["changed_at"]) and manager["terminated_at"] is None
        )


def test_clients_deals_requests_and_fx_change(changed) -> None:
    _, before, after, _ = changed
    clients = changed_rows(before, after, "crm.clients").values()
    assert any(c["deleted_at"] for c in clients)
    edited = {
        field
        for key, client in changed_rows(before, after, "crm.clients").items()
        for field in ("wallet_estimate", "is_vip", "owner_id", "deleted_at")
        if before["crm.clients"][key][field] != client[field]
    }
    assert {"owner_id", "deleted_at"} <= edited and edited & {"wallet_estimate", "is_vip"}
    moved = [
        (before["crm.deals"][k]["stage"], d["stage"])
        for k, d in changed_rows(before, after, "crm.deals").items()
        if k in before["crm.deals"]
    ]
    assert moved and all(old != new for old, new in moved)
    assert any(k not in before["crm.requests"] for k in changed_rows(before, after, "crm.requests"))
    rates = changed_rows(before, after, "billing.fx_rates")
    assert {k for k in rates if k[1] == DAY.isoformat()} == {
        (c, DAY.isoformat()) for c in ("EUR", "KZT", "USD")
    }
    revised = [k for k in rates if k in before["billing.fx_rates"]]
    assert revised and all(k[1] < DAY.isoformat() for k in revised)


def test_changes_are_deterministic_and_depend_on_seed_and_day(tiny_dataset: Path, tmp_path: Path) -> None:
    copies = [tmp_path / name for name in ("a", "b", "c", "d")]
    for copy in copies:
        shutil.copytree(tiny_dataset, copy)
    apply_day_of_changes(copies[0], seed=9)
    apply_day_of_changes(copies[1], seed=9, day=DAY)
    apply_day_of_changes(copies[2], seed=10, day=DAY)
    apply_day_of_changes(copies[3], seed=9, day=DAY + timedelta(days=3))

    def contents(folder: Path) -> dict[str, bytes]:
        return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}

    assert contents(copies[0]) == contents(copies[1])
    assert contents(copies[0]) != contents(copies[2])
    assert (copies[3] / "_delta" / (DAY + timedelta(days=3)).isoformat()).is_dir()


def test_days_follow_one_another_and_files_keep_the_contract_shape(dataset_copy: Path) -> None:
    first = apply_day_of_changes(dataset_copy, seed=1)
    second = apply_day_of_changes(dataset_copy, seed=1)
    assert first.keys() == second.keys()
    days = [DAY.isoformat(), (DAY + timedelta(days=1)).isoformat()]
    assert sorted(p.name for p in (dataset_copy / "_delta").iterdir()) == days
    for name, e in TABLES.items():
        keys = [row_key(e, r) for r in read_entity(dataset_copy, e)]
        assert len(keys) == len(set(keys)), name
        assert_shape(dataset_copy, e)


def assert_shape(folder: Path, e: Entity) -> None:
    text = entity_path(folder, e).read_text(encoding="utf-8")
    assert text.endswith("\n")
    if e.source == "crm":
        import json

        assert all(list(json.loads(line)) == e.columns for line in text.splitlines())
    else:
        assert text.splitlines()[0] == ",".join(e.columns)
