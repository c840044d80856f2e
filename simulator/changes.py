"""One more day of source activity, applied in place to a dataset folder (sources.md §5).

`apply_day_of_changes` touches about 1% of the rows of each CRM and billing table: new
invoices with lines, invoices paid or voided, late credit notes, fx rates (one revised for a
past date), client edits and one soft delete, a backdated owner change, deal stages moved,
new activities, requests and surveys. One row per table commits "late": its `updated_at`
lies before the newest `updated_at` the table held (a few hours for billing, as a late
transaction would; a few minutes for the CRM), so that incremental readers need their
look-back window. The changed and new rows alone are also written to `_delta/<day>/` in
the same shape, for loaders that upsert.

The result depends only on the folder's content, the seed and the day. Files are streamed,
so the large data set is changed in bounded memory.
"""

from __future__ import annotations

import random
import re
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from simulator.dataset import (
    EntityWriter,
    entity_path,
    epoch_of,
    format_money,
    format_ts,
    format_units,
    parse_ts,
    parse_units,
    read_entity,
    utc_date,
    write_entity,
)
from simulator.generate import (
    ACTIVITY_MINUTES,
    ACTIVITY_TYPES,
    CREDIT_REASONS,
    CSI_WEIGHTS,
    DEAL_LOST_REASONS,
    NPS_WEIGHTS,
    REQUEST_CHANNELS,
    ROLE_POSITIONS,
    person_name,
    phone_number,
    priced_line,
    random_offset,
)
from warehouse.contract import BILLING_TABLES, CRM_ENTITIES, Entity

DAY = 86_400
HOUR = 3_600
MINUTE = 60
CHANGE_SHARE = 0.01
TABLES: dict[str, Entity] = {f"{e.source}.{e.name}": e for e in (*CRM_ENTITIES, *BILLING_TABLES)}
NUMBERED_ID = re.compile(r"^(\D*)(\d+)$")
Row = dict[str, Any]
Key = tuple[str, ...]


def row_key(entity: Entity, row: Row) -> Key:
    return tuple(str(row[name]) for name in entity.key)


def _target(count: int, share: float = CHANGE_SHARE) -> int:
    return max(1, round(count * share))


def _cents(text: str | None) -> int:
    return 0 if text is None else parse_units(text, 2)


@dataclass
class TableStats:
    """What a scan learned of a table: its size, newest `updated_at` and how its ids are numbered."""

    count: int = 0
    max_updated: int | None = None
    max_number: int = 0
    prefix: str = ""
    width: int = 0

    def observe(self, row: Row) -> None:
        self.count += 1
        updated = parse_ts(row["updated_at"])
        if self.max_updated is None or updated > self.max_updated:
            self.max_updated = updated
        ident = row.get("id")
        if ident is None:
            return
        match = NUMBERED_ID.match(str(ident))
        if match and int(match.group(2)) >= self.max_number:
            self.max_number = int(match.group(2))
            self.prefix, self.width = match.group(1), len(match.group(2)) if match.group(1) else 0

    def next_id(self, numeric: bool) -> int | str:
        self.max_number += 1
        return self.max_number if numeric else f"{self.prefix}{self.max_number:0{self.width}d}"


class Reservoir:
    """A uniform sample of fixed size from a stream, in one pass."""

    def __init__(self, rng: random.Random, size: int) -> None:
        self.rng = rng
        self.size = size
        self.items: list[Row] = []
        self.seen = 0

    def offer(self, item: Row) -> None:
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(item)
            return
        slot = self.rng.randrange(self.seen)
        if slot < self.size:
            self.items[slot] = item


def _count_records(path: Path, header: bool) -> int:
    with open(path, "rb") as file:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: file.read(1 << 20), b""))
    return max(0, lines - (1 if header else 0))


