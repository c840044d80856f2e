"""`dbt build` of the client marts (client_month, revenue_movements, cohort_retention) on a hand-made raw data set.

The data set (as_of_month 2026-06-01, reporting_tz UTC, base currency RUB, activity window 3):

Managers m1 (am, 1200/h) and m2 (kam, 1800/h), both hired 2025-01-10 (the spine starts 2025-01).
Clients (wallet estimate):
  alpha    owner m1 (no changes), VIP, 4000.00: billed quarterly, 1000.00 (cost 400.00) in Jan and Apr 2026.
  bravo    m1, then m2 from 2026-03-15 10:00 (oc1); no estimate: 500.00 in Jan and Feb (cost 100.00
           each), 300.00 (cost 50.00) in June.
  charlie  unassigned, 10000.00: 100.00 USD on 2026-02-10 at 90.0 (the 2 Feb rate) = 9000.000 (cost
           30.00 USD = 2700.000); a credit note of 10.00 USD on 2026-03-10 at 95.0 = 950.000.
  delta    owner m2, estimate 0: an invoice of 10 Jan without lines and a credit note of 40.00 on it on
           20 Jan (N(Jan) = -40.00, before F); 500.00 (cost 200.00) in February.
A draft invoice of alpha (777.00) is out of scope.

Net revenue N (months without revenue are 0) and first revenue month F:
  alpha   Jan 1000.00, Apr 1000.00                 F = Jan
  bravo   Jan 500.00, Feb 500.00, Jun 300.00         F = Jan
  charlie Feb 9000.000, Mar -950.000                 F = Feb
  delta   (Jan -40.00), Feb 500.00                   F = Feb
Activity (N over the last three months > 0) and status, revenue_change (N at F: the months before F
are outside the movements), lifetime:
  alpha   active every month (quarterly billing is not churn): Jan new +1000.00, Feb contraction
          -1000.00, Mar none, Apr expansion +1000.00, May contraction -1000.00, Jun none; lifetime 1..6.
  bravo   Jan new +500.00, Feb none, Mar contraction -500.00, Apr none (Feb..Apr = 500), May churned
          (Mar..May = 0) 0, Jun reactivated +300.00; lifetime 1, 2, 3, 4, 4 (Jan..Apr), 6 (Jan..Jun).
  charlie Feb new +9000.000, Mar contraction -9950.000 (Jan..Mar = 8050), Apr expansion +950.000,
          May churned (Mar..May = -950), Jun inactive; lifetime 1, 2, 3, then 3, 3.
  delta   Feb new +500.00 (not 540.00) with T12 460.00, Mar contraction -500.00, Apr none, May
          churned, Jun inactive; lifetime 1, 2, 3, 3, 3.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from tests.integration.conftest import create_database, drop_database
from tests.integration.test_dbt_build import rows
from warehouse.dbt import DbtRunError, run_dbt
from warehouse.raw import ensure_raw_layer

pytestmark = pytest.mark.integration

AS_OF_MONTH = date(2026, 6, 1)
JAN, FEB, MAR, APR, MAY, JUN = (date(2026, month, 1) for month in range(1, 7))

RAW_DATA = """
insert into raw_crm.managers (id, full_name, role, hired_at, updated_at, deleted_at, _record, _run_id) values
    ('m1', 'Anna', 'am', '2025-01-10T09:00:00Z', '2025-01-10Z', null, '{}', 't'),
    ('m2', 'Boris', 'kam', '2025-01-10T09:00:00Z', '2025-01-10Z', null, '{}', 't');

insert into raw_crm.clients
    (id, name, segment, created_at, status, owner_id, is_vip, wallet_estimate, updated_at, deleted_at,
     _record, _run_id)
