"""`dbt build` of the staging and intermediate layers on a small hand-made raw data set.

The data set (as_of_month 2026-03-01, reporting_tz UTC, base currency RUB):

Managers m1 (hired 2025-11-03), m2, m3 (soft-deleted: keeps its rows).
Clients:
  c1  owned by m1, then m2 from 2026-02-15 12:00 UTC (change oc1, written as 15:00+03:00).
  c2  no owner changes, clients.owner_id = m1.
  c3  soft-deleted: its invoice (GBP, no rate), line, credit note, change, contact and
      activity all vanish, and the missing GBP rate fails nothing.
  c4  two changes at the same instant 2026-01-10 00:00 UTC: oc10 (m1 -> m2) and oc9
      (m2 -> m3); in byte order 'oc10' < 'oc9', so oc9 is later and m3 owns c4 from then;
      before, oc10's old owner m1.
USD rates: Fri 2026-02-20 92.5, Mon 02-23 93.0, Fri 02-27 94.0, Mon 03-02 95.0.

Invoices (in scope = issued/paid) and their lines, amount / cost:
  1  c1 2026-02-10 RUB paid    1000.00/400.00 + 500.00/100.00     -> m1 (owner before the change)
  2  c1 2026-02-22 USD issued  100.00/30.00 at Friday's 92.5      -> m2: 9250.000 / 2775.000
  3  c1 draft EUR, 4 c1 void EUR (no EUR rate at all: nothing fails)
  5  c2 2026-03-05 RUB         2000.00/1500.00                    -> m1 (clients.owner_id)
  7  c4 2026-01-10 00:00 RUB   300.00/0.00                        -> m3 (tie, at the instant)
  8  c4 2026-01-09 23:59:59    200.00/50.00                       -> m1 (before the change)
  9  c2 2026-04-02 CHF         after as_of_month: no line in the window, no rate needed
Credit notes:
  101 on invoice 2, Sunday 2026-03-01, 10.00 USD at Friday 27 Feb's 94.0 = 940.000 -> m2, March
  102 on invoice 1, 2026-03-10, 250.00 RUB -> m1 (the original credit; m2 owns c1 by then)

Hand-worked results:
  N(c4, Jan) = 300.00 + 200.00 = 500.00, C = 50.00
  N(c1, Feb) = 1000.00 + 500.00 + 9250.000 = 10750.000, C = 400.00 + 100.00 + 2775.000 = 3275.000
  N(c1, Mar) = -(940.000 + 250.00) = -1190.000, C = 0
  N(c2, Mar) = 2000.00, C = 1500.00
  R(m1, Jan) = 200.00, R(m3, Jan) = 300.00, R(m1, Feb) = 1500.00, R(m2, Feb) = 9250.000,
  R(m1, Mar) = 2000.00 - 250.00 = 1750.00, R(m2, Mar) = -940.000
  Month spine: 2025-11-01 (m1's hire) .. 2026-03-01 = 5 months.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from tests.integration.conftest import create_database, drop_database
from warehouse.dbt import PROJECT_DIR, DbtRunError, default_as_of_month, profile_env, run_dbt
from warehouse.raw import ensure_raw_layer

AS_OF_MONTH = date(2026, 3, 1)

RAW_DATA = """
insert into raw_crm.managers (id, full_name, role, hired_at, updated_at, deleted_at, _record, _run_id) values
    ('m1', 'Anna', 'am', '2025-11-03T09:00:00Z', '2026-01-01Z', null, '{}', 't'),
    ('m2', 'Boris', 'kam', '2025-12-01T09:00:00Z', '2026-01-01Z', null, '{}', 't'),
    ('m3', 'Vera', 'lead', '2025-12-01T09:00:00Z', '2026-03-20Z', '2026-03-20T10:00:00Z', '{}', 't');

insert into raw_crm.clients
    (id, name, segment, created_at, status, owner_id, is_vip, updated_at, deleted_at, _record, _run_id)
