"""Independent reference implementation (test oracle) of the `marts` schema.

Computes the five published tables of `marts.md` (`client_month`, `manager_month`,
`manager_quarter`, `revenue_movements`, `cohort_retention`) from a dataset folder
(`sources.md` §5) in plain Python, following `metrics.md` and its "Readings that settle
the edges" literally. It shares no code and no design notes with the warehouse; it is
meant to be compared against the SQL marts.

Values: months/quarters are `date` (first day), money and ratios `Decimal` (computed in a
60-digit context, never rounded), counts `int`, flags `bool`, ids/classes `str`, null `None`.

Readings chosen here
--------------------
Sources and time
- Versions: the latest version of a key is the one with the greatest `updated_at` instant;
  two versions with the same `updated_at` are the same version, the later line in the file
  is kept. A latest version with a non-empty `deleted_at` is absent (managers excepted:
  a soft-deleted manager keeps its attributes, rows and role).
- Rows whose `client_id` is not a live client (soft-deleted, or unknown to the CRM) are
  dropped: invoices (with their lines and credit notes), owner changes, contacts,
  activities, deals, requests and surveys.
- An in-scope invoice (`issued`/`paid`) without `issued_at`, and a credit note without
  `issued_at`, cannot be placed in a month and are ignored, as are activities, deals,
  requests and surveys without their event instant (`occurred_at`, `closed_at`,
  `created_at`, `responded_at`). A null line `amount` or `cost_amount`, deal `amount` or
  activity `duration_min` counts as 0.
- A live contact keeps its current `buying_role` even when its `is_active` is false; only a
  soft-deleted (or unknown) contact has no role.
- Every in-scope invoice line and credit note, and every won deal with a `closed_at`, is
  converted (whatever its month, also after `as_of_month`); a missing rate raises
  `MissingFxRate`. Amounts are converted exactly (`amount * rate_to_base`), unrounded.
- "End of month m" is the first instant of m+1 in `reporting_tz` (exclusive):
  ownership "at the end of m" is taken from the changes with `changed_at` strictly before
  that instant. Ownership at an event (invoice `issued_at`, survey `responded_at`) includes
  changes at exactly that instant (`changed_at <= t`).
- Nothing after `as_of_month` produces a row; data after it is only seen where a metric
  literally reaches it (a request answered later is "answered").

Client month
- Rows exist for months F(c)..as_of_month; a client whose first positive month lies after
  `as_of_month` (or never comes) has no rows, no cohort and no movement.
- `revenue_change` is N(c, m) - N(c, m-1) after F(c) and N(c, F) at F(c): net revenue before
  F(c) (only credit notes make it non-zero) is outside the movements, so the `new` bucket
  books N(c, F). Months before F(c) have no row.
- `status` at F(c) is `new` regardless of `is_active` (which is computed by the window rule
  on its own in every month).
- `lifetime_months`: while active, months from F(c) to m inclusive (m - F + 1), counted
  from F(c) also for a reactivated client (gaps are not subtracted); when not active,
  t - F(c) for the latest churn month t <= m; a client not active that never churned
  (only possible at F(c) through a negative prior window) has 0.
- ABC: one company-wide ranking per month of every client active in m, by T12 descending,
  ties by client id ascending (byte order); "cumulative share before it" = sum of T12 of the
  clients ranked strictly before it / sum of T12 of all active clients. A negative total is
  divided as it is; a total of 0 leaves every share undefined, and a client without a share is
  below no bound: C. `abc_class` is null for a row that is not active.
- `wallet_share` is null (and `wallet_band` null) when the wallet estimate is null or 0; a
  negative share falls into `low`. Thresholds compare the unrounded share.
- Cost to serve: each activity costs `duration_min * hourly_rate[role] / 60` (computed as
  one exact division); an activity whose manager is unknown, or whose role has no rate,
  costs 0. Activities count by the month of `occurred_at`, requests by the month of
  `created_at`, over m-11..m. `contribution_margin_12m` = (T12 - sum of C over m-11..m)
  - cost_to_serve_12m.
- `is_vip` is the current flag (null for a client unknown to the CRM), a null flag read as
  false by `is_vip_unprofitable`.
- Health: revenue trend = 100 when the prior sum (m-5..m-3) <= 0, else
  clamp((2*recent - prior) * 100 / prior, 0, 100), which is the linear rule between ratios
  0.5 and 1.0. Engagement = clamp((120 - days) * 100 / 90, 0, 100) with days = last day of
  m minus the local date of the latest non-deleted activity (any manager) before the end of
  m; none scores 0. Sentiment: the latest NPS answer (by `responded_at`, ties by greater id)
  with `responded_at` before the end of m, used only if its month is within m-11..m.
  Service: requests of the client (any manager) created in [end - 90 days, end); share =
  met / (met + breached) * 100; when no request counts on either side it scores 100 (as
  "none"). Health is computed for every row, also churned/inactive ones.

SLA and response hours
- Response hours are elapsed real time between the two instants
  (`first_response_at - created_at`, exact, in hours, no business calendar); a request is
  "answered" when `first_response_at` is set, whenever that is. Met when hours <=
  `sla_hours[priority]`; an unanswered request is a breach when
  `created_at + sla_hours[priority]` <= the first instant after `as_of_month`, otherwise it
  counts on neither side. The same classification is used for `sla_attainment` and for
  the health service score.
- `response_hours_median`/`_p90`: percentile_cont over the answered requests of the manager
  created in m (null when none). `requests` counts all of the manager's requests created
  in m. `sla_attainment` = met / (met + breached), null when 0.

Manager month / quarter
- Rows for every manager of the CRM (soft-deleted ones included), months from the month of
  `hired_at` to the earlier of `as_of_month` and the month of `terminated_at`. Ids that
  appear only as owners or on activities get no manager row.
- P(a, m) = clients (live) whose owner at the end of m is a and whose `created_at` month
  is <= m (a null `created_at` is no restriction).
- `pareto_share` = key_clients / active_clients, both over P(a, m) (A class implies active);
  null when there are no active clients.
- `churned_clients` = clients of P(a, m-1) churned in m; `logo_churn_rate` = that /
  clients of P(a, m-1) active in m-1 (null when 0); `logo_retention_rate` = 1 - churn rate
  (null with it).
- NRR/GRR base = clients of P(a, m-12) with T12(c, m-12) > 0; their T12(c, m) is taken
  whoever owns them now; null when the base is empty. `meets_growth_bar` = nrr >=
  1 + growth_target, false when nrr is null.
- `revenue_growth_yoy` = R12(m) / R12(m-12) - 1, null when R12(m-12) = 0.
- `credited_invoices`: in-scope invoices issued in m whose client was owned by a at
  `issued_at`; `average_check` = R(a, m) / credited_invoices (R includes credit notes of m
  on earlier invoices credited to a); `repeat_order_share` = credited invoices of m whose
  client has an in-scope invoice with a strictly earlier `issued_at` / credited_invoices.
- Deals count by the month of `closed_at` and their own `manager_id`. proposals_won/lost:
  stage `won`/`lost` and `proposal_sent_at` set. won_deals_per_active_client: every `won`
  deal of a closed in m (proposal or not) / active_clients (null when 0). Cross-sell:
  won deals of kind `upsell` or `cross_sell`, amount converted at `closed_at`.
- Activity counts by `activities.manager_id` and the month of `occurred_at`; soft-deleted
  activities excluded.
- Stakeholder coverage: active clients of P(a, m) with a live activity (any manager) in
  [end - 90 days, end) whose contact is live and has current role `decision_maker` or
  `budget_holder` / active clients of P(a, m) (null when 0). Calendar days in
  `reporting_tz`: start = midnight of (first day of m+1 - 90 days).
- `portfolio_tenure_months` = mean `lifetime_months` of the active clients of P(a, m),
  null when none.
- Quarters run from the quarter of `hired_at` to the quarter of the manager's last row.
  The quarter's "end" month is min(last calendar month of the quarter, as_of_month) (not
  cut at termination); meetings and surveys count when their month is in
  [quarter start, that end month]. In-person coverage = clients of P(a, end month) active
  in the end month with a `meeting_in_person` by any manager in those months / those
  clients (null when 0).
- NPS/CSI: surveys of the kind with a score, of clients owned by a at `responded_at`;
  `nps` = 100 * (promoters - detractors) / responses, `csi` = mean score; null when
  there are no responses (the counts are then 0).

Revenue movements and cohorts
- revenue_movements: for each month with client_month rows, the company scope; and for
  each non-null owner at month end (as in `client_month.owner_id`, `created_at` ignored,
  any owner id) a manager scope; always all six buckets, amount 0 / clients 0 included.
  A retained client with zero change (null bucket) is in no bucket.
- cohort_retention: every cohort F <= as_of_month, offsets 0..as_of_month - F;
  `active_clients` uses `is_active` in F + k; `retention_rate` = active / cohort size.
"""

