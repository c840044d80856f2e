"""The raw layer: one table per source entity, typed from the contract, keyed as the source keys it.

Schemas: `raw_crm`, `raw_billing`, `raw_finance` for data; `raw_meta` for the
extract state, the load log and rejected records. CRM tables also keep the
full JSON record (`_record`), so a field the contract does not name yet is
not lost.
"""

from __future__ import annotations

from psycopg import Connection, sql

from warehouse.contract import ALL_ENTITIES, Entity

PG_TYPES = {
    "text": "text",
    "bigint": "bigint",
    "integer": "integer",
    "numeric": "numeric",
    "boolean": "boolean",
    "date": "date",
    "timestamptz": "timestamptz",
}
META_SCHEMA = "raw_meta"

META_DDL = f"""
create schema if not exists {META_SCHEMA};
create table if not exists {META_SCHEMA}.extract_state (
    source text not null,
    entity text not null,
    watermark timestamptz,
    last_run_id text not null,
    rows bigint not null,
    updated_at timestamptz not null default now(),
    primary key (source, entity)
);
create table if not exists {META_SCHEMA}.load_log (
    id bigint generated always as identity primary key,
    source text not null,
    entity text not null,
    run_id text not null,
    mode text not null,
    rows_read bigint not null,
    rows_merged bigint not null,
    rows_rejected bigint not null,
    seconds numeric not null,
    finished_at timestamptz not null default now()
);
create table if not exists {META_SCHEMA}.rejects (
    source text not null,
    entity text not null,
    record_id text not null,
    updated_at text not null,
    reason text not null,
    record jsonb not null,
    run_id text not null,
    rejected_at timestamptz not null default now(),
    primary key (source, entity, record_id, updated_at)
);
"""


def schema_of(entity: Entity) -> str:
    return f"raw_{entity.source}"


def table_of(entity: Entity) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema_of(entity)), sql.Identifier(entity.name))


def create_table_sql(entity: Entity) -> sql.Composed:
    columns = [
        sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL(PG_TYPES[f.type])) for f in entity.fields
    ]
    if entity.source == "crm":
        columns.append(sql.SQL("_record jsonb not null"))
    columns += [
        # The default serves a COPY straight into the table, which sets warehouse.run_id for its transaction.
        sql.SQL("_run_id text not null default current_setting('warehouse.run_id')"),
        # The load that last inserted or changed the row (its transaction's start).
        sql.SQL("_loaded_at timestamptz not null default now()"),
        # The load that first inserted it; a merge never changes it. Null on rows loaded before the
        # column existed. dbt reads it to tell a new row from an edit (docs/decisions.md).
        sql.SQL("_first_loaded_at timestamptz default now()"),
    ]
    key = sql.SQL(", ").join(map(sql.Identifier, entity.key))
    return sql.SQL("create table if not exists {} ({}, primary key ({}))").format(
        table_of(entity), sql.SQL(", ").join(columns), key
    )


def ensure_raw_layer(conn: Connection) -> None:
    """Create the raw schemas and tables when missing (idempotent; never drops anything)."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('warehouse.raw.ensure_raw_layer'))")
        conn.execute(META_DDL)
        for schema in sorted({schema_of(e) for e in ALL_ENTITIES}):
            conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
        for entity in ALL_ENTITIES:
            conn.execute(create_table_sql(entity))
            # a raw table created before `_first_loaded_at`: its rows keep null (unknown)
            conn.execute(
                sql.SQL(
                    "alter table {0} add column if not exists _first_loaded_at timestamptz;"
                    "alter table {0} alter column _first_loaded_at set default now()"
                ).format(table_of(entity))
            )
            # dbt reads the rows loaded since its last build (changed clients, scoped tests)
            conn.execute(
                sql.SQL("create index if not exists {} on {} (_loaded_at)").format(
                    sql.Identifier(f"{entity.name}__loaded_at"), table_of(entity)
                )
            )