values
    ('c1', 'One', 'b2b', '2025-12-10T10:00:00Z', 'active', 'm2', false, '2026-02-15Z', null, '{}', 't'),
    ('c2', 'Two', 'b2b', '2026-01-15T10:00:00Z', 'active', 'm1', false, '2026-01-15Z', null, '{}', 't'),
    ('c3', 'Gone', 'b2c', '2025-12-01T10:00:00Z', 'active', 'm1', true, '2026-03-05Z', '2026-03-05T10:00:00Z',
     '{}', 't'),
    ('c4', 'Four', 'b2b', '2025-12-20T10:00:00Z', 'active', 'm3', false, '2026-01-10Z', null, '{}', 't');

insert into raw_crm.owner_changes
    (id, client_id, old_owner_id, new_owner_id, changed_at, updated_at, _record, _run_id)
values
    ('oc1', 'c1', 'm1', 'm2', '2026-02-15T15:00:00+03:00', '2026-02-15Z', '{}', 't'),
    ('oc9', 'c4', 'm2', 'm3', '2026-01-10T00:00:00Z', '2026-01-10Z', '{}', 't'),
    ('oc10', 'c4', 'm1', 'm2', '2026-01-10T00:00:00Z', '2026-01-10Z', '{}', 't'),
    ('oc3', 'c3', null, 'm1', '2025-12-01T10:00:00Z', '2025-12-01Z', '{}', 't');

insert into raw_crm.contacts
    (id, client_id, full_name, buying_role, is_active, updated_at, deleted_at, _record, _run_id)
values
    ('ct1', 'c1', 'Dana', 'decision_maker', true, '2026-01-01Z', null, '{}', 't'),
    ('ct2', 'c1', 'Egor', 'budget_holder', true, '2026-02-01Z', '2026-02-01T00:00:00Z', '{}', 't'),
    ('ct3', 'c3', 'Fedor', 'user', true, '2026-01-01Z', null, '{}', 't');

insert into raw_crm.activities
    (id, client_id, manager_id, contact_id, type, occurred_at, duration_min, updated_at, deleted_at,
     _record, _run_id)
values
    ('a1', 'c1', 'm2', 'ct1', 'call', '2026-03-02T10:00:00Z', 30, '2026-03-02Z', null, '{}', 't'),
    ('a2', 'c1', 'm2', 'ct2', 'email', '2026-03-03T10:00:00Z', 5, '2026-03-03Z', null, '{}', 't'),
    ('a3', 'c3', 'm1', 'ct3', 'call', '2026-02-03T10:00:00Z', 15, '2026-02-03Z', null, '{}', 't'),
    ('a4', 'c1', 'm1', null, 'call', '2026-02-04T10:00:00Z', 15, '2026-02-05Z', '2026-02-05T00:00:00Z',
     '{}', 't'),
    ('a5', 'c4', 'm3', null, 'meeting_in_person', '2026-01-20T10:00:00Z', 60, '2026-01-20Z', null, '{}', 't');

insert into raw_billing.products (id, name, product_line, updated_at, _run_id) values
    (1, 'Support', 'services', '2025-01-01Z', 't');

insert into raw_billing.invoices (id, client_id, number, issued_at, currency, status, updated_at, _run_id) values
    (1, 'c1', 'INV-1', '2026-02-10T09:00:00Z', 'RUB', 'paid', '2026-02-10Z', 't'),
    (2, 'c1', 'INV-2', '2026-02-22T10:00:00Z', 'USD', 'issued', '2026-02-22Z', 't'),
    (3, 'c1', 'INV-3', null, 'EUR', 'draft', '2026-02-23Z', 't'),
    (4, 'c1', 'INV-4', '2026-02-05T09:00:00Z', 'EUR', 'void', '2026-02-06Z', 't'),
    (5, 'c2', 'INV-5', '2026-03-05T08:00:00Z', 'RUB', 'issued', '2026-03-05Z', 't'),
    (6, 'c3', 'INV-6', '2026-02-10T09:00:00Z', 'GBP', 'issued', '2026-02-10Z', 't'),
    (7, 'c4', 'INV-7', '2026-01-10T00:00:00Z', 'RUB', 'issued', '2026-01-10Z', 't'),
    (8, 'c4', 'INV-8', '2026-01-09T23:59:59Z', 'RUB', 'paid', '2026-01-10Z', 't'),
    (9, 'c2', 'INV-9', '2026-04-02T09:00:00Z', 'CHF', 'issued', '2026-04-02Z', 't');