values
    ('alpha', 'Alpha', 'b2b', '2025-06-01T10:00:00Z', 'active', 'm1', true, 4000.00, '2025-06-01Z', null, '{}', 't'),
    ('bravo', 'Bravo', 'b2b', '2025-06-01T10:00:00Z', 'active', 'm2', false, null, '2026-03-15Z', null, '{}', 't'),
    ('charlie', 'Charlie', 'b2c', '2025-06-01T10:00:00Z', 'active', null, false, 10000.00, '2025-06-01Z', null,
     '{}', 't'),
    ('delta', 'Delta', 'b2c', '2025-06-01T10:00:00Z', 'active', 'm2', false, 0, '2025-06-01Z', null, '{}', 't');

insert into raw_crm.owner_changes
    (id, client_id, old_owner_id, new_owner_id, changed_at, updated_at, _record, _run_id)
values
    ('oc1', 'bravo', 'm1', 'm2', '2026-03-15T10:00:00Z', '2026-03-15Z', '{}', 't');

insert into raw_crm.activities
    (id, client_id, manager_id, contact_id, type, occurred_at, duration_min, updated_at, deleted_at,
     _record, _run_id)
values
    ('a1', 'alpha', 'm1', null, 'meeting_in_person', '2026-05-13T10:00:00Z', 60, '2026-05-13Z', null, '{}', 't'),
    ('a2', 'alpha', 'm2', null, 'call', '2025-07-01T00:00:00Z', 30, '2025-07-01Z', null, '{}', 't'),
    ('a3', 'alpha', 'm1', null, 'call', '2025-06-30T23:59:00Z', 15, '2025-06-30Z', null, '{}', 't');

insert into raw_crm.requests
    (id, client_id, manager_id, priority, channel, created_at, first_response_at, resolved_at, updated_at,
     _record, _run_id)
values
    ('r1', 'alpha', 'm1', 'high', 'email', '2026-06-10T09:00:00Z', '2026-06-10T11:00:00Z', null, '2026-06-10Z',
     '{}', 't'),
    ('r2', 'alpha', 'm1', 'normal', 'phone', '2026-04-10T09:00:00Z', '2026-04-11T15:00:00Z', null, '2026-04-11Z',
     '{}', 't');

insert into raw_crm.surveys (id, client_id, contact_id, kind, score, responded_at, updated_at, _record, _run_id)
values
    ('s1', 'alpha', null, 'nps', 9, '2026-02-01T10:00:00Z', '2026-02-01Z', '{}', 't');

insert into raw_billing.products (id, name, product_line, updated_at, _run_id) values
    (1, 'Support', 'services', '2025-01-01Z', 't');

insert into raw_billing.invoices (id, client_id, number, issued_at, currency, status, updated_at, _run_id) values
    (1, 'alpha', 'INV-1', '2026-01-15T09:00:00Z', 'RUB', 'paid', '2026-01-15Z', 't'),
    (2, 'alpha', 'INV-2', '2026-04-15T09:00:00Z', 'RUB', 'issued', '2026-04-15Z', 't'),
    (3, 'bravo', 'INV-3', '2026-01-20T09:00:00Z', 'RUB', 'paid', '2026-01-20Z', 't'),
    (4, 'bravo', 'INV-4', '2026-02-20T09:00:00Z', 'RUB', 'paid', '2026-02-20Z', 't'),
    (5, 'bravo', 'INV-5', '2026-06-05T09:00:00Z', 'RUB', 'issued', '2026-06-05Z', 't'),
    (6, 'charlie', 'INV-6', '2026-02-10T09:00:00Z', 'USD', 'issued', '2026-02-10Z', 't'),
    (7, 'delta', 'INV-7', '2026-01-10T09:00:00Z', 'RUB', 'issued', '2026-01-10Z', 't'),
    (8, 'delta', 'INV-8', '2026-02-10T09:00:00Z', 'RUB', 'paid', '2026-02-10Z', 't'),
    (9, 'alpha', 'INV-9', null, 'RUB', 'draft', '2026-05-05Z', 't');

insert into raw_billing.invoice_lines
    (id, invoice_id, product_id, quantity, unit_price, amount, cost_amount, updated_at, _run_id)
