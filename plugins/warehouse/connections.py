"""Where the pipeline finds its sources and its warehouse: Airflow connections.

`crm_api`, `billing_db` and `warehouse_db` come from Airflow (environment
variables `AIRFLOW_CONN_*` or any secrets backend); when a connection is not
defined, the default points at the bundled simulator and the project's
PostgreSQL on their usual local ports.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)

CRM_API = "crm_api"
BILLING_DB = "billing_db"
WAREHOUSE_DB = "warehouse_db"

DEFAULT_URIS = {
    CRM_API: "http://:simulator-token@127.0.0.1:8765",
    BILLING_DB: "postgresql://postgres@127.0.0.1:5432/billing",
    WAREHOUSE_DB: "postgresql://postgres@127.0.0.1:5432/warehouse",
}


@dataclass(frozen=True)
class CrmApi:
    conn_id: str
    base_url: str
    token: str

    def __repr__(self) -> str:  # the token never reaches a log
        return f"CrmApi(conn_id={self.conn_id!r}, base_url={self.base_url!r})"


def _airflow_connection(conn_id: str):
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        from airflow.sdk import Connection

        log.info("connection %s is not defined; using the simulator default", conn_id)
        return Connection.from_uri(DEFAULT_URIS[conn_id], conn_id=conn_id)


def postgres_conninfo(conn_id: str) -> str:
    """A libpq URL for psycopg from the Airflow connection `conn_id`."""
    conn = _airflow_connection(conn_id)
    user = quote(conn.login or "", safe="")
    password = f":{quote(conn.password, safe='')}" if conn.password else ""
    auth = f"{user}{password}@" if user or password else ""
    port = f":{conn.port}" if conn.port else ""
    return f"postgresql://{auth}{conn.host}{port}/{conn.schema or ''}"


def crm_api(conn_id: str = CRM_API) -> CrmApi:
    conn = _airflow_connection(conn_id)
    scheme = conn.conn_type if conn.conn_type in ("http", "https") else "http"
    port = f":{conn.port}" if conn.port else ""
    return CrmApi(conn_id=conn_id, base_url=f"{scheme}://{conn.host}{port}", token=conn.password or "")


def finance_inputs_dir() -> Path | None:
    """The folder of finance CSV files when `FINANCE_INPUTS_DIR` is set; else the billing DB's `finance` schema."""
    value = os.environ.get("FINANCE_INPUTS_DIR")
    return Path(value) if value else None


def as_of_month_override() -> date | None:
    """`WAREHOUSE_AS_OF_MONTH` (YYYY-MM-01), which fixes the reporting window's end for a whole run."""
    value = os.environ.get("WAREHOUSE_AS_OF_MONTH")
    if not value:
        return None
    month = date.fromisoformat(value)
    if month.day != 1:
        raise ValueError(f"WAREHOUSE_AS_OF_MONTH must be the first day of a month, got {value}")
    return month
