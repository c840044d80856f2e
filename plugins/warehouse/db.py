"""Database connections of the pipeline."""

from __future__ import annotations

import psycopg


def connect(conninfo: str) -> psycopg.Connection:
    """A connection in autocommit mode: every unit of work is an explicit `with conn.transaction():`.

    Without autocommit, the first statement outside a block opens an implicit transaction and every
    later `transaction()` block becomes a savepoint inside it, so nothing would commit until the end.
    """
    return psycopg.connect(conninfo, autocommit=True, application_name="account-management-warehouse")