values
    (11, 1, 1, 1, 1000.00, 1000.00, 400.00, '2026-01-15Z', 't'),
    (21, 2, 1, 1, 1000.00, 1000.00, 400.00, '2026-04-15Z', 't'),
    (31, 3, 1, 1, 500.00, 500.00, 100.00, '2026-01-20Z', 't'),
    (41, 4, 1, 1, 500.00, 500.00, 100.00, '2026-02-20Z', 't'),
    (51, 5, 1, 1, 300.00, 300.00, 50.00, '2026-06-05Z', 't'),
    (61, 6, 1, 1, 100.00, 100.00, 30.00, '2026-02-10Z', 't'),
    (81, 8, 1, 1, 500.00, 500.00, 200.00, '2026-02-10Z', 't'),
    (91, 9, 1, 1, 777.00, 777.00, 0.00, '2026-05-05Z', 't');

insert into raw_billing.credit_notes (id, invoice_id, issued_at, amount, updated_at, _run_id) values
    (101, 6, '2026-03-10T09:00:00Z', 10.00, '2026-03-10Z', 't'),
    (102, 7, '2026-01-20T09:00:00Z', 40.00, '2026-01-20Z', 't');

insert into raw_billing.fx_rates (currency, rate_date, rate_to_base, updated_at, _run_id) values
    ('USD', '2026-02-02', 90.0, '2026-02-02Z', 't'),
    ('USD', '2026-03-01', 95.0, '2026-03-01Z', 't');
"""


@pytest.fixture(scope="module")
def built(pg_cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh warehouse with the raw data set above, after `dbt build` of the client marts and everything upstream.

    `cautious` indirect selection keeps the tests of models not built here (the manager marts) out,
    while the singular reconciliation tests, whose parents are all selected, run.
    """
    url = create_database(pg_cluster, "client_marts")
    target = tmp_path_factory.mktemp("dbt-target-client-marts")
    try:
        with psycopg.connect(url) as conn:
            ensure_raw_layer(conn)
            conn.execute(RAW_DATA)
        run_dbt(
            [
                "build",
                "--select",
                "+client_month",
                "+revenue_movements",
                "+cohort_retention",
                "--indirect-selection",
                "cautious",
                # the unit tests run once, in test_dbt_build
                "--exclude-resource-type",
                "unit_test",
            ],
            url,
            AS_OF_MONTH,
            target,
        )
        yield url
    finally:
        drop_database(pg_cluster, url)


def test_quarterly_billing_is_not_churn(built: str) -> None:
    """alpha, billed in Jan and Apr, is active every month; its movements are contraction / none / expansion.

    T12 of June = 1000.00 + 1000.00 = 2000.00; lifetime counts Jan..Jun = 6.
    """
    got = rows(
        built,
        "select month, net_revenue, t12_revenue, is_active, status, revenue_change, movement_bucket, "
        "lifetime_months, owner_id from marts.client_month where client_id = 'alpha' order by month",
    )
    assert got == [
        (JAN, Decimal("1000.00"), Decimal("1000.00"), True, "new", Decimal("1000.00"), "new", 1, "m1"),
        (
            FEB,
            Decimal("0"),
            Decimal("1000.00"),
            True,
            "retained",
            Decimal("-1000.00"),
            "contraction",
            2,
            "m1",
        ),
        (MAR, Decimal("0"), Decimal("1000.00"), True, "retained", Decimal("0"), None, 3, "m1"),
        (
            APR,
            Decimal("1000.00"),
            Decimal("2000.00"),
            True,
            "retained",
            Decimal("1000.00"),
            "expansion",
            4,
            "m1",
        ),
        (
            MAY,
            Decimal("0"),
            Decimal("2000.00"),
            True,
            "retained",
            Decimal("-1000.00"),
            "contraction",
            5,
            "m1",
        ),
        (JUN, Decimal("0"), Decimal("2000.00"), True, "retained", Decimal("0"), None, 6, "m1"),
    ]


