"""Generate a whole dataset folder (sources.md §5) from a seed, an end date and a scale.

The same (seed, end_date, scale) gives byte-identical files: every random draw comes from a
`random.Random` seeded from the seed, every instant is derived from `end_date`, and money
is computed in integer cents. Generation has two phases: the slowly changing world
(managers, clients with their lifecycle and ownership history, contacts) is planned in
memory, then the months are simulated in order and their events streamed to the files.
"""

from __future__ import annotations

import bisect
import random
import shutil
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from simulator.dataset import EntityWriter, epoch_of, format_money, format_ts, format_units, utc_date
from warehouse.contract import BILLING_TABLES, CRM_ENTITIES, FINANCE_TABLES, Entity

DAY = 86_400
HOUR = 3_600
MINUTE = 60
BASE_CURRENCY = "RUB"
FOREIGN_CURRENCIES = ("USD", "EUR", "KZT")
RUB_MICROS_PER_UNIT = {"RUB": 1_000_000, "USD": 90_000_000, "EUR": 98_000_000, "KZT": 190_000}
FX_START_MICROS = {"USD": 88_500_000, "EUR": 96_300_000, "KZT": 187_500}
FX_DAYS_BEFORE_RANGE = 7
OFFSET_MINUTES = (180,) * 9 + (0,) * 5 + (300,) * 2 + (-240,) * 2 + (120, 60)

ROLE_CAPACITY = {"am": 10, "kam": 6, "lead": 3}
TEAM_SIZE = 8
TEAM_NAMES = ("North", "South", "Key Accounts", "SMB", "Central", "East", "West", "Enterprise")
CLOSERS = ("o.smirnova", "finance.controller", "d.kuznetsov")


@dataclass(frozen=True)
class Scale:
    name: str
    clients: int
    managers: int
    months: int


SCALES: dict[str, Scale] = {
    "tiny": Scale("tiny", clients=40, managers=6, months=15),
    "small": Scale("small", clients=300, managers=10, months=24),
    "demo": Scale("demo", clients=2_000, managers=25, months=30),
    "large": Scale("large", clients=100_000, managers=1_200, months=30),
}


@dataclass(frozen=True)
class Product:
    id: int
    name: str
    product_line: str
    list_price_cents: int
    quantity_decimals: int
    cost_permille: int
    for_consumers: bool


def _catalog() -> tuple[Product, ...]:
    specs = (
        ("Platform seat licence", "Software", 2_500, 0, 300, True),
        ("Platform admin licence", "Software", 9_000, 0, 300, False),
        ("Analytics add-on", "Software", 12_000, 0, 350, False),
        ("Integration connector", "Software", 6_500, 0, 280, False),
        ("API access tier", "Software", 35_000, 0, 250, False),
        ("Mobile app licence", "Software", 1_200, 0, 320, True),
        ("Cloud storage, TB", "Cloud", 3_200, 3, 550, True),
        ("Compute hours", "Cloud", 19, 1, 600, False),
        ("Backup service", "Cloud", 6_000, 0, 500, True),
        ("Dedicated server", "Cloud", 48_000, 0, 620, False),
        ("Support standard", "Support", 15_000, 0, 600, True),
        ("Support premium", "Support", 45_000, 0, 650, False),
        ("On-site engineer visit", "Support", 18_000, 0, 720, False),
        ("Consulting hour", "Services", 6_500, 2, 700, False),
        ("Implementation package", "Services", 120_000, 0, 750, False),
        ("Data migration", "Services", 85_000, 0, 740, False),
        ("Custom development hour", "Services", 7_800, 2, 690, False),
        ("Training day", "Training", 45_000, 1, 640, False),
        ("Online course seat", "Training", 4_900, 0, 400, True),
        ("Certification exam", "Training", 12_500, 0, 450, False),
        ("Network appliance", "Hardware", 85_000, 0, 820, False),
        ("Workstation", "Hardware", 95_000, 0, 850, False),
        ("Spare parts kit", "Hardware", 7_200, 0, 800, False),
        ("Cabling, metres", "Hardware", 95, 1, 780, False),
    )
    return tuple(
        Product(i + 1, name, line, rubles * 100, decimals, cost, consumer)
        for i, (name, line, rubles, decimals, cost, consumer) in enumerate(specs)
    )


PRODUCTS = _catalog()
PRODUCT_LINES = tuple(dict.fromkeys(p.product_line for p in PRODUCTS))

TIER_MONTHLY_SPEND_RUB = {
    "consumer": (1_000, 6_000),
    "small": (5_000, 25_000),
    "mid": (25_000, 100_000),
    "large": (100_000, 450_000),
}
TIER_BASKET_SIZE = {"consumer": (1, 3), "small": (4, 9), "mid": (7, 15), "large": (11, 22)}
TIER_ACTIVITIES_PER_MONTH = {"consumer": 0.25, "small": 0.7, "mid": 1.3, "large": 2.2}
TIER_REQUESTS_PER_MONTH = {"consumer": 0.05, "small": 0.1, "mid": 0.18, "large": 0.3}
TIER_CONTACTS = {"consumer": (1, 1), "small": (1, 3), "mid": (2, 4), "large": (3, 6)}

MALE_FIRST = ("Alexey", "Dmitry", "Sergey", "Andrey", "Ivan", "Mikhail", "Pavel", "Nikolay", "Artem", "Oleg")
FEMALE_FIRST = ("Anna", "Elena", "Olga", "Maria", "Natalia", "Irina", "Svetlana", "Daria", "Ksenia", "Yulia")
SURNAMES = (
    "Ivanov", "Petrov", "Smirnov", "Kuznetsov", "Popov", "Sokolov", "Lebedev", "Kozlov", "Novikov",
    "Morozov", "Volkov", "Orlov", "Belyaev", "Zaitsev", "Pavlov", "Semenov", "Golubev", "Vinogradov",
    "Bogdanov", "Fedorov", "Medvedev", "Ershov", "Nikitin", "Sorokin", "Karpov", "Abramov",
)  # fmt: skip
COMPANY_ROOTS = (
    "Alfa", "Vektor", "Sever", "Orion", "Granit", "Meridian", "Polyus", "Atlas", "Tekhno", "Vostok",
    "Baltika", "Ural", "Sibir", "Kaspiy", "Altai", "Neva", "Volga", "Zenit", "Kristall", "Signal",
    "Avrora", "Impuls", "Strela", "Delta", "Sfera", "Format", "Kvant", "Rubin", "Yantar", "Taiga",
)  # fmt: skip
COMPANY_KINDS = (
    "Trade", "Logistics", "Systems", "Group", "Stroy", "Soft", "Agro", "Med", "Invest", "Service",
    "Energo", "Retail", "Foods", "Pharm", "Auto", "Telecom",
)  # fmt: skip
INDUSTRIES = (
    "retail", "manufacturing", "it", "finance", "logistics", "healthcare", "education", "construction",
    "hospitality", "agriculture", "energy", "telecom",
)  # fmt: skip
COUNTRY_WEIGHTS = {
    "b2b": (("RU", 70), ("KZ", 9), ("AM", 4), ("UZ", 4), ("DE", 5), ("AE", 3), ("US", 3), ("RS", 2)),
    "b2c": (("RU", 88), ("KZ", 8), ("AM", 2), ("UZ", 2)),
}
COUNTRY_CURRENCIES = {
    "RU": (("RUB", 96), ("USD", 4)),
    "KZ": (("KZT", 80), ("RUB", 20)),
    "AM": (("USD", 50), ("RUB", 50)),
    "UZ": (("USD", 50), ("RUB", 50)),
    "RS": (("EUR", 70), ("RUB", 30)),
    "DE": (("EUR", 100),),
    "AE": (("USD", 100),),
    "US": (("USD", 100),),
}
COUNTRY_FOR_CURRENCY = {"USD": "US", "EUR": "DE", "KZT": "KZ"}
PHONE_PREFIX = {
    "RU": "+7 9", "KZ": "+7 7", "AM": "+374 9", "UZ": "+998 9", "DE": "+49 15", "AE": "+971 5", "US": "+1 2",
    "RS": "+381 6",
}  # fmt: skip
LEGAL_FORM = {
    "RU": "LLC", "KZ": "TOO", "AM": "CJSC", "UZ": "LLC", "DE": "GmbH", "AE": "FZE", "US": "Inc.",
    "RS": "d.o.o.",
}  # fmt: skip
CLIENT_LOST_REASONS = ("price", "competitor", "budget_cut", "no_longer_needed", "service_quality", "merged")
DEAL_LOST_REASONS = ("price", "competitor", "no_budget", "timing", "no_decision")
CREDIT_REASONS = ("price_adjustment", "service_issue", "billing_error", "returned_goods", None)
REQUEST_CHANNELS = ("email", "phone", "portal", "messenger")
ROLE_POSITIONS = {
    "decision_maker": ("CEO", "General Director", "Owner", "Managing Director"),
    "budget_holder": ("CFO", "Chief Accountant", "Finance Director"),
    "influencer": ("IT Director", "Head of Operations", "Procurement Manager", "CTO"),
    "user": ("Office Manager", "System Administrator", "Analyst", "Specialist"),
}
ACTIVITY_TYPES = ("email",) * 8 + ("call",) * 6 + ("meeting_online",) * 4 + ("meeting_in_person",) * 2
ACTIVITY_MINUTES = {
    "email": (5, 20),
    "call": (5, 45),
    "meeting_online": (30, 90),
    "meeting_in_person": (45, 180),
}
NPS_WEIGHTS = (2, 1, 1, 2, 2, 4, 5, 10, 16, 25, 20)
CSI_WEIGHTS = (4, 6, 15, 40, 35)


