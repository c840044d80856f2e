"""`manager_month` and `manager_quarter` on a small hand-made raw data set, every number worked by hand.

The data set (as_of_month 2026-03-01, reporting_tz UTC, base currency RUB, one USD rate
90.0 on Thu 2026-03-19, 91.0 on Mon 03-23):

Managers
  m1 (am)   hired 2025-01-10, employed throughout: rows 2025-01 .. 2026-03 (15), quarters 5.
  m2 (kam)  hired 2025-06-01, soft-deleted in the CRM on 2026-02-01: keeps its rows, 2025-06 ..
            2026-03 (10), quarters 2025-Q2 .. 2026-Q1 (4).
  m3 (lead) hired 2025-01-05, terminated 2026-01-20: last month January 2026, rows 2025-01 ..
            2026-01 (13), quarters 5.

Clients (created; owner)
  c1  2025-01-15; m1 (clients.owner_id, no changes)
  c2  2025-02-01; m1, then m2 from 2026-02-15 12:00 (oc1)
  c3  2025-02-01; m1
  c4  2025-12-01; m1, never any revenue (in the portfolio, never active)
  c5  2026-03-10; m1 since always (clients.owner_id), in the portfolio from March only
  c6  2025-12-01; m1
  c7  2025-11-01; m1
  c8  soft-deleted (m1): its invoice, deal, activity and survey vanish
  c9  2025-01-05; m3, then m2 from 2026-01-20 12:00 (oc2, at m3's termination)
  c10 2026-01-01; unassigned: its revenue is credited to nobody

Net revenue N(c, m) (invoice lines minus credit notes; every other month 0):
  c1  2025-01, 02, 03: 1000.00 each; 2026-02: 2000.00;
      2026-03: 1500.00 + 500.00 (invoice 13) + 10.00 USD * 90.0 (invoice 15, Sat 21 Mar,
      Thursday's rate) = 2900.000; invoice 14 (March) has no line
  c2  2025-03: 500.00; 2026-01: 600.00 (m1's); 2026-03: 700.00 (m2's) - 50.00 credit note on
      the January invoice (still m1's credit) = 650.00
  c3  2025-03: 800.00; 2026-03: -100.00 (credit note on the 2025 invoice, m1's credit)
  c6  2026-03: 300.00 (first invoice: not a repeat order)
  c7  2025-12: 450.00
  c9  2025-10, 11, 12, 2026-01: 1000.00 each (m3's); 2026-02: -200.00 (credit note on the
      December invoice: m3's credit, after its termination month); 2026-03: 1000.00 (m2's)
  c10 2026-03: 123.45 (unassigned)

Credited revenue R(a, m):
  m1: 2025-01 1000.00, 02 1000.00, 03 2300.00, 12 450.00, 2026-01 600.00, 02 2000.00,
      03 2000.00 + 900.000 + 300.00 - 100.00 - 50.00 = 3050.000
  m2: 2026-03 700.00 + 1000.00 = 1700.00
  m3: 2025-10 .. 2026-01 1000.00 each; 2026-02 -200.00 (no manager_month row: the
      reconciliation test books it as credited outside the manager rows)

Activity (w = 3) and statuses used below:
  c1 active 2025-01 .. 05, churned 2025-06, reactivated 2026-02, retained 2026-03; lifetime in
     March 2026 = 2025-01 .. 2026-03 = 15 months.
  c2 active 2025-03 .. 05, churned 2025-06, reactivated 2026-01, active to 2026-03; lifetime 13.
  c3 active 2025-03 .. 05, churned 2025-06; March 2026: -100.00, not active.
  c6 new in 2026-03, lifetime 1.  c7 active 2025-12 .. 2026-02, churned 2026-03.
  c9 active 2025-10 .. 2026-03 (Jan..Mar = 1800.00 > 0), lifetime 6.
  T12 in March 2026: c1 4900.000, c9 4800.00, c2 1250.00, c6 300.00, c10 123.45 (the active
  clients; total 11373.45). ABC: c1 (share before 0) A, c9 (4900/11373.45 = 0.43) A, c2
  (9700/11373.45 = 0.85) B, c6 and c10 C.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from fractions import Fraction

import psycopg
import pytest

from tests.integration.conftest import create_database, drop_database, extract_data_set
from tests.integration.test_dbt_build import rows
from warehouse.dbt import run_dbt
from warehouse.raw import ensure_raw_layer

pytestmark = pytest.mark.integration

AS_OF_MONTH = date(2026, 3, 1)
MARCH = date(2026, 3, 1)

RAW_DATA = """
insert into raw_crm.managers
    (id, full_name, email, team, role, hired_at, terminated_at, updated_at, deleted_at, _record, _run_id)
values
    ('m1', 'Anna', 'a@x', 'North', 'am', '2025-01-10T08:00:00Z', null, '2025-01-10Z', null, '{}', 't'),
    ('m2', 'Boris', 'b@x', 'North', 'kam', '2025-06-01T08:00:00Z', null, '2026-02-01Z',
     '2026-02-01T09:00:00Z', '{}', 't'),
    ('m3', 'Vera', 'v@x', 'South', 'lead', '2025-01-05T08:00:00Z', '2026-01-20T18:00:00Z', '2026-01-20Z',
     null, '{}', 't');