from __future__ import annotations

import csv
import json
import sys
import time as _time
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Context, Decimal, localcontext
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
IN_SCOPE = ("issued", "paid")
STAKEHOLDER_ROLES = ("decision_maker", "budget_holder")
BUCKETS = ("new", "expansion", "contraction", "reactivated", "churned", "inactive")
CROSS_SELL_KINDS = ("upsell", "cross_sell")
ACTIVITY_COLUMNS = {
    "meeting_in_person": "meetings_in_person",
    "meeting_online": "meetings_online",
    "call": "calls",
    "email": "emails",
}
_EPOCH = datetime(1, 1, 1, tzinfo=UTC)

COLUMNS: dict[str, tuple[str, ...]] = {
    "client_month": (
        "client_id",
        "month",
        "owner_id",
        "segment",
        "is_vip",
        "net_revenue",
        "cost",
        "gross_margin",
        "margin_pct",
        "t12_revenue",
        "is_active",
        "status",
        "revenue_change",
        "movement_bucket",
        "lifetime_months",
        "abc_class",
        "wallet_share",
        "wallet_band",
        "cost_to_serve_12m",
        "contribution_margin_12m",
        "is_unprofitable",
        "is_vip_unprofitable",
        "health_score",
        "health_revenue_trend",
        "health_engagement",
        "health_sentiment",
        "health_service",
        "health_band",
    ),
    "manager_month": (
        "manager_id",
        "month",
        "credited_revenue",
        "r12_revenue",
        "portfolio_clients",
        "active_clients",
        "key_clients",
        "pareto_share",
        "churned_clients",
        "logo_churn_rate",
        "logo_retention_rate",
        "nrr",
        "grr",
        "meets_growth_bar",
        "revenue_growth_yoy",
        "credited_invoices",
        "average_check",
        "repeat_order_share",
        "proposals_won",
        "proposals_lost",
        "proposal_conversion",
        "won_deals_per_active_client",
        "cross_sell_deals",
        "cross_sell_amount",
        "meetings_in_person",
        "meetings_online",
        "calls",
        "emails",
        "stakeholder_coverage",
        "requests",
        "response_hours_median",
        "response_hours_p90",
        "sla_attainment",
        "portfolio_tenure_months",
    ),
    "manager_quarter": (
        "manager_id",
        "quarter",
        "in_person_coverage",
        "nps",
        "nps_responses",
        "csi",
        "csi_responses",
    ),
    "revenue_movements": ("month", "scope", "manager_id", "bucket", "amount", "clients"),
    "cohort_retention": (
        "cohort_month",
        "months_since",
        "cohort_clients",
        "active_clients",
        "retention_rate",
        "net_revenue",
    ),
}