insert into raw_billing.invoice_lines
    (id, invoice_id, product_id, quantity, unit_price, amount, cost_amount, updated_at, _run_id)
values
    (11, 1, 1, 1, 1000.00, 1000.00, 400.00, '2026-02-10Z', 't'),
    (12, 1, 1, 1, 500.00, 500.00, 100.00, '2026-02-10Z', 't'),
    (21, 2, 1, 1, 100.00, 100.00, 30.00, '2026-02-22Z', 't'),
    (31, 3, 1, 1, 50.00, 50.00, 0.00, '2026-02-23Z', 't'),
    (41, 4, 1, 1, 70.00, 70.00, 0.00, '2026-02-05Z', 't'),
    (51, 5, 1, 2, 1000.00, 2000.00, 1500.00, '2026-03-05Z', 't'),
    (61, 6, 1, 1, 999.00, 999.00, 0.00, '2026-02-10Z', 't'),
    (71, 7, 1, 1, 300.00, 300.00, 0.00, '2026-01-10Z', 't'),
    (81, 8, 1, 1, 200.00, 200.00, 50.00, '2026-01-10Z', 't'),
    (91, 9, 1, 1, 10.00, 10.00, 0.00, '2026-04-02Z', 't');

insert into raw_billing.credit_notes (id, invoice_id, issued_at, amount, updated_at, _run_id) values
    (101, 2, '2026-03-01T11:00:00Z', 10.00, '2026-03-01Z', 't'),
    (102, 1, '2026-03-10T09:00:00Z', 250.00, '2026-03-10Z', 't'),
    (103, 4, '2026-02-06T09:00:00Z', 5.00, '2026-02-06Z', 't'),
    (104, 6, '2026-02-11T09:00:00Z', 5.00, '2026-02-11Z', 't');

insert into raw_billing.fx_rates (currency, rate_date, rate_to_base, updated_at, _run_id) values
    ('USD', '2026-02-20', 92.5, '2026-02-20Z', 't'),
    ('USD', '2026-02-23', 93.0, '2026-02-23Z', 't'),
    ('USD', '2026-02-27', 94.0, '2026-02-27Z', 't'),
    ('USD', '2026-03-02', 95.0, '2026-03-02Z', 't');
"""


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture(scope="module")
def built(pg_cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A fresh warehouse with the raw data set above, after one successful `dbt build`."""
    url = create_database(pg_cluster, "dbt_build")
    target = tmp_path_factory.mktemp("dbt-target")
    try:
        with psycopg.connect(url) as conn:
            ensure_raw_layer(conn)
            conn.execute(RAW_DATA)
        run_dbt(["build"], url, AS_OF_MONTH, target)
        shutil.copyfile(target / "run_results.json", target / "build_run_results.json")
        yield url, target
    finally:
        drop_database(pg_cluster, url)