insert into raw_crm.clients
    (id, name, segment, industry, country, created_at, status, owner_id, is_vip, wallet_estimate,
     updated_at, deleted_at, _record, _run_id)
values
    ('c1', 'One', 'b2b', 'it', 'RU', '2025-01-15T10:00:00Z', 'active', 'm1', false, 10000.00,
     '2025-01-15Z', null, '{}', 't'),
    ('c2', 'Two', 'b2b', 'it', 'RU', '2025-02-01T10:00:00Z', 'active', 'm2', false, null,
     '2026-02-15Z', null, '{}', 't'),
    ('c3', 'Three', 'b2b', 'it', 'RU', '2025-02-01T10:00:00Z', 'active', 'm1', false, null,
     '2025-02-01Z', null, '{}', 't'),
    ('c4', 'Four', 'b2c', 'it', 'RU', '2025-12-01T10:00:00Z', 'prospect', 'm1', false, null,
     '2025-12-01Z', null, '{}', 't'),
    ('c5', 'Five', 'b2c', 'it', 'RU', '2026-03-10T10:00:00Z', 'prospect', 'm1', false, null,
     '2026-03-10Z', null, '{}', 't'),
    ('c6', 'Six', 'b2b', 'it', 'RU', '2025-12-01T10:00:00Z', 'active', 'm1', false, null,
     '2025-12-01Z', null, '{}', 't'),
    ('c7', 'Seven', 'b2b', 'it', 'RU', '2025-11-01T10:00:00Z', 'active', 'm1', false, null,
     '2025-11-01Z', null, '{}', 't'),
    ('c8', 'Gone', 'b2b', 'it', 'RU', '2025-06-01T10:00:00Z', 'active', 'm1', true, null,
     '2026-03-20Z', '2026-03-20T10:00:00Z', '{}', 't'),
    ('c9', 'Nine', 'b2b', 'it', 'RU', '2025-01-05T10:00:00Z', 'active', 'm2', true, null,
     '2026-01-20Z', null, '{}', 't'),
    ('c10', 'Ten', 'b2c', 'it', 'RU', '2026-01-01T10:00:00Z', 'active', null, false, null,
     '2026-01-01Z', null, '{}', 't');

insert into raw_crm.owner_changes
    (id, client_id, old_owner_id, new_owner_id, changed_at, updated_at, _record, _run_id)
values
    ('oc1', 'c2', 'm1', 'm2', '2026-02-15T12:00:00Z', '2026-02-15Z', '{}', 't'),
    ('oc2', 'c9', 'm3', 'm2', '2026-01-20T12:00:00Z', '2026-01-20Z', '{}', 't');

insert into raw_crm.contacts
    (id, client_id, full_name, buying_role, is_active, updated_at, deleted_at, _record, _run_id)
values
    ('ct1', 'c1', 'Dana', 'decision_maker', true, '2025-01-15Z', null, '{}', 't'),
    ('ct2', 'c2', 'Egor', 'budget_holder', true, '2026-01-25Z', '2026-01-25T00:00:00Z', '{}', 't'),
    ('ct6u', 'c6', 'Fima', 'user', true, '2025-12-01Z', null, '{}', 't'),
    ('ct6b', 'c6', 'Gleb', 'budget_holder', true, '2025-12-01Z', null, '{}', 't');

insert into raw_crm.activities
    (id, client_id, manager_id, contact_id, type, occurred_at, duration_min, updated_at, deleted_at,
     _record, _run_id)
values
    ('a1', 'c1', 'm1', null, 'meeting_in_person', '2026-03-03T10:00:00Z', 60, '2026-03-03Z', null, '{}', 't'),
    ('a2', 'c6', 'm1', 'ct6u', 'call', '2026-03-04T10:00:00Z', 15, '2026-03-04Z', null, '{}', 't'),
    ('a3', 'c7', 'm1', null, 'email', '2026-03-05T10:00:00Z', 5, '2026-03-05Z', null, '{}', 't'),
    ('a4', 'c1', 'm1', null, 'meeting_online', '2026-03-06T10:00:00Z', 30, '2026-03-06Z', null, '{}', 't'),
    ('a5', 'c6', 'm1', 'ct6u', 'call', '2026-03-10T10:00:00Z', 15, '2026-03-10Z', null, '{}', 't'),
    ('a6', 'c1', 'm1', null, 'call', '2026-03-11T10:00:00Z', 15, '2026-03-12Z', '2026-03-12T00:00:00Z',
     '{}', 't'),
    ('a7', 'c1', 'm2', 'ct1', 'call', '2026-01-01T00:00:00Z', 15, '2026-01-01Z', null, '{}', 't'),
    ('a8', 'c6', 'm1', 'ct6b', 'email', '2025-12-31T23:00:00Z', 5, '2025-12-31Z', null, '{}', 't'),
    ('a9', 'c6', 'm3', null, 'meeting_in_person', '2025-12-20T10:00:00Z', 60, '2025-12-20Z', null, '{}', 't'),
    ('a10', 'c2', 'm1', 'ct2', 'email', '2026-01-20T10:00:00Z', 5, '2026-01-20Z', null, '{}', 't'),
    ('a11', 'c9', 'm2', null, 'meeting_in_person', '2026-03-25T10:00:00Z', 60, '2026-03-25Z', null, '{}', 't'),
    ('a12', 'c8', 'm1', null, 'meeting_in_person', '2026-03-12T10:00:00Z', 60, '2026-03-12Z', null, '{}', 't');

