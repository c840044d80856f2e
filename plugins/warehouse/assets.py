"""Airflow Assets for the warehouse's tables, so downstream DAGs can be scheduled on them."""

from __future__ import annotations

from airflow.sdk import Asset

from warehouse.contract import Entity
from warehouse.raw import schema_of

# Assets name the logical warehouse, not a host: the same DAGs run against any warehouse_db.
WAREHOUSE_URI = "postgres://warehouse:5432/warehouse"


def table_asset(schema: str, table: str) -> Asset:
    return Asset(name=f"{schema}.{table}", uri=f"{WAREHOUSE_URI}/{schema}/{table}")


def raw_asset(entity: Entity) -> Asset:
    return table_asset(schema_of(entity), entity.name)
