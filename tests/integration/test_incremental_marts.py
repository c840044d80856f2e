"""The incremental build of client_month equals a full refresh after a day of changes.

The tiny data set is extracted and built in full; its raw `_loaded_at` is first set to each
row's `updated_at`, as if the pipeline had loaded it day by day. Then one day of
source changes (simulator.changes, seed 7) is applied, extracted and built incrementally. Its
delta holds the five cases of the issue: a late credit note on an old invoice, an owner change
backdated weeks, a voided invoice, a soft-deleted client and a past fx rate revised late. The
generator's credit note is issued on the new day, after as_of_month, so one more is added,
issued inside as_of_month on an invoice at least three months older, committed late. Four more
late edits each reach a client nothing else in the day touches, so each way a change reaches a
client is proven on its own: the rate converting an invoice of as_of_month revised, an invoice
voided, one moved back a month, one moved to another client.

A second warehouse extracts the same sources and builds them in full; every mart must match row
for row (the audit columns of client_month aside), and client_month must have rewritten fewer
rows than it holds.

The other tests start from the tiny data set extracted and built in full as it is: that build is
made once per module, and each test gets a copy of its warehouse (`built_warehouse`).
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from simulator.billing_loader import upsert_billing
from simulator.changes import apply_day_of_changes
from simulator.dataset import last_complete_month, read_entity, write_entity
from tests.integration.conftest import create_database, drop_database, extract_data_set
from tests.integration.test_extract import extract_everything
from warehouse.contract import entity
from warehouse.dbt import run_dbt
from warehouse.quality import parse_instant

pytestmark = pytest.mark.integration

BUILD = ["build", "--exclude-resource-type", "unit_test"]
MARTS = ["client_month", "revenue_movements", "cohort_retention", "manager_month", "manager_quarter"]
AUDIT_COLUMNS = {"_source_loaded_at", "_build_parameters"}
# intermediate tables rebuilt by client (the invoice tables also by the key of the invoices loaded
# since the last build): each must equal a full build too
COMPARED_INTERMEDIATE = ["int_activities_live", "int_invoices_live", "int_invoices_credited"]


@dataclass(frozen=True)
class BuiltWarehouse:
    url: str
    full_build: Path  # the target folder of its full build


@pytest.fixture(scope="module")
def built_once(
    pg_cluster, tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BuiltWarehouse]:
    """The tiny data set extracted and built in full once, as the template of built_warehouse."""
    data = tmp_path_factory.mktemp("built-once") / "dataset"
    shutil.copytree(tiny_dataset, data)
    warehouse = create_database(pg_cluster, "built")
    try:
        extract_data_set(pg_cluster, data, warehouse, "run-1")
        full_build = data.parent / "full"
        run_dbt(BUILD, warehouse, last_complete_month(data), full_build)
        yield BuiltWarehouse(warehouse, full_build)
    finally:
        drop_database(pg_cluster, warehouse)


@pytest.fixture
def built_warehouse(pg_cluster, built_once: BuiltWarehouse) -> Iterator[BuiltWarehouse]:
    """A private copy of built_once: what extracting the `sources` fixture (the same tiny data
    set) and building it in full gives, without doing it again (a template copies files)."""
    copy = BuiltWarehouse(
        create_database(pg_cluster, "warehouse", template=built_once.url), built_once.full_build
    )
    yield copy
    drop_database(pg_cluster, copy.url)


def load_history_day_by_day(warehouse: str) -> None:
    """Every raw row as if loaded when it was last updated (not all at the first extract)."""
    with psycopg.connect(warehouse) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.columns "
            "where column_name = '_loaded_at' and table_schema in ('raw_crm', 'raw_billing')"
        ).fetchall()
        for schema, table in tables:
            conn.execute(f'update {schema}."{table}" set _loaded_at = least(_loaded_at, updated_at)')


def stamp_after(rows: Iterable[dict], minutes: int) -> str:
    """An `updated_at` `minutes` after the newest of `rows`: the next extract reads the edit."""
    newest = max(parse_instant(r["updated_at"]) for r in rows)
    return (newest + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def delta_rows(delta: Path, source: str, name: str) -> list[dict]:
    e = entity(source, name)
    path = delta / source / f"{name}.{'jsonl' if source == 'crm' else 'csv'}"
    return list(read_entity(delta, e)) if path.exists() else []


def assert_delta_has_the_five_cases(delta: Path, day: datetime) -> None:
    credit_notes = delta_rows(delta, "billing", "credit_notes")
    assert credit_notes, "no credit note in the day of changes"
    owner_changes = delta_rows(delta, "crm", "owner_changes")
    assert any(
        parse_instant(c["changed_at"]) < parse_instant(c["updated_at"]) - timedelta(days=7)
        for c in owner_changes
    ), "no backdated owner change"
    assert any(i["status"] == "void" for i in delta_rows(delta, "billing", "invoices")), "no voided invoice"
    assert any(c["deleted_at"] for c in delta_rows(delta, "crm", "clients")), "no soft-deleted client"
    assert any(r["rate_date"] < day.date().isoformat() for r in delta_rows(delta, "billing", "fx_rates")), (
        "no late fx rate of a past date"
    )


def add_late_credit_note_in_window(billing: str, as_of_month) -> str:
    """A credit note issued mid as_of_month on an old in-scope invoice, committed two hours late;
    returns the invoice's client."""
    with psycopg.connect(billing) as conn:
        invoice_id, client_id = conn.execute(
            "select id, client_id from public.invoices where status in ('issued', 'paid') "
            "and issued_at < %s order by issued_at, id limit 1",
            (as_of_month - timedelta(days=92),),
        ).fetchone()
        conn.execute(
            "insert into public.credit_notes (id, invoice_id, issued_at, amount, reason, updated_at) "
            "select max(id) + 1, %s, %s, 1.00, 'late', max(updated_at) - interval '2 hours' "
            "from public.credit_notes",
            (invoice_id, datetime(as_of_month.year, as_of_month.month, 10, 12, tzinfo=UTC)),
        )
    return client_id


