"""Billing database → `raw_billing.<table>`, incremental by `updated_at` with a look-back.

Rows stream `COPY (select ...) TO STDOUT` from the source straight into
`COPY ... FROM STDIN` of a load table in the warehouse (binary format, fixed
types, bounded memory), then merge. Every table of one run reads the same
snapshot of the source: a holder process opens a REPEATABLE READ
transaction, exports its snapshot with `pg_export_snapshot()` and keeps it
open until the run releases it (or `idle_in_transaction_session_timeout`
ends it), and each table's task imports that snapshot.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg import sql

from warehouse.contract import Entity, entity
from warehouse.db import connect
from warehouse.load import create_load_table, merge_load_table
from warehouse.raw import PG_TYPES, ensure_raw_layer, table_of
from warehouse.state import LoadStats, log_load, read_watermark, save_watermark

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceSnapshot:
    snapshot_id: str
    backend_pid: int

    def as_dict(self) -> dict[str, object]:
        return {"snapshot_id": self.snapshot_id, "backend_pid": self.backend_pid}


# How far before the watermark an incremental read starts: longer than a billing transaction
# stays open, so a row that commits late (its updated_at older than the watermark) is still read.
# The source commits rows up to a few hours late (the simulator: 1 to 5 hours).
DEFAULT_LOOK_BACK = timedelta(hours=6)


def hold_snapshot(billing: str, max_hold: timedelta = timedelta(hours=2)) -> SourceSnapshot:
    """Start a holder process that exports a snapshot of the billing source and keeps it open."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "warehouse.extract.billing",
            "hold",
            "--max-hold-s",
            str(int(max_hold.total_seconds())),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # outlives this task; the release task or the timeout ends it
        env=_child_env(),
    )
    assert holder.stdin and holder.stdout
    holder.stdin.write(billing + "\n")
    holder.stdin.close()
    line = holder.stdout.readline().split()
    if len(line) != 2:
        holder.kill()
        raise RuntimeError(f"billing source: the snapshot holder failed (exit {holder.wait()})")
    snapshot = SourceSnapshot(snapshot_id=line[0], backend_pid=int(line[1]))
    log.info("billing: holding source snapshot %s (backend %s)", snapshot.snapshot_id, snapshot.backend_pid)
    return snapshot


def _child_env() -> dict[str, str]:
    import os
    from pathlib import Path

    plugins = str(Path(__file__).resolve().parents[2])
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [plugins, os.environ.get("PYTHONPATH")])),
    }


def release_snapshot(billing: str, snapshot: SourceSnapshot) -> None:
    """End the holder's transaction (its backend), wherever the holder process runs."""
    with psycopg.connect(billing, autocommit=True) as conn:
        ended = conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity where pid = %s and backend_type = 'client backend'",
            (snapshot.backend_pid,),
        ).fetchone()
    log.info(
        "billing: released source snapshot %s (%s)",
        snapshot.snapshot_id,
        "ended" if ended and ended[0] else "already gone",
    )


def _holder_main(max_hold_s: int) -> int:
    billing = sys.stdin.readline().strip()
    with psycopg.connect(billing) as conn:
        conn.execute(
            sql.SQL("set idle_in_transaction_session_timeout = {}").format(sql.Literal(f"{max_hold_s}s"))
        )
        conn.commit()
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        snapshot_id, pid = conn.execute("select pg_export_snapshot(), pg_backend_pid()").fetchone()
        print(snapshot_id, pid, flush=True)
        sys.stdout.close()
        deadline = time.monotonic() + max_hold_s
        while time.monotonic() < deadline:
            time.sleep(1)
            try:
                conn.pgconn.consume_input()
            except psycopg.OperationalError:
                return 0
            if conn.pgconn.status != psycopg.pq.ConnStatus.OK:
                return 0
    return 0


