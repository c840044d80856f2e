"""Bulk loading into the raw layer: COPY into a session-local load table, then merge.

The merge keeps the latest version per key (`updated_at` strictly newer wins;
two versions of a key with the same `updated_at` are the same version), so
loading a record twice, or an older version after a newer one, changes
nothing.
"""

from __future__ import annotations

from psycopg import Connection, sql

from warehouse.contract import Entity
from warehouse.quality import instant_text
from warehouse.raw import PG_TYPES, table_of

RECORD = "_record"


def load_table_name(entity: Entity) -> sql.Identifier:
    return sql.Identifier(f"load_{entity.source}_{entity.name}")


def create_load_table(conn: Connection, entity: Entity, json_records: bool) -> sql.Identifier:
    """A temporary table for one COPY: the entity's typed columns, or one jsonb column for JSON records."""
    name = load_table_name(entity)
    if json_records:
        columns = sql.SQL("{} jsonb not null").format(sql.Identifier(RECORD))
    else:
        columns = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL(PG_TYPES[f.type])) for f in entity.fields
        )
    conn.execute(sql.SQL("drop table if exists {}").format(name))
    conn.execute(sql.SQL("create temporary table {} ({}) on commit drop").format(name, columns))
    return name


def json_value(name: str, type_: str) -> sql.Composed:
    """Field `name` of the load table's jsonb record, cast to the raw column's type."""
    text = sql.SQL("({} ->> {})").format(sql.Identifier(RECORD), sql.Literal(name))
    if type_ == "timestamptz":
        text = instant_text(text)
    return sql.SQL("{}::{}").format(text, sql.SQL(PG_TYPES[type_]))


def _json_projection(entity: Entity) -> list[sql.Composable]:
    return [json_value(f.name, f.type) for f in entity.fields] + [sql.Identifier(RECORD)]


def merge_statement(
    conn: Connection, entity: Entity, source: sql.Composable, run_id: str, json_records: bool
) -> sql.Composed:
    """An upsert of the relation `source` into the raw table (latest `updated_at` wins).

    `source` holds the entity's typed columns, or (json_records) one jsonb column `_record`.
    """
    target = table_of(entity)
    columns = [sql.Identifier(f.name) for f in entity.fields] + (
        [sql.Identifier(RECORD)] if json_records else []
    )
    key = [sql.Identifier(k) for k in entity.key]
    if json_records:
        # One page stream may serve a record twice; keep its latest version.
        rows = sql.SQL(
            "select distinct on ({key}) {projection} from {source} order by {key}, {updated_at} desc"
        ).format(
            key=sql.SQL(", ").join(
                sql.SQL("({} ->> {})").format(sql.Identifier(RECORD), sql.Literal(k)) for k in entity.key
            ),
            projection=sql.SQL(", ").join(_json_projection(entity)),
            source=source,
            updated_at=json_value("updated_at", "timestamptz"),
        )
    else:
        rows = sql.SQL("select {} from {}").format(sql.SQL(", ").join(columns), source)
    key_names = {k.as_string(conn) for k in key}
    non_key = [c for c in columns if c.as_string(conn) not in key_names]
    return sql.SQL(
        """
        insert into {target} as t ({columns}, _run_id)
        select s.*, {run_id} from ({rows}) as s
        on conflict ({key}) do update set
            {assignments}, _run_id = excluded._run_id, _loaded_at = now()
        where excluded.updated_at > t.updated_at
        """
    ).format(
        target=target,
        columns=sql.SQL(", ").join(columns),
        run_id=sql.Literal(run_id),
        rows=rows,
        key=sql.SQL(", ").join(key),
        assignments=sql.SQL(", ").join(sql.SQL("{0} = excluded.{0}").format(c) for c in non_key),
    )


def merge_load_table(conn: Connection, entity: Entity, load_table: sql.Identifier, run_id: str) -> int:
    """Upsert a typed load table into the raw table; return the number of rows inserted or changed."""
    return conn.execute(merge_statement(conn, entity, load_table, run_id, json_records=False)).rowcount
