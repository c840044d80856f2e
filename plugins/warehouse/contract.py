"""The source contract of shared/spec/sources.md, as data.

One place names every entity, its fields, their types and keys. The
extractors type raw tables from it and validate records against it; the
source simulator writes and serves data sets in exactly this shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FieldType = Literal["text", "bigint", "integer", "numeric", "boolean", "date", "timestamptz"]


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    nullable: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Entity:
    source: Literal["crm", "billing", "finance"]
    name: str
    fields: tuple[Field, ...]
    key: tuple[str, ...] = ("id",)
    incremental: bool = True  # carries updated_at
    soft_delete: bool = False  # carries deleted_at

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.source}.{self.name} has no field {name!r}")


def _f(name: str, type_: FieldType = "text", nullable: bool = False, choices: tuple[str, ...] = ()) -> Field:
    return Field(name, type_, nullable, choices)


TS = "timestamptz"
UPDATED = _f("updated_at", TS)
DELETED = _f("deleted_at", TS, nullable=True)

CRM_ENTITIES: tuple[Entity, ...] = (
    Entity(
        "crm",
        "managers",
        (
            _f("id"),
            _f("full_name"),
            _f("email", nullable=True),
            _f("team", nullable=True),
            _f("role", choices=("am", "kam", "lead")),
            _f("hired_at", TS),
            _f("terminated_at", TS, nullable=True),
            UPDATED,
            DELETED,
        ),
        soft_delete=True,
    ),
    Entity(
        "crm",
        "clients",
        (
            _f("id"),
            _f("name"),
            _f("tax_id", nullable=True),
            _f("segment", choices=("b2b", "b2c")),
            _f("industry", nullable=True),
            _f("country", nullable=True),
            _f("created_at", TS),
            _f("status", choices=("prospect", "active", "lost")),
            _f("lost_reason", nullable=True),
            _f("owner_id", nullable=True),
            _f("is_vip", "boolean"),
            _f("wallet_estimate", "numeric", nullable=True),
            UPDATED,
            DELETED,
        ),
        soft_delete=True,
    ),
    Entity(
        "crm",
        "owner_changes",
        (
            _f("id"),
            _f("client_id"),
            _f("old_owner_id", nullable=True),
            _f("new_owner_id"),
            _f("changed_at", TS),
            UPDATED,
        ),
    ),
    Entity(
        "crm",
        "contacts",
        (
            _f("id"),
            _f("client_id"),
            _f("full_name"),
            _f("email", nullable=True),
            _f("phone", nullable=True),
            _f("position", nullable=True),
            _f("buying_role", choices=("decision_maker", "budget_holder", "influencer", "user")),
            _f("is_active", "boolean"),
            UPDATED,
            DELETED,
        ),
        soft_delete=True,
    ),
    Entity(
        "crm",
        "activities",
        (
            _f("id"),
            _f("client_id"),
            _f("manager_id"),
            _f("contact_id", nullable=True),
            _f("type", choices=("meeting_in_person", "meeting_online", "call", "email")),
            _f("occurred_at", TS),
            _f("duration_min", "integer"),
            UPDATED,
            DELETED,
        ),
        soft_delete=True,
    ),
    Entity(
        "crm",
        "deals",
        (
            _f("id"),
            _f("client_id"),
            _f("manager_id"),
            _f("kind", choices=("new_business", "upsell", "cross_sell", "renewal")),
            _f("product_line", nullable=True),
            _f("amount", "numeric"),
            _f("currency"),
            _f("stage", choices=("open", "proposal_sent", "won", "lost")),
            _f("created_at", TS),
            _f("proposal_sent_at", TS, nullable=True),
            _f("closed_at", TS, nullable=True),
            _f("lost_reason", nullable=True),
            UPDATED,
            DELETED,
        ),
        soft_delete=True,
    ),
    Entity(
        "crm",
        "requests",
        (
            _f("id"),
            _f("client_id"),
            _f("manager_id"),
            _f("priority", choices=("high", "normal")),
            _f("channel", nullable=True),
            _f("created_at", TS),
            _f("first_response_at", TS, nullable=True),
            _f("resolved_at", TS, nullable=True),
            UPDATED,
        ),
    ),
    Entity(
        "crm",
        "surveys",
        (
            _f("id"),
            _f("client_id"),
            _f("contact_id", nullable=True),
            _f("kind", choices=("nps", "csi")),
            _f("score", "integer"),
            _f("responded_at", TS),
            UPDATED,
        ),
    ),
)

BILLING_TABLES: tuple[Entity, ...] = (
    Entity("billing", "products", (_f("id", "bigint"), _f("name"), _f("product_line"), UPDATED)),
    Entity(
        "billing",
        "invoices",
        (
            _f("id", "bigint"),
            _f("client_id"),
            _f("number"),
            _f("issued_at", TS, nullable=True),
            _f("due_at", TS, nullable=True),
            _f("currency"),
            _f("status", choices=("draft", "issued", "paid", "void")),
            UPDATED,
        ),
    ),
    Entity(
        "billing",
        "invoice_lines",
        (
            _f("id", "bigint"),
            _f("invoice_id", "bigint"),
            _f("product_id", "bigint"),
            _f("quantity", "numeric"),
            _f("unit_price", "numeric"),
            _f("amount", "numeric"),
            _f("cost_amount", "numeric"),
            UPDATED,
        ),
    ),
    Entity(
        "billing",
        "credit_notes",
        (
            _f("id", "bigint"),
            _f("invoice_id", "bigint"),
            _f("issued_at", TS),
            _f("amount", "numeric"),
            _f("reason", nullable=True),
            UPDATED,
        ),
    ),
    Entity(
        "billing",
        "payments",
        (
            _f("id", "bigint"),
            _f("invoice_id", "bigint"),
            _f("paid_at", TS),
            _f("amount", "numeric"),
            _f("currency"),
            UPDATED,
        ),
    ),
    Entity(
        "billing",
        "fx_rates",
        (_f("currency"), _f("rate_date", "date"), _f("rate_to_base", "numeric"), UPDATED),
        key=("currency", "rate_date"),
    ),
)

FINANCE_TABLES: tuple[Entity, ...] = (
    Entity(
        "finance",
        "compensation",
        (_f("manager_id"), _f("effective_from", "date"), _f("annual_base_salary", "numeric"), _f("currency")),
        key=("manager_id", "effective_from"),
        incremental=False,
    ),
    Entity(
        "finance",
        "revenue_targets",
        (_f("manager_id"), _f("month", "date"), _f("revenue_target", "numeric")),
        key=("manager_id", "month"),
        incremental=False,
    ),
    Entity(
        "finance",
        "plan_assignments",
        (_f("manager_id"), _f("plan_id"), _f("effective_from", "date")),
        key=("manager_id", "effective_from"),
        incremental=False,
    ),
    Entity(
        "finance",
        "month_closes",
        (_f("month", "date"), _f("closed_at", TS), _f("closed_by")),
        key=("month",),
        incremental=False,
    ),
)

ALL_ENTITIES: tuple[Entity, ...] = CRM_ENTITIES + BILLING_TABLES + FINANCE_TABLES


def entity(source: str, name: str) -> Entity:
    for e in ALL_ENTITIES:
        if e.source == source and e.name == name:
            return e
    raise KeyError(f"no entity {source}.{name} in the source contract")