def clients_in_delta(delta: Path, data: Path) -> set[str]:
    """The clients a row of the day of changes reaches: directly, through its invoice (as
    "invoice:<id>"), or as a manager edited through the activities of that manager."""
    clients = {
        row["client_id"] if name != "clients" else row["id"]
        for name in ("clients", "owner_changes", "contacts", "activities", "requests", "surveys")
        for row in delta_rows(delta, "crm", name)
    }
    managers = {row["id"] for row in delta_rows(delta, "crm", "managers")}
    clients |= {
        a["client_id"] for a in read_entity(data, entity("crm", "activities")) if a["manager_id"] in managers
    }
    invoices = {row["id"]: row["client_id"] for row in delta_rows(delta, "billing", "invoices")}
    invoice_ids = {
        str(row["invoice_id"])
        for name in ("invoice_lines", "credit_notes")
        for row in delta_rows(delta, "billing", name)
    }
    return clients | set(invoices.values()) | {"invoice:" + i for i in invoice_ids}


def change_invoices_of_untouched_clients(
    billing: str, as_of_month, delta: Path, data: Path
) -> dict[str, set[str]]:
    """Four late edits (committed two hours late) of in-scope invoices of the window, each of a
    client the day of changes touches in no other way; returns the clients each must rebuild:
    the fx rate converting a foreign-currency invoice raised 1%, an invoice voided, an invoice
    moved back a month, an invoice moved to another client."""
    touched = clients_in_delta(delta, data)
    with psycopg.connect(billing) as conn:
        candidates = conn.execute(
            "select distinct on (invoices.client_id) invoices.id, invoices.client_id, "
            "invoices.currency <> 'RUB', rates.rate_date, rates.currency "
            "from public.invoices left join lateral ("
            "  select rate_date, currency from public.fx_rates where currency = invoices.currency "
            "  and rate_date <= cast(invoices.issued_at at time zone 'UTC' as date) "
            "  order by rate_date desc limit 1) as rates on true "
            "where invoices.status in ('issued', 'paid') and invoices.issued_at < %s "
            "and not invoices.client_id = any(%s) and not exists ("
            "  select from public.invoices as others where others.client_id = invoices.client_id"
            "  and 'invoice:' || others.id = any(%s)) "
            "and not exists ("  # the late credit note this test adds
            "  select from public.credit_notes join public.invoices as others on others.id = invoice_id"
            "  where others.client_id = invoices.client_id and reason = 'late') "
            "order by invoices.client_id, invoices.issued_at, invoices.id",
            (as_of_month + timedelta(days=31), list(touched), list(touched)),
        ).fetchall()
        foreign = next(c for c in candidates if c[2])
        voided, moved, reparented, new_owner = [c for c in candidates if c is not foreign][:4]
        late = "(select max(updated_at) from public.{}) - interval '2 hours'"
        conn.execute(
            "update public.fx_rates set rate_to_base = round(rate_to_base * 1.01, 6), "
            f"updated_at = {late.format('fx_rates')} where currency = %s and rate_date = %s",
            (foreign[4], foreign[3]),
        )
        conn.execute(
            f"update public.invoices set status = 'void', updated_at = {late.format('invoices')} where id = %s",
            (voided[0],),
        )
        conn.execute(
            "update public.invoices set issued_at = issued_at - interval '1 month', "
            f"updated_at = {late.format('invoices')} where id = %s",
            (moved[0],),
        )
        conn.execute(
            f"update public.invoices set client_id = %s, updated_at = {late.format('invoices')} where id = %s",
            (new_owner[1], reparented[0]),
        )
    return {
        "fx rate revised": {foreign[1]},
        "invoice voided": {voided[1]},
        "invoice moved a month back": {moved[1]},
        "invoice moved to another client": {reparented[1], new_owner[1]},
    }


def change_contacts_of_untouched_clients(data: Path, as_of_month, avoid: set[str]) -> dict[str, str]:
    """Three CRM edits, each on a client outside `avoid` (the clients something else touches): the
    contact named by an activity of as_of_month becomes a decision maker (the activity's client
    must be rebuilt), a new contact that no activity names is added (its client must not be), and
    a contact named by activities gets a new phone (no mart reads it: their client must not be)."""
    contacts_entity = entity("crm", "contacts")
    contacts = {c["id"]: c for c in read_entity(data, contacts_entity)}
    activities = list(read_entity(data, entity("crm", "activities")))
    window_start, window_end = (
        datetime(as_of_month.year, as_of_month.month, 1, tzinfo=UTC),
        window_end_of(as_of_month),
    )
    activity = next(
        a
        for a in sorted(activities, key=lambda a: a["id"])
        if a["client_id"] not in avoid
        and a["deleted_at"] is None
        and window_start <= parse_instant(a["occurred_at"]) < window_end
        and a["contact_id"] in contacts
        and contacts[a["contact_id"]]["deleted_at"] is None
        and contacts[a["contact_id"]]["buying_role"] in ("influencer", "user")
    )
    promoted = contacts[activity["contact_id"]]
    quiet_client = next(
        c["client_id"]
        for c in sorted(contacts.values(), key=lambda c: c["id"])
        if c["client_id"] not in avoid | {activity["client_id"], promoted["client_id"]}
    )
    clients_naming: dict[str, set[str]] = {}
    for a in activities:
        if a["contact_id"] is not None and a["deleted_at"] is None:
            clients_naming.setdefault(a["contact_id"], set()).add(a["client_id"])
    taken = avoid | {activity["client_id"], promoted["client_id"], quiet_client}
    rephoned = next(
        c
        for c in sorted(contacts.values(), key=lambda c: c["id"])
        if c["deleted_at"] is None
        and clients_naming.get(c["id"])
        and not (clients_naming[c["id"]] | {c["client_id"]}) & taken
    )
    stamp = stamp_after(contacts.values(), minutes=1)
    contacts[promoted["id"]] = {**promoted, "buying_role": "decision_maker", "updated_at": stamp}
    contacts[rephoned["id"]] = {**rephoned, "phone": "+7 900 000-00-00", "updated_at": stamp}
    new_contact = {**promoted, "id": "CT-NEW-1", "client_id": quiet_client, "updated_at": stamp}
    assert new_contact["id"] not in {a["contact_id"] for a in activities}
    write_entity(data, contacts_entity, [*contacts.values(), new_contact])
    return {
        "rebuilt": activity["client_id"],
        "not rebuilt": quiet_client,
        "phone edited": min(clients_naming[rephoned["id"]]),
    }


