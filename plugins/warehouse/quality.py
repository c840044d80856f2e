"""Checks against the source contract, and the rejects table they feed.

CRM records are checked in SQL, set-based, right after they are copied into
a load table: `violation_sql` gives, for one JSON record, the reason it
breaks the contract of its entity (a missing id, a wrong type, an
unparsable timestamp, an unknown enum value) or null when it keeps it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from psycopg import Connection, sql

from warehouse.contract import Entity, Field
from warehouse.raw import META_SCHEMA

# ISO 8601 with a UTC offset; PostgreSQL alone would also take 'yesterday' or a missing offset.
# Any number of fraction digits (.NET writes 7, Go and Java 9), after a point or a comma.
ISO_INSTANT = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$"
ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
DECIMAL_TEXT = r"^-?\d+(\.\d+)?$"
INTEGER_TEXT = r"^-?\d+$"
# money as a JSON number: jsonb reads it as an exact numeric, so cents are kept; more decimals
# are what a binary float leaves behind (0.30000000000000004), which the contract excludes
MONEY_NUMBER_TEXT = r"^-?\d+(\.\d{1,2})?$"


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


def instant_text(text: sql.Composable) -> sql.Composed:
    """An ISO 8601 instant's text as PostgreSQL reads it, with the instant Python's fromisoformat gives.

    The fraction's comma becomes a point, and digits past the sixth are cut: PostgreSQL keeps
    microseconds and would round the rest, moving 23:59:59.9999999 into the next day. The
    regular expression, four times the cost of the cast, only runs on the rare text that needs it.
    """
    return sql.SQL(
        r"""(case when strpos({t}, ',') > 0
            or (strpos({t}, '.') > 0 and substr({t}, strpos({t}, '.') + 7, 1) between '0' and '9')
            then regexp_replace({t}, '[.,](\d{{1,6}})\d*', '.\1') else {t} end)"""
    ).format(t=text)


def is_instant(text: sql.Composable) -> sql.Composed:
    return sql.SQL("({text} ~ {pattern} and pg_input_is_valid({instant}, 'timestamptz'))").format(
        text=text, pattern=sql.Literal(ISO_INSTANT), instant=instant_text(text)
    )


def _type_check(
    field: Field, value: sql.Composable, text: sql.Composable
) -> list[tuple[sql.Composable, sql.Composable]]:
    """(broken, reason) pairs for a present, non-null value of `field`, in the order they are tried."""
    kind = sql.SQL("jsonb_typeof({})").format(value)
    name = field.name
    if field.type == "text":
        checks = [
            (
                sql.SQL("{} <> 'string'").format(kind),
                sql.SQL("{} || {}").format(
                    sql.Literal(f"wrong type for {name}: expected a string, got "), kind
                ),
            )
        ]
        if field.choices:
            checks.append(
                (
                    sql.SQL("{} not in ({})").format(
                        text, sql.SQL(", ").join(map(sql.Literal, field.choices))
                    ),
                    sql.SQL("{} || quote_literal({}) || {}").format(
                        sql.Literal(f"unknown value for {name}: "),
                        text,
                        sql.Literal(f" (expected one of {', '.join(field.choices)})"),
                    ),
                )
            )
        return checks
    if field.type in ("integer", "bigint"):
        broken = sql.SQL("not ({} = 'number' and {} ~ {})").format(kind, text, sql.Literal(INTEGER_TEXT))
        return [
            (
                broken,
                sql.SQL("{} || {}::text").format(
                    sql.Literal(f"wrong type for {name}: expected an integer, got "), value
                ),
            )
        ]
    if field.type == "numeric":
        broken = sql.SQL("not (({k} = 'string' and {t} ~ {d}) or ({k} = 'number' and {t} ~ {n}))").format(
            k=kind, t=text, d=sql.Literal(DECIMAL_TEXT), n=sql.Literal(MONEY_NUMBER_TEXT)
        )
        return [
            (
                broken,
                sql.SQL("{} || {}::text").format(
                    sql.Literal(
                        f"wrong type for {name}: expected a decimal string or a number with at most 2 decimals, got "
                    ),
                    value,
                ),
            )
        ]
    if field.type == "boolean":
        return [
            (
                sql.SQL("{} <> 'boolean'").format(kind),
                sql.SQL("{} || {}::text").format(
                    sql.Literal(f"wrong type for {name}: expected a boolean, got "), value
                ),
            )
        ]
    if field.type == "timestamptz":
        broken = sql.SQL("not ({} = 'string' and {})").format(kind, is_instant(text))
        return [
            (
                broken,
                sql.SQL("{} || {}::text || {}").format(
                    sql.Literal(f"unparsable timestamp for {name}: "),
                    value,
                    sql.Literal(" (ISO 8601 with a UTC offset expected)"),
                ),
            )
        ]
    broken = sql.SQL("not ({k} = 'string' and {t} ~ {p} and pg_input_is_valid({t}, 'date'))").format(
        k=kind, t=text, p=sql.Literal(ISO_DATE)
    )
    return [(broken, sql.SQL("{} || {}::text").format(sql.Literal(f"unparsable date for {name}: "), value))]


def violation_sql(entity: Entity, record: sql.Composable) -> sql.Composed:
    """A SQL expression: why the JSON record `record` breaks the contract of `entity`, or null."""
    whens: list[tuple[sql.Composable, sql.Composable]] = [
        (
            sql.SQL("jsonb_typeof({}) <> 'object'").format(record),
            sql.SQL("'not a JSON object: ' || jsonb_typeof({})").format(record),
        ),
        (sql.SQL("coalesce({r} ->> 'id', '') = ''").format(r=record), sql.Literal("missing id")),
    ]
    for field in entity.fields:
        value = sql.SQL("({} -> {})").format(record, sql.Literal(field.name))
        text = sql.SQL("({} ->> {})").format(record, sql.Literal(field.name))
        absent = sql.SQL("coalesce(jsonb_typeof({}), 'null') = 'null'").format(value)
        if not field.nullable:
            whens.append((absent, sql.Literal(f"missing value for {field.name}")))
        for broken, reason in _type_check(field, value, text):
            whens.append((sql.SQL("(not {} and {})").format(absent, broken), reason))
    cases = sql.SQL(" ").join(sql.SQL("when {} then {}").format(w, r) for w, r in whens)
    return sql.SQL("(case {} end)").format(cases)


def record_key_sql(record: sql.Composable) -> tuple[sql.Composed, sql.Composed]:
    """SQL for the rejects key of a record: its id (or, without one, `md5:` of its content) and updated_at text."""
    record_id = sql.SQL("coalesce(nullif({r} ->> 'id', ''), 'md5:' || md5({r}::text))").format(r=record)
    updated_at = sql.SQL("coalesce({} ->> 'updated_at', '')").format(record)
    return record_id, updated_at


def save_rejects(conn: Connection, rejects: Iterable[Reject], run_id: str) -> int:
    """Record rejected rows; one already recorded (same source, entity, id, updated_at) is not added again."""
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