def test_churn_reactivation_lifetime_and_owner_at_month_end(built: str) -> None:
    """bravo churns in May (nothing billed Mar..May) and is reactivated in June.

    Lifetime: 4 in May (Jan..Apr, the churn month excluded), 6 in June (Jan..Jun, the gap included).
    Owner at month end: m1 in Jan and Feb, m2 from March (the change on 15 March).
    ABC (active clients by T12 desc, ties by id in byte order): Jan alpha 1000, bravo 500 -> bravo
    after 1000/1500 = 0.67: A. Feb charlie 9000, alpha 1000, bravo 1000 (after alpha: 'alpha' < 'bravo'),
    delta 460 -> bravo after 10000/11460 = 0.87: B. Mar T12 charlie 8050, alpha 1000, bravo 1000,
    delta 460 -> 9050/10510 = 0.86: B. Apr 0.87: B (see test_abc_classes_in_april). Jun alpha 2000,
    bravo 1300 -> 2000/3300 = 0.61: A.
    """
    got = rows(
        built,
        "select month, owner_id, is_active, status, revenue_change, movement_bucket, lifetime_months, abc_class "
        "from marts.client_month where client_id = 'bravo' order by month",
    )
    assert got == [
        (JAN, "m1", True, "new", Decimal("500.00"), "new", 1, "A"),
        (FEB, "m1", True, "retained", Decimal("0.00"), None, 2, "B"),
        (MAR, "m2", True, "retained", Decimal("-500.00"), "contraction", 3, "B"),
        (APR, "m2", True, "retained", Decimal("0"), None, 4, "B"),
        (MAY, "m2", False, "churned", Decimal("0"), "churned", 4, None),
        (JUN, "m2", True, "reactivated", Decimal("300.00"), "reactivated", 6, "A"),
    ]


def test_credit_notes_fx_and_revenue_before_first_month(built: str) -> None:
    """charlie's USD revenue and credit note convert at their own dates; delta's credit note before F is outside.

    charlie March: N = -950.000, C = 0, GM = -950.000, margin % = GM / N = 1; change
    -950.000 - 9000.000 = -9950.000. June: T12 = 8050.000, share of wallet 8050.000 / 10000.00 = 0.805
    (high), unassigned. delta February: change 500.00 (not 540.00), T12 = -40.00 + 500.00 = 460.00,
    wallet estimate 0: share and band null.
    """
    got = rows(
        built,
        "select client_id, month, net_revenue, cost, margin_pct, t12_revenue, revenue_change, status, "
        "wallet_share, wallet_band, owner_id from marts.client_month "
        "where (client_id, month) in (('charlie', '2026-03-01'), ('charlie', '2026-06-01'), ('delta', '2026-02-01')) "
        "order by client_id, month",
    )
    assert got == [
        (
            "charlie",
            MAR,
            Decimal("-950.000"),
            Decimal("0"),
            Decimal("1"),
            Decimal("8050.000"),
            Decimal("-9950.000"),
            "retained",
            Decimal("0.805"),
            "high",
            None,
        ),
        (
            "charlie",
            JUN,
            Decimal("0"),
            Decimal("0"),
            None,
            Decimal("8050.000"),
            Decimal("0"),
            "inactive",
            Decimal("0.805"),
            "high",
            None,
        ),
        (
            "delta",
            FEB,
            Decimal("500.00"),
            Decimal("200.00"),
            Decimal("0.6"),
            Decimal("460.00"),
            Decimal("500.00"),
            "new",
            None,
            None,
            "m2",
        ),
    ]


