"""Edits a generated data set so that it holds the edges of metrics.md the generator never writes.

The generator assigns every client an owner before its first invoice, creates it before it buys,
credits notes after their invoice and keeps managers and contacts alive. Each edit below is legal
under sources.md and is an edge that "Readings that settle the edges" of metrics.md decides. The
clients are picked by what the data holds (the ones with the most invoices), so the edits work on
any seed.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(record, separators=(",", ":")) + "\n" for record in records))


def read_csv(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def write_csv(path: Path, header: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def latest_instant(folder: Path) -> datetime:
    """The newest `updated_at` of the folder: edits stay at or before it, so `as_of_month` holds."""
    newest = max(instant(r["updated_at"]) for r in read_jsonl(folder / "crm" / "clients.jsonl"))
    for table in ("invoices", "invoice_lines", "credit_notes"):
        _, rows = read_csv(folder / "billing" / f"{table}.csv")
        newest = max(newest, *(instant(r["updated_at"]) for r in rows))
    return newest


def add_edge_cases(folder: Path) -> dict[str, str]:
    """Apply every edit to `folder` in place; returns which client (or manager) got which edge."""
    crm, billing = folder / "crm", folder / "billing"
    newest = latest_instant(folder)
    inv_header, invoices = read_csv(billing / "invoices.csv")
    cn_header, credit_notes = read_csv(billing / "credit_notes.csv")
    in_scope = [i for i in invoices if i["status"] in ("issued", "paid")]
    busiest = [client for client, _ in Counter(i["client_id"] for i in in_scope).most_common()]
    owner_changes = read_jsonl(crm / "owner_changes.jsonl")
    changes_per_client = Counter(oc["client_id"] for oc in owner_changes)
    single_owner = [c for c in busiest if changes_per_client[c] == 1]
    several_owners = [c for c in busiest if changes_per_client[c] >= 2]
    first_invoice = {}
    for invoice in sorted(in_scope, key=lambda i: instant(i["issued_at"])):
        first_invoice.setdefault(invoice["client_id"], invoice)
    _, fx_rates = read_csv(billing / "fx_rates.csv")
    rates_from = datetime.fromisoformat(min(r["rate_date"] for r in fx_rates)).replace(tzinfo=UTC)
    # a credit note a month before the first invoice still needs a rate on or before its date
    bought_later = [
        c for c in single_owner if instant(first_invoice[c]["issued_at"]) > rates_from + timedelta(days=60)
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
            oc["changed_at"] = stamp(instant(first_invoice[late]["issued_at"]) + timedelta(days=120))
    # Two changes at one instant: the greater id is the later one and wins.
    tied = picked["owner_changes_at_one_instant"]
    last_change = max(
        (oc for oc in owner_changes if oc["client_id"] == tied), key=lambda oc: instant(oc["changed_at"])
    )
    managers = read_jsonl(crm / "managers.jsonl")
    other = next(m["id"] for m in managers if m["id"] != last_change["new_owner_id"])
    owner_changes.append(
        {**last_change, "id": "OC9999999", "old_owner_id": last_change["new_owner_id"], "new_owner_id": other}
    )
    write_jsonl(crm / "owner_changes.jsonl", owner_changes)

    clients = read_jsonl(crm / "clients.jsonl")
    for client in clients:
        if client["id"] == picked["unowned"]:
            client["owner_id"] = None
        if client["id"] == picked["zero_wallet"]:
            client["wallet_estimate"] = "0.00"
        if client["id"] == picked["created_after_first_invoice"]:
            first = instant(first_invoice[client["id"]]["issued_at"])
            client["created_at"] = stamp(first + timedelta(days=95))
            client["updated_at"] = stamp(max(instant(client["updated_at"]), first + timedelta(days=95)))
    write_jsonl(crm / "clients.jsonl", clients)

    # A credit note dated a month before the invoice it reduces and larger than the first month:
    # N < 0 before F(c), outside the movements, and a client not active in its first month (its
    # window holds the negative month). And one far larger than a month of the busiest client.
    early = first_invoice[picked["credit_before_first_invoice"]]
    next_id = max(int(n["id"]) for n in credit_notes) + 1
    credit_notes.append(
        {
            "id": str(next_id),
            "invoice_id": early["id"],
            "issued_at": stamp(instant(early["issued_at"]) - timedelta(days=31)),
            "amount": "999999.99",
            "reason": "price_adjustment",
            "updated_at": early["updated_at"],
        }
    )
    busiest_last = max(
        (i for i in in_scope if i["client_id"] == busiest[0]), key=lambda i: instant(i["issued_at"])
    )
    credit_notes.append(
        {
            "id": str(next_id + 1),
            "invoice_id": busiest_last["id"],
            "issued_at": stamp(newest - timedelta(days=45)),
            "amount": "9999999.99",
            "reason": "returned_goods",
            "updated_at": stamp(newest - timedelta(days=45)),
        }
    )
    write_csv(billing / "credit_notes.csv", cn_header, credit_notes)
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
    write_csv(billing / "invoices.csv", inv_header, invoices)

    # A soft-deleted manager keeps its rows; a soft-deleted contact leaves its activities with no
    # buying role; an inactive decision maker keeps its role.
    owner_counts = Counter(c["owner_id"] for c in clients if c["owner_id"])
    gone_manager = owner_counts.most_common()[-1][0]
    for manager in managers:
        if manager["id"] == gone_manager:
            manager["deleted_at"] = stamp(newest - timedelta(days=20))
            manager["updated_at"] = manager["deleted_at"]
    write_jsonl(crm / "managers.jsonl", managers)
    picked["soft_deleted_manager"] = gone_manager
    contacts = read_jsonl(crm / "contacts.jsonl")
    deciders = [c for c in contacts if c["buying_role"] == "decision_maker" and c["deleted_at"] is None]
    deciders[0]["deleted_at"] = stamp(newest - timedelta(days=10))
    deciders[0]["updated_at"] = deciders[0]["deleted_at"]
    deciders[1]["is_active"] = False
    write_jsonl(crm / "contacts.jsonl", contacts)
    picked["soft_deleted_contact"] = deciders[0]["id"]
    picked["inactive_decision_maker"] = deciders[1]["id"]

    # Unanswered requests: one old enough to breach, one created two hours before the end of the
    # data, which counts on neither side yet.
    requests = read_jsonl(crm / "requests.jsonl")
    template = requests[-1]
    for suffix, created in (("1", newest - timedelta(days=40)), ("2", newest - timedelta(hours=2))):
        requests.append(
            {
                **template,
                "id": f"R999999{suffix}",
                "priority": "high",
                "created_at": stamp(created),
                "first_response_at": None,
                "resolved_at": None,
                "updated_at": stamp(created),
            }
        )
    write_jsonl(crm / "requests.jsonl", requests)
    return picked