insert into raw_crm.deals
    (id, client_id, manager_id, kind, product_line, amount, currency, stage, created_at, proposal_sent_at,
     closed_at, lost_reason, updated_at, deleted_at, _record, _run_id)
values
    ('d1', 'c1', 'm1', 'upsell', 'services', 1000.00, 'RUB', 'won', '2026-02-01T10:00:00Z',
     '2026-02-20T10:00:00Z', '2026-03-10T10:00:00Z', null, '2026-03-10Z', null, '{}', 't'),
    ('d2', 'c6', 'm1', 'new_business', 'services', 500.00, 'RUB', 'won', '2026-02-01T10:00:00Z',
     null, '2026-03-11T10:00:00Z', null, '2026-03-11Z', null, '{}', 't'),
    ('d3', 'c1', 'm1', 'renewal', 'services', 700.00, 'RUB', 'lost', '2026-02-01T10:00:00Z',
     '2026-02-21T10:00:00Z', '2026-03-12T10:00:00Z', 'price', '2026-03-12Z', null, '{}', 't'),
    ('d4', 'c1', 'm1', 'cross_sell', 'services', 20.00, 'USD', 'won', '2026-02-01T10:00:00Z',
     '2026-02-22T10:00:00Z', '2026-03-21T10:00:00Z', null, '2026-03-21Z', null, '{}', 't'),
    ('d5', 'c1', 'm2', 'cross_sell', 'services', 100.00, 'RUB', 'won', '2026-02-01T10:00:00Z',
     '2026-02-23T10:00:00Z', '2026-03-15T10:00:00Z', null, '2026-03-15Z', null, '{}', 't'),
    ('d6', 'c1', 'm1', 'upsell', 'services', 900.00, 'EUR', 'proposal_sent', '2026-02-01T10:00:00Z',
     '2026-03-01T10:00:00Z', null, null, '2026-03-01Z', null, '{}', 't'),
    ('d7', 'c6', 'm1', 'upsell', 'services', 900.00, 'RUB', 'lost', '2026-02-01T10:00:00Z',
     null, '2026-03-13T10:00:00Z', 'timing', '2026-03-13Z', null, '{}', 't'),
    ('d8', 'c8', 'm1', 'upsell', 'services', 900.00, 'RUB', 'won', '2026-02-01T10:00:00Z',
     '2026-02-23T10:00:00Z', '2026-03-14T10:00:00Z', null, '2026-03-14Z', null, '{}', 't');

insert into raw_crm.requests
    (id, client_id, manager_id, priority, channel, created_at, first_response_at, resolved_at, updated_at,
     _record, _run_id)
values
    ('q1', 'c1', 'm1', 'high', 'email', '2026-03-02T10:00:00Z', '2026-03-02T11:30:00Z', null, '2026-03-02Z',
     '{}', 't'),
    ('q2', 'c6', 'm1', 'normal', 'email', '2026-03-03T09:00:00Z', '2026-03-04T09:00:00Z', null, '2026-03-04Z',
     '{}', 't'),
    ('q3', 'c1', 'm1', 'normal', 'phone', '2026-03-05T00:00:00Z', '2026-03-06T12:00:00Z', null, '2026-03-06Z',
     '{}', 't'),
    ('q4', 'c1', 'm1', 'high', 'phone', '2026-03-31T22:00:00Z', null, null, '2026-03-31Z', '{}', 't'),
    ('q5', 'c7', 'm1', 'normal', 'email', '2026-03-20T08:00:00Z', null, null, '2026-03-20Z', '{}', 't'),
    ('q6', 'c1', 'm2', 'normal', 'email', '2026-03-10T09:00:00Z', '2026-03-10T10:00:00Z', null, '2026-03-10Z',
     '{}', 't'),
    ('q7', 'c1', 'm1', 'high', 'email', '2026-02-27T10:00:00Z', null, null, '2026-02-27Z', '{}', 't');

insert into raw_crm.surveys (id, client_id, contact_id, kind, score, responded_at, updated_at, _record, _run_id)
values
    ('s1', 'c2', null, 'nps', 10, '2026-01-10T10:00:00Z', '2026-01-10Z', '{}', 't'),
    ('s2', 'c2', null, 'nps', 4, '2026-02-20T10:00:00Z', '2026-02-20Z', '{}', 't'),
    ('s3', 'c1', 'ct1', 'nps', 8, '2026-03-15T10:00:00Z', '2026-03-15Z', '{}', 't'),
    ('s4', 'c6', null, 'nps', 9, '2026-03-16T10:00:00Z', '2026-03-16Z', '{}', 't'),
    ('s5', 'c1', 'ct1', 'csi', 5, '2026-03-01T10:00:00Z', '2026-03-01Z', '{}', 't'),
    ('s6', 'c6', null, 'csi', 4, '2026-03-02T10:00:00Z', '2026-03-02Z', '{}', 't'),
    ('s7', 'c9', null, 'nps', 0, '2026-01-10T10:00:00Z', '2026-01-10Z', '{}', 't'),
    ('s8', 'c9', null, 'nps', 10, '2026-02-10T10:00:00Z', '2026-02-10Z', '{}', 't'),
    ('s9', 'c8', null, 'nps', 10, '2026-03-10T10:00:00Z', '2026-03-10Z', '{}', 't');