@dataclass(frozen=True)
class Params:
    """Every parameter of `metrics.md` that the marts use, with its default."""

    activity_window_months: int = 3
    growth_target: Decimal = Decimal("0.20")
    sla_hours: dict[str, int] = field(default_factory=lambda: {"high": 4, "normal": 24})
    health_weights: dict[str, Decimal] = field(
        default_factory=lambda: {
            "revenue_trend": Decimal("0.35"),
            "engagement": Decimal("0.25"),
            "sentiment": Decimal("0.20"),
            "service": Decimal("0.20"),
        }
    )
    request_cost: Decimal = Decimal("500")
    hourly_rate: dict[str, Decimal] = field(
        default_factory=lambda: {"am": Decimal("1200"), "kam": Decimal("1800"), "lead": Decimal("2400")}
    )
    abc_thresholds: dict[str, Decimal] = field(
        default_factory=lambda: {"A": Decimal("0.80"), "B": Decimal("0.95")}
    )
    base_currency: str = "RUB"
    reporting_tz: str = "UTC"


DEFAULT_PARAMS = Params()


class MissingFxRate(LookupError):
    """No `fx_rates` row for a currency on or before the date an amount needs."""


# ---------------------------------------------------------------------------------------------
# Small helpers


def _ts(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without a UTC offset: {value!r}")
    return parsed


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value))


def _mi(day: date) -> int:
    """Month index of a date: year * 12 + month - 1."""
    return day.year * 12 + day.month - 1