def _source_select(entity_def: Entity, since: datetime | None) -> sql.Composed:
    """The contract's columns, each cast to its contract type, changed at or after `since`."""
    columns = sql.SQL(", ").join(
        sql.SQL("{}::{}").format(sql.Identifier(f.name), sql.SQL(PG_TYPES[f.type])) for f in entity_def.fields
    )
    where = sql.SQL("")
    if since is not None:
        where = sql.SQL(" where updated_at >= {}").format(sql.Literal(since))
    return sql.SQL("select {} from public.{}{}").format(columns, sql.Identifier(entity_def.name), where)


def copy_between(
    source: psycopg.Connection,
    target: psycopg.Connection,
    select: sql.Composable,
    target_table: sql.Composable,
) -> int:
    """Stream a query's rows from one database into a table of another, in binary COPY chunks."""
    with source.cursor() as out_cur, target.cursor() as in_cur:
        with (
            out_cur.copy(sql.SQL("copy ({}) to stdout (format binary)").format(select)) as reader,
            in_cur.copy(sql.SQL("copy {} from stdin (format binary)").format(target_table)) as writer,
        ):
            for chunk in reader:
                writer.write(chunk)
        return in_cur.rowcount


def extract_table(
    billing: str,
    warehouse: str,
    table: str,
    run_id: str,
    snapshot: SourceSnapshot | None,
    look_back: timedelta = DEFAULT_LOOK_BACK,
    full_refresh: bool = False,
) -> LoadStats:
    """Bring `raw_billing.<table>` up to date with the billing source, as of `snapshot`."""
    entity_def = entity("billing", table)
    started = time.monotonic()
    with connect(billing) as source, connect(warehouse) as target:
        ensure_raw_layer(target)
        source.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        source.read_only = True
        with source.transaction(), target.transaction():
            if snapshot is not None:
                source.execute(
                    sql.SQL("set transaction snapshot {}").format(sql.Literal(snapshot.snapshot_id))
                )
            watermark = None if full_refresh else read_watermark(target, "billing", table)
            since = watermark - look_back if watermark else None
            mode = "full_refresh" if full_refresh else ("incremental" if since else "full")
            raw_table = table_of(entity_def)
            if full_refresh:
                target.execute(sql.SQL("truncate {}").format(raw_table))
            select = _source_select(entity_def, since)
            if target.execute(sql.SQL("select not exists (select from {})").format(raw_table)).fetchone()[0]:
                # Nothing to merge with (a first load, a full refresh): COPY straight into the raw table.
                target.execute("select set_config('warehouse.run_id', %s, true)", (run_id,))
                columns = sql.SQL(", ").join(sql.Identifier(f.name) for f in entity_def.fields)
                rows_read = merged = copy_between(
                    source, target, select, sql.SQL("{} ({})").format(raw_table, columns)
                )
                latest_of = raw_table
            else:
                load_table = create_load_table(target, entity_def, json_records=False)
                rows_read = copy_between(source, target, select, load_table)
                merged = merge_load_table(target, entity_def, load_table, run_id)
                latest_of = load_table
            new_watermark = target.execute(
                sql.SQL("select max(updated_at) from {}").format(latest_of)
            ).fetchone()[0]
            save_watermark(target, "billing", table, new_watermark, run_id, merged)
            stats = LoadStats(
                "billing", table, run_id, mode, rows_read, merged, 0, time.monotonic() - started
            )
            log_load(target, stats)
    log.info(
        "billing %s (%s): %d read, %d merged in %.1f s; watermark %s",
        table,
        mode,
        rows_read,
        merged,
        stats.seconds,
        new_watermark.isoformat() if new_watermark else "unchanged",
    )
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="billing extract helpers")
    sub = parser.add_subparsers(dest="command", required=True)
    hold = sub.add_parser("hold", help="export a source snapshot and hold it (conninfo on stdin)")
    hold.add_argument("--max-hold-s", type=int, default=7200)
    args = parser.parse_args(argv)
    return _holder_main(args.max_hold_s)


if __name__ == "__main__":
    sys.exit(main())
