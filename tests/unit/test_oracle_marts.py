"""Hand-worked cases for the plain-Python marts oracle (`tests/oracle/marts.py`)."""

from __future__ import annotations

import csv
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from tests.oracle.marts import MissingFxRate, compute_marts

D = Decimal
T0 = "2024-01-01T00:00:00Z"
CSV_COLUMNS = {
    "invoices": ["id", "client_id", "number", "issued_at", "due_at", "currency", "status", "updated_at"],
    "invoice_lines": [
        "id",
        "invoice_id",
        "product_id",
        "quantity",
        "unit_price",
        "amount",
        "cost_amount",
        "updated_at",
    ],
    "credit_notes": ["id", "invoice_id", "issued_at", "amount", "reason", "updated_at"],
    "fx_rates": ["currency", "rate_date", "rate_to_base", "updated_at"],
}


def write_folder(root: Path, **tables: list[dict]) -> Path:
    """CRM entities as `crm/<name>.jsonl`, billing tables as `billing/<name>.csv`."""
    (root / "crm").mkdir(parents=True)
    (root / "billing").mkdir()
    for name, rows in tables.items():
        if name in CSV_COLUMNS:
            with (root / "billing" / f"{name}.csv").open("w", newline="") as handle:
                writer = csv.DictWriter(handle, CSV_COLUMNS[name])
                writer.writeheader()
                for row in rows:
                    writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in CSV_COLUMNS[name]})
        else:
            (root / "crm" / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def manager(mid: str, role: str = "am", hired: str = T0, **extra) -> dict:
    return {
        "id": mid,
        "role": role,
        "hired_at": hired,
        "terminated_at": None,
        "updated_at": hired,
        "deleted_at": None,
        **extra,
    }


def client(cid: str, owner: str | None, created: str = T0, **extra) -> dict:
    return {
        "id": cid,
        "segment": "b2b",
        "created_at": created,
        "owner_id": owner,
        "is_vip": False,
        "wallet_estimate": None,
        "updated_at": created,
        "deleted_at": None,
        **extra,
    }


def owner_change(oid: str, cid: str, old: str | None, new: str, at: str) -> dict:
    return {
        "id": oid,
        "client_id": cid,
        "old_owner_id": old,
        "new_owner_id": new,
        "changed_at": at,
        "updated_at": at,
    }


def invoice(iid: int, cid: str, issued: str, currency: str = "RUB", status: str = "paid") -> dict:
    return {
        "id": iid,
        "client_id": cid,
        "issued_at": issued,
        "currency": currency,
        "status": status,
        "updated_at": issued,
    }


def line(lid: int, iid: int, amount: str, cost: str = "0") -> dict:
    return {"id": lid, "invoice_id": iid, "amount": amount, "cost_amount": cost, "updated_at": T0}


def credit_note(nid: int, iid: int, issued: str, amount: str) -> dict:
    return {"id": nid, "invoice_id": iid, "issued_at": issued, "amount": amount, "updated_at": T0}


def activity(
    aid: str, cid: str, mid: str, kind: str, at: str, minutes: int, contact: str | None = None
) -> dict:
    return {
        "id": aid,
        "client_id": cid,
        "manager_id": mid,
        "contact_id": contact,
        "type": kind,
        "occurred_at": at,
        "duration_min": minutes,
        "updated_at": at,
        "deleted_at": None,
    }


def survey(sid: str, cid: str, kind: str, score: int, at: str) -> dict:
    return {
        "id": sid,
        "client_id": cid,
        "contact_id": None,
        "kind": kind,
        "score": score,
        "responded_at": at,
        "updated_at": at,
    }


def request(rid: str, cid: str, priority: str, created: str, responded: str | None, mid: str = "M1") -> dict:
    return {
        "id": rid,
        "client_id": cid,
        "manager_id": mid,
        "priority": priority,
        "created_at": created,
        "first_response_at": responded,
        "updated_at": created,
    }


def billed(cid: str, months: dict[str, str], first_id: int) -> tuple[list[dict], list[dict]]:
    """One invoice with one line (no cost) on the 10th of each given month (`YYYY-MM`: amount)."""
    invoices, lines = [], []
    for offset, (month, amount) in enumerate(months.items()):
        invoices.append(invoice(first_id + offset, cid, f"{month}-10T10:00:00Z"))
        lines.append(line(first_id + offset, first_id + offset, amount))
    return invoices, lines


def month_range(first: date, last: date) -> list[date]:
    months, current = [], first
    while current <= last:
        months.append(current)
        current = date(current.year + current.month // 12, current.month % 12 + 1, 1)
    return months


def rows_by(rows: list[dict], *keys: str) -> dict:
    return {tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]: r for r in rows}


def test_owner_change_mid_month_splits_invoices_and_credit_notes_follow_the_original_credit(tmp_path: Path):
    folder = write_folder(
        tmp_path,
        managers=[manager("M1"), manager("M2")],
        clients=[client("C1", "M2")],
        owner_changes=[
            owner_change("OC1", "C1", None, "M1", "2024-06-01T00:00:00Z"),
            owner_change("OC2", "C1", "M1", "M2", "2025-01-15T12:00:00+03:00"),
        ],
        invoices=[
            invoice(1, "C1", "2025-01-10T10:00:00Z"),  # owner M1
            invoice(2, "C1", "2025-01-20T10:00:00Z", currency="USD", status="issued"),  # owner M2
            invoice(3, "C1", "2025-01-21T10:00:00Z", status="void"),  # out of scope
        ],
        invoice_lines=[line(1, 1, "1100.00", "500.00"), line(2, 2, "10.00", "5.00"), line(3, 3, "999.00")],
        credit_notes=[
            credit_note(1, 1, "2025-03-05T10:00:00Z", "100.00"),
            credit_note(2, 2, "2025-03-06T10:00:00Z", "2.00"),
        ],
        fx_rates=[
            {"currency": "USD", "rate_date": "2025-01-01", "rate_to_base": "90", "updated_at": T0},
            {"currency": "USD", "rate_date": "2025-03-01", "rate_to_base": "100", "updated_at": T0},
        ],
    )
    marts = compute_marts(folder, date(2025, 3, 1))
    cm = rows_by(marts["client_month"], "month")
    jan = cm[date(2025, 1, 1)]
    # 1100 + 10 USD * 90; cost 500 + 5 USD * 90
    assert (jan["net_revenue"], jan["cost"], jan["gross_margin"]) == (D("2000"), D("950"), D("1050"))
    assert jan["margin_pct"] == D("0.525")
    assert jan["owner_id"] == "M2" and jan["status"] == "new" and jan["movement_bucket"] == "new"
    # credit notes count in their own month, converted at their own date in the invoice's currency
    mar = cm[date(2025, 3, 1)]
    assert mar["net_revenue"] == D("-300")  # -100 RUB - 2 USD * 100
    assert mar["margin_pct"] == D("1")
    assert mar["t12_revenue"] == D("1700")

    mm = rows_by(marts["manager_month"], "manager_id", "month")
    assert mm[("M1", date(2025, 1, 1))]["credited_revenue"] == D("1100")
    assert mm[("M2", date(2025, 1, 1))]["credited_revenue"] == D("900")
    assert mm[("M1", date(2025, 1, 1))]["repeat_order_share"] == D("0")
    assert mm[("M2", date(2025, 1, 1))]["repeat_order_share"] == D("1")
    assert mm[("M2", date(2025, 1, 1))]["average_check"] == D("900")
    # the credit note on invoice 1 goes to M1, who no longer owns the client
    m1_mar, m2_mar = mm[("M1", date(2025, 3, 1))], mm[("M2", date(2025, 3, 1))]
    assert (m1_mar["credited_revenue"], m1_mar["r12_revenue"]) == (D("-100"), D("1000"))
    assert (m2_mar["credited_revenue"], m2_mar["r12_revenue"]) == (D("-200"), D("700"))
    assert (m1_mar["portfolio_clients"], m2_mar["portfolio_clients"], m2_mar["active_clients"]) == (0, 1, 1)
    assert m1_mar["credited_invoices"] == 0 and m1_mar["average_check"] is None

    # the manager scope follows the owner at month end: M2 brings the whole change, M1 has no scope
    moves = rows_by(marts["revenue_movements"], "month", "manager_id", "bucket")
    assert moves[(date(2025, 1, 1), "M2", "new")]["amount"] == D("2000")
    assert moves[(date(2025, 1, 1), None, "new")]["clients"] == 1
    assert not any(r["manager_id"] == "M1" for r in marts["revenue_movements"])
    assert len(marts["revenue_movements"]) == 3 * 2 * 6  # three months, company + M2, six buckets


def test_same_instant_owner_changes_are_ordered_by_id_in_byte_order(tmp_path: Path):
    at = "2025-01-15T09:00:00+03:00"
    folder = write_folder(
        tmp_path,
        managers=[manager("M1"), manager("M2"), manager("M3")],
        clients=[client("C1", "M2")],
        owner_changes=[owner_change("OC10", "C1", "M1", "M2", at), owner_change("OC9", "C1", "M1", "M3", at)],
        invoices=[invoice(1, "C1", "2025-01-10T10:00:00Z"), invoice(2, "C1", "2025-01-15T06:00:00Z")],
        invoice_lines=[line(1, 1, "100"), line(2, 2, "40")],
    )
    marts = compute_marts(folder, date(2025, 1, 1))
    (row,) = marts["client_month"]
    assert row["owner_id"] == "M3"  # "OC9" > "OC10" in byte order, so OC9 is the later change
    mm = rows_by(marts["manager_month"], "manager_id")
    # invoice 1 precedes the changes (old owner M1); invoice 2 is issued at the very instant: M3
    assert (mm["M1"]["credited_revenue"], mm["M2"]["credited_revenue"], mm["M3"]["credited_revenue"]) == (
        D("100"),
        D("0"),
        D("40"),
    )


def test_quarterly_billing_is_not_churn(tmp_path: Path):
    invoices, lines = billed("C1", {"2025-01": "1000", "2025-04": "1000", "2025-07": "1000"}, 1)
    folder = write_folder(
        tmp_path,
        managers=[manager("M1")],
        clients=[client("C1", "M1")],
        invoices=invoices,
        invoice_lines=lines,
    )
    marts = compute_marts(folder, date(2025, 11, 1))
    cm = {r["month"].month: r for r in marts["client_month"]}
    assert sorted(cm) == list(range(1, 12))
    assert [cm[m]["status"] for m in range(1, 12)] == ["new"] + ["retained"] * 8 + ["churned", "inactive"]
    assert [cm[m]["movement_bucket"] for m in (1, 2, 3, 4, 10, 11)] == [
        "new",
        "contraction",
        None,
        "expansion",
        "churned",
        "inactive",
    ]
    assert cm[2]["revenue_change"] == D("-1000") and cm[4]["revenue_change"] == D("1000")
    assert [cm[m]["lifetime_months"] for m in (1, 9, 10, 11)] == [1, 9, 9, 9]
    assert cm[9]["t12_revenue"] == D("3000") and cm[9]["abc_class"] == "A" and cm[10]["abc_class"] is None

    mm = rows_by(marts["manager_month"], "month")
    oct_, sep = mm[date(2025, 10, 1)], mm[date(2025, 9, 1)]
    assert (sep["churned_clients"], sep["logo_churn_rate"], sep["logo_retention_rate"]) == (0, D("0"), D("1"))
    assert (oct_["churned_clients"], oct_["logo_churn_rate"], oct_["logo_retention_rate"]) == (
        1,
        D("1"),
        D("0"),
    )
    assert sep["portfolio_tenure_months"] == D("9") and oct_["portfolio_tenure_months"] is None
    assert oct_["nrr"] is None and oct_["meets_growth_bar"] is False

    moves = rows_by(marts["revenue_movements"], "month", "scope", "bucket")
    assert moves[(date(2025, 10, 1), "company", "churned")] == {
        "month": date(2025, 10, 1),
        "scope": "company",
        "manager_id": None,
        "bucket": "churned",
        "amount": D("0"),
        "clients": 1,
    }
    cohort = rows_by(marts["cohort_retention"], "months_since")
    assert sorted(cohort) == list(range(11))
    assert [cohort[k]["active_clients"] for k in range(11)] == [1] * 9 + [0, 0]
    assert cohort[3]["net_revenue"] == D("1000") and cohort[9]["retention_rate"] == D("0")


def test_abc_ties_break_by_client_id_in_byte_order(tmp_path: Path):
    amounts = {"C1": "1400", "C10": "200", "C9": "200", "C2": "100", "C3": "100"}
    invoices, lines = [], []
    for n, (cid, amount) in enumerate(amounts.items(), start=1):
        invoices.append(invoice(n, cid, "2025-01-10T10:00:00Z"))
        lines.append(line(n, n, amount))
    clients = [client(cid, "M1") for cid in amounts]
    clients[0]["wallet_estimate"] = "2800.00"
    # a later version deletes C4: its invoice and everything else about it disappear
    clients += [client("C4", "M1"), client("C4", "M1", updated_at="2025-02-01T00:00:00Z", deleted_at=T0)]
    invoices.append(invoice(99, "C4", "2025-01-10T10:00:00Z"))
    lines.append(line(99, 99, "100000"))
    folder = write_folder(
        tmp_path, managers=[manager("M1")], clients=clients, invoices=invoices, invoice_lines=lines
    )
    marts = compute_marts(folder, date(2025, 1, 1))
    cm = rows_by(marts["client_month"], "client_id")
    # shares before: C1 0, C10 0.70, C9 0.80, C2 0.90, C3 0.95 of 2000
    assert {c: r["abc_class"] for c, r in cm.items()} == {
        "C1": "A",
        "C10": "A",
        "C9": "B",
        "C2": "B",
        "C3": "C",
    }
    assert cm["C1"]["wallet_share"] == D("0.5") and cm["C1"]["wallet_band"] == "high"
    assert cm["C2"]["wallet_share"] is None and cm["C2"]["wallet_band"] is None
    (mm,) = marts["manager_month"][-1:]
    assert (mm["portfolio_clients"], mm["active_clients"], mm["key_clients"]) == (5, 5, 2)
    assert mm["pareto_share"] == D("0.4")
    assert mm["credited_revenue"] == D("2000")


def test_abc_with_a_total_of_zero_or_below_follows_the_quotient(tmp_path: Path):
    # Each client buys 1000 in Jan 2024 and gets a credit note of 1000 in Mar 2025 (when T12 no
    # longer holds that invoice), then buys again in June 2025: active in June (Apr..Jun is the
    # June invoice), with T12(June) = June's amount - 1000.
    def june_classes(june_amounts: dict[str, str]) -> dict[str, str]:
        folder = tmp_path / "-".join(june_amounts.values())
        invoices, lines, credit_notes = [], [], []
        for n, (cid, amount) in enumerate(june_amounts.items(), start=1):
            invoices += [
                invoice(n, cid, "2024-01-10T10:00:00Z"),
                invoice(100 + n, cid, "2025-06-10T10:00:00Z"),
            ]
            lines += [line(n, n, "1000"), line(100 + n, 100 + n, amount)]
            credit_notes.append(credit_note(n, n, "2025-03-10T10:00:00Z", "1000"))
        folder.mkdir()
        write_folder(
            folder,
            managers=[manager("M1")],
            clients=[client(cid, "M1") for cid in june_amounts],
            invoices=invoices,
            invoice_lines=lines,
            credit_notes=credit_notes,
        )
        marts = compute_marts(folder, date(2025, 6, 1))
        june = [r for r in marts["client_month"] if r["month"] == date(2025, 6, 1)]
        assert {r["client_id"]: r["t12_revenue"] for r in june} == {
            cid: D(amount) - 1000 for cid, amount in june_amounts.items()
        }
        return {r["client_id"]: r["abc_class"] for r in june}

    # five clients at -10 (total -50), ranked by id: shares before 0, 0.2, 0.4, 0.6 and 0.8
    assert june_classes({f"C{n}": "990" for n in range(1, 6)}) == {
        "C1": "A",
        "C2": "A",
        "C3": "A",
        "C4": "A",
        "C5": "B",
    }
    # -900 and 900: a total of 0 defines no share, so no client is below a bound
    assert june_classes({"C1": "100", "C2": "1900"}) == {"C1": "C", "C2": "C"}


def test_health_score_without_prior_revenue_and_with_a_trend(tmp_path: Path):
    invoices, lines = billed("C1", {"2025-03": "1000"}, 1)
    more_invoices, more_lines = billed("C2", {"2025-01": "1000", "2025-04": "750"}, 10)
    folder = write_folder(
        tmp_path,
        managers=[manager("M1", role="kam")],
        clients=[client("C1", "M1"), client("C2", "M1")],
        invoices=invoices + more_invoices,
        invoice_lines=lines + more_lines,
        activities=[
            activity("A1", "C1", "M1", "call", "2025-02-11T12:00:00Z", 30),  # 48 days before 2025-03-31
            activity("A2", "C2", "M1", "email", "2025-05-01T01:00:00+03:00", 10),  # 2025-04-30 22:00 UTC
        ],
        surveys=[
            survey("S1", "C2", "nps", 10, "2024-04-02T10:00:00Z"),  # outside the 12 months
            survey("S2", "C2", "nps", 8, "2025-04-02T10:00:00Z"),
        ],
        requests=[
            request("R1", "C2", "high", "2025-03-01T10:00:00Z", "2025-03-01T15:00:00Z"),  # 5 h: breach
            request("R2", "C2", "normal", "2025-04-01T10:00:00Z", "2025-04-01T12:00:00Z"),  # 2 h: met
            request("R3", "C2", "normal", "2025-01-30T23:00:00Z", None),  # before the 90 days
        ],
    )
    marts = compute_marts(folder, date(2025, 4, 1))
    cm = rows_by(marts["client_month"], "client_id", "month")
    c1 = cm[("C1", date(2025, 3, 1))]
    # trend 100 (no prior revenue), engagement (120 - 48) / 90 = 80, sentiment 50 (none), service 100 (none)
    assert (c1["health_revenue_trend"], c1["health_engagement"]) == (D("100"), D("80"))
    assert (c1["health_sentiment"], c1["health_service"]) == (D("50"), D("100"))
    assert c1["health_score"] == D("85") and c1["health_band"] == "green"  # 35 + 20 + 10 + 20
    # cost to serve: 30 min at the kam rate 1800 = 900
    assert c1["cost_to_serve_12m"] == D("900") and c1["contribution_margin_12m"] == D("100")

    c2 = cm[("C2", date(2025, 4, 1))]
    # trend: 750 over Feb-Apr against 1000 over Nov-Jan, ratio 0.75 -> 50
    assert (c2["health_revenue_trend"], c2["health_engagement"]) == (D("50"), D("100"))
    assert (c2["health_sentiment"], c2["health_service"]) == (D("60"), D("50"))
    assert c2["health_score"] == D("64.5") and c2["health_band"] == "yellow"  # 17.5 + 25 + 12 + 10
    # 10 min at 1800 / h = 300, plus three requests at 500
    assert c2["cost_to_serve_12m"] == D("1800")
    assert c2["contribution_margin_12m"] == D("-50") and c2["is_unprofitable"] is True
    assert c2["is_vip_unprofitable"] is False
    c2_jan = cm[("C2", date(2025, 1, 1))]
    assert c2_jan["health_engagement"] == D("0") and c2_jan["health_revenue_trend"] == D("100")


def test_response_hours_and_sla_relative_to_the_end_of_as_of_month(tmp_path: Path):
    folder = write_folder(
        tmp_path,
        managers=[manager("M1")],
        clients=[client("C1", "M1")],
        requests=[
            request("R1", "C1", "high", "2025-01-05T10:00:00Z", "2025-01-05T16:00:00+03:00"),  # 3 h, met
            request("R2", "C1", "normal", "2025-01-06T00:00:00+03:00", "2025-01-07T09:00:00+03:00"),  # 33 h
            request("R3", "C1", "normal", "2025-01-31T12:00:00Z", None),  # SLA ends after Feb 1: neither
            request("R4", "C1", "high", "2025-01-31T18:00:00Z", None),  # SLA ended 22:00: breach
            request("R5", "C1", "normal", "2025-01-10T00:00:00Z", "2025-01-11T00:00:00Z"),  # 24 h, met
        ],
    )
    marts = compute_marts(folder, date(2025, 1, 1))
    assert marts["client_month"] == []  # no revenue, no client rows
    (row,) = marts["manager_month"][-1:]
    assert row["month"] == date(2025, 1, 1) and row["requests"] == 5
    assert row["response_hours_median"] == D("24")
    assert row["response_hours_p90"] == D("31.2")  # 24 + 0.8 * (33 - 24)
    assert row["sla_attainment"] == D("0.5")


def test_manager_rows_follow_employment_and_quarters_include_the_open_one(tmp_path: Path):
    folder = write_folder(
        tmp_path,
        managers=[
            manager("M1", hired="2024-11-20T10:00:00+03:00"),
            manager("M2", hired="2024-12-31T23:00:00-03:00"),  # 2025-01-01 in UTC
            manager(
                "M3",
                terminated_at="2025-02-03T00:00:00Z",
                updated_at="2025-03-01T00:00:00Z",
                deleted_at="2025-03-01T00:00:00Z",
            ),
        ],
        clients=[client("C1", "M1")],
        surveys=[
            survey(f"S{n}", "C1", kind, score, f"2025-0{month}-05T10:00:00Z")
            for n, (kind, score, month) in enumerate(
                [("nps", 10, 1), ("nps", 9, 2), ("nps", 6, 4), ("nps", 7, 4), ("csi", 4, 4), ("csi", 5, 4)]
            )
        ],
    )
    marts = compute_marts(folder, date(2025, 4, 1))
    months = {(r["manager_id"], r["month"]) for r in marts["manager_month"]}
    assert {m for a, m in months if a == "M1"} == set(month_range(date(2024, 11, 1), date(2025, 4, 1)))
    assert {m for a, m in months if a == "M2"} == set(month_range(date(2025, 1, 1), date(2025, 4, 1)))
    # soft-deleted M3 keeps its rows, up to the month of its termination
    assert {m for a, m in months if a == "M3"} == set(month_range(date(2024, 1, 1), date(2025, 2, 1)))
    quarters = rows_by(marts["manager_quarter"], "manager_id", "quarter")
    assert set(q for a, q in quarters if a == "M1") == {date(2024, 10, 1), date(2025, 1, 1), date(2025, 4, 1)}
    q1, q2 = quarters[("M1", date(2025, 1, 1))], quarters[("M1", date(2025, 4, 1))]
    assert (q1["nps"], q1["nps_responses"], q1["csi"], q1["csi_responses"]) == (D("100"), 2, None, 0)
    assert (q2["nps"], q2["nps_responses"], q2["csi"], q2["csi_responses"]) == (D("-50"), 2, D("4.5"), 2)
    assert q1["in_person_coverage"] is None  # no active clients
    assert ("M3", date(2025, 1, 1)) in quarters and ("M3", date(2025, 4, 1)) not in quarters


def test_a_missing_fx_rate_raises(tmp_path: Path):
    folder = write_folder(
        tmp_path,
        managers=[manager("M1")],
        clients=[client("C1", "M1")],
        invoices=[invoice(1, "C1", "2025-01-10T10:00:00Z", currency="EUR")],
        invoice_lines=[line(1, 1, "10")],
        fx_rates=[{"currency": "EUR", "rate_date": "2025-01-11", "rate_to_base": "100", "updated_at": T0}],
    )
    with pytest.raises(MissingFxRate, match=r"EUR.*2025-01-10"):
        compute_marts(folder, date(2025, 1, 1))