def rows(url: str, query: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


@pytest.mark.integration
def test_the_build_runs_every_unit_test(built: tuple[str, Path]) -> None:
    """This module's build is where the suite runs the dbt unit tests (the other builds leave them
    out: they do not depend on the data): every unit test of the project ran, and passed."""
    _, target = built
    results = json.loads((target / "build_run_results.json").read_text())["results"]
    ran = {r["unique_id"]: r["status"] for r in results if r["unique_id"].startswith("unit_test.")}
    defined = set(json.loads((target / "manifest.json").read_text())["unit_tests"])
    assert len(defined) >= 60
    assert set(ran) == defined
    assert set(ran.values()) == {"pass"}


@pytest.mark.integration
def test_parse_is_clean(built: tuple[str, Path]) -> None:
    """`dbt parse` has no warning (deprecations, unused config paths): --warn-error turns one into a failure."""
    url, target = built
    run_dbt(["parse", "--warn-error", "--no-partial-parse"], url, AS_OF_MONTH, target)


@pytest.mark.integration
def test_every_table_the_build_writes_has_planner_statistics(built: tuple[str, Path]) -> None:
    """The next models and tests of a build read a table it just wrote: each is analyzed then."""
    url, _ = built
    unanalyzed = rows(
        url,
        "select schemaname || '.' || relname from pg_stat_user_tables"
        " where schemaname in ('intermediate', 'marts') and last_analyze is null order by 1",
    )
    tables = rows(url, "select count(*) from pg_tables where schemaname in ('intermediate', 'marts')")
    assert tables[0][0] > 30
    assert unanalyzed == []


@pytest.mark.integration
@pytest.mark.parametrize(
    ("extra_vars", "full"),
    [({}, False), ({"stakeholder_window_days": 30}, True), ({"growth_target": 0.3}, False)],
)
def test_a_var_of_a_model_rebuilt_by_client_plans_a_full_build(
    built: tuple[str, Path], tmp_path: Path, extra_vars: dict, full: bool
) -> None:
    """stakeholder_window_days shapes int_manager_portfolio_month, rebuilt by client: a change of it
    rebuilds every client; growth_target is only read by manager_month, rebuilt in full anyway."""
    url, _ = built
    run_dbt(["compile", "--select", "int_build_watermark"], url, AS_OF_MONTH, tmp_path, extra_vars=extra_vars)
    compiled = next(tmp_path.glob("compiled/**/int_build_watermark.sql")).read_text()
    assert (f"{'true' if full else 'false'} as is_full_build") in compiled


@pytest.mark.integration
def test_net_revenue_and_cost_per_client_month(built: tuple[str, Path]) -> None:
    """N and C as worked in the module docstring; c3 (soft-deleted) has no row."""
    url, _ = built
    got = rows(
        url,
        "select client_id, month, invoiced_revenue, credit_notes, net_revenue, cost "
        "from intermediate.int_client_revenue_month order by client_id, month",
    )
    assert got == [
        (
            "c1",
            date(2026, 2, 1),
            Decimal("10750.000"),
            Decimal("0"),
            Decimal("10750.000"),
            Decimal("3275.000"),
        ),
        ("c1", date(2026, 3, 1), Decimal("0"), Decimal("1190.000"), Decimal("-1190.000"), Decimal("0")),
        ("c2", date(2026, 3, 1), Decimal("2000.00"), Decimal("0"), Decimal("2000.00"), Decimal("1500.00")),
        ("c4", date(2026, 1, 1), Decimal("500.00"), Decimal("0"), Decimal("500.00"), Decimal("50.00")),
    ]


@pytest.mark.integration
def test_credit_note_follows_original_owner(built: tuple[str, Path]) -> None:
    """R(m1, Mar) = 2000.00 - 250.00: the credit note on m1's February invoice stays with m1."""
    url, _ = built
    got = rows(
        url,
        "select manager_id, month, credited_revenue from intermediate.int_manager_revenue_month "
        "order by month, manager_id",
    )
    assert got == [
        ("m1", date(2026, 1, 1), Decimal("200.00")),
        ("m3", date(2026, 1, 1), Decimal("300.00")),
        ("m1", date(2026, 2, 1), Decimal("1500.00")),
        ("m2", date(2026, 2, 1), Decimal("9250.000")),
        ("m1", date(2026, 3, 1), Decimal("1750.00")),
        ("m2", date(2026, 3, 1), Decimal("-940.000")),
    ]
    credit_notes = rows(
        url,
        "select credit_note_id, credited_manager_id, revenue_month, fx_rate_date, amount_base "
        "from intermediate.int_credit_notes_credited order by credit_note_id",
    )
    assert credit_notes == [
        (101, "m2", date(2026, 3, 1), date(2026, 2, 27), Decimal("940.000")),
        (102, "m1", date(2026, 3, 1), None, Decimal("250.00")),
    ]


@pytest.mark.integration
def test_ownership_intervals(built: tuple[str, Path]) -> None:
    """Mid-month change (c1), no changes (c2), a tie broken by id in byte order (c4), no c3."""
    url, _ = built
    got = rows(
        url,
        "select client_id, manager_id, valid_from, valid_to from intermediate.int_client_ownership "
        "order by client_id, valid_from nulls first",
    )
    assert got == [
        ("c1", "m1", None, utc(2026, 2, 15, 12)),
        ("c1", "m2", utc(2026, 2, 15, 12), None),
        ("c2", "m1", None, None),
        ("c4", "m1", None, utc(2026, 1, 10)),
        ("c4", "m3", utc(2026, 1, 10), None),
    ]


@pytest.mark.integration
def test_invoices_credited_by_owner_at_issue(built: tuple[str, Path]) -> None:
    """Owner at issued_at (changed_at <= t), repeat orders; drafts, voids and c3's invoice are out."""
    url, _ = built
    got = rows(
        url,
        "select invoice_id, credited_manager_id, revenue_month, is_repeat_order "
        "from intermediate.int_invoices_credited order by invoice_id",
    )
    assert got == [
        (1, "m1", date(2026, 2, 1), False),
        (2, "m2", date(2026, 2, 1), True),
        (5, "m1", date(2026, 3, 1), False),
        (7, "m3", date(2026, 1, 1), True),
        (8, "m1", date(2026, 1, 1), False),
        (9, "m1", date(2026, 4, 1), True),
    ]
    lines = rows(url, "select invoice_line_id from intermediate.int_invoice_lines_credited order by 1")
    assert [line for (line,) in lines] == [11, 12, 21, 51, 71, 81]


@pytest.mark.integration
def test_fx_weekend_takes_the_latest_earlier_rate(built: tuple[str, Path]) -> None:
    """USD days run from the first rate (20 Feb) to the end of as_of_month: 9 + 31 = 40 days."""
    url, _ = built
    got = rows(
        url,
        "select rate_day, rate_date, rate_to_base from intermediate.int_fx_rates_daily "
        "where currency = 'USD' and rate_day in ('2026-02-22', '2026-03-01', '2026-03-31') order by 1",
    )
    assert got == [
        (date(2026, 2, 22), date(2026, 2, 20), Decimal("92.5")),
        (date(2026, 3, 1), date(2026, 2, 27), Decimal("94.0")),
        (date(2026, 3, 31), date(2026, 3, 2), Decimal("95.0")),
    ]
    assert rows(url, "select currency, count(*) from intermediate.int_fx_rates_daily group by 1") == [
        ("USD", 40)
    ]
    line = rows(
        url,
        "select fx_rate_date, rate_to_base, amount_base, cost_amount_base "
        "from intermediate.int_invoice_lines_credited where invoice_line_id = 21",
    )
    assert line == [(date(2026, 2, 20), Decimal("92.5"), Decimal("9250.000"), Decimal("2775.000"))]


@pytest.mark.integration
def test_month_spine_ends_at_as_of_month(built: tuple[str, Path]) -> None:
    url, _ = built
    got = rows(url, "select month, is_as_of_month from intermediate.int_month_spine order by month")
    assert [m for m, _ in got] == [
        date(2025, 11, 1),
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
        AS_OF_MONTH,
    ]
    assert [flag for _, flag in got] == [False, False, False, False, True]


@pytest.mark.integration
def test_soft_deleted_client_rows_vanish(built: tuple[str, Path]) -> None:
    """c3's rows are nowhere; ct2 (soft-deleted contact) leaves a2 counting with no buying role."""
    url, _ = built
    for model in (
        "int_clients_live",
        "int_owner_changes_live",
        "int_contacts_live",
        "int_activities_live",
        "int_invoices_live",
    ):
        assert rows(url, f"select count(*) from intermediate.{model} where client_id = 'c3'") == [(0,)], model
    got = rows(
        url, "select activity_id, contact_buying_role from intermediate.int_activities_live order by 1"
    )
    assert got == [("a1", "decision_maker"), ("a2", None), ("a5", None)]
    assert rows(url, "select count(*) from staging.stg_crm__managers where is_deleted") == [(1,)]


@pytest.mark.integration
def test_missing_fx_rate_fails_naming_currency_and_date(built: tuple[str, Path]) -> None:
    """An in-scope EUR invoice with no EUR rate fails the build; the last good table stays."""
    url, target = built
    with psycopg.connect(url) as conn:
        conn.execute(
            "insert into raw_billing.invoices (id, client_id, number, issued_at, currency, status, updated_at, "
            "_run_id) values (10, 'c2', 'INV-10', '2026-03-03T10:00:00Z', 'EUR', 'issued', '2026-03-03Z', 't')"
        )
        conn.execute(
            "insert into raw_billing.invoice_lines (id, invoice_id, product_id, quantity, unit_price, amount, "
            "cost_amount, updated_at, _run_id) values (101, 10, 1, 1, 10.00, 10.00, 0.00, '2026-03-03Z', 't')"
        )
    try:
        with pytest.raises(DbtRunError) as failure:
            run_dbt(["run", "--select", "+int_invoice_lines_credited"], url, AS_OF_MONTH, target)
        message = str(failure.value)
        assert "model.account_management.int_invoice_lines_credited" in message
        assert "EUR on 2026-03-03 (1 rows)" in message
        assert rows(url, "select count(*) from intermediate.int_invoice_lines_credited") == [(6,)]
    finally:
        with psycopg.connect(url) as conn:
            conn.execute("delete from raw_billing.invoice_lines where id = 101")
            conn.execute("delete from raw_billing.invoices where id = 10")


@pytest.mark.integration
def test_models_fail_clearly_without_as_of_month(
    built: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Called without --vars, a model that needs as_of_month stops with a message saying how to pass it."""
    from dbt.cli.main import dbtRunner

    url, target = built
    for key, value in profile_env(url).items():
        monkeypatch.setenv(key, value)
    folder = target / "without-vars"
    folders = ["--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR)]
    outputs = ["--target-path", str(folder), "--log-path", str(folder)]
    result = dbtRunner().invoke(["compile", "--select", "int_month_spine", *folders, *outputs])
    assert not result.success
    messages = [str(result.exception)] + [str(r.message) for r in getattr(result.result, "results", [])]
    assert any("var 'as_of_month' is not set" in m for m in messages), messages


def test_default_as_of_month_is_the_month_before(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WAREHOUSE_AS_OF_MONTH", raising=False)
    assert default_as_of_month(date(2026, 11, 1)) == date(2026, 10, 1)
    assert default_as_of_month(datetime(2026, 1, 15, 3, tzinfo=UTC)) == date(2025, 12, 1)
    # 02:00 UTC on 1 November is still 31 October in New York, whose October is not complete yet
    assert default_as_of_month(datetime(2026, 11, 1, 2, tzinfo=UTC), "America/New_York") == date(2026, 9, 1)
    assert default_as_of_month(datetime(2026, 11, 1, 2, tzinfo=UTC), "UTC") == date(2026, 10, 1)
    # 22:00 UTC on 31 October is 1 November in Moscow: October is complete there
    assert default_as_of_month(datetime(2026, 10, 31, 22, tzinfo=UTC), "Europe/Moscow") == date(2026, 10, 1)
    # without a zone given, the project's (UTC)
    assert default_as_of_month(datetime(2026, 10, 31, 22, tzinfo=UTC)) == date(2026, 9, 1)
    monkeypatch.setenv("WAREHOUSE_AS_OF_MONTH", "2026-09-01")
    assert default_as_of_month(date(2026, 11, 1)) == date(2026, 9, 1)


def test_profile_env_from_a_libpq_url() -> None:
    assert profile_env("postgresql://am%40x:p%3Ass@db.example:6543/warehouse?sslmode=require") == {
        "WAREHOUSE_DB_HOST": "db.example",
        "WAREHOUSE_DB_PORT": "6543",
        "WAREHOUSE_DB_USER": "am@x",
        "WAREHOUSE_DB_PASSWORD": "p:ss",
        "WAREHOUSE_DB_NAME": "warehouse",
        "WAREHOUSE_DB_SSLMODE": "require",
    }
    assert profile_env("postgresql://postgres@127.0.0.1/w")["WAREHOUSE_DB_PORT"] == "5432"
    with pytest.raises(ValueError, match="no dbname"):
        profile_env("postgresql://postgres@127.0.0.1:5432")


def test_run_dbt_rejects_a_day_that_is_not_the_first() -> None:
    with pytest.raises(ValueError, match="first day of a month"):
        run_dbt(["build"], "postgresql://postgres@127.0.0.1/w", date(2026, 3, 2))