# -- time -----------------------------------------------------------------------------------


def _add_months(first_day: date, months: int) -> date:
    index = first_day.year * 12 + first_day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Calendar:
    """The months of the range (first days, and the first day after) and its last instant."""

    months: tuple[date, ...]
    month_starts: tuple[int, ...]
    end: int

    @classmethod
    def ending(cls, end_date: date, month_count: int) -> Calendar:
        first = _add_months(date(end_date.year, end_date.month, 1), 1 - month_count)
        months = tuple(_add_months(first, k) for k in range(month_count + 1))
        return cls(months, tuple(epoch_of(m) for m in months), epoch_of(end_date + timedelta(days=1)) - 1)

    @property
    def count(self) -> int:
        return len(self.months) - 1

    @property
    def start(self) -> int:
        return self.month_starts[0]

    def month_index(self, instant: int) -> int:
        return bisect.bisect_right(self.month_starts, instant) - 1

    def last_instant(self, month: int) -> int:
        return min(self.month_starts[month + 1] - 1, self.end)

    def days_in(self, month: int) -> int:
        return (self.month_starts[month + 1] - self.month_starts[month]) // DAY


def business_time(rng: random.Random, low: int, high: int) -> int:
    """An instant between low and high, in the working hours of Moscow when the bounds allow."""
    if high <= low:
        return low
    day = rng.randint(low // DAY, high // DAY) * DAY
    return min(max(day + rng.randint(5 * HOUR, 16 * HOUR), low), high)


def _updated_after(rng: random.Random, instant: int, end: int, edit_share: float = 0.08) -> int:
    """When a record last changed: shortly after `instant` (capped at `end`), sometimes edited weeks later."""
    lag = rng.randint(0, 2 * HOUR)
    if rng.random() < edit_share:
        lag += rng.randint(DAY, 60 * DAY)
    instant = min(instant, end)
    return min(end, instant + lag)


def random_offset(rng: random.Random) -> int:
    return OFFSET_MINUTES[rng.randrange(len(OFFSET_MINUTES))]


def _ts(instant: int | None, offset: int) -> str | None:
    return None if instant is None else format_ts(instant, offset)


def priced_line(quantity_units: int, decimals: int, unit_price_cents: int) -> tuple[int, int]:
    """(quantity, amount in cents) with amount = quantity x unit price rounded to cents.

    A quantity whose product falls on a half cent is nudged up by one unit, so that
    rounding half up, half even or half away from zero all give the same amount.
    """
    scale = 10**decimals
    cents, remainder = divmod(quantity_units * unit_price_cents, scale)
    if 2 * remainder == scale:
        quantity_units += 1
        cents, remainder = divmod(quantity_units * unit_price_cents, scale)
    return quantity_units, cents + (1 if 2 * remainder > scale else 0)


def _quota(count: int, share: float, minimum: int) -> int:
    return min(count, max(minimum, round(count * share)))


def _take(rng: random.Random, pool: list[int], count: int) -> list[int]:
    """Draw `count` members of `pool` (removed from it), in the order drawn."""
    chosen = rng.sample(pool, min(count, len(pool)))
    taken = set(chosen)
    pool[:] = [member for member in pool if member not in taken]
    return chosen


def _weighted(rng: random.Random, options: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def _event_count(rng: random.Random, mean: float) -> int:
    count = int(mean) + (1 if rng.random() < mean - int(mean) else 0)
    if mean >= 0.5 and rng.random() < 0.3:
        count = max(0, count + rng.choice((-1, 1)))
    return count


def person_name(rng: random.Random) -> tuple[str, str]:
    surname = rng.choice(SURNAMES)
    if rng.random() < 0.5:
        return rng.choice(MALE_FIRST), surname
    return rng.choice(FEMALE_FIRST), surname + "a"


# -- the world ------------------------------------------------------------------------------


@dataclass(slots=True)
class Manager:
    index: int
    id: str
    full_name: str
    email: str
    team: str
    role: str
    hired_at: int
    terminated_at: int | None = None
    deleted_at: int | None = None
    salary_currency: str = BASE_CURRENCY
    joins_as_replacement: bool = False

    def employed_at(self, instant: int) -> bool:
        return self.hired_at <= instant and (self.terminated_at is None or instant <= self.terminated_at)


@dataclass(slots=True)
class BasketItem:
    product: Product
    base_quantity: float
    unit_price_cents: int


@dataclass(slots=True)
class Client:
    index: int
    id: str
    segment: str
    tier: str
    country: str = "RU"
    currency: str = BASE_CURRENCY
    created_at: int = 0
    pre_existing: bool = True
    is_prospect: bool = False
    pattern: str = "monthly"
    spans: list[tuple[int, int]] = field(default_factory=list)
    invoice_counts: bytearray = field(default_factory=bytearray)
    billing_day: int = 1
    pay_delay_days: int = 10
    terms_days: int = 14
    monthly_spend_cents: int = 0
    basket: list[BasketItem] = field(default_factory=list)
    growth: float = 0.0
    level: float = 1.0
    is_vip: bool = False
    loss_making: bool = False
    wallet_cents: int | None = None
    status: str = "prospect"
    lost_at: int | None = None
    lost_reason: str | None = None
    deleted_at: int | None = None
    unassigned: bool = False
    renewal_month: int = 0
    mood: int = 0
    owner_times: list[int] = field(default_factory=list)
    owner_ids: list[str] = field(default_factory=list)
    contacts: list[tuple[str, str, int | None]] = field(default_factory=list)

    def owner_at(self, instant: int) -> str | None:
        position = bisect.bisect_right(self.owner_times, instant)
        return self.owner_ids[position - 1] if position else None

    def bills_in_span(self, month: int) -> bool:
        return any(start <= month < stop for start, stop in self.spans)

    def alive_until(self, end: int) -> int:
        return end if self.deleted_at is None else min(end, self.deleted_at)


@dataclass
class World:
    calendar: Calendar
    managers: list[Manager]
    clients: list[Client]
    owner_changes: list[dict[str, Any]]


def _build_managers(rng: random.Random, scale: Scale, cal: Calendar) -> list[Manager]:
    count = scale.managers
    joiners = _quota(count - 1, 0.1, 1)
    first_joiner = count - joiners
    veteran_teams = -(-first_joiner // TEAM_SIZE)
    managers: list[Manager] = []
    emails: set[str] = set()
    for index in range(count):
        if index < first_joiner:
            team_number, seat = divmod(index, TEAM_SIZE)
            role = "lead" if seat == 0 else ("kam" if seat in (1, 5) else "am")
        else:
            team_number, role = (index - first_joiner) % veteran_teams, "am"
        first, last = person_name(rng)
        email = f"{first}.{last}@amwarehouse.example".lower()
        if email in emails:
            email = email.replace("@", f"{index + 1}@")
        emails.add(email)
        if index < first_joiner:
            hired = business_time(rng, cal.start - 2_000 * DAY, cal.start - 60 * DAY)
        else:
            month = rng.randint(cal.count // 5, max(cal.count // 5, cal.count * 3 // 5))
            hired = cal.month_starts[month] + rng.randint(2, 24) * DAY + 6 * HOUR
        team = _team_name(team_number)
        managers.append(Manager(index, f"M{index + 1:04d}", f"{first} {last}", email, team, role, hired))
    _plan_departures(rng, cal, managers, first_joiner)
    return managers


def _team_name(number: int) -> str:
    name = TEAM_NAMES[number % len(TEAM_NAMES)]
    return name if number < len(TEAM_NAMES) else f"{name} {number // len(TEAM_NAMES) + 1}"


def _plan_departures(rng: random.Random, cal: Calendar, managers: list[Manager], first_joiner: int) -> None:
    """Some managers leave mid-month (one is later soft-deleted); the first joiners replace them."""
    candidates = [m.index for m in managers[:first_joiner] if m.role != "lead"]
    leavers = _take(rng, candidates, _quota(len(managers), 0.08, 1))
    for number, index in enumerate(leavers):
        leaver = managers[index]
        month = rng.randint(cal.count * 2 // 5, cal.count * 3 // 4)
        leaver.terminated_at = cal.month_starts[month] + rng.randint(7, 21) * DAY + 15 * HOUR
        replacement_index = first_joiner + number
        if replacement_index < len(managers):
            replacement = managers[replacement_index]
            replacement.team = leaver.team
            replacement.joins_as_replacement = True
            replacement.hired_at = cal.month_starts[month - 1] + rng.randint(2, 24) * DAY + 6 * HOUR
    deleted = managers[leavers[0]]
    assert deleted.terminated_at is not None
    deleted.deleted_at = min(cal.end, deleted.terminated_at + rng.randint(20, 90) * DAY)
    steady = [m.index for m in managers[:first_joiner] if m.role == "am" and m.terminated_at is None]
    if steady:
        managers[rng.choice(steady)].salary_currency = "KZT"


def _build_clients(rng: random.Random, scale: Scale, cal: Calendar) -> list[Client]:
    count = scale.clients
    everyone = list(range(count))
    consumers = set(_take(rng, everyone[:], _quota(count, 0.25, 1)))
    clients = [
        Client(i, f"C{i + 1:06d}", "b2c" if i in consumers else "b2b", "consumer") for i in range(count)
    ]
    for client in clients:
        if client.segment == "b2b":
            client.tier = _weighted(rng, (("small", 45), ("mid", 40), ("large", 15)))
    pool = everyone[:]
    prospects = _take(rng, pool, _quota(count, 0.08, 2))
    customers = pool
    business = [i for i in customers if clients[i].segment == "b2b"]
    reactivators = _take(rng, business, 1)
    lost = _take(rng, business, 2)
    vips = _take(rng, business, _quota(count, 0.05, 1))
    steady = set(reactivators + lost + vips)
    free = [i for i in customers if i not in steady]
    quarterly = _take(rng, free, _quota(len(customers), 0.18, 1))
    irregular = _take(rng, free, _quota(len(customers), 0.22, 1))
    for i in prospects:
        clients[i].is_prospect = True
        clients[i].pattern = "none"
        clients[i].pre_existing = rng.random() < 0.25
    if len(prospects) >= 2:
        clients[prospects[-1]].unassigned = True
        clients[prospects[-1]].pre_existing = False
    for i in customers:
        clients[i].pre_existing = i in steady or rng.random() < 0.65
    for i in quarterly:
        clients[i].pattern = "quarterly"
    for i in irregular:
        clients[i].pattern = "irregular"
    for i in vips:
        clients[i].is_vip = True
        clients[i].tier = "large"
    loss_making = vips[: _quota(len(vips), 0.25, 1)]
    for i in loss_making:
        clients[i].loss_making = True
    for client in clients:
        _describe_client(rng, client)
        _plan_billing(rng, cal, client, reactivate=client.index in reactivators, churn=client.index in lost)
    _force_currencies(rng, clients, customers)
    for client in clients:
        _price_basket(rng, client)
    for i in _take(rng, everyone[:], _quota(count, 0.15, 1)):
        clients[i].wallet_cents = None
    _plan_deletions(rng, cal, clients, first=lost[-1])
    return clients


def _describe_client(rng: random.Random, client: Client) -> None:
    segment = client.segment
    client.country = _weighted(rng, COUNTRY_WEIGHTS[segment])
    client.currency = _weighted(rng, COUNTRY_CURRENCIES[client.country]) if segment == "b2b" else "RUB"
    low, high = TIER_MONTHLY_SPEND_RUB[client.tier]
    spend = rng.randint(low, high) * 100
    client.monthly_spend_cents = spend * 3 // 2 if client.is_vip else spend
    client.billing_day = rng.randint(1, 28)
    client.pay_delay_days = rng.choice((3, 5, 7, 10, 14, 20, 30, 45))
    client.terms_days = rng.choice((7, 14, 14, 30, 30, 45))
    client.growth = rng.uniform(-0.015, 0.025)
    client.renewal_month = rng.randrange(12)
    client.mood = rng.choice((-3, -1, 0, 0, 0, 0, 1))
    wallet_factor = rng.choice((0.8, 0.9, 1.2, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0))
    client.wallet_cents = round(client.monthly_spend_cents * 12 * wallet_factor / 1_000_000) * 1_000_000


def _plan_billing(
    rng: random.Random, cal: Calendar, client: Client, *, reactivate: bool, churn: bool
) -> None:
    """When the client exists, and the spans of months it bills in (a gap of 4+ months is a win-back)."""
    months = cal.count
    if client.pre_existing:
        client.created_at = business_time(rng, cal.start - 5 * 365 * DAY, cal.start - 7 * DAY)
    else:
        client.created_at = business_time(rng, cal.start + DAY, cal.end - 3 * DAY)
    client.invoice_counts = bytearray(months)
    if client.is_prospect:
        return
    first = 0 if client.pre_existing else cal.month_index(client.created_at) + rng.randint(1, 2)
    if first >= months:
        return
    if reactivate:
        stop = rng.randint(2, max(2, months // 4))
        restart = stop + rng.randint(4, 6)
        client.spans = [(0, stop), (restart, months)] if restart < months - 1 else [(0, months)]
    elif churn:
        client.spans = [(first, rng.randint(months // 3, months - 5))]
    else:
        client.spans = _natural_spans(rng, first, months)
    for start, stop in client.spans:
        _fill_invoice_counts(rng, client, start, stop)


def _natural_spans(rng: random.Random, first: int, months: int) -> list[tuple[int, int]]:
    for month in range(first + 3, months):
        if rng.random() < 0.013:
            restart = month + rng.randint(4, 9)
            if restart < months - 1 and rng.random() < 0.3:
                return [(first, month), (restart, months)]
            return [(first, month)]
    return [(first, months)]


def _fill_invoice_counts(rng: random.Random, client: Client, start: int, stop: int) -> None:
    counts = client.invoice_counts
    quarter_phase = rng.randrange(3) if start == 0 else 0
    for month in range(start, stop):
        if client.pattern == "monthly":
            counts[month] = 2 if rng.random() < 0.05 else 1
        elif client.pattern == "quarterly":
            counts[month] = 1 if (month - start - quarter_phase) % 3 == 0 else 0
        elif rng.random() < 0.45:
            counts[month] = 2 if rng.random() < 0.1 else 1
    if client.pattern == "irregular" and not any(counts[start:stop]):
        counts[start] = 1


def _force_currencies(rng: random.Random, clients: list[Client], customers: list[int]) -> None:
    """Every foreign currency is billed by at least one client."""
    billing = [i for i in customers if clients[i].pre_existing and sum(clients[i].invoice_counts) >= 3]
    used = {clients[i].currency for i in billing}
    candidates = [i for i in billing if clients[i].segment == "b2b" and clients[i].currency == BASE_CURRENCY]
    for currency in FOREIGN_CURRENCIES:
        if currency not in used and candidates:
            chosen = clients[candidates.pop(rng.randrange(len(candidates)))]
            chosen.currency = currency
            chosen.country = COUNTRY_FOR_CURRENCY[currency]


def _price_basket(rng: random.Random, client: Client) -> None:
    """The products the client buys, their per-month quantities and its negotiated unit prices."""
    spend = client.monthly_spend_cents
    affordable = [p for p in PRODUCTS if p.list_price_cents * 2 <= spend or p.list_price_cents < 1_000_00]
    if client.segment == "b2c":
        affordable = [p for p in affordable if p.for_consumers] or [PRODUCTS[0]]
    low, high = TIER_BASKET_SIZE[client.tier]
    products = rng.sample(affordable, min(len(affordable), rng.randint(low, high)))
    weights = [rng.random() + 0.2 for _ in products]
    total_weight = sum(weights)
    discount = rng.randint(850, 1000)
    micros = RUB_MICROS_PER_UNIT[client.currency]
    for product, weight in zip(products, weights, strict=True):
        quantity = max(
            spend * weight / total_weight / product.list_price_cents, 1 / 10**product.quantity_decimals
        )
        price = max(1, product.list_price_cents * discount * 1_000 // micros)
        client.basket.append(BasketItem(product, quantity, price))


def _plan_deletions(rng: random.Random, cal: Calendar, clients: list[Client], first: int) -> None:
    for client in clients:
        _settle_status(rng, cal, client)
    candidates = [c.index for c in clients if c.index != first and (c.status == "lost" or c.is_prospect)]
    candidates = [i for i in candidates if not clients[i].unassigned]
    chosen = [first, *_take(rng, candidates, _quota(len(clients), 0.01, 1) - 1)]
    for index in chosen:
        client = clients[index]
        since = client.lost_at if client.lost_at is not None else client.created_at
        client.deleted_at = min(cal.end, max(since, cal.start) + rng.randint(10, 90) * DAY)


def _settle_status(rng: random.Random, cal: Calendar, client: Client) -> None:
    """Current status: lost once the silence after the last invoice was noticed, active while billing."""
    billed = [m for m, n in enumerate(client.invoice_counts) if n]
    if not billed:
        client.status = "prospect"
        return
    client.status = "active"
    last = billed[-1]
    if cal.count - 1 - last >= 4:
        silence = cal.month_starts[last + 1]
        lost_at = business_time(rng, silence + 25 * DAY, silence + 80 * DAY)
        if lost_at <= cal.end:
            client.status = "lost"
            client.lost_at = lost_at
            client.lost_reason = rng.choice(CLIENT_LOST_REASONS)


# -- ownership ------------------------------------------------------------------------------


class _Ownership:
    """Plays assignments and reassignments in time order; collects the owner_changes rows."""

    def __init__(self, rng: random.Random, cal: Calendar, managers: list[Manager], clients: list[Client]):
        self.rng = rng
        self.cal = cal
        self.managers = managers
        self.clients = clients
        self.current: dict[int, str] = {}
        self.rows: list[tuple[int, int, dict[str, Any]]] = []
        self.by_id = {m.id: m for m in managers}
        self.veterans = [m for m in managers if m.hired_at < cal.start - 7 * DAY]
        self.staff_cache: dict[tuple[int, str | None, str | None], list[Manager]] = {}

    def play(self) -> list[dict[str, Any]]:
        events: list[tuple[int, int, str, int]] = []
        for client in self.clients:
            if client.unassigned:
                continue
            if client.pre_existing:
                self._assign_existing(client)
            else:
                events.append((client.created_at, len(events), "create", client.index))
        for manager in self.managers:
            if manager.terminated_at is not None:
                handover = manager.terminated_at - self.rng.randint(4 * HOUR, 2 * DAY)
                events.append((handover, len(events), "handover", manager.index))
            if manager.hired_at > self.cal.start and not manager.joins_as_replacement:
                rebalance = business_time(self.rng, manager.hired_at + 5 * DAY, manager.hired_at + 15 * DAY)
                events.append((rebalance, len(events), "rebalance", manager.index))
        for instant, client_index in self._random_moves():
            events.append((instant, len(events), "move", client_index))
        for instant, _, kind, index in sorted(events):
            if instant > self.cal.end:
                continue
            if kind == "create":
                self._assign_new(self.clients[index])
            elif kind == "handover":
                self._hand_over(self.managers[index], instant)
            elif kind == "rebalance":
                self._rebalance(self.managers[index], instant)
            else:
                self._move(self.clients[index], instant)
        ordered = sorted(self.rows, key=lambda row: (row[0], row[1]))
        return [row for _, _, row in ordered]

    def _random_moves(self) -> list[tuple[int, int]]:
        """Reassignments by management, always mid-month; the first on a client that surely exists then."""
        cal = self.cal
        count = _quota(len(self.clients), 0.04 * cal.count / 12, 1)
        stable = [
            c.index for c in self.clients if c.pre_existing and not c.unassigned and c.deleted_at is None
        ]
        anyone = [c.index for c in self.clients if not c.unassigned]
        moves = []
        for number in range(count):
            month = self.rng.randrange(cal.count - 1) if number else self.rng.randint(1, cal.count - 2)
            instant = cal.month_starts[month] + self.rng.randint(7, 21) * DAY + self.rng.randint(6, 15) * HOUR
            pool = stable if number == 0 and stable else anyone
            moves.append((instant, self.rng.choice(pool)))
        return moves

    def _employed(self, instant: int, exclude: str | None = None, team: str | None = None) -> list[Manager]:
        """Managers employed all that day and not leaving within days (of `team` when it has any)."""
        key = (instant // DAY, exclude, team)
        if key not in self.staff_cache:
            day_start = key[0] * DAY
            staff = [
                m
                for m in self.managers
                if m.hired_at <= day_start
                and m.id != exclude
                and (m.terminated_at is None or m.terminated_at - day_start > 4 * DAY)
            ]
            self.staff_cache[key] = [m for m in staff if m.team == team] or staff
        return self.staff_cache[key]

    def _pick(self, staff: list[Manager], client: Client) -> Manager:
        weights = [ROLE_CAPACITY[m.role] * (3 if client.is_vip and m.role == "kam" else 1) for m in staff]
        return self.rng.choices(staff, weights=weights)[0]

    def _record(self, client: Client, new_owner: str, instant: int) -> None:
        old_owner = self.current.get(client.index)
        if client.owner_times:
            instant = max(instant, client.owner_times[-1])
        self.current[client.index] = new_owner
        client.owner_times.append(instant)
        client.owner_ids.append(new_owner)
        offset = random_offset(self.rng)
        row = {
            "client_id": client.id,
            "old_owner_id": old_owner,
            "new_owner_id": new_owner,
            "changed_at": format_ts(instant, offset),
            "updated_at": format_ts(_updated_after(self.rng, instant, self.cal.end, 0.03), offset),
        }
        self.rows.append((instant, len(self.rows), row))

    def _assign_existing(self, client: Client) -> None:
        owner = self._pick(self.veterans, client)
        low = max(owner.hired_at + 7 * DAY, client.created_at)
        client.created_at = business_time(self.rng, low, max(low, self.cal.start - 7 * DAY))
        self._record(client, owner.id, client.created_at)

    def _assign_new(self, client: Client) -> None:
        self._record(client, self._pick(self._employed(client.created_at), client).id, client.created_at)

    def _hand_over(self, leaver: Manager, instant: int) -> None:
        leaver_last = leaver.terminated_at if leaver.terminated_at is not None else self.cal.end
        successors = self._employed(instant, leaver.id, leaver.team)
        for index, owner in list(self.current.items()):
            client = self.clients[index]
            if owner == leaver.id and client.alive_until(self.cal.end) > instant:
                successor = self._pick(successors, client)
                self._record(client, successor.id, min(instant + self.rng.randint(0, 4 * HOUR), leaver_last))

    def _rebalance(self, joiner: Manager, instant: int) -> None:
        teammates = {m.id for m in self.managers if m.team == joiner.team and m.id != joiner.id}
        theirs = [i for i, owner in self.current.items() if owner in teammates]
        theirs = [i for i in theirs if self.clients[i].alive_until(self.cal.end) > instant]
        for index in _take(self.rng, theirs, max(1, len(theirs) // 6)):
            self._record(self.clients[index], joiner.id, instant + self.rng.randint(0, 2 * HOUR))

    def _move(self, client: Client, instant: int) -> None:
        owner = self.current.get(client.index)
        if owner is None or client.alive_until(self.cal.end) <= instant:
            return
        team = self.by_id[owner].team
        staff = self._employed(instant, owner, team)
        if staff:
            self._record(client, self._pick(staff, client).id, instant)


def _build_world(seed: int, scale: Scale, cal: Calendar) -> World:
    rng = random.Random(f"{seed}:world")
    managers = _build_managers(rng, scale, cal)
    clients = _build_clients(rng, scale, cal)
    owner_changes = _Ownership(rng, cal, managers, clients).play()
    for number, row in enumerate(owner_changes, start=1):
        row["id"] = f"OC{number:07d}"
    return World(cal, managers, clients, owner_changes)


# -- rows of the world ----------------------------------------------------------------------


def _edited_since(rng: random.Random, last_event: int, cal: Calendar, share: float) -> int:
    """When a slowly changing record last changed: after its last event, often edited later in the range."""
    if rng.random() < share:
        return business_time(rng, max(last_event, cal.start), cal.end)
    return _updated_after(rng, last_event, cal.end, 0.1)


def _manager_rows(rng: random.Random, world: World) -> Iterator[dict[str, Any]]:
    for m in world.managers:
        last_event = max(t for t in (m.hired_at, m.terminated_at, m.deleted_at) if t is not None)
        updated = _edited_since(rng, last_event, world.calendar, 0.3)
        if m.deleted_at is not None:
            updated = m.deleted_at
        offset = random_offset(rng)
        yield {
            "id": m.id,
            "full_name": m.full_name,
            "email": m.email,
            "team": m.team,
            "role": m.role,
            "hired_at": format_ts(m.hired_at, offset),
            "terminated_at": _ts(m.terminated_at, offset),
            "updated_at": format_ts(updated, offset),
            "deleted_at": _ts(m.deleted_at, offset),
        }


def _company_name(rng: random.Random, client: Client) -> str:
    if client.segment == "b2c":
        first, last = person_name(rng)
        return f"{first} {last}"
    return f"{rng.choice(COMPANY_ROOTS)} {rng.choice(COMPANY_KINDS)} {LEGAL_FORM[client.country]}"


def _tax_id(rng: random.Random, client: Client) -> str | None:
    if client.country == "RU":
        digits = 10 if client.segment == "b2b" else 12
        return (
            None
            if client.segment == "b2c" and rng.random() < 0.7
            else str(rng.randrange(10 ** (digits - 1), 10**digits))
        )
    if client.country == "KZ" and client.segment == "b2b":
        return str(rng.randrange(10**11, 10**12))
    return None if rng.random() < 0.5 else f"{client.country}{rng.randrange(10**8, 10**9)}"


def _client_rows(rng: random.Random, world: World) -> Iterator[dict[str, Any]]:
    cal = world.calendar
    for client in world.clients:
        events = [client.created_at, *client.owner_times]
        events += [t for t in (client.lost_at, client.deleted_at) if t is not None]
        if len(client.spans) > 1:
            events.append(cal.month_starts[client.spans[1][0]])
        updated = _edited_since(rng, max(events), cal, 0.4)
        if client.deleted_at is not None:
            updated = client.deleted_at
        offset = random_offset(rng)
        yield {
            "id": client.id,
            "name": _company_name(rng, client),
            "tax_id": _tax_id(rng, client),
            "segment": client.segment,
            "industry": rng.choice(INDUSTRIES) if client.segment == "b2b" else None,
            "country": client.country,
            "created_at": format_ts(client.created_at, offset),
            "status": client.status,
            "lost_reason": client.lost_reason if client.status == "lost" else None,
            "owner_id": client.owner_ids[-1] if client.owner_ids else None,
            "is_vip": client.is_vip,
            "wallet_estimate": None if client.wallet_cents is None else format_money(client.wallet_cents),
            "updated_at": format_ts(updated, offset),
            "deleted_at": _ts(client.deleted_at, offset),
        }


def _contact_rows(rng: random.Random, world: World) -> Iterator[dict[str, Any]]:
    """Contacts of every client (kept on the client for activities and surveys)."""
    cal = world.calendar
    number = 0
    for client in world.clients:
        low, high = TIER_CONTACTS[client.tier]
        for seat in range(rng.randint(low, high)):
            number += 1
            if client.segment == "b2c":
                role = "decision_maker"
            elif seat == 0:
                role = _weighted(
                    rng, (("decision_maker", 45), ("budget_holder", 20), ("influencer", 20), ("user", 15))
                )
            else:
                role = rng.choice(("decision_maker", "budget_holder", "influencer", "user", "user"))
            known_since = max(client.created_at, cal.start - 400 * DAY)
            updated = _updated_after(rng, business_time(rng, known_since, cal.end), cal.end, 0.2)
            deleted_at = None
            if rng.random() < 0.03 or number == 3:
                deleted_at = business_time(rng, max(known_since, cal.start), cal.end)
                updated = deleted_at
            client.contacts.append((f"P{number:07d}", role, deleted_at))
            first, last = person_name(rng)
            offset = random_offset(rng)
            yield {
                "id": f"P{number:07d}",
                "client_id": client.id,
                "full_name": f"{first} {last}",
                "email": None if rng.random() < 0.1 else f"{first}.{last}{number}@mail.example".lower(),
                "phone": None if rng.random() < 0.2 else phone_number(rng, client.country),
                "position": None if client.segment == "b2c" else rng.choice(ROLE_POSITIONS[role]),
                "buying_role": role,
                "is_active": rng.random() >= 0.08,
                "updated_at": format_ts(updated, offset),
                "deleted_at": _ts(deleted_at, offset),
            }


def phone_number(rng: random.Random, country: str) -> str:
    digits = f"{rng.randrange(10**9):09d}"
    return f"{PHONE_PREFIX[country]}{digits[:2]} {digits[2:5]}-{digits[5:7]}-{digits[7:]}"


def _product_rows(rng: random.Random, cal: Calendar) -> Iterator[dict[str, Any]]:
    for product in PRODUCTS:
        if rng.random() < 0.15:
            updated = business_time(rng, cal.start, cal.end)
        else:
            updated = business_time(rng, cal.start - 700 * DAY, cal.start - 30 * DAY)
        yield {
            "id": product.id,
            "name": product.name,
            "product_line": product.product_line,
            "updated_at": format_ts(updated, random_offset(rng)),
        }


def _fx_rows(rng: random.Random, cal: Calendar, end_date: date) -> Iterator[dict[str, Any]]:
    """A daily random walk per foreign currency, published the evening before its date."""
    rates = dict(FX_START_MICROS)
    day = cal.months[0] - timedelta(days=FX_DAYS_BEFORE_RANGE)
    while day <= end_date:
        for currency in FOREIGN_CURRENCIES:
            anchor = FX_START_MICROS[currency]
            rate = rates[currency]
            rate += rate * rng.randint(-70, 70) // 10_000 + (anchor - rate) // 60
            rates[currency] = rate
            published = epoch_of(day) - rng.randint(3 * HOUR, 9 * HOUR)
            yield {
                "currency": currency,
                "rate_date": day.isoformat(),
                "rate_to_base": format_units(rate, 6),
                "updated_at": format_ts(_updated_after(rng, published, cal.end, 0.01), random_offset(rng)),
            }
        day += timedelta(days=1)


# -- the months -----------------------------------------------------------------------------


class _Rare:
    """An event of a given rate that is forced once, from a given month on, if it has not happened."""

    def __init__(self, rng: random.Random, rate: float, force_from: int, force_until: int) -> None:
        self.rng = rng
        self.rate = rate
        self.force_from = force_from
        self.force_until = force_until
        self.count = 0

    def happens(self, month: int) -> bool:
        hit = self.rng.random() < self.rate
        forced = self.count == 0 and self.force_from <= month <= self.force_until
        if hit or forced:
            self.count += 1
            return True
        return False


@dataclass(slots=True)
class InvoicePlan:
    client: Client
    planned_at: int
    sort_at: int
    seq: int
    draft: str | None
    size: float


class _Months:
    """Simulates the months in order and streams their CRM events and billing documents."""

    def __init__(self, seed: int, world: World, writers: dict[str, EntityWriter]) -> None:
        self.world = world
        self.cal = world.calendar
        self.writers = writers
        self.billing_rng = random.Random(f"{seed}:billing")
        self.crm_rng = random.Random(f"{seed}:crm")
        self.by_id = {m.id: m for m in world.managers}
        self.teams: dict[str, list[Manager]] = defaultdict(list)
        for manager in world.managers:
            self.teams[manager.team].append(manager)
        self.pending: dict[str, dict[int, list[tuple[int, int, dict[str, Any]]]]] = {
            name: defaultdict(list) for name in ("billing.payments", "billing.credit_notes", "crm.surveys")
        }
        self.next_id: dict[str, int] = defaultdict(lambda: 1)
        self.seq = 0
        self.credited_rub_cents: dict[tuple[str, int], int] = defaultdict(int)
        months = self.cal.count
        billing, crm = self.billing_rng, self.crm_rng
        self.stale_draft = _Rare(billing, 0.004, months // 2, months - 1)
        self.void = _Rare(billing, 0.012, months // 2, months - 2)
        self.credit_note = _Rare(billing, 0.025, months // 3, months - 3)
        self.unanswered = _Rare(crm, 0.03, months // 2, months - 2)
        self.late_response = _Rare(crm, 0.17, months // 3, months - 2)
        self.stages_in_flight = ["proposal_sent", "open"]

    def run(self) -> None:
        for month in range(self.cal.count):
            self._simulate_month(month)

    def _new_id(self, name: str) -> int:
        number = self.next_id[name]
        self.next_id[name] = number + 1
        return number

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _defer(self, name: str, instant: int, row: dict[str, Any]) -> None:
        self.pending[name][self.cal.month_index(instant)].append((instant, self._next_seq(), row))

    def _simulate_month(self, month: int) -> None:
        invoices: list[InvoicePlan] = []
        activities: list[tuple[int, int, dict[str, Any]]] = []
        deals: list[tuple[int, int, dict[str, Any]]] = []
        requests: list[tuple[int, int, dict[str, Any]]] = []
        month_end = self.cal.last_instant(month)
        for client in self.world.clients:
            if client.created_at > month_end or (
                client.deleted_at is not None and client.deleted_at < self.cal.month_starts[month]
            ):
                continue
            client.level *= 1 + client.growth
            invoices.extend(self._plan_invoices(client, month))
            activities.extend(self._activities(client, month))
            deals.extend(self._deals(client, month))
            requests.extend(self._requests(client, month))
            self._nps(client, month)
        self._emit_invoices(month, invoices)
        self._emit("crm.activities", "A", 8, activities)
        self._emit("crm.deals", "D", 7, deals)
        self._emit("crm.requests", "R", 7, requests)
        self._emit("crm.surveys", "S", 7, self.pending["crm.surveys"].pop(month, []))
        self._emit("billing.payments", None, 0, self.pending["billing.payments"].pop(month, []))
        self._emit("billing.credit_notes", None, 0, self.pending["billing.credit_notes"].pop(month, []))

    def _emit(
        self, name: str, prefix: str | None, width: int, rows: list[tuple[int, int, dict[str, Any]]]
    ) -> None:
        writer = self.writers[name]
        for _, _, row in sorted(rows, key=lambda item: (item[0], item[1])):
            number = self._new_id(name)
            row["id"] = number if prefix is None else f"{prefix}{number:0{width}d}"
            writer.write(row)

    def _window(self, client: Client, month: int) -> tuple[int, int]:
        low = max(self.cal.month_starts[month], client.created_at)
        return low, min(self.cal.last_instant(month), client.alive_until(self.cal.end))

    def _actor(self, client: Client, instant: int, other_share: float) -> str | None:
        """The owner at that instant, or sometimes a colleague of its team employed then."""
        owner = client.owner_at(instant)
        if owner is None or self.crm_rng.random() >= other_share:
            return owner
        team = self.teams[self.by_id[owner].team]
        colleague = team[self.crm_rng.randrange(len(team))]
        return colleague.id if colleague.employed_at(instant) else owner

    # -- billing

    def _plan_invoices(self, client: Client, month: int) -> list[InvoicePlan]:
        count = client.invoice_counts[month] if month < len(client.invoice_counts) else 0
        if not count:
            return []
        rng = self.billing_rng
        start = self.cal.month_starts[month]
        plans = []
        for number in range(count):
            fixed = client.pattern != "irregular" and number == 0
            day = (
                min(client.billing_day, self.cal.days_in(month))
                if fixed
                else rng.randint(1, self.cal.days_in(month))
            )
            planned = max(
                start + (day - 1) * DAY + rng.randint(5 * HOUR, 14 * HOUR), client.created_at + HOUR
            )
            size = self._invoice_size(client, number)
            draft, sort_at = None, planned
            if planned > self.cal.end:
                if planned - self.cal.end > 10 * DAY:
                    continue
                draft, sort_at = "unissued", max(client.created_at, self.cal.end - rng.randint(0, 4 * DAY))
            elif planned > self.cal.end - 3 * DAY and rng.random() < 0.4:
                draft = "dated"
            plans.append(InvoicePlan(client, planned, sort_at, self._next_seq(), draft, size))
        return plans

    def _invoice_size(self, client: Client, number_in_month: int) -> float:
        """How many months of the client's usual basket an invoice bills."""
        if client.pattern == "quarterly":
            return 3.0
        if client.pattern == "irregular":
            return self.billing_rng.uniform(0.6, 2.2)
        return 1.0 if number_in_month == 0 else self.billing_rng.uniform(0.1, 0.4)

    def _emit_invoices(self, month: int, plans: list[InvoicePlan]) -> None:
        for plan in sorted(plans, key=lambda p: (p.sort_at, p.seq)):
            invoice_id = self._new_id("billing.invoices")
            total = self._write_lines(invoice_id, plan)
            self.writers["billing.invoices"].write(self._invoice_row(month, invoice_id, plan, total))

    def _write_lines(self, invoice_id: int, plan: InvoicePlan) -> int:
        rng = self.billing_rng
        client = plan.client
        writer = self.writers["billing.invoice_lines"]
        if rng.random() < 0.002:
            return 0
        drafted = plan.sort_at - rng.randint(0, 2 * HOUR)
        offset = random_offset(rng)
        stamp = format_ts(max(client.created_at, drafted), offset)
        share = 0.75 if client.pattern != "irregular" else 0.55
        total = 0
        for position, item in enumerate(client.basket):
            if position and rng.random() >= share:
                continue
            amount, quantity_text, price_text = self._line_amount(
                item, client.level * plan.size * rng.uniform(0.9, 1.1)
            )
            cost_permille = item.product.cost_permille + rng.randint(-60, 60)
            if client.loss_making:
                cost_permille = rng.randint(1_050, 1_350)
            line_updated = stamp
            if rng.random() < 0.02:
                line_updated = format_ts(_updated_after(rng, plan.sort_at + DAY, self.cal.end, 1.0), offset)
            writer.write(
                {
                    "id": self._new_id("billing.invoice_lines"),
                    "invoice_id": invoice_id,
                    "product_id": item.product.id,
                    "quantity": quantity_text,
                    "unit_price": price_text,
                    "amount": format_money(amount),
                    "cost_amount": format_money(amount * cost_permille // 1_000),
                    "updated_at": line_updated,
                }
            )
            total += amount
        return total

    @staticmethod
    def _line_amount(item: BasketItem, factor: float) -> tuple[int, str, str]:
        decimals = item.product.quantity_decimals
        wanted = max(1, round(item.base_quantity * factor * 10**decimals))
        units, cents = priced_line(wanted, decimals, item.unit_price_cents)
        return cents, format_units(units, decimals), format_money(item.unit_price_cents)

    def _invoice_row(self, month: int, invoice_id: int, plan: InvoicePlan, total: int) -> dict[str, Any]:
        rng = self.billing_rng
        end = self.cal.end
        client = plan.client
        issued: int | None = plan.planned_at
        status, updated = "issued", plan.planned_at
        if plan.draft == "unissued" or (plan.draft is None and self.stale_draft.happens(month)):
            issued, status, updated = None, "draft", plan.sort_at
        elif plan.draft == "dated":
            status = "draft"
        elif plan.planned_at + 11 * DAY <= end and self.void.happens(month):
            status, updated = "void", plan.planned_at + rng.randint(DAY, 10 * DAY)
        elif total > 0:
            status, updated = self._settle(month, invoice_id, plan, total)
        offset = random_offset(rng)
        due = None if issued is None else issued + client.terms_days * DAY
        return {
            "id": invoice_id,
            "client_id": client.id,
            "number": f"INV-{self.cal.months[month].year}-{invoice_id:07d}",
            "issued_at": _ts(issued, offset),
            "due_at": _ts(due, offset),
            "currency": client.currency,
            "status": status,
            "updated_at": format_ts(_updated_after(rng, updated, end, 0.05), offset),
        }

    def _settle(self, month: int, invoice_id: int, plan: InvoicePlan, total: int) -> tuple[str, int]:
        """Payments and credit notes of an issued invoice; returns its status and last change."""
        rng = self.billing_rng
        client, issued, end = plan.client, plan.planned_at, self.cal.end
        owner = client.owner_at(issued)
        if owner is not None:
            self.credited_rub_cents[owner, month] += total * RUB_MICROS_PER_UNIT[client.currency] // 1_000_000
        if self.credit_note.happens(month):
            self._credit(month, invoice_id, total)
        delay = client.pay_delay_days * DAY + rng.randint(-2 * DAY, 10 * DAY)
        if rng.random() < 0.03:
            delay += rng.randint(60, 120) * DAY
        if rng.random() < 0.01:
            return "issued", issued
        paid_at = max(issued + HOUR, business_time(rng, issued + delay, issued + delay + DAY))
        if rng.random() < 0.06:
            first_part = total * rng.randint(30, 70) // 100
            first_paid = issued + (paid_at - issued) // 2
            if first_paid <= end:
                self._pay(invoice_id, client, first_paid, first_part)
            total -= first_part
        if paid_at > end:
            return "issued", issued
        self._pay(invoice_id, client, paid_at, total)
        return "paid", paid_at

    def _pay(self, invoice_id: int, client: Client, paid_at: int, cents: int) -> None:
        offset = random_offset(self.billing_rng)
        row = {
            "invoice_id": invoice_id,
            "paid_at": format_ts(paid_at, offset),
            "amount": format_money(cents),
            "currency": client.currency,
            "updated_at": format_ts(_updated_after(self.billing_rng, paid_at, self.cal.end, 0.02), offset),
        }
        self._defer("billing.payments", paid_at, row)

    def _credit(self, month: int, invoice_id: int, total: int) -> None:
        """A credit note on this invoice, issued in a later month."""
        rng = self.billing_rng
        later = min(month + rng.randint(1, 3), self.cal.count - 1)
        if later <= month:
            return
        issued = business_time(rng, self.cal.month_starts[later], self.cal.last_instant(later))
        if issued > self.cal.end:
            return
        cents = total if rng.random() < 0.1 else total * rng.randint(5, 60) // 100
        offset = random_offset(rng)
        row = {
            "invoice_id": invoice_id,
            "issued_at": format_ts(issued, offset),
            "amount": format_money(max(1, cents)),
            "reason": rng.choice(CREDIT_REASONS),
            "updated_at": format_ts(_updated_after(rng, issued, self.cal.end, 0.02), offset),
        }
        self._defer("billing.credit_notes", issued, row)

    # -- CRM

    def _engagement(self, client: Client, month: int) -> float:
        """Expected activities this month, by where the client is in its lifecycle."""
        if client.bills_in_span(month):
            mean = TIER_ACTIVITIES_PER_MONTH[client.tier]
            return mean * 1.6 if client.is_vip else mean
        upcoming = [start for start, _ in client.spans if start > month]
        if upcoming and upcoming[0] - month <= 2:
            return 1.5
        if client.created_at > self.cal.month_starts[month] - 90 * DAY:
            return 1.0
        return 0.12

    def _activities(self, client: Client, month: int) -> list[tuple[int, int, dict[str, Any]]]:
        rng = self.crm_rng
        low, high = self._window(client, month)
        if high < low or client.unassigned:
            return []
        rows = []
        end = self.cal.end
        for _ in range(_event_count(rng, self._engagement(client, month))):
            occurred = business_time(rng, low, high)
            manager = self._actor(client, occurred, 0.12)
            if manager is None:
                continue
            kind = ACTIVITY_TYPES[rng.randrange(len(ACTIVITY_TYPES))]
            deleted = None
            if rng.random() < 0.01:
                deleted = min(end, occurred + rng.randint(HOUR, 20 * DAY))
            logged = min(end, occurred + rng.randint(0, 30 * HOUR))
            updated = deleted if deleted is not None else _updated_after(rng, logged, end)
            offset = random_offset(rng)
            row = {
                "client_id": client.id,
                "manager_id": manager,
                "contact_id": self._contact(client, occurred, 0.75),
                "type": kind,
                "occurred_at": format_ts(occurred, offset),
                "duration_min": rng.randint(*ACTIVITY_MINUTES[kind]),
                "updated_at": format_ts(updated, offset),
                "deleted_at": _ts(deleted, offset),
            }
            rows.append((occurred, self._next_seq(), row))
        return rows

    def _contact(self, client: Client, instant: int, share: float) -> str | None:
        rng = self.crm_rng
        if not client.contacts or rng.random() >= share:
            return None
        contact_id, _, deleted_at = client.contacts[rng.randrange(len(client.contacts))]
        return contact_id if deleted_at is None or deleted_at > instant else None

    def _deals(self, client: Client, month: int) -> list[tuple[int, int, dict[str, Any]]]:
        rng = self.crm_rng
        low, high = self._window(client, month)
        if high < low or client.unassigned:
            return []
        openings: list[tuple[str, int | None, str | None]] = []
        created_month = self.cal.month_index(client.created_at)
        if created_month == month and not client.pre_existing:
            openings.append(("new_business", self._first_invoice_at(client, 0), None))
        if len(client.spans) > 1 and client.spans[1][0] - 1 == month:
            openings.append(("new_business", self._first_invoice_at(client, 1), None))
        if client.bills_in_span(month):
            if (month - client.renewal_month) % 12 == 0 and client.spans[0][0] < month:
                openings.append(("renewal", None, None))
            if rng.random() < (0.1 if client.is_vip else 0.05):
                openings.append((rng.choice(("upsell", "cross_sell")), None, None))
            if month == self.cal.count - 1 and self.stages_in_flight:
                openings.append(("upsell", None, self.stages_in_flight.pop()))
        elif client.is_prospect and client.pre_existing and rng.random() < 0.03:
            openings.append(("new_business", None, None))
        rows = []
        for kind, won_by, held_at in openings:
            created = business_time(rng, low, high)
            if won_by is not None and won_by <= created + DAY:
                created = min(high, max(client.created_at, won_by - rng.randint(2 * DAY, 20 * DAY)))
            row = self._deal_row(client, kind, created, won_by, held_at)
            if row is not None:
                rows.append((created, self._next_seq(), row))
        return rows

    def _first_invoice_at(self, client: Client, span: int) -> int | None:
        if span >= len(client.spans):
            return None
        start = client.spans[span][0]
        return self.cal.month_starts[start] + (client.billing_day - 1) * DAY

    def _deal_row(
        self, client: Client, kind: str, created: int, won_by: int | None, held_at: str | None
    ) -> dict[str, Any] | None:
        """A deal's path from open to won or lost, cut at the end date (or held at a stage)."""
        rng = self.crm_rng
        end = self.cal.end
        manager = self._actor(client, created, 0.1)
        if manager is None:
            return None
        proposal: int | None = created + rng.randint(2 * DAY, 15 * DAY)
        closed: int | None = proposal + rng.randint(3 * DAY, 30 * DAY)
        if won_by is not None:
            outcome = "won"
            closed = max(created + 2 * HOUR, min(closed, won_by - rng.randint(HOUR, 2 * DAY)))
            proposal = created + (closed - created) // 2
        elif client.is_prospect and rng.random() < 0.15:
            outcome, proposal, closed = "stalled", None, None
        else:
            win_share = {"renewal": 0.8, "new_business": 0.25 if client.is_prospect else 0.5}.get(kind, 0.5)
            outcome = "won" if rng.random() < win_share else "lost"
            if outcome == "lost" and rng.random() < 0.2:
                proposal, closed = None, created + rng.randint(DAY, 10 * DAY)
        stage = "open" if outcome == "stalled" else outcome
        if held_at is not None:
            stage, closed = held_at, None
            proposal = created + (end - created) // 2 if held_at == "proposal_sent" else None
        if proposal is not None and proposal > end:
            stage, proposal, closed = "open", None, None
        elif closed is not None and closed > end:
            stage, closed = ("proposal_sent" if proposal is not None else "open"), None
        last_event = max(t for t in (created, proposal, closed) if t is not None)
        deleted = min(end, last_event + rng.randint(HOUR, 30 * DAY)) if rng.random() < 0.01 else None
        months_bought = {
            "new_business": (6, 12),
            "renewal": (11, 13),
            "upsell": (1, 4),
            "cross_sell": (1, 3),
        }[kind]
        rub_cents = client.monthly_spend_cents * rng.randint(*months_bought)
        hundreds = _in_currency(rub_cents, client.currency) // 10_000 * 10_000
        offset = random_offset(rng)
        return {
            "client_id": client.id,
            "manager_id": manager,
            "kind": kind,
            "product_line": None if rng.random() < 0.05 else rng.choice(PRODUCT_LINES),
            "amount": format_money(max(10_000, hundreds)),
            "currency": client.currency,
            "stage": stage,
            "created_at": format_ts(created, offset),
            "proposal_sent_at": _ts(proposal, offset),
            "closed_at": _ts(closed, offset),
            "lost_reason": rng.choice(DEAL_LOST_REASONS) if stage == "lost" else None,
            "updated_at": format_ts(deleted or _updated_after(rng, last_event, end), offset),
            "deleted_at": _ts(deleted, offset),
        }

    def _requests(self, client: Client, month: int) -> list[tuple[int, int, dict[str, Any]]]:
        rng = self.crm_rng
        low, high = self._window(client, month)
        if high < low or client.unassigned or not client.bills_in_span(month):
            return []
        mean = TIER_REQUESTS_PER_MONTH[client.tier] * (1.5 if client.is_vip else 1.0)
        rows = []
        for _ in range(_event_count(rng, mean)):
            created = rng.randint(low, high)
            manager = self._actor(client, created, 0.1)
            if manager is None:
                continue
            priority = "high" if rng.random() < 0.25 else "normal"
            responded, resolved = self._response(month, priority, created)
            last_event = max(t for t in (created, responded, resolved) if t is not None)
            offset = random_offset(rng)
            row = {
                "client_id": client.id,
                "manager_id": manager,
                "priority": priority,
                "channel": None if rng.random() < 0.05 else rng.choice(REQUEST_CHANNELS),
                "created_at": format_ts(created, offset),
                "first_response_at": _ts(responded, offset),
                "resolved_at": _ts(resolved, offset),
                "updated_at": format_ts(_updated_after(rng, last_event, self.cal.end, 0.02), offset),
            }
            rows.append((created, self._next_seq(), row))
            if resolved is not None and rng.random() < 0.3:
                self._survey(client, "csi", resolved + rng.randint(2 * HOUR, 3 * DAY))
        return rows

    def _response(self, month: int, priority: str, created: int) -> tuple[int | None, int | None]:
        """First response and resolution: mostly within the SLA (high 4 h, normal 24 h), a few never."""
        rng = self.crm_rng
        if self.unanswered.happens(month):
            return None, None
        late = self.late_response.happens(month)
        if priority == "high":
            hours = rng.uniform(4.2, 14.0) if late else rng.uniform(0.1, 3.8)
        else:
            hours = rng.uniform(25.0, 80.0) if late else rng.uniform(0.3, 22.0)
        responded = created + int(hours * HOUR)
        if responded > self.cal.end:
            return None, None
        resolved = responded + rng.randint(HOUR, 5 * DAY)
        if resolved > self.cal.end or rng.random() < 0.05:
            return responded, None
        return responded, resolved

    def _nps(self, client: Client, month: int) -> None:
        if (month + client.index) % 6 or not client.bills_in_span(month) or self.crm_rng.random() >= 0.45:
            return
        low, high = self._window(client, month)
        if high >= low:
            self._survey(client, "nps", business_time(self.crm_rng, low, high))

    def _survey(self, client: Client, kind: str, responded: int) -> None:
        rng = self.crm_rng
        if responded > client.alive_until(self.cal.end):
            return
        if kind == "nps":
            score = rng.choices(range(11), weights=NPS_WEIGHTS)[0] + client.mood
            score = min(10, max(0, score))
        else:
            score = min(
                5,
                max(
                    1,
                    rng.choices(range(1, 6), weights=CSI_WEIGHTS)[0] + (client.mood > 0) - (client.mood < -2),
                ),
            )
        offset = random_offset(rng)
        row = {
            "client_id": client.id,
            "contact_id": self._contact(client, responded, 0.85),
            "kind": kind,
            "score": score,
            "responded_at": format_ts(responded, offset),
            "updated_at": format_ts(_updated_after(rng, responded, self.cal.end, 0.01), offset),
        }
        self._defer("crm.surveys", responded, row)


# -- finance --------------------------------------------------------------------------------


def _salary_cents(rng: random.Random, role: str) -> int:
    low, high = {"am": (180, 260), "kam": (280, 360), "lead": (380, 480)}[role]
    return rng.randint(low, high) * 10_000 * 100


def _in_currency(rub_cents: int, currency: str) -> int:
    return rub_cents * 1_000_000 // RUB_MICROS_PER_UNIT[currency]


def _rounded(cents: int, whole_units: int) -> int:
    step = whole_units * 100
    return (cents + step // 2) // step * step


def _compensation_rows(rng: random.Random, world: World) -> Iterator[dict[str, Any]]:
    cal = world.calendar
    candidates = [m.index for m in world.managers if m.hired_at < cal.start and m.terminated_at is None]
    raised = set(_take(rng, candidates, _quota(len(world.managers), 0.35, 1)))
    for m in world.managers:
        salary = _rounded(_in_currency(_salary_cents(rng, m.role), m.salary_currency), 10_000)
        yield _compensation(m, utc_date(m.hired_at), salary)
        if m.index in raised:
            month = rng.randint(cal.count // 3, max(cal.count // 3, cal.count * 2 // 3))
            yield _compensation(m, cal.months[month], _rounded(salary * rng.randint(106, 115) // 100, 10_000))


def _compensation(manager: Manager, effective_from: date, cents: int) -> dict[str, Any]:
    return {
        "manager_id": manager.id,
        "effective_from": effective_from.isoformat(),
        "annual_base_salary": format_money(cents),
        "currency": manager.salary_currency,
    }


def _employed_months(cal: Calendar, manager: Manager) -> list[int]:
    return [
        month
        for month in range(cal.count)
        if manager.hired_at <= cal.last_instant(month)
        and (manager.terminated_at is None or manager.terminated_at >= cal.month_starts[month])
    ]


def _target_rows(
    rng: random.Random, world: World, credited: dict[tuple[str, int], int]
) -> Iterator[dict[str, Any]]:
    """A plan per manager: its average credited month, stretched by 85-135% and a yearly trend.

    Months then miss or beat it as billing comes; targets are rounded to 10,000 and a few
    months have none.
    """
    cal = world.calendar
    with_gap = set(_take(rng, [m.index for m in world.managers], _quota(len(world.managers), 0.02, 1)))
    for m in world.managers:
        months = _employed_months(cal, m)
        gap = rng.choice(months[1:-1]) if m.index in with_gap and len(months) > 2 else None
        average = sum(credited.get((m.id, month), 0) for month in months) // max(1, len(months))
        stretch = rng.randint(85, 135)
        for number, month in enumerate(months):
            trend = 940 + 120 * number // max(1, len(months))
            planned = average * stretch * trend * rng.randint(97, 103) // 10_000_000
            target = max(300_000_00 if number else 150_000_00, _rounded(planned, 10_000))
            if month != gap:
                yield {
                    "manager_id": m.id,
                    "month": cal.months[month].isoformat(),
                    "revenue_target": format_money(target),
                }


def _plan_assignment_rows(world: World) -> Iterator[dict[str, Any]]:
    for m in world.managers:
        yield {"manager_id": m.id, "plan_id": "standard", "effective_from": utc_date(m.hired_at).isoformat()}


def _month_close_rows(rng: random.Random, cal: Calendar) -> Iterator[dict[str, Any]]:
    """Each month is closed a week into the next; the last one or two are still open at the end date."""
    for month in range(cal.count):
        closed = cal.month_starts[month + 1] + rng.randint(4, 9) * DAY + rng.randint(8, 14) * HOUR
        if closed <= cal.end:
            yield {
                "month": cal.months[month].isoformat(),
                "closed_at": format_ts(closed, random_offset(rng)),
                "closed_by": rng.choice(CLOSERS),
            }


# -- the folder -----------------------------------------------------------------------------

DATASET_PARTS = ("crm", "billing", "finance", "_delta")


def _key(e: Entity) -> str:
    return f"{e.source}.{e.name}"


def _check_replaceable(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a data set folder")
    if out.is_dir():
        strangers = sorted(p.name for p in out.iterdir() if p.name not in DATASET_PARTS)
        if strangers:
            raise ValueError(f"{out} holds {strangers[:5]}, not only a data set: refusing to replace it")


def generate(out: Path, *, seed: int, end_date: date, scale: str) -> dict[str, int]:
    """Write a whole data set folder (replacing it); returns the rows written per "<source>.<entity>"."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    out = Path(out)
    _check_replaceable(out)
    partial = out.with_name(f".{out.name}.partial")
    if partial.exists():
        shutil.rmtree(partial)
    cal = Calendar.ending(end_date, SCALES[scale].months)
    writers = {_key(e): EntityWriter(partial, e) for e in (*CRM_ENTITIES, *BILLING_TABLES, *FINANCE_TABLES)}
    try:
        _write_all(seed, cal, end_date, SCALES[scale], writers)
    finally:
        for writer in writers.values():
            writer.close()
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    return {name: writer.count for name, writer in writers.items()}


def _write_all(
    seed: int, cal: Calendar, end_date: date, scale: Scale, writers: dict[str, EntityWriter]
) -> None:
    world = _build_world(seed, scale, cal)
    rows = random.Random(f"{seed}:rows")
    writers["crm.managers"].write_all(_manager_rows(rows, world))
    writers["crm.clients"].write_all(_client_rows(rows, world))
    writers["crm.owner_changes"].write_all(world.owner_changes)
    writers["crm.contacts"].write_all(_contact_rows(rows, world))
    writers["billing.products"].write_all(_product_rows(rows, cal))
    writers["billing.fx_rates"].write_all(_fx_rows(random.Random(f"{seed}:fx"), cal, end_date))
    months = _Months(seed, world, writers)
    months.run()
    finance = random.Random(f"{seed}:finance")
    writers["finance.compensation"].write_all(_compensation_rows(finance, world))
    writers["finance.revenue_targets"].write_all(_target_rows(finance, world, months.credited_rub_cents))
    writers["finance.plan_assignments"].write_all(_plan_assignment_rows(world))
    writers["finance.month_closes"].write_all(_month_close_rows(finance, cal))
