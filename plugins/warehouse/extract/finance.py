"""Finance inputs → `raw_finance.<table>`, read whole each run and validated before they replace the last load.

Inputs come from the billing database's `finance` schema, or from a folder of
CSV files (`FINANCE_INPUTS_DIR`, `<table>.csv` with a header row). A value of
the wrong type or a duplicate key fails the load, naming the file and line
(or table and key); a row for a manager the CRM does not know goes to
`raw_meta.rejects`. Messages name rows by key only: salaries never reach a log.
"""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from psycopg import sql

from warehouse.contract import Entity, Field, entity
from warehouse.db import connect
from warehouse.quality import Reject, parse_instant, save_rejects
from warehouse.raw import ensure_raw_layer, table_of
from warehouse.state import LoadStats, log_load

log = logging.getLogger(__name__)


class FinanceInputError(ValueError):
    """A finance input breaks the contract; the load stops and nothing is replaced."""


@dataclass(frozen=True)
class InputRow:
    where: str  # "compensation.csv line 7" or "finance.compensation key (M0003, 2025-01-01)"
    values: dict[str, str | None]


def _convert(field: Field, text: str | None) -> object:
    if text is None or text == "":
        if field.nullable:
            return None
        raise ValueError(f"missing value for {field.name}")
    if field.type == "numeric":
        try:
            return Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{field.name} is not a number") from None
    if field.type == "date":
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{field.name} is not a date (YYYY-MM-DD)") from None
    if field.type == "timestamptz":
        parsed = parse_instant(text)
        if parsed is None:
            raise ValueError(f"{field.name} is not a timestamp with a UTC offset") from None
        return parsed
    return text


def read_csv_rows(folder: Path, table: Entity) -> Iterator[InputRow]:
    path = folder / f"{table.name}.csv"
    if not path.exists():
        raise FinanceInputError(f"finance input {path} is missing")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in table.columns if c not in (reader.fieldnames or [])]
        if missing:
            raise FinanceInputError(f"finance input {path}: the header lacks {', '.join(missing)}")
        for row in reader:
            yield InputRow(f"{path.name} line {reader.line_num}", {c: row[c] for c in table.columns})


def read_db_rows(billing: str, table: Entity) -> Iterator[InputRow]:
    columns = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in table.columns)
    query = sql.SQL("select {} from finance.{}").format(columns, sql.Identifier(table.name))
    with connect(billing) as conn, conn.cursor() as cur:
        for record in cur.execute(query):
            values = dict(zip(table.columns, record, strict=True))
            key = ", ".join(str(values[k]) for k in table.key)
            yield InputRow(f"finance.{table.name} key ({key})", values)


def validate(table: Entity, rows: Iterator[InputRow]) -> list[tuple[str, tuple]]:
    """Typed rows in contract order, each with where it came from; raises on a bad value or a duplicate key."""
    seen: dict[tuple, str] = {}
    typed: list[tuple[str, tuple]] = []
    for row in rows:
        try:
            values = tuple(_convert(table.field(c), row.values[c]) for c in table.columns)
        except ValueError as exc:
            raise FinanceInputError(f"finance input {row.where}: {exc}") from None
        key = tuple(values[table.columns.index(k)] for k in table.key)
        if key in seen:
            raise FinanceInputError(
                f"finance input {row.where}: duplicate key {', '.join(map(str, key))} (first at {seen[key]})"
            )
        seen[key] = row.where
        typed.append((row.where, values))
    return typed


def load_table(
    warehouse: str, table_name: str, run_id: str, *, billing: str | None = None, folder: Path | None = None
) -> LoadStats:
    """Replace `raw_finance.<table_name>` with the current finance input, once it is valid."""
    table = entity("finance", table_name)
    started = time.monotonic()
    rows = validate(table, read_csv_rows(folder, table) if folder else read_db_rows(billing or "", table))
    with connect(warehouse) as conn:
        ensure_raw_layer(conn)
        with conn.transaction():
            known = {r[0] for r in conn.execute("select id from raw_crm.managers")}
            manager_index = table.columns.index("manager_id") if "manager_id" in table.columns else None
            accepted, rejects = [], []
            for where, values in rows:
                if manager_index is not None and values[manager_index] not in known:
                    key = ", ".join(str(values[table.columns.index(k)]) for k in table.key)
                    rejects.append(
                        Reject(
                            "finance",
                            table_name,
                            key,
                            "",
                            f"manager unknown to the CRM ({where})",
                            {c: str(v) for c, v in zip(table.columns, values, strict=True)},
                        )
                    )
                else:
                    accepted.append(values)
            conn.execute(sql.SQL("truncate {}").format(table_of(table)))
            with (
                conn.cursor() as cur,
                cur.copy(
                    sql.SQL("copy {} ({}) from stdin").format(
                        table_of(table), sql.SQL(", ").join(map(sql.Identifier, [*table.columns, "_run_id"]))
                    )
                ) as copy,
            ):
                for values in accepted:
                    copy.write_row((*values, run_id))
            save_rejects(conn, rejects, run_id)
            stats = LoadStats(
                "finance",
                table_name,
                run_id,
                "replace",
                len(rows),
                len(accepted),
                len(rejects),
                time.monotonic() - started,
            )
            log_load(conn, stats)
    for reject in rejects:
        log.warning(
            "finance %s: row %s names a manager unknown to the CRM; sent to raw_meta.rejects",
            table_name,
            reject.record_id,
        )
    log.info("finance %s: %d rows loaded, %d rejected", table_name, len(accepted), len(rejects))
    return stats
