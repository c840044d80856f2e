"""CRM HTTP API → `raw_crm.<entity>`, incremental by `updated_at`, safe to retry at any point.

Pages are read from the entity's committed watermark (minus an overlap)
following `next_cursor`, streamed with COPY into a load table and merged in
batches; each batch commits its rows, its rejects and the advanced watermark
in one transaction, so a killed worker resumes where the last commit left it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import msgspec
import requests
from psycopg import sql

from warehouse.connections import CrmApi
from warehouse.contract import Entity, entity
from warehouse.db import connect
from warehouse.load import RECORD, create_load_table, json_value, merge_statement
from warehouse.quality import is_instant, record_key_sql, violation_sql
from warehouse.raw import META_SCHEMA, ensure_raw_layer
from warehouse.state import LoadStats, log_load, read_watermark, save_watermark

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {500, 502, 503, 504}


class Page(msgspec.Struct):
    """One API page; records stay raw JSON, checked and typed in SQL after COPY."""

    data: list[msgspec.Raw]
    next_cursor: str | None = None


PAGE_DECODER = msgspec.json.Decoder(Page)


class CrmAuthError(RuntimeError):
    """The API refused the connection's token: retrying cannot help."""


class CrmPageError(RuntimeError):
    """A page could not be read after every retry."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 10
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_retry_after_s: float = 300.0
    jitter: random.Random = field(default_factory=random.Random, compare=False)

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff for the `attempt`-th retry (1-based)."""
        return self.jitter.uniform(0, min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1)))


class CrmClient:
    def __init__(
        self, api: CrmApi, retry: RetryPolicy | None = None, page_limit: int = 500, timeout_s: float = 60.0
    ) -> None:
        self.api = api
        self.retry = retry or RetryPolicy()
        self.page_limit = page_limit
        self.timeout_s = timeout_s
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {api.token}"

    def close(self) -> None:
        self.session.close()

    def _get_page(self, entity_name: str, params: dict[str, str]) -> Page:
        url = f"{self.api.base_url}/api/v1/{entity_name}"
        problem = ""
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                response = self.session.get(url, params=params, timeout=self.timeout_s)
            except (requests.ConnectionError, requests.Timeout) as exc:
                problem = f"connection failed ({type(exc).__name__})"
                delay = self.retry.backoff(attempt)
            else:
                if response.status_code in (401, 403):
                    raise CrmAuthError(
                        f"CRM API (connection {self.api.conn_id}, {self.api.base_url}) refused the token: "
                        f"HTTP {response.status_code} on {entity_name}; check the connection's password"
                    )
                if response.status_code == 429:
                    problem = "rate limited (429)"
                    delay = min(float(response.headers.get("Retry-After") or 1), self.retry.max_retry_after_s)
                elif response.status_code in RETRYABLE_STATUS:
                    problem = f"HTTP {response.status_code}"
                    delay = self.retry.backoff(attempt)
                elif response.status_code != 200:
                    raise CrmPageError(
                        f"CRM API (connection {self.api.conn_id}) answered HTTP {response.status_code} for "
                        f"{entity_name} with {params}: {response.text[:300]}"
                    )
                else:
                    try:
                        return PAGE_DECODER.decode(response.content)
                    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                        problem = f"the page is not the contract's JSON ({exc})"
                        delay = self.retry.backoff(attempt)
            if attempt < self.retry.max_attempts:
                log.warning(
                    "crm %s: %s; retry %d/%d in %.1f s",
                    entity_name,
                    problem,
                    attempt,
                    self.retry.max_attempts - 1,
                    delay,
                )
                time.sleep(delay)
        raise CrmPageError(
            f"CRM API (connection {self.api.conn_id}) gave no readable page for {entity_name} after "
            f"{self.retry.max_attempts} attempts; last problem: {problem}"
        )

    def pages(self, entity_name: str, updated_since: datetime | None) -> Iterator[list[msgspec.Raw]]:
        """Every page of records changed at or after `updated_since`, in the API's order."""
        params: dict[str, str] = {"limit": str(self.page_limit)}
        if updated_since is not None:
            params["updated_since"] = updated_since.isoformat()
        while True:
            page = self._get_page(entity_name, params)
            yield page.data
            if not page.next_cursor:
                return
            params = {"cursor": page.next_cursor}