def change_owners_of_untouched_clients(
    data: Path, billing: str, as_of_month, avoid: set[str]
) -> dict[str, str]:
    """Two CRM edits that reach revenue and nothing else, each on a client outside `avoid` with an
    in-scope invoice of as_of_month and only base-currency invoices (so no fx rate of the day
    reaches it): an owner change an hour before that invoice is added (its lines move to another
    manager), and the other client is soft-deleted (its revenue leaves every mart)."""
    with psycopg.connect(billing) as conn:
        invoiced = conn.execute(
            "select client_id, min(issued_at) from public.invoices "
            "where status in ('issued', 'paid') and issued_at >= %s and issued_at < %s "
            "and not client_id = any(%s) and client_id not in ("
            "  select client_id from public.invoices where currency <> 'RUB') "
            "group by client_id order by client_id limit 2",
            (as_of_month, window_end_of(as_of_month), list(avoid)),
        ).fetchall()
    (moved, issued_at), (deleted, _) = invoiced
    clients_entity, changes_entity = entity("crm", "clients"), entity("crm", "owner_changes")
    clients = {c["id"]: c for c in read_entity(data, clients_entity)}
    changes = list(read_entity(data, changes_entity))
    stamp = stamp_after(clients.values(), minutes=1)
    history = sorted(
        (c for c in changes if c["client_id"] == moved), key=lambda c: (c["changed_at"], c["id"])
    )
    owner = history[-1]["new_owner_id"] if history else clients[moved]["owner_id"]
    successor = next(
        m["id"]
        for m in sorted(read_entity(data, entity("crm", "managers")), key=lambda m: m["id"])
        if m["id"] != owner
    )
    change = {
        "id": "OC-NEW-1",
        "client_id": moved,
        "old_owner_id": owner,
        "new_owner_id": successor,
        "changed_at": (issued_at - timedelta(hours=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "updated_at": stamp,
    }
    write_entity(data, changes_entity, [*changes, change])
    clients[deleted] = {**clients[deleted], "deleted_at": stamp, "updated_at": stamp}
    write_entity(data, clients_entity, clients.values())
    return {"owner changed": moved, "client deleted": deleted}


def change_clients_of_untouched_clients(data: Path, as_of_month, avoid: set[str]) -> dict[str, set[str]]:
    """Three CRM edits, each on a live client outside `avoid`: its wallet estimate re-estimated
    (client_month reads it: rebuilt), its industry edited (no mart reads it: not rebuilt), and a
    reassignment entered after the window, on a client with earlier owner changes (an owner
    change effective after every instant the marts read, and clients.owner_id, which owner
    changes override: not rebuilt). And a client with no owner changes gets its first, entered
    after the window, whose old owner differs from clients.owner_id: the first change sets the
    owner of every earlier instant, so it is rebuilt, through revenue."""
    clients_entity, changes_entity = entity("crm", "clients"), entity("crm", "owner_changes")
    clients = {c["id"]: c for c in read_entity(data, clients_entity)}
    changes = list(read_entity(data, changes_entity))
    with_changes = {c["client_id"] for c in changes}
    quiet = sorted(c for c, row in clients.items() if c not in avoid and row["deleted_at"] is None)
    reassigned = next(c for c in quiet if c in with_changes)
    first_change = next(c for c in quiet if c not in with_changes)
    wallet, industry = [c for c in quiet if c not in (reassigned, first_change)][:2]
    stamp = stamp_after(clients.values(), minutes=2)
    owner = max(
        (c for c in changes if c["client_id"] == reassigned), key=lambda c: (c["changed_at"], c["id"])
    )
    managers = sorted(m["id"] for m in read_entity(data, entity("crm", "managers")))
    successor = next(m for m in managers if m != owner["new_owner_id"])
    first_owner = next(m for m in managers if m != clients[first_change]["owner_id"])
    assert parse_instant(stamp) >= window_end_of(as_of_month)
    changes.append(
        {
            "id": "OC-NEW-2",
            "client_id": reassigned,
            "old_owner_id": owner["new_owner_id"],
            "new_owner_id": successor,
            "changed_at": stamp,
            "updated_at": stamp,
        }
    )
    changes.append(
        {
            "id": "OC-NEW-3",
            "client_id": first_change,
            "old_owner_id": first_owner,
            "new_owner_id": next(m for m in managers if m != first_owner),
            "changed_at": stamp,
            "updated_at": stamp,
        }
    )
    write_entity(data, changes_entity, changes)
    clients[reassigned] = {**clients[reassigned], "owner_id": successor, "updated_at": stamp}
    clients[wallet] = {**clients[wallet], "wallet_estimate": "123450000.00", "updated_at": stamp}
    clients[industry] = {**clients[industry], "industry": "edited industry", "updated_at": stamp}
    write_entity(data, clients_entity, clients.values())
    return {
        "rebuilt": {wallet},
        "rebuilt through revenue": {first_change},
        "not rebuilt": {reassigned, industry},
    }


MOVABLE = {  # CRM rows that can move to another client, the date that puts them in the window
    "activities": "occurred_at",
    "requests": "created_at",
    "surveys": "responded_at",
    "owner_changes": "changed_at",
}


def move_rows_of_untouched_clients(data: Path, as_of_month, avoid: set[str], target: str) -> dict[str, str]:
    """An activity, a request and a survey of one live client outside `avoid`, and an owner
    change of another, each dated inside the window, moved to `target`: the client that had
    them loses them, so it is rebuilt too (through revenue for the owner change). The tiny data
    set's day leaves two clients untouched, so the three CRM rows share one. Returns the client
    that lost a row, by entity."""
    clients = {c["id"]: c for c in read_entity(data, entity("crm", "clients")) if c["deleted_at"] is None}
    quiet = sorted(c for c in clients if c not in avoid and c != target)
    taken: dict[str, str] = {}
    for name, date_column in MOVABLE.items():
        source = quiet[1] if name == "owner_changes" else quiet[0]
        e = entity("crm", name)
        rows = list(read_entity(data, e))
        stamp = stamp_after(rows, minutes=4)
        row = next(
            r
            for r in sorted(rows, key=lambda r: r["id"])
            if r["client_id"] == source
            and r.get("deleted_at") is None
            and parse_instant(r[date_column]) < window_end_of(as_of_month)
        )
        row.update(client_id=target, updated_at=stamp)
        write_entity(data, e, rows)
        taken[name] = source
    return taken


def hide_a_billed_client(warehouse: str, data: Path, scratch: Path) -> str:
    """Take a live, billed client out of raw, as if billing had been extracted before the CRM
    delivered it: the first build keeps its billing rows (a client unknown to the CRM stays).
    It is one the coming day of changes leaves alone (the same day applied to a copy: seeded,
    so the same rows), in the base currency only (the day's revised rate reaches none of its
    invoices), and the last by id (the other cases take the first ones)."""
    preview = shutil.copytree(data, scratch)
    apply_day_of_changes(preview, seed=7)
    touched = clients_in_delta(max((preview / "_delta").iterdir()), preview)
    with psycopg.connect(warehouse) as conn:
        candidates = conn.execute(
            "select clients.id, array_agg('invoice:' || invoices.id) from raw_crm.clients as clients "
            "join raw_billing.invoices as invoices on invoices.client_id = clients.id "
            "where clients.deleted_at is null "
            "group by clients.id "
            "having bool_or(invoices.status in ('issued', 'paid')) and bool_and(invoices.currency = 'RUB') "
            'order by clients.id collate "C" desc'
        ).fetchall()
        client = next(c for c, invoices in candidates if not ({c, *invoices} & touched))
        conn.execute("delete from raw_crm.clients where id = %s", (client,))
    return client


def deliver_deleted(data: Path, client: str) -> None:
    """The CRM delivers the hidden client at last, already soft-deleted: every row about it goes."""
    clients_entity = entity("crm", "clients")
    clients = {c["id"]: c for c in read_entity(data, clients_entity)}
    stamp = stamp_after(clients.values(), minutes=3)
    clients[client] = {**clients[client], "deleted_at": stamp, "updated_at": stamp}
    write_entity(data, clients_entity, clients.values())


def window_end_of(as_of_month) -> datetime:
    """The first instant after the reporting window (reporting_tz is UTC here)."""
    return datetime(as_of_month.year + as_of_month.month // 12, as_of_month.month % 12 + 1, 1, tzinfo=UTC)


def table_rows(warehouse: str, table: str, schema: str = "marts") -> Counter:
    with psycopg.connect(warehouse) as conn:
        columns = [
            name
            for (name,) in conn.execute(
                "select column_name from information_schema.columns where table_schema = %s "
                "and table_name = %s order by ordinal_position",
                (schema, table),
            )
            if name not in AUDIT_COLUMNS
        ]
        return Counter(conn.execute(f"select {', '.join(columns)} from {schema}.{table}").fetchall())


def table_rows_of_client(warehouse: str, client: str) -> int:
    with psycopg.connect(warehouse) as conn:
        (rows,) = conn.execute(
            "select count(*) from marts.client_month where client_id = %s", (client,)
        ).fetchone()
    return rows


def rows_written(target: Path, model: str) -> int:
    results = json.loads((target / "run_results.json").read_text())["results"]
    (result,) = [r for r in results if r["unique_id"] == f"model.account_management.{model}"]
    return result["adapter_response"]["rows_affected"]


def test_incremental_build_after_a_day_of_changes_equals_a_full_refresh(
    sources, warehouse, pg_cluster, tmp_path: Path
) -> None:
    as_of_month = last_complete_month(sources.data)
    extract_everything(sources, warehouse, "run-1")
    load_history_day_by_day(warehouse)
    hidden = hide_a_billed_client(warehouse, sources.data, tmp_path / "preview")
    run_dbt(BUILD, warehouse, as_of_month, tmp_path / "full")
    assert table_rows_of_client(warehouse, hidden), "billed, unknown to the CRM: its rows stay"
    with psycopg.connect(warehouse) as conn:
        (deleted_before,) = conn.execute(
            "select count(*) from raw_crm.clients where deleted_at is not null"
        ).fetchone()

    changed = apply_day_of_changes(sources.data, seed=7)
    delta = max((sources.data / "_delta").iterdir())
    assert_delta_has_the_five_cases(delta, datetime.fromisoformat(delta.name).replace(tzinfo=UTC))
    upsert_billing(sources.billing, delta)
    credited_client = add_late_credit_note_in_window(sources.billing, as_of_month)
    invoice_cases = change_invoices_of_untouched_clients(sources.billing, as_of_month, delta, sources.data)

    def reached(*cases: Iterable[str]) -> set[str]:
        """The clients the day's delta, the late credit note and the given cases touch."""
        return clients_in_delta(delta, sources.data) | {credited_client}.union(*cases)

    contact_cases = change_contacts_of_untouched_clients(
        sources.data, as_of_month, reached(*invoice_cases.values())
    )
    owner_cases = change_owners_of_untouched_clients(
        sources.data, sources.billing, as_of_month, reached(contact_cases.values(), *invoice_cases.values())
    )
    client_cases = change_clients_of_untouched_clients(
        sources.data,
        as_of_month,
        reached(contact_cases.values(), owner_cases.values(), *invoice_cases.values()),
    )
    moved_cases = move_rows_of_untouched_clients(
        sources.data,
        as_of_month,
        reached(
            {hidden},
            contact_cases.values(),
            owner_cases.values(),
            *invoice_cases.values(),
            *client_cases.values(),
        ),
        target=credited_client,
    )
    hidden_invoices = {
        "invoice:" + str(i["id"])
        for i in read_entity(sources.data, entity("billing", "invoices"))
        if i["client_id"] == hidden
    }
    assert not ({hidden} | hidden_invoices) & reached(
        contact_cases.values(),
        owner_cases.values(),
        moved_cases.values(),
        *invoice_cases.values(),
        *client_cases.values(),
    ), "the hidden client must be reached by its deletion alone"
    deliver_deleted(sources.data, hidden)
    sources.crm.reload()
    extract_everything(sources, warehouse, "run-2")
    run_dbt(BUILD, warehouse, as_of_month, tmp_path / "incremental")

    refreshed = create_database(pg_cluster, "warehouse_full")
    try:
        extract_everything(sources, refreshed, "run-full")
        run_dbt(BUILD, refreshed, as_of_month, tmp_path / "refresh")
        for schema, table in [("marts", t) for t in MARTS] + [
            ("intermediate", t) for t in COMPARED_INTERMEDIATE
        ]:
            incremental, full = table_rows(warehouse, table, schema), table_rows(refreshed, table, schema)
            assert incremental - full == Counter() and full - incremental == Counter(), (
                f"{table}: {sum((incremental - full).values())} rows only in the incremental build, "
                f"{sum((full - incremental).values())} only in the full refresh"
            )
    finally:
        drop_database(pg_cluster, refreshed)

    written = rows_written(tmp_path / "incremental", "client_month")
    total = sum(table_rows(warehouse, "client_month").values())
    assert 0 < written < total, (
        f"the incremental run wrote {written} of {total} rows: not the incremental path"
    )
    for table in COMPARED_INTERMEDIATE:
        held = sum(table_rows(warehouse, table, "intermediate").values())
        assert 0 < rows_written(tmp_path / "incremental", table) < held, table
    with psycopg.connect(warehouse) as conn:
        (unseen,) = conn.execute(
            "select count(*) from staging.stg_billing__invoices as invoices "
            "where invoices.loaded_at >= (select changes_loaded_from from intermediate.int_build_watermark) "
            "and invoices.client_id not in ("
            "  select client_id from intermediate.int_changed_clients where reaches_revenue"
            ")"
        ).fetchone()
    assert unseen > 0, "an invoice edit no client sees, which the invoice tables rewrite by key"
    with psycopg.connect(warehouse) as conn:
        (deleted_after,) = conn.execute(
            "select count(*) from raw_crm.clients where deleted_at is not null"
        ).fetchone()
        (fingerprints,) = conn.execute(
            "select count(distinct _build_parameters) from marts.client_month"
        ).fetchone()
    assert deleted_after == deleted_before + 3  # the day's, the owner case's and the hidden client
    assert not table_rows_of_client(warehouse, hidden), "a client delivered deleted takes its rows"
    assert fingerprints == 1
    assert sum(changed.values()) > 0
    assert_new_rows_after_the_window_change_no_client(warehouse, as_of_month)
    with psycopg.connect(warehouse) as conn:
        changed = dict(
            conn.execute("select client_id, reaches_revenue from intermediate.int_changed_clients").fetchall()
        )
    assert changed.get(hidden) is True, "delivered deleted, it reaches the revenue models"
    # a row moved to another client rebuilds the client that had it (owner changes reach revenue)
    assert {name: changed.get(client) for name, client in moved_cases.items()} == {
        "activities": False,
        "requests": False,
        "surveys": False,
        "owner_changes": True,
    }
    # each invoice case reaches the revenue models
    assert {case: {c for c in clients if not changed.get(c)} for case, clients in invoice_cases.items()} == {
        case: set() for case in invoice_cases
    }
    assert {case: changed.get(client) for case, client in owner_cases.items()} == {
        case: True for case in owner_cases
    }
    assert {c: changed.get(c) for c in client_cases["rebuilt"]} == dict.fromkeys(
        client_cases["rebuilt"], False
    )
    first_change = client_cases["rebuilt through revenue"]
    assert {c: changed.get(c) for c in first_change} == dict.fromkeys(first_change, True)
    assert not client_cases["not rebuilt"] & set(changed), "a reassignment after the window, an unread edit"
    assert contact_cases["rebuilt"] in changed, "the client of an activity whose contact changed role"
    assert contact_cases["not rebuilt"] not in changed, "a new contact that no activity names"
    assert contact_cases["phone edited"] not in changed, "a contact named by activities with a new phone"
    with psycopg.connect(warehouse) as conn:
        (known,) = conn.execute("select count(*) from staging.stg_crm__clients").fetchone()
    log = (tmp_path / "incremental" / "logs" / "dbt.log").read_text()
    revenue = sum(changed.values())
    assert 0 < revenue < len(changed)
    assert (
        f"client path: {len(changed)} of {known} clients changed, {revenue} of them through a revenue source"
        in log
    )
    revenue_rows = rows_written(tmp_path / "incremental", "int_client_month_revenue")
    client_rows = rows_written(tmp_path / "incremental", "client_month")
    assert 0 < revenue_rows < client_rows, "the revenue models rewrite only the revenue-changed clients"
    # the ABC ranking is redone for the months whose ranked clients or T12 moved (here every month:
    # the soft-deleted client leaves each of them; one month only: the next test)
    with psycopg.connect(warehouse) as conn:
        ranked_months, ranked_rows = conn.execute(
            "select count(distinct month), count(*) from intermediate.int_client_month_abc"
        ).fetchone()
        (changed_months,) = conn.execute("select count(*) from intermediate.int_changed_months").fetchone()
    assert 0 < changed_months <= ranked_months
    assert 0 < rows_written(tmp_path / "incremental", "int_client_month_abc") <= ranked_rows


DATED_ROWS = {
    "stg_crm__activities": "occurred_at",
    "stg_crm__requests": "created_at",
    "stg_crm__surveys": "responded_at",
    "stg_billing__invoices": "issued_at",
}


def assert_new_rows_after_the_window_change_no_client(warehouse: str, as_of_month) -> None:
    """The day's new activities, requests, surveys and invoices fall after as_of_month, and its
    invoices paid change nothing the client path reads: a client touched by nothing else is not
    rebuilt; every client touched otherwise is."""
    window_end = window_end_of(as_of_month)
    with psycopg.connect(warehouse) as conn:
        (since,) = conn.execute("select changes_loaded_from from intermediate.int_build_watermark").fetchone()
        changed = {c for (c,) in conn.execute("select client_id from intermediate.int_changed_clients")}
        touched: dict[str, set[str]] = {}
        for view, date_column in DATED_ROWS.items():
            paid = "status = 'paid'" if view == "stg_billing__invoices" else "false"
            for client_id, kind in conn.execute(
                f"select client_id, case when first_loaded_at >= %(since)s and {date_column} >= %(end)s "
                f"then 'new after the window' when first_loaded_at < %(since)s and {paid} "
                f"and {date_column} < %(end)s then 'paid' else 'other' end "
                f"from staging.{view} where loaded_at >= %(since)s",
                {"since": since, "end": window_end},
            ):
                touched.setdefault(client_id, set()).add(kind)
    pruned = set(touched) - changed
    assert any(touched[c] == {"new after the window"} for c in pruned), (
        "no client was spared by its new rows falling after the window"
    )
    assert any(touched[c] == {"paid"} for c in pruned), "no client was spared by an invoice paid"
    assert all("other" not in touched[c] for c in pruned), (
        "a client with an edit or an in-window row was skipped"
    )
    assert {c for c, kinds in touched.items() if "other" in kinds} <= changed


def net_revenue(warehouse: str, client_id: str, month) -> Decimal:
    with psycopg.connect(warehouse) as conn:
        (value,) = conn.execute(
            "select net_revenue from marts.client_month where client_id = %s and month = %s",
            (client_id, month),
        ).fetchone()
    return value


def test_a_load_that_commits_during_a_build_is_read_by_the_next(
    sources, built_warehouse: BuiltWarehouse, tmp_path: Path
) -> None:
    """A load transaction open while a build runs commits after it, with a `_loaded_at` older
    than rows the build saw: the next build still reads it (the watermark is the safe point,
    not the newest `_loaded_at`)."""
    as_of_month = last_complete_month(sources.data)
    warehouse, full_build = built_warehouse.url, built_warehouse.full_build
    with psycopg.connect(warehouse) as conn:
        line_id, client_id = conn.execute(
            "select invoice_line_id, client_id from intermediate.int_invoice_lines_credited "
            "where currency = 'RUB' and revenue_month = %s order by invoice_line_id limit 1",
            (as_of_month,),
        ).fetchone()
        # an activity of a client nothing else below touches, which the late load moves to this one
        activity_id, old_client = conn.execute(
            "select activity_id, client_id from intermediate.int_activities_live as moved "
            "where client_id <> %s and not exists ("
            "  select from intermediate.int_activities_live as other"
            "  where other.client_id = moved.client_id"
            "  and other.manager_id = (select min(id) from raw_crm.managers)"
            ") order by activity_id limit 1",
            (client_id,),
        ).fetchone()
    before = net_revenue(warehouse, client_id, as_of_month)

    late = psycopg.connect(warehouse)
    try:
        late.execute(
            "update raw_billing.invoice_lines set amount = amount + 1, _loaded_at = now() where id = %s",
            (line_id,),
        )
        late.execute(
            "update raw_crm.activities set client_id = %s, _loaded_at = now() where id = %s",
            (client_id, activity_id),
        )
        # another load commits after the late one began: the newest _loaded_at the build sees
        with psycopg.connect(warehouse, autocommit=True) as other:
            other.execute(
                "update raw_crm.managers set _loaded_at = now() "
                "where id = (select min(id) from raw_crm.managers)"
            )
        run_dbt(BUILD, warehouse, as_of_month, tmp_path / "during")
        assert net_revenue(warehouse, client_id, as_of_month) == before
        late.commit()
    finally:
        late.close()

    run_dbt(BUILD, warehouse, as_of_month, tmp_path / "after")
    assert net_revenue(warehouse, client_id, as_of_month) == before + Decimal("1.00")
    # the moved activity left its old client's rows for its new client's: one row, under the new one
    with psycopg.connect(warehouse) as conn:
        moved = conn.execute(
            "select client_id from intermediate.int_activities_live where activity_id = %s", (activity_id,)
        ).fetchall()
        old_client_rebuilt = conn.execute(
            "select from intermediate.int_changed_clients where client_id = %s", (old_client,)
        ).fetchall()
    assert moved == [(client_id,)]
    assert old_client_rebuilt == [()], "the client the activity moved from is rebuilt, and loses it"
    written = rows_written(tmp_path / "after", "client_month")
    assert 0 < written < sum(table_rows(warehouse, "client_month").values())
    # the data tests of client-path models read only the changed clients' rows on that run
    assert "int_changed_clients" in grain_test_sql(tmp_path / "after")
    assert "int_changed_clients" not in grain_test_sql(full_build)
    # client_month's row-wise tests read the rows this build stamped, with the stamp as a literal
    with psycopg.connect(warehouse) as conn:
        (stamp,) = conn.execute("select loaded_before from intermediate.int_build_watermark").fetchone()
        (stamped,) = conn.execute(
            "select count(*) from marts.client_month where _source_loaded_at = %s", (stamp,)
        ).fetchone()
    assert 0 < stamped < sum(table_rows(warehouse, "client_month").values())
    row_test = grain_test_sql(tmp_path / "after", "client_month_columns_not_null")
    assert "_source_loaded_at = cast(" in row_test and "int_changed_clients" not in row_test
    assert "_source_loaded_at = cast(" not in grain_test_sql(full_build, "client_month_columns_not_null")
    # and those of the revenue models only the clients a revenue source touched
    lines_test = grain_test_sql(tmp_path / "after", "unique_int_invoice_lines_credited_invoice_line_id")
    assert "reaches_revenue" in lines_test
    assert "reaches_revenue" not in grain_test_sql(tmp_path / "after")
    # the line moved T12 in as_of_month only: that month alone is ranked again, and tested,
    # and the ranking equals one made from scratch
    abc = "select * from intermediate.int_client_month_abc"
    with psycopg.connect(warehouse) as conn:
        months = [month for (month,) in conn.execute("select month from intermediate.int_changed_months")]
        ranked_by_month = Counter(conn.execute(abc).fetchall())
    assert months == [as_of_month]
    abc_test = "not_null_int_client_month_abc_month"
    assert "int_changed_months" in grain_test_sql(tmp_path / "after", abc_test)
    assert "int_changed_months" not in grain_test_sql(full_build, abc_test)
    run_dbt(
        ["run", "--select", "int_client_month_abc", "--full-refresh"],
        warehouse,
        as_of_month,
        tmp_path / "abc",
    )
    with psycopg.connect(warehouse) as conn:
        assert Counter(conn.execute(abc).fetchall()) == ranked_by_month


@pytest.mark.parametrize("stopped_run", [[], ["--full-refresh"]], ids=["by client", "full refresh"])
def test_a_build_that_stops_after_the_lines_hides_no_change_from_the_next(
    sources, built_warehouse: BuiltWarehouse, tmp_path: Path, stopped_run: list[str]
) -> None:
    """A build that rewrites int_invoice_lines_credited and stops before client_month leaves the
    lines and their parents ahead of client_month (`dbt run` of the lines and their parents stands
    for a build stopped there: a worker killed, a connection dropped). The next build must still
    rebuild the client of an invoice moved to an earlier month, although the credited invoices it
    compares edited invoices with already hold the new date: it repeats the stopped plan."""
    as_of_month = last_complete_month(sources.data)
    previous_month = (as_of_month - timedelta(days=1)).replace(day=1)
    warehouse = built_warehouse.url
    with psycopg.connect(warehouse) as conn:
        invoice_id, client_id, amount = conn.execute(
            "select lines.invoice_id, lines.client_id, sum(lines.amount) "
            "from intermediate.int_invoice_lines_credited as lines "
            "join marts.client_month as earlier on earlier.client_id = lines.client_id "
            "and earlier.month = %s "
            "where lines.currency = 'RUB' and lines.revenue_month = %s "
            "and extract(day from lines.issued_at at time zone 'UTC') <= 28 "
            "group by lines.invoice_id, lines.client_id order by lines.invoice_id limit 1",
            (previous_month, as_of_month),
        ).fetchone()
    before = {m: net_revenue(warehouse, client_id, m) for m in (previous_month, as_of_month)}
    with psycopg.connect(sources.billing) as conn:
        conn.execute(
            "update public.invoices set issued_at = issued_at - interval '1 month', "
            "updated_at = (select max(updated_at) from public.invoices) + interval '1 minute' "
            "where id = %s",
            (int(invoice_id),),
        )
    extract_everything(sources, warehouse, "run-2")

    run_dbt(
        ["run", "--select", "+int_invoice_lines_credited", *stopped_run],
        warehouse,
        as_of_month,
        tmp_path / "lines only",
    )
    run_dbt(BUILD, warehouse, as_of_month, tmp_path / "next")
    with psycopg.connect(warehouse) as conn:
        plan = conn.execute(
            "select is_full_build, carries_previous_plan from intermediate.int_build_watermark"
        ).fetchone()
    assert plan == ((True, False) if stopped_run else (False, True))
    assert net_revenue(warehouse, client_id, as_of_month) == before[as_of_month] - amount
    assert net_revenue(warehouse, client_id, previous_month) == before[previous_month] + amount


def grain_test_sql(
    target: Path, test: str = "unique_combination_of_columns_client_month_client_id__month"
) -> str:
    (path,) = (target / "run").rglob(f"{test}*.sql")
    return path.read_text()


def test_an_invoice_without_lines_moved_to_another_client_rebuilds_the_client_it_left(
    sources, built_warehouse: BuiltWarehouse, tmp_path: Path
) -> None:
    """An in-scope invoice without lines becomes a client's first (its first real invoice turns
    into a repeat order), then moves to another client. The plan finds the client it left in the
    invoices the last build credited (there are no credited lines to find it by), so that
    client's first real invoice is not a repeat order again, as a full build says."""
    as_of_month = last_complete_month(sources.data)
    warehouse = built_warehouse.url
    credited = (
        "select client_id, is_repeat_order from intermediate.int_invoices_credited where invoice_id = %s"
    )
    with psycopg.connect(warehouse) as conn:
        client_id, first_invoice, issued_at, currency = conn.execute(
            "select first.client_id, first.invoice_id, first.issued_at, first.currency "
            "from intermediate.int_invoices_credited as first "
            "where not first.is_repeat_order and exists ("
            "  select from intermediate.int_invoices_credited as later"
            "  where later.client_id = first.client_id and later.is_repeat_order) "
            "order by first.client_id limit 1"
        ).fetchone()
        other_client = conn.execute(
            "select min(client_id) from intermediate.int_invoices_credited where client_id <> %s",
            (client_id,),
        ).fetchone()[0]
    later_update = "(select max(updated_at) from public.invoices) + interval '1 minute'"
    with psycopg.connect(sources.billing) as conn:
        (lineless,) = conn.execute("select max(id) + 1 from public.invoices").fetchone()
        conn.execute(
            "insert into public.invoices (id, client_id, number, issued_at, due_at, currency, status, updated_at) "
            f"values (%s, %s, %s, %s, %s, %s, 'issued', {later_update})",
            (
                lineless,
                client_id,
                f"LINELESS-{lineless}",
                issued_at - timedelta(hours=1),
                issued_at,
                currency,
            ),
        )
    extract_everything(sources, warehouse, "run-2")
    run_dbt(BUILD, warehouse, as_of_month, tmp_path / "added")
    with psycopg.connect(warehouse) as conn:
        assert conn.execute(credited, (first_invoice,)).fetchone() == (client_id, True)
        assert conn.execute(credited, (lineless,)).fetchone() == (client_id, False)

    with psycopg.connect(sources.billing) as conn:
        conn.execute(
            f"update public.invoices set client_id = %s, updated_at = {later_update} where id = %s",
            (other_client, lineless),
        )
    extract_everything(sources, warehouse, "run-3")
    run_dbt(BUILD, warehouse, as_of_month, tmp_path / "moved")
    is_full_build, changed = plan_of(warehouse)
    assert not is_full_build
    assert {client_id, other_client} <= changed.keys()
    with psycopg.connect(warehouse) as conn:
        assert conn.execute(credited, (first_invoice,)).fetchone() == (client_id, False)
        assert conn.execute(credited, (lineless,)).fetchone()[0] == other_client


def plan_of(warehouse: str) -> tuple[bool, dict[str, bool]]:
    """Whether the last build was full, and the clients it rebuilt (reaches_revenue of each)."""
    with psycopg.connect(warehouse) as conn:
        (is_full_build,) = conn.execute(
            "select is_full_build from intermediate.int_build_watermark"
        ).fetchone()
        changed = dict(
            conn.execute("select client_id, reaches_revenue from intermediate.int_changed_clients")
        )
    return is_full_build, changed


def net_revenue_and_cost(warehouse: str, months: dict[str, date]) -> dict[str, tuple[Decimal, Decimal]]:
    """client_month's (net_revenue, cost) of each client at its month."""
    with psycopg.connect(warehouse) as conn:
        return {
            client: conn.execute(
                "select net_revenue, cost from marts.client_month where client_id = %s and month = %s",
                (client, month),
            ).fetchone()
            for client, month in months.items()
        }


def test_rows_that_leave_a_client_through_an_invoice_or_a_contact_rebuild_it(
    sources, built_warehouse: BuiltWarehouse, tmp_path: Path
) -> None:
    """Three ways a row leaves a client while no row of that client is loaded. A credit note and
    an invoice line moved to an invoice of another client: the plan finds the client the last
    build credited each to, whose month loses exactly that amount. And a client soft-deleted
    whose contact an activity of another client names: the contact goes with its client, so
    that activity's client is rebuilt and the activity has no buying role any more."""
    as_of_month = last_complete_month(sources.data)
    warehouse = built_warehouse.url
    with psycopg.connect(warehouse) as conn:
        note_id, note_client, note_month, note_amount = conn.execute(
            "select credit_note_id, client_id, revenue_month, amount_base"
            " from intermediate.int_credit_notes_credited order by credit_note_id limit 1"
        ).fetchone()
        line_id, line_client, line_month, line_amount, line_cost = conn.execute(
            "select invoice_line_id, client_id, revenue_month, amount_base, cost_amount_base"
            " from intermediate.int_invoice_lines_credited where client_id <> %s"
            " order by invoice_line_id limit 1",
            (note_client,),
        ).fetchone()
        taken = {note_client, line_client}
        note_target, line_target = (
            conn.execute(
                "select invoice_id from intermediate.int_invoices_credited where client_id <> all(%s)"
                " order by invoice_id limit 1 offset %s",
                (list(taken), offset),
            ).fetchone()[0]
            for offset in (0, 1)
        )
    months = {note_client: note_month, line_client: line_month}
    month_before = net_revenue_and_cost(warehouse, months)
    later_update = "(select max(updated_at) from public.{}) + interval '1 minute'"
    with psycopg.connect(sources.billing) as conn:
        conn.execute(
            f"update public.credit_notes set invoice_id = %s, updated_at = {later_update.format('credit_notes')}"
            " where id = %s",
            (note_target, note_id),
        )
        conn.execute(
            f"update public.invoice_lines set invoice_id = %s, updated_at = {later_update.format('invoice_lines')}"
            " where id = %s",
            (line_target, line_id),
        )
    # an activity of one client comes to name a decision maker of another (sources.md lets it)
    contacts = {c["id"]: c for c in read_entity(sources.data, entity("crm", "contacts"))}
    clients = {c["id"]: c for c in read_entity(sources.data, entity("crm", "clients"))}
    live = {c for c, row in clients.items() if row["deleted_at"] is None} - taken
    contact = next(
        c
        for c in sorted(contacts.values(), key=lambda c: c["id"])
        if c["deleted_at"] is None and c["buying_role"] == "decision_maker" and c["client_id"] in live
    )
    activities_entity = entity("crm", "activities")
    activities = list(read_entity(sources.data, activities_entity))
    activity = next(
        a
        for a in sorted(activities, key=lambda a: a["id"])
        if a["deleted_at"] is None and a["client_id"] in live - {contact["client_id"]}
    )
    activity.update(contact_id=contact["id"], updated_at=stamp_after(activities, minutes=1))
    write_entity(sources.data, activities_entity, activities)
    sources.crm.reload()
    extract_everything(sources, warehouse, "run-2")
    run_dbt(BUILD, warehouse, as_of_month, tmp_path / "moved")

    is_full_build, changed = plan_of(warehouse)
    assert not is_full_build
    assert changed.get(note_client) is True and changed.get(line_client) is True
    role = "select contact_buying_role from intermediate.int_activities_live where activity_id = %s"
    month_after = net_revenue_and_cost(warehouse, months)
    with psycopg.connect(warehouse) as conn:
        assert conn.execute(role, (activity["id"],)).fetchone() == ("decision_maker",)
    assert month_after[note_client] == (
        month_before[note_client][0] + note_amount,
        month_before[note_client][1],
    )
    assert month_after[line_client] == (
        month_before[line_client][0] - line_amount,
        month_before[line_client][1] - line_cost,
    )

    # the contact's client is soft-deleted: its contacts go with it
    clients_entity = entity("crm", "clients")
    deleted = {**clients[contact["client_id"]]}
    stamp = stamp_after(clients.values(), minutes=1)
    deleted.update(deleted_at=stamp, updated_at=stamp)
    write_entity(sources.data, clients_entity, [*clients.values(), deleted])
    sources.crm.reload()
    extract_everything(sources, warehouse, "run-3")
    run_dbt(BUILD, warehouse, as_of_month, tmp_path / "deleted")

    is_full_build, changed = plan_of(warehouse)
    assert not is_full_build
    assert changed.get(activity["client_id"]) is False, "the client of the activity naming the contact"
    with psycopg.connect(warehouse) as conn:
        assert conn.execute(role, (activity["id"],)).fetchone() == (None,)