def test_abc_classes_in_april(built: str) -> None:
    """April's active clients by T12: charlie 8050.000, alpha 2000.00, bravo 1000.00, delta 460.00 (total 11510.000).

    Share before each: 0 (A), 8050/11510 = 0.699 (A), 10050/11510 = 0.873 (B), 11050/11510 = 0.960 (C).
    """
    got = rows(
        built,
        "select client_id, t12_revenue, abc_class from marts.client_month where month = '2026-04-01' "
        "order by t12_revenue desc",
    )
    assert got == [
        ("charlie", Decimal("8050.000"), "A"),
        ("alpha", Decimal("2000.00"), "A"),
        ("bravo", Decimal("1000.00"), "B"),
        ("delta", Decimal("460.00"), "C"),
    ]


def test_cost_to_serve_and_health_of_alpha_in_june(built: str) -> None:
    """alpha in June: cost to serve, contribution margin and the four health components.

    Cost to serve over Jul 2025..Jun 2026: a1 60 min by m1 (am) = 1200, a2 30 min by m2 (kam) at the
    window's first instant = 900 (a3, 30 June 2025, is a month too early), requests r1 and r2 = 2 * 500:
    3100. In May (Jun 2025..May 2026): 1200 + 900 + a3 15 min am 300 + r2 500 = 2900.
    Contribution margin = T12 GM (2000.00 - 800.00) - 3100 = -1900.00: unprofitable, VIP.
    Health: trend Apr..Jun 1000.00 / Jan..Mar 1000.00 = 1.0 -> 100; engagement 30 Jun - 13 May = 48
    days -> (120 - 48) / 90 * 100 = 80; sentiment NPS 9 (Feb) -> 100; service, requests in
    [2 Apr, 1 Jul): r1 answered in 2 h (high, 4 h SLA: within), r2 in 30 h (normal, 24 h: breach)
    -> 50. Score 0.35 * 100 + 0.25 * 80 + 0.20 * 100 + 0.20 * 50 = 85, green.
    """
    got = rows(
        built,
        "select month, cost_to_serve_12m, contribution_margin_12m, is_unprofitable, is_vip_unprofitable, "
        "wallet_share, wallet_band, health_revenue_trend, health_engagement, health_sentiment, health_service, "
        "health_score, health_band from marts.client_month where client_id = 'alpha' and month >= '2026-05-01' "
        "order by month",
    )
    may, june = got
    assert may[1] == Decimal("2900")
    assert june == (
        JUN,
        Decimal("3100"),
        Decimal("-1900.00"),
        True,
        True,
        Decimal("0.5"),
        "high",
        Decimal("100"),
        Decimal("80"),
        Decimal("100"),
        Decimal("50"),
        Decimal("85"),
        "green",
    )


def test_revenue_movements_company_and_manager(built: str) -> None:
    """Company buckets per month, and the manager scope by owner at month end.

    Company: Jan new 1500.00 (alpha, bravo); Feb new 9500.000 (charlie, delta) and contraction
    -1000.00 (alpha); Mar contraction -500.00 - 9950.000 - 500.00 = -10950.000 (3 clients); Apr expansion
    1000.00 + 950.000 = 1950.000; May contraction -1000.00 and churned 0 (3 clients); Jun reactivated
    300.00 and inactive 0 (2). Each sums to the change in company net revenue (1500.00, 10000.000,
    -950.000, 1000.000, 0, 300.00).
    m2 in March owns bravo (moved in on 15 March) and delta: contraction -1000.00 (2 clients); charlie
    (unassigned) is in no manager scope.
    """
    company = rows(
        built,
        "select month, bucket, amount, clients from marts.revenue_movements "
        "where scope = 'company' and (amount <> 0 or clients > 0) order by month, bucket_order",
    )
    assert company == [
        (JAN, "new", Decimal("1500.00"), 2),
        (FEB, "new", Decimal("9500.000"), 2),
        (FEB, "contraction", Decimal("-1000.00"), 1),
        (MAR, "contraction", Decimal("-10950.000"), 3),
        (APR, "expansion", Decimal("1950.000"), 2),
        (MAY, "contraction", Decimal("-1000.00"), 1),
        (MAY, "churned", Decimal("0"), 3),
        (JUN, "reactivated", Decimal("300.00"), 1),
        (JUN, "inactive", Decimal("0"), 2),
    ]
    counts = rows(
        built,
        "select scope, manager_id, count(*) from marts.revenue_movements group by 1, 2 order by 1, 2",
    )
    # six buckets per month: company 6 months; m1 (alpha) 6; m2 (bravo from March, delta from Feb) 5
    assert counts == [("company", None, 36), ("manager", "m1", 36), ("manager", "m2", 30)]
    m2_march = rows(
        built,
        "select bucket, amount, clients from marts.revenue_movements "
        "where scope = 'manager' and manager_id = 'm2' and month = '2026-03-01' order by bucket_order",
    )
    assert m2_march == [
        ("new", Decimal("0"), 0),
        ("expansion", Decimal("0"), 0),
        ("contraction", Decimal("-1000.00"), 2),
        ("reactivated", Decimal("0"), 0),
        ("churned", Decimal("0"), 0),
        ("inactive", Decimal("0"), 0),
    ]


