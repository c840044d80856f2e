"""Fill the billing database (shared/spec/sources.md §2, §3) from a data set folder (§5).

`load_billing` drops and recreates the billing tables in schema `public` and
the finance tables in schema `finance`, typed from the contract, and streams
every `billing/<table>.csv` and `finance/<table>.csv` into them with COPY.
`upsert_billing` applies a delta folder (changed and new rows only, same
format) so the database equals the updated full folder. Each runs in one
transaction.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from warehouse.contract import BILLING_TABLES, FINANCE_TABLES, Entity

log = logging.getLogger(__name__)

SCHEMAS = {"billing": "public", "finance": "finance"}
COPY_CHUNK_BYTES = 1 << 20
_COPY_LINE = re.compile(r"\bline (\d+)")


class BillingLoadError(RuntimeError):
    """A data set file cannot be loaded; the message names the file (and the line when known)."""


def csv_path(folder: Path, table: Entity) -> Path:
    return Path(folder) / table.source / f"{table.name}.csv"


def qualified(table: Entity) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(SCHEMAS[table.source]), sql.Identifier(table.name))


def create_table_sql(table: Entity) -> sql.Composed:
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL(f.type)) for f in table.fields
    )
    return sql.SQL("create table {} ({})").format(qualified(table), columns)


def primary_key_sql(table: Entity) -> sql.Composed:
    return sql.SQL("alter table {} add primary key ({})").format(
        qualified(table), sql.SQL(", ").join(map(sql.Identifier, table.key))
    )


def updated_at_index_sql(table: Entity) -> sql.Composed:
    return sql.SQL("create index {} on {} (updated_at)").format(
        sql.Identifier(f"{table.name}_updated_at_idx"), qualified(table)
    )


def load_billing(conninfo: str, folder: Path) -> dict[str, int]:
    """Recreate and fill the billing and finance tables from `folder`; rows loaded per `source.table`."""
    folder = Path(folder)
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        cur.execute("create schema if not exists finance")
        counts = {f"{t.source}.{t.name}": load_table(cur, folder, t) for t in BILLING_TABLES + FINANCE_TABLES}
        for table in BILLING_TABLES + FINANCE_TABLES:
            cur.execute(sql.SQL("analyze {}").format(qualified(table)))
    log.info("loaded billing from %s: %s", folder, counts)
    return counts


def load_table(cur: psycopg.Cursor, folder: Path, table: Entity) -> int:
    """Recreate one table and fill it from its file (a finance table may have none); rows loaded."""
    path = csv_path(folder, table)
    if not path.exists() and table.source == "billing":
        raise BillingLoadError(f"{path}: missing (every billing table of the contract needs a file)")
    cur.execute(sql.SQL("drop table if exists {} cascade").format(qualified(table)))
    cur.execute(create_table_sql(table))
    rows = copy_csv(cur, path, table, qualified(table), freeze=True) if path.exists() else 0
    with copy_errors(path):
        cur.execute(primary_key_sql(table))
    if table.incremental:
        cur.execute(updated_at_index_sql(table))
    return rows


def upsert_billing(conninfo: str, delta_folder: Path) -> dict[str, int]:
    """Insert or update the rows of a delta folder by key; rows applied per `source.table`."""
    delta_folder = Path(delta_folder)
    counts: dict[str, int] = {}
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        for table in BILLING_TABLES + FINANCE_TABLES:
            path = csv_path(delta_folder, table)
            if path.exists():
                counts[f"{table.source}.{table.name}"] = upsert_table(cur, path, table)
    log.info("upserted billing from %s: %s", delta_folder, counts)
    return counts


def upsert_table(cur: psycopg.Cursor, path: Path, table: Entity) -> int:
    """Stage one delta file in a temporary table and merge it into its table; rows inserted or updated."""
    staging = sql.Identifier(f"delta_{table.name}")
    try:
        create = sql.SQL("create temp table {} (like {}) on commit drop")
        cur.execute(create.format(staging, qualified(table)))
    except psycopg.errors.UndefinedTable as exc:
        raise BillingLoadError(f"{path}: no table {table.name} to update; load a full folder first") from exc
    copy_csv(cur, path, table, staging)
    cur.execute(upsert_sql(table, staging))
    return cur.rowcount


def upsert_sql(table: Entity, staging: sql.Identifier) -> sql.Composed:
    """Insert the staged rows, updating existing keys; of one key staged twice the latest updated_at wins."""
    columns = sql.SQL(", ").join(map(sql.Identifier, table.columns))
    key = sql.SQL(", ").join(map(sql.Identifier, table.key))
    latest_first = sql.SQL(", updated_at desc") if table.incremental else sql.SQL("")
    updates = [
        sql.SQL("{} = excluded.{}").format(sql.Identifier(c), sql.Identifier(c))
        for c in table.columns
        if c not in table.key
    ]
    on_conflict = (
        sql.SQL("do update set {}").format(sql.SQL(", ").join(updates)) if updates else sql.SQL("do nothing")
    )
    return sql.SQL(
        "insert into {target} ({columns}) select distinct on ({key}) {columns} from {staging}"
        " order by {key}{latest_first} on conflict ({key}) {on_conflict}"
    ).format(
        target=qualified(table),
        columns=columns,
        key=key,
        staging=staging,
        latest_first=latest_first,
        on_conflict=on_conflict,
    )


def copy_csv(
    cur: psycopg.Cursor, path: Path, table: Entity, target: sql.Composable, freeze: bool = False
) -> int:
    """Stream a CSV file with a header row into `target`, columns matched by the header's names.

    `freeze` writes the rows frozen, for a table created in the same transaction.
    """
    header = read_header(path, table)
    options = sql.SQL("format csv, header true" + (", freeze true" if freeze else ""))
    statement = sql.SQL("copy {} ({}) from stdin ({})").format(
        target, sql.SQL(", ").join(map(sql.Identifier, header)), options
    )
    with copy_errors(path), path.open("rb") as stream, cur.copy(statement) as copy:
        while chunk := stream.read(COPY_CHUNK_BYTES):
            copy.write(chunk)
    rows = cur.rowcount
    log.debug("copied %d rows from %s", rows, path)
    return rows


def read_header(path: Path, table: Entity) -> list[str]:
    """The column names of a CSV file's header row, which must name each contract column once."""
    with path.open("rb") as stream:
        first_line = stream.readline().decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(first_line)), [])
    expected = table.columns
    missing = [c for c in expected if c not in header]
    unknown = [c for c in header if c not in expected]
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if missing or unknown or duplicated:
        problems = [
            f"{label}: {', '.join(names)}"
            for label, names in (("missing", missing), ("unknown", unknown), ("duplicated", duplicated))
            if names
        ]
        raise BillingLoadError(
            f"{path}, line 1: the header must name the columns {', '.join(expected)} ({'; '.join(problems)})"
        )
    return header


@contextmanager
def copy_errors(path: Path) -> Iterator[None]:
    """Re-raise a database error about a file's data as a BillingLoadError naming the file and line."""
    try:
        yield
    except psycopg.errors.DataError as exc:
        raise BillingLoadError(describe(path, exc)) from exc
    except psycopg.errors.IntegrityError as exc:
        raise BillingLoadError(describe(path, exc)) from exc


def describe(path: Path, exc: psycopg.Error) -> str:
    context = (exc.diag.context or "").strip()
    line = _COPY_LINE.search(context)
    where = f"{path}, line {line.group(1)}" if line else str(path)
    detail = f" ({exc.diag.message_detail})" if exc.diag.message_detail else ""
    message = exc.diag.message_primary or str(exc).splitlines()[0]
    return f"{where}: {message}{detail}" + (f" [{context}]" if context else "")