insert into raw_billing.products (id, name, product_line, updated_at, _run_id) values
    (1, 'Support', 'services', '2025-01-01Z', 't');

insert into raw_billing.invoices (id, client_id, number, issued_at, currency, status, updated_at, _run_id) values
    (1, 'c1', 'I-1', '2025-01-10T09:00:00Z', 'RUB', 'paid', '2025-01-10Z', 't'),
    (2, 'c1', 'I-2', '2025-02-10T09:00:00Z', 'RUB', 'paid', '2025-02-10Z', 't'),
    (3, 'c1', 'I-3', '2025-03-10T09:00:00Z', 'RUB', 'paid', '2025-03-10Z', 't'),
    (4, 'c2', 'I-4', '2025-03-12T09:00:00Z', 'RUB', 'paid', '2025-03-12Z', 't'),
    (5, 'c3', 'I-5', '2025-03-14T09:00:00Z', 'RUB', 'paid', '2025-03-14Z', 't'),
    (6, 'c9', 'I-6', '2025-10-05T09:00:00Z', 'RUB', 'paid', '2025-10-05Z', 't'),
    (7, 'c9', 'I-7', '2025-11-05T09:00:00Z', 'RUB', 'paid', '2025-11-05Z', 't'),
    (8, 'c9', 'I-8', '2025-12-05T09:00:00Z', 'RUB', 'paid', '2025-12-05Z', 't'),
    (9, 'c7', 'I-9', '2025-12-15T09:00:00Z', 'RUB', 'paid', '2025-12-15Z', 't'),
    (10, 'c9', 'I-10', '2026-01-05T09:00:00Z', 'RUB', 'paid', '2026-01-05Z', 't'),
    (11, 'c2', 'I-11', '2026-01-12T09:00:00Z', 'RUB', 'paid', '2026-01-12Z', 't'),
    (12, 'c1', 'I-12', '2026-02-10T09:00:00Z', 'RUB', 'paid', '2026-02-10Z', 't'),
    (13, 'c1', 'I-13', '2026-03-05T09:00:00Z', 'RUB', 'issued', '2026-03-05Z', 't'),
    (14, 'c1', 'I-14', '2026-03-06T09:00:00Z', 'RUB', 'issued', '2026-03-06Z', 't'),
    (15, 'c1', 'I-15', '2026-03-21T10:00:00Z', 'USD', 'issued', '2026-03-21Z', 't'),
    (16, 'c6', 'I-16', '2026-03-02T09:00:00Z', 'RUB', 'issued', '2026-03-02Z', 't'),
    (17, 'c2', 'I-17', '2026-03-08T09:00:00Z', 'RUB', 'issued', '2026-03-08Z', 't'),
    (18, 'c9', 'I-18', '2026-03-09T09:00:00Z', 'RUB', 'issued', '2026-03-09Z', 't'),
    (19, 'c8', 'I-19', '2026-03-10T09:00:00Z', 'RUB', 'issued', '2026-03-10Z', 't'),
    (20, 'c10', 'I-20', '2026-03-11T09:00:00Z', 'RUB', 'issued', '2026-03-11Z', 't'),
    (21, 'c1', 'I-21', null, 'RUB', 'draft', '2026-03-25Z', 't'),
    (22, 'c1', 'I-22', '2026-03-26T09:00:00Z', 'RUB', 'void', '2026-03-26Z', 't');

insert into raw_billing.invoice_lines
    (id, invoice_id, product_id, quantity, unit_price, amount, cost_amount, updated_at, _run_id)