@dataclass
class Snapshot:
    """The folder as read once: table statistics, the rows needed whole, and samples of candidates."""

    folder: Path
    seed: int
    stats: dict[str, TableStats] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    managers: list[Row] = field(default_factory=list)
    clients: list[Row] = field(default_factory=list)
    products: list[Row] = field(default_factory=list)
    fx_rates: dict[Key, Row] = field(default_factory=dict)
    latest_change: dict[str, int] = field(default_factory=dict)
    contacts_of: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    samples: dict[str, list[Row]] = field(default_factory=dict)
    invoice_totals: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    invoice_lines: dict[str, list[Row]] = field(default_factory=lambda: defaultdict(list))
    paid_cents: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    credited_cents: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def latest_updated(self) -> int:
        return max(s.max_updated for s in self.stats.values() if s.max_updated is not None)

    def rows(self, name: str) -> Iterator[Row]:
        """Streams a table's rows, keeping its statistics up to date."""
        stats = self.stats[name] = TableStats()
        for row in read_entity(self.folder, TABLES[name]):
            stats.observe(row)
            yield row

    def reservoir(self, name: str, size: int) -> Reservoir:
        sample = Reservoir(random.Random(f"{self.seed}:sample:{name}"), size)
        self.samples[name] = sample.items
        return sample

    def scan(self) -> Snapshot:
        for name, e in TABLES.items():
            self.sizes[name] = _count_records(entity_path(self.folder, e), header=e.source != "crm")
        self._scan_crm()
        self._scan_billing()
        return self

    def _scan_crm(self) -> None:
        self.managers = list(self.rows("crm.managers"))
        self.clients = list(self.rows("crm.clients"))
        for change in self.rows("crm.owner_changes"):
            changed = parse_ts(change["changed_at"])
            if changed > self.latest_change.get(change["client_id"], -(2**62)):
                self.latest_change[change["client_id"]] = changed
        contacts = self.reservoir("contacts", 3 * _target(self.sizes["crm.contacts"]))
        for contact in self.rows("crm.contacts"):
            if contact["deleted_at"] is None:
                self.contacts_of[contact["client_id"]].append(contact["id"])
                contacts.offer(contact)
        activities = self.reservoir("activities", 3 * _target(self.sizes["crm.activities"], 0.001))
        for activity in self.rows("crm.activities"):
            if activity["deleted_at"] is None:
                activities.offer(activity)
        deals = self.reservoir("deals", 3 * _target(self.sizes["crm.deals"]))
        templates = self.reservoir("deal_templates", 3 * _target(self.sizes["crm.deals"]))
        for deal in self.rows("crm.deals"):
            if deal["deleted_at"] is None:
                templates.offer(deal)
                if deal["stage"] in ("open", "proposal_sent"):
                    deals.offer(deal)
        unanswered = self.reservoir("unanswered", 3 * _target(self.sizes["crm.requests"], 0.002))
        unresolved = self.reservoir("unresolved", 3 * _target(self.sizes["crm.requests"], 0.002))
        for request in self.rows("crm.requests"):
            if request["first_response_at"] is None:
                unanswered.offer(request)
            elif request["resolved_at"] is None:
                unresolved.offer(request)
        for _ in self.rows("crm.surveys"):
            pass

    def _scan_billing(self) -> None:
        self.products = list(self.rows("billing.products"))
        self.fx_rates = {row_key(TABLES["billing.fx_rates"], r): r for r in self.rows("billing.fx_rates")}
        deleted = {c["id"] for c in self.clients if c["deleted_at"] is not None}
        invoices = self.sizes["billing.invoices"]
        unpaid = self.reservoir("unpaid", 3 * _target(invoices) + 10)
        drafts = self.reservoir("drafts", 4)
        templates = self.reservoir("invoice_templates", 4 * _target(invoices))
        creditable = self.reservoir("creditable", 3 * _target(self.sizes["billing.credit_notes"]) + 10)
        for invoice in self.rows("billing.invoices"):
            if invoice["client_id"] in deleted:
                continue
            if invoice["status"] == "issued" and invoice["issued_at"] is not None:
                unpaid.offer(invoice)
            elif invoice["status"] == "draft":
                drafts.offer(invoice)
            if invoice["status"] in ("issued", "paid"):
                templates.offer(invoice)
                creditable.offer(invoice)
        wanted = {
            i["id"]
            for name in ("unpaid", "drafts", "invoice_templates", "creditable")
            for i in self.samples[name]
        }
        for payment in self.rows("billing.payments"):
            if payment["invoice_id"] in wanted:
                self.paid_cents[payment["invoice_id"]] += _cents(payment["amount"])
        for note in self.rows("billing.credit_notes"):
            if note["invoice_id"] in wanted:
                self.credited_cents[note["invoice_id"]] += _cents(note["amount"])
        copied = {i["id"] for i in self.samples["invoice_templates"]}
        for line in self.rows("billing.invoice_lines"):
            invoice_id = line["invoice_id"]
            if invoice_id in wanted:
                self.invoice_totals[invoice_id] += _cents(line["amount"])
                if invoice_id in copied:
                    self.invoice_lines[invoice_id].append(line)


