"""Record-level checks against the source contract, and the rejects table they feed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from psycopg import Connection

from warehouse.contract import Entity, Field
from warehouse.raw import META_SCHEMA

DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")


@dataclass(frozen=True)
class Reject:
    source: str
    entity: str
    record_id: str
    updated_at: str
    reason: str
    record: dict


def parse_instant(value: object) -> datetime | None:
    """An ISO 8601 timestamp with a UTC offset, or None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _field_violation(field: Field, value: object) -> str | None:
    if value is None:
        return None if field.nullable else f"missing value for {field.name}"
    kind = field.type
    if kind == "text":
        if not isinstance(value, str):
            return f"wrong type for {field.name}: expected a string, got {type(value).__name__}"
        if field.choices and value not in field.choices:
            return f"unknown value for {field.name}: {value!r} (expected one of {', '.join(field.choices)})"
    elif kind in ("integer", "bigint"):
        if isinstance(value, bool) or not isinstance(value, int):
            return f"wrong type for {field.name}: expected an integer, got {type(value).__name__}"
    elif kind == "numeric":
        if isinstance(value, bool) or not (
            isinstance(value, int) or (isinstance(value, str) and DECIMAL.match(value))
        ):
            return f"wrong type for {field.name}: expected a decimal string, got {value!r}"
    elif kind == "boolean":
        if not isinstance(value, bool):
            return f"wrong type for {field.name}: expected a boolean, got {type(value).__name__}"
    elif kind == "timestamptz":
        if parse_instant(value) is None:
            return f"unparsable timestamp for {field.name}: {value!r} (ISO 8601 with a UTC offset expected)"
    elif kind == "date":
        try:
            date.fromisoformat(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return f"unparsable date for {field.name}: {value!r}"
    return None


def contract_violation(entity: Entity, record: object) -> str | None:
    """Why a JSON record breaks the contract of `entity`, or None when it keeps it."""
    if not isinstance(record, dict):
        return f"not a JSON object: {type(record).__name__}"
    record_id = record.get("id")
    if not isinstance(record_id, str) or not record_id:
        return (
            "missing id"
            if record_id in (None, "")
            else f"wrong type for id: expected a string, got {record_id!r}"
        )
    for field in entity.fields:
        reason = _field_violation(field, record.get(field.name))
        if reason:
            return reason
    return None


def record_key(record: object) -> tuple[str, str]:
    """(record id, updated_at) as text, for the rejects key; a record without an id is named by its content."""
    if isinstance(record, dict):
        record_id = record.get("id")
        updated = record.get("updated_at")
        name = str(record_id) if record_id not in (None, "") else None
    else:
        name, updated = None, None
    if name is None:
        import hashlib

        name = "md5:" + hashlib.md5(json.dumps(record, sort_keys=True).encode()).hexdigest()
    return name, "" if updated is None else str(updated)


def save_rejects(conn: Connection, rejects: Iterable[Reject], run_id: str) -> int:
    """Record rejected records; one already recorded (same source, entity, id, updated_at) is not added again."""
    rows = [
        (r.source, r.entity, r.record_id, r.updated_at, r.reason, json.dumps(r.record), run_id)
        for r in rejects
    ]
    if rows:
        with conn.cursor() as cur:
            cur.executemany(
                f"""
                insert into {META_SCHEMA}.rejects (source, entity, record_id, updated_at, reason, record, run_id)
                values (%s, %s, %s, %s, %s, %s::jsonb, %s)
                on conflict do nothing
                """,
                rows,
            )
    return len(rows)