values
    (101, 1, 1, 1, 1000.00, 1000.00, 100.00, '2025-01-10Z', 't'),
    (102, 2, 1, 1, 1000.00, 1000.00, 100.00, '2025-02-10Z', 't'),
    (103, 3, 1, 1, 1000.00, 1000.00, 100.00, '2025-03-10Z', 't'),
    (104, 4, 1, 1, 500.00, 500.00, 50.00, '2025-03-12Z', 't'),
    (105, 5, 1, 1, 800.00, 800.00, 80.00, '2025-03-14Z', 't'),
    (106, 6, 1, 1, 1000.00, 1000.00, 100.00, '2025-10-05Z', 't'),
    (107, 7, 1, 1, 1000.00, 1000.00, 100.00, '2025-11-05Z', 't'),
    (108, 8, 1, 1, 1000.00, 1000.00, 100.00, '2025-12-05Z', 't'),
    (109, 9, 1, 1, 450.00, 450.00, 45.00, '2025-12-15Z', 't'),
    (110, 10, 1, 1, 1000.00, 1000.00, 100.00, '2026-01-05Z', 't'),
    (111, 11, 1, 1, 600.00, 600.00, 60.00, '2026-01-12Z', 't'),
    (112, 12, 1, 1, 2000.00, 2000.00, 200.00, '2026-02-10Z', 't'),
    (113, 13, 1, 1, 1500.00, 1500.00, 150.00, '2026-03-05Z', 't'),
    (114, 13, 1, 1, 500.00, 500.00, 50.00, '2026-03-05Z', 't'),
    (115, 15, 1, 1, 10.00, 10.00, 1.00, '2026-03-21Z', 't'),
    (116, 16, 1, 1, 300.00, 300.00, 30.00, '2026-03-02Z', 't'),
    (117, 17, 1, 1, 700.00, 700.00, 70.00, '2026-03-08Z', 't'),
    (118, 18, 1, 1, 1000.00, 1000.00, 100.00, '2026-03-09Z', 't'),
    (119, 19, 1, 1, 5000.00, 5000.00, 500.00, '2026-03-10Z', 't'),
    (120, 20, 1, 1, 123.45, 123.45, 12.00, '2026-03-11Z', 't'),
    (121, 21, 1, 1, 999.00, 999.00, 0.00, '2026-03-25Z', 't'),
    (122, 22, 1, 1, 999.00, 999.00, 0.00, '2026-03-26Z', 't');

insert into raw_billing.credit_notes (id, invoice_id, issued_at, amount, reason, updated_at, _run_id) values
    (201, 5, '2026-03-12T09:00:00Z', 100.00, 'discount', '2026-03-12Z', 't'),
    (202, 11, '2026-03-15T09:00:00Z', 50.00, 'discount', '2026-03-15Z', 't'),
    (203, 8, '2026-02-10T09:00:00Z', 200.00, 'discount', '2026-02-10Z', 't');

insert into raw_billing.fx_rates (currency, rate_date, rate_to_base, updated_at, _run_id) values
    ('USD', '2026-03-19', 90.0, '2026-03-19Z', 't'),
    ('USD', '2026-03-23', 91.0, '2026-03-23Z', 't');