class DayOfChanges:
    """Decides the day's changes from a snapshot; `changes` maps each table to its rows by key."""

    def __init__(self, rng: random.Random, snapshot: Snapshot, day: date) -> None:
        self.rng = rng
        self.snap = snapshot
        self.day = day
        self.day_start = epoch_of(day)
        self.changes: dict[str, dict[Key, Row]] = {name: {} for name in TABLES}
        self.new_keys: dict[str, set[Key]] = defaultdict(set)
        self.late_done: set[str] = set()
        self.staff = [
            (parse_ts(m["hired_at"]), m)
            for m in snapshot.managers
            if m["deleted_at"] is None and m["terminated_at"] is None
        ]

    # -- helpers

    def stamp(self) -> int:
        return self.day_start + self.rng.randint(5 * HOUR, 18 * HOUR)

    def late_stamp(self, name: str) -> int | None:
        """Before the newest `updated_at` of the table, once per table (None after the first call).

        Billing rows commit a few hours late, as sources.md §2 describes; CRM records only a few
        minutes, within the overlap the CRM extractor re-reads, as the API contract promises nothing more.
        """
        newest = self.snap.stats[name].max_updated
        if name in self.late_done or newest is None:
            return None
        self.late_done.add(name)
        if TABLES[name].source == "billing":
            return newest - self.rng.randint(HOUR, 5 * HOUR)
        return newest - self.rng.randint(MINUTE, 5 * MINUTE)

    def ts(self, instant: int, offset: int | None = None) -> str:
        return format_ts(instant, random_offset(self.rng) if offset is None else offset)

    def current(self, name: str, row: Row) -> Row:
        return self.changes[name].get(row_key(TABLES[name], row), row)

    def touched(self, name: str, row: Row) -> bool:
        return row_key(TABLES[name], row) in self.changes[name]

    def put(self, name: str, row: Row, *, new: bool = False) -> Row:
        key = row_key(TABLES[name], row)
        self.changes[name][key] = row
        if new:
            self.new_keys[name].add(key)
        return row

    def new_id(self, name: str) -> int | str:
        return self.snap.stats[name].next_id(numeric=TABLES[name].field("id").type == "bigint")

    def edit(self, name: str, row: Row, updated: int, **values: Any) -> Row | None:
        """A new version of `row` with `values`, unless it would not be newer than its last version."""
        if parse_ts(row["updated_at"]) >= updated:
            return None
        return self.put(name, {**self.current(name, row), **values, "updated_at": self.ts(updated)})

    def pick(self, pool: list[Row], count: int, accept: Callable[[Row], bool]) -> list[Row]:
        chosen = []
        for row in self.rng.sample(pool, len(pool)):
            if len(chosen) == count:
                break
            if accept(row):
                chosen.append(row)
        return chosen

    def live_clients(self) -> list[Row]:
        return [
            c
            for c in self.snap.clients
            if c["deleted_at"] is None and c["owner_id"] and not self.touched("crm.clients", c)
        ]

    def active_managers(self, since: int) -> list[Row]:
        return [manager for hired, manager in self.staff if hired < since]

    # -- the day

    def build(self) -> dict[str, dict[Key, Row]]:
        self.owner_changes()
        self.client_edits()
        self.manager_and_product_edits()
        self.contacts()
        self.activities()
        self.deals()
        self.requests()
        self.surveys()
        self.new_invoices()
        self.payments()
        self.voids_and_drafts()
        self.credit_notes()
        self.fx_rates()
        return self.changes

    def owner_changes(self) -> None:
        """One change backdated a few weeks, entered today; the others effective when entered."""
        count = max(2, _target(self.snap.stats["crm.owner_changes"].count))
        assigned = [c for c in self.live_clients() if c["id"] in self.snap.latest_change]
        pool = self.rng.sample(assigned, min(len(assigned), 20 * count))
        for number in range(count):
            stamp = self.stamp()
            late = self.late_stamp("crm.owner_changes") if number == 1 else None
            if number == 0:
                changed = self.day_start - self.rng.randint(14, 42) * DAY + self.rng.randint(6, 15) * HOUR
                entered = stamp
            elif late is not None:
                entered = late
                changed = late - self.rng.randint(0, HOUR)
            else:
                changed = entered = stamp
            self.reassign(pool, changed, entered, stamp)

    def reassign(self, pool: list[Row], changed: int, entered: int, stamp: int) -> None:
        """Moves the first client of `pool` last assigned before `changed` to another manager."""
        managers = self.active_managers(changed)
        for client in pool:
            if self.touched("crm.clients", client) or self.snap.latest_change[client["id"]] >= changed:
                continue
            successors = [m for m in managers if m["id"] != client["owner_id"]]
            if not successors:
                continue
            successor = self.rng.choice(successors)
            if self.edit("crm.clients", client, stamp, owner_id=successor["id"]) is None:
                continue
            offset = random_offset(self.rng)
            change = {
                "id": self.new_id("crm.owner_changes"),
                "client_id": client["id"],
                "old_owner_id": client["owner_id"],
                "new_owner_id": successor["id"],
                "changed_at": format_ts(changed, offset),
                "updated_at": format_ts(entered, offset),
            }
            self.put("crm.owner_changes", change, new=True)
            return

    def client_edits(self) -> None:
        """One soft delete, then wallet estimates and VIP flags edited; the first edit commits late."""
        live = self.live_clients()
        for client in self.pick(live, 1, lambda c: True):
            stamp = self.stamp()
            self.edit("crm.clients", client, stamp, deleted_at=self.ts(stamp))
        edits = max(1, _target(len(self.snap.clients)) - len(self.changes["crm.clients"]))
        late = self.late_stamp("crm.clients")
        if late is not None:
            for client in self.pick(self.live_clients(), 1, lambda c: parse_ts(c["updated_at"]) < late):
                self.edit_client_values(client, late)
        for client in self.pick(self.live_clients(), edits - 1, lambda c: True):
            self.edit_client_values(client, self.stamp())

    def edit_client_values(self, client: Row, updated: int) -> None:
        if self.rng.random() < 0.2:
            self.edit("crm.clients", client, updated, is_vip=not client["is_vip"])
        else:
            self.edit(
                "crm.clients", client, updated, wallet_estimate=self.new_wallet(client["wallet_estimate"])
            )

    def new_wallet(self, wallet: str | None) -> str:
        """A re-estimate rounded to 10,000, always different from the old one (set when it was missing)."""
        if wallet is None:
            return format_money(self.rng.randint(20, 600) * 1_000_000)
        old = _cents(wallet)
        new = max(1_000_000, old * self.rng.choice((80, 90, 110, 125, 150)) // 100 // 1_000_000 * 1_000_000)
        return format_money(new if new != old else old + 1_000_000)

    def manager_and_product_edits(self) -> None:
        teams = sorted({m["team"] for m in self.snap.managers if m["team"]})
        movable = [m for m in self.active_managers(self.day_start) if m["role"] != "lead"]
        for manager in self.pick(movable, 1, lambda m: True):
            others = [t for t in teams if t != manager["team"]] or teams
            self.edit("crm.managers", manager, self.stamp(), team=self.rng.choice(others))
        for product in self.pick(self.snap.products, 1, lambda p: True):
            self.edit("billing.products", product, self.stamp())

    def contacts(self) -> None:
        """A soft delete, a few edits (a new phone, left or rejoined the company) and new contacts."""
        total = _target(self.snap.stats["crm.contacts"].count)
        sample = self.snap.samples["contacts"]
        for contact in self.pick(sample, 1, lambda c: True):
            stamp = self.stamp()
            self.edit("crm.contacts", contact, stamp, deleted_at=self.ts(stamp), is_active=False)
        for contact in self.pick(
            sample, max(0, total - 1 - total // 3), lambda c: not self.touched("crm.contacts", c)
        ):
            if self.rng.random() < 0.5:
                self.edit("crm.contacts", contact, self.stamp(), phone=phone_number(self.rng, "RU"))
            else:
                self.edit("crm.contacts", contact, self.stamp(), is_active=not contact["is_active"])
        for client in self.pick(self.live_clients(), max(1, total // 3), lambda c: c["segment"] == "b2b"):
            self.new_contact(client, self.late_stamp("crm.contacts") or self.stamp())

    def new_contact(self, client: Row, updated: int) -> None:
        first, last = person_name(self.rng)
        role = self.rng.choice(tuple(ROLE_POSITIONS))
        contact_id = self.new_id("crm.contacts")
        contact = {
            "id": contact_id,
            "client_id": client["id"],
            "full_name": f"{first} {last}",
            "email": f"{first}.{last}.{contact_id}@mail.example".lower(),
            "phone": None,
            "position": self.rng.choice(ROLE_POSITIONS[role]),
            "buying_role": role,
            "is_active": True,
            "updated_at": self.ts(updated),
            "deleted_at": None,
        }
        self.put("crm.contacts", contact, new=True)

    def actor(self, client: Row, instant: int) -> str:
        """The client's owner, or now and then a colleague employed at that instant."""
        if self.rng.random() < 0.9 or not self.staff:
            return client["owner_id"]
        hired, colleague = self.staff[self.rng.randrange(len(self.staff))]
        return colleague["id"] if hired < instant else client["owner_id"]

    def activities(self) -> None:
        total = _target(self.snap.stats["crm.activities"].count)
        live = self.live_clients()
        for _ in range(total):
            client = self.rng.choice(live)
            updated = self.late_stamp("crm.activities") or self.stamp()
            occurred = updated - self.rng.randint(15 * MINUTE, 6 * HOUR)
            kind = ACTIVITY_TYPES[self.rng.randrange(len(ACTIVITY_TYPES))]
            contacts = self.snap.contacts_of.get(client["id"], [])
            offset = random_offset(self.rng)
            activity = {
                "id": self.new_id("crm.activities"),
                "client_id": client["id"],
                "manager_id": self.actor(client, occurred),
                "contact_id": self.rng.choice(contacts) if contacts and self.rng.random() < 0.75 else None,
                "type": kind,
                "occurred_at": format_ts(occurred, offset),
                "duration_min": self.rng.randint(*ACTIVITY_MINUTES[kind]),
                "updated_at": format_ts(updated, offset),
                "deleted_at": None,
            }
            self.put("crm.activities", activity, new=True)
        for activity in self.pick(self.snap.samples["activities"], max(1, total // 10), lambda a: True):
            self.edit("crm.activities", activity, self.stamp(), duration_min=activity["duration_min"] + 5)

    def deals(self) -> None:
        """Stages move on (a proposal is sent, a deal is won or lost), and a few deals are opened."""
        total = _target(self.snap.stats["crm.deals"].count)
        opened = max(1, total // 3)
        for deal in self.pick(self.snap.samples["deals"], max(1, total - opened), lambda d: True):
            stamp = self.stamp()
            moment = self.ts(stamp - self.rng.randint(MINUTE, 2 * HOUR))
            if deal["stage"] == "open":
                self.edit("crm.deals", deal, stamp, stage="proposal_sent", proposal_sent_at=moment)
            elif self.rng.random() < 0.55:
                self.edit("crm.deals", deal, stamp, stage="won", closed_at=moment)
            else:
                reason = self.rng.choice(DEAL_LOST_REASONS)
                self.edit("crm.deals", deal, stamp, stage="lost", closed_at=moment, lost_reason=reason)
        templates = self.snap.samples["deal_templates"]
        live = self.live_clients()
        for _ in range(opened if templates and live else 0):
            template, client = self.rng.choice(templates), self.rng.choice(live)
            updated = self.late_stamp("crm.deals") or self.stamp()
            created = updated - self.rng.randint(MINUTE, 3 * HOUR)
            amount = _cents(template["amount"]) * self.rng.randint(50, 150) // 100 // 10_000 * 10_000
            offset = random_offset(self.rng)
            deal = {
                "id": self.new_id("crm.deals"),
                "client_id": client["id"],
                "manager_id": self.actor(client, created),
                "kind": self.rng.choice(("new_business", "upsell", "cross_sell", "renewal")),
                "product_line": template["product_line"],
                "amount": format_money(max(10_000, amount)),
                "currency": template["currency"],
                "stage": "open",
                "created_at": format_ts(created, offset),
                "proposal_sent_at": None,
                "closed_at": None,
                "lost_reason": None,
                "updated_at": format_ts(updated, offset),
                "deleted_at": None,
            }
            self.put("crm.deals", deal, new=True)

    def requests(self) -> None:
        """Old requests answered or resolved, and new ones (some answered, within the SLA or not)."""
        total = _target(self.snap.stats["crm.requests"].count)
        for request in self.pick(self.snap.samples["unanswered"], max(1, total // 5), lambda r: True):
            stamp = self.stamp()
            answered = stamp - self.rng.randint(MINUTE, HOUR)
            if answered > parse_ts(request["created_at"]):
                self.edit("crm.requests", request, stamp, first_response_at=self.ts(answered))
        for request in self.pick(self.snap.samples["unresolved"], max(1, total // 5), lambda r: True):
            stamp = self.stamp()
            resolved = stamp - self.rng.randint(MINUTE, HOUR)
            if resolved > parse_ts(request["first_response_at"]):
                self.edit("crm.requests", request, stamp, resolved_at=self.ts(resolved))
        live = self.live_clients()
        for _ in range(max(1, total - len(self.changes["crm.requests"]))):
            client = self.rng.choice(live)
            updated = self.late_stamp("crm.requests") or self.stamp()
            created = updated - self.rng.randint(10 * MINUTE, 30 * HOUR)
            answered = created + self.rng.randint(5 * MINUTE, 30 * HOUR)
            offset = random_offset(self.rng)
            request = {
                "id": self.new_id("crm.requests"),
                "client_id": client["id"],
                "manager_id": self.actor(client, created),
                "priority": "high" if self.rng.random() < 0.25 else "normal",
                "channel": self.rng.choice(REQUEST_CHANNELS),
                "created_at": format_ts(created, offset),
                "first_response_at": format_ts(answered, offset) if answered <= updated else None,
                "resolved_at": None,
                "updated_at": format_ts(updated, offset),
            }
            self.put("crm.requests", request, new=True)

    def surveys(self) -> None:
        live = self.live_clients()
        for _ in range(_target(self.snap.stats["crm.surveys"].count)):
            client = self.rng.choice(live)
            updated = self.late_stamp("crm.surveys") or self.stamp()
            responded = updated - self.rng.randint(MINUTE, 2 * HOUR)
            kind = "nps" if self.rng.random() < 0.6 else "csi"
            weights = NPS_WEIGHTS if kind == "nps" else CSI_WEIGHTS
            scores = range(11) if kind == "nps" else range(1, 6)
            contacts = self.snap.contacts_of.get(client["id"], [])
            offset = random_offset(self.rng)
            survey = {
                "id": self.new_id("crm.surveys"),
                "client_id": client["id"],
                "contact_id": self.rng.choice(contacts) if contacts and self.rng.random() < 0.85 else None,
                "kind": kind,
                "score": self.rng.choices(scores, weights=weights)[0],
                "responded_at": format_ts(responded, offset),
                "updated_at": format_ts(updated, offset),
            }
            self.put("crm.surveys", survey, new=True)

    # -- billing

    def new_invoices(self) -> None:
        """Recurring invoices issued today, lines copied from an earlier invoice of the same client."""
        invoices = max(2, _target(self.snap.stats["billing.invoices"].count, 0.006))
        lines = _target(self.snap.stats["billing.invoice_lines"].count, 0.006)
        live = {c["id"] for c in self.live_clients()}
        templates = [
            t
            for t in self.snap.samples["invoice_templates"]
            if t["client_id"] in live and self.snap.invoice_lines.get(t["id"])
        ]
        for written, template in enumerate(self.rng.sample(templates, len(templates))):
            if written >= invoices and len(self.changes["billing.invoice_lines"]) >= lines:
                break
            self.copy_invoice(template, self.late_stamp("billing.invoices") or self.stamp())

    def copy_invoice(self, template: Row, updated: int) -> None:
        issued = updated - self.rng.randint(5 * MINUTE, 2 * HOUR)
        offset = random_offset(self.rng)
        invoice_id = self.new_id("billing.invoices")
        invoice = {
            "id": invoice_id,
            "client_id": template["client_id"],
            "number": f"INV-{self.day.year}-{invoice_id:07d}",
            "issued_at": format_ts(issued, offset),
            "due_at": format_ts(issued + self.rng.choice((14, 30)) * DAY, offset),
            "currency": template["currency"],
            "status": "issued",
            "updated_at": format_ts(updated, offset),
        }
        self.put("billing.invoices", invoice, new=True)
        late_lines = self.late_stamp("billing.invoice_lines") if updated < self.day_start else None
        lines_at = (
            late_lines if late_lines is not None else max(issued, updated - self.rng.randint(0, 10 * MINUTE))
        )
        lines_updated = format_ts(lines_at, offset)
        for line in self.snap.invoice_lines[template["id"]]:
            self.put("billing.invoice_lines", self.copy_line(line, invoice_id, lines_updated), new=True)

    def copy_line(self, line: Row, invoice_id: int | str, updated: str) -> Row:
        quantity = line["quantity"]
        decimals = len(quantity.partition(".")[2])
        wanted = max(1, parse_units(quantity, decimals) * self.rng.randint(90, 110) // 100)
        price = _cents(line["unit_price"])
        units, amount = priced_line(wanted, decimals, price)
        old_amount = _cents(line["amount"])
        cost = amount * _cents(line["cost_amount"]) // old_amount if old_amount else 0
        return {
            "id": self.new_id("billing.invoice_lines"),
            "invoice_id": invoice_id,
            "product_id": line["product_id"],
            "quantity": format_units(units, decimals),
            "unit_price": line["unit_price"],
            "amount": format_money(amount),
            "cost_amount": format_money(cost),
            "updated_at": updated,
        }

    def payments(self) -> None:
        """Issued invoices paid today in full; the first payment commits late."""
        count = _target(self.snap.stats["billing.payments"].count, 0.006)
        late = self.late_stamp("billing.payments")

        def due(invoice: Row) -> int:
            return self.snap.invoice_totals.get(invoice["id"], 0) - self.snap.paid_cents.get(invoice["id"], 0)

        def payable(invoice: Row, before: int) -> bool:
            issued = parse_ts(invoice["issued_at"])
            return (
                due(invoice) > 0 and issued < before - HOUR and not self.touched("billing.invoices", invoice)
            )

        unpaid = self.snap.samples["unpaid"]
        if late is not None:
            for invoice in self.pick(unpaid, 1, lambda i: payable(i, late)):
                self.pay(invoice, due(invoice), late)
        for invoice in self.pick(
            unpaid, count - len(self.changes["billing.payments"]), lambda i: payable(i, self.day_start)
        ):
            self.pay(invoice, due(invoice), self.stamp())

    def pay(self, invoice: Row, cents: int, updated: int) -> None:
        """The rest of an invoice paid (the payment recorded at `updated`) and its status set today."""
        paid_at = updated - self.rng.randint(MINUTE, HOUR)
        if paid_at > parse_ts(invoice["issued_at"]) and self.edit(
            "billing.invoices", invoice, self.stamp(), status="paid"
        ):
            offset = random_offset(self.rng)
            payment = {
                "id": self.new_id("billing.payments"),
                "invoice_id": invoice["id"],
                "paid_at": format_ts(paid_at, offset),
                "amount": format_money(cents),
                "currency": invoice["currency"],
                "updated_at": format_ts(updated, offset),
            }
            self.put("billing.payments", payment, new=True)

    def voids_and_drafts(self) -> None:
        """One unpaid invoice voided; one draft with lines issued."""

        def voidable(invoice: Row) -> bool:
            clean = not self.snap.paid_cents.get(invoice["id"]) and not self.snap.credited_cents.get(
                invoice["id"]
            )
            return clean and not self.touched("billing.invoices", invoice)

        for invoice in self.pick(self.snap.samples["unpaid"], 1, voidable):
            self.edit("billing.invoices", invoice, self.stamp(), status="void")
        drafts = self.snap.samples["drafts"]
        for draft in self.pick(drafts, 1, lambda d: self.snap.invoice_totals.get(d["id"], 0) > 0):
            stamp = self.stamp()
            issued = stamp - self.rng.randint(MINUTE, HOUR)
            offset = random_offset(self.rng)
            due_at, issued_at = format_ts(issued + 14 * DAY, offset), format_ts(issued, offset)
            self.edit("billing.invoices", draft, stamp, status="issued", issued_at=issued_at, due_at=due_at)

    def credit_notes(self) -> None:
        """Credit notes issued today on invoices at least a month old; the first, on an old one, commits late."""
        count = _target(self.snap.stats["billing.credit_notes"].count)

        def room(invoice: Row) -> int:
            return self.snap.invoice_totals.get(invoice["id"], 0) - self.snap.credited_cents.get(
                invoice["id"], 0
            )

        eligible = [
            invoice
            for invoice in sorted(
                self.snap.samples["creditable"], key=lambda i: (parse_ts(i["issued_at"]), i["id"])
            )
            if room(invoice) > 1
            and parse_ts(invoice["issued_at"]) <= self.day_start - 30 * DAY
            and not self.touched("billing.invoices", invoice)
        ]
        chosen = eligible[:1] + self.rng.sample(
            eligible[1:], min(count, len(eligible)) - 1 if eligible else 0
        )
        for invoice in chosen:
            updated = self.late_stamp("billing.credit_notes") or self.stamp()
            issued = updated - self.rng.randint(MINUTE, HOUR)
            offset = random_offset(self.rng)
            note = {
                "id": self.new_id("billing.credit_notes"),
                "invoice_id": invoice["id"],
                "issued_at": format_ts(issued, offset),
                "amount": format_money(max(1, room(invoice) * self.rng.randint(10, 50) // 100)),
                "reason": self.rng.choice(CREDIT_REASONS),
                "updated_at": format_ts(updated, offset),
            }
            self.put("billing.credit_notes", note, new=True)

    def fx_rates(self) -> None:
        """Today's rate of every currency, and a rate of a past date revised late."""
        latest: dict[str, Row] = {}
        for rate in self.snap.fx_rates.values():
            if rate["currency"] not in latest or rate["rate_date"] > latest[rate["currency"]]["rate_date"]:
                latest[rate["currency"]] = rate
        for currency, rate in sorted(latest.items()):
            micros = parse_units(rate["rate_to_base"], 6)
            row = {
                "currency": currency,
                "rate_date": self.day.isoformat(),
                "rate_to_base": format_units(micros + micros * self.rng.randint(-50, 50) // 10_000, 6),
                "updated_at": self.ts(self.day_start + self.rng.randint(HOUR, 3 * HOUR)),
            }
            known = (currency, self.day.isoformat()) in self.snap.fx_rates
            self.put("billing.fx_rates", row, new=not known)
        past = (self.day - timedelta(days=self.rng.randint(10, 40))).isoformat()
        revisable = [r for key, r in sorted(self.snap.fx_rates.items()) if key[1] == past]
        for rate in self.pick(revisable, 1, lambda r: True):
            micros = parse_units(rate["rate_to_base"], 6)
            revised = format_units(
                micros + micros * self.rng.choice((-1, 1)) * self.rng.randint(5, 30) // 10_000, 6
            )
            self.edit("billing.fx_rates", rate, self.stamp(), rate_to_base=revised)


def _rewrite(folder: Path, entity: Entity, rows: dict[Key, Row]) -> None:
    """Replaces changed rows where they stand and appends new ones, streaming the file."""
    path = entity_path(folder, entity)
    partial = path.with_name(f".{path.name}.partial")
    remaining = dict(rows)
    with EntityWriter(folder, entity, path=partial) as writer:
        for row in read_entity(folder, entity):
            writer.write(remaining.pop(row_key(entity, row), row))
        writer.write_all(remaining.values())
    partial.replace(path)


def _apply(folder: Path, changes: dict[str, dict[Key, Row]], new_keys: dict[str, set[Key]]) -> None:
    for name, rows in changes.items():
        if not rows:
            continue
        entity = TABLES[name]
        if set(rows) <= new_keys.get(name, set()):
            with EntityWriter(folder, entity, append=True) as writer:
                writer.write_all(rows.values())
        else:
            _rewrite(folder, entity, rows)


def _write_delta(delta: Path, changes: dict[str, dict[Key, Row]]) -> None:
    if delta.exists():
        shutil.rmtree(delta)
    for name, rows in changes.items():
        if rows:
            write_entity(delta, TABLES[name], rows.values())


def apply_day_of_changes(folder: Path, *, seed: int, day: date | None = None) -> dict[str, int]:
    """Apply one more day of source activity to `folder` in place and write it alone to `_delta/<day>/`.

    `day` defaults to the day (UTC) after the newest `updated_at` of the folder. Returns the
    number of changed and new rows per "<source>.<entity>".
    """
    folder = Path(folder)
    snapshot = Snapshot(folder, seed).scan()
    if day is None:
        day = utc_date(snapshot.latest_updated) + timedelta(days=1)
    builder = DayOfChanges(random.Random(f"{seed}:{day.isoformat()}"), snapshot, day)
    changes = builder.build()
    _write_delta(folder / "_delta" / day.isoformat(), changes)
    _apply(folder, changes, builder.new_keys)
    return {name: len(rows) for name, rows in changes.items() if rows}