def _copy_batch(copy, pages: Iterator[list[msgspec.Raw]], batch_records: int) -> tuple[int, bool]:
    """Stream pages into an open CSV COPY until the batch is full; returns (records, whether pages remain)."""
    records = 0
    for page in pages:
        copy.write(b"".join(b'"' + bytes(r).replace(b'"', b'""') + b'"\n' for r in page))
        records += len(page)
        if records >= batch_records:
            return records, True
    return records, False


def _check_and_merge_sql(conn, entity_def: Entity, load_table: sql.Identifier, run_id: str) -> sql.Composed:
    """One statement: check every loaded record, file the rejects, merge the rest, report counts and watermark."""
    record = sql.Identifier(RECORD)
    record_id, updated_at = record_key_sql(record)
    updated = sql.SQL("({} ->> 'updated_at')").format(record)
    valid = sql.SQL("(select {} from checked where reason is null) as valid").format(record)
    return sql.SQL(
        """
        with checked as (
            select {record}, {violation} as reason from {load}
        ),
        rejected as (
            insert into {meta}.rejects (source, entity, record_id, updated_at, reason, record, run_id)
            select 'crm', {entity}, {record_id}, {updated_at}, reason, {record}, {run_id}
            from checked where reason is not null
            on conflict do nothing
        ),
        merged as ({merge} returning 1)
        select
            (select count(*) from checked where reason is not null),
            (select count(*) from merged),
            (select max(case when {updated_is_instant} then {updated_instant} end) from checked)
        """
    ).format(
        record=record,
        violation=violation_sql(entity_def, record),
        load=load_table,
        meta=sql.Identifier(META_SCHEMA),
        entity=sql.Literal(entity_def.name),
        record_id=record_id,
        updated_at=updated_at,
        run_id=sql.Literal(run_id),
        merge=merge_statement(conn, entity_def, valid, run_id, json_records=True),
        updated_is_instant=is_instant(updated),
        updated_instant=json_value("updated_at", "timestamptz"),
    )


def extract_entity(
    client: CrmClient,
    warehouse: str,
    entity_name: str,
    run_id: str,
    overlap: timedelta = timedelta(minutes=10),
    batch_records: int = 50_000,
) -> LoadStats:
    """Bring `raw_crm.<entity_name>` up to date with the CRM API."""
    entity_def = entity("crm", entity_name)
    started = time.monotonic()
    read = merged = rejected = 0
    with connect(warehouse) as conn:
        ensure_raw_layer(conn)
        watermark = read_watermark(conn, "crm", entity_name)
        since = watermark - overlap if watermark else None
        mode = "incremental" if since else "full"
        log.info(
            "crm %s: reading %s", entity_name, f"updated_since {since.isoformat()}" if since else "everything"
        )
        pages = client.pages(entity_name, since)
        more = True
        while more:
            with conn.transaction():
                load_table = create_load_table(conn, entity_def, json_records=True)
                with (
                    conn.cursor() as cur,
                    cur.copy(
                        sql.SQL("copy {} ({}) from stdin (format csv)").format(
                            load_table, sql.Identifier(RECORD)
                        )
                    ) as copy,
                ):
                    batch_read, more = _copy_batch(copy, pages, batch_records)
                batch_rejected, batch_merged, watermark = conn.execute(
                    _check_and_merge_sql(conn, entity_def, load_table, run_id)
                ).fetchone()
                save_watermark(conn, "crm", entity_name, watermark, run_id, batch_merged)
            read += batch_read
            merged += batch_merged
            rejected += batch_rejected
            log.info(
                "crm %s: batch committed: %d read, %d merged, %d rejected, watermark %s",
                entity_name,
                batch_read,
                batch_merged,
                batch_rejected,
                watermark.isoformat() if watermark else "unchanged",
            )
        stats = LoadStats(
            "crm", entity_name, run_id, mode, read, merged, rejected, time.monotonic() - started
        )
        with conn.transaction():
            log_load(conn, stats)
    if rejected:
        log.warning(
            "crm %s: %d records broke the contract and went to raw_meta.rejects", entity_name, rejected
        )
    return stats