"""

MANAGER_MONTH_COLUMNS = (
    "manager_id, month, credited_revenue, r12_revenue, portfolio_clients, active_clients, key_clients, "
    "pareto_share, churned_clients, logo_churn_rate, logo_retention_rate, nrr, grr, meets_growth_bar, "
    "revenue_growth_yoy, credited_invoices, average_check, repeat_order_share, proposals_won, "
    "proposals_lost, proposal_conversion, won_deals_per_active_client, cross_sell_deals, "
    "cross_sell_amount, meetings_in_person, meetings_online, calls, emails, stakeholder_coverage, "
    "requests, response_hours_median, response_hours_p90, sla_attainment, portfolio_tenure_months"
)


@pytest.fixture(scope="module")
def warehouse_built(pg_cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh warehouse with the raw data set above, after `dbt build` of the manager marts and their parents."""
    url = create_database(pg_cluster, "manager_marts")
    target = tmp_path_factory.mktemp("dbt-target-manager")
    try:
        with psycopg.connect(url) as conn:
            ensure_raw_layer(conn)
            conn.execute(RAW_DATA)
        run_dbt(
            [
                "build",
                "--select",
                "+manager_month",
                "+manager_quarter",
                "assert_manager_revenue_reconciles_to_company",
                "assert_manager_marts_cover_employment",
                # only tests whose every parent is built (not, say, a client mart's test that
                # also reads the managers)
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


def manager_month(url: str, manager_id: str, month: date) -> dict:
    with psycopg.connect(url) as conn:
        cursor = conn.execute(
            f"select {MANAGER_MONTH_COLUMNS} from marts.manager_month where manager_id = %s and month = %s",
            (manager_id, month),
        )
        names = [c.name for c in cursor.description]
        found = cursor.fetchall()
    assert len(found) == 1, (manager_id, month, found)
    return dict(zip(names, found[0], strict=True))


def ratio(numerator: int | str, denominator: int | str) -> Fraction:
    return Fraction(Decimal(str(numerator))) / Fraction(Decimal(str(denominator)))


def assert_ratio(got: Decimal | None, expected: Fraction) -> None:
    """Ratios are unrounded numeric: equal to the exact fraction to well within 1e-15."""
    assert got is not None
    assert abs(Fraction(got) - expected) < Fraction(1, 10**15), (got, float(expected))


def test_rows_run_from_hire_to_termination_and_deleted_managers_keep_theirs(warehouse_built: str) -> None:
    """m1: 15 months (2025-01 .. 2026-03); m2 (soft-deleted): 10 (2025-06 ..); m3 (terminated 20 Jan): 13, last January."""
    got = rows(
        warehouse_built,
        "select manager_id, min(month), max(month), count(*) from marts.manager_month group by 1 order by 1",
    )
    assert got == [
        ("m1", date(2025, 1, 1), MARCH, 15),
        ("m2", date(2025, 6, 1), MARCH, 10),
        ("m3", date(2025, 1, 1), date(2026, 1, 1), 13),
    ]
    quarters = rows(
        warehouse_built,
        "select manager_id, min(quarter), max(quarter), count(*) from marts.manager_quarter group by 1 order by 1",
    )
    assert quarters == [
        ("m1", date(2025, 1, 1), date(2026, 1, 1), 5),
        ("m2", date(2025, 4, 1), date(2026, 1, 1), 4),
        ("m3", date(2025, 1, 1), date(2026, 1, 1), 5),
    ]


def test_m1_march_revenue_portfolio_and_retention(warehouse_built: str) -> None:
    """m1, March 2026.

    R = 2000.00 + 900.000 + 300.00 - 100.00 - 50.00 = 3050.000 (credit notes follow the original
    credit: c2's January invoice was m1's though m2 owns c2 now).
    R12 = 450.00 + 600.00 + 2000.00 + 3050.000 = 6100.000; R12 a year ago = 1000 + 1000 + 2300 =
    4300.00; YoY = 6100 / 4300 - 1.
    P(m1, Mar) = c1, c3, c4, c5 (created in March), c6, c7 = 6 (c2 left, c8 is deleted);
    active: c1, c6 = 2; key (A): c1 = 1; Pareto share 1/2.
    P(m1, Feb) = c1, c3, c4, c6, c7; active in Feb: c1, c7; c7 churns in March: 1 churned, rate
    1/2, retention 1/2.
    NRR base = P(m1, 2025-03) with T12 > 0: c1 3000, c2 500 (moved away since: still in), c3 800
    = 4300. T12 now: c1 4900.000, c2 1250.00, c3 -100.00: NRR = 6050 / 4300 (meets the bar);
    GRR = (3000 + 500 + 0) / 4300.
    Tenure = (15 + 1) / 2 = 8.
    """
    row = manager_month(warehouse_built, "m1", MARCH)
    assert row["credited_revenue"] == Decimal("3050.000")
    assert row["r12_revenue"] == Decimal("6100.000")
    assert_ratio(row["revenue_growth_yoy"], ratio(6100, 4300) - 1)
    assert (row["portfolio_clients"], row["active_clients"], row["key_clients"]) == (6, 2, 1)
    assert_ratio(row["pareto_share"], Fraction(1, 2))
    assert row["churned_clients"] == 1
    assert_ratio(row["logo_churn_rate"], Fraction(1, 2))
    assert_ratio(row["logo_retention_rate"], Fraction(1, 2))
    assert_ratio(row["nrr"], ratio(6050, 4300))
    assert_ratio(row["grr"], ratio(3500, 4300))
    assert row["meets_growth_bar"] is True
    assert_ratio(row["portfolio_tenure_months"], Fraction(8))


def test_m1_march_invoices_deals_and_activities(warehouse_built: str) -> None:
    """m1, March 2026.

    Credited invoices 13, 14 (no lines: still counts), 15 (USD), 16 = 4; repeat orders 13, 14,
    15 (c1 had 2025 invoices); 16 is c6's first: share 3/4; average check 3050.000 / 4 = 762.50.
    Closed proposals: d1 won, d4 won, d3 lost (d2 won without a proposal, d7 lost without one,
    d6 still open, d8's client is deleted): conversion 2/3. Won deals d1, d2, d4 = 3 over 2
    active clients = 3/2. Cross-sell: d1 (upsell, 1000.00) + d4 (cross_sell, 20.00 USD at 90.0 =
    1800.000) = 2 deals, 2800.000; d5 on an m1 client is m2's own deal.
    Activities by m1: in person a1, online a4, calls a2 a5 (a6 deleted), email a3.
    Stakeholder coverage: of the active c1 and c6, c1 has m2's call with its decision maker at
    2026-01-01 00:00 (the first instant of [end - 90 days, end)); c6's budget holder email at
    2025-12-31 23:00 is an hour too early and its 'user' calls do not count: 1/2.
    """
    row = manager_month(warehouse_built, "m1", MARCH)
    assert row["credited_invoices"] == 4
    assert_ratio(row["repeat_order_share"], Fraction(3, 4))
    assert row["average_check"] is not None and Fraction(row["average_check"]) == Fraction("762.50")
    assert (row["proposals_won"], row["proposals_lost"]) == (2, 1)
    assert_ratio(row["proposal_conversion"], Fraction(2, 3))
    assert_ratio(row["won_deals_per_active_client"], Fraction(3, 2))
    assert row["cross_sell_deals"] == 2
    assert row["cross_sell_amount"] == Decimal("2800.000")
    assert (row["meetings_in_person"], row["meetings_online"], row["calls"], row["emails"]) == (1, 1, 2, 1)
    assert_ratio(row["stakeholder_coverage"], Fraction(1, 2))


def test_m1_march_response_times_and_sla(warehouse_built: str) -> None:
    """m1's March requests q1 .. q5 (q6 is m2's, q7 was created in February).

    Answered: q1 high 1.5 h (met), q2 normal 24 h (met: hours <= SLA), q3 normal 36 h (breach).
    Unanswered: q5 normal since 20 March (breach); q4 high since 31 March 22:00, SLA until 1 April
    02:00, after the end of as_of_month: on neither side. Requests 5; median of 1.5, 24, 36 = 24;
    p90 at position 0.9 * 2 = 1.8: 24 + 0.8 * 12 = 33.6; SLA attainment 2 / 4.
    February: q7 (high, unanswered since 27 Feb 10:00) is a breach: 0 / 1; no answer, no median.
    """
    row = manager_month(warehouse_built, "m1", MARCH)
    assert row["requests"] == 5
    assert_ratio(row["response_hours_median"], Fraction(24))
    assert_ratio(row["response_hours_p90"], Fraction("33.6"))
    assert_ratio(row["sla_attainment"], Fraction(1, 2))
    february = manager_month(warehouse_built, "m1", date(2026, 2, 1))
    assert (february["requests"], february["response_hours_median"]) == (1, None)
    assert february["sla_attainment"] == 0


def test_m1_june_2025_loses_its_whole_active_portfolio(warehouse_built: str) -> None:
    """P(m1, May 2025) = c1, c2, c3, all active (March's invoices); none bills April to June: 3 churned, rate 1."""
    row = manager_month(warehouse_built, "m1", date(2025, 6, 1))
    assert (row["portfolio_clients"], row["active_clients"], row["churned_clients"]) == (3, 0, 3)
    assert_ratio(row["logo_churn_rate"], Fraction(1))
    assert row["logo_retention_rate"] == 0
    assert (row["pareto_share"], row["stakeholder_coverage"], row["portfolio_tenure_months"]) == (
        None,
        None,
        None,
    )


def test_soft_deleted_m2_in_march(warehouse_built: str) -> None:
    """m2 (soft-deleted), March 2026.

    R = c2's 700.00 + c9's 1000.00 = 1700.00 = R12; nothing a year ago: YoY null. P(m2, Mar) =
    c2, c9, both active; c9 is A: Pareto 1/2. P(m2, Feb) = c2 (moved 15 Feb), c9, both active in
    Feb and March: churn 0. No client in P(m2, 2025-03): NRR and GRR null, growth bar not met.
    2 invoices, both repeat orders (any owner): average check 850.00, share 1. d5 (won with a
    proposal, cross_sell 100.00): conversion 1, won per active client 1/2. One in-person meeting
    (a11). Stakeholder coverage 0: m1's email to c2's budget holder has no role (the contact is
    soft-deleted). q6 answered in 1 h: median = p90 = 1, SLA 1. Tenure (13 + 6) / 2 = 9.5.
    """
    row = manager_month(warehouse_built, "m2", MARCH)
    assert (row["credited_revenue"], row["r12_revenue"], row["revenue_growth_yoy"]) == (
        Decimal("1700.00"),
        Decimal("1700.00"),
        None,
    )
    assert (row["portfolio_clients"], row["active_clients"], row["key_clients"]) == (2, 2, 1)
    assert_ratio(row["pareto_share"], Fraction(1, 2))
    assert (row["churned_clients"], row["logo_churn_rate"], row["logo_retention_rate"]) == (0, 0, 1)
    assert (row["nrr"], row["grr"], row["meets_growth_bar"]) == (None, None, False)
    assert row["credited_invoices"] == 2
    assert Fraction(row["average_check"]) == 850
    assert_ratio(row["repeat_order_share"], Fraction(1))
    assert (row["proposals_won"], row["proposals_lost"], row["cross_sell_deals"]) == (1, 0, 1)
    assert_ratio(row["proposal_conversion"], Fraction(1))
    assert_ratio(row["won_deals_per_active_client"], Fraction(1, 2))
    assert row["cross_sell_amount"] == Decimal("100.00")
    assert (row["meetings_in_person"], row["calls"]) == (1, 0)
    assert row["stakeholder_coverage"] == 0
    assert (row["requests"], row["response_hours_median"], row["response_hours_p90"]) == (1, 1, 1)
    assert_ratio(row["sla_attainment"], Fraction(1))
    assert_ratio(row["portfolio_tenure_months"], Fraction(19, 2))


def test_terminated_m3_last_month(warehouse_built: str) -> None:
    """m3, January 2026 (terminated 20 Jan; c9 moved to m2 that day).

    R = c9's invoice of 5 January, 1000.00; R12 = Oct .. Jan = 4000.00; nothing a year before:
    YoY null. P(m3, Jan) is empty; P(m3, Dec) = c9, active, still active in January: churn 0 of
    1. One credited invoice, a repeat order: average check 1000.00. The February credit note on
    c9's December invoice (-200.00) stays m3's credit, in a month without a row.
    """
    row = manager_month(warehouse_built, "m3", date(2026, 1, 1))
    assert (row["credited_revenue"], row["r12_revenue"], row["revenue_growth_yoy"]) == (
        Decimal("1000.00"),
        Decimal("4000.00"),
        None,
    )
    assert (row["portfolio_clients"], row["active_clients"], row["pareto_share"]) == (0, 0, None)
    assert (row["churned_clients"], row["logo_churn_rate"], row["logo_retention_rate"]) == (0, 0, 1)
    assert (row["nrr"], row["meets_growth_bar"]) == (None, False)
    assert (row["credited_invoices"], Fraction(row["average_check"])) == (1, 1000)
    assert_ratio(row["repeat_order_share"], Fraction(1))
    assert (row["proposal_conversion"], row["stakeholder_coverage"], row["sla_attainment"]) == (
        None,
        None,
        None,
    )
    outside = rows(
        warehouse_built,
        "select manager_id, month, credited_revenue from intermediate.int_manager_revenue_month "
        "where month > '2026-01-01' and manager_id = 'm3'",
    )
    assert outside == [("m3", date(2026, 2, 1), Decimal("-200.00"))]


def test_revenue_reconciles_to_the_company(warehouse_built: str) -> None:
    """March: 3050.000 (m1) + 1700.00 (m2) + 123.45 (c10, unassigned) = 4873.450 = sum of N; February:
    2000.00 (m1) + -200.00 (m3, credited outside its rows) = 1800.00."""
    got = rows(
        warehouse_built,
        "select month, sum(credited_revenue) from marts.manager_month "
        "where month in ('2026-02-01', '2026-03-01') group by 1 order by 1",
    )
    assert got == [(date(2026, 2, 1), Decimal("2000.00")), (MARCH, Decimal("4750.000"))]
    company = rows(
        warehouse_built,
        "select month, sum(net_revenue) from intermediate.int_client_revenue_month "
        "where month in ('2026-02-01', '2026-03-01') group by 1 order by 1",
    )
    assert company == [(date(2026, 2, 1), Decimal("1800.00")), (MARCH, Decimal("4873.450"))]


def test_manager_quarter_coverage_and_nps_by_owner_at_answer(warehouse_built: str) -> None:
    """2026-Q1 (quarter end = March).

    m1: P(m1, Mar) active = c1, c6; c1 met in person on 3 March, c6 only on 20 December (Q4):
    coverage 1/2. NPS over answers of clients m1 owned when they answered: c2's 10 (January,
    before c2 moved), c1's 8, c6's 9: (2 - 0) / 3 * 100; CSI (5 + 4) / 2 = 4.5.
    m2: active c2, c9; c9 met in person on 25 March: 1/2. NPS: c2's 4 (after the move) and c9's
    10: 0 over 2; no CSI. m3 (terminated in January): owns nothing at quarter end: coverage
    null; c9's 0 on 10 January (before the move): NPS -100 over 1.
    """
    got = rows(
        warehouse_built,
        "select manager_id, in_person_coverage, nps, nps_responses, csi, csi_responses "
        "from marts.manager_quarter where quarter = '2026-01-01' order by manager_id",
    )
    by_manager = {r[0]: r[1:] for r in got}
    assert set(by_manager) == {"m1", "m2", "m3"}
    coverage, nps, nps_responses, csi, csi_responses = by_manager["m1"]
    assert_ratio(coverage, Fraction(1, 2))
    assert_ratio(nps, Fraction(200, 3))
    assert (nps_responses, csi_responses) == (3, 2)
    assert_ratio(csi, Fraction(9, 2))
    coverage, nps, nps_responses, csi, csi_responses = by_manager["m2"]
    assert_ratio(coverage, Fraction(1, 2))
    assert (nps, nps_responses, csi, csi_responses) == (0, 2, None, 0)
    assert by_manager["m3"] == (None, -100, 1, None, 0)


@pytest.mark.integration
def test_demo_data_set_builds_with_every_manager_test(
    pg_cluster, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The demo data set (seed 42, to 2026-10-31), extracted like the pipeline does, builds the manager marts.

    The build runs every data test of the manager marts and their parents, the
    reconciliation with the company's revenue and the employment coverage test. The demo's
    soft-deleted manager M0018 (terminated 2025-10-12) keeps its rows up to October 2025, and
    M0020 (terminated 2025-11-09) stops in November 2025.
    """
    from simulator.dataset import last_complete_month
    from simulator.generate import generate

    data = tmp_path_factory.mktemp("demo") / "demo"
    generate(data, seed=42, end_date=date(2026, 10, 31), scale="demo")
    as_of_month = last_complete_month(data)
    warehouse = create_database(pg_cluster, "demo_warehouse")
    try:
        extract_data_set(pg_cluster, data, warehouse, "demo")
        run_dbt(
            [
                "build",
                "--select",
                "+manager_month",
                "+manager_quarter",
                "assert_manager_revenue_reconciles_to_company",
                "assert_manager_marts_cover_employment",
                "--indirect-selection",
                "cautious",
                # the unit tests run once, in test_dbt_build
                "--exclude-resource-type",
                "unit_test",
            ],
            warehouse,
            as_of_month,
            tmp_path_factory.mktemp("dbt-target-demo"),
        )
        got = rows(
            warehouse,
            "select manager_id, max(month), count(*) filter (where month > '2025-11-01') "
            "from marts.manager_month where manager_id in ('M0018', 'M0020') group by 1 order by 1",
        )
        assert got == [("M0018", date(2025, 10, 1), 0), ("M0020", date(2025, 11, 1), 0)]
        assert rows(warehouse, "select count(distinct manager_id) from marts.manager_quarter") == [(25,)]
    finally:
        drop_database(pg_cluster, warehouse)
