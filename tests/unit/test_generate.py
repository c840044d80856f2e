"""The simulator's generated data set: the source contract's shape, determinism and the realism metrics need."""

from __future__ import annotations

import itertools
import json
import re
import time
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from simulator.dataset import EntityWriter, entity_path, parse_ts, read_entity, write_entity
from simulator.generate import SCALES, generate
from tests.conftest import TEST_END_DATE
from warehouse.contract import ALL_ENTITIES, BILLING_TABLES, CRM_ENTITIES, FINANCE_TABLES, entity

END = datetime.combine(TEST_END_DATE + timedelta(days=1), datetime.min.time(), UTC) - timedelta(seconds=1)
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")
MONEY = re.compile(r"^-?\d+\.\d{2}$")


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def month_of(text: str) -> date:
    moment = instant(text).astimezone(UTC)
    return date(moment.year, moment.month, 1)


def month_number(month: date) -> int:
    return month.year * 12 + month.month - 1


class Tiny:
    """The session's tiny data set, read back whole."""

    def __init__(self, folder: Path) -> None:
        self.tables = {f"{e.source}.{e.name}": list(read_entity(folder, e)) for e in ALL_ENTITIES}

    def rows(self, name: str) -> list[dict]:
        return self.tables[name]

    def by_id(self, name: str) -> dict[str, dict]:
        return {row["id"]: row for row in self.rows(name)}

    def invoice_totals(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for line in self.rows("billing.invoice_lines"):
            totals[line["invoice_id"]] += Decimal(line["amount"])
        return totals

    def monthly_billing(self) -> dict[str, dict[int, Decimal]]:
        """Invoiced amount per client and month number, in-scope invoices only (credit notes left out)."""
        totals = self.invoice_totals()
        billing: dict[str, dict[int, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        for invoice in self.rows("billing.invoices"):
            if invoice["status"] in ("issued", "paid"):
                month = month_number(month_of(invoice["issued_at"]))
                billing[invoice["client_id"]][month] += totals[invoice["id"]]
        return billing


@pytest.fixture(scope="module")
def tiny(tiny_dataset: Path) -> Tiny:
    return Tiny(tiny_dataset)


# -- shape --------------------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files_and_another_seed_differs(tmp_path: Path) -> None:
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(first, seed=7, end_date=TEST_END_DATE, scale="tiny")
    generate(second, seed=7, end_date=TEST_END_DATE, scale="tiny")
    generate(other, seed=8, end_date=TEST_END_DATE, scale="tiny")
    for e in ALL_ENTITIES:
        assert entity_path(first, e).read_bytes() == entity_path(second, e).read_bytes(), e.name
    differing = [
        e.name
        for e in ALL_ENTITIES
        if entity_path(first, e).read_bytes() != entity_path(other, e).read_bytes()
    ]
    assert "clients" in differing and "invoice_lines" in differing


def test_every_file_has_the_contract_header_or_keys_in_order(tmp_path: Path) -> None:
    counts = generate(tmp_path / "data", seed=42, end_date=TEST_END_DATE, scale="tiny")
    for e in CRM_ENTITIES:
        lines = entity_path(tmp_path / "data", e).read_text(encoding="utf-8").splitlines()
        assert lines, e.name
        for line in lines:
            assert list(json.loads(line)) == e.columns, e.name
        assert len(lines) == counts[f"crm.{e.name}"]
    for e in BILLING_TABLES + FINANCE_TABLES:
        text = entity_path(tmp_path / "data", e).read_text(encoding="utf-8")
        assert text.splitlines()[0] == ",".join(e.columns), e.name
        assert text.endswith("\n") and "\r" not in text
        assert len(text.splitlines()) - 1 == counts[f"{e.source}.{e.name}"] > 0, e.name


def test_keys_are_unique_and_required_fields_present(tiny: Tiny) -> None:
    for e in ALL_ENTITIES:
        records = tiny.rows(f"{e.source}.{e.name}")
        keys = [tuple(r[k] for k in e.key) for r in records]
        assert len(keys) == len(set(keys)), e.name
        for f in e.fields:
            values = [r[f.name] for r in records]
            if not f.nullable:
                assert None not in values, (e.name, f.name)
            if f.choices:
                assert set(values) - {None} <= set(f.choices), (e.name, f.name)


def test_ids_are_sequential(tiny: Tiny) -> None:
    for e in CRM_ENTITIES:
        numbers = [int(re.sub(r"^\D+", "", r["id"])) for r in tiny.rows(f"crm.{e.name}")]
        assert numbers == list(range(1, len(numbers) + 1)), e.name
    for e in BILLING_TABLES:
        if e.key == ("id",):
            numbers = sorted(int(r["id"]) for r in tiny.rows(f"billing.{e.name}"))
            assert numbers == list(range(1, len(numbers) + 1)), e.name


def test_values_have_the_agreed_formats(tiny: Tiny) -> None:
    for e in CRM_ENTITIES + BILLING_TABLES + FINANCE_TABLES:
        for record in tiny.rows(f"{e.source}.{e.name}"):
            for f in e.fields:
                value = record[f.name]
                if value is None:
                    continue
                if f.type == "timestamptz":
                    assert TS.match(value), (e.name, f.name, value)
                elif f.type == "date":
                    assert date.fromisoformat(value).isoformat() == value
                elif f.type == "numeric" and f.name not in ("quantity", "rate_to_base"):
                    assert MONEY.match(value), (e.name, f.name, value)
                elif f.type == "boolean":
                    assert isinstance(value, bool)
                elif f.type == "integer":
                    assert isinstance(value, int)
                elif e.source == "crm" and f.type == "text":
                    assert isinstance(value, str)
    assert all(re.match(r"^\d+(\.\d{1,3})?$", r["quantity"]) for r in tiny.rows("billing.invoice_lines"))
    assert all(re.match(r"^\d+\.\d{1,6}$", r["rate_to_base"]) for r in tiny.rows("billing.fx_rates"))
    assert all(
        r["month"].endswith("-01")
        for r in tiny.rows("finance.revenue_targets") + tiny.rows("finance.month_closes")
    )


def test_line_amount_is_quantity_times_unit_price_rounded_to_cents(tiny: Tiny) -> None:
    lines = tiny.rows("billing.invoice_lines")
    for line in lines:
        exact = Decimal(line["quantity"]) * Decimal(line["unit_price"])
        assert Decimal(line["amount"]) == exact.quantize(Decimal("0.01"))
        assert abs(Decimal(line["amount"]) - exact) < Decimal("0.005")
    assert any("." in line["quantity"] for line in lines)
    invoices = tiny.by_id("billing.invoices")
    vips = {c["id"] for c in tiny.rows("crm.clients") if c["is_vip"]}
    at_a_loss = [line for line in lines if Decimal(line["cost_amount"]) >= Decimal(line["amount"])]
    assert at_a_loss and all(invoices[line["invoice_id"]]["client_id"] in vips for line in at_a_loss)


def test_timestamps_use_several_offsets_and_updated_at_stays_in_range(tiny: Tiny) -> None:
    offsets: Counter[str] = Counter()
    for e in CRM_ENTITIES + BILLING_TABLES:
        for record in tiny.rows(f"{e.source}.{e.name}"):
            updated = instant(record["updated_at"])
            assert updated <= END, (e.name, record)
            offsets[record["updated_at"][19:]] += 1
            for name in ("created_at", "occurred_at", "changed_at", "responded_at", "hired_at", "issued_at"):
                if record.get(name):
                    assert instant(record[name]) <= updated, (e.name, name, record)
            if record.get("deleted_at"):
                assert instant(record["deleted_at"]) <= updated
    assert {"Z", "+03:00", "+05:00", "-04:00"} <= set(offsets)


def test_same_instant_strings_sort_differently_from_instants(tiny: Tiny) -> None:
    stamps = [r["updated_at"] for r in tiny.rows("crm.activities")]
    assert sorted(stamps) != sorted(stamps, key=parse_ts)


def test_generation_of_tiny_takes_under_two_seconds(tmp_path: Path) -> None:
    started = time.perf_counter()
    generate(tmp_path / "data", seed=1, end_date=TEST_END_DATE, scale="tiny")
    assert time.perf_counter() - started < 2.0


def test_generate_replaces_a_data_set_but_refuses_other_folders(tmp_path: Path) -> None:
    target = tmp_path / "data"
    generate(target, seed=1, end_date=TEST_END_DATE, scale="tiny")
    (target / "_delta").mkdir()
    generate(target, seed=2, end_date=TEST_END_DATE, scale="tiny")
    assert not (target / "_delta").exists()
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="refusing"):
        generate(tmp_path / "precious", seed=1, end_date=TEST_END_DATE, scale="tiny")
    with pytest.raises(ValueError, match="unknown scale"):
        generate(target, seed=1, end_date=TEST_END_DATE, scale="huge")


def test_scales_grow_from_tiny_to_large() -> None:
    assert [SCALES[s].clients for s in ("tiny", "small", "demo", "large")] == [40, 300, 2_000, 100_000]
    assert SCALES["tiny"].months >= 15 and SCALES["small"].months == 24 and SCALES["demo"].months == 30


def test_dataset_files_round_trip(tmp_path: Path) -> None:
    clients, lines = entity("crm", "clients"), entity("billing", "invoice_lines")
    record = {c: None for c in clients.columns} | {
        "id": "C1", "name": "Ünïcode, \"quoted\"", "segment": "b2b", "created_at": "2026-01-01T00:00:00Z",
        "status": "active", "is_vip": True, "wallet_estimate": "10.50", "updated_at": "2026-01-02T00:00:00+03:00",
    }  # fmt: skip
    assert write_entity(tmp_path, clients, [record]) == 1
    assert list(read_entity(tmp_path, clients)) == [record]
    line = {"id": 1, "invoice_id": 2, "product_id": 3, "quantity": "1.5", "unit_price": "2.00", "amount": "3.00",
            "cost_amount": "1.00", "updated_at": "2026-01-01T00:00:00Z"}  # fmt: skip
    write_entity(tmp_path, lines, [line])
    with EntityWriter(tmp_path, lines, append=True) as writer:
        writer.write(line | {"id": 2, "cost_amount": "1.25"})
    back = list(read_entity(tmp_path, lines))
    assert back[0] == {k: str(v) for k, v in line.items()} and back[1]["id"] == "2"
    with pytest.raises(KeyError, match="lacks required"):
        write_entity(tmp_path, clients, [{"id": "C2"}])


# -- realism ------------------------------------------------------------------------------------


def test_managers_join_and_leave_mid_month_and_one_is_soft_deleted(tiny: Tiny) -> None:
    managers = tiny.rows("crm.managers")
    assert {m["role"] for m in managers} == {"am", "kam", "lead"}
    leavers = [m for m in managers if m["terminated_at"]]
    assert leavers and all(5 <= instant(m["terminated_at"]).astimezone(UTC).day <= 25 for m in leavers)
    start = date(TEST_END_DATE.year - 1, TEST_END_DATE.month, 1)
    joiners = [m for m in managers if month_of(m["hired_at"]) > start]
    assert joiners and all(instant(m["hired_at"]).day > 1 for m in joiners)
    assert len([m for m in managers if m["deleted_at"]]) == 1


def test_owner_changes_start_at_creation_and_reassign_mid_month(tiny: Tiny) -> None:
    clients = tiny.by_id("crm.clients")
    managers = tiny.by_id("crm.managers")
    history: dict[str, list[dict]] = defaultdict(list)
    for change in tiny.rows("crm.owner_changes"):
        history[change["client_id"]].append(change)
    for client_id, changes in history.items():
        changes.sort(key=lambda c: (instant(c["changed_at"]), c["id"]))
        assert changes[0]["old_owner_id"] is None
        assert instant(changes[0]["changed_at"]) == instant(clients[client_id]["created_at"])
        assert clients[client_id]["owner_id"] == changes[-1]["new_owner_id"]
        for before, after in itertools.pairwise(changes):
            assert after["old_owner_id"] == before["new_owner_id"]
        for change in changes:
            manager = managers[change["new_owner_id"]]
            assert instant(manager["hired_at"]) <= instant(change["changed_at"])
    moves = [c for c in tiny.rows("crm.owner_changes") if c["old_owner_id"]]
    assert any(8 <= instant(c["changed_at"]).astimezone(UTC).day <= 22 for c in moves)
    leavers = {m["id"] for m in tiny.rows("crm.managers") if m["terminated_at"]}
    assert any(c["old_owner_id"] in leavers for c in moves)
    assert any(c["owner_id"] is None and c["id"] not in history for c in clients.values())


def test_billing_patterns_include_monthly_quarterly_and_irregular(tiny: Tiny) -> None:
    patterns = Counter()
    for months in tiny.monthly_billing().values():
        billed = sorted(months)
        gaps = {b - a for a, b in itertools.pairwise(billed)}
        if gaps == {1}:
            patterns["monthly"] += 1
        elif gaps == {3}:
            patterns["quarterly"] += 1
        else:
            patterns["irregular"] += 1
    assert patterns["monthly"] and patterns["quarterly"] and patterns["irregular"]


def test_churn_reactivation_and_prospects(tiny: Tiny) -> None:
    billing = tiny.monthly_billing()
    clients = tiny.by_id("crm.clients")
    reactivated = [
        c for c, months in billing.items() if any(b - a > 3 for a, b in itertools.pairwise(sorted(months)))
    ]
    assert reactivated
    lost = [c for c in clients.values() if c["status"] == "lost"]
    assert lost and all(c["lost_reason"] for c in lost)
    last_month = month_number(date(TEST_END_DATE.year, TEST_END_DATE.month, 1))
    assert all(max(billing[c["id"]]) <= last_month - 3 for c in lost)
    prospects = [c for c in clients.values() if c["status"] == "prospect"]
    assert prospects and not any(c["id"] in billing for c in prospects)
    assert all(c["lost_reason"] is None for c in clients.values() if c["status"] != "lost")


def test_clients_have_segments_vips_and_missing_wallet_estimates(tiny: Tiny) -> None:
    clients = tiny.rows("crm.clients")
    assert {c["segment"] for c in clients} == {"b2b", "b2c"}
    assert any(c["is_vip"] for c in clients) and not all(c["is_vip"] for c in clients)
    assert any(c["wallet_estimate"] is None for c in clients)
    assert len({c["industry"] for c in clients}) > 3 and len({c["country"] for c in clients}) > 1
    deleted = [c for c in clients if c["deleted_at"]]
    assert deleted and any(c["id"] in tiny.monthly_billing() for c in deleted)


def test_currencies_and_a_daily_fx_rate_for_every_day(tiny: Tiny) -> None:
    currencies = {i["currency"] for i in tiny.rows("billing.invoices")}
    assert currencies == {"RUB", "USD", "EUR", "KZT"}
    rates: dict[str, set[str]] = defaultdict(set)
    for rate in tiny.rows("billing.fx_rates"):
        rates[rate["currency"]].add(rate["rate_date"])
        assert Decimal("0.1") < Decimal(rate["rate_to_base"]) < Decimal("200")
    first = min(month_of(i["issued_at"]) for i in tiny.rows("billing.invoices") if i["issued_at"])
    days = {(first + timedelta(days=k)).isoformat() for k in range((TEST_END_DATE - first).days + 1)}
    assert set(rates) == {"USD", "EUR", "KZT"}
    assert all(days <= dates for dates in rates.values())


def test_invoice_statuses_payments_and_credit_notes(tiny: Tiny) -> None:
    invoices = tiny.by_id("billing.invoices")
    statuses = Counter(i["status"] for i in invoices.values())
    assert statuses["paid"] and statuses["issued"] and statuses["void"] and statuses["draft"]
    assert any(i["status"] == "draft" and i["issued_at"] is None for i in invoices.values())
    assert all(i["issued_at"] for i in invoices.values() if i["status"] != "draft")
    totals = tiny.invoice_totals()
    paid: dict[str, Decimal] = defaultdict(Decimal)
    for payment in tiny.rows("billing.payments"):
        invoice = invoices[payment["invoice_id"]]
        assert invoice["status"] in ("paid", "issued") and payment["currency"] == invoice["currency"]
        assert instant(payment["paid_at"]) >= instant(invoice["issued_at"])
        paid[payment["invoice_id"]] += Decimal(payment["amount"])
    assert all(paid[i] == totals[i] for i, inv in invoices.items() if inv["status"] == "paid")
    notes = tiny.rows("billing.credit_notes")
    assert notes
    for note in notes:
        invoice = invoices[note["invoice_id"]]
        assert invoice["status"] in ("issued", "paid")
        assert month_of(note["issued_at"]) > month_of(invoice["issued_at"])
        assert Decimal("0") < Decimal(note["amount"]) <= totals[note["invoice_id"]]
    lines_per_invoice = Counter(line["invoice_id"] for line in tiny.rows("billing.invoice_lines"))
    assert min(lines_per_invoice.values()) == 1 and max(lines_per_invoice.values()) > 3


def test_products_lines_and_loss_making_vips(tiny: Tiny) -> None:
    products = tiny.by_id("billing.products")
    assert len({p["product_line"] for p in products.values()}) >= 4
    invoices = tiny.by_id("billing.invoices")
    vips = {c["id"] for c in tiny.rows("crm.clients") if c["is_vip"]}
    margin: dict[str, Decimal] = defaultdict(Decimal)
    for line in tiny.rows("billing.invoice_lines"):
        assert line["product_id"] in products
        margin[invoices[line["invoice_id"]]["client_id"]] += Decimal(line["amount"]) - Decimal(
            line["cost_amount"]
        )
    assert any(margin[c] < 0 for c in vips)
    assert sum(m < 0 for m in margin.values()) <= len(vips)


def test_contacts_activities_deals_requests_and_surveys(tiny: Tiny) -> None:
    contacts = tiny.by_id("crm.contacts")
    assert set(c["buying_role"] for c in contacts.values()) == {
        "decision_maker",
        "budget_holder",
        "influencer",
        "user",
    }
    assert any(c["deleted_at"] for c in contacts.values())
    activities = tiny.rows("crm.activities")
    assert {a["type"] for a in activities} == {"meeting_in_person", "meeting_online", "call", "email"}
    assert any(a["contact_id"] is None for a in activities) and any(a["contact_id"] for a in activities)
    assert all(
        a["contact_id"] is None or contacts[a["contact_id"]]["client_id"] == a["client_id"]
        for a in activities
    )
    owners = {c["id"]: c["owner_id"] for c in tiny.rows("crm.clients")}
    assert any(a["manager_id"] != owners[a["client_id"]] for a in activities)
    assert all(a["duration_min"] > 0 for a in activities)
    deals = tiny.rows("crm.deals")
    assert {d["kind"] for d in deals} == {"new_business", "upsell", "cross_sell", "renewal"}
    assert {d["stage"] for d in deals} == {"open", "proposal_sent", "won", "lost"}
    assert len({d["currency"] for d in deals}) > 1
    for deal in deals:
        assert (deal["closed_at"] is not None) == (deal["stage"] in ("won", "lost"))
        assert (deal["lost_reason"] is not None) == (deal["stage"] == "lost")
        if deal["stage"] == "proposal_sent":
            assert deal["proposal_sent_at"]
    requests = tiny.rows("crm.requests")
    assert {r["priority"] for r in requests} == {"high", "normal"}
    unanswered = [r for r in requests if r["first_response_at"] is None]
    assert any(instant(r["created_at"]) + timedelta(hours=24) < END for r in unanswered)
    hours = {
        r["id"]: (instant(r["first_response_at"]) - instant(r["created_at"])).total_seconds() / 3600
        for r in requests
        if r["first_response_at"]
    }
    sla = {r["id"]: 4 if r["priority"] == "high" else 24 for r in requests}
    assert min(hours.values()) >= 0
    assert any(h > sla[i] for i, h in hours.items()) and any(h <= sla[i] for i, h in hours.items())
    surveys = tiny.rows("crm.surveys")
    assert {s["kind"] for s in surveys} == {"nps", "csi"}
    assert all(0 <= s["score"] <= 10 if s["kind"] == "nps" else 1 <= s["score"] <= 5 for s in surveys)
    assert any(s["score"] >= 9 for s in surveys if s["kind"] == "nps")
    assert any(s["score"] <= 6 for s in surveys if s["kind"] == "nps")


def test_activities_and_owners_are_employed_managers(tiny: Tiny) -> None:
    managers = tiny.by_id("crm.managers")
    for activity in tiny.rows("crm.activities"):
        manager = managers[activity["manager_id"]]
        occurred = instant(activity["occurred_at"])
        assert instant(manager["hired_at"]) <= occurred
        assert manager["terminated_at"] is None or occurred <= instant(manager["terminated_at"])


def test_finance_inputs(tiny: Tiny) -> None:
    managers = tiny.by_id("crm.managers")
    compensation = tiny.rows("finance.compensation")
    per_manager = Counter(c["manager_id"] for c in compensation)
    assert set(per_manager) == set(managers) and max(per_manager.values()) == 2
    assert Counter(c["currency"] for c in compensation).most_common(1)[0][0] == "RUB"
    assert len({c["currency"] for c in compensation}) == 2
    raised = [m for m, n in per_manager.items() if n == 2]
    for manager_id in raised:
        first, second = sorted(
            (c for c in compensation if c["manager_id"] == manager_id), key=lambda c: c["effective_from"]
        )
        assert Decimal(second["annual_base_salary"]) > Decimal(first["annual_base_salary"])
    plans = tiny.rows("finance.plan_assignments")
    assert all(p["plan_id"] == "standard" for p in plans)
    assert {p["manager_id"]: p["effective_from"] for p in plans} == {
        m["id"]: instant(m["hired_at"]).astimezone(UTC).date().isoformat() for m in managers.values()
    }
    targets = tiny.rows("finance.revenue_targets")
    months_by_manager: dict[str, list[int]] = defaultdict(list)
    for target in targets:
        months_by_manager[target["manager_id"]].append(month_number(date.fromisoformat(target["month"])))
        assert Decimal(target["revenue_target"]) > 0
    gaps = [m for m, months in months_by_manager.items() if max(months) - min(months) + 1 > len(months)]
    assert gaps
    closes = sorted(date.fromisoformat(c["month"]) for c in tiny.rows("finance.month_closes"))
    open_months = month_number(date(TEST_END_DATE.year, TEST_END_DATE.month, 1)) - month_number(closes[-1])
    assert 1 <= open_months <= 2
    assert [month_number(m) for m in closes] == list(
        range(month_number(closes[0]), month_number(closes[-1]) + 1)
    )


@pytest.mark.parametrize("end_date", [date(2026, 3, 2), date(2025, 12, 14), date(2024, 2, 29)])
def test_any_end_date_gives_a_consistent_data_set(tmp_path: Path, end_date: date) -> None:
    folder = tmp_path / "data"
    generate(folder, seed=3, end_date=end_date, scale="tiny")
    end = datetime(end_date.year, end_date.month, end_date.day, tzinfo=UTC) + timedelta(days=1)
    for e in CRM_ENTITIES + BILLING_TABLES:
        assert all(instant(r["updated_at"]) < end for r in read_entity(folder, e)), e.name
    closes = [c["month"] for c in read_entity(folder, entity("finance", "month_closes"))]
    assert date(end_date.year, end_date.month, 1).isoformat() not in closes
