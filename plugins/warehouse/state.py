"""Extract state (watermarks) and the load log, written in the caller's transaction.

A watermark is written in the same transaction as the rows it covers, so a
crash between load and state can neither skip nor double data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg import Connection

from warehouse.raw import META_SCHEMA


@dataclass(frozen=True)
class LoadStats:
    source: str
    entity: str
    run_id: str
    mode: str
    rows_read: int
    rows_merged: int
    rows_rejected: int
    seconds: float


def read_watermark(conn: Connection, source: str, entity: str) -> datetime | None:
    row = conn.execute(
        f"select watermark from {META_SCHEMA}.extract_state where source = %s and entity = %s",
        (source, entity),
    ).fetchone()
    return row[0] if row else None


def save_watermark(
    conn: Connection, source: str, entity: str, watermark: datetime | None, run_id: str, rows: int
) -> None:
    """Advance (never move back) the watermark of `source.entity`; `rows` adds to the running total."""
    conn.execute(
        f"""
        insert into {META_SCHEMA}.extract_state as s (source, entity, watermark, last_run_id, rows)
        values (%s, %s, %s, %s, %s)
        on conflict (source, entity) do update set
            watermark = greatest(s.watermark, excluded.watermark),
            last_run_id = excluded.last_run_id,
            rows = s.rows + excluded.rows,
            updated_at = now()
        """,
        (source, entity, watermark, run_id, rows),
    )


def log_load(conn: Connection, stats: LoadStats) -> None:
    conn.execute(
        f"""
        insert into {META_SCHEMA}.load_log
            (source, entity, run_id, mode, rows_read, rows_merged, rows_rejected, seconds)
        values (%s, %s, %s, %s, %s, %s, %s, %s)
        """,
        (
            stats.source,
            stats.entity,
            stats.run_id,
            stats.mode,
            stats.rows_read,
            stats.rows_merged,
            stats.rows_rejected,
            round(stats.seconds, 3),
        ),
    )