def _md(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def _div(numerator: Decimal | int, denominator: Decimal | int) -> Decimal | None:
    if denominator == 0:
        return None
    return Decimal(numerator) / Decimal(denominator)


def _clamp100(value: Decimal) -> Decimal:
    return max(ZERO, min(HUNDRED, value))


def percentile_cont(values: Iterable[Decimal], fraction: Decimal) -> Decimal | None:
    """PostgreSQL `percentile_cont`: linear interpolation at position (n - 1) * fraction."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * Decimal(fraction)
    lower = int(position)  # position >= 0, so int() is floor
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (position - lower) * (ordered[upper] - ordered[lower])


def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _read_csv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return [{k: (v if v != "" else None) for k, v in row.items()} for row in csv.DictReader(handle)]


def _latest(rows: Iterable[dict], key: Callable[[dict], Hashable]) -> dict[Hashable, dict]:
    """The latest version of each key by `updated_at` (an equal `updated_at`: the later line)."""
    kept: dict[Hashable, tuple[datetime, dict]] = {}
    for row in rows:
        k = key(row)
        stamp = _ts(row.get("updated_at")) or _EPOCH
        previous = kept.get(k)
        if previous is None or stamp >= previous[0]:
            kept[k] = (stamp, row)
    return {k: row for k, (_, row) in kept.items()}


def _deleted(row: dict) -> bool:
    return row.get("deleted_at") not in (None, "")


# ---------------------------------------------------------------------------------------------
# The oracle


class _Oracle:
    def __init__(self, folder: Path, as_of_month: date, params: Params) -> None:
        self.p = params
        self.tz = ZoneInfo(params.reporting_tz)
        self.hi_month = _mi(as_of_month)
        self.asof_end = self._month_start(self.hi_month + 1)
        self._load(Path(folder))

    # -- time ------------------------------------------------------------------------------
    def _month_start(self, month: int) -> datetime:
        return datetime.combine(_md(month), time(0), self.tz)

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.tz).date()

    def _month_of(self, instant: datetime) -> int:
        return _mi(self._local_date(instant))

    # -- fx --------------------------------------------------------------------------------
    def _rate(self, currency: str, instant: datetime) -> Decimal:
        if currency == self.p.base_currency:
            return ONE
        day = self._local_date(instant)
        dates, rates = self.fx.get(currency, ([], []))
        index = bisect_right(dates, day)
        if index == 0:
            raise MissingFxRate(f"no fx rate for {currency} on or before {day.isoformat()}")
        return rates[index - 1]

    # -- loading ---------------------------------------------------------------------------
    def _load(self, folder: Path) -> None:
        crm, billing = folder / "crm", folder / "billing"

        def crm_latest(entity: str) -> dict[Hashable, dict]:
            return _latest(_read_jsonl(crm / f"{entity}.jsonl"), lambda r: r["id"])

        self.managers = crm_latest("managers")  # soft-deleted managers kept on purpose
        crm_clients = crm_latest("clients")
        self.clients = {k: r for k, r in crm_clients.items() if not _deleted(r)}
        # only a soft deletion removes a client's rows: a client billed before the CRM delivered
        # it keeps them, with no attributes and in no portfolio
        deleted_clients = {k for k, r in crm_clients.items() if _deleted(r)}

        def about_live_clients(entity: str) -> list[dict]:
            return [
                r
                for r in crm_latest(entity).values()
                if not _deleted(r) and r.get("client_id") not in deleted_clients
            ]

        owner_changes = about_live_clients("owner_changes")
        self.contacts = {r["id"]: r for r in about_live_clients("contacts")}
        self.activities = about_live_clients("activities")
        self.deals = about_live_clients("deals")
        self.requests = about_live_clients("requests")
        self.surveys = about_live_clients("surveys")

        invoices = _latest(_read_csv(billing / "invoices.csv"), lambda r: int(r["id"]))
        lines = _latest(_read_csv(billing / "invoice_lines.csv"), lambda r: int(r["id"]))
        credit_notes = _latest(_read_csv(billing / "credit_notes.csv"), lambda r: int(r["id"]))
        fx_rows = _latest(_read_csv(billing / "fx_rates.csv"), lambda r: (r["currency"], r["rate_date"]))
        fx: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
        for (currency, rate_date), row in fx_rows.items():
            fx[currency].append((date.fromisoformat(rate_date), Decimal(row["rate_to_base"])))
        self.fx = {}
        for currency, pairs in fx.items():
            pairs.sort()
            self.fx[currency] = ([d for d, _ in pairs], [r for _, r in pairs])

        # ownership timelines
        changes: dict[str, list[tuple[datetime, str, dict]]] = defaultdict(list)
        for row in owner_changes:
            changes[row["client_id"]].append((_ts(row["changed_at"]), row["id"], row))
        self.owner_times: dict[str, list[datetime]] = {}
        self.owner_rows: dict[str, list[dict]] = {}
        for client_id, items in changes.items():
            items.sort(key=lambda item: (item[0], item[1]))
            self.owner_times[client_id] = [item[0] for item in items]
            self.owner_rows[client_id] = [item[2] for item in items]

        # in-scope invoices, their lines and credit notes
        self.invoices = {}
        for invoice_id, row in invoices.items():
            if (
                row["status"] in IN_SCOPE
                and row["client_id"] not in deleted_clients
                and _ts(row["issued_at"])
            ):
                self.invoices[invoice_id] = dict(row, _issued=_ts(row["issued_at"]))
        self.lines = defaultdict(list)
        for row in lines.values():
            invoice_id = int(row["invoice_id"])
            if invoice_id in self.invoices:
                self.lines[invoice_id].append(row)
        self.credit_notes = [
            dict(row, _issued=_ts(row["issued_at"]))
            for row in credit_notes.values()
            if int(row["invoice_id"]) in self.invoices and _ts(row["issued_at"])
        ]
        # every client a mart can hold: the CRM's live clients and those only rows name
        named = [*owner_changes, *self.activities, *self.deals, *self.requests, *self.surveys]
        self.client_ids = sorted(
            set(self.clients)
            | {r["client_id"] for r in named}
            | {r["client_id"] for r in self.invoices.values()}
        )

    def _all_clients(self) -> list[str]:
        return self.client_ids

    # -- ownership -------------------------------------------------------------------------
    def owner_at(self, client_id: str, instant: datetime, *, inclusive: bool = True) -> str | None:
        times = self.owner_times.get(client_id)
        if not times:
            return self.clients.get(client_id, {}).get("owner_id")
        index = bisect_right(times, instant) if inclusive else bisect_left(times, instant)
        rows = self.owner_rows[client_id]
        if index == 0:
            return rows[0].get("old_owner_id")
        return rows[index - 1].get("new_owner_id")

    # -- the computation -------------------------------------------------------------------
    def run(self) -> dict[str, list[dict]]:
        self._revenue()
        self._client_series()
        self._abc()
        self._client_side_tables()
        client_month = self._client_month()
        return {
            "client_month": client_month,
            "manager_month": self._manager_month(),
            "manager_quarter": self._manager_quarter(),
            "revenue_movements": self._revenue_movements(client_month),
            "cohort_retention": self._cohort_retention(),
        }

    def _revenue(self) -> None:
        """N, C per client and month; R, credited and repeat invoices per owner and month."""
        hire_months = [
            self._month_of(_ts(m["hired_at"])) for m in self.managers.values() if m.get("hired_at")
        ]
        data_months = [self._month_of(inv["_issued"]) for inv in self.invoices.values()]
        data_months += [self._month_of(cn["_issued"]) for cn in self.credit_notes]
        candidates = [self.hi_month] + [m for m in hire_months + data_months if m <= self.hi_month]
        self.lo = min(candidates) - 24  # room for T12 at m - 12 of the earliest row
        self.size = self.hi_month - self.lo + 1

        def zeros() -> list[Decimal]:
            return [ZERO] * self.size

        self.N: dict[str, list[Decimal]] = defaultdict(zeros)
        self.C: dict[str, list[Decimal]] = defaultdict(zeros)
        self.R: dict[str, list[Decimal]] = defaultdict(zeros)
        self.cred_inv: dict[str, list[int]] = defaultdict(lambda: [0] * self.size)
        self.repeat_inv: dict[str, list[int]] = defaultdict(lambda: [0] * self.size)

        first_issue: dict[str, datetime] = {}
        for inv in self.invoices.values():
            client_id = inv["client_id"]
            if client_id not in first_issue or inv["_issued"] < first_issue[client_id]:
                first_issue[client_id] = inv["_issued"]

        self.invoice_owner = {}
        for invoice_id, inv in self.invoices.items():
            client_id, issued = inv["client_id"], inv["_issued"]
            owner = self.owner_at(client_id, issued)
            self.invoice_owner[invoice_id] = owner
            j = self._month_of(issued) - self.lo
            if not 0 <= j < self.size:
                continue  # outside the window: no amount needed, so no rate either
            rate = self._rate(inv["currency"], issued)
            amount = sum((rate * (_dec(li["amount"]) or ZERO) for li in self.lines[invoice_id]), ZERO)
            cost = sum((rate * (_dec(li["cost_amount"]) or ZERO) for li in self.lines[invoice_id]), ZERO)
            self.N[client_id][j] += amount
            self.C[client_id][j] += cost
            if owner is not None:
                self.R[owner][j] += amount
                self.cred_inv[owner][j] += 1
                if issued > first_issue[client_id]:
                    self.repeat_inv[owner][j] += 1

        for cn in self.credit_notes:
            inv = self.invoices[int(cn["invoice_id"])]
            j = self._month_of(cn["_issued"]) - self.lo
            if not 0 <= j < self.size:
                continue
            value = (_dec(cn["amount"]) or ZERO) * self._rate(inv["currency"], cn["_issued"])
            self.N[inv["client_id"]][j] -= value
            owner = self.invoice_owner[int(cn["invoice_id"])]
            if owner is not None:
                self.R[owner][j] -= value

    def _client_series(self) -> None:
        """Window sums, activity, F(c), status, lifetime, owner at month end, portfolios."""
        w = self.p.activity_window_months
        self.prefix: dict[str, list[Decimal]] = {}
        self.active: dict[str, list[bool]] = {}
        self.first: dict[str, int] = {}  # client -> j of F(c), only when F(c) <= as_of_month
        self.status: dict[str, dict[int, str]] = {}
        self.lifetime: dict[str, dict[int, int]] = {}
        for client_id in self._all_clients():
            series = self.N[client_id]
            prefix = [ZERO]
            for value in series:
                prefix.append(prefix[-1] + value)
            self.prefix[client_id] = prefix
            active = [self.window(client_id, j - w + 1, j) > 0 for j in range(self.size)]
            self.active[client_id] = active
            first = next((j for j, value in enumerate(series) if value > 0), None)
            if first is None:
                continue
            self.first[client_id] = first
            statuses, lifetimes, last_churn = {}, {}, None
            for j in range(first, self.size):
                if j == first:
                    status = "new"
                elif active[j]:
                    status = "retained" if active[j - 1] else "reactivated"
                else:
                    status = "churned" if active[j - 1] else "inactive"
                if status == "churned":
                    last_churn = j
                statuses[j] = status
                if active[j]:
                    lifetimes[j] = j - first + 1
                else:
                    lifetimes[j] = last_churn - first if last_churn is not None else 0
            self.status[client_id] = statuses
            self.lifetime[client_id] = lifetimes

        # owner at the end of each month and the portfolios P(a, m)
        self.owner_end: dict[str, list[str | None]] = {}
        month_ends = [self._month_start(self.lo + j + 1) for j in range(self.size)]
        self.portfolio: list[dict[str, list[str]]] = [defaultdict(list) for _ in range(self.size)]
        for client_id in self._all_clients():
            owners = [self.owner_at(client_id, end, inclusive=False) for end in month_ends]
            self.owner_end[client_id] = owners
            client = self.clients.get(client_id)
            if client is None:
                continue  # unknown to the CRM: no created_at, in no portfolio
            created = _ts(client.get("created_at"))
            created_j = self._month_of(created) - self.lo if created else -(10**9)
            for j, owner in enumerate(owners):
                if owner is not None and j >= created_j:
                    self.portfolio[j][owner].append(client_id)

    def window(self, client_id: str, start: int, end: int) -> Decimal:
        """Sum of N(c, j) for start <= j <= end (months outside the range count 0)."""
        start, end = max(start, 0), min(end, self.size - 1)
        if end < start:
            return ZERO
        prefix = self.prefix[client_id]
        return prefix[end + 1] - prefix[start]

    def t12(self, client_id: str, j: int) -> Decimal:
        return self.window(client_id, j - 11, j)

    def _abc(self) -> None:
        self.abc: dict[str, dict[int, str]] = defaultdict(dict)
        limit_a, limit_b = self.p.abc_thresholds["A"], self.p.abc_thresholds["B"]
        for j in range(self.size):
            ranked = [(self.t12(c, j), c) for c in self._all_clients() if self.active[c][j]]
            if not ranked:
                continue
            ranked.sort(key=lambda item: (-item[0], item[1]))
            total = sum((value for value, _ in ranked), ZERO)
            before = ZERO
            for value, client_id in ranked:
                if total == 0:
                    self.abc[client_id][j] = "C"
                else:
                    share = before / total
                    self.abc[client_id][j] = "A" if share < limit_a else "B" if share < limit_b else "C"
                before += value

    def _sla_outcome(self, request: dict) -> tuple[Decimal | None, bool | None]:
        """(response hours or None, True met / False breached / None neither)."""
        created = _ts(request["created_at"])
        responded = _ts(request.get("first_response_at"))
        limit = self.p.sla_hours[request["priority"]]
        if responded is not None:
            hours = Decimal((responded - created) // timedelta(microseconds=1)) / Decimal(3_600_000_000)
            return hours, hours <= limit
        if created + timedelta(hours=limit) <= self.asof_end:
            return None, False
        return None, None

    def _client_side_tables(self) -> None:
        """Per-client event lists and per-client/per-manager monthly counters."""
        size, lo = self.size, self.lo
        self.act_cost: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO] * size)
        self.req_count: dict[str, list[int]] = defaultdict(lambda: [0] * size)
        activity_times: dict[str, list[tuple[datetime, date]]] = defaultdict(list)
        stakeholder: dict[str, list[datetime]] = defaultdict(list)
        self.in_person_months: dict[str, set[int]] = defaultdict(set)
        self.activity_counts: dict[tuple[str, int, str], int] = defaultdict(int)
        for act in self.activities:
            client_id, occurred = act["client_id"], _ts(act["occurred_at"])
            if occurred is None:
                continue
            j = self._month_of(occurred) - lo
            activity_times[client_id].append((occurred, self._local_date(occurred)))
            contact = self.contacts.get(act.get("contact_id"))
            if contact is not None and contact.get("buying_role") in STAKEHOLDER_ROLES:
                stakeholder[client_id].append(occurred)
            if act["type"] == "meeting_in_person":
                self.in_person_months[client_id].add(j)
            self.activity_counts[(act["manager_id"], j, act["type"])] += 1
            if 0 <= j < size:
                manager = self.managers.get(act.get("manager_id"))
                rate = self.p.hourly_rate.get(manager.get("role")) if manager else None
                if rate is not None:
                    self.act_cost[client_id][j] += Decimal(act.get("duration_min") or 0) * rate / 60
        self.activity_times = {c: sorted(v) for c, v in activity_times.items()}
        self.activity_instants = {c: [t for t, _ in v] for c, v in self.activity_times.items()}
        self.stakeholder = {c: sorted(v) for c, v in stakeholder.items()}

        self.client_requests: dict[str, list[tuple[datetime, bool | None]]] = defaultdict(list)
        self.manager_requests: dict[tuple[str, int], list[tuple[Decimal | None, bool | None]]] = defaultdict(
            list
        )
        for req in self.requests:
            created = _ts(req.get("created_at"))
            if created is None:
                continue
            hours, outcome = self._sla_outcome(req)
            j = self._month_of(created) - lo
            self.client_requests[req["client_id"]].append((created, outcome))
            self.manager_requests[(req["manager_id"], j)].append((hours, outcome))
            if 0 <= j < size:
                self.req_count[req["client_id"]][j] += 1
        for items in self.client_requests.values():
            items.sort(key=lambda item: item[0])
        self.client_request_times = {c: [t for t, _ in v] for c, v in self.client_requests.items()}

        nps: dict[str, list[tuple[datetime, str, int]]] = defaultdict(list)
        self.manager_surveys: dict[tuple[str, str, int], list[int]] = defaultdict(list)
        for survey in self.surveys:
            responded = _ts(survey.get("responded_at"))
            if responded is None or survey.get("score") is None:
                continue
            score = int(survey["score"])
            if survey["kind"] == "nps":
                nps[survey["client_id"]].append((responded, survey["id"], score))
            owner = self.owner_at(survey["client_id"], responded)
            if owner is not None:
                self.manager_surveys[(owner, survey["kind"], self._month_of(responded) - lo)].append(score)
        self.nps = {c: sorted(v) for c, v in nps.items()}
        self.nps_times = {c: [t for t, _, _ in v] for c, v in self.nps.items()}

        self.deal_stats: dict[tuple[str, int], dict[str, Any]] = defaultdict(
            lambda: {"won_p": 0, "lost_p": 0, "won": 0, "xs": 0, "xs_amount": ZERO}
        )
        for deal in self.deals:
            closed = _ts(deal.get("closed_at"))
            if closed is None or not 0 <= self._month_of(closed) - lo < self.size:
                continue  # no month of the marts: its amount needs no rate
            stats = self.deal_stats[(deal["manager_id"], self._month_of(closed) - lo)]
            if deal["stage"] == "won":
                amount = (_dec(deal.get("amount")) or ZERO) * self._rate(deal["currency"], closed)
                stats["won"] += 1
                if deal.get("proposal_sent_at"):
                    stats["won_p"] += 1
                if deal.get("kind") in CROSS_SELL_KINDS:
                    stats["xs"] += 1
                    stats["xs_amount"] += amount
            elif deal["stage"] == "lost" and deal.get("proposal_sent_at"):
                stats["lost_p"] += 1

    # -- health ----------------------------------------------------------------------------
    def _health(self, client_id: str, j: int) -> dict[str, Any]:
        month = self.lo + j
        end = self._month_start(month + 1)
        last_day = _md(month + 1) - timedelta(days=1)
        start90 = datetime.combine(_md(month + 1) - timedelta(days=90), time(0), self.tz)

        recent = self.window(client_id, j - 2, j)
        prior = self.window(client_id, j - 5, j - 3)
        trend = HUNDRED if prior <= 0 else _clamp100((2 * recent - prior) * HUNDRED / prior)

        instants = self.activity_instants.get(client_id, [])
        index = bisect_left(instants, end)
        if index == 0:
            engagement = ZERO
        else:
            days = (last_day - self.activity_times[client_id][index - 1][1]).days
            engagement = _clamp100(Decimal(120 - days) * HUNDRED / 90)

        sentiment = Decimal(50)
        answers = self.nps.get(client_id, [])
        index = bisect_left(self.nps_times.get(client_id, []), end)
        if index:
            responded, _, score = answers[index - 1]
            if self._month_of(responded) >= month - 11:
                sentiment = HUNDRED if score >= 9 else Decimal(60) if score >= 7 else ZERO

        requests = self.client_requests.get(client_id, [])
        times = self.client_request_times.get(client_id, [])
        outcomes = [o for _, o in requests[bisect_left(times, start90) : bisect_left(times, end)]]
        met, breached = outcomes.count(True), outcomes.count(False)
        service = HUNDRED if met + breached == 0 else Decimal(met) * HUNDRED / (met + breached)

        weights = self.p.health_weights
        score = (
            weights["revenue_trend"] * trend
            + weights["engagement"] * engagement
            + weights["sentiment"] * sentiment
            + weights["service"] * service
        )
        band = "green" if score >= 70 else "yellow" if score >= 40 else "red"
        return {
            "health_score": score,
            "health_revenue_trend": trend,
            "health_engagement": engagement,
            "health_sentiment": sentiment,
            "health_service": service,
            "health_band": band,
        }

    # -- marts -----------------------------------------------------------------------------
    def _client_month(self) -> list[dict]:
        rows = []
        for client_id in sorted(self.first):
            client = self.clients.get(client_id, {})
            is_vip = client.get("is_vip")
            wallet = _dec(client.get("wallet_estimate"))
            series, costs = self.N[client_id], self.C[client_id]
            act_cost, req_count = self.act_cost[client_id], self.req_count[client_id]
            for j in range(self.first[client_id], self.size):
                net, cost = series[j], costs[j]
                t12 = self.t12(client_id, j)
                status = self.status[client_id][j]
                change = net if j == self.first[client_id] else net - series[j - 1]
                if status == "retained":
                    bucket = "expansion" if change > 0 else "contraction" if change < 0 else None
                else:
                    bucket = status
                share = _div(t12, wallet) if wallet is not None else None
                if share is None:
                    band = None
                else:
                    band = (
                        "saturated"
                        if share >= 1
                        else "high"
                        if share >= Decimal("0.5")
                        else "headroom"
                        if share >= Decimal("0.15")
                        else "low"
                    )
                months12 = range(max(j - 11, 0), j + 1)
                cost_to_serve = sum((act_cost[k] for k in months12), ZERO) + self.p.request_cost * sum(
                    req_count[k] for k in months12
                )
                margin12 = t12 - sum((costs[k] for k in months12), ZERO)
                contribution = margin12 - cost_to_serve
                unprofitable = contribution < 0
                row = {
                    "client_id": client_id,
                    "month": _md(self.lo + j),
                    "owner_id": self.owner_end[client_id][j],
                    "segment": client.get("segment"),
                    "is_vip": is_vip,
                    "net_revenue": net,
                    "cost": cost,
                    "gross_margin": net - cost,
                    "margin_pct": _div(net - cost, net),
                    "t12_revenue": t12,
                    "is_active": self.active[client_id][j],
                    "status": status,
                    "revenue_change": change,
                    "movement_bucket": bucket,
                    "lifetime_months": self.lifetime[client_id][j],
                    "abc_class": self.abc[client_id].get(j) if self.active[client_id][j] else None,
                    "wallet_share": share,
                    "wallet_band": band,
                    "cost_to_serve_12m": cost_to_serve,
                    "contribution_margin_12m": contribution,
                    "is_unprofitable": unprofitable,
                    "is_vip_unprofitable": bool(is_vip) and unprofitable,
                    **self._health(client_id, j),
                }
                rows.append({column: row[column] for column in COLUMNS["client_month"]})
        return rows

    def _manager_range(self, manager: dict) -> tuple[int, int] | None:
        hired = _ts(manager.get("hired_at"))
        if hired is None:
            return None
        first = self._month_of(hired)
        last = self.hi_month
        terminated = _ts(manager.get("terminated_at"))
        if terminated is not None:
            last = min(last, self._month_of(terminated))
        if first > last:
            return None
        return first - self.lo, last - self.lo

    def _portfolio(self, manager_id: str, j: int) -> list[str]:
        if not 0 <= j < self.size:
            return []
        return self.portfolio[j].get(manager_id, [])

    def _manager_month(self) -> list[dict]:
        rows = []
        zeros = [ZERO] * self.size
        for manager_id in sorted(self.managers):
            span = self._manager_range(self.managers[manager_id])
            if span is None:
                continue
            credited = self.R.get(manager_id, zeros)
            invoices = self.cred_inv.get(manager_id, [0] * self.size)
            repeats = self.repeat_inv.get(manager_id, [0] * self.size)

            def r12(j: int, credited: list[Decimal] = credited) -> Decimal:
                return sum((credited[k] for k in range(max(j - 11, 0), j + 1)), ZERO)

            for j in range(span[0], span[1] + 1):
                portfolio = self._portfolio(manager_id, j)
                active = [c for c in portfolio if self.active[c][j]]
                key = sum(1 for c in portfolio if self.abc[c].get(j) == "A")
                previous = self._portfolio(manager_id, j - 1)
                previous_active = [c for c in previous if self.active[c][j - 1]]
                churned = sum(1 for c in previous if self.active[c][j - 1] and not self.active[c][j])
                churn_rate = _div(churned, len(previous_active))

                base = [c for c in self._portfolio(manager_id, j - 12) if self.t12(c, j - 12) > 0]
                base_sum = sum((self.t12(c, j - 12) for c in base), ZERO)
                nrr = _div(sum((self.t12(c, j) for c in base), ZERO), base_sum)
                grr = _div(
                    sum((min(max(self.t12(c, j), ZERO), self.t12(c, j - 12)) for c in base), ZERO),
                    base_sum,
                )
                r12_now, r12_before = r12(j), r12(j - 12) if j >= 12 else ZERO
                yoy = _div(r12_now, r12_before)

                deals = self.deal_stats.get((manager_id, j)) or {
                    "won_p": 0,
                    "lost_p": 0,
                    "won": 0,
                    "xs": 0,
                    "xs_amount": ZERO,
                }
                end = self._month_start(self.lo + j + 1)
                start90 = datetime.combine(_md(self.lo + j + 1) - timedelta(days=90), time(0), self.tz)
                covered = 0
                for c in active:
                    instants = self.stakeholder.get(c, [])
                    if bisect_left(instants, end) > bisect_left(instants, start90):
                        covered += 1

                requests = self.manager_requests.get((manager_id, j), [])
                hours = [h for h, _ in requests if h is not None]
                outcomes = [o for _, o in requests]
                met, breached = outcomes.count(True), outcomes.count(False)
                tenure = _div(sum(self.lifetime[c][j] for c in active), len(active))

                row = {
                    "manager_id": manager_id,
                    "month": _md(self.lo + j),
                    "credited_revenue": credited[j],
                    "r12_revenue": r12_now,
                    "portfolio_clients": len(portfolio),
                    "active_clients": len(active),
                    "key_clients": key,
                    "pareto_share": _div(key, len(active)),
                    "churned_clients": churned,
                    "logo_churn_rate": churn_rate,
                    "logo_retention_rate": None if churn_rate is None else ONE - churn_rate,
                    "nrr": nrr,
                    "grr": grr,
                    "meets_growth_bar": nrr is not None and nrr >= ONE + self.p.growth_target,
                    "revenue_growth_yoy": None if yoy is None else yoy - ONE,
                    "credited_invoices": invoices[j],
                    "average_check": _div(credited[j], invoices[j]),
                    "repeat_order_share": _div(repeats[j], invoices[j]),
                    "proposals_won": deals["won_p"],
                    "proposals_lost": deals["lost_p"],
                    "proposal_conversion": _div(deals["won_p"], deals["won_p"] + deals["lost_p"]),
                    "won_deals_per_active_client": _div(deals["won"], len(active)),
                    "cross_sell_deals": deals["xs"],
                    "cross_sell_amount": deals["xs_amount"],
                    "stakeholder_coverage": _div(covered, len(active)),
                    "requests": len(requests),
                    "response_hours_median": percentile_cont(hours, Decimal("0.5")),
                    "response_hours_p90": percentile_cont(hours, Decimal("0.9")),
                    "sla_attainment": _div(met, met + breached),
                    "portfolio_tenure_months": tenure,
                }
                for kind, column in ACTIVITY_COLUMNS.items():
                    row[column] = self.activity_counts.get((manager_id, j, kind), 0)
                rows.append({column: row[column] for column in COLUMNS["manager_month"]})
        return rows

    def _manager_quarter(self) -> list[dict]:
        rows = []
        for manager_id in sorted(self.managers):
            span = self._manager_range(self.managers[manager_id])
            if span is None:
                continue
            first_q = (self.lo + span[0]) - (self.lo + span[0]) % 3
            last_q = (self.lo + span[1]) - (self.lo + span[1]) % 3
            for quarter in range(first_q, last_q + 1, 3):
                start_j = quarter - self.lo
                end_j = min(quarter + 2, self.hi_month) - self.lo
                months = range(start_j, end_j + 1)
                clients = [c for c in self._portfolio(manager_id, end_j) if self.active[c][end_j]]
                met = sum(1 for c in clients if any(k in self.in_person_months.get(c, ()) for k in months))
                nps = [s for k in months for s in self.manager_surveys.get((manager_id, "nps", k), [])]
                csi = [s for k in months for s in self.manager_surveys.get((manager_id, "csi", k), [])]
                promoters = sum(1 for s in nps if s >= 9)
                detractors = sum(1 for s in nps if s <= 6)
                rows.append(
                    {
                        "manager_id": manager_id,
                        "quarter": _md(quarter),
                        "in_person_coverage": _div(met, len(clients)),
                        "nps": _div(HUNDRED * (promoters - detractors), len(nps)),
                        "nps_responses": len(nps),
                        "csi": _div(sum(csi), len(csi)),
                        "csi_responses": len(csi),
                    }
                )
        return rows

    def _revenue_movements(self, client_month: list[dict]) -> list[dict]:
        totals: dict[tuple[date, str | None], dict[str, list]] = {}
        for row in client_month:
            scopes = [None] if row["owner_id"] is None else [None, row["owner_id"]]
            for scope in scopes:
                buckets = totals.setdefault((row["month"], scope), {bucket: [ZERO, 0] for bucket in BUCKETS})
                if row["movement_bucket"] is not None:
                    buckets[row["movement_bucket"]][0] += row["revenue_change"]
                    buckets[row["movement_bucket"]][1] += 1
        rows = []
        for (month, manager_id), buckets in sorted(
            totals.items(), key=lambda item: (item[0][0], item[0][1] is not None, item[0][1] or "")
        ):
            for bucket in BUCKETS:
                amount, count = buckets[bucket]
                rows.append(
                    {
                        "month": month,
                        "scope": "company" if manager_id is None else "manager",
                        "manager_id": manager_id,
                        "bucket": bucket,
                        "amount": amount,
                        "clients": count,
                    }
                )
        return rows

    def _cohort_retention(self) -> list[dict]:
        cohorts: dict[int, list[str]] = defaultdict(list)
        for client_id, first in self.first.items():
            cohorts[first].append(client_id)
        rows = []
        for first in sorted(cohorts):
            members = cohorts[first]
            for j in range(first, self.size):
                active = sum(1 for c in members if self.active[c][j])
                rows.append(
                    {
                        "cohort_month": _md(self.lo + first),
                        "months_since": j - first,
                        "cohort_clients": len(members),
                        "active_clients": active,
                        "retention_rate": _div(active, len(members)),
                        "net_revenue": sum((self.N[c][j] for c in members), ZERO),
                    }
                )
        return rows


def compute_marts(folder: Path, as_of_month: date, params: Params = DEFAULT_PARAMS) -> dict[str, list[dict]]:
    """The five `marts` tables for the dataset folder, as lists of row dicts (columns in order)."""
    if as_of_month.day != 1:
        raise ValueError("as_of_month must be the first day of a month")
    with localcontext(Context(prec=60)):
        return _Oracle(Path(folder), as_of_month, params).run()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m tests.oracle.marts <folder> <as_of_month YYYY-MM-01>", file=sys.stderr)
        return 2
    started = _time.perf_counter()
    marts = compute_marts(Path(args[0]), date.fromisoformat(args[1]))
    for name, rows in marts.items():
        print(f"{name}: {len(rows)}")
    print(f"elapsed: {_time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