def test_cohort_retention(built: str) -> None:
    """Cohort Jan (alpha, bravo): 1, 1, 1, 1, 0.5 (bravo churned in May), 1 (reactivated in June).

    Cohort Feb (charlie, delta): active through April, none in May and June; net revenue 9500.000,
    -950.000, 0, 0, 0.
    """
    got = rows(
        built,
        "select cohort_month, months_since, cohort_clients, active_clients, retention_rate, net_revenue "
        "from marts.cohort_retention order by 1, 2",
    )
    assert got == [
        (JAN, 0, 2, 2, Decimal("1"), Decimal("1500.00")),
        (JAN, 1, 2, 2, Decimal("1"), Decimal("500.00")),
        (JAN, 2, 2, 2, Decimal("1"), Decimal("0")),
        (JAN, 3, 2, 2, Decimal("1"), Decimal("1000.00")),
        (JAN, 4, 2, 1, Decimal("0.5"), Decimal("0")),
        (JAN, 5, 2, 2, Decimal("1"), Decimal("300.00")),
        (FEB, 0, 2, 2, Decimal("1"), Decimal("9500.000")),
        (FEB, 1, 2, 2, Decimal("1"), Decimal("-950.000")),
        (FEB, 2, 2, 2, Decimal("1"), Decimal("0")),
        (FEB, 3, 2, 0, Decimal("0"), Decimal("0")),
        (FEB, 4, 2, 0, Decimal("0"), Decimal("0")),
    ]


def test_client_month_covers_f_to_as_of_month(built: str) -> None:
    """22 rows: alpha and bravo Jan..Jun, charlie and delta Feb..Jun; delta's January (-40.00) has no row."""
    got = rows(
        built,
        "select client_id, min(month), max(month), count(*) from marts.client_month group by 1 order by 1",
    )
    assert got == [
        ("alpha", JAN, JUN, 6),
        ("bravo", JAN, JUN, 6),
        ("charlie", FEB, JUN, 5),
        ("delta", FEB, JUN, 5),
    ]


def test_a_missing_month_fails_the_gap_test(built: str, tmp_path: Path) -> None:
    """Without bravo's March row, every_month_to_as_of_month fails, on one client."""
    gap_test = ["test", "--select", "client_month,test_name:every_month_to_as_of_month"]
    run_dbt(gap_test, built, AS_OF_MONTH, tmp_path / "whole")
    with psycopg.connect(built) as conn:
        conn.execute(
            "create table public.removed as select * from marts.client_month where client_id = 'bravo'"
        )
        conn.execute("delete from marts.client_month where client_id = 'bravo' and month = %s", (MAR,))
    try:
        with pytest.raises(DbtRunError) as failure:
            run_dbt(gap_test, built, AS_OF_MONTH, tmp_path / "gap")
        assert "every_month_to_as_of_month_client_month" in str(failure.value)
        assert "Got 1 result" in str(failure.value)  # one client: bravo
    finally:
        with psycopg.connect(built) as conn:
            conn.execute("delete from marts.client_month where client_id = 'bravo'")
            conn.execute("insert into marts.client_month select * from public.removed")
            conn.execute("drop table public.removed")


