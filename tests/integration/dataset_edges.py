"""Edits a generated data set so that it holds the edges of metrics.md the generator never writes.

The generator assigns every client an owner before its first invoice, creates it before it buys,
credits notes after their invoice, delivers every billed client in the CRM and keeps managers and
contacts alive. Each edit below is legal
under sources.md and is an edge that "Readings that settle the edges" of metrics.md decides. The
clients are picked by what the data holds (the ones with the most invoices), so the edits work on
any seed.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from simulator.dataset import epoch_of, format_ts, latest_updated_at, parse_ts, read_entity, write_entity
from warehouse.contract import entity

DAY = 86_400


def read(folder: Path, source: str, name: str) -> list[dict]:
    return list(read_entity(folder, entity(source, name)))


def write(folder: Path, source: str, name: str, rows: list[dict]) -> None:
    write_entity(folder, entity(source, name), rows)


def add_edge_cases(folder: Path) -> dict[str, str]:
    """Apply every edit to `folder` in place; returns which client (or manager) got which edge."""
    newest = int(latest_updated_at(folder).timestamp())
    invoices = read(folder, "billing", "invoices")
    credit_notes = read(folder, "billing", "credit_notes")
    in_scope = [i for i in invoices if i["status"] in ("issued", "paid")]
    busiest = [client for client, _ in Counter(i["client_id"] for i in in_scope).most_common()]
    owner_changes = read(folder, "crm", "owner_changes")
    changes_per_client = Counter(oc["client_id"] for oc in owner_changes)
    single_owner = [c for c in busiest if changes_per_client[c] == 1]
    several_owners = [c for c in busiest if changes_per_client[c] >= 2]
    first_invoice = {}
    for invoice in sorted(in_scope, key=lambda i: parse_ts(i["issued_at"])):
        first_invoice.setdefault(invoice["client_id"], invoice)
    rates_from = parse_ts(min(r["rate_date"] for r in read(folder, "billing", "fx_rates")) + "T00:00:00Z")
    # a credit note a month before the first invoice still needs a rate on or before its date
    bought_later = [
        c for c in single_owner if parse_ts(first_invoice[c]["issued_at"]) > rates_from + 60 * DAY
    ]
    picked = {
        "unowned": single_owner[0],
        "owner_after_first_invoice": single_owner[1],
        "created_after_first_invoice": single_owner[2],
        "credit_before_first_invoice": next(c for c in bought_later if c not in single_owner[:5]),
        "zero_wallet": single_owner[4],
        "owner_changes_at_one_instant": several_owners[0],
    }

    # A client nobody ever owned: its revenue is unassigned, it has no manager scope.
    owner_changes = [oc for oc in owner_changes if oc["client_id"] != picked["unowned"]]
    # The first owner arrives four months after the first invoice: revenue before it is unassigned.
    late = picked["owner_after_first_invoice"]
    for oc in owner_changes:
        if oc["client_id"] == late:
            oc["changed_at"] = format_ts(parse_ts(first_invoice[late]["issued_at"]) + 120 * DAY)
    # Two changes at one instant: the greater id is the later one and wins.
    tied = picked["owner_changes_at_one_instant"]
    last_change = max(
        (oc for oc in owner_changes if oc["client_id"] == tied), key=lambda oc: parse_ts(oc["changed_at"])
    )
    managers = read(folder, "crm", "managers")
    other = next(m["id"] for m in managers if m["id"] != last_change["new_owner_id"])
    owner_changes.append(
        {**last_change, "id": "OC9999999", "old_owner_id": last_change["new_owner_id"], "new_owner_id": other}
    )
    write(folder, "crm", "owner_changes", owner_changes)

    clients = read(folder, "crm", "clients")
    for client in clients:
        if client["id"] == picked["unowned"]:
            client["owner_id"] = None
        if client["id"] == picked["zero_wallet"]:
            client["wallet_estimate"] = "0.00"
        if client["id"] == picked["created_after_first_invoice"]:
            created = parse_ts(first_invoice[client["id"]]["issued_at"]) + 95 * DAY
            client["created_at"] = format_ts(created)
            client["updated_at"] = format_ts(max(parse_ts(client["updated_at"]), created))
    write(folder, "crm", "clients", clients)

    # A credit note dated a month before the invoice it reduces and larger than the first month:
    # N < 0 before F(c), outside the movements, and a client not active in its first month (its
    # window holds the negative month). And one far larger than a month of the busiest client.
    early = first_invoice[picked["credit_before_first_invoice"]]
    next_id = max(int(n["id"]) for n in credit_notes) + 1
    credit_notes.append(
        {
            "id": str(next_id),
            "invoice_id": early["id"],
            "issued_at": format_ts(parse_ts(early["issued_at"]) - 31 * DAY),
            "amount": "999999.99",
            "reason": "price_adjustment",
            "updated_at": early["updated_at"],
        }
    )
    busiest_last = max(
        (i for i in in_scope if i["client_id"] == busiest[0]), key=lambda i: parse_ts(i["issued_at"])
    )
    credit_notes.append(
        {
            "id": str(next_id + 1),
            "invoice_id": busiest_last["id"],
            "issued_at": format_ts(newest - 45 * DAY),
            "amount": "9999999.99",
            "reason": "returned_goods",
            "updated_at": format_ts(newest - 45 * DAY),
        }
    )
    # A small credit note in the month right before F(c): revenue_change at F(c) is N(c, F), the
    # month before is outside the movements. The first invoice is mid-month, so the two months
    # are the same in any reporting_tz.
    just_before = next(
        c
        for c in bought_later
        if c not in single_owner[:5]
        and c != picked["credit_before_first_invoice"]
        and 2 <= datetime.fromtimestamp(parse_ts(first_invoice[c]["issued_at"]), UTC).day <= 27
    )
    first_day = datetime.fromtimestamp(parse_ts(first_invoice[just_before]["issued_at"]), UTC).date()
    month_before = (first_day.replace(day=1) - timedelta(days=1)).replace(day=15)
    credit_notes.append(
        {
            "id": str(next_id + 2),
            "invoice_id": first_invoice[just_before]["id"],
            "issued_at": format_ts(epoch_of(month_before) + DAY // 2),
            "amount": "1.00",
            "reason": "price_adjustment",
            "updated_at": first_invoice[just_before]["updated_at"],
        }
    )
    picked["credit_month_before_first_invoice"] = just_before
    write(folder, "billing", "credit_notes", credit_notes)
    picked["negative_month"] = busiest[0]

    # A draft in a currency without any rate: only in-scope amounts need one.
    invoices.append(
        {
            **busiest_last,
            "id": str(max(int(i["id"]) for i in invoices) + 1),
            "number": "INV-DRAFT-GBP",
            "currency": "GBP",
            "status": "draft",
        }
    )
    write(folder, "billing", "invoices", invoices)

    # A soft-deleted manager keeps its rows; a soft-deleted contact leaves its activities with no
    # buying role; an inactive decision maker keeps its role.
    owner_counts = Counter(c["owner_id"] for c in clients if c["owner_id"])
    gone_manager = owner_counts.most_common()[-1][0]
    for manager in managers:
        if manager["id"] == gone_manager:
            manager["deleted_at"] = format_ts(newest - 20 * DAY)
            manager["updated_at"] = manager["deleted_at"]
    write(folder, "crm", "managers", managers)
    picked["soft_deleted_manager"] = gone_manager
    contacts = read(folder, "crm", "contacts")
    deciders = [c for c in contacts if c["buying_role"] == "decision_maker" and c["deleted_at"] is None]
    deciders[0]["deleted_at"] = format_ts(newest - 10 * DAY)
    deciders[0]["updated_at"] = deciders[0]["deleted_at"]
    deciders[1]["is_active"] = False
    write(folder, "crm", "contacts", contacts)
    picked["soft_deleted_contact"] = deciders[0]["id"]
    picked["inactive_decision_maker"] = deciders[1]["id"]

    # Unanswered requests: one old enough to breach, one created two hours before the end of the
    # data, which counts on neither side yet.
    requests = read(folder, "crm", "requests")
    template = requests[-1]
    for suffix, created in (("1", newest - 40 * DAY), ("2", newest - 2 * 3600)):
        requests.append(
            {
                **template,
                "id": f"R999999{suffix}",
                "priority": "high",
                "created_at": format_ts(created),
                "first_response_at": None,
                "resolved_at": None,
                "updated_at": format_ts(created),
            }
        )
    write(folder, "crm", "requests", requests)

    # A client billed before the CRM delivered it: its rows stay (only a soft deletion removes
    # them), with no attributes, credited by its owner changes, in no portfolio.
    unknown = next(c for c in single_owner[6:] if c not in picked.values())
    write(folder, "crm", "clients", [c for c in read(folder, "crm", "clients") if c["id"] != unknown])
    picked["unknown_to_crm"] = unknown
    return picked
