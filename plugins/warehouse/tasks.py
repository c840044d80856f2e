"""What the DAGs' tasks do: resolve connections and settings, call the extract and load code, report.

DAG files stay thin: each task is one call into this module.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import timedelta

from airflow.sdk.exceptions import AirflowFailException

from warehouse import connections
from warehouse.extract import billing, crm, finance

log = logging.getLogger(__name__)

DEFAULT_ARGS = {
    "owner": "data-platform",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}


def extract_crm_entity(entity_name: str, run_id: str, overlap_minutes: int = 10) -> dict:
    api = connections.crm_api()
    client = crm.CrmClient(api)
    try:
        stats = crm.extract_entity(
            client,
            connections.postgres_conninfo(connections.WAREHOUSE_DB),
            entity_name,
            run_id,
            overlap=timedelta(minutes=overlap_minutes),
        )
    except crm.CrmAuthError as exc:
        raise AirflowFailException(str(exc)) from None  # a wrong token: no retries
    finally:
        client.close()
    return asdict(stats)


def hold_billing_snapshot() -> dict:
    return billing.hold_snapshot(connections.postgres_conninfo(connections.BILLING_DB)).as_dict()


def release_billing_snapshot(snapshot: dict | None) -> None:
    if snapshot:
        billing.release_snapshot(
            connections.postgres_conninfo(connections.BILLING_DB), billing.SourceSnapshot(**snapshot)
        )


def extract_billing_table(
    table: str, run_id: str, snapshot: dict, look_back_minutes: int, full_refresh: bool
) -> dict:
    stats = billing.extract_table(
        connections.postgres_conninfo(connections.BILLING_DB),
        connections.postgres_conninfo(connections.WAREHOUSE_DB),
        table,
        run_id,
        billing.SourceSnapshot(**snapshot),
        look_back=timedelta(minutes=look_back_minutes),
        full_refresh=full_refresh,
    )
    return asdict(stats)


def load_finance_table(table: str, run_id: str) -> dict:
    folder = connections.finance_inputs_dir()
    try:
        stats = finance.load_table(
            connections.postgres_conninfo(connections.WAREHOUSE_DB),
            table,
            run_id,
            billing=None if folder else connections.postgres_conninfo(connections.BILLING_DB),
            folder=folder,
        )
    except finance.FinanceInputError as exc:
        raise AirflowFailException(str(exc)) from None  # bad input stays bad on a retry
    return asdict(stats)


def report(source: str, stats: list[dict]) -> dict:
    """One summary line per source run; the counts go to XCom for whoever looks."""
    totals = {k: sum(s[k] for s in stats) for k in ("rows_read", "rows_merged", "rows_rejected")}
    log.info("%s landed: %d tables, %s", source, len(stats), ", ".join(f"{k}={v}" for k, v in totals.items()))
    if totals["rows_rejected"]:
        log.warning("%s: %d rejected records are in raw_meta.rejects", source, totals["rows_rejected"])
    return totals


def reporting_month(context: dict) -> str:
    """The run's `as_of_month`, computed once: the month before the logical date (or `run_after`)."""
    from warehouse.dbt import default_as_of_month

    moment = context.get("logical_date") or context["dag_run"].run_after
    return default_as_of_month(moment).isoformat()


def build_marts(as_of_month: str, full_refresh: bool = False) -> None:
    """dbt build of every model and data test; incremental unless `full_refresh`."""
    from datetime import date

    from warehouse.dbt import run_dbt

    # Unit tests check the SQL, not the data: CI runs them; a production build runs models and data tests.
    run_dbt(
        ["build", "--exclude-resource-type", "unit_test", *(["--full-refresh"] if full_refresh else [])],
        connections.postgres_conninfo(connections.WAREHOUSE_DB),
        date.fromisoformat(as_of_month),
    )


def validate_marts() -> None:
    """The publish gate: the marts' GX checkpoint must pass, or the run fails here."""
    from warehouse import gate

    gate.require(gate.validate_schema(connections.postgres_conninfo(connections.WAREHOUSE_DB), "marts"))