def test_a_null_in_a_required_column_fails_the_model_s_not_null_test(built: str, tmp_path: Path) -> None:
    """client_month's columns besides its grain are checked in one test: a null margin_pct (a
    column that may be null: N = 0) passes it; bravo's March health band set to null fails it,
    on that one row."""
    required = ["test", "--select", "client_month_columns_not_null"]
    bravo_march = "where client_id = 'bravo' and month = %s"
    with psycopg.connect(built) as conn:
        margin, band = conn.execute(
            f"select margin_pct, health_band from marts.client_month {bravo_march}", (MAR,)
        ).fetchone()
        conn.execute(f"update marts.client_month set margin_pct = null {bravo_march}", (MAR,))
    try:
        run_dbt(required, built, AS_OF_MONTH, tmp_path / "nullable")
        with psycopg.connect(built) as conn:
            conn.execute(f"update marts.client_month set health_band = null {bravo_march}", (MAR,))
        with pytest.raises(DbtRunError) as failure:
            run_dbt(required, built, AS_OF_MONTH, tmp_path / "required")
        assert "client_month_columns_not_null" in str(failure.value)
        assert "Got 1 result" in str(failure.value)
    finally:
        with psycopg.connect(built) as conn:
            conn.execute(
                f"update marts.client_month set margin_pct = %s, health_band = %s {bravo_march}",
                (margin, band, MAR),
            )


def test_a_movement_off_by_a_cent_fails_the_sum_test(built: str, tmp_path: Path) -> None:
    """m2's March expansion (0.00) one cent off: m2's March movements no longer add up to the
    change of the clients m2 owns at month end, and the test fails on that one scope."""
    sum_test = ["test", "--select", "assert_revenue_movements_sum_to_revenue_change"]
    run_dbt(sum_test, built, AS_OF_MONTH, tmp_path / "whole")
    bump = (
        "update marts.revenue_movements set amount = amount + %s "
        "where month = %s and scope = 'manager' and manager_id = 'm2' and bucket = 'expansion'"
    )
    with psycopg.connect(built) as conn:
        conn.execute(bump, (Decimal("0.01"), MAR))
    try:
        with pytest.raises(DbtRunError) as failure:
            run_dbt(sum_test, built, AS_OF_MONTH, tmp_path / "off")
        assert "Got 1 result" in str(failure.value)
    finally:
        with psycopg.connect(built) as conn:
            conn.execute(bump, (Decimal("-0.01"), MAR))


def test_a_revenue_change_off_by_a_cent_fails_the_month_over_month_test(built: str, tmp_path: Path) -> None:
    """bravo's March revenue_change one cent off N(March) - N(February): the month-over-month test
    fails on that one row, and the movements (built from the right change) no longer add up to
    client_month's change for the company and for bravo's owner."""
    change_test = ["test", "--select", "assert_client_month_revenue_change_is_month_over_month"]
    sum_test = ["test", "--select", "assert_revenue_movements_sum_to_revenue_change"]
    run_dbt(change_test, built, AS_OF_MONTH, tmp_path / "whole")
    bump = "update marts.client_month set revenue_change = revenue_change + %s where client_id = 'bravo' and month = %s"
    with psycopg.connect(built) as conn:
        conn.execute(bump, (Decimal("0.01"), MAR))
    try:
        with pytest.raises(DbtRunError) as failure:
            run_dbt(change_test, built, AS_OF_MONTH, tmp_path / "off")
        assert "Got 1 result" in str(failure.value)
        with pytest.raises(DbtRunError) as failure:
            run_dbt(sum_test, built, AS_OF_MONTH, tmp_path / "sum")
        assert "Got 2 results" in str(failure.value)
    finally:
        with psycopg.connect(built) as conn:
            conn.execute(bump, (Decimal("-0.01"), MAR))
